// RUN: attn-opt %s -attn-fuse-attention=remarks=false -split-input-file | FileCheck %s
// RUN: attn-opt %s -attn-fuse-attention -split-input-file 2>&1 >/dev/null | FileCheck %s --check-prefix=REMARK
// The masks of Hugging Face transformers 5 exports (masking_utils) and of
// PyTorch's SDPA export, as attn-simplify-masks leaves them: the mask under
// attn.expand broadcasts, GPT-2's `Where(causal & padding, 0, finfo.min)`
// splits into the causal flag (causal_fill = finfo.min: a row whose keys up to
// the diagonal are all padding averages all keys, as PyTorch does) and a
// [B, 1, 1, Sk] padding mask; `Where(IsNaN(p), 0, p)` is nan_to_zero.
// fuse-attention-hf-numerics.test checks the semantics.
// REMARK-COUNT-2: remark: softmax not fused into attn.attention: the softmax result has 3 users
// REMARK: remark: softmax not fused into attn.attention: the key operand of the scores matmul is not a transpose of the key's last two dims
// REMARK-NOT: remark

// BERT (eager): the additive padding mask under two expands.
// CHECK-LABEL: func.func @bert_eager
// CHECK-SAME:    %[[PAD:[^:]*]]: tensor<?x1x1x?xi1>
// CHECK:       %[[M:.*]] = attn.select %[[PAD]], %{{.*}}, %{{.*}} : tensor<?x1x1x?xi1>, tensor<f32>, tensor<f32> -> tensor<?x1x1x?xf32>
// CHECK:       attn.attention %{{.*}}, %{{.*}}, %{{.*}} mask(%[[M]] : tensor<?x1x1x?xf32>) {mask_kind = #attn.mask_kind<additive>, scale = 2.500000e-01 : f64}
// CHECK-NOT:   attn.softmax
func.func @bert_eager(%q: tensor<?x4x?x16xf32>, %k: tensor<?x4x?x16xf32>, %v: tensor<?x4x?x16xf32>,
                      %pad: tensor<?x1x1x?xi1>, %s1: tensor<4xi64>, %s2: tensor<4xi64>) -> tensor<?x4x?x16xf32> {
  %zero = arith.constant dense<0.0> : tensor<f32>
  %min = arith.constant dense<-3.40282347E+38> : tensor<f32>
  %sel = attn.select %pad, %zero, %min : tensor<?x1x1x?xi1>, tensor<f32>, tensor<f32> -> tensor<?x1x1x?xf32>
  %e1 = attn.expand %sel, %s1 : tensor<?x1x1x?xf32>, tensor<4xi64> -> tensor<?x1x?x?xf32>
  %m = attn.expand %e1, %s2 : tensor<?x1x?x?xf32>, tensor<4xi64> -> tensor<?x1x?x?xf32>
  %kt = attn.transpose %k, [0, 1, 3, 2] : tensor<?x4x?x16xf32> -> tensor<?x4x16x?xf32>
  %s = attn.matmul %q, %kt : tensor<?x4x?x16xf32>, tensor<?x4x16x?xf32> -> tensor<?x4x?x?xf32>
  %c = arith.constant dense<0.25> : tensor<f32>
  %ss = attn.mul %s, %c : tensor<?x4x?x?xf32>, tensor<f32> -> tensor<?x4x?x?xf32>
  %sm = attn.add %ss, %m : tensor<?x4x?x?xf32>, tensor<?x1x?x?xf32> -> tensor<?x4x?x?xf32>
  %p = attn.softmax %sm {axis = -1 : i64} : tensor<?x4x?x?xf32> -> tensor<?x4x?x?xf32>
  %o = attn.matmul %p, %v : tensor<?x4x?x?xf32>, tensor<?x4x?x16xf32> -> tensor<?x4x?x16xf32>
  return %o : tensor<?x4x?x16xf32>
}

// -----

