// RUN: attn-opt %s -attn-fuse-attention -split-input-file -verify-diagnostics
// Unfused chains are left exactly as they were:
// RUN: attn-opt %s -split-input-file > %t.before
// RUN: attn-opt %s -attn-fuse-attention -split-input-file > %t.after 2>/dev/null
// RUN: diff %t.before %t.after

// Every attn.softmax left unfused gets a remark saying why (the negative
// cases of fuse-attention.mlir).

func.func @neg_softmax_not_last_axis(%q: tensor<2x8x4x16xf32>, %k: tensor<2x8x4x16xf32>, %v: tensor<2x8x4x16xf32>) -> tensor<2x8x4x16xf32> {
  %kt = attn.transpose %k, [0, 1, 3, 2] : tensor<2x8x4x16xf32> -> tensor<2x8x16x4xf32>
  %s = attn.matmul %q, %kt : tensor<2x8x4x16xf32>, tensor<2x8x16x4xf32> -> tensor<2x8x4x4xf32>
  // expected-remark @below {{softmax not fused into attn.attention: the softmax is not on the last axis}}
  %p = attn.softmax %s {axis = 2 : i64} : tensor<2x8x4x4xf32> -> tensor<2x8x4x4xf32>
  %o = attn.matmul %p, %v : tensor<2x8x4x4xf32>, tensor<2x8x4x16xf32> -> tensor<2x8x4x16xf32>
  return %o : tensor<2x8x4x16xf32>
}

// -----

func.func @neg_non_scalar_scale(%q: tensor<2x4x16xf32>, %k: tensor<2x4x16xf32>, %v: tensor<2x4x16xf32>) -> tensor<2x4x16xf32> {
  %kt = attn.transpose %k, [0, 2, 1] : tensor<2x4x16xf32> -> tensor<2x16x4xf32>
  %s = attn.matmul %q, %kt : tensor<2x4x16xf32>, tensor<2x16x4xf32> -> tensor<2x4x4xf32>
  %c = arith.constant dense<[1.0, 2.0, 3.0, 4.0]> : tensor<4xf32>
  %ss = attn.div %s, %c : tensor<2x4x4xf32>, tensor<4xf32> -> tensor<2x4x4xf32>
  // expected-remark @below {{softmax not fused into attn.attention: 'attn.div' on the scores is not by a scalar constant}}
  %p = attn.softmax %ss {axis = -1 : i64} : tensor<2x4x4xf32> -> tensor<2x4x4xf32>
  %o = attn.matmul %p, %v : tensor<2x4x4xf32>, tensor<2x4x16xf32> -> tensor<2x4x16xf32>
  return %o : tensor<2x4x16xf32>
}

// -----

// A run-time scale (not a constant) is not a scale.

func.func @neg_runtime_scale(%q: tensor<2x4x16xf32>, %k: tensor<2x4x16xf32>, %v: tensor<2x4x16xf32>, %c: tensor<f32>) -> tensor<2x4x16xf32> {
  %kt = attn.transpose %k, [0, 2, 1] : tensor<2x4x16xf32> -> tensor<2x16x4xf32>
  %s = attn.matmul %q, %kt : tensor<2x4x16xf32>, tensor<2x16x4xf32> -> tensor<2x4x4xf32>
  %ss = attn.mul %s, %c : tensor<2x4x4xf32>, tensor<f32> -> tensor<2x4x4xf32>
  // expected-remark @below {{softmax not fused into attn.attention: 'attn.mul' on the scores is not by a scalar constant}}
  %p = attn.softmax %ss {axis = -1 : i64} : tensor<2x4x4xf32> -> tensor<2x4x4xf32>
  %o = attn.matmul %p, %v : tensor<2x4x4xf32>, tensor<2x4x16xf32> -> tensor<2x4x16xf32>
  return %o : tensor<2x4x16xf32>
}

// -----

// The additive mask broadcasts the scores' query dim (1 -> 4).

