// RUN: attn-opt %s -attn-fuse-attention=remarks=false -split-input-file | FileCheck %s

// A with-past decoder step as torch.onnx.export(dynamo=True) writes Llama's
// attention (test/e2e/past/llama_dynamo): the past length P and the new length
// T are Shape scalars, the cache length is their Add `P + T` (no input names
// it; the attention_mask's `total` is another symbol), the KV cache is a
// Concat on axis 2, and repeat_kv's Expand/Reshape are sized by the Add. The
// mask is `range(P + T) <= range(T) + P` and padding. SymbolicShapes interns
// `P + T` so the Concat's dim and the Add are one size: repeat_kv is absorbed
// (K/V with 2 heads) and the mask is the bottom-right causal flag plus the
// [B, 1, 1, Sk] padding (finfo.min as causal_fill).
// CHECK-LABEL: func @past_dynamo
// CHECK-NOT:     attn.expand
// CHECK:         %[[K:.*]] = attn.concat %arg1, %arg2 {axis = 2 : i64}
// CHECK:         %[[V:.*]] = attn.concat %arg3, %arg4 {axis = 2 : i64}
// CHECK-NOT:     attn.expand
// CHECK:         %[[PAD:.*]] = attn.select %arg5, {{.*}} -> tensor<?x1x1x?xf32>
// CHECK:         attn.attention %arg0, %[[K]], %[[V]] mask(%[[PAD]] : tensor<?x1x1x?xf32>) {causal, causal_align = #attn.causal_align<bottom_right>, causal_fill = -3.4028234663852886E+38 : f64, {{.*}}scale = 2.500000e-01 : f64} : tensor<?x4x?x16xf32>, tensor<?x2x?x16xf32>, tensor<?x2x?x16xf32> -> tensor<?x4x?x16xf32>
// CHECK-NOT:     attn.expand
// CHECK-NOT:     attn.softmax
module attributes {attn.signature = "{\22inputs\22:[{\22name\22:\22q\22,\22dtype\22:\22f32\22,\22shape\22:[\22batch\22,4,\22seq\22,16]},{\22name\22:\22past_key\22,\22dtype\22:\22f32\22,\22shape\22:[\22batch\22,2,\22past\22,16]},{\22name\22:\22new_key\22,\22dtype\22:\22f32\22,\22shape\22:[\22batch\22,2,\22seq\22,16]},{\22name\22:\22past_value\22,\22dtype\22:\22f32\22,\22shape\22:[\22batch\22,2,\22past\22,16]},{\22name\22:\22new_value\22,\22dtype\22:\22f32\22,\22shape\22:[\22batch\22,2,\22seq\22,16]},{\22name\22:\22padding\22,\22dtype\22:\22bool\22,\22shape\22:[\22batch\22,1,1,\22total\22]}],\22outputs\22:[]}"} {
func.func @past_dynamo(%q: tensor<?x4x?x16xf32>, %pk: tensor<?x2x?x16xf32>, %nk: tensor<?x2x?x16xf32>, %pv: tensor<?x2x?x16xf32>, %nv: tensor<?x2x?x16xf32>, %pad: tensor<?x1x1x?xi1>) -> tensor<?x4x?x16xf32> {
  %e0 = arith.constant dense<> : tensor<0xi64>
  %m1 = arith.constant dense<-1> : tensor<1xi64>
  %c21 = arith.constant dense<[2, 1]> : tensor<2xi64>
  %c2 = arith.constant dense<2> : tensor<1xi64>
  %c4 = arith.constant dense<4> : tensor<1xi64>
  %c16 = arith.constant dense<16> : tensor<1xi64>
  %zero = arith.constant dense<0> : tensor<i64>
  %one = arith.constant dense<1> : tensor<i64>
  %rq = arith.constant dense<[1, 1, -1, 1]> : tensor<4xi64>
  %rk = arith.constant dense<[1, 1, 1, -1]> : tensor<4xi64>
  %f0 = arith.constant dense<0.0> : tensor<f32>
  %fmin = arith.constant dense<-3.40282347E+38> : tensor<f32>
  %scale = arith.constant dense<0.25> : tensor<f32>
  // Sizes as dynamo computes them: Shape scalars and their sum.
  %b = attn.shape %q {end = 1 : i64, start = 0 : i64} : tensor<?x4x?x16xf32> -> tensor<1xi64>
  %s1 = attn.shape %q {end = 3 : i64, start = 2 : i64} : tensor<?x4x?x16xf32> -> tensor<1xi64>
  %seq = attn.reshape %s1, %e0 {allowzero} : tensor<1xi64>, tensor<0xi64> -> tensor<i64>
  %p1 = attn.shape %pv {end = 3 : i64, start = 2 : i64} : tensor<?x2x?x16xf32> -> tensor<1xi64>
  %past = attn.reshape %p1, %e0 {allowzero} : tensor<1xi64>, tensor<0xi64> -> tensor<i64>
  %tot = attn.add %past, %seq : tensor<i64>, tensor<i64> -> tensor<i64>
  %size = attn.add %past, %seq : tensor<i64>, tensor<i64> -> tensor<i64>
  %size1 = attn.reshape %size, %m1 : tensor<i64>, tensor<1xi64> -> tensor<1xi64>
  // The cache: past and new keys concatenated.
  %k = attn.concat %pk, %nk {axis = 2 : i64} : tensor<?x2x?x16xf32>, tensor<?x2x?x16xf32> -> tensor<?x2x?x16xf32>
  %v = attn.concat %pv, %nv {axis = 2 : i64} : tensor<?x2x?x16xf32>, tensor<?x2x?x16xf32> -> tensor<?x2x?x16xf32>
  // repeat_kv, the expand and the last reshape sized by the Add.
  %kl = attn.shape %k {end = 3 : i64, start = 2 : i64} : tensor<?x2x?x16xf32> -> tensor<1xi64>
  %s5 = attn.concat %b, %c21, %kl, %c16 {axis = 0 : i64} : tensor<1xi64>, tensor<2xi64>, tensor<1xi64>, tensor<1xi64> -> tensor<5xi64>
  %e5 = attn.concat %b, %c2, %c2, %size1, %c16 {axis = 0 : i64} : tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64> -> tensor<5xi64>
  %s4 = attn.concat %b, %c4, %size1, %c16 {axis = 0 : i64} : tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64> -> tensor<4xi64>
  %k1 = attn.reshape %k, %s5 {allowzero} : tensor<?x2x?x16xf32>, tensor<5xi64> -> tensor<?x2x1x?x16xf32>
  %k2 = attn.expand %k1, %e5 : tensor<?x2x1x?x16xf32>, tensor<5xi64> -> tensor<?x2x2x?x16xf32>
  %k3 = attn.reshape %k2, %s4 {allowzero} : tensor<?x2x2x?x16xf32>, tensor<4xi64> -> tensor<?x4x?x16xf32>
  %v1 = attn.reshape %v, %s5 {allowzero} : tensor<?x2x?x16xf32>, tensor<5xi64> -> tensor<?x2x1x?x16xf32>
  %v2 = attn.expand %v1, %e5 : tensor<?x2x1x?x16xf32>, tensor<5xi64> -> tensor<?x2x2x?x16xf32>
  %v3 = attn.reshape %v2, %s4 {allowzero} : tensor<?x2x2x?x16xf32>, tensor<4xi64> -> tensor<?x4x?x16xf32>
  // kv_idx <= cache_position: range(past + seq) against range(seq) + offset.
  %qr = attn.range %zero, %seq, %one : tensor<i64> -> tensor<?xi64>
  %qp = attn.add %qr, %past : tensor<?xi64>, tensor<i64> -> tensor<?xi64>
  %kr = attn.range %zero, %tot, %one : tensor<i64> -> tensor<?xi64>
  %qp4 = attn.reshape %qp, %rq {allowzero} : tensor<?xi64>, tensor<4xi64> -> tensor<1x1x?x1xi64>
  %kr4 = attn.reshape %kr, %rk {allowzero} : tensor<?xi64>, tensor<4xi64> -> tensor<1x1x1x?xi64>
  %le = attn.cmp le, %kr4, %qp4 : tensor<1x1x1x?xi64>, tensor<1x1x?x1xi64> -> tensor<1x1x?x?xi1>
  %keep = attn.and %le, %pad : tensor<1x1x?x?xi1>, tensor<?x1x1x?xi1> -> tensor<?x1x?x?xi1>
  %mask = attn.select %keep, %f0, %fmin : tensor<?x1x?x?xi1>, tensor<f32>, tensor<f32> -> tensor<?x1x?x?xf32>
  %kt = attn.transpose %k3, [0, 1, 3, 2] : tensor<?x4x?x16xf32> -> tensor<?x4x16x?xf32>
  %s = attn.matmul %q, %kt : tensor<?x4x?x16xf32>, tensor<?x4x16x?xf32> -> tensor<?x4x?x?xf32>
  %ss = attn.mul %s, %scale : tensor<?x4x?x?xf32>, tensor<f32> -> tensor<?x4x?x?xf32>
  %sm = attn.add %ss, %mask : tensor<?x4x?x?xf32>, tensor<?x1x?x?xf32> -> tensor<?x4x?x?xf32>
  %p = attn.softmax %sm {axis = 3 : i64} : tensor<?x4x?x?xf32> -> tensor<?x4x?x?xf32>
  %o = attn.matmul %p, %v3 : tensor<?x4x?x?xf32>, tensor<?x4x?x16xf32> -> tensor<?x4x?x16xf32>
  return %o : tensor<?x4x?x16xf32>
}
}