// GPT-2 (eager): causal & padding, key and query positions range(0, Sk) and
// range(0, Sq) of the scores' lengths.
// CHECK-LABEL: func.func @gpt2_eager
// CHECK-SAME:    %[[PAD:[^:]*]]: tensor<?x1x1x?xi1>
// CHECK-NOT:   attn.cmp
// CHECK-NOT:   attn.range
// CHECK:       %[[M:.*]] = attn.select %[[PAD]], %{{.*}}, %{{.*}} : tensor<?x1x1x?xi1>, tensor<f32>, tensor<f32> -> tensor<?x1x1x?xf32>
// CHECK-NEXT:  attn.attention %{{.*}}, %{{.*}}, %{{.*}} mask(%[[M]] : tensor<?x1x1x?xf32>) {causal, causal_fill = -3.4028234663852886E+38 : f64, mask_kind = #attn.mask_kind<additive>, scale = 2.500000e-01 : f64}
// CHECK-NEXT:  return
func.func @gpt2_eager(%q: tensor<?x4x?x16xf32>, %k: tensor<?x4x?x16xf32>, %v: tensor<?x4x?x16xf32>,
                      %pad: tensor<?x1x1x?xi1>, %s1: tensor<4xi64>) -> tensor<?x4x?x16xf32> {
  %c0 = arith.constant dense<0> : tensor<i64>
  %c1 = arith.constant dense<1> : tensor<i64>
  %c2 = arith.constant dense<2> : tensor<i64>
  %kshape = arith.constant dense<[1, 1, 1, -1]> : tensor<4xi64>
  %qshape = arith.constant dense<[1, 1, -1, 1]> : tensor<4xi64>
  %shq = attn.shape %q {end = 4 : i64, start = 0 : i64} : tensor<?x4x?x16xf32> -> tensor<4xi64>
  %nq = attn.gather %shq[%c2] {axis = 0 : i64} : tensor<4xi64>, tensor<i64> -> tensor<i64>
  %rq = attn.range %c0, %nq, %c1 : tensor<i64> -> tensor<?xi64>
  %shk = attn.shape %k {end = 4 : i64, start = 0 : i64} : tensor<?x4x?x16xf32> -> tensor<4xi64>
  %nk = attn.gather %shk[%c2] {axis = 0 : i64} : tensor<4xi64>, tensor<i64> -> tensor<i64>
  %rk = attn.range %c0, %nk, %c1 : tensor<i64> -> tensor<?xi64>
  %kpos = attn.reshape %rk, %kshape : tensor<?xi64>, tensor<4xi64> -> tensor<1x1x1x?xi64>
  %qpos = attn.reshape %rq, %qshape : tensor<?xi64>, tensor<4xi64> -> tensor<1x1x?x1xi64>
  %causal = attn.cmp le, %kpos, %qpos : tensor<1x1x1x?xi64>, tensor<1x1x?x1xi64> -> tensor<1x1x?x?xi1>
  %both = attn.and %causal, %pad : tensor<1x1x?x?xi1>, tensor<?x1x1x?xi1> -> tensor<?x1x?x?xi1>
  %zero = arith.constant dense<0.0> : tensor<f32>
  %min = arith.constant dense<-3.40282347E+38> : tensor<f32>
  %sel = attn.select %both, %zero, %min : tensor<?x1x?x?xi1>, tensor<f32>, tensor<f32> -> tensor<?x1x?x?xf32>
  %m = attn.expand %sel, %s1 : tensor<?x1x?x?xf32>, tensor<4xi64> -> tensor<?x1x?x?xf32>
  %kt = attn.transpose %k, [0, 1, 3, 2] : tensor<?x4x?x16xf32> -> tensor<?x4x16x?xf32>
  %s = attn.matmul %q, %kt : tensor<?x4x?x16xf32>, tensor<?x4x16x?xf32> -> tensor<?x4x?x?xf32>
  %c = arith.constant dense<4.0> : tensor<f32>
  %ss = attn.div %s, %c : tensor<?x4x?x?xf32>, tensor<f32> -> tensor<?x4x?x?xf32>
  %sm = attn.add %ss, %m : tensor<?x4x?x?xf32>, tensor<?x1x?x?xf32> -> tensor<?x4x?x?xf32>
  %p = attn.softmax %sm {axis = -1 : i64} : tensor<?x4x?x?xf32> -> tensor<?x4x?x?xf32>
  %o = attn.matmul %p, %v : tensor<?x4x?x?xf32>, tensor<?x4x?x16xf32> -> tensor<?x4x?x16xf32>
  return %o : tensor<?x4x?x16xf32>
}

// -----

