// RUN: attn-opt %s -attn-fuse-attention=remarks=false -split-input-file | FileCheck %s

// Sliding-window masks as Hugging Face builds them (Mistral, Gemma-2/3 local layers):
// `k > q - W` and `k <= q` and padding. With a past (a with-past decoder step, dynamo's
// sizes): the query positions are `range(T) + P`, the keys `range(P + T)`; the band
// `k <= q + P` and `k > q + P - W` is bottom-right causal with window W, the padding stays
// the [B, 1, 1, Sk] operand and finfo.min becomes causal_fill.
// CHECK-LABEL: func @past_window
// CHECK:         %[[PAD:.*]] = attn.select %arg5, {{.*}} -> tensor<?x1x1x?xf32>
// CHECK:         attn.attention %arg0, {{.*}} mask(%[[PAD]] : tensor<?x1x1x?xf32>) {causal, causal_align = #attn.causal_align<bottom_right>, causal_fill = -3.4028234663852886E+38 : f64, mask_kind = #attn.mask_kind<additive>, scale = 2.500000e-01 : f64, window = 4 : i64}
// CHECK-NOT:     attn.softmax
// CHECK-NOT:     attn.cmp
module attributes {attn.signature = "{\22inputs\22:[{\22name\22:\22q\22,\22dtype\22:\22f32\22,\22shape\22:[\22batch\22,2,\22seq\22,16]},{\22name\22:\22past_key\22,\22dtype\22:\22f32\22,\22shape\22:[\22batch\22,2,\22past\22,16]},{\22name\22:\22new_key\22,\22dtype\22:\22f32\22,\22shape\22:[\22batch\22,2,\22seq\22,16]},{\22name\22:\22past_value\22,\22dtype\22:\22f32\22,\22shape\22:[\22batch\22,2,\22past\22,16]},{\22name\22:\22new_value\22,\22dtype\22:\22f32\22,\22shape\22:[\22batch\22,2,\22seq\22,16]},{\22name\22:\22padding\22,\22dtype\22:\22bool\22,\22shape\22:[\22batch\22,1,1,\22total\22]}],\22outputs\22:[]}"} {
func.func @past_window(%q: tensor<?x2x?x16xf32>, %pk: tensor<?x2x?x16xf32>, %nk: tensor<?x2x?x16xf32>, %pv: tensor<?x2x?x16xf32>, %nv: tensor<?x2x?x16xf32>, %pad: tensor<?x1x1x?xi1>) -> tensor<?x2x?x16xf32> {
  %e0 = arith.constant dense<> : tensor<0xi64>
  %zero = arith.constant dense<0> : tensor<i64>
  %one = arith.constant dense<1> : tensor<i64>
  %w = arith.constant dense<4> : tensor<i64>
  %rq = arith.constant dense<[1, 1, -1, 1]> : tensor<4xi64>
  %rk = arith.constant dense<[1, 1, 1, -1]> : tensor<4xi64>
  %f0 = arith.constant dense<0.0> : tensor<f32>
  %fmin = arith.constant dense<-3.40282347E+38> : tensor<f32>
  %scale = arith.constant dense<0.25> : tensor<f32>
  %s1 = attn.shape %q {end = 3 : i64, start = 2 : i64} : tensor<?x2x?x16xf32> -> tensor<1xi64>
  %seq = attn.reshape %s1, %e0 {allowzero} : tensor<1xi64>, tensor<0xi64> -> tensor<i64>
  %p1 = attn.shape %pv {end = 3 : i64, start = 2 : i64} : tensor<?x2x?x16xf32> -> tensor<1xi64>
  %past = attn.reshape %p1, %e0 {allowzero} : tensor<1xi64>, tensor<0xi64> -> tensor<i64>
  %tot = attn.add %past, %seq : tensor<i64>, tensor<i64> -> tensor<i64>
  %k = attn.concat %pk, %nk {axis = 2 : i64} : tensor<?x2x?x16xf32>, tensor<?x2x?x16xf32> -> tensor<?x2x?x16xf32>
  %v = attn.concat %pv, %nv {axis = 2 : i64} : tensor<?x2x?x16xf32>, tensor<?x2x?x16xf32> -> tensor<?x2x?x16xf32>
  %qr = attn.range %zero, %seq, %one : tensor<i64> -> tensor<?xi64>
  %qp = attn.add %qr, %past : tensor<?xi64>, tensor<i64> -> tensor<?xi64>
  %kr = attn.range %zero, %tot, %one : tensor<i64> -> tensor<?xi64>
  %qp4 = attn.reshape %qp, %rq {allowzero} : tensor<?xi64>, tensor<4xi64> -> tensor<1x1x?x1xi64>
  %kr4 = attn.reshape %kr, %rk {allowzero} : tensor<?xi64>, tensor<4xi64> -> tensor<1x1x1x?xi64>
  %qw = attn.sub %qp4, %w : tensor<1x1x?x1xi64>, tensor<i64> -> tensor<1x1x?x1xi64>
  %gt = attn.cmp gt, %kr4, %qw : tensor<1x1x1x?xi64>, tensor<1x1x?x1xi64> -> tensor<1x1x?x?xi1>
  %le = attn.cmp le, %kr4, %qp4 : tensor<1x1x1x?xi64>, tensor<1x1x?x1xi64> -> tensor<1x1x?x?xi1>
  %band = attn.and %gt, %le : tensor<1x1x?x?xi1>, tensor<1x1x?x?xi1> -> tensor<1x1x?x?xi1>
  %keep = attn.and %band, %pad : tensor<1x1x?x?xi1>, tensor<?x1x1x?xi1> -> tensor<?x1x?x?xi1>
  %mask = attn.select %keep, %f0, %fmin : tensor<?x1x?x?xi1>, tensor<f32>, tensor<f32> -> tensor<?x1x?x?xf32>
  %kt = attn.transpose %k, [0, 1, 3, 2] : tensor<?x2x?x16xf32> -> tensor<?x2x16x?xf32>
  %s = attn.matmul %q, %kt : tensor<?x2x?x16xf32>, tensor<?x2x16x?xf32> -> tensor<?x2x?x?xf32>
  %ss = attn.mul %s, %scale : tensor<?x2x?x?xf32>, tensor<f32> -> tensor<?x2x?x?xf32>
  %sm = attn.add %ss, %mask : tensor<?x2x?x?xf32>, tensor<?x1x?x?xf32> -> tensor<?x2x?x?xf32>
  %p = attn.softmax %sm {axis = 3 : i64} : tensor<?x2x?x?xf32> -> tensor<?x2x?x?xf32>
  %o = attn.matmul %p, %v : tensor<?x2x?x?xf32>, tensor<?x2x?x16xf32> -> tensor<?x2x?x16xf32>
  return %o : tensor<?x2x?x16xf32>
}
}

