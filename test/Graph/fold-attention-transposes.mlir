// RUN: attn-opt %s -attn-fold-attention-transposes -split-input-file | FileCheck %s

// BERT's head split and merge: the three Transpose(0, 2, 1, 3) and the one
// after attention become perms; the op reads and writes [B, S, H, D].
// CHECK-LABEL: func.func @bert_heads
// CHECK-SAME: (%[[Q:.*]]: tensor<?x?x4x16xf32>, %[[K:.*]]: tensor<?x?x4x16xf32>, %[[V:.*]]: tensor<?x?x4x16xf32>)
// CHECK-NEXT: %[[A:.*]] = attn.attention %[[Q]], %[[K]], %[[V]] {key_perm = array<i64: 0, 2, 1, 3>, mask_kind = #attn.mask_kind<none>, query_perm = array<i64: 0, 2, 1, 3>, result_perm = array<i64: 0, 2, 1, 3>, scale = 2.500000e-01 : f64, value_perm = array<i64: 0, 2, 1, 3>} : tensor<?x?x4x16xf32>, tensor<?x?x4x16xf32>, tensor<?x?x4x16xf32> -> tensor<?x?x4x16xf32>
// CHECK-NEXT: return %[[A]]
func.func @bert_heads(%q: tensor<?x?x4x16xf32>, %k: tensor<?x?x4x16xf32>, %v: tensor<?x?x4x16xf32>) -> tensor<?x?x4x16xf32> {
  %qt = attn.transpose %q, [0, 2, 1, 3] : tensor<?x?x4x16xf32> -> tensor<?x4x?x16xf32>
  %kt = attn.transpose %k, [0, 2, 1, 3] : tensor<?x?x4x16xf32> -> tensor<?x4x?x16xf32>
  %vt = attn.transpose %v, [0, 2, 1, 3] : tensor<?x?x4x16xf32> -> tensor<?x4x?x16xf32>
  %a = attn.attention %qt, %kt, %vt {mask_kind = #attn.mask_kind<none>, scale = 0.25 : f64} : tensor<?x4x?x16xf32>, tensor<?x4x?x16xf32>, tensor<?x4x?x16xf32> -> tensor<?x4x?x16xf32>
  %r = attn.transpose %a, [0, 2, 1, 3] : tensor<?x4x?x16xf32> -> tensor<?x?x4x16xf32>
  return %r : tensor<?x?x4x16xf32>
}

// -----

// Perms compose: a transpose of an operand that already has a perm; the
// mask stays in the logical order.
// CHECK-LABEL: func.func @compose
// CHECK: attn.attention %arg0, %arg1, %arg2 mask(%arg3 : tensor<2x1x1x5xf32>) {key_perm = array<i64: 1, 0, 2, 3>, mask_kind = #attn.mask_kind<additive>, query_perm = array<i64: 1, 0, 2, 3>, scale = 1.000000e+00 : f64}
func.func @compose(%q: tensor<3x2x4x8xf32>, %k: tensor<3x2x5x8xf32>, %v: tensor<2x3x5x8xf32>, %m: tensor<2x1x1x5xf32>) -> tensor<2x3x4x8xf32> {
  %qt = attn.transpose %q, [1, 0, 2, 3] : tensor<3x2x4x8xf32> -> tensor<2x3x4x8xf32>
  %kt = attn.transpose %k, [1, 2, 0, 3] : tensor<3x2x5x8xf32> -> tensor<2x5x3x8xf32>
  %a = attn.attention %qt, %kt, %v mask(%m : tensor<2x1x1x5xf32>) {mask_kind = #attn.mask_kind<additive>, scale = 1.0 : f64, key_perm = array<i64: 0, 2, 1, 3>} : tensor<2x3x4x8xf32>, tensor<2x5x3x8xf32>, tensor<2x3x5x8xf32> -> tensor<2x3x4x8xf32>
  return %a : tensor<2x3x4x8xf32>
}

// -----

// Not folded: a transpose that moves the head dim (it would no longer be
// stored innermost), and a result transpose when the result has another use.
// CHECK-LABEL: func.func @not_folded
// CHECK: %[[QT:.*]] = attn.transpose %arg0, [0, 2, 1]
// CHECK: %[[A:.*]] = attn.attention %[[QT]], %arg1, %arg2 {mask_kind
// CHECK-NOT: perm
// CHECK: attn.transpose %[[A]], [1, 0, 2]
func.func @not_folded(%q: tensor<2x8x4xf32>, %k: tensor<2x4x8xf32>, %v: tensor<2x4x8xf32>) -> (tensor<2x4x8xf32>, tensor<4x2x8xf32>) {
  %qt = attn.transpose %q, [0, 2, 1] : tensor<2x8x4xf32> -> tensor<2x4x8xf32>
  %a = attn.attention %qt, %k, %v {mask_kind = #attn.mask_kind<none>, scale = 1.0 : f64} : tensor<2x4x8xf32>, tensor<2x4x8xf32>, tensor<2x4x8xf32> -> tensor<2x4x8xf32>
  %r = attn.transpose %a, [1, 0, 2] : tensor<2x4x8xf32> -> tensor<4x2x8xf32>
  return %a, %r : tensor<2x4x8xf32>, tensor<4x2x8xf32>
}

// -----

// One transpose per operand and one after the result, each attention op
// rewritten once (the pass runs on the greedy driver, which revisits the op
// it modified): of a transpose of a transpose only the outer one folds; the
// identity transpose after the folded result transpose stays. A transpose
// read by two operands (Q and K) is folded into both and erased once.
// CHECK-LABEL: func.func @one_level
// CHECK-NEXT: %[[Q1:.*]] = attn.transpose %arg0, [0, 2, 1, 3]
// CHECK-NEXT: %[[A:.*]] = attn.attention %[[Q1]], %[[Q1]], %arg1 {key_perm = array<i64: 1, 0, 2, 3>, mask_kind = #attn.mask_kind<none>, query_perm = array<i64: 1, 0, 2, 3>, result_perm = array<i64: 1, 0, 2, 3>, scale = 2.500000e-01 : f64, value_perm = array<i64: 1, 0, 2, 3>}
// CHECK-NEXT: %[[R:.*]] = attn.transpose %[[A]], [0, 1, 2, 3]
// CHECK-NEXT: return %[[R]]
func.func @one_level(%q: tensor<2x3x4x16xf32>, %v: tensor<2x4x3x16xf32>) -> tensor<2x4x3x16xf32> {
  %q1 = attn.transpose %q, [0, 2, 1, 3] : tensor<2x3x4x16xf32> -> tensor<2x4x3x16xf32>
  %q2 = attn.transpose %q1, [1, 0, 2, 3] : tensor<2x4x3x16xf32> -> tensor<4x2x3x16xf32>
  %v2 = attn.transpose %v, [1, 0, 2, 3] : tensor<2x4x3x16xf32> -> tensor<4x2x3x16xf32>
  %a = attn.attention %q2, %q2, %v2 {mask_kind = #attn.mask_kind<none>, scale = 0.25 : f64} : tensor<4x2x3x16xf32>, tensor<4x2x3x16xf32>, tensor<4x2x3x16xf32> -> tensor<4x2x3x16xf32>
  %r = attn.transpose %a, [1, 0, 2, 3] : tensor<4x2x3x16xf32> -> tensor<2x4x3x16xf32>
  %r2 = attn.transpose %r, [0, 1, 2, 3] : tensor<2x4x3x16xf32> -> tensor<2x4x3x16xf32>
  return %r2 : tensor<2x4x3x16xf32>
}