// GPT-2 (SDPA export): sqrt(scale) on Q and K, `Where(mask, 0, -inf)` with
// the causal & padding condition (padding first), `Where(IsNaN(p), 0, p)`:
// the causal flag without a fill (masked scores are -inf anyway) and
// nan_to_zero (a fully masked row gives 0, as PyTorch's SDPA does).
// CHECK-LABEL: func.func @gpt2_sdpa
// CHECK-SAME:    %[[PAD:[^:]*]]: tensor<?x1x1x?xi1>
// CHECK:       %[[M:.*]] = attn.select %[[PAD]], %{{.*}}, %{{.*}} : tensor<?x1x1x?xi1>, tensor<1xf32>, tensor<1xf32> -> tensor<?x1x1x?xf32>
// CHECK-NEXT:  attn.attention %{{.*}}, %{{.*}}, %{{.*}} mask(%[[M]] : tensor<?x1x1x?xf32>) {causal, mask_kind = #attn.mask_kind<additive>, nan_to_zero, scale = 2.500000e-01 : f64}
// CHECK-NEXT:  return
func.func @gpt2_sdpa(%q: tensor<?x4x?x16xf32>, %k: tensor<?x4x?x16xf32>, %v: tensor<?x4x?x16xf32>,
                     %pad: tensor<?x1x1x?xi1>, %s1: tensor<4xi64>) -> tensor<?x4x?x16xf32> {
  %c0 = arith.constant dense<0> : tensor<i64>
  %c1 = arith.constant dense<1> : tensor<i64>
  %c2 = arith.constant dense<2> : tensor<i64>
  %kshape = arith.constant dense<[1, 1, 1, -1]> : tensor<4xi64>
  %qshape = arith.constant dense<[1, 1, -1, 1]> : tensor<4xi64>
  %shk = attn.shape %k {end = 4 : i64, start = 0 : i64} : tensor<?x4x?x16xf32> -> tensor<4xi64>
  %n = attn.gather %shk[%c2] {axis = 0 : i64} : tensor<4xi64>, tensor<i64> -> tensor<i64>
  %r = attn.range %c0, %n, %c1 : tensor<i64> -> tensor<?xi64>
  %kpos = attn.reshape %r, %kshape : tensor<?xi64>, tensor<4xi64> -> tensor<1x1x1x?xi64>
  %shq = attn.shape %q {end = 4 : i64, start = 0 : i64} : tensor<?x4x?x16xf32> -> tensor<4xi64>
  %nq = attn.gather %shq[%c2] {axis = 0 : i64} : tensor<4xi64>, tensor<i64> -> tensor<i64>
  %rq = attn.range %c0, %nq, %c1 : tensor<i64> -> tensor<?xi64>
  %qpos = attn.reshape %rq, %qshape : tensor<?xi64>, tensor<4xi64> -> tensor<1x1x?x1xi64>
  %causal = attn.cmp ge, %qpos, %kpos : tensor<1x1x?x1xi64>, tensor<1x1x1x?xi64> -> tensor<1x1x?x?xi1>
  %both = attn.and %pad, %causal : tensor<?x1x1x?xi1>, tensor<1x1x?x?xi1> -> tensor<?x1x?x?xi1>
  %zero = arith.constant dense<0.0> : tensor<1xf32>
  %ninf = arith.constant dense<0xFF800000> : tensor<1xf32>
  %sel = attn.select %both, %zero, %ninf : tensor<?x1x?x?xi1>, tensor<1xf32>, tensor<1xf32> -> tensor<?x1x?x?xf32>
  %m = attn.expand %sel, %s1 : tensor<?x1x?x?xf32>, tensor<4xi64> -> tensor<?x1x?x?xf32>
  %half = arith.constant dense<0.5> : tensor<f32>
  %qs = attn.mul %q, %half : tensor<?x4x?x16xf32>, tensor<f32> -> tensor<?x4x?x16xf32>
  %kt = attn.transpose %k, [0, 1, 3, 2] : tensor<?x4x?x16xf32> -> tensor<?x4x16x?xf32>
  %kts = attn.mul %kt, %half : tensor<?x4x16x?xf32>, tensor<f32> -> tensor<?x4x16x?xf32>
  %s = attn.matmul %qs, %kts : tensor<?x4x?x16xf32>, tensor<?x4x16x?xf32> -> tensor<?x4x?x?xf32>
  %sm = attn.add %s, %m : tensor<?x4x?x?xf32>, tensor<?x1x?x?xf32> -> tensor<?x4x?x?xf32>
  %p = attn.softmax %sm {axis = 3 : i64} : tensor<?x4x?x?xf32> -> tensor<?x4x?x?xf32>
  %isnan = attn.cmp ne, %p, %p : tensor<?x4x?x?xf32>, tensor<?x4x?x?xf32> -> tensor<?x4x?x?xi1>
  %pz = attn.select %isnan, %zero, %p : tensor<?x4x?x?xi1>, tensor<1xf32>, tensor<?x4x?x?xf32> -> tensor<?x4x?x?xf32>
  %o = attn.matmul %pz, %v : tensor<?x4x?x?xf32>, tensor<?x4x?x16xf32> -> tensor<?x4x?x16xf32>
  return %o : tensor<?x4x?x16xf32>
}

// -----

// BERT (SDPA export): padding only, -inf, nan_to_zero (an item whose keys
// are all padding gives 0).
// CHECK-LABEL: func.func @bert_sdpa
// CHECK-SAME:    %[[PAD:[^:]*]]: tensor<?x1x1x?xi1>
// CHECK:       %[[M:.*]] = attn.select %[[PAD]], %{{.*}}, %{{.*}} : tensor<?x1x1x?xi1>, tensor<f32>, tensor<f32> -> tensor<?x1x1x?xf32>
// CHECK-NEXT:  attn.attention %{{.*}}, %{{.*}}, %{{.*}} mask(%[[M]] : tensor<?x1x1x?xf32>) {mask_kind = #attn.mask_kind<additive>, nan_to_zero, scale = 2.500000e-01 : f64}
func.func @bert_sdpa(%q: tensor<?x4x?x16xf32>, %k: tensor<?x4x?x16xf32>, %v: tensor<?x4x?x16xf32>,
                     %pad: tensor<?x1x1x?xi1>, %s1: tensor<4xi64>) -> tensor<?x4x?x16xf32> {
  %zero = arith.constant dense<0.0> : tensor<f32>
  %ninf = arith.constant dense<0xFF800000> : tensor<f32>
  %sel = attn.select %pad, %zero, %ninf : tensor<?x1x1x?xi1>, tensor<f32>, tensor<f32> -> tensor<?x1x1x?xf32>
  %m = attn.expand %sel, %s1 : tensor<?x1x1x?xf32>, tensor<4xi64> -> tensor<?x1x?x?xf32>
  %kt = attn.transpose %k, [0, 1, 3, 2] : tensor<?x4x?x16xf32> -> tensor<?x4x16x?xf32>
  %s = attn.matmul %q, %kt : tensor<?x4x?x16xf32>, tensor<?x4x16x?xf32> -> tensor<?x4x?x?xf32>
  %c = arith.constant dense<0.25> : tensor<f32>
  %ss = attn.mul %s, %c : tensor<?x4x?x?xf32>, tensor<f32> -> tensor<?x4x?x?xf32>
  %sm = attn.add %m, %ss : tensor<?x1x?x?xf32>, tensor<?x4x?x?xf32> -> tensor<?x4x?x?xf32>
  %p = attn.softmax %sm {axis = -1 : i64} : tensor<?x4x?x?xf32> -> tensor<?x4x?x?xf32>
  %isnan = attn.cmp ne, %p, %p : tensor<?x4x?x?xf32>, tensor<?x4x?x?xf32> -> tensor<?x4x?x?xi1>
  %pz = attn.select %isnan, %zero, %p : tensor<?x4x?x?xi1>, tensor<f32>, tensor<?x4x?x?xf32> -> tensor<?x4x?x?xf32>
  %o = attn.matmul %pz, %v : tensor<?x4x?x?xf32>, tensor<?x4x?x16xf32> -> tensor<?x4x?x16xf32>
  return %o : tensor<?x4x?x16xf32>
}