// -----

// No past, no padding: `Where(k <= q & k > q - 3, 0, -inf)` alone is the top-left causal
// flag with window 3 and no mask operand (the -inf positions are removed: no causal_fill).
// The comparisons in the other order (`q - 3 < k`, `q >= k`) read the same.
// CHECK-LABEL: func @window_no_padding
// CHECK:         attn.attention %arg0, %arg1, %arg2 {causal, mask_kind = #attn.mask_kind<none>, scale = 2.500000e-01 : f64, window = 3 : i64}
// CHECK-NOT:     attn.softmax
module attributes {attn.signature = "{\22inputs\22:[{\22name\22:\22q\22,\22dtype\22:\22f32\22,\22shape\22:[\22batch\22,2,\22seq\22,16]},{\22name\22:\22k\22,\22dtype\22:\22f32\22,\22shape\22:[\22batch\22,2,\22seq\22,16]},{\22name\22:\22v\22,\22dtype\22:\22f32\22,\22shape\22:[\22batch\22,2,\22seq\22,16]}],\22outputs\22:[]}"} {
func.func @window_no_padding(%q: tensor<?x2x?x16xf32>, %k: tensor<?x2x?x16xf32>, %v: tensor<?x2x?x16xf32>) -> tensor<?x2x?x16xf32> {
  %e0 = arith.constant dense<> : tensor<0xi64>
  %zero = arith.constant dense<0> : tensor<i64>
  %one = arith.constant dense<1> : tensor<i64>
  %w = arith.constant dense<3> : tensor<i64>
  %rq = arith.constant dense<[1, 1, -1, 1]> : tensor<4xi64>
  %rk = arith.constant dense<[1, 1, 1, -1]> : tensor<4xi64>
  %f0 = arith.constant dense<0.0> : tensor<f32>
  %ninf = arith.constant dense<0xFF800000> : tensor<f32>
  %scale = arith.constant dense<0.25> : tensor<f32>
  %s1 = attn.shape %q {end = 3 : i64, start = 2 : i64} : tensor<?x2x?x16xf32> -> tensor<1xi64>
  %seq = attn.reshape %s1, %e0 {allowzero} : tensor<1xi64>, tensor<0xi64> -> tensor<i64>
  %r = attn.range %zero, %seq, %one : tensor<i64> -> tensor<?xi64>
  %q4 = attn.reshape %r, %rq {allowzero} : tensor<?xi64>, tensor<4xi64> -> tensor<1x1x?x1xi64>
  %k4 = attn.reshape %r, %rk {allowzero} : tensor<?xi64>, tensor<4xi64> -> tensor<1x1x1x?xi64>
  %qw = attn.sub %q4, %w : tensor<1x1x?x1xi64>, tensor<i64> -> tensor<1x1x?x1xi64>
  %lt = attn.cmp lt, %qw, %k4 : tensor<1x1x?x1xi64>, tensor<1x1x1x?xi64> -> tensor<1x1x?x?xi1>
  %ge = attn.cmp ge, %q4, %k4 : tensor<1x1x?x1xi64>, tensor<1x1x1x?xi64> -> tensor<1x1x?x?xi1>
  %band = attn.and %ge, %lt : tensor<1x1x?x?xi1>, tensor<1x1x?x?xi1> -> tensor<1x1x?x?xi1>
  %mask = attn.select %band, %f0, %ninf : tensor<1x1x?x?xi1>, tensor<f32>, tensor<f32> -> tensor<1x1x?x?xf32>
  %kt = attn.transpose %k, [0, 1, 3, 2] : tensor<?x2x?x16xf32> -> tensor<?x2x16x?xf32>
  %s = attn.matmul %q, %kt : tensor<?x2x?x16xf32>, tensor<?x2x16x?xf32> -> tensor<?x2x?x?xf32>
  %ss = attn.mul %s, %scale : tensor<?x2x?x?xf32>, tensor<f32> -> tensor<?x2x?x?xf32>
  %sm = attn.add %ss, %mask : tensor<?x2x?x?xf32>, tensor<1x1x?x?xf32> -> tensor<?x2x?x?xf32>
  %p = attn.softmax %sm {axis = 3 : i64} : tensor<?x2x?x?xf32> -> tensor<?x2x?x?xf32>
  %o = attn.matmul %p, %v : tensor<?x2x?x?xf32>, tensor<?x2x?x16xf32> -> tensor<?x2x?x16xf32>
  return %o : tensor<?x2x?x16xf32>
}
}