func.func @neg_mask_broadcasts_scores(%q: tensor<2x1x16xf32>, %k: tensor<2x4x16xf32>, %v: tensor<2x4x16xf32>, %m: tensor<4x4xf32>) -> tensor<2x4x16xf32> {
  %kt = attn.transpose %k, [0, 2, 1] : tensor<2x4x16xf32> -> tensor<2x16x4xf32>
  %s = attn.matmul %q, %kt : tensor<2x1x16xf32>, tensor<2x16x4xf32> -> tensor<2x1x4xf32>
  %sm = attn.add %s, %m : tensor<2x1x4xf32>, tensor<4x4xf32> -> tensor<2x4x4xf32>
  // expected-remark @below {{softmax not fused into attn.attention: the additive mask shape [4, 4] does not fit the scores shape [2, 1, 4]}}
  %p = attn.softmax %sm {axis = -1 : i64} : tensor<2x4x4xf32> -> tensor<2x4x4xf32>
  %o = attn.matmul %p, %v : tensor<2x4x4xf32>, tensor<2x4x16xf32> -> tensor<2x4x16xf32>
  return %o : tensor<2x4x16xf32>
}

// -----

// The select's condition broadcasts the scores (rank 3 -> 4).

func.func @neg_condition_broadcasts_scores(%q: tensor<8x4x16xf32>, %k: tensor<8x4x16xf32>, %v: tensor<8x4x16xf32>, %m: tensor<2x1x4x4xi1>) -> tensor<2x8x4x16xf32> {
  %kt = attn.transpose %k, [0, 2, 1] : tensor<8x4x16xf32> -> tensor<8x16x4xf32>
  %s = attn.matmul %q, %kt : tensor<8x4x16xf32>, tensor<8x16x4xf32> -> tensor<8x4x4xf32>
  %fill = arith.constant dense<-1.0e9> : tensor<f32>
  %sm = attn.select %m, %fill, %s : tensor<2x1x4x4xi1>, tensor<f32>, tensor<8x4x4xf32> -> tensor<2x8x4x4xf32>
  // expected-remark @below {{softmax not fused into attn.attention: the mask shape [2, 1, 4, 4] does not fit the scores shape [8, 4, 4]}}
  %p = attn.softmax %sm {axis = -1 : i64} : tensor<2x8x4x4xf32> -> tensor<2x8x4x4xf32>
  %o = attn.matmul %p, %v : tensor<2x8x4x4xf32>, tensor<8x4x16xf32> -> tensor<2x8x4x16xf32>
  return %o : tensor<2x8x4x16xf32>
}

// -----

// The attention probabilities are also returned (need_weights).

func.func @neg_softmax_two_users(%q: tensor<2x4x16xf32>, %k: tensor<2x4x16xf32>, %v: tensor<2x4x16xf32>) -> (tensor<2x4x16xf32>, tensor<2x4x4xf32>) {
  %kt = attn.transpose %k, [0, 2, 1] : tensor<2x4x16xf32> -> tensor<2x16x4xf32>
  %s = attn.matmul %q, %kt : tensor<2x4x16xf32>, tensor<2x16x4xf32> -> tensor<2x4x4xf32>
  // expected-remark @below {{softmax not fused into attn.attention: the softmax result has 2 users}}
  %p = attn.softmax %s {axis = -1 : i64} : tensor<2x4x4xf32> -> tensor<2x4x4xf32>
  %o = attn.matmul %p, %v : tensor<2x4x4xf32>, tensor<2x4x16xf32> -> tensor<2x4x16xf32>
  return %o, %p : tensor<2x4x16xf32>, tensor<2x4x4xf32>
}

// -----

// The raw scores are also returned.

func.func @neg_scores_two_users(%q: tensor<2x4x16xf32>, %k: tensor<2x4x16xf32>, %v: tensor<2x4x16xf32>) -> (tensor<2x4x16xf32>, tensor<2x4x4xf32>) {
  %kt = attn.transpose %k, [0, 2, 1] : tensor<2x4x16xf32> -> tensor<2x16x4xf32>
  %s = attn.matmul %q, %kt : tensor<2x4x16xf32>, tensor<2x16x4xf32> -> tensor<2x4x4xf32>
  %c = arith.constant dense<4.0> : tensor<f32>
  %ss = attn.div %s, %c : tensor<2x4x4xf32>, tensor<f32> -> tensor<2x4x4xf32>
  // expected-remark @below {{softmax not fused into attn.attention: the result of 'attn.matmul' between the scores matmul and the softmax has 2 users}}
  %p = attn.softmax %ss {axis = -1 : i64} : tensor<2x4x4xf32> -> tensor<2x4x4xf32>
  %o = attn.matmul %p, %v : tensor<2x4x4xf32>, tensor<2x4x16xf32> -> tensor<2x4x16xf32>
  return %o, %s : tensor<2x4x16xf32>, tensor<2x4x4xf32>
}