// -----

// The key positions come from the padding mask's length, the query positions
// from the hidden states' (GPT-2 eager, TorchScript export): equal because
// both dims are named "seq" in the model's signature (the runtime rejects
// inputs where they differ). The fill form `Where(causal & padding, s, min)`
// before a scale: fill_if_zero on the padding, causal_fill = min * 0.25.
// CHECK-LABEL: func.func @main_graph
// CHECK-SAME:    %[[PAD:[^:]*]]: tensor<?x?xi1>
// CHECK:       %[[P4:.*]] = attn.reshape %[[PAD]]
// CHECK:       attn.attention %{{.*}}, %{{.*}}, %{{.*}} mask(%[[P4]] : tensor<?x1x1x?xi1>) {causal, causal_fill = -8.5070586659632215E+37 : f64, fill_value = -3.4028234663852886E+38 : f64, mask_first, mask_kind = #attn.mask_kind<fill_if_zero>, scale = 2.500000e-01 : f64}
module attributes {attn.signature = "{\22inputs\22:[{\22name\22:\22x\22,\22dtype\22:\22f32\22,\22shape\22:[\22batch\22,\22seq\22,64]},{\22name\22:\22attention_mask\22,\22dtype\22:\22bool\22,\22shape\22:[\22batch\22,\22seq\22]}],\22outputs\22:[]}"} {
func.func @main_graph(%x: tensor<?x?x64xf32>, %pad: tensor<?x?xi1>) -> tensor<?x?x4x16xf32> {
  %c0 = arith.constant dense<0> : tensor<i64>
  %c1 = arith.constant dense<1> : tensor<i64>
  %kshape = arith.constant dense<[1, 1, 1, -1]> : tensor<4xi64>
  %qshape = arith.constant dense<[1, 1, -1, 1]> : tensor<4xi64>
  %hshape = arith.constant dense<[0, 0, 4, 16]> : tensor<4xi64>
  %pshape = arith.constant dense<[0, 1, 1, -1]> : tensor<4xi64>
  %shp = attn.shape %pad {end = 2 : i64, start = 0 : i64} : tensor<?x?xi1> -> tensor<2xi64>
  %nk = attn.gather %shp[%c1] {axis = 0 : i64} : tensor<2xi64>, tensor<i64> -> tensor<i64>
  %rk = attn.range %c0, %nk, %c1 : tensor<i64> -> tensor<?xi64>
  %kpos = attn.reshape %rk, %kshape : tensor<?xi64>, tensor<4xi64> -> tensor<1x1x1x?xi64>
  %shx = attn.shape %x {end = 3 : i64, start = 0 : i64} : tensor<?x?x64xf32> -> tensor<3xi64>
  %nq = attn.gather %shx[%c1] {axis = 0 : i64} : tensor<3xi64>, tensor<i64> -> tensor<i64>
  %rq = attn.range %c0, %nq, %c1 : tensor<i64> -> tensor<?xi64>
  %qpos = attn.reshape %rq, %qshape : tensor<?xi64>, tensor<4xi64> -> tensor<1x1x?x1xi64>
  %causal = attn.cmp le, %kpos, %qpos : tensor<1x1x1x?xi64>, tensor<1x1x?x1xi64> -> tensor<1x1x?x?xi1>
  %p4 = attn.reshape %pad, %pshape : tensor<?x?xi1>, tensor<4xi64> -> tensor<?x1x1x?xi1>
  %both = attn.and %causal, %p4 : tensor<1x1x?x?xi1>, tensor<?x1x1x?xi1> -> tensor<?x1x?x?xi1>
  %h = attn.reshape %x, %hshape : tensor<?x?x64xf32>, tensor<4xi64> -> tensor<?x?x4x16xf32>
  %q = attn.transpose %h, [0, 2, 1, 3] : tensor<?x?x4x16xf32> -> tensor<?x4x?x16xf32>
  %kt = attn.transpose %h, [0, 2, 3, 1] : tensor<?x?x4x16xf32> -> tensor<?x4x16x?xf32>
  %s = attn.matmul %q, %kt : tensor<?x4x?x16xf32>, tensor<?x4x16x?xf32> -> tensor<?x4x?x?xf32>
  %min = arith.constant dense<-3.40282347E+38> : tensor<f32>
  %sf = attn.select %both, %s, %min : tensor<?x1x?x?xi1>, tensor<?x4x?x?xf32>, tensor<f32> -> tensor<?x4x?x?xf32>
  %c = arith.constant dense<0.25> : tensor<f32>
  %ss = attn.mul %sf, %c : tensor<?x4x?x?xf32>, tensor<f32> -> tensor<?x4x?x?xf32>
  %p = attn.softmax %ss {axis = -1 : i64} : tensor<?x4x?x?xf32> -> tensor<?x4x?x?xf32>
  %o = attn.matmul %p, %q : tensor<?x4x?x?xf32>, tensor<?x4x?x16xf32> -> tensor<?x4x?x16xf32>
  %out = attn.transpose %o, [0, 2, 1, 3] : tensor<?x4x?x16xf32> -> tensor<?x?x4x16xf32>
  return %out : tensor<?x?x4x16xf32>
}
}