// -----

// Not a window: the band `k > q` and `k <= q` is empty (W would be 0), and a lower bound
// `k > q - T` whose offset is not a constant (T the sequence length) is no window either:
// both masks stay operands.
// CHECK-LABEL: func @not_windows
// CHECK-NOT:     window
// CHECK:         attn.attention {{.*}} mask({{.*}} : tensor<1x1x?x?xf32>) {mask_kind = #attn.mask_kind<additive>, scale = 2.500000e-01 : f64}
// CHECK:         attn.attention {{.*}} mask({{.*}} : tensor<1x1x?x?xf32>) {mask_kind = #attn.mask_kind<additive>, scale = 2.500000e-01 : f64}
// CHECK-NOT:     window
module attributes {attn.signature = "{\22inputs\22:[{\22name\22:\22q\22,\22dtype\22:\22f32\22,\22shape\22:[\22batch\22,2,\22seq\22,16]},{\22name\22:\22k\22,\22dtype\22:\22f32\22,\22shape\22:[\22batch\22,2,\22seq\22,16]},{\22name\22:\22v\22,\22dtype\22:\22f32\22,\22shape\22:[\22batch\22,2,\22seq\22,16]}],\22outputs\22:[]}"} {
func.func @not_windows(%q: tensor<?x2x?x16xf32>, %k: tensor<?x2x?x16xf32>, %v: tensor<?x2x?x16xf32>) -> (tensor<?x2x?x16xf32>, tensor<?x2x?x16xf32>) {
  %e0 = arith.constant dense<> : tensor<0xi64>
  %zero = arith.constant dense<0> : tensor<i64>
  %one = arith.constant dense<1> : tensor<i64>
  %rq = arith.constant dense<[1, 1, -1, 1]> : tensor<4xi64>
  %rk = arith.constant dense<[1, 1, 1, -1]> : tensor<4xi64>
  %f0 = arith.constant dense<0.0> : tensor<f32>
  %ninf = arith.constant dense<0xFF800000> : tensor<f32>
  %scale = arith.constant dense<0.25> : tensor<f32>
  %s1 = attn.shape %q {end = 3 : i64, start = 2 : i64} : tensor<?x2x?x16xf32> -> tensor<1xi64>
  %seq = attn.reshape %s1, %e0 {allowzero} : tensor<1xi64>, tensor<0xi64> -> tensor<i64>
  %r = attn.range %zero, %seq, %one : tensor<i64> -> tensor<?xi64>
  %q4 = attn.reshape %r, %rq {allowzero} : tensor<?xi64>, tensor<4xi64> -> tensor<1x1x?x1xi64>
  %k4 = attn.reshape %r, %rk {allowzero} : tensor<?xi64>, tensor<4xi64> -> tensor<1x1x1x?xi64>
  %le = attn.cmp le, %k4, %q4 : tensor<1x1x1x?xi64>, tensor<1x1x?x1xi64> -> tensor<1x1x?x?xi1>
  %gt0 = attn.cmp gt, %k4, %q4 : tensor<1x1x1x?xi64>, tensor<1x1x?x1xi64> -> tensor<1x1x?x?xi1>
  %empty = attn.and %gt0, %le : tensor<1x1x?x?xi1>, tensor<1x1x?x?xi1> -> tensor<1x1x?x?xi1>
  %m0 = attn.select %empty, %f0, %ninf : tensor<1x1x?x?xi1>, tensor<f32>, tensor<f32> -> tensor<1x1x?x?xf32>
  %qt = attn.sub %q4, %seq : tensor<1x1x?x1xi64>, tensor<i64> -> tensor<1x1x?x1xi64>
  %gtt = attn.cmp gt, %k4, %qt : tensor<1x1x1x?xi64>, tensor<1x1x?x1xi64> -> tensor<1x1x?x?xi1>
  %band = attn.and %gtt, %le : tensor<1x1x?x?xi1>, tensor<1x1x?x?xi1> -> tensor<1x1x?x?xi1>
  %m1 = attn.select %band, %f0, %ninf : tensor<1x1x?x?xi1>, tensor<f32>, tensor<f32> -> tensor<1x1x?x?xf32>
  %kt = attn.transpose %k, [0, 1, 3, 2] : tensor<?x2x?x16xf32> -> tensor<?x2x16x?xf32>
  %s = attn.matmul %q, %kt : tensor<?x2x?x16xf32>, tensor<?x2x16x?xf32> -> tensor<?x2x?x?xf32>
  %ss = attn.mul %s, %scale : tensor<?x2x?x?xf32>, tensor<f32> -> tensor<?x2x?x?xf32>
  %sb = attn.matmul %q, %kt : tensor<?x2x?x16xf32>, tensor<?x2x16x?xf32> -> tensor<?x2x?x?xf32>
  %ssb = attn.mul %sb, %scale : tensor<?x2x?x?xf32>, tensor<f32> -> tensor<?x2x?x?xf32>
  %sm0 = attn.add %ss, %m0 : tensor<?x2x?x?xf32>, tensor<1x1x?x?xf32> -> tensor<?x2x?x?xf32>
  %p0 = attn.softmax %sm0 {axis = 3 : i64} : tensor<?x2x?x?xf32> -> tensor<?x2x?x?xf32>
  %o0 = attn.matmul %p0, %v : tensor<?x2x?x?xf32>, tensor<?x2x?x16xf32> -> tensor<?x2x?x16xf32>
  %sm1 = attn.add %ssb, %m1 : tensor<?x2x?x?xf32>, tensor<1x1x?x?xf32> -> tensor<?x2x?x?xf32>
  %p1 = attn.softmax %sm1 {axis = 3 : i64} : tensor<?x2x?x?xf32> -> tensor<?x2x?x?xf32>
  %o1 = attn.matmul %p1, %v : tensor<?x2x?x?xf32>, tensor<?x2x?x16xf32> -> tensor<?x2x?x16xf32>
  return %o0, %o1 : tensor<?x2x?x16xf32>, tensor<?x2x?x16xf32>
}
}