// -----

// The masked scores are also used elsewhere.

func.func @neg_masked_two_users(%q: tensor<2x4x16xf32>, %k: tensor<2x4x16xf32>, %v: tensor<2x4x16xf32>, %m: tensor<4x4xf32>) -> (tensor<2x4x16xf32>, tensor<2x4x4xf32>) {
  %kt = attn.transpose %k, [0, 2, 1] : tensor<2x4x16xf32> -> tensor<2x16x4xf32>
  %s = attn.matmul %q, %kt : tensor<2x4x16xf32>, tensor<2x16x4xf32> -> tensor<2x4x4xf32>
  %sm = attn.add %s, %m : tensor<2x4x4xf32>, tensor<4x4xf32> -> tensor<2x4x4xf32>
  // expected-remark @below {{softmax not fused into attn.attention: the result of 'attn.add' between the scores matmul and the softmax has 2 users}}
  %p = attn.softmax %sm {axis = -1 : i64} : tensor<2x4x4xf32> -> tensor<2x4x4xf32>
  %o = attn.matmul %p, %v : tensor<2x4x4xf32>, tensor<2x4x16xf32> -> tensor<2x4x16xf32>
  return %o, %sm : tensor<2x4x16xf32>, tensor<2x4x4xf32>
}

// -----

// K is not transposed at all (it is already [.., D, Sk]).

func.func @neg_key_not_transposed(%q: tensor<2x4x16xf32>, %kt: tensor<2x16x4xf32>, %v: tensor<2x4x16xf32>) -> tensor<2x4x16xf32> {
  %s = attn.matmul %q, %kt : tensor<2x4x16xf32>, tensor<2x16x4xf32> -> tensor<2x4x4xf32>
  // expected-remark @below {{softmax not fused into attn.attention: the key operand of the scores matmul is not a transpose of the key's last two dims}}
  %p = attn.softmax %s {axis = -1 : i64} : tensor<2x4x4xf32> -> tensor<2x4x4xf32>
  %o = attn.matmul %p, %v : tensor<2x4x4xf32>, tensor<2x4x16xf32> -> tensor<2x4x16xf32>
  return %o : tensor<2x4x16xf32>
}

// -----

// K' is a transpose, but not of the key's last two dims: the contraction dim
// is not the input's innermost dim.

func.func @neg_key_wrong_transpose(%q: tensor<2x8x4x16xf32>, %k: tensor<2x16x8x4xf32>, %v: tensor<2x8x4x16xf32>) -> tensor<2x8x4x16xf32> {
  %kt = attn.transpose %k, [0, 2, 1, 3] : tensor<2x16x8x4xf32> -> tensor<2x8x16x4xf32>
  %s = attn.matmul %q, %kt : tensor<2x8x4x16xf32>, tensor<2x8x16x4xf32> -> tensor<2x8x4x4xf32>
  // expected-remark @below {{softmax not fused into attn.attention: the key operand of the scores matmul is not a transpose of the key's last two dims}}
  %p = attn.softmax %s {axis = -1 : i64} : tensor<2x8x4x4xf32> -> tensor<2x8x4x4xf32>
  %o = attn.matmul %p, %v : tensor<2x8x4x4xf32>, tensor<2x8x4x16xf32> -> tensor<2x8x4x16xf32>
  return %o : tensor<2x8x4x16xf32>
}

// -----

// Q, K and V batch dims broadcast in the matmuls (K shared across heads).