// -----

// Without the signature the two lengths are different symbols: the mask
// stays whole (fused, not causal).
// CHECK-LABEL: func.func @unnamed_lengths
// CHECK:       attn.attention %{{.*}}, %{{.*}}, %{{.*}} mask(%{{.*}} : tensor<?x1x?x?xi1>) {fill_value = -3.4028234663852886E+38 : f64, mask_kind = #attn.mask_kind<fill_if_zero>, scale = 2.500000e-01 : f64}
func.func @unnamed_lengths(%x: tensor<?x?x64xf32>, %pad: tensor<?x?xi1>) -> tensor<?x4x?x16xf32> {
  %c0 = arith.constant dense<0> : tensor<i64>
  %c1 = arith.constant dense<1> : tensor<i64>
  %kshape = arith.constant dense<[1, 1, 1, -1]> : tensor<4xi64>
  %qshape = arith.constant dense<[1, 1, -1, 1]> : tensor<4xi64>
  %hshape = arith.constant dense<[0, 0, 4, 16]> : tensor<4xi64>
  %pshape = arith.constant dense<[0, 1, 1, -1]> : tensor<4xi64>
  %shp = attn.shape %pad {end = 2 : i64, start = 0 : i64} : tensor<?x?xi1> -> tensor<2xi64>
  %nk = attn.gather %shp[%c1] {axis = 0 : i64} : tensor<2xi64>, tensor<i64> -> tensor<i64>
  %rk = attn.range %c0, %nk, %c1 : tensor<i64> -> tensor<?xi64>
  %kpos = attn.reshape %rk, %kshape : tensor<?xi64>, tensor<4xi64> -> tensor<1x1x1x?xi64>
  %shx = attn.shape %x {end = 3 : i64, start = 0 : i64} : tensor<?x?x64xf32> -> tensor<3xi64>
  %nq = attn.gather %shx[%c1] {axis = 0 : i64} : tensor<3xi64>, tensor<i64> -> tensor<i64>
  %rq = attn.range %c0, %nq, %c1 : tensor<i64> -> tensor<?xi64>
  %qpos = attn.reshape %rq, %qshape : tensor<?xi64>, tensor<4xi64> -> tensor<1x1x?x1xi64>
  %causal = attn.cmp le, %kpos, %qpos : tensor<1x1x1x?xi64>, tensor<1x1x?x1xi64> -> tensor<1x1x?x?xi1>
  %p4 = attn.reshape %pad, %pshape : tensor<?x?xi1>, tensor<4xi64> -> tensor<?x1x1x?xi1>
  %both = attn.and %causal, %p4 : tensor<1x1x?x?xi1>, tensor<?x1x1x?xi1> -> tensor<?x1x?x?xi1>
  %h = attn.reshape %x, %hshape : tensor<?x?x64xf32>, tensor<4xi64> -> tensor<?x?x4x16xf32>
  %q = attn.transpose %h, [0, 2, 1, 3] : tensor<?x?x4x16xf32> -> tensor<?x4x?x16xf32>
  %kt = attn.transpose %h, [0, 2, 3, 1] : tensor<?x?x4x16xf32> -> tensor<?x4x16x?xf32>
  %s = attn.matmul %q, %kt : tensor<?x4x?x16xf32>, tensor<?x4x16x?xf32> -> tensor<?x4x?x?xf32>
  %min = arith.constant dense<-3.40282347E+38> : tensor<f32>
  %c = arith.constant dense<0.25> : tensor<f32>
  %ss = attn.mul %s, %c : tensor<?x4x?x?xf32>, tensor<f32> -> tensor<?x4x?x?xf32>
  %sf = attn.select %both, %ss, %min : tensor<?x1x?x?xi1>, tensor<?x4x?x?xf32>, tensor<f32> -> tensor<?x4x?x?xf32>
  %p = attn.softmax %sf {axis = -1 : i64} : tensor<?x4x?x?xf32> -> tensor<?x4x?x?xf32>
  %o = attn.matmul %p, %q : tensor<?x4x?x?xf32>, tensor<?x4x?x16xf32> -> tensor<?x4x?x16xf32>
  return %o : tensor<?x4x?x16xf32>
}