// -----

// The query positions start at T instead of P (`range(T) + T`): not the
// causal pattern of these scores, so the whole mask stays an operand (repeat_kv
// is still absorbed: the sizes agree).
// CHECK-LABEL: func @past_dynamo_wrong_offset
// CHECK-NOT:     causal
// CHECK:         attn.attention %arg0, {{.*}} mask({{.*}} : tensor<?x1x?x?xf32>) {mask_kind = #attn.mask_kind<additive>, scale = 2.500000e-01 : f64} : tensor<?x4x?x16xf32>, tensor<?x2x?x16xf32>, tensor<?x2x?x16xf32>

module attributes {attn.signature = "{\22inputs\22:[{\22name\22:\22q\22,\22dtype\22:\22f32\22,\22shape\22:[\22batch\22,4,\22seq\22,16]},{\22name\22:\22past_key\22,\22dtype\22:\22f32\22,\22shape\22:[\22batch\22,2,\22past\22,16]},{\22name\22:\22new_key\22,\22dtype\22:\22f32\22,\22shape\22:[\22batch\22,2,\22seq\22,16]},{\22name\22:\22past_value\22,\22dtype\22:\22f32\22,\22shape\22:[\22batch\22,2,\22past\22,16]},{\22name\22:\22new_value\22,\22dtype\22:\22f32\22,\22shape\22:[\22batch\22,2,\22seq\22,16]},{\22name\22:\22padding\22,\22dtype\22:\22bool\22,\22shape\22:[\22batch\22,1,1,\22total\22]}],\22outputs\22:[]}"} {
func.func @past_dynamo_wrong_offset(%q: tensor<?x4x?x16xf32>, %pk: tensor<?x2x?x16xf32>, %nk: tensor<?x2x?x16xf32>, %pv: tensor<?x2x?x16xf32>, %nv: tensor<?x2x?x16xf32>, %pad: tensor<?x1x1x?xi1>) -> tensor<?x4x?x16xf32> {
  %e0 = arith.constant dense<> : tensor<0xi64>
  %m1 = arith.constant dense<-1> : tensor<1xi64>
  %c21 = arith.constant dense<[2, 1]> : tensor<2xi64>
  %c2 = arith.constant dense<2> : tensor<1xi64>
  %c4 = arith.constant dense<4> : tensor<1xi64>
  %c16 = arith.constant dense<16> : tensor<1xi64>
  %zero = arith.constant dense<0> : tensor<i64>
  %one = arith.constant dense<1> : tensor<i64>
  %rq = arith.constant dense<[1, 1, -1, 1]> : tensor<4xi64>
  %rk = arith.constant dense<[1, 1, 1, -1]> : tensor<4xi64>
  %f0 = arith.constant dense<0.0> : tensor<f32>
  %fmin = arith.constant dense<-3.40282347E+38> : tensor<f32>
  %scale = arith.constant dense<0.25> : tensor<f32>
  // Sizes as dynamo computes them: Shape scalars and their sum.
  %b = attn.shape %q {end = 1 : i64, start = 0 : i64} : tensor<?x4x?x16xf32> -> tensor<1xi64>
  %s1 = attn.shape %q {end = 3 : i64, start = 2 : i64} : tensor<?x4x?x16xf32> -> tensor<1xi64>
  %seq = attn.reshape %s1, %e0 {allowzero} : tensor<1xi64>, tensor<0xi64> -> tensor<i64>
  %p1 = attn.shape %pv {end = 3 : i64, start = 2 : i64} : tensor<?x2x?x16xf32> -> tensor<1xi64>
  %past = attn.reshape %p1, %e0 {allowzero} : tensor<1xi64>, tensor<0xi64> -> tensor<i64>
  %tot = attn.add %past, %seq : tensor<i64>, tensor<i64> -> tensor<i64>
  %size = attn.add %past, %seq : tensor<i64>, tensor<i64> -> tensor<i64>
  %size1 = attn.reshape %size, %m1 : tensor<i64>, tensor<1xi64> -> tensor<1xi64>
  // The cache: past and new keys concatenated.
  %k = attn.concat %pk, %nk {axis = 2 : i64} : tensor<?x2x?x16xf32>, tensor<?x2x?x16xf32> -> tensor<?x2x?x16xf32>
  %v = attn.concat %pv, %nv {axis = 2 : i64} : tensor<?x2x?x16xf32>, tensor<?x2x?x16xf32> -> tensor<?x2x?x16xf32>
  // repeat_kv, the expand and the last reshape sized by the Add.
  %kl = attn.shape %k {end = 3 : i64, start = 2 : i64} : tensor<?x2x?x16xf32> -> tensor<1xi64>
  %s5 = attn.concat %b, %c21, %kl, %c16 {axis = 0 : i64} : tensor<1xi64>, tensor<2xi64>, tensor<1xi64>, tensor<1xi64> -> tensor<5xi64>
  %e5 = attn.concat %b, %c2, %c2, %size1, %c16 {axis = 0 : i64} : tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64> -> tensor<5xi64>
  %s4 = attn.concat %b, %c4, %size1, %c16 {axis = 0 : i64} : tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64> -> tensor<4xi64>
  %k1 = attn.reshape %k, %s5 {allowzero} : tensor<?x2x?x16xf32>, tensor<5xi64> -> tensor<?x2x1x?x16xf32>
  %k2 = attn.expand %k1, %e5 : tensor<?x2x1x?x16xf32>, tensor<5xi64> -> tensor<?x2x2x?x16xf32>
  %k3 = attn.reshape %k2, %s4 {allowzero} : tensor<?x2x2x?x16xf32>, tensor<4xi64> -> tensor<?x4x?x16xf32>
  %v1 = attn.reshape %v, %s5 {allowzero} : tensor<?x2x?x16xf32>, tensor<5xi64> -> tensor<?x2x1x?x16xf32>
  %v2 = attn.expand %v1, %e5 : tensor<?x2x1x?x16xf32>, tensor<5xi64> -> tensor<?x2x2x?x16xf32>
  %v3 = attn.reshape %v2, %s4 {allowzero} : tensor<?x2x2x?x16xf32>, tensor<4xi64> -> tensor<?x4x?x16xf32>
  // kv_idx <= cache_position: range(past + seq) against range(seq) + offset.
  %qr = attn.range %zero, %seq, %one : tensor<i64> -> tensor<?xi64>
  %qp = attn.add %qr, %seq : tensor<?xi64>, tensor<i64> -> tensor<?xi64>
  %kr = attn.range %zero, %tot, %one : tensor<i64> -> tensor<?xi64>
  %qp4 = attn.reshape %qp, %rq {allowzero} : tensor<?xi64>, tensor<4xi64> -> tensor<1x1x?x1xi64>
  %kr4 = attn.reshape %kr, %rk {allowzero} : tensor<?xi64>, tensor<4xi64> -> tensor<1x1x1x?xi64>
  %le = attn.cmp le, %kr4, %qp4 : tensor<1x1x1x?xi64>, tensor<1x1x?x1xi64> -> tensor<1x1x?x?xi1>
  %keep = attn.and %le, %pad : tensor<1x1x?x?xi1>, tensor<?x1x1x?xi1> -> tensor<?x1x?x?xi1>
  %mask = attn.select %keep, %f0, %fmin : tensor<?x1x?x?xi1>, tensor<f32>, tensor<f32> -> tensor<?x1x?x?xf32>
  %kt = attn.transpose %k3, [0, 1, 3, 2] : tensor<?x4x?x16xf32> -> tensor<?x4x16x?xf32>
  %s = attn.matmul %q, %kt : tensor<?x4x?x16xf32>, tensor<?x4x16x?xf32> -> tensor<?x4x?x?xf32>
  %ss = attn.mul %s, %scale : tensor<?x4x?x?xf32>, tensor<f32> -> tensor<?x4x?x?xf32>
  %sm = attn.add %ss, %mask : tensor<?x4x?x?xf32>, tensor<?x1x?x?xf32> -> tensor<?x4x?x?xf32>
  %p = attn.softmax %sm {axis = 3 : i64} : tensor<?x4x?x?xf32> -> tensor<?x4x?x?xf32>
  %o = attn.matmul %p, %v3 : tensor<?x4x?x?xf32>, tensor<?x4x?x16xf32> -> tensor<?x4x?x16xf32>
  return %o : tensor<?x4x?x16xf32>
}
}