func.func @neg_batch_broadcast(%q: tensor<2x8x4x16xf32>, %k: tensor<2x1x4x16xf32>, %v: tensor<2x1x4x16xf32>) -> tensor<2x8x4x16xf32> {
  %kt = attn.transpose %k, [0, 1, 3, 2] : tensor<2x1x4x16xf32> -> tensor<2x1x16x4xf32>
  %s = attn.matmul %q, %kt : tensor<2x8x4x16xf32>, tensor<2x1x16x4xf32> -> tensor<2x8x4x4xf32>
  // expected-remark @below {{softmax not fused into attn.attention: the batch dims of query [2, 8, 4, 16], key [2, 1, 4, 16] and value [2, 1, 4, 16] differ (they would broadcast)}}
  %p = attn.softmax %s {axis = -1 : i64} : tensor<2x8x4x4xf32> -> tensor<2x8x4x4xf32>
  %o = attn.matmul %p, %v : tensor<2x8x4x4xf32>, tensor<2x1x4x16xf32> -> tensor<2x8x4x16xf32>
  return %o : tensor<2x8x4x16xf32>
}

// -----

// The scores are scaled before and after the mask.

func.func @neg_scale_both_sides_of_mask(%q: tensor<2x4x16xf32>, %k: tensor<2x4x16xf32>, %v: tensor<2x4x16xf32>, %m: tensor<4x4xf32>) -> tensor<2x4x16xf32> {
  %c = arith.constant dense<0.5> : tensor<f32>
  %qs = attn.mul %q, %c : tensor<2x4x16xf32>, tensor<f32> -> tensor<2x4x16xf32>
  %kt = attn.transpose %k, [0, 2, 1] : tensor<2x4x16xf32> -> tensor<2x16x4xf32>
  %s = attn.matmul %qs, %kt : tensor<2x4x16xf32>, tensor<2x16x4xf32> -> tensor<2x4x4xf32>
  %sm = attn.add %s, %m : tensor<2x4x4xf32>, tensor<4x4xf32> -> tensor<2x4x4xf32>
  %ss = attn.mul %sm, %c : tensor<2x4x4xf32>, tensor<f32> -> tensor<2x4x4xf32>
  // expected-remark @below {{softmax not fused into attn.attention: the scores are scaled both before and after the mask}}
  %p = attn.softmax %ss {axis = -1 : i64} : tensor<2x4x4xf32> -> tensor<2x4x4xf32>
  %o = attn.matmul %p, %v : tensor<2x4x4xf32>, tensor<2x4x16xf32> -> tensor<2x4x16xf32>
  return %o : tensor<2x4x16xf32>
}

// -----

// Two masks.

func.func @neg_two_masks(%q: tensor<2x4x16xf32>, %k: tensor<2x4x16xf32>, %v: tensor<2x4x16xf32>, %m: tensor<4x4xf32>, %n: tensor<2x1x4xf32>) -> tensor<2x4x16xf32> {
  %kt = attn.transpose %k, [0, 2, 1] : tensor<2x4x16xf32> -> tensor<2x16x4xf32>
  %s = attn.matmul %q, %kt : tensor<2x4x16xf32>, tensor<2x16x4xf32> -> tensor<2x4x4xf32>
  %s1 = attn.add %s, %m : tensor<2x4x4xf32>, tensor<4x4xf32> -> tensor<2x4x4xf32>
  %s2 = attn.add %s1, %n : tensor<2x4x4xf32>, tensor<2x1x4xf32> -> tensor<2x4x4xf32>
  // expected-remark @below {{softmax not fused into attn.attention: two masks on the scores, neither a constant causal mask}}
  %p = attn.softmax %s2 {axis = -1 : i64} : tensor<2x4x4xf32> -> tensor<2x4x4xf32>
  %o = attn.matmul %p, %v : tensor<2x4x4xf32>, tensor<2x4x16xf32> -> tensor<2x4x16xf32>
  return %o : tensor<2x4x16xf32>
}

// -----