// -----

// A masked value that does not absorb the scores (-1e4: s - 1e4 is not -1e4)
// and a padding mask that depends on the query position keep the whole mask:
// fused, not causal.
// CHECK-LABEL: func.func @no_split
// CHECK:       attn.attention %{{.*}}, %{{.*}}, %{{.*}} mask(%{{.*}} : tensor<?x1x?x?xf32>) {mask_kind = #attn.mask_kind<additive>, scale = 2.500000e-01 : f64}
// CHECK:       attn.attention %{{.*}}, %{{.*}}, %{{.*}} mask(%{{.*}} : tensor<?x1x?x?xf32>) {mask_kind = #attn.mask_kind<additive>, scale = 2.500000e-01 : f64}
// CHECK-NOT:   causal
func.func @no_split(%q: tensor<?x4x?x16xf32>, %k: tensor<?x4x?x16xf32>, %v: tensor<?x4x?x16xf32>,
                    %pad: tensor<?x1x1x?xi1>, %qpad: tensor<?x1x?x?xi1>) -> (tensor<?x4x?x16xf32>, tensor<?x4x?x16xf32>) {
  %c0 = arith.constant dense<0> : tensor<i64>
  %c1 = arith.constant dense<1> : tensor<i64>
  %c2 = arith.constant dense<2> : tensor<i64>
  %kshape = arith.constant dense<[1, 1, 1, -1]> : tensor<4xi64>
  %qshape = arith.constant dense<[1, 1, -1, 1]> : tensor<4xi64>
  %shq = attn.shape %q {end = 4 : i64, start = 0 : i64} : tensor<?x4x?x16xf32> -> tensor<4xi64>
  %nq = attn.gather %shq[%c2] {axis = 0 : i64} : tensor<4xi64>, tensor<i64> -> tensor<i64>
  %rq = attn.range %c0, %nq, %c1 : tensor<i64> -> tensor<?xi64>
  %shk = attn.shape %k {end = 4 : i64, start = 0 : i64} : tensor<?x4x?x16xf32> -> tensor<4xi64>
  %nk = attn.gather %shk[%c2] {axis = 0 : i64} : tensor<4xi64>, tensor<i64> -> tensor<i64>
  %rk = attn.range %c0, %nk, %c1 : tensor<i64> -> tensor<?xi64>
  %kpos = attn.reshape %rk, %kshape : tensor<?xi64>, tensor<4xi64> -> tensor<1x1x1x?xi64>
  %qpos = attn.reshape %rq, %qshape : tensor<?xi64>, tensor<4xi64> -> tensor<1x1x?x1xi64>
  %causal = attn.cmp le, %kpos, %qpos : tensor<1x1x1x?xi64>, tensor<1x1x?x1xi64> -> tensor<1x1x?x?xi1>
  %zero = arith.constant dense<0.0> : tensor<f32>
  %low = arith.constant dense<-1.0e4> : tensor<f32>
  %min = arith.constant dense<-3.40282347E+38> : tensor<f32>
  %kt = attn.transpose %k, [0, 1, 3, 2] : tensor<?x4x?x16xf32> -> tensor<?x4x16x?xf32>
  %c = arith.constant dense<0.25> : tensor<f32>

  %both = attn.and %causal, %pad : tensor<1x1x?x?xi1>, tensor<?x1x1x?xi1> -> tensor<?x1x?x?xi1>
  %m1 = attn.select %both, %zero, %low : tensor<?x1x?x?xi1>, tensor<f32>, tensor<f32> -> tensor<?x1x?x?xf32>
  %s1 = attn.matmul %q, %kt : tensor<?x4x?x16xf32>, tensor<?x4x16x?xf32> -> tensor<?x4x?x?xf32>
  %ss1 = attn.mul %s1, %c : tensor<?x4x?x?xf32>, tensor<f32> -> tensor<?x4x?x?xf32>
  %sm1 = attn.add %ss1, %m1 : tensor<?x4x?x?xf32>, tensor<?x1x?x?xf32> -> tensor<?x4x?x?xf32>
  %p1 = attn.softmax %sm1 {axis = -1 : i64} : tensor<?x4x?x?xf32> -> tensor<?x4x?x?xf32>
  %o1 = attn.matmul %p1, %v : tensor<?x4x?x?xf32>, tensor<?x4x?x16xf32> -> tensor<?x4x?x16xf32>

  %qboth = attn.and %causal, %qpad : tensor<1x1x?x?xi1>, tensor<?x1x?x?xi1> -> tensor<?x1x?x?xi1>
  %m2 = attn.select %qboth, %zero, %min : tensor<?x1x?x?xi1>, tensor<f32>, tensor<f32> -> tensor<?x1x?x?xf32>
  %s2 = attn.matmul %q, %kt : tensor<?x4x?x16xf32>, tensor<?x4x16x?xf32> -> tensor<?x4x?x?xf32>
  %ss2 = attn.mul %s2, %c : tensor<?x4x?x?xf32>, tensor<f32> -> tensor<?x4x?x?xf32>
  %sm2 = attn.add %ss2, %m2 : tensor<?x4x?x?xf32>, tensor<?x1x?x?xf32> -> tensor<?x4x?x?xf32>
  %p2 = attn.softmax %sm2 {axis = -1 : i64} : tensor<?x4x?x?xf32> -> tensor<?x4x?x?xf32>
  %o2 = attn.matmul %p2, %v : tensor<?x4x?x?xf32>, tensor<?x4x?x16xf32> -> tensor<?x4x?x16xf32>
  return %o1, %o2 : tensor<?x4x?x16xf32>, tensor<?x4x?x16xf32>
}