// -----

// repeat_kv sized `P + P`, not the cache's `P + T`: K/V stay expanded (the
// key length of the scores is not provably the cache's, so no causal flag
// either).
// CHECK-LABEL: func @past_dynamo_other_size
// CHECK:         attn.expand
// CHECK:         attn.expand
// CHECK:         attn.attention {{.*}} : tensor<?x4x?x16xf32>, tensor<?x4x?x16xf32>, tensor<?x4x?x16xf32>

module attributes {attn.signature = "{\22inputs\22:[{\22name\22:\22q\22,\22dtype\22:\22f32\22,\22shape\22:[\22batch\22,4,\22seq\22,16]},{\22name\22:\22past_key\22,\22dtype\22:\22f32\22,\22shape\22:[\22batch\22,2,\22past\22,16]},{\22name\22:\22new_key\22,\22dtype\22:\22f32\22,\22shape\22:[\22batch\22,2,\22seq\22,16]},{\22name\22:\22past_value\22,\22dtype\22:\22f32\22,\22shape\22:[\22batch\22,2,\22past\22,16]},{\22name\22:\22new_value\22,\22dtype\22:\22f32\22,\22shape\22:[\22batch\22,2,\22seq\22,16]},{\22name\22:\22padding\22,\22dtype\22:\22bool\22,\22shape\22:[\22batch\22,1,1,\22total\22]}],\22outputs\22:[]}"} {
func.func @past_dynamo_other_size(%q: tensor<?x4x?x16xf32>, %pk: tensor<?x2x?x16xf32>, %nk: tensor<?x2x?x16xf32>, %pv: tensor<?x2x?x16xf32>, %nv: tensor<?x2x?x16xf32>, %pad: tensor<?x1x1x?xi1>) -> tensor<?x4x?x16xf32> {
  %e0 = arith.constant dense<> : tensor<0xi64>
  %m1 = arith.constant dense<-1> : tensor<1xi64>
  %c21 = arith.constant dense<[2, 1]> : tensor<2xi64>
  %c2 = arith.constant dense<2> : tensor<1xi64>
  %c4 = arith.constant dense<4> : tensor<1xi64>
  %c16 = arith.constant dense<16> : tensor<1xi64>
  %zero = arith.constant dense<0> : tensor<i64>
  %one = arith.constant dense<1> : tensor<i64>
  %rq = arith.constant dense<[1, 1, -1, 1]> : tensor<4xi64>
  %rk = arith.constant dense<[1, 1, 1, -1]> : tensor<4xi64>
  %f0 = arith.constant dense<0.0> : tensor<f32>
  %fmin = arith.constant dense<-3.40282347E+38> : tensor<f32>
  %scale = arith.constant dense<0.25> : tensor<f32>
  // Sizes as dynamo computes them: Shape scalars and their sum.
  %b = attn.shape %q {end = 1 : i64, start = 0 : i64} : tensor<?x4x?x16xf32> -> tensor<1xi64>
  %s1 = attn.shape %q {end = 3 : i64, start = 2 : i64} : tensor<?x4x?x16xf32> -> tensor<1xi64>
  %seq = attn.reshape %s1, %e0 {allowzero} : tensor<1xi64>, tensor<0xi64> -> tensor<i64>
  %p1 = attn.shape %pv {end = 3 : i64, start = 2 : i64} : tensor<?x2x?x16xf32> -> tensor<1xi64>
  %past = attn.reshape %p1, %e0 {allowzero} : tensor<1xi64>, tensor<0xi64> -> tensor<i64>
  %tot = attn.add %past, %seq : tensor<i64>, tensor<i64> -> tensor<i64>
  %size = attn.add %past, %past : tensor<i64>, tensor<i64> -> tensor<i64>
  %size1 = attn.reshape %size, %m1 : tensor<i64>, tensor<1xi64> -> tensor<1xi64>
  // The cache: past and new keys concatenated.
  %k = attn.concat %pk, %nk {axis = 2 : i64} : tensor<?x2x?x16xf32>, tensor<?x2x?x16xf32> -> tensor<?x2x?x16xf32>
  %v = attn.concat %pv, %nv {axis = 2 : i64} : tensor<?x2x?x16xf32>, tensor<?x2x?x16xf32> -> tensor<?x2x?x16xf32>
  // repeat_kv, the expand and the last reshape sized by the Add.
  %kl = attn.shape %k {end = 3 : i64, start = 2 : i64} : tensor<?x2x?x16xf32> -> tensor<1xi64>
  %s5 = attn.concat %b, %c21, %kl, %c16 {axis = 0 : i64} : tensor<1xi64>, tensor<2xi64>, tensor<1xi64>, tensor<1xi64> -> tensor<5xi64>
  %e5 = attn.concat %b, %c2, %c2, %size1, %c16 {axis = 0 : i64} : tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64> -> tensor<5xi64>
  %s4 = attn.concat %b, %c4, %size1, %c16 {axis = 0 : i64} : tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64> -> tensor<4xi64>
  %k1 = attn.reshape %k, %s5 {allowzero} : tensor<?x2x?x16xf32>, tensor<5xi64> -> tensor<?x2x1x?x16xf32>
  %k2 = attn.expand %k1, %e5 : tensor<?x2x1x?x16xf32>, tensor<5xi64> -> tensor<?x2x2x?x16xf32>
  %k3 = attn.reshape %k2, %s4 {allowzero} : tensor<?x2x2x?x16xf32>, tensor<4xi64> -> tensor<?x4x?x16xf32>
  %v1 = attn.reshape %v, %s5 {allowzero} : tensor<?x2x?x16xf32>, tensor<5xi64> -> tensor<?x2x1x?x16xf32>
  %v2 = attn.expand %v1, %e5 : tensor<?x2x1x?x16xf32>, tensor<5xi64> -> tensor<?x2x2x?x16xf32>
  %v3 = attn.reshape %v2, %s4 {allowzero} : tensor<?x2x2x?x16xf32>, tensor<4xi64> -> tensor<?x4x?x16xf32>
  // kv_idx <= cache_position: range(past + seq) against range(seq) + offset.
  %qr = attn.range %zero, %seq, %one : tensor<i64> -> tensor<?xi64>
  %qp = attn.add %qr, %past : tensor<?xi64>, tensor<i64> -> tensor<?xi64>
  %kr = attn.range %zero, %tot, %one : tensor<i64> -> tensor<?xi64>
  %qp4 = attn.reshape %qp, %rq {allowzero} : tensor<?xi64>, tensor<4xi64> -> tensor<1x1x?x1xi64>
  %kr4 = attn.reshape %kr, %rk {allowzero} : tensor<?xi64>, tensor<4xi64> -> tensor<1x1x1x?xi64>
  %le = attn.cmp le, %kr4, %qp4 : tensor<1x1x1x?xi64>, tensor<1x1x?x1xi64> -> tensor<1x1x?x?xi1>
  %keep = attn.and %le, %pad : tensor<1x1x?x?xi1>, tensor<?x1x1x?xi1> -> tensor<?x1x?x?xi1>
  %mask = attn.select %keep, %f0, %fmin : tensor<?x1x?x?xi1>, tensor<f32>, tensor<f32> -> tensor<?x1x?x?xf32>
  %kt = attn.transpose %k3, [0, 1, 3, 2] : tensor<?x4x?x16xf32> -> tensor<?x4x16x?xf32>
  %s = attn.matmul %q, %kt : tensor<?x4x?x16xf32>, tensor<?x4x16x?xf32> -> tensor<?x4x?x?xf32>
  %ss = attn.mul %s, %scale : tensor<?x4x?x?xf32>, tensor<f32> -> tensor<?x4x?x?xf32>
  %sm = attn.add %ss, %mask : tensor<?x4x?x?xf32>, tensor<?x1x?x?xf32> -> tensor<?x4x?x?xf32>
  %p = attn.softmax %sm {axis = 3 : i64} : tensor<?x4x?x?xf32> -> tensor<?x4x?x?xf32>
  %o = attn.matmul %p, %v3 : tensor<?x4x?x?xf32>, tensor<?x4x?x16xf32> -> tensor<?x4x?x16xf32>
  return %o : tensor<?x4x?x16xf32>
}
}