func.func @neg_three_masks(%q: tensor<2x4x16xf32>, %k: tensor<2x4x16xf32>, %v: tensor<2x4x16xf32>, %m: tensor<4x4xf32>, %n: tensor<2x1x4xf32>) -> tensor<2x4x16xf32> {
  %kt = attn.transpose %k, [0, 2, 1] : tensor<2x4x16xf32> -> tensor<2x16x4xf32>
  %s = attn.matmul %q, %kt : tensor<2x4x16xf32>, tensor<2x16x4xf32> -> tensor<2x4x4xf32>
  %s1 = attn.add %s, %m : tensor<2x4x4xf32>, tensor<4x4xf32> -> tensor<2x4x4xf32>
  %s2 = attn.add %s1, %n : tensor<2x4x4xf32>, tensor<2x1x4xf32> -> tensor<2x4x4xf32>
  %s3 = attn.add %s2, %m : tensor<2x4x4xf32>, tensor<4x4xf32> -> tensor<2x4x4xf32>
  // expected-remark @below {{softmax not fused into attn.attention: more than two masks between the scores and the softmax}}
  %p = attn.softmax %s3 {axis = -1 : i64} : tensor<2x4x4xf32> -> tensor<2x4x4xf32>
  %o = attn.matmul %p, %v : tensor<2x4x4xf32>, tensor<2x4x16xf32> -> tensor<2x4x16xf32>
  return %o : tensor<2x4x16xf32>
}

// -----

// A causal constant followed by a select whose fill (0.0) is not negligible:
// the causal positions would get 0.0 back, so it cannot become the flag.

func.func @neg_causal_then_weak_fill(%q: tensor<2x2x16xf32>, %k: tensor<2x2x16xf32>, %v: tensor<2x2x16xf32>, %m: tensor<2x2xi1>) -> tensor<2x2x16xf32> {
  %kt = attn.transpose %k, [0, 2, 1] : tensor<2x2x16xf32> -> tensor<2x16x2xf32>
  %s = attn.matmul %q, %kt : tensor<2x2x16xf32>, tensor<2x16x2xf32> -> tensor<2x2x2xf32>
  %triu = arith.constant dense<[[0.0, 0xFF800000], [0.0, 0.0]]> : tensor<2x2xf32>
  %s1 = attn.add %s, %triu : tensor<2x2x2xf32>, tensor<2x2xf32> -> tensor<2x2x2xf32>
  %zero = arith.constant dense<0.0> : tensor<f32>
  %s2 = attn.select %m, %zero, %s1 : tensor<2x2xi1>, tensor<f32>, tensor<2x2x2xf32> -> tensor<2x2x2xf32>
  // expected-remark @below {{softmax not fused into attn.attention: two masks on the scores, neither a constant causal mask}}
  %p = attn.softmax %s2 {axis = -1 : i64} : tensor<2x2x2xf32> -> tensor<2x2x2xf32>
  %o = attn.matmul %p, %v : tensor<2x2x2xf32>, tensor<2x2x16xf32> -> tensor<2x2x16xf32>
  return %o : tensor<2x2x16xf32>
}

// -----

// Soft-capping (tanh) between the scores and the softmax is not a scale or mask.

func.func @neg_other_op_on_scores(%q: tensor<2x4x16xf32>, %k: tensor<2x4x16xf32>, %v: tensor<2x4x16xf32>) -> tensor<2x4x16xf32> {
  %kt = attn.transpose %k, [0, 2, 1] : tensor<2x4x16xf32> -> tensor<2x16x4xf32>
  %s = attn.matmul %q, %kt : tensor<2x4x16xf32>, tensor<2x16x4xf32> -> tensor<2x4x4xf32>
  %t = attn.tanh %s : tensor<2x4x4xf32>
  // expected-remark @below {{softmax not fused into attn.attention: 'attn.tanh' between the scores matmul and the softmax is not a scale or a mask}}
  %p = attn.softmax %t {axis = -1 : i64} : tensor<2x4x4xf32> -> tensor<2x4x4xf32>
  %o = attn.matmul %p, %v : tensor<2x4x4xf32>, tensor<2x4x16xf32> -> tensor<2x4x16xf32>
  return %o : tensor<2x4x16xf32>
}

// -----

// The select's fill is not a constant.