// -----

// Not the SDPA NaN form: the zeroed softmax also feeds a return, or the
// NaN positions get 1 instead of 0. Left exactly as they were.
// CHECK-LABEL: func.func @nan_negative
// CHECK-COUNT-2: attn.softmax
// CHECK-NOT:   attn.attention
func.func @nan_negative(%q: tensor<2x4x8x16xf32>, %k: tensor<2x4x8x16xf32>, %v: tensor<2x4x8x16xf32>)
    -> (tensor<2x4x8x16xf32>, tensor<2x4x8x8xi1>, tensor<2x4x8x16xf32>) {
  %zero = arith.constant dense<0.0> : tensor<f32>
  %one = arith.constant dense<1.0> : tensor<f32>
  %kt = attn.transpose %k, [0, 1, 3, 2] : tensor<2x4x8x16xf32> -> tensor<2x4x16x8xf32>
  %s = attn.matmul %q, %kt : tensor<2x4x8x16xf32>, tensor<2x4x16x8xf32> -> tensor<2x4x8x8xf32>
  %p = attn.softmax %s {axis = -1 : i64} : tensor<2x4x8x8xf32> -> tensor<2x4x8x8xf32>
  %isnan = attn.cmp ne, %p, %p : tensor<2x4x8x8xf32>, tensor<2x4x8x8xf32> -> tensor<2x4x8x8xi1>
  %pz = attn.select %isnan, %zero, %p : tensor<2x4x8x8xi1>, tensor<f32>, tensor<2x4x8x8xf32> -> tensor<2x4x8x8xf32>
  %o = attn.matmul %pz, %v : tensor<2x4x8x8xf32>, tensor<2x4x8x16xf32> -> tensor<2x4x8x16xf32>
  %s2 = attn.matmul %q, %kt : tensor<2x4x8x16xf32>, tensor<2x4x16x8xf32> -> tensor<2x4x8x8xf32>
  %p2 = attn.softmax %s2 {axis = -1 : i64} : tensor<2x4x8x8xf32> -> tensor<2x4x8x8xf32>
  %isnan2 = attn.cmp ne, %p2, %p2 : tensor<2x4x8x8xf32>, tensor<2x4x8x8xf32> -> tensor<2x4x8x8xi1>
  %pz2 = attn.select %isnan2, %one, %p2 : tensor<2x4x8x8xi1>, tensor<f32>, tensor<2x4x8x8xf32> -> tensor<2x4x8x8xf32>
  %o2 = attn.matmul %pz2, %v : tensor<2x4x8x8xf32>, tensor<2x4x8x16xf32> -> tensor<2x4x8x16xf32>
  return %o, %isnan, %o2 : tensor<2x4x8x16xf32>, tensor<2x4x8x8xi1>, tensor<2x4x8x16xf32>
}

// -----