// -----

// `P - T` is a different sum: not absorbed either.
// CHECK-LABEL: func @past_dynamo_difference
// CHECK:         attn.expand
// CHECK:         attn.attention {{.*}} : tensor<?x4x?x16xf32>, tensor<?x4x?x16xf32>, tensor<?x4x?x16xf32>

module attributes {attn.signature = "{\22inputs\22:[{\22name\22:\22q\22,\22dtype\22:\22f32\22,\22shape\22:[\22batch\22,4,\22seq\22,16]},{\22name\22:\22past_key\22,\22dtype\22:\22f32\22,\22shape\22:[\22batch\22,2,\22past\22,16]},{\22name\22:\22new_key\22,\22dtype\22:\22f32\22,\22shape\22:[\22batch\22,2,\22seq\22,16]},{\22name\22:\22past_value\22,\22dtype\22:\22f32\22,\22shape\22:[\22batch\22,2,\22past\22,16]},{\22name\22:\22new_value\22,\22dtype\22:\22f32\22,\22shape\22:[\22batch\22,2,\22seq\22,16]},{\22name\22:\22padding\22,\22dtype\22:\22bool\22,\22shape\22:[\22batch\22,1,1,\22total\22]}],\22outputs\22:[]}"} {
func.func @past_dynamo_difference(%q: tensor<?x4x?x16xf32>, %pk: tensor<?x2x?x16xf32>, %nk: tensor<?x2x?x16xf32>, %pv: tensor<?x2x?x16xf32>, %nv: tensor<?x2x?x16xf32>, %pad: tensor<?x1x1x?xi1>) -> tensor<?x4x?x16xf32> {
  %e0 = arith.constant dense<> : tensor<0xi64>
  %m1 = arith.constant dense<-1> : tensor<1xi64>
  %c21 = arith.constant dense<[2, 1]> : tensor<2xi64>
  %c2 = arith.constant dense<2> : tensor<1xi64>
  %c4 = arith.constant dense<4> : tensor<1xi64>
  %c16 = arith.constant dense<16> : tensor<1xi64>
  %zero = arith.constant dense<0> : tensor<i64>
  %one = arith.constant dense<1> : tensor<i64>
  %rq = arith.constant dense<[1, 1, -1, 1]> : tensor<4xi64>
  %rk = arith.constant dense<[1, 1, 1, -1]> : tensor<4xi64>
  %f0 = arith.constant dense<0.0> : tensor<f32>
  %fmin = arith.constant dense<-3.40282347E+38> : tensor<f32>
  %scale = arith.constant dense<0.25> : tensor<f32>
  // Sizes as dynamo computes them: Shape scalars and their sum.
  %b = attn.shape %q {end = 1 : i64, start = 0 : i64} : tensor<?x4x?x16xf32> -> tensor<1xi64>
  %s1 = attn.shape %q {end = 3 : i64, start = 2 : i64} : tensor<?x4x?x16xf32> -> tensor<1xi64>
  %seq = attn.reshape %s1, %e0 {allowzero} : tensor<1xi64>, tensor<0xi64> -> tensor<i64>
  %p1 = attn.shape %pv {end = 3 : i64, start = 2 : i64} : tensor<?x2x?x16xf32> -> tensor<1xi64>
  %past = attn.reshape %p1, %e0 {allowzero} : tensor<1xi64>, tensor<0xi64> -> tensor<i64>
  %tot = attn.add %past, %seq : tensor<i64>, tensor<i64> -> tensor<i64>
  %size = attn.sub %past, %seq : tensor<i64>, tensor<i64> -> tensor<i64>
  %size1 = attn.reshape %size, %m1 : tensor<i64>, tensor<1xi64> -> tensor<1xi64>
  // The cache: past and new keys concatenated.
  %k = attn.concat %pk, %nk {axis = 2 : i64} : tensor<?x2x?x16xf32>, tensor<?x2x?x16xf32> -> tensor<?x2x?x16xf32>
  %v = attn.concat %pv, %nv {axis = 2 : i64} : tensor<?x2x?x16xf32>, tensor<?x2x?x16xf32> -> tensor<?x2x?x16xf32>
  // repeat_kv, the expand and the last reshape sized by the Add.
  %kl = attn.shape %k {end = 3 : i64, start = 2 : i64} : tensor<?x2x?x16xf32> -> tensor<1xi64>
  %s5 = attn.concat %b, %c21, %kl, %c16 {axis = 0 : i64} : tensor<1xi64>, tensor<2xi64>, tensor<1xi64>, tensor<1xi64> -> tensor<5xi64>
  %e5 = attn.concat %b, %c2, %c2, %size1, %c16 {axis = 0 : i64} : tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64> -> tensor<5xi64>
  %s4 = attn.concat %b, %c4, %size1, %c16 {axis = 0 : i64} : tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64> -> tensor<4xi64>
  %k1 = attn.reshape %k, %s5 {allowzero} : tensor<?x2x?x16xf32>, tensor<5xi64> -> tensor<?x2x1x?x16xf32>
  %k2 = attn.expand %k1, %e5 : tensor<?x2x1x?x16xf32>, tensor<5xi64> -> tensor<?x2x2x?x16xf32>
  %k3 = attn.reshape %k2, %s4 {allowzero} : tensor<?x2x2x?x16xf32>, tensor<4xi64> -> tensor<?x4x?x16xf32>
  %v1 = attn.reshape %v, %s5 {allowzero} : tensor<?x2x?x16xf32>, tensor<5xi64> -> tensor<?x2x1x?x16xf32>
  %v2 = attn.expand %v1, %e5 : tensor<?x2x1x?x16xf32>, tensor<5xi64> -> tensor<?x2x2x?x16xf32>
  %v3 = attn.reshape %v2, %s4 {allowzero} : tensor<?x2x2x?x16xf32>, tensor<4xi64> -> tensor<?x4x?x16xf32>
  // kv_idx <= cache_position: range(past + seq) against range(seq) + offset.
  %qr = attn.range %zero, %seq, %one : tensor<i64> -> tensor<?xi64>
  %qp = attn.add %qr, %past : tensor<?xi64>, tensor<i64> -> tensor<?xi64>
  %kr = attn.range %zero, %tot, %one : tensor<i64> -> tensor<?xi64>
  %qp4 = attn.reshape %qp, %rq {allowzero} : tensor<?xi64>, tensor<4xi64> -> tensor<1x1x?x1xi64>
  %kr4 = attn.reshape %kr, %rk {allowzero} : tensor<?xi64>, tensor<4xi64> -> tensor<1x1x1x?xi64>
  %le = attn.cmp le, %kr4, %qp4 : tensor<1x1x1x?xi64>, tensor<1x1x?x1xi64> -> tensor<1x1x?x?xi1>
  %keep = attn.and %le, %pad : tensor<1x1x?x?xi1>, tensor<?x1x1x?xi1> -> tensor<?x1x?x?xi1>
  %mask = attn.select %keep, %f0, %fmin : tensor<?x1x?x?xi1>, tensor<f32>, tensor<f32> -> tensor<?x1x?x?xf32>
  %kt = attn.transpose %k3, [0, 1, 3, 2] : tensor<?x4x?x16xf32> -> tensor<?x4x16x?xf32>
  %s = attn.matmul %q, %kt : tensor<?x4x?x16xf32>, tensor<?x4x16x?xf32> -> tensor<?x4x?x?xf32>
  %ss = attn.mul %s, %scale : tensor<?x4x?x?xf32>, tensor<f32> -> tensor<?x4x?x?xf32>
  %sm = attn.add %ss, %mask : tensor<?x4x?x?xf32>, tensor<?x1x?x?xf32> -> tensor<?x4x?x?xf32>
  %p = attn.softmax %sm {axis = 3 : i64} : tensor<?x4x?x?xf32> -> tensor<?x4x?x?xf32>
  %o = attn.matmul %p, %v3 : tensor<?x4x?x?xf32>, tensor<?x4x?x16xf32> -> tensor<?x4x?x16xf32>
  return %o : tensor<?x4x?x16xf32>
}
}