func.func @neg_runtime_fill(%q: tensor<2x4x16xf32>, %k: tensor<2x4x16xf32>, %v: tensor<2x4x16xf32>, %m: tensor<4x4xi1>, %f: tensor<f32>) -> tensor<2x4x16xf32> {
  %kt = attn.transpose %k, [0, 2, 1] : tensor<2x4x16xf32> -> tensor<2x16x4xf32>
  %s = attn.matmul %q, %kt : tensor<2x4x16xf32>, tensor<2x16x4xf32> -> tensor<2x4x4xf32>
  %sm = attn.select %m, %f, %s : tensor<4x4xi1>, tensor<f32>, tensor<2x4x4xf32> -> tensor<2x4x4xf32>
  // expected-remark @below {{softmax not fused into attn.attention: 'attn.select' on the scores does not pick between the scores and a splat constant}}
  %p = attn.softmax %sm {axis = -1 : i64} : tensor<2x4x4xf32> -> tensor<2x4x4xf32>
  %o = attn.matmul %p, %v : tensor<2x4x4xf32>, tensor<2x4x16xf32> -> tensor<2x4x16xf32>
  return %o : tensor<2x4x16xf32>
}

// -----

// The softmax feeds the right operand of the matmul (V^T . P^T form).

func.func @neg_softmax_rhs(%q: tensor<2x4x16xf32>, %k: tensor<2x4x16xf32>, %vt: tensor<2x16x4xf32>) -> tensor<2x16x4xf32> {
  %kt = attn.transpose %k, [0, 2, 1] : tensor<2x4x16xf32> -> tensor<2x16x4xf32>
  %s = attn.matmul %q, %kt : tensor<2x4x16xf32>, tensor<2x16x4xf32> -> tensor<2x4x4xf32>
  // expected-remark @below {{softmax not fused into attn.attention: the softmax result is not the left operand of a matmul}}
  %p = attn.softmax %s {axis = -1 : i64} : tensor<2x4x4xf32> -> tensor<2x4x4xf32>
  %o = attn.matmul %vt, %p : tensor<2x16x4xf32>, tensor<2x4x4xf32> -> tensor<2x16x4xf32>
  return %o : tensor<2x16x4xf32>
}

// -----

// Matmuls with a vector or a lower-rank operand (numpy semantics).

func.func @neg_vector_key(%q: tensor<2x4x16xf32>, %k: tensor<16xf32>, %v: tensor<4x16xf32>) -> tensor<2x16xf32> {
  %s = attn.matmul %q, %k : tensor<2x4x16xf32>, tensor<16xf32> -> tensor<2x4xf32>
  // expected-remark @below {{softmax not fused into attn.attention: the scores matmul's operands do not have the rank of the scores}}
  %p = attn.softmax %s {axis = -1 : i64} : tensor<2x4xf32> -> tensor<2x4xf32>
  %o = attn.matmul %p, %v : tensor<2x4xf32>, tensor<4x16xf32> -> tensor<2x16xf32>
  return %o : tensor<2x16xf32>
}

// -----

func.func @neg_broadcast_query(%q: tensor<4x16xf32>, %k: tensor<2x4x16xf32>, %v: tensor<2x4x16xf32>) -> tensor<2x4x16xf32> {
  %kt = attn.transpose %k, [0, 2, 1] : tensor<2x4x16xf32> -> tensor<2x16x4xf32>
  %s = attn.matmul %q, %kt : tensor<4x16xf32>, tensor<2x16x4xf32> -> tensor<2x4x4xf32>
  // expected-remark @below {{softmax not fused into attn.attention: the scores matmul's operands do not have the rank of the scores}}
  %p = attn.softmax %s {axis = -1 : i64} : tensor<2x4x4xf32> -> tensor<2x4x4xf32>
  %o = attn.matmul %p, %v : tensor<2x4x4xf32>, tensor<2x4x16xf32> -> tensor<2x4x16xf32>
  return %o : tensor<2x4x16xf32>
}

// -----

// A softmax that is not attention at all.

func.func @neg_plain_softmax(%x: tensor<2x4xf32>) -> tensor<2x4xf32> {
  // expected-remark @below {{softmax not fused into attn.attention: the softmax result is not the left operand of a matmul}}
  %p = attn.softmax %x {axis = -1 : i64} : tensor<2x4xf32> -> tensor<2x4xf32>
  return %p : tensor<2x4xf32>
}