// torch.onnx dynamo's SDPA decomposition transposes K through its batch dims
// flattened: reshape(transpose(reshape(K, [-1, S, D]), [0, 2, 1]),
// shape(K)[0:2] ++ [D, S]) is K^T when the outer reshape restores K's
// leading dims. Swapping them (last case) is not a transpose of K.
// CHECK-LABEL: func.func @dynamo_key
// CHECK:       attn.attention %arg0, %arg1, %arg2 {mask_kind = #attn.mask_kind<none>, nan_to_zero, scale = 2.500000e-01 : f64}
// CHECK-NOT:   attn.softmax
// CHECK-LABEL: func.func @dynamo_key_swapped
// CHECK:       attn.softmax
// CHECK-NOT:   attn.attention
func.func @dynamo_key(%q: tensor<?x?x?x16xf32>, %k: tensor<?x?x?x16xf32>, %v: tensor<?x?x?x16xf32>) -> tensor<?x?x?x16xf32> {
  %c0 = arith.constant dense<0> : tensor<1xi64>
  %c1 = arith.constant dense<1> : tensor<1xi64>
  %c2 = arith.constant dense<2> : tensor<1xi64>
  %cm1 = arith.constant dense<-1> : tensor<1xi64>
  %c16 = arith.constant dense<16> : tensor<1xi64>
  %zero = arith.constant dense<0.0> : tensor<f32>
  %half = arith.constant dense<0.5> : tensor<f32>
  %shk = attn.shape %k {end = 4 : i64, start = 0 : i64} : tensor<?x?x?x16xf32> -> tensor<4xi64>
  %s = attn.slice %shk[%c2 : %cm1, axes %c0, steps %c1] : (tensor<4xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<1xi64>
  %bh = attn.slice %shk[%c0 : %c2, axes %c0, steps %c1] : (tensor<4xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<2xi64>
  %in = attn.concat %cm1, %s, %c16 {axis = 0 : i64} : tensor<1xi64>, tensor<1xi64>, tensor<1xi64> -> tensor<3xi64>
  %k3 = attn.reshape %k, %in : tensor<?x?x?x16xf32>, tensor<3xi64> -> tensor<?x?x16xf32>
  %k3t = attn.transpose %k3, [0, 2, 1] : tensor<?x?x16xf32> -> tensor<?x16x?xf32>
  %out = attn.concat %bh, %c16, %s {axis = 0 : i64} : tensor<2xi64>, tensor<1xi64>, tensor<1xi64> -> tensor<4xi64>
  %kt = attn.reshape %k3t, %out : tensor<?x16x?xf32>, tensor<4xi64> -> tensor<?x?x16x?xf32>
  %qs = attn.mul %q, %half : tensor<?x?x?x16xf32>, tensor<f32> -> tensor<?x?x?x16xf32>
  %kts = attn.mul %kt, %half : tensor<?x?x16x?xf32>, tensor<f32> -> tensor<?x?x16x?xf32>
  %sc = attn.matmul %qs, %kts : tensor<?x?x?x16xf32>, tensor<?x?x16x?xf32> -> tensor<?x?x?x?xf32>
  %p = attn.softmax %sc {axis = 3 : i64} : tensor<?x?x?x?xf32> -> tensor<?x?x?x?xf32>
  %isnan = attn.cmp ne, %p, %p : tensor<?x?x?x?xf32>, tensor<?x?x?x?xf32> -> tensor<?x?x?x?xi1>
  %pz = attn.select %isnan, %zero, %p : tensor<?x?x?x?xi1>, tensor<f32>, tensor<?x?x?x?xf32> -> tensor<?x?x?x?xf32>
  %o = attn.matmul %pz, %v : tensor<?x?x?x?xf32>, tensor<?x?x?x16xf32> -> tensor<?x?x?x16xf32>
  return %o : tensor<?x?x?x16xf32>
}

func.func @dynamo_key_swapped(%q: tensor<?x?x?x16xf32>, %k: tensor<?x?x?x16xf32>, %v: tensor<?x?x?x16xf32>) -> tensor<?x?x?x16xf32> {
  %c0 = arith.constant dense<0> : tensor<1xi64>
  %c1 = arith.constant dense<1> : tensor<1xi64>
  %c2 = arith.constant dense<2> : tensor<1xi64>
  %cm1 = arith.constant dense<-1> : tensor<1xi64>
  %c16 = arith.constant dense<16> : tensor<1xi64>
  %shk = attn.shape %k {end = 4 : i64, start = 0 : i64} : tensor<?x?x?x16xf32> -> tensor<4xi64>
  %s = attn.slice %shk[%c2 : %cm1, axes %c0, steps %c1] : (tensor<4xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<1xi64>
  %b = attn.slice %shk[%c0 : %c1, axes %c0, steps %c1] : (tensor<4xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<1xi64>
  %h = attn.slice %shk[%c1 : %c2, axes %c0, steps %c1] : (tensor<4xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<1xi64>
  %in = attn.concat %cm1, %s, %c16 {axis = 0 : i64} : tensor<1xi64>, tensor<1xi64>, tensor<1xi64> -> tensor<3xi64>
  %k3 = attn.reshape %k, %in : tensor<?x?x?x16xf32>, tensor<3xi64> -> tensor<?x?x16xf32>
  %k3t = attn.transpose %k3, [0, 2, 1] : tensor<?x?x16xf32> -> tensor<?x16x?xf32>
  %out = attn.concat %h, %b, %c16, %s {axis = 0 : i64} : tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64> -> tensor<4xi64>
  %kt = attn.reshape %k3t, %out : tensor<?x16x?xf32>, tensor<4xi64> -> tensor<?x?x16x?xf32>
  %sc = attn.matmul %q, %kt : tensor<?x?x?x16xf32>, tensor<?x?x16x?xf32> -> tensor<?x?x?x?xf32>
  %p = attn.softmax %sc {axis = 3 : i64} : tensor<?x?x?x?xf32> -> tensor<?x?x?x?xf32>
  %o = attn.matmul %p, %v : tensor<?x?x?x?xf32>, tensor<?x?x?x16xf32> -> tensor<?x?x?x16xf32>
  return %o : tensor<?x?x?x16xf32>
}
