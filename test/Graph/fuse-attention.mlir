// RUN: attn-opt %s -attn-fuse-attention=remarks=false -split-input-file | FileCheck %s
// RUN: attn-opt %s -attn-fuse-attention=remarks=false -split-input-file -mlir-print-debuginfo -mlir-print-local-scope | FileCheck %s --check-prefix=LOC
// Remarks: one per unfused softmax (the 21 negative cases below, see
// fuse-attention-remarks.mlir for the reasons), none for fused chains, none
// with remarks=false.
// RUN: attn-opt %s -attn-fuse-attention -split-input-file 2>&1 >/dev/null | FileCheck %s --check-prefix=REMARK
// RUN: attn-opt %s -attn-fuse-attention=remarks=false -split-input-file 2>&1 >/dev/null | FileCheck %s --check-prefix=QUIET --allow-empty
// REMARK-COUNT-21: remark: softmax not fused into attn.attention:
// REMARK-NOT: remark
// QUIET-NOT: remark

// The seed's SelfAttention as the importer produces it from the ONNX export:
// Reshape -> Transpose(0,2,1,3) for Q, K and V, K^T as a second Transpose
// (0,1,3,2), Equal(mask, 0) -> Where(cond, -1e20, energy) -> Div(16) ->
// Softmax(-1) -> MatMul. The mask comes before the scale: mask_first, and the
// fill value is -1e20 rounded to f32, exactly.

// CHECK-LABEL: func.func @seed_static
// CHECK-SAME: (%{{[^:]*}}: tensor<2x10x256xf32>, %{{[^:]*}}: tensor<2x10x256xf32>, %{{[^:]*}}: tensor<2x10x256xf32>, %[[MASK:[^:]*]]: tensor<2x1x1x10xi64>)
// The constants only the chain used are erased; the reshape target stays.
// CHECK-NEXT: arith.constant dense<[2, 10, 8, 32]> : tensor<4xi64>
// CHECK-NOT: arith.constant
// CHECK: %[[V:.*]] = attn.transpose %{{.*}}, [0, 2, 1, 3]
// CHECK: %[[K:.*]] = attn.transpose %{{.*}}, [0, 2, 1, 3]
// CHECK: %[[Q:.*]] = attn.transpose %{{.*}}, [0, 2, 1, 3]
// CHECK-NOT: attn.matmul
// CHECK: %[[ATT:.*]] = attn.attention %[[Q]], %[[K]], %[[V]] mask(%[[MASK]] : tensor<2x1x1x10xi64>)
// CHECK-SAME: fill_value = -1.0000000200408773E+20 : f64, mask_first, mask_kind = #attn.mask_kind<fill_if_zero>, scale = 6.250000e-02 : f64
// CHECK-SAME: : tensor<2x8x10x32xf32>, tensor<2x8x10x32xf32>, tensor<2x8x10x32xf32> -> tensor<2x8x10x32xf32>
// CHECK-NOT: attn.softmax
// CHECK-NOT: attn.select
// CHECK-NOT: attn.cmp
// CHECK-NOT: attn.div
// CHECK: attn.transpose %[[ATT]], [0, 2, 1, 3]
// The fused op carries the locations of all the ops it replaces.
// LOC-LABEL: func.func @seed_static
// LOC: attn.attention {{.*}} loc(fused["/MatMul", "/Where", "/Div", "/Softmax", "/MatMul_1"])
func.func @seed_static(%values: tensor<2x10x256xf32>, %keys: tensor<2x10x256xf32>,
                       %query: tensor<2x10x256xf32>, %mask: tensor<2x1x1x10xi64>)
    -> tensor<2x10x8x32xf32> {
  %shape = arith.constant dense<[2, 10, 8, 32]> : tensor<4xi64>
  %v0 = attn.reshape %values, %shape : tensor<2x10x256xf32>, tensor<4xi64> -> tensor<2x10x8x32xf32> loc("/Reshape")
  %k0 = attn.reshape %keys, %shape : tensor<2x10x256xf32>, tensor<4xi64> -> tensor<2x10x8x32xf32> loc("/Reshape_1")
  %q0 = attn.reshape %query, %shape : tensor<2x10x256xf32>, tensor<4xi64> -> tensor<2x10x8x32xf32> loc("/Reshape_2")
  %v = attn.transpose %v0, [0, 2, 1, 3] : tensor<2x10x8x32xf32> -> tensor<2x8x10x32xf32> loc("/Transpose")
  %k = attn.transpose %k0, [0, 2, 1, 3] : tensor<2x10x8x32xf32> -> tensor<2x8x10x32xf32> loc("/Transpose_1")
  %q = attn.transpose %q0, [0, 2, 1, 3] : tensor<2x10x8x32xf32> -> tensor<2x8x10x32xf32> loc("/Transpose_2")
  %kt = attn.transpose %k, [0, 1, 3, 2] : tensor<2x8x10x32xf32> -> tensor<2x8x32x10xf32> loc("/Transpose_3")
  %energy = attn.matmul %q, %kt : tensor<2x8x10x32xf32>, tensor<2x8x32x10xf32> -> tensor<2x8x10x10xf32> loc("/MatMul")
  %zero = arith.constant dense<0> : tensor<i64> loc("/Constant")
  %cond = attn.cmp eq, %mask, %zero : tensor<2x1x1x10xi64>, tensor<i64> -> tensor<2x1x1x10xi1> loc("/Equal")
  %fill = arith.constant dense<-1.0e20> : tensor<f32> loc("/Constant_1")
  %masked = attn.select %cond, %fill, %energy : tensor<2x1x1x10xi1>, tensor<f32>, tensor<2x8x10x10xf32> -> tensor<2x8x10x10xf32> loc("/Where")
  %sqrt = arith.constant dense<16.0> : tensor<f32> loc("/Constant_2")
  %scaled = attn.div %masked, %sqrt : tensor<2x8x10x10xf32>, tensor<f32> -> tensor<2x8x10x10xf32> loc("/Div")
  %att = attn.softmax %scaled {axis = -1 : i64} : tensor<2x8x10x10xf32> -> tensor<2x8x10x10xf32> loc("/Softmax")
  %out = attn.matmul %att, %v : tensor<2x8x10x10xf32>, tensor<2x8x10x32xf32> -> tensor<2x8x10x32xf32> loc("/MatMul_1")
  %o = attn.transpose %out, [0, 2, 1, 3] : tensor<2x8x10x32xf32> -> tensor<2x10x8x32xf32> loc("/Transpose_4")
  return %o : tensor<2x10x8x32xf32>
}

// -----

// The exporter's peephole fuses the two key transposes into one
// Transpose(0,2,3,1) of the reshaped [N, L, H, D] keys; the key operand
// becomes Transpose(0,2,1,3) of the same value. Softmax axis given as 3.

// CHECK-LABEL: func.func @seed_fused_key_transpose
// CHECK-SAME: (%{{[^:]*}}: tensor<2x10x256xf32>, %[[KIN:[^:]*]]: tensor<2x10x256xf32>,
// CHECK: %[[K0:.*]] = attn.reshape %[[KIN]], %{{.*}} : tensor<2x10x256xf32>, tensor<4xi64> -> tensor<2x10x8x32xf32>
// CHECK: %[[V:.*]] = attn.transpose
// CHECK: %[[Q:.*]] = attn.transpose
// CHECK: %[[K:.*]] = attn.transpose %[[K0]], [0, 2, 1, 3] : tensor<2x10x8x32xf32> -> tensor<2x8x10x32xf32>
// CHECK-NEXT: attn.attention %[[Q]], %[[K]], %[[V]] mask(%{{.*}} : tensor<2x1x1x10xi64>)
// CHECK-SAME: fill_value = -1.0000000200408773E+20 : f64, mask_first, mask_kind = #attn.mask_kind<fill_if_zero>, scale = 6.250000e-02 : f64
// CHECK-NOT: attn.softmax
// The new key transpose takes the location of the transpose it replaces.
// LOC-LABEL: func.func @seed_fused_key_transpose
// LOC: attn.transpose %{{.*}}, [0, 2, 1, 3] : tensor<2x10x8x32xf32> -> tensor<2x8x10x32xf32> loc("/Transpose_3")
func.func @seed_fused_key_transpose(%values: tensor<2x10x256xf32>, %keys: tensor<2x10x256xf32>,
                                    %query: tensor<2x10x256xf32>, %mask: tensor<2x1x1x10xi64>)
    -> tensor<2x8x10x32xf32> {
  %shape = arith.constant dense<[2, 10, 8, 32]> : tensor<4xi64>
  %v0 = attn.reshape %values, %shape : tensor<2x10x256xf32>, tensor<4xi64> -> tensor<2x10x8x32xf32> loc("/Reshape")
  %k0 = attn.reshape %keys, %shape : tensor<2x10x256xf32>, tensor<4xi64> -> tensor<2x10x8x32xf32> loc("/Reshape_1")
  %q0 = attn.reshape %query, %shape : tensor<2x10x256xf32>, tensor<4xi64> -> tensor<2x10x8x32xf32> loc("/Reshape_2")
  %v = attn.transpose %v0, [0, 2, 1, 3] : tensor<2x10x8x32xf32> -> tensor<2x8x10x32xf32> loc("/Transpose")
  %q = attn.transpose %q0, [0, 2, 1, 3] : tensor<2x10x8x32xf32> -> tensor<2x8x10x32xf32> loc("/Transpose_2")
  %kt = attn.transpose %k0, [0, 2, 3, 1] : tensor<2x10x8x32xf32> -> tensor<2x8x32x10xf32> loc("/Transpose_3")
  %energy = attn.matmul %q, %kt : tensor<2x8x10x32xf32>, tensor<2x8x32x10xf32> -> tensor<2x8x10x10xf32>
  %zero = arith.constant dense<0> : tensor<i64>
  %cond = attn.cmp eq, %mask, %zero : tensor<2x1x1x10xi64>, tensor<i64> -> tensor<2x1x1x10xi1>
  %fill = arith.constant dense<-1.0e20> : tensor<f32>
  %masked = attn.select %cond, %fill, %energy : tensor<2x1x1x10xi1>, tensor<f32>, tensor<2x8x10x10xf32> -> tensor<2x8x10x10xf32>
  %sqrt = arith.constant dense<16.0> : tensor<1xf32>
  %scaled = attn.div %masked, %sqrt : tensor<2x8x10x10xf32>, tensor<1xf32> -> tensor<2x8x10x10xf32>
  %att = attn.softmax %scaled {axis = 3 : i64} : tensor<2x8x10x10xf32> -> tensor<2x8x10x10xf32>
  %out = attn.matmul %att, %v : tensor<2x8x10x10xf32>, tensor<2x8x10x32xf32> -> tensor<2x8x10x32xf32>
  return %out : tensor<2x8x10x32xf32>
}

// -----

// The seed with dynamic batch and sequence dims (`?`), the reshape target
// computed at run time, a 1-element (not 0-d) scale constant and a float
// mask compared with 0.0.

// CHECK-LABEL: func.func @seed_dynamic
// CHECK-SAME: %[[MASK:[^:]*]]: tensor<?x1x1x?xf32>
// CHECK: %[[V:.*]] = attn.transpose %{{.*}}, [0, 2, 1, 3] : tensor<?x?x8x32xf32> -> tensor<?x8x?x32xf32>
// CHECK: %[[K:.*]] = attn.transpose %{{.*}}, [0, 2, 1, 3] : tensor<?x?x8x32xf32> -> tensor<?x8x?x32xf32>
// CHECK: %[[Q:.*]] = attn.transpose %{{.*}}, [0, 2, 1, 3] : tensor<?x?x8x32xf32> -> tensor<?x8x?x32xf32>
// CHECK: attn.attention %[[Q]], %[[K]], %[[V]] mask(%[[MASK]] : tensor<?x1x1x?xf32>)
// CHECK-SAME: fill_value = -1.0000000200408773E+20 : f64, mask_first, mask_kind = #attn.mask_kind<fill_if_zero>, scale = 6.250000e-02 : f64
// CHECK-SAME: : tensor<?x8x?x32xf32>, tensor<?x8x?x32xf32>, tensor<?x8x?x32xf32> -> tensor<?x8x?x32xf32>
// CHECK-NOT: attn.softmax
func.func @seed_dynamic(%values: tensor<?x?x256xf32>, %keys: tensor<?x?x256xf32>,
                        %query: tensor<?x?x256xf32>, %mask: tensor<?x1x1x?xf32>,
                        %shape: tensor<4xi64>) -> tensor<?x8x?x32xf32> {
  %v0 = attn.reshape %values, %shape : tensor<?x?x256xf32>, tensor<4xi64> -> tensor<?x?x8x32xf32>
  %k0 = attn.reshape %keys, %shape : tensor<?x?x256xf32>, tensor<4xi64> -> tensor<?x?x8x32xf32>
  %q0 = attn.reshape %query, %shape : tensor<?x?x256xf32>, tensor<4xi64> -> tensor<?x?x8x32xf32>
  %v = attn.transpose %v0, [0, 2, 1, 3] : tensor<?x?x8x32xf32> -> tensor<?x8x?x32xf32> loc("v")
  %k = attn.transpose %k0, [0, 2, 1, 3] : tensor<?x?x8x32xf32> -> tensor<?x8x?x32xf32> loc("k")
  %q = attn.transpose %q0, [0, 2, 1, 3] : tensor<?x?x8x32xf32> -> tensor<?x8x?x32xf32> loc("q")
  %kt = attn.transpose %k, [0, 1, 3, 2] : tensor<?x8x?x32xf32> -> tensor<?x8x32x?xf32>
  %energy = attn.matmul %q, %kt : tensor<?x8x?x32xf32>, tensor<?x8x32x?xf32> -> tensor<?x8x?x?xf32>
  %zero = arith.constant dense<0.0> : tensor<f32>
  %cond = attn.cmp eq, %mask, %zero : tensor<?x1x1x?xf32>, tensor<f32> -> tensor<?x1x1x?xi1>
  %fill = arith.constant dense<-1.0e20> : tensor<f32>
  %masked = attn.select %cond, %fill, %energy : tensor<?x1x1x?xi1>, tensor<f32>, tensor<?x8x?x?xf32> -> tensor<?x8x?x?xf32>
  %sqrt = arith.constant dense<16.0> : tensor<1xf32>
  %scaled = attn.div %masked, %sqrt : tensor<?x8x?x?xf32>, tensor<1xf32> -> tensor<?x8x?x?xf32>
  %att = attn.softmax %scaled {axis = 3 : i64} : tensor<?x8x?x?xf32> -> tensor<?x8x?x?xf32>
  %out = attn.matmul %att, %v : tensor<?x8x?x?xf32>, tensor<?x8x?x32xf32> -> tensor<?x8x?x32xf32>
  return %out : tensor<?x8x?x32xf32>
}

// -----

// Fully dynamic mask rank 4 with dynamic heads; the key transposes fused into
// Transpose(0,2,3,1).

// CHECK-LABEL: func.func @seed_all_dynamic
// CHECK: %[[K:.*]] = attn.transpose %{{.*}}, [0, 2, 1, 3] : tensor<?x?x?x?xf32> -> tensor<?x?x?x?xf32>
// CHECK-NEXT: attn.attention %{{.*}}, %[[K]], %{{.*}} mask(%{{.*}} : tensor<?x?x?x?xi64>)
// CHECK-SAME: mask_first, mask_kind = #attn.mask_kind<fill_if_zero>
func.func @seed_all_dynamic(%q: tensor<?x?x?x?xf32>, %k0: tensor<?x?x?x?xf32>, %v: tensor<?x?x?x?xf32>,
                            %mask: tensor<?x?x?x?xi64>) -> tensor<?x?x?x?xf32> {
  %kt = attn.transpose %k0, [0, 2, 3, 1] : tensor<?x?x?x?xf32> -> tensor<?x?x?x?xf32>
  %energy = attn.matmul %q, %kt : tensor<?x?x?x?xf32>, tensor<?x?x?x?xf32> -> tensor<?x?x?x?xf32>
  %zero = arith.constant dense<0> : tensor<i64>
  %cond = attn.cmp eq, %mask, %zero : tensor<?x?x?x?xi64>, tensor<i64> -> tensor<?x?x?x?xi1>
  %fill = arith.constant dense<-1.0e20> : tensor<f32>
  %masked = attn.select %cond, %fill, %energy : tensor<?x?x?x?xi1>, tensor<f32>, tensor<?x?x?x?xf32> -> tensor<?x?x?x?xf32>
  %sqrt = arith.constant dense<16.0> : tensor<f32>
  %scaled = attn.div %masked, %sqrt : tensor<?x?x?x?xf32>, tensor<f32> -> tensor<?x?x?x?xf32>
  %att = attn.softmax %scaled {axis = -1 : i64} : tensor<?x?x?x?xf32> -> tensor<?x?x?x?xf32>
  %out = attn.matmul %att, %v : tensor<?x?x?x?xf32>, tensor<?x?x?x?xf32> -> tensor<?x?x?x?xf32>
  return %out : tensor<?x?x?x?xf32>
}

// -----

// The seed without a mask (mask=None): scale only.

// CHECK-LABEL: func.func @seed_no_mask
// CHECK: attn.attention %{{.*}}, %{{.*}}, %{{.*}} {mask_kind = #attn.mask_kind<none>, scale = 6.250000e-02 : f64}
// CHECK-NOT: attn.softmax
func.func @seed_no_mask(%q: tensor<2x8x10x32xf32>, %k: tensor<2x8x10x32xf32>, %v: tensor<2x8x10x32xf32>) -> tensor<2x8x10x32xf32> {
  %kt = attn.transpose %k, [0, 1, 3, 2] : tensor<2x8x10x32xf32> -> tensor<2x8x32x10xf32>
  %energy = attn.matmul %q, %kt : tensor<2x8x10x32xf32>, tensor<2x8x32x10xf32> -> tensor<2x8x10x10xf32>
  %sqrt = arith.constant dense<16.0> : tensor<f32>
  %scaled = attn.div %energy, %sqrt : tensor<2x8x10x10xf32>, tensor<f32> -> tensor<2x8x10x10xf32>
  %att = attn.softmax %scaled {axis = -1 : i64} : tensor<2x8x10x10xf32> -> tensor<2x8x10x10xf32>
  %out = attn.matmul %att, %v : tensor<2x8x10x10xf32>, tensor<2x8x10x32xf32> -> tensor<2x8x10x32xf32>
  return %out : tensor<2x8x10x32xf32>
}

// -----

// nn.MultiheadAttention (torch 1.13 export): heads folded into the batch,
// [N*H, L, hd]; q pre-scaled by Mul(1/sqrt(hd)); K^T = Transpose(0,2,1);
// baddbmm(attn_mask, q, k^T) = Add(attn_mask, MatMul) with a float [L, L] mask.

// CHECK-LABEL: func.func @mha_3d
// CHECK-SAME: (%[[Q:[^:]*]]: tensor<?x?x32xf32>, %[[K:[^:]*]]: tensor<?x?x32xf32>, %[[V:[^:]*]]: tensor<?x?x32xf32>, %[[M:[^:]*]]: tensor<?x?xf32>)
// CHECK-NEXT: %[[ATT:.*]] = attn.attention %[[Q]], %[[K]], %[[V]] mask(%[[M]] : tensor<?x?xf32>)
// CHECK-SAME: {mask_kind = #attn.mask_kind<additive>, scale = 0.1767766922712326 : f64}
// CHECK-NEXT: return %[[ATT]]
func.func @mha_3d(%q: tensor<?x?x32xf32>, %k: tensor<?x?x32xf32>, %v: tensor<?x?x32xf32>,
                  %mask: tensor<?x?xf32>) -> tensor<?x?x32xf32> {
  %c = arith.constant dense<0.176776695> : tensor<f32>
  %qs = attn.mul %q, %c : tensor<?x?x32xf32>, tensor<f32> -> tensor<?x?x32xf32>
  %kt = attn.transpose %k, [0, 2, 1] : tensor<?x?x32xf32> -> tensor<?x32x?xf32>
  %s = attn.matmul %qs, %kt : tensor<?x?x32xf32>, tensor<?x32x?xf32> -> tensor<?x?x?xf32>
  %sm = attn.add %mask, %s : tensor<?x?xf32>, tensor<?x?x?xf32> -> tensor<?x?x?xf32>
  %p = attn.softmax %sm {axis = -1 : i64} : tensor<?x?x?xf32> -> tensor<?x?x?xf32>
  %o = attn.matmul %p, %v : tensor<?x?x?xf32>, tensor<?x?x32xf32> -> tensor<?x?x32xf32>
  return %o : tensor<?x?x32xf32>
}

// -----

// The seed's blocks pass (N, seq, embed) into the sequence-first
// nn.MultiheadAttention: static shapes, heads in the batch, no mask.

// CHECK-LABEL: func.func @mha_3d_static_no_mask
// CHECK: attn.attention %{{.*}}, %{{.*}}, %{{.*}} {mask_kind = #attn.mask_kind<none>, scale = 0.1767766922712326 : f64} : tensor<80x2x32xf32>, tensor<80x2x32xf32>, tensor<80x2x32xf32> -> tensor<80x2x32xf32>
func.func @mha_3d_static_no_mask(%q: tensor<80x2x32xf32>, %k: tensor<80x2x32xf32>, %v: tensor<80x2x32xf32>) -> tensor<80x2x32xf32> {
  %c = arith.constant dense<0.176776695> : tensor<1xf32>
  %qs = attn.mul %q, %c : tensor<80x2x32xf32>, tensor<1xf32> -> tensor<80x2x32xf32>
  %kt = attn.transpose %k, [0, 2, 1] : tensor<80x2x32xf32> -> tensor<80x32x2xf32>
  %s = attn.matmul %qs, %kt : tensor<80x2x32xf32>, tensor<80x32x2xf32> -> tensor<80x2x2xf32>
  %p = attn.softmax %s {axis = 2 : i64} : tensor<80x2x2xf32> -> tensor<80x2x2xf32>
  %o = attn.matmul %p, %v : tensor<80x2x2xf32>, tensor<80x2x32xf32> -> tensor<80x2x32xf32>
  return %o : tensor<80x2x32xf32>
}

// -----

// BERT: Div(scores, 8) then Add of the extended [B, 1, 1, S] additive mask.

// CHECK-LABEL: func.func @bert
// CHECK-SAME: %[[M:[^:]*]]: tensor<?x1x1x?xf32>
// CHECK: attn.attention %{{.*}}, %{{.*}}, %{{.*}} mask(%[[M]] : tensor<?x1x1x?xf32>) {mask_kind = #attn.mask_kind<additive>, scale = 1.250000e-01 : f64}
// CHECK-NOT: attn.softmax
func.func @bert(%q: tensor<?x12x?x64xf32>, %k: tensor<?x12x?x64xf32>, %v: tensor<?x12x?x64xf32>,
                %mask: tensor<?x1x1x?xf32>) -> tensor<?x12x?x64xf32> {
  %kt = attn.transpose %k, [0, 1, 3, 2] : tensor<?x12x?x64xf32> -> tensor<?x12x64x?xf32>
  %s = attn.matmul %q, %kt : tensor<?x12x?x64xf32>, tensor<?x12x64x?xf32> -> tensor<?x12x?x?xf32>
  %c = arith.constant dense<8.0> : tensor<f32>
  %ss = attn.div %s, %c : tensor<?x12x?x?xf32>, tensor<f32> -> tensor<?x12x?x?xf32>
  %sm = attn.add %ss, %mask : tensor<?x12x?x?xf32>, tensor<?x1x1x?xf32> -> tensor<?x12x?x?xf32>
  %p = attn.softmax %sm {axis = -1 : i64} : tensor<?x12x?x?xf32> -> tensor<?x12x?x?xf32>
  %o = attn.matmul %p, %v : tensor<?x12x?x?xf32>, tensor<?x12x?x64xf32> -> tensor<?x12x?x64xf32>
  return %o : tensor<?x12x?x64xf32>
}

// -----

// GPT-2: Div by sqrt(64) computed from constants, then
// Where(tril bool constant, scores, finfo.min): causal, no mask operand.

// CHECK-LABEL: func.func @gpt2_causal
// CHECK-NOT: arith.constant
// CHECK: attn.attention %{{.*}}, %{{.*}}, %{{.*}} {causal, mask_kind = #attn.mask_kind<none>, scale = 1.250000e-01 : f64} : tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32> -> tensor<1x2x4x8xf32>
// CHECK-NEXT: return
func.func @gpt2_causal(%q: tensor<1x2x4x8xf32>, %k: tensor<1x2x4x8xf32>, %v: tensor<1x2x4x8xf32>) -> tensor<1x2x4x8xf32> {
  %kt = attn.transpose %k, [0, 1, 3, 2] : tensor<1x2x4x8xf32> -> tensor<1x2x8x4xf32>
  %s = attn.matmul %q, %kt : tensor<1x2x4x8xf32>, tensor<1x2x8x4xf32> -> tensor<1x2x4x4xf32>
  %d = arith.constant dense<64.0> : tensor<f32>
  %sq = attn.sqrt %d : tensor<f32>
  %ss = attn.div %s, %sq : tensor<1x2x4x4xf32>, tensor<f32> -> tensor<1x2x4x4xf32>
  %tril = arith.constant dense<[[[[true, false, false, false], [true, true, false, false],
                                  [true, true, true, false], [true, true, true, true]]]]> : tensor<1x1x4x4xi1>
  %min = arith.constant dense<-3.40282347E+38> : tensor<f32>
  %sm = attn.select %tril, %ss, %min : tensor<1x1x4x4xi1>, tensor<1x2x4x4xf32>, tensor<f32> -> tensor<1x2x4x4xf32>
  %p = attn.softmax %sm {axis = -1 : i64} : tensor<1x2x4x4xf32> -> tensor<1x2x4x4xf32>
  %o = attn.matmul %p, %v : tensor<1x2x4x4xf32>, tensor<1x2x4x8xf32> -> tensor<1x2x4x8xf32>
  return %o : tensor<1x2x4x8xf32>
}

// -----

// GPT-2 with a run-time (sliced) causal mask: Where(mask, scores, fill) keeps
// the scores where the mask is true: fill_if_zero on the mask.

// CHECK-LABEL: func.func @gpt2_runtime_mask
// CHECK-SAME: %[[M:[^:]*]]: tensor<1x1x?x?xi1>
// CHECK: attn.attention %{{.*}}, %{{.*}}, %{{.*}} mask(%[[M]] : tensor<1x1x?x?xi1>)
// CHECK-SAME: {fill_value = -3.4028234663852886E+38 : f64, mask_kind = #attn.mask_kind<fill_if_zero>, scale = 1.250000e-01 : f64}
func.func @gpt2_runtime_mask(%q: tensor<?x12x?x64xf32>, %k: tensor<?x12x?x64xf32>, %v: tensor<?x12x?x64xf32>,
                             %mask: tensor<1x1x?x?xi1>) -> tensor<?x12x?x64xf32> {
  %kt = attn.transpose %k, [0, 1, 3, 2] : tensor<?x12x?x64xf32> -> tensor<?x12x64x?xf32>
  %s = attn.matmul %q, %kt : tensor<?x12x?x64xf32>, tensor<?x12x64x?xf32> -> tensor<?x12x?x?xf32>
  %c = arith.constant dense<8.0> : tensor<f32>
  %ss = attn.div %s, %c : tensor<?x12x?x?xf32>, tensor<f32> -> tensor<?x12x?x?xf32>
  %min = arith.constant dense<-3.40282347E+38> : tensor<f32>
  %sm = attn.select %mask, %ss, %min : tensor<1x1x?x?xi1>, tensor<?x12x?x?xf32>, tensor<f32> -> tensor<?x12x?x?xf32>
  %p = attn.softmax %sm {axis = -1 : i64} : tensor<?x12x?x?xf32> -> tensor<?x12x?x?xf32>
  %o = attn.matmul %p, %v : tensor<?x12x?x?xf32>, tensor<?x12x?x64xf32> -> tensor<?x12x?x64xf32>
  return %o : tensor<?x12x?x64xf32>
}

// -----

// HF GPT-2 with an attention_mask input: Div by sqrt(64), Where(causal tril
// constant, scores, finfo.min), then + the additive padding mask, Softmax,
// Cast to the value dtype (identity here), MatMul. The causal constant becomes
// the flag and the padding mask stays.

// CHECK-LABEL: func.func @gpt2_causal_and_padding
// CHECK-SAME: %[[M:[^:]*]]: tensor<?x1x1x4xf32>
// CHECK-NEXT: attn.attention %{{.*}}, %{{.*}}, %{{.*}} mask(%[[M]] : tensor<?x1x1x4xf32>) {causal, mask_kind = #attn.mask_kind<additive>, scale = 1.250000e-01 : f64}
// CHECK-NEXT: return
func.func @gpt2_causal_and_padding(%q: tensor<?x2x4x64xf32>, %k: tensor<?x2x4x64xf32>, %v: tensor<?x2x4x64xf32>,
                                   %pad: tensor<?x1x1x4xf32>) -> tensor<?x2x4x64xf32> {
  %kt = attn.transpose %k, [0, 1, 3, 2] : tensor<?x2x4x64xf32> -> tensor<?x2x64x4xf32>
  %s = attn.matmul %q, %kt : tensor<?x2x4x64xf32>, tensor<?x2x64x4xf32> -> tensor<?x2x4x4xf32>
  %d = arith.constant dense<8.0> : tensor<f32>
  %ss = attn.div %s, %d : tensor<?x2x4x4xf32>, tensor<f32> -> tensor<?x2x4x4xf32>
  %tril = arith.constant dense<[[[[true, false, false, false], [true, true, false, false],
                                  [true, true, true, false], [true, true, true, true]]]]> : tensor<1x1x4x4xi1>
  %min = arith.constant dense<-3.40282347E+38> : tensor<f32>
  %sc = attn.select %tril, %ss, %min : tensor<1x1x4x4xi1>, tensor<?x2x4x4xf32>, tensor<f32> -> tensor<?x2x4x4xf32>
  %sm = attn.add %sc, %pad : tensor<?x2x4x4xf32>, tensor<?x1x1x4xf32> -> tensor<?x2x4x4xf32>
  %p = attn.softmax %sm {axis = -1 : i64} : tensor<?x2x4x4xf32> -> tensor<?x2x4x4xf32>
  %pc = attn.cast %p : tensor<?x2x4x4xf32> to tensor<?x2x4x4xf32>
  %o = attn.matmul %pc, %v : tensor<?x2x4x4xf32>, tensor<?x2x4x64xf32> -> tensor<?x2x4x64xf32>
  return %o : tensor<?x2x4x64xf32>
}

// -----

// The padding mask first, then the causal Where (select on bool from a cast),
// the scale after both: mask_first for the padding mask, causal flag.

// CHECK-LABEL: func.func @padding_then_causal
// CHECK-SAME: %[[M:[^:]*]]: tensor<2x1x3xf32>
// CHECK-NEXT: attn.attention %{{.*}}, %{{.*}}, %{{.*}} mask(%[[M]] : tensor<2x1x3xf32>) {causal, mask_first, mask_kind = #attn.mask_kind<additive>, scale = 5.000000e-01 : f64}
// CHECK-NEXT: return
func.func @padding_then_causal(%q: tensor<2x3x16xf32>, %k: tensor<2x3x16xf32>, %v: tensor<2x3x16xf32>, %pad: tensor<2x1x3xf32>) -> tensor<2x3x16xf32> {
  %kt = attn.transpose %k, [0, 2, 1] : tensor<2x3x16xf32> -> tensor<2x16x3xf32>
  %s = attn.matmul %q, %kt : tensor<2x3x16xf32>, tensor<2x16x3xf32> -> tensor<2x3x3xf32>
  %s1 = attn.add %pad, %s : tensor<2x1x3xf32>, tensor<2x3x3xf32> -> tensor<2x3x3xf32>
  %tril = arith.constant dense<[[1, 0, 0], [1, 1, 0], [1, 1, 1]]> : tensor<3x3xi64>
  %c = attn.cast %tril : tensor<3x3xi64> to tensor<3x3xi1>
  %ninf = arith.constant dense<-1.0e30> : tensor<f32>
  %s2 = attn.select %c, %s1, %ninf : tensor<3x3xi1>, tensor<2x3x3xf32>, tensor<f32> -> tensor<2x3x3xf32>
  %h = arith.constant dense<2.0> : tensor<f32>
  %s3 = attn.div %s2, %h : tensor<2x3x3xf32>, tensor<f32> -> tensor<2x3x3xf32>
  %p = attn.softmax %s3 {axis = -1 : i64} : tensor<2x3x3xf32> -> tensor<2x3x3xf32>
  %o = attn.matmul %p, %v : tensor<2x3x3xf32>, tensor<2x3x16xf32> -> tensor<2x3x16xf32>
  return %o : tensor<2x3x16xf32>
}

// -----

// torch 2.x scaled_dot_product_attention export: Mul(q, sqrt(scale)) and
// Mul(k^T, sqrt(scale)), sqrt(scale) computed from constants
// (sqrt(1 / sqrt(64))), additive mask. The two f32 factors multiply exactly
// in double.

// CHECK-LABEL: func.func @sdpa
// CHECK-SAME: (%[[Q:[^:]*]]: tensor<2x4x6x64xf32>, %[[K:[^:]*]]: tensor<2x4x6x64xf32>, %[[V:[^:]*]]: tensor<2x4x6x64xf32>, %[[M:[^:]*]]: tensor<2x1x6x6xf32>)
// CHECK-NEXT: attn.attention %[[Q]], %[[K]], %[[V]] mask(%[[M]] : tensor<2x1x6x6xf32>) {mask_kind = #attn.mask_kind<additive>, scale = 0.12499999572143228 : f64}
// CHECK-NEXT: return
func.func @sdpa(%q: tensor<2x4x6x64xf32>, %k: tensor<2x4x6x64xf32>, %v: tensor<2x4x6x64xf32>,
                %mask: tensor<2x1x6x6xf32>) -> tensor<2x4x6x64xf32> {
  %one = arith.constant dense<1.0> : tensor<f32>
  %d = arith.constant dense<64.0> : tensor<f32>
  %sd = attn.sqrt %d : tensor<f32>
  %scale = attn.div %one, %sd : tensor<f32>, tensor<f32> -> tensor<f32>
  %sqrt_scale = attn.sqrt %scale : tensor<f32>
  %qs = attn.mul %q, %sqrt_scale : tensor<2x4x6x64xf32>, tensor<f32> -> tensor<2x4x6x64xf32>
  %kt = attn.transpose %k, [0, 1, 3, 2] : tensor<2x4x6x64xf32> -> tensor<2x4x64x6xf32>
  %kts = attn.mul %kt, %sqrt_scale : tensor<2x4x64x6xf32>, tensor<f32> -> tensor<2x4x64x6xf32>
  %s = attn.matmul %qs, %kts : tensor<2x4x6x64xf32>, tensor<2x4x64x6xf32> -> tensor<2x4x6x6xf32>
  %sm = attn.add %s, %mask : tensor<2x4x6x6xf32>, tensor<2x1x6x6xf32> -> tensor<2x4x6x6xf32>
  %p = attn.softmax %sm {axis = -1 : i64} : tensor<2x4x6x6xf32> -> tensor<2x4x6x6xf32>
  %o = attn.matmul %p, %v : tensor<2x4x6x6xf32>, tensor<2x4x6x64xf32> -> tensor<2x4x6x64xf32>
  return %o : tensor<2x4x6x64xf32>
}

// -----

// SDPA with is_causal=True exported with an additive triu(-inf, 1) constant.

// CHECK-LABEL: func.func @sdpa_causal_additive
// CHECK: attn.attention %{{.*}}, %{{.*}}, %{{.*}} {causal, mask_kind = #attn.mask_kind<none>, scale = 1.250000e-01 : f64}
// CHECK-NOT: arith.constant
func.func @sdpa_causal_additive(%q: tensor<2x4x3x64xf32>, %k: tensor<2x4x3x64xf32>, %v: tensor<2x4x3x64xf32>) -> tensor<2x4x3x64xf32> {
  %c = arith.constant dense<0.125> : tensor<f32>
  %kt = attn.transpose %k, [0, 1, 3, 2] : tensor<2x4x3x64xf32> -> tensor<2x4x64x3xf32>
  %s = attn.matmul %q, %kt : tensor<2x4x3x64xf32>, tensor<2x4x64x3xf32> -> tensor<2x4x3x3xf32>
  %ss = attn.mul %s, %c : tensor<2x4x3x3xf32>, tensor<f32> -> tensor<2x4x3x3xf32>
  %triu = arith.constant dense<[[0.0, 0xFF800000, 0xFF800000], [0.0, 0.0, 0xFF800000], [0.0, 0.0, 0.0]]> : tensor<3x3xf32>
  %sm = attn.add %ss, %triu : tensor<2x4x3x3xf32>, tensor<3x3xf32> -> tensor<2x4x3x3xf32>
  %p = attn.softmax %sm {axis = -1 : i64} : tensor<2x4x3x3xf32> -> tensor<2x4x3x3xf32>
  %o = attn.matmul %p, %v : tensor<2x4x3x3xf32>, tensor<2x4x3x64xf32> -> tensor<2x4x3x64xf32>
  return %o : tensor<2x4x3x64xf32>
}

// -----

// Trilu the exporter did not fold: Trilu(ConstantOfShape([3, 3], -inf), k=1,
// upper) is the additive triu(-inf, 1) mask; Trilu(ConstantOfShape(true),
// lower) used by Where keeps k <= q. Both become the causal flag, and the
// constant ops they were built from are erased.

// CHECK-LABEL: func.func @trilu_causal
// CHECK-NOT: attn.trilu
// CHECK-NOT: attn.constant_of_shape
// CHECK: attn.attention %{{.*}}, %{{.*}}, %{{.*}} {causal, mask_kind = #attn.mask_kind<none>, scale = 1.000000e+00 : f64}
// CHECK-NOT: attn.trilu
// CHECK: attn.attention %{{.*}}, %{{.*}}, %{{.*}} {causal, mask_kind = #attn.mask_kind<none>, scale = 1.000000e+00 : f64}
// CHECK-NOT: attn.trilu
func.func @trilu_causal(%q: tensor<2x3x16xf32>, %k: tensor<2x3x16xf32>, %v: tensor<2x3x16xf32>) -> (tensor<2x3x16xf32>, tensor<2x3x16xf32>) {
  %shape = arith.constant dense<3> : tensor<2xi64>
  %full = attn.constant_of_shape %shape, 0xFF800000 : f32 : tensor<2xi64> -> tensor<3x3xf32>
  %triu = attn.trilu %full {k = 1 : i64, upper = true} : tensor<3x3xf32> -> tensor<3x3xf32>
  %kt = attn.transpose %k, [0, 2, 1] : tensor<2x3x16xf32> -> tensor<2x16x3xf32>
  %s = attn.matmul %q, %kt : tensor<2x3x16xf32>, tensor<2x16x3xf32> -> tensor<2x3x3xf32>
  %sm = attn.add %s, %triu : tensor<2x3x3xf32>, tensor<3x3xf32> -> tensor<2x3x3xf32>
  %p = attn.softmax %sm {axis = -1 : i64} : tensor<2x3x3xf32> -> tensor<2x3x3xf32>
  %o = attn.matmul %p, %v : tensor<2x3x3xf32>, tensor<2x3x16xf32> -> tensor<2x3x16xf32>
  %ones = attn.constant_of_shape %shape, true : tensor<2xi64> -> tensor<3x3xi1>
  %tril = attn.trilu %ones {k = 0 : i64, upper = false} : tensor<3x3xi1> -> tensor<3x3xi1>
  %ninf = arith.constant dense<0xFF800000> : tensor<f32>
  %s2 = attn.matmul %q, %kt : tensor<2x3x16xf32>, tensor<2x16x3xf32> -> tensor<2x3x3xf32>
  %sm2 = attn.select %tril, %s2, %ninf : tensor<3x3xi1>, tensor<2x3x3xf32>, tensor<f32> -> tensor<2x3x3xf32>
  %p2 = attn.softmax %sm2 {axis = -1 : i64} : tensor<2x3x3xf32> -> tensor<2x3x3xf32>
  %o2 = attn.matmul %p2, %v : tensor<2x3x3xf32>, tensor<2x3x16xf32> -> tensor<2x3x16xf32>
  return %o, %o2 : tensor<2x3x16xf32>, tensor<2x3x16xf32>
}

// -----

// nn.MultiheadAttention with trg_mask = triu(full((L, L), -inf), 1) built in
// the graph, static shapes, as torch 1.13 exports it: Trilu of a constant,
// Unsqueeze (reshape to [1, L, L]), baddbmm as Mul(mask, beta=1) +
// Mul(scores, alpha=1). The mask is not a literal constant but its value is
// known: the causal flag.

// CHECK-LABEL: func.func @mha_trilu_static
// CHECK-NOT: attn.trilu
// CHECK: attn.attention %{{.*}}, %{{.*}}, %{{.*}} {causal, mask_kind = #attn.mask_kind<none>, scale = 0.35355339664408242 : f64} : tensor<24x7x8xf32>
// CHECK-NOT: attn.trilu
func.func @mha_trilu_static(%q0: tensor<24x7x8xf32>, %k0: tensor<7x24x8xf32>, %v: tensor<24x7x8xf32>) -> tensor<24x7x8xf32> {
  %ninf = arith.constant dense<0xFF800000> : tensor<7x7xf32>
  %triu = attn.trilu %ninf {k = 1 : i64, upper = true} : tensor<7x7xf32> -> tensor<7x7xf32>
  %shape = arith.constant dense<[1, 7, 7]> : tensor<3xi64>
  %mask = attn.reshape %triu, %shape {allowzero} : tensor<7x7xf32>, tensor<3xi64> -> tensor<1x7x7xf32>
  %sqrt = arith.constant dense<2.82842708> : tensor<f32>
  %q = attn.div %q0, %sqrt : tensor<24x7x8xf32>, tensor<f32> -> tensor<24x7x8xf32>
  %kt = attn.transpose %k0, [1, 2, 0] : tensor<7x24x8xf32> -> tensor<24x8x7xf32>
  %s = attn.matmul %q, %kt : tensor<24x7x8xf32>, tensor<24x8x7xf32> -> tensor<24x7x7xf32>
  %one = arith.constant dense<1.0> : tensor<f32>
  %alpha = attn.mul %s, %one : tensor<24x7x7xf32>, tensor<f32> -> tensor<24x7x7xf32>
  %beta = attn.mul %mask, %one : tensor<1x7x7xf32>, tensor<f32> -> tensor<1x7x7xf32>
  %sm = attn.add %alpha, %beta : tensor<24x7x7xf32>, tensor<1x7x7xf32> -> tensor<24x7x7xf32>
  %p = attn.softmax %sm {axis = 2 : i64} : tensor<24x7x7xf32> -> tensor<24x7x7xf32>
  %o = attn.matmul %p, %v : tensor<24x7x7xf32>, tensor<24x7x8xf32> -> tensor<24x7x8xf32>
  return %o : tensor<24x7x8xf32>
}

// -----

// The same with dynamic shapes: the mask is
// Trilu(ConstantOfShape(concat(L, L), -inf)) with L = Shape(x)[0], reshaped to
// [1, L, L] through Shape ops of its own; the heads are split with a runtime
// Reshape target [L, -1, 8]. The pass proves that the mask's dims are the
// scores' (both are dim 0 of %x) before using the causal flag.

// CHECK-LABEL: func.func @mha_trilu_dynamic
// CHECK-NOT: attn.trilu
// CHECK: attn.attention %{{.*}}, %{{.*}}, %{{.*}} {causal, mask_kind = #attn.mask_kind<none>, scale = 1.000000e+00 : f64}
// CHECK-NOT: attn.trilu
// CHECK-NOT: attn.constant_of_shape
func.func @mha_trilu_dynamic(%x: tensor<?x?x32xf32>) -> tensor<?x?x8xf32> {
  %c0 = arith.constant dense<0> : tensor<i64>
  %c1 = arith.constant dense<1> : tensor<1xi64>
  %c8 = arith.constant dense<8> : tensor<1xi64>
  %cm1 = arith.constant dense<-1> : tensor<1xi64>
  %shape = attn.shape %x {end = 3 : i64, start = 0 : i64} : tensor<?x?x32xf32> -> tensor<3xi64>
  %n = attn.gather %shape[%c0] {axis = 0 : i64} : tensor<3xi64>, tensor<i64> -> tensor<i64>
  %n1 = attn.reshape %n, %c1 {allowzero} : tensor<i64>, tensor<1xi64> -> tensor<1xi64>
  %nn = attn.concat %n1, %n1 {axis = 0 : i64} : tensor<1xi64>, tensor<1xi64> -> tensor<2xi64>
  %full = attn.constant_of_shape %nn, 0xFF800000 : f32 : tensor<2xi64> -> tensor<?x?xf32>
  %triu = attn.trilu %full {k = 1 : i64, upper = true} : tensor<?x?xf32> -> tensor<?x?xf32>
  %r0 = attn.shape %triu {end = 1 : i64, start = 0 : i64} : tensor<?x?xf32> -> tensor<1xi64>
  %r1 = attn.shape %triu {end = 2 : i64, start = 1 : i64} : tensor<?x?xf32> -> tensor<1xi64>
  %ms = attn.concat %c1, %r0, %r1 {axis = 0 : i64} : tensor<1xi64>, tensor<1xi64>, tensor<1xi64> -> tensor<3xi64>
  %mask = attn.reshape %triu, %ms {allowzero} : tensor<?x?xf32>, tensor<3xi64> -> tensor<1x?x?xf32>
  %hs = attn.concat %n1, %cm1, %c8 {axis = 0 : i64} : tensor<1xi64>, tensor<1xi64>, tensor<1xi64> -> tensor<3xi64>
  %xh = attn.reshape %x, %hs : tensor<?x?x32xf32>, tensor<3xi64> -> tensor<?x?x8xf32>
  %q = attn.transpose %xh, [1, 0, 2] : tensor<?x?x8xf32> -> tensor<?x?x8xf32>
  %kt = attn.transpose %xh, [1, 2, 0] : tensor<?x?x8xf32> -> tensor<?x8x?xf32>
  %s = attn.matmul %q, %kt : tensor<?x?x8xf32>, tensor<?x8x?xf32> -> tensor<?x?x?xf32>
  %sm = attn.add %s, %mask : tensor<?x?x?xf32>, tensor<1x?x?xf32> -> tensor<?x?x?xf32>
  %p = attn.softmax %sm {axis = 2 : i64} : tensor<?x?x?xf32> -> tensor<?x?x?xf32>
  %o = attn.matmul %p, %q : tensor<?x?x?xf32>, tensor<?x?x8xf32> -> tensor<?x?x8xf32>
  return %o : tensor<?x?x8xf32>
}

// -----

// A causal mask from positions: pos = Range(0, L), mask = pos[None, :] >
// pos[:, None] (Reshape to [1, -1] and [-1, 1], Greater), made additive with
// Where(mask, -inf, ConstantOfShape(Shape(mask), 0)).

// CHECK-LABEL: func.func @range_causal_dynamic
// CHECK-NOT: attn.range
// CHECK-NOT: attn.cmp
// CHECK: attn.attention %{{.*}}, %{{.*}}, %{{.*}} {causal, mask_kind = #attn.mask_kind<none>, scale = 1.000000e+00 : f64}
func.func @range_causal_dynamic(%x: tensor<?x?x8xf32>) -> tensor<?x?x8xf32> {
  %c0 = arith.constant dense<0> : tensor<i64>
  %c1 = arith.constant dense<1> : tensor<i64>
  %row = arith.constant dense<[1, -1]> : tensor<2xi64>
  %col = arith.constant dense<[-1, 1]> : tensor<2xi64>
  %shape = attn.shape %x {end = 3 : i64, start = 0 : i64} : tensor<?x?x8xf32> -> tensor<3xi64>
  %n = attn.gather %shape[%c1] {axis = 0 : i64} : tensor<3xi64>, tensor<i64> -> tensor<i64>
  %pos = attn.range %c0, %n, %c1 : tensor<i64> -> tensor<?xi64>
  %keys = attn.reshape %pos, %row {allowzero} : tensor<?xi64>, tensor<2xi64> -> tensor<1x?xi64>
  %queries = attn.reshape %pos, %col {allowzero} : tensor<?xi64>, tensor<2xi64> -> tensor<?x1xi64>
  %future = attn.cmp gt, %keys, %queries : tensor<1x?xi64>, tensor<?x1xi64> -> tensor<?x?xi1>
  %ms = attn.shape %future {end = 2 : i64, start = 0 : i64} : tensor<?x?xi1> -> tensor<2xi64>
  %zeros = attn.constant_of_shape %ms, 0.0 : f32 : tensor<2xi64> -> tensor<?x?xf32>
  %ninf = arith.constant dense<0xFF800000> : tensor<f32>
  %mask = attn.select %future, %ninf, %zeros : tensor<?x?xi1>, tensor<f32>, tensor<?x?xf32> -> tensor<?x?xf32>
  %kt = attn.transpose %x, [0, 2, 1] : tensor<?x?x8xf32> -> tensor<?x8x?xf32>
  %s = attn.matmul %x, %kt : tensor<?x?x8xf32>, tensor<?x8x?xf32> -> tensor<?x?x?xf32>
  %sm = attn.add %s, %mask : tensor<?x?x?xf32>, tensor<?x?xf32> -> tensor<?x?x?xf32>
  %p = attn.softmax %sm {axis = -1 : i64} : tensor<?x?x?xf32> -> tensor<?x?x?xf32>
  %o = attn.matmul %p, %x : tensor<?x?x?xf32>, tensor<?x?x8xf32> -> tensor<?x?x8xf32>
  return %o : tensor<?x?x8xf32>
}

// -----

// The same positions, but the mask's length is dim 0 of %x while the scores'
// is dim 1: not provably the scores' shape, so it stays a mask. With
// Less-or-equal (k <= q) and the scores kept where true it is fill_if_zero.

// CHECK-LABEL: func.func @range_mask_other_length
// CHECK: attn.range
// CHECK: attn.attention {{.*}} mask(%{{.*}} : tensor<?x?xi1>) {fill_value = 0xFFF0000000000000 : f64, mask_kind = #attn.mask_kind<fill_if_zero>, scale = 1.000000e+00 : f64}
func.func @range_mask_other_length(%x: tensor<?x?x8xf32>) -> tensor<?x?x8xf32> {
  %c0 = arith.constant dense<0> : tensor<i64>
  %c1 = arith.constant dense<1> : tensor<i64>
  %row = arith.constant dense<[1, -1]> : tensor<2xi64>
  %col = arith.constant dense<[-1, 1]> : tensor<2xi64>
  %shape = attn.shape %x {end = 3 : i64, start = 0 : i64} : tensor<?x?x8xf32> -> tensor<3xi64>
  %n = attn.gather %shape[%c0] {axis = 0 : i64} : tensor<3xi64>, tensor<i64> -> tensor<i64>
  %pos = attn.range %c0, %n, %c1 : tensor<i64> -> tensor<?xi64>
  %keys = attn.reshape %pos, %row {allowzero} : tensor<?xi64>, tensor<2xi64> -> tensor<1x?xi64>
  %queries = attn.reshape %pos, %col {allowzero} : tensor<?xi64>, tensor<2xi64> -> tensor<?x1xi64>
  %keep = attn.cmp le, %keys, %queries : tensor<1x?xi64>, tensor<?x1xi64> -> tensor<?x?xi1>
  %ninf = arith.constant dense<0xFF800000> : tensor<f32>
  %kt = attn.transpose %x, [0, 2, 1] : tensor<?x?x8xf32> -> tensor<?x8x?xf32>
  %s = attn.matmul %x, %kt : tensor<?x?x8xf32>, tensor<?x8x?xf32> -> tensor<?x?x?xf32>
  %sm = attn.select %keep, %s, %ninf : tensor<?x?xi1>, tensor<?x?x?xf32>, tensor<f32> -> tensor<?x?x?xf32>
  %p = attn.softmax %sm {axis = -1 : i64} : tensor<?x?x?xf32> -> tensor<?x?x?xf32>
  %o = attn.matmul %p, %x : tensor<?x?x?xf32>, tensor<?x?x8xf32> -> tensor<?x?x8xf32>
  return %o : tensor<?x?x8xf32>
}

// -----

// Positions compared the other way round, queries first: q >= k keeps the
// key (Where(q >= k, scores, -inf)); static, as a constant-foldable chain.

// CHECK-LABEL: func.func @range_causal_static_swapped
// CHECK: attn.attention %{{.*}}, %{{.*}}, %{{.*}} {causal, mask_kind = #attn.mask_kind<none>, scale = 1.000000e+00 : f64}
func.func @range_causal_static_swapped(%x: tensor<2x5x8xf32>) -> tensor<2x5x8xf32> {
  %c0 = arith.constant dense<0> : tensor<i64>
  %c1 = arith.constant dense<1> : tensor<i64>
  %c5 = arith.constant dense<5> : tensor<i64>
  %row = arith.constant dense<[1, 5]> : tensor<2xi64>
  %col = arith.constant dense<[5, 1]> : tensor<2xi64>
  %pos = attn.range %c0, %c5, %c1 : tensor<i64> -> tensor<5xi64>
  %keys = attn.reshape %pos, %row : tensor<5xi64>, tensor<2xi64> -> tensor<1x5xi64>
  %queries = attn.reshape %pos, %col : tensor<5xi64>, tensor<2xi64> -> tensor<5x1xi64>
  %keep = attn.cmp ge, %queries, %keys : tensor<5x1xi64>, tensor<1x5xi64> -> tensor<5x5xi1>
  %ninf = arith.constant dense<-1.0e9> : tensor<f32>
  %kt = attn.transpose %x, [0, 2, 1] : tensor<2x5x8xf32> -> tensor<2x8x5xf32>
  %s = attn.matmul %x, %kt : tensor<2x5x8xf32>, tensor<2x8x5xf32> -> tensor<2x5x5xf32>
  %sm = attn.select %keep, %s, %ninf : tensor<5x5xi1>, tensor<2x5x5xf32>, tensor<f32> -> tensor<2x5x5xf32>
  %p = attn.softmax %sm {axis = -1 : i64} : tensor<2x5x5xf32> -> tensor<2x5x5xf32>
  %o = attn.matmul %p, %x : tensor<2x5x5xf32>, tensor<2x5x8xf32> -> tensor<2x5x8xf32>
  return %o : tensor<2x5x8xf32>
}

// -----

// Trilu(k=0, upper) also masks the diagonal: not causal, stays a mask.

// CHECK-LABEL: func.func @trilu_diagonal_not_causal
// CHECK: attn.trilu
// CHECK: attn.attention {{.*}} mask(%{{.*}} : tensor<3x3xf32>) {mask_kind = #attn.mask_kind<additive>
func.func @trilu_diagonal_not_causal(%q: tensor<2x3x16xf32>, %k: tensor<2x3x16xf32>, %v: tensor<2x3x16xf32>) -> tensor<2x3x16xf32> {
  %shape = arith.constant dense<3> : tensor<2xi64>
  %full = attn.constant_of_shape %shape, -1.0e9 : f32 : tensor<2xi64> -> tensor<3x3xf32>
  %triu = attn.trilu %full {k = 0 : i64, upper = true} : tensor<3x3xf32> -> tensor<3x3xf32>
  %kt = attn.transpose %k, [0, 2, 1] : tensor<2x3x16xf32> -> tensor<2x16x3xf32>
  %s = attn.matmul %q, %kt : tensor<2x3x16xf32>, tensor<2x16x3xf32> -> tensor<2x3x3xf32>
  %sm = attn.add %s, %triu : tensor<2x3x3xf32>, tensor<3x3xf32> -> tensor<2x3x3xf32>
  %p = attn.softmax %sm {axis = -1 : i64} : tensor<2x3x3xf32> -> tensor<2x3x3xf32>
  %o = attn.matmul %p, %v : tensor<2x3x3xf32>, tensor<2x3x16xf32> -> tensor<2x3x16xf32>
  return %o : tensor<2x3x16xf32>
}

// -----

// The seed's masked_fill with a constant lower-triangular i64 mask (the usual
// make_trg_mask): Equal(tril, 0) -> Where(-1e20) -> Div(16): after the scale
// the fill is -6.25e18, so the mask becomes the causal flag.

// CHECK-LABEL: func.func @seed_causal_constant
// CHECK: attn.attention %{{.*}}, %{{.*}}, %{{.*}} {causal, mask_kind = #attn.mask_kind<none>, scale = 6.250000e-02 : f64}
// CHECK-NOT: attn.cmp
func.func @seed_causal_constant(%q: tensor<2x8x3x32xf32>, %k: tensor<2x8x3x32xf32>, %v: tensor<2x8x3x32xf32>) -> tensor<2x8x3x32xf32> {
  %kt = attn.transpose %k, [0, 1, 3, 2] : tensor<2x8x3x32xf32> -> tensor<2x8x32x3xf32>
  %energy = attn.matmul %q, %kt : tensor<2x8x3x32xf32>, tensor<2x8x32x3xf32> -> tensor<2x8x3x3xf32>
  %tril = arith.constant dense<[[[[1, 0, 0], [1, 1, 0], [1, 1, 1]]], [[[1, 0, 0], [1, 1, 0], [1, 1, 1]]]]> : tensor<2x1x3x3xi64>
  %zero = arith.constant dense<0> : tensor<i64>
  %cond = attn.cmp eq, %tril, %zero : tensor<2x1x3x3xi64>, tensor<i64> -> tensor<2x1x3x3xi1>
  %fill = arith.constant dense<-1.0e20> : tensor<f32>
  %masked = attn.select %cond, %fill, %energy : tensor<2x1x3x3xi1>, tensor<f32>, tensor<2x8x3x3xf32> -> tensor<2x8x3x3xf32>
  %sqrt = arith.constant dense<16.0> : tensor<f32>
  %scaled = attn.div %masked, %sqrt : tensor<2x8x3x3xf32>, tensor<f32> -> tensor<2x8x3x3xf32>
  %att = attn.softmax %scaled {axis = -1 : i64} : tensor<2x8x3x3xf32> -> tensor<2x8x3x3xf32>
  %out = attn.matmul %att, %v : tensor<2x8x3x3xf32>, tensor<2x8x3x32xf32> -> tensor<2x8x3x32xf32>
  return %out : tensor<2x8x3x32xf32>
}

// -----

// nn.Transformer-style bool mask, True = masked (masked_fill(mask, -inf)):
// Where(mask, -inf, scores) with a constant triu(diagonal=1): causal.

// CHECK-LABEL: func.func @bool_triu_causal
// CHECK: attn.attention %{{.*}}, %{{.*}}, %{{.*}} {causal, mask_kind = #attn.mask_kind<none>, scale = 1.000000e+00 : f64}
func.func @bool_triu_causal(%q: tensor<4x3x16xf32>, %k: tensor<4x3x16xf32>, %v: tensor<4x3x16xf32>) -> tensor<4x3x16xf32> {
  %kt = attn.transpose %k, [0, 2, 1] : tensor<4x3x16xf32> -> tensor<4x16x3xf32>
  %s = attn.matmul %q, %kt : tensor<4x3x16xf32>, tensor<4x16x3xf32> -> tensor<4x3x3xf32>
  %triu = arith.constant dense<[[false, true, true], [false, false, true], [false, false, false]]> : tensor<3x3xi1>
  %ninf = arith.constant dense<0xFF800000> : tensor<f32>
  %sm = attn.select %triu, %ninf, %s : tensor<3x3xi1>, tensor<f32>, tensor<4x3x3xf32> -> tensor<4x3x3xf32>
  %p = attn.softmax %sm {axis = -1 : i64} : tensor<4x3x3xf32> -> tensor<4x3x3xf32>
  %o = attn.matmul %p, %v : tensor<4x3x3xf32>, tensor<4x3x16xf32> -> tensor<4x3x16xf32>
  return %o : tensor<4x3x16xf32>
}

// -----

// A constant mask that is not top-left causal (diagonal excluded) stays a mask.

// CHECK-LABEL: func.func @strict_tril_not_causal
// CHECK: %[[M:.*]] = arith.constant dense<{{.*}}> : tensor<3x3xi1>
// CHECK: attn.attention %{{.*}}, %{{.*}}, %{{.*}} mask(%[[M]] : tensor<3x3xi1>)
// CHECK-SAME: {fill_value = 0xFFF0000000000000 : f64, mask_kind = #attn.mask_kind<fill_if_zero>, scale = 1.000000e+00 : f64}
// CHECK-NOT: causal
func.func @strict_tril_not_causal(%q: tensor<4x3x16xf32>, %k: tensor<4x3x16xf32>, %v: tensor<4x3x16xf32>) -> tensor<4x3x16xf32> {
  %kt = attn.transpose %k, [0, 2, 1] : tensor<4x3x16xf32> -> tensor<4x16x3xf32>
  %s = attn.matmul %q, %kt : tensor<4x3x16xf32>, tensor<4x16x3xf32> -> tensor<4x3x3xf32>
  %tril = arith.constant dense<[[false, false, false], [true, false, false], [true, true, false]]> : tensor<3x3xi1>
  %ninf = arith.constant dense<0xFF800000> : tensor<f32>
  %sm = attn.select %tril, %s, %ninf : tensor<3x3xi1>, tensor<4x3x3xf32>, tensor<f32> -> tensor<4x3x3xf32>
  %p = attn.softmax %sm {axis = -1 : i64} : tensor<4x3x3xf32> -> tensor<4x3x3xf32>
  %o = attn.matmul %p, %v : tensor<4x3x3xf32>, tensor<4x3x16xf32> -> tensor<4x3x16xf32>
  return %o : tensor<4x3x16xf32>
}

// -----

// Large constants are imported as dense_resource blobs: an additive
// triu(-inf, 1) blob is causal too.

// CHECK-LABEL: func.func @resource_causal
// CHECK: attn.attention %{{.*}}, %{{.*}}, %{{.*}} {causal, mask_kind = #attn.mask_kind<none>, scale = 1.000000e+00 : f64}
func.func @resource_causal(%q: tensor<4x2x16xf32>, %k: tensor<4x2x16xf32>, %v: tensor<4x2x16xf32>) -> tensor<4x2x16xf32> {
  %kt = attn.transpose %k, [0, 2, 1] : tensor<4x2x16xf32> -> tensor<4x16x2xf32>
  %s = attn.matmul %q, %kt : tensor<4x2x16xf32>, tensor<4x16x2xf32> -> tensor<4x2x2xf32>
  %m = arith.constant dense_resource<causal_blob> : tensor<2x2xf32>
  %sm = attn.add %s, %m : tensor<4x2x2xf32>, tensor<2x2xf32> -> tensor<4x2x2xf32>
  %p = attn.softmax %sm {axis = -1 : i64} : tensor<4x2x2xf32> -> tensor<4x2x2xf32>
  %o = attn.matmul %p, %v : tensor<4x2x2xf32>, tensor<4x2x16xf32> -> tensor<4x2x16xf32>
  return %o : tensor<4x2x16xf32>
}

{-#
  dialect_resources: {
    builtin: {
      causal_blob: "0x0400000000000000000080FF0000000000000000"
    }
  }
#-}

// -----

// A bool dense_resource mask that is not causal (the diagonal is masked).

// CHECK-LABEL: func.func @resource_not_causal
// CHECK: attn.attention {{.*}} mask(%{{.*}} : tensor<2x2xi1>) {fill_value = -1.000000e+09 : f64, mask_kind = #attn.mask_kind<fill_if_zero>
func.func @resource_not_causal(%q: tensor<4x2x16xf32>, %k: tensor<4x2x16xf32>, %v: tensor<4x2x16xf32>) -> tensor<4x2x16xf32> {
  %kt = attn.transpose %k, [0, 2, 1] : tensor<4x2x16xf32> -> tensor<4x16x2xf32>
  %s = attn.matmul %q, %kt : tensor<4x2x16xf32>, tensor<4x16x2xf32> -> tensor<4x2x2xf32>
  %m = arith.constant dense_resource<bool_blob> : tensor<2x2xi1>
  %fill = arith.constant dense<-1.0e9> : tensor<f32>
  %sm = attn.select %m, %s, %fill : tensor<2x2xi1>, tensor<4x2x2xf32>, tensor<f32> -> tensor<4x2x2xf32>
  %p = attn.softmax %sm {axis = -1 : i64} : tensor<4x2x2xf32> -> tensor<4x2x2xf32>
  %o = attn.matmul %p, %v : tensor<4x2x2xf32>, tensor<4x2x16xf32> -> tensor<4x2x16xf32>
  return %o : tensor<4x2x16xf32>
}

{-#
  dialect_resources: {
    builtin: {
      bool_blob: "0x0100000000000101"
    }
  }
#-}

// -----

// A causal pattern whose masked entries are only -100 does not give exp() = 0:
// it stays an additive mask.

// CHECK-LABEL: func.func @weak_additive_not_causal
// CHECK: attn.attention %{{.*}}, %{{.*}}, %{{.*}} mask(%{{.*}} : tensor<2x2xf32>) {mask_kind = #attn.mask_kind<additive>, scale = 1.000000e+00 : f64}
// CHECK-NOT: causal
func.func @weak_additive_not_causal(%q: tensor<4x2x16xf32>, %k: tensor<4x2x16xf32>, %v: tensor<4x2x16xf32>) -> tensor<4x2x16xf32> {
  %kt = attn.transpose %k, [0, 2, 1] : tensor<4x2x16xf32> -> tensor<4x16x2xf32>
  %s = attn.matmul %q, %kt : tensor<4x2x16xf32>, tensor<4x16x2xf32> -> tensor<4x2x2xf32>
  %m = arith.constant dense<[[0.0, -100.0], [0.0, 0.0]]> : tensor<2x2xf32>
  %sm = attn.add %s, %m : tensor<4x2x2xf32>, tensor<2x2xf32> -> tensor<4x2x2xf32>
  %p = attn.softmax %sm {axis = -1 : i64} : tensor<4x2x2xf32> -> tensor<4x2x2xf32>
  %o = attn.matmul %p, %v : tensor<4x2x2xf32>, tensor<4x2x16xf32> -> tensor<4x2x16xf32>
  return %o : tensor<4x2x16xf32>
}

// -----

// The HF extended-mask value -10000 is negligible; a causal pattern with it
// becomes the flag. The mask broadcasts over a batch dim of 2 identical slices.

// CHECK-LABEL: func.func @additive_minus_1e4_causal
// CHECK: attn.attention %{{.*}}, %{{.*}}, %{{.*}} {causal, mask_kind = #attn.mask_kind<none>, scale = 1.000000e+00 : f64}
func.func @additive_minus_1e4_causal(%q: tensor<2x2x16xf32>, %k: tensor<2x2x16xf32>, %v: tensor<2x2x16xf32>) -> tensor<2x2x16xf32> {
  %kt = attn.transpose %k, [0, 2, 1] : tensor<2x2x16xf32> -> tensor<2x16x2xf32>
  %s = attn.matmul %q, %kt : tensor<2x2x16xf32>, tensor<2x16x2xf32> -> tensor<2x2x2xf32>
  %m = arith.constant dense<[[[0.0, -10000.0], [0.0, 0.0]], [[0.0, -10000.0], [0.0, 0.0]]]> : tensor<2x2x2xf32>
  %sm = attn.add %m, %s : tensor<2x2x2xf32>, tensor<2x2x2xf32> -> tensor<2x2x2xf32>
  %p = attn.softmax %sm {axis = -1 : i64} : tensor<2x2x2xf32> -> tensor<2x2x2xf32>
  %o = attn.matmul %p, %v : tensor<2x2x2xf32>, tensor<2x2x16xf32> -> tensor<2x2x16xf32>
  return %o : tensor<2x2x16xf32>
}

// -----

// Slices of a broadcast mask that differ: not causal.

// CHECK-LABEL: func.func @slices_differ_not_causal
// CHECK: attn.attention {{.*}} mask(
// CHECK-NOT: causal
func.func @slices_differ_not_causal(%q: tensor<2x2x16xf32>, %k: tensor<2x2x16xf32>, %v: tensor<2x2x16xf32>) -> tensor<2x2x16xf32> {
  %kt = attn.transpose %k, [0, 2, 1] : tensor<2x2x16xf32> -> tensor<2x16x2xf32>
  %s = attn.matmul %q, %kt : tensor<2x2x16xf32>, tensor<2x16x2xf32> -> tensor<2x2x2xf32>
  %m = arith.constant dense<[[[0.0, 0xFF800000], [0.0, 0.0]], [[0.0, 0.0], [0.0, 0.0]]]> : tensor<2x2x2xf32>
  %sm = attn.add %m, %s : tensor<2x2x2xf32>, tensor<2x2x2xf32> -> tensor<2x2x2xf32>
  %p = attn.softmax %sm {axis = -1 : i64} : tensor<2x2x2xf32> -> tensor<2x2x2xf32>
  %o = attn.matmul %p, %v : tensor<2x2x2xf32>, tensor<2x2x16xf32> -> tensor<2x2x16xf32>
  return %o : tensor<2x2x16xf32>
}

// -----

// Select forms. Where(mask, -inf, scores) with a bool mask: fill_if_nonzero.

// CHECK-LABEL: func.func @select_fill_where_true
// CHECK: mask(%{{.*}} : tensor<?x?xi1>) {fill_value = 0xFFF0000000000000 : f64, mask_kind = #attn.mask_kind<fill_if_nonzero>, scale = 1.000000e+00 : f64}
func.func @select_fill_where_true(%q: tensor<?x?x16xf32>, %k: tensor<?x?x16xf32>, %v: tensor<?x?x16xf32>, %m: tensor<?x?xi1>) -> tensor<?x?x16xf32> {
  %kt = attn.transpose %k, [0, 2, 1] : tensor<?x?x16xf32> -> tensor<?x16x?xf32>
  %s = attn.matmul %q, %kt : tensor<?x?x16xf32>, tensor<?x16x?xf32> -> tensor<?x?x?xf32>
  %ninf = arith.constant dense<0xFF800000> : tensor<f32>
  %sm = attn.select %m, %ninf, %s : tensor<?x?xi1>, tensor<f32>, tensor<?x?x?xf32> -> tensor<?x?x?xf32>
  %p = attn.softmax %sm {axis = -1 : i64} : tensor<?x?x?xf32> -> tensor<?x?x?xf32>
  %o = attn.matmul %p, %v : tensor<?x?x?xf32>, tensor<?x?x16xf32> -> tensor<?x?x16xf32>
  return %o : tensor<?x?x16xf32>
}

// -----

// Where(Not(mask), fill, scores): fill_if_zero on the mask.

// CHECK-LABEL: func.func @select_not
// CHECK-SAME: %[[M:[^:]*]]: tensor<?x?xi1>
// CHECK-NOT: attn.not
// CHECK: mask(%[[M]] : tensor<?x?xi1>) {fill_value = -1.000000e+09 : f64, mask_kind = #attn.mask_kind<fill_if_zero>, scale = 1.000000e+00 : f64}
func.func @select_not(%q: tensor<?x?x16xf32>, %k: tensor<?x?x16xf32>, %v: tensor<?x?x16xf32>, %m: tensor<?x?xi1>) -> tensor<?x?x16xf32> {
  %kt = attn.transpose %k, [0, 2, 1] : tensor<?x?x16xf32> -> tensor<?x16x?xf32>
  %s = attn.matmul %q, %kt : tensor<?x?x16xf32>, tensor<?x16x?xf32> -> tensor<?x?x?xf32>
  %nm = attn.not %m : tensor<?x?xi1>
  %fill = arith.constant dense<-1.0e9> : tensor<f32>
  %sm = attn.select %nm, %fill, %s : tensor<?x?xi1>, tensor<f32>, tensor<?x?x?xf32> -> tensor<?x?x?xf32>
  %p = attn.softmax %sm {axis = -1 : i64} : tensor<?x?x?xf32> -> tensor<?x?x?xf32>
  %o = attn.matmul %p, %v : tensor<?x?x?xf32>, tensor<?x?x16xf32> -> tensor<?x?x16xf32>
  return %o : tensor<?x?x16xf32>
}

// -----

// Where(Equal(m, 0), scores, fill) keeps the scores where m == 0:
// fill_if_nonzero on m.

// CHECK-LABEL: func.func @select_keep_where_zero
// CHECK-SAME: %[[M:[^:]*]]: tensor<?x1x?xi32>
// CHECK: mask(%[[M]] : tensor<?x1x?xi32>) {fill_value = -1.000000e+04 : f64, mask_kind = #attn.mask_kind<fill_if_nonzero>, scale = 1.000000e+00 : f64}
func.func @select_keep_where_zero(%q: tensor<?x?x16xf32>, %k: tensor<?x?x16xf32>, %v: tensor<?x?x16xf32>, %m: tensor<?x1x?xi32>) -> tensor<?x?x16xf32> {
  %kt = attn.transpose %k, [0, 2, 1] : tensor<?x?x16xf32> -> tensor<?x16x?xf32>
  %s = attn.matmul %q, %kt : tensor<?x?x16xf32>, tensor<?x16x?xf32> -> tensor<?x?x?xf32>
  %zero = arith.constant dense<0> : tensor<1xi32>
  %c = attn.cmp eq, %zero, %m : tensor<1xi32>, tensor<?x1x?xi32> -> tensor<?x1x?xi1>
  %fill = arith.constant dense<-1.0e4> : tensor<f32>
  %sm = attn.select %c, %s, %fill : tensor<?x1x?xi1>, tensor<?x?x?xf32>, tensor<f32> -> tensor<?x?x?xf32>
  %p = attn.softmax %sm {axis = -1 : i64} : tensor<?x?x?xf32> -> tensor<?x?x?xf32>
  %o = attn.matmul %p, %v : tensor<?x?x?xf32>, tensor<?x?x16xf32> -> tensor<?x?x16xf32>
  return %o : tensor<?x?x16xf32>
}

// -----

// Where(m != 0, fill, scores): fill_if_nonzero on m; the cmp has another
// user and stays.

// CHECK-LABEL: func.func @select_ne_shared_condition
// CHECK-SAME: %[[M:[^:]*]]: tensor<?x?xf32>
// CHECK: %[[C:.*]] = attn.cmp ne
// CHECK: attn.attention {{.*}} mask(%[[M]] : tensor<?x?xf32>) {fill_value = -1.000000e+09 : f64, mask_kind = #attn.mask_kind<fill_if_nonzero>, scale = 1.000000e+00 : f64}
// CHECK: return %{{.*}}, %[[C]]
func.func @select_ne_shared_condition(%q: tensor<?x?x16xf32>, %k: tensor<?x?x16xf32>, %v: tensor<?x?x16xf32>, %m: tensor<?x?xf32>) -> (tensor<?x?x16xf32>, tensor<?x?xi1>) {
  %kt = attn.transpose %k, [0, 2, 1] : tensor<?x?x16xf32> -> tensor<?x16x?xf32>
  %s = attn.matmul %q, %kt : tensor<?x?x16xf32>, tensor<?x16x?xf32> -> tensor<?x?x?xf32>
  %zero = arith.constant dense<0.0> : tensor<f32>
  %c = attn.cmp ne, %m, %zero : tensor<?x?xf32>, tensor<f32> -> tensor<?x?xi1>
  %fill = arith.constant dense<-1.0e9> : tensor<f32>
  %sm = attn.select %c, %fill, %s : tensor<?x?xi1>, tensor<f32>, tensor<?x?x?xf32> -> tensor<?x?x?xf32>
  %p = attn.softmax %sm {axis = -1 : i64} : tensor<?x?x?xf32> -> tensor<?x?x?xf32>
  %o = attn.matmul %p, %v : tensor<?x?x?xf32>, tensor<?x?x16xf32> -> tensor<?x?x16xf32>
  return %o, %c : tensor<?x?x16xf32>, tensor<?x?xi1>
}

// -----

// Scale forms: Mul by a constant on the left, then Div, then Mul again; all
// on the scores after the additive mask: mask_first with the product.

// CHECK-LABEL: func.func @scales_after_mask
// CHECK: attn.attention {{.*}} mask(%{{.*}} : tensor<4x4xf32>) {mask_first, mask_kind = #attn.mask_kind<additive>, scale = 2.500000e-01 : f64}
func.func @scales_after_mask(%q: tensor<2x4x8xf32>, %k: tensor<2x4x8xf32>, %v: tensor<2x4x8xf32>, %m: tensor<4x4xf32>) -> tensor<2x4x8xf32> {
  %kt = attn.transpose %k, [0, 2, 1] : tensor<2x4x8xf32> -> tensor<2x8x4xf32>
  %s = attn.matmul %q, %kt : tensor<2x4x8xf32>, tensor<2x8x4xf32> -> tensor<2x4x4xf32>
  %sm = attn.add %s, %m : tensor<2x4x4xf32>, tensor<4x4xf32> -> tensor<2x4x4xf32>
  %c2 = arith.constant dense<2.0> : tensor<1x1x1xf32>
  %a = attn.mul %c2, %sm : tensor<1x1x1xf32>, tensor<2x4x4xf32> -> tensor<2x4x4xf32>
  %c16 = arith.constant dense<16.0> : tensor<f32>
  %b = attn.div %a, %c16 : tensor<2x4x4xf32>, tensor<f32> -> tensor<2x4x4xf32>
  %c3 = arith.constant dense<2.0> : tensor<2x4x4xf32>
  %c = attn.mul %b, %c3 : tensor<2x4x4xf32>, tensor<2x4x4xf32> -> tensor<2x4x4xf32>
  %p = attn.softmax %c {axis = -1 : i64} : tensor<2x4x4xf32> -> tensor<2x4x4xf32>
  %o = attn.matmul %p, %v : tensor<2x4x4xf32>, tensor<2x4x8xf32> -> tensor<2x4x8xf32>
  return %o : tensor<2x4x8xf32>
}

// -----

// Scale on K only (before the transpose), no mask.

// CHECK-LABEL: func.func @scale_on_key
// CHECK-SAME: (%[[Q:[^:]*]]: tensor<2x4x8xf32>, %[[K:[^:]*]]: tensor<2x4x8xf32>
// CHECK-NEXT: attn.attention %[[Q]], %[[K]], %{{.*}} {mask_kind = #attn.mask_kind<none>, scale = 5.000000e-01 : f64}
// CHECK-NEXT: return
func.func @scale_on_key(%q: tensor<2x4x8xf32>, %k: tensor<2x4x8xf32>, %v: tensor<2x4x8xf32>) -> tensor<2x4x8xf32> {
  %c = arith.constant dense<2.0> : tensor<f32>
  %ks = attn.div %k, %c : tensor<2x4x8xf32>, tensor<f32> -> tensor<2x4x8xf32>
  %kt = attn.transpose %ks, [0, 2, 1] : tensor<2x4x8xf32> -> tensor<2x8x4xf32>
  %s = attn.matmul %q, %kt : tensor<2x4x8xf32>, tensor<2x8x4xf32> -> tensor<2x4x4xf32>
  %p = attn.softmax %s {axis = -1 : i64} : tensor<2x4x4xf32> -> tensor<2x4x4xf32>
  %o = attn.matmul %p, %v : tensor<2x4x4xf32>, tensor<2x4x8xf32> -> tensor<2x4x8xf32>
  return %o : tensor<2x4x8xf32>
}

// -----

// A scale on Q under the head transpose: the query operand becomes a new
// transpose of the unscaled value; the scaled one has another user and stays.

// CHECK-LABEL: func.func @scale_under_query_transpose
// CHECK-SAME: (%[[Q0:[^:]*]]: tensor<2x4x3x8xf32>
// CHECK: %[[QS:.*]] = attn.mul %[[Q0]]
// CHECK: %[[Q:.*]] = attn.transpose %[[Q0]], [0, 2, 1, 3] : tensor<2x4x3x8xf32> -> tensor<2x3x4x8xf32>
// CHECK-NEXT: attn.attention %[[Q]], %{{.*}}, %{{.*}} {mask_kind = #attn.mask_kind<none>, scale = 1.250000e-01 : f64}
// CHECK: return %{{.*}}, %[[QS]]
// LOC-LABEL: func.func @scale_under_query_transpose
// LOC: attn.transpose %{{.*}}, [0, 2, 1, 3] : tensor<2x4x3x8xf32> -> tensor<2x3x4x8xf32> loc("qt")
func.func @scale_under_query_transpose(%q0: tensor<2x4x3x8xf32>, %k: tensor<2x3x4x8xf32>, %v: tensor<2x3x4x8xf32>)
    -> (tensor<2x3x4x8xf32>, tensor<2x4x3x8xf32>) {
  %c = arith.constant dense<0.125> : tensor<f32>
  %qs = attn.mul %q0, %c : tensor<2x4x3x8xf32>, tensor<f32> -> tensor<2x4x3x8xf32>
  %q = attn.transpose %qs, [0, 2, 1, 3] : tensor<2x4x3x8xf32> -> tensor<2x3x4x8xf32> loc("qt")
  %kt = attn.transpose %k, [0, 1, 3, 2] : tensor<2x3x4x8xf32> -> tensor<2x3x8x4xf32>
  %s = attn.matmul %q, %kt : tensor<2x3x4x8xf32>, tensor<2x3x8x4xf32> -> tensor<2x3x4x4xf32>
  %p = attn.softmax %s {axis = -1 : i64} : tensor<2x3x4x4xf32> -> tensor<2x3x4x4xf32>
  %o = attn.matmul %p, %v : tensor<2x3x4x4xf32>, tensor<2x3x4x8xf32> -> tensor<2x3x4x8xf32>
  return %o, %qs : tensor<2x3x4x8xf32>, tensor<2x4x3x8xf32>
}

// -----

// f16 scores: the fill value is recorded as the f16 value (-1e20 is -inf).

// CHECK-LABEL: func.func @f16_fill
// CHECK: attn.attention {{.*}} {fill_value = 0xFFF0000000000000 : f64, mask_first, mask_kind = #attn.mask_kind<fill_if_zero>, scale = 1.250000e-01 : f64} : tensor<1x2x4x8xf16>
func.func @f16_fill(%q: tensor<1x2x4x8xf16>, %k: tensor<1x2x4x8xf16>, %v: tensor<1x2x4x8xf16>, %m: tensor<1x1x1x4xi64>) -> tensor<1x2x4x8xf16> {
  %kt = attn.transpose %k, [0, 1, 3, 2] : tensor<1x2x4x8xf16> -> tensor<1x2x8x4xf16>
  %s = attn.matmul %q, %kt : tensor<1x2x4x8xf16>, tensor<1x2x8x4xf16> -> tensor<1x2x4x4xf16>
  %zero = arith.constant dense<0> : tensor<i64>
  %c = attn.cmp eq, %m, %zero : tensor<1x1x1x4xi64>, tensor<i64> -> tensor<1x1x1x4xi1>
  %fill = arith.constant dense<0xFC00> : tensor<f16>
  %sm = attn.select %c, %fill, %s : tensor<1x1x1x4xi1>, tensor<f16>, tensor<1x2x4x4xf16> -> tensor<1x2x4x4xf16>
  %d = arith.constant dense<8.0> : tensor<f16>
  %ss = attn.div %sm, %d : tensor<1x2x4x4xf16>, tensor<f16> -> tensor<1x2x4x4xf16>
  %p = attn.softmax %ss {axis = -1 : i64} : tensor<1x2x4x4xf16> -> tensor<1x2x4x4xf16>
  %o = attn.matmul %p, %v : tensor<1x2x4x4xf16>, tensor<1x2x4x8xf16> -> tensor<1x2x4x8xf16>
  return %o : tensor<1x2x4x8xf16>
}

// -----

// Two attention chains in one function, sharing K^T-free inputs: both fuse.

// CHECK-LABEL: func.func @two_chains
// CHECK-COUNT-2: attn.attention
// CHECK-NOT: attn.softmax
func.func @two_chains(%q: tensor<2x4x8xf32>, %k: tensor<2x4x8xf32>, %v: tensor<2x4x8xf32>) -> (tensor<2x4x8xf32>, tensor<2x4x8xf32>) {
  %kt = attn.transpose %k, [0, 2, 1] : tensor<2x4x8xf32> -> tensor<2x8x4xf32>
  %s = attn.matmul %q, %kt : tensor<2x4x8xf32>, tensor<2x8x4xf32> -> tensor<2x4x4xf32>
  %p = attn.softmax %s {axis = -1 : i64} : tensor<2x4x4xf32> -> tensor<2x4x4xf32>
  %o = attn.matmul %p, %v : tensor<2x4x4xf32>, tensor<2x4x8xf32> -> tensor<2x4x8xf32>
  %s2 = attn.matmul %o, %kt : tensor<2x4x8xf32>, tensor<2x8x4xf32> -> tensor<2x4x4xf32>
  %p2 = attn.softmax %s2 {axis = -1 : i64} : tensor<2x4x4xf32> -> tensor<2x4x4xf32>
  %o2 = attn.matmul %p2, %v : tensor<2x4x4xf32>, tensor<2x4x8xf32> -> tensor<2x4x8xf32>
  return %o, %o2 : tensor<2x4x8xf32>, tensor<2x4x8xf32>
}

//===----------------------------------------------------------------------===//
// Negative cases: the IR is left exactly as it was.
//===----------------------------------------------------------------------===//

// -----

// CHECK-LABEL: func.func @neg_softmax_not_last_axis
// CHECK: attn.matmul
// CHECK: attn.softmax %{{.*}} {axis = 2 : i64}
// CHECK: attn.matmul
// CHECK-NOT: attn.attention
func.func @neg_softmax_not_last_axis(%q: tensor<2x8x4x16xf32>, %k: tensor<2x8x4x16xf32>, %v: tensor<2x8x4x16xf32>) -> tensor<2x8x4x16xf32> {
  %kt = attn.transpose %k, [0, 1, 3, 2] : tensor<2x8x4x16xf32> -> tensor<2x8x16x4xf32>
  %s = attn.matmul %q, %kt : tensor<2x8x4x16xf32>, tensor<2x8x16x4xf32> -> tensor<2x8x4x4xf32>
  %p = attn.softmax %s {axis = 2 : i64} : tensor<2x8x4x4xf32> -> tensor<2x8x4x4xf32>
  %o = attn.matmul %p, %v : tensor<2x8x4x4xf32>, tensor<2x8x4x16xf32> -> tensor<2x8x4x16xf32>
  return %o : tensor<2x8x4x16xf32>
}

// -----

// CHECK-LABEL: func.func @neg_non_scalar_scale
// CHECK: attn.div
// CHECK: attn.softmax
// CHECK-NOT: attn.attention
func.func @neg_non_scalar_scale(%q: tensor<2x4x16xf32>, %k: tensor<2x4x16xf32>, %v: tensor<2x4x16xf32>) -> tensor<2x4x16xf32> {
  %kt = attn.transpose %k, [0, 2, 1] : tensor<2x4x16xf32> -> tensor<2x16x4xf32>
  %s = attn.matmul %q, %kt : tensor<2x4x16xf32>, tensor<2x16x4xf32> -> tensor<2x4x4xf32>
  %c = arith.constant dense<[1.0, 2.0, 3.0, 4.0]> : tensor<4xf32>
  %ss = attn.div %s, %c : tensor<2x4x4xf32>, tensor<4xf32> -> tensor<2x4x4xf32>
  %p = attn.softmax %ss {axis = -1 : i64} : tensor<2x4x4xf32> -> tensor<2x4x4xf32>
  %o = attn.matmul %p, %v : tensor<2x4x4xf32>, tensor<2x4x16xf32> -> tensor<2x4x16xf32>
  return %o : tensor<2x4x16xf32>
}

// -----

// A run-time scale (not a constant) is not a scale.

// CHECK-LABEL: func.func @neg_runtime_scale
// CHECK: attn.mul
// CHECK: attn.softmax
// CHECK-NOT: attn.attention
func.func @neg_runtime_scale(%q: tensor<2x4x16xf32>, %k: tensor<2x4x16xf32>, %v: tensor<2x4x16xf32>, %c: tensor<f32>) -> tensor<2x4x16xf32> {
  %kt = attn.transpose %k, [0, 2, 1] : tensor<2x4x16xf32> -> tensor<2x16x4xf32>
  %s = attn.matmul %q, %kt : tensor<2x4x16xf32>, tensor<2x16x4xf32> -> tensor<2x4x4xf32>
  %ss = attn.mul %s, %c : tensor<2x4x4xf32>, tensor<f32> -> tensor<2x4x4xf32>
  %p = attn.softmax %ss {axis = -1 : i64} : tensor<2x4x4xf32> -> tensor<2x4x4xf32>
  %o = attn.matmul %p, %v : tensor<2x4x4xf32>, tensor<2x4x16xf32> -> tensor<2x4x16xf32>
  return %o : tensor<2x4x16xf32>
}

// -----

// The additive mask broadcasts the scores' query dim (1 -> 4).

// CHECK-LABEL: func.func @neg_mask_broadcasts_scores
// CHECK: attn.add
// CHECK: attn.softmax
// CHECK-NOT: attn.attention
func.func @neg_mask_broadcasts_scores(%q: tensor<2x1x16xf32>, %k: tensor<2x4x16xf32>, %v: tensor<2x4x16xf32>, %m: tensor<4x4xf32>) -> tensor<2x4x16xf32> {
  %kt = attn.transpose %k, [0, 2, 1] : tensor<2x4x16xf32> -> tensor<2x16x4xf32>
  %s = attn.matmul %q, %kt : tensor<2x1x16xf32>, tensor<2x16x4xf32> -> tensor<2x1x4xf32>
  %sm = attn.add %s, %m : tensor<2x1x4xf32>, tensor<4x4xf32> -> tensor<2x4x4xf32>
  %p = attn.softmax %sm {axis = -1 : i64} : tensor<2x4x4xf32> -> tensor<2x4x4xf32>
  %o = attn.matmul %p, %v : tensor<2x4x4xf32>, tensor<2x4x16xf32> -> tensor<2x4x16xf32>
  return %o : tensor<2x4x16xf32>
}

// -----

// The select's condition broadcasts the scores (rank 3 -> 4).

// CHECK-LABEL: func.func @neg_condition_broadcasts_scores
// CHECK: attn.select
// CHECK: attn.softmax
// CHECK-NOT: attn.attention
func.func @neg_condition_broadcasts_scores(%q: tensor<8x4x16xf32>, %k: tensor<8x4x16xf32>, %v: tensor<8x4x16xf32>, %m: tensor<2x1x4x4xi1>) -> tensor<2x8x4x16xf32> {
  %kt = attn.transpose %k, [0, 2, 1] : tensor<8x4x16xf32> -> tensor<8x16x4xf32>
  %s = attn.matmul %q, %kt : tensor<8x4x16xf32>, tensor<8x16x4xf32> -> tensor<8x4x4xf32>
  %fill = arith.constant dense<-1.0e9> : tensor<f32>
  %sm = attn.select %m, %fill, %s : tensor<2x1x4x4xi1>, tensor<f32>, tensor<8x4x4xf32> -> tensor<2x8x4x4xf32>
  %p = attn.softmax %sm {axis = -1 : i64} : tensor<2x8x4x4xf32> -> tensor<2x8x4x4xf32>
  %o = attn.matmul %p, %v : tensor<2x8x4x4xf32>, tensor<8x4x16xf32> -> tensor<2x8x4x16xf32>
  return %o : tensor<2x8x4x16xf32>
}

// -----

// The attention probabilities are also returned (need_weights).

// CHECK-LABEL: func.func @neg_softmax_two_users
// CHECK: %[[P:.*]] = attn.softmax
// CHECK: attn.matmul %[[P]]
// CHECK-NOT: attn.attention
func.func @neg_softmax_two_users(%q: tensor<2x4x16xf32>, %k: tensor<2x4x16xf32>, %v: tensor<2x4x16xf32>) -> (tensor<2x4x16xf32>, tensor<2x4x4xf32>) {
  %kt = attn.transpose %k, [0, 2, 1] : tensor<2x4x16xf32> -> tensor<2x16x4xf32>
  %s = attn.matmul %q, %kt : tensor<2x4x16xf32>, tensor<2x16x4xf32> -> tensor<2x4x4xf32>
  %p = attn.softmax %s {axis = -1 : i64} : tensor<2x4x4xf32> -> tensor<2x4x4xf32>
  %o = attn.matmul %p, %v : tensor<2x4x4xf32>, tensor<2x4x16xf32> -> tensor<2x4x16xf32>
  return %o, %p : tensor<2x4x16xf32>, tensor<2x4x4xf32>
}

// -----

// The raw scores are also returned.

// CHECK-LABEL: func.func @neg_scores_two_users
// CHECK: attn.softmax
// CHECK-NOT: attn.attention
func.func @neg_scores_two_users(%q: tensor<2x4x16xf32>, %k: tensor<2x4x16xf32>, %v: tensor<2x4x16xf32>) -> (tensor<2x4x16xf32>, tensor<2x4x4xf32>) {
  %kt = attn.transpose %k, [0, 2, 1] : tensor<2x4x16xf32> -> tensor<2x16x4xf32>
  %s = attn.matmul %q, %kt : tensor<2x4x16xf32>, tensor<2x16x4xf32> -> tensor<2x4x4xf32>
  %c = arith.constant dense<4.0> : tensor<f32>
  %ss = attn.div %s, %c : tensor<2x4x4xf32>, tensor<f32> -> tensor<2x4x4xf32>
  %p = attn.softmax %ss {axis = -1 : i64} : tensor<2x4x4xf32> -> tensor<2x4x4xf32>
  %o = attn.matmul %p, %v : tensor<2x4x4xf32>, tensor<2x4x16xf32> -> tensor<2x4x16xf32>
  return %o, %s : tensor<2x4x16xf32>, tensor<2x4x4xf32>
}

// -----

// The masked scores are also used elsewhere.

// CHECK-LABEL: func.func @neg_masked_two_users
// CHECK: attn.softmax
// CHECK-NOT: attn.attention
func.func @neg_masked_two_users(%q: tensor<2x4x16xf32>, %k: tensor<2x4x16xf32>, %v: tensor<2x4x16xf32>, %m: tensor<4x4xf32>) -> (tensor<2x4x16xf32>, tensor<2x4x4xf32>) {
  %kt = attn.transpose %k, [0, 2, 1] : tensor<2x4x16xf32> -> tensor<2x16x4xf32>
  %s = attn.matmul %q, %kt : tensor<2x4x16xf32>, tensor<2x16x4xf32> -> tensor<2x4x4xf32>
  %sm = attn.add %s, %m : tensor<2x4x4xf32>, tensor<4x4xf32> -> tensor<2x4x4xf32>
  %p = attn.softmax %sm {axis = -1 : i64} : tensor<2x4x4xf32> -> tensor<2x4x4xf32>
  %o = attn.matmul %p, %v : tensor<2x4x4xf32>, tensor<2x4x16xf32> -> tensor<2x4x16xf32>
  return %o, %sm : tensor<2x4x16xf32>, tensor<2x4x4xf32>
}

// -----

// K is not transposed at all (it is already [.., D, Sk]).

// CHECK-LABEL: func.func @neg_key_not_transposed
// CHECK: attn.softmax
// CHECK-NOT: attn.attention
func.func @neg_key_not_transposed(%q: tensor<2x4x16xf32>, %kt: tensor<2x16x4xf32>, %v: tensor<2x4x16xf32>) -> tensor<2x4x16xf32> {
  %s = attn.matmul %q, %kt : tensor<2x4x16xf32>, tensor<2x16x4xf32> -> tensor<2x4x4xf32>
  %p = attn.softmax %s {axis = -1 : i64} : tensor<2x4x4xf32> -> tensor<2x4x4xf32>
  %o = attn.matmul %p, %v : tensor<2x4x4xf32>, tensor<2x4x16xf32> -> tensor<2x4x16xf32>
  return %o : tensor<2x4x16xf32>
}

// -----

// K' is a transpose, but not of the key's last two dims: the contraction dim
// is not the input's innermost dim.

// CHECK-LABEL: func.func @neg_key_wrong_transpose
// CHECK: attn.transpose %{{.*}}, [0, 2, 1, 3]
// CHECK: attn.softmax
// CHECK-NOT: attn.attention
func.func @neg_key_wrong_transpose(%q: tensor<2x8x4x16xf32>, %k: tensor<2x16x8x4xf32>, %v: tensor<2x8x4x16xf32>) -> tensor<2x8x4x16xf32> {
  %kt = attn.transpose %k, [0, 2, 1, 3] : tensor<2x16x8x4xf32> -> tensor<2x8x16x4xf32>
  %s = attn.matmul %q, %kt : tensor<2x8x4x16xf32>, tensor<2x8x16x4xf32> -> tensor<2x8x4x4xf32>
  %p = attn.softmax %s {axis = -1 : i64} : tensor<2x8x4x4xf32> -> tensor<2x8x4x4xf32>
  %o = attn.matmul %p, %v : tensor<2x8x4x4xf32>, tensor<2x8x4x16xf32> -> tensor<2x8x4x16xf32>
  return %o : tensor<2x8x4x16xf32>
}

// -----

// Q, K and V batch dims broadcast in the matmuls (K shared across heads).

// CHECK-LABEL: func.func @neg_batch_broadcast
// CHECK: attn.softmax
// CHECK-NOT: attn.attention
func.func @neg_batch_broadcast(%q: tensor<2x8x4x16xf32>, %k: tensor<2x1x4x16xf32>, %v: tensor<2x1x4x16xf32>) -> tensor<2x8x4x16xf32> {
  %kt = attn.transpose %k, [0, 1, 3, 2] : tensor<2x1x4x16xf32> -> tensor<2x1x16x4xf32>
  %s = attn.matmul %q, %kt : tensor<2x8x4x16xf32>, tensor<2x1x16x4xf32> -> tensor<2x8x4x4xf32>
  %p = attn.softmax %s {axis = -1 : i64} : tensor<2x8x4x4xf32> -> tensor<2x8x4x4xf32>
  %o = attn.matmul %p, %v : tensor<2x8x4x4xf32>, tensor<2x1x4x16xf32> -> tensor<2x8x4x16xf32>
  return %o : tensor<2x8x4x16xf32>
}

// -----

// The scores are scaled before and after the mask.

// CHECK-LABEL: func.func @neg_scale_both_sides_of_mask
// CHECK: attn.softmax
// CHECK-NOT: attn.attention
func.func @neg_scale_both_sides_of_mask(%q: tensor<2x4x16xf32>, %k: tensor<2x4x16xf32>, %v: tensor<2x4x16xf32>, %m: tensor<4x4xf32>) -> tensor<2x4x16xf32> {
  %c = arith.constant dense<0.5> : tensor<f32>
  %qs = attn.mul %q, %c : tensor<2x4x16xf32>, tensor<f32> -> tensor<2x4x16xf32>
  %kt = attn.transpose %k, [0, 2, 1] : tensor<2x4x16xf32> -> tensor<2x16x4xf32>
  %s = attn.matmul %qs, %kt : tensor<2x4x16xf32>, tensor<2x16x4xf32> -> tensor<2x4x4xf32>
  %sm = attn.add %s, %m : tensor<2x4x4xf32>, tensor<4x4xf32> -> tensor<2x4x4xf32>
  %ss = attn.mul %sm, %c : tensor<2x4x4xf32>, tensor<f32> -> tensor<2x4x4xf32>
  %p = attn.softmax %ss {axis = -1 : i64} : tensor<2x4x4xf32> -> tensor<2x4x4xf32>
  %o = attn.matmul %p, %v : tensor<2x4x4xf32>, tensor<2x4x16xf32> -> tensor<2x4x16xf32>
  return %o : tensor<2x4x16xf32>
}

// -----

// Two masks.

// CHECK-LABEL: func.func @neg_two_masks
// CHECK: attn.softmax
// CHECK-NOT: attn.attention
func.func @neg_two_masks(%q: tensor<2x4x16xf32>, %k: tensor<2x4x16xf32>, %v: tensor<2x4x16xf32>, %m: tensor<4x4xf32>, %n: tensor<2x1x4xf32>) -> tensor<2x4x16xf32> {
  %kt = attn.transpose %k, [0, 2, 1] : tensor<2x4x16xf32> -> tensor<2x16x4xf32>
  %s = attn.matmul %q, %kt : tensor<2x4x16xf32>, tensor<2x16x4xf32> -> tensor<2x4x4xf32>
  %s1 = attn.add %s, %m : tensor<2x4x4xf32>, tensor<4x4xf32> -> tensor<2x4x4xf32>
  %s2 = attn.add %s1, %n : tensor<2x4x4xf32>, tensor<2x1x4xf32> -> tensor<2x4x4xf32>
  %p = attn.softmax %s2 {axis = -1 : i64} : tensor<2x4x4xf32> -> tensor<2x4x4xf32>
  %o = attn.matmul %p, %v : tensor<2x4x4xf32>, tensor<2x4x16xf32> -> tensor<2x4x16xf32>
  return %o : tensor<2x4x16xf32>
}

// -----

// CHECK-LABEL: func.func @neg_three_masks
// CHECK: attn.softmax
// CHECK-NOT: attn.attention
func.func @neg_three_masks(%q: tensor<2x4x16xf32>, %k: tensor<2x4x16xf32>, %v: tensor<2x4x16xf32>, %m: tensor<4x4xf32>, %n: tensor<2x1x4xf32>) -> tensor<2x4x16xf32> {
  %kt = attn.transpose %k, [0, 2, 1] : tensor<2x4x16xf32> -> tensor<2x16x4xf32>
  %s = attn.matmul %q, %kt : tensor<2x4x16xf32>, tensor<2x16x4xf32> -> tensor<2x4x4xf32>
  %s1 = attn.add %s, %m : tensor<2x4x4xf32>, tensor<4x4xf32> -> tensor<2x4x4xf32>
  %s2 = attn.add %s1, %n : tensor<2x4x4xf32>, tensor<2x1x4xf32> -> tensor<2x4x4xf32>
  %s3 = attn.add %s2, %m : tensor<2x4x4xf32>, tensor<4x4xf32> -> tensor<2x4x4xf32>
  %p = attn.softmax %s3 {axis = -1 : i64} : tensor<2x4x4xf32> -> tensor<2x4x4xf32>
  %o = attn.matmul %p, %v : tensor<2x4x4xf32>, tensor<2x4x16xf32> -> tensor<2x4x16xf32>
  return %o : tensor<2x4x16xf32>
}

// -----

// A causal constant followed by a select whose fill (0.0) is not negligible.

// CHECK-LABEL: func.func @neg_causal_then_weak_fill
// CHECK: attn.softmax
// CHECK-NOT: attn.attention
func.func @neg_causal_then_weak_fill(%q: tensor<2x2x16xf32>, %k: tensor<2x2x16xf32>, %v: tensor<2x2x16xf32>, %m: tensor<2x2xi1>) -> tensor<2x2x16xf32> {
  %kt = attn.transpose %k, [0, 2, 1] : tensor<2x2x16xf32> -> tensor<2x16x2xf32>
  %s = attn.matmul %q, %kt : tensor<2x2x16xf32>, tensor<2x16x2xf32> -> tensor<2x2x2xf32>
  %triu = arith.constant dense<[[0.0, 0xFF800000], [0.0, 0.0]]> : tensor<2x2xf32>
  %s1 = attn.add %s, %triu : tensor<2x2x2xf32>, tensor<2x2xf32> -> tensor<2x2x2xf32>
  %zero = arith.constant dense<0.0> : tensor<f32>
  %s2 = attn.select %m, %zero, %s1 : tensor<2x2xi1>, tensor<f32>, tensor<2x2x2xf32> -> tensor<2x2x2xf32>
  %p = attn.softmax %s2 {axis = -1 : i64} : tensor<2x2x2xf32> -> tensor<2x2x2xf32>
  %o = attn.matmul %p, %v : tensor<2x2x2xf32>, tensor<2x2x16xf32> -> tensor<2x2x16xf32>
  return %o : tensor<2x2x16xf32>
}

// -----

// Soft-capping (tanh) between the scores and the softmax is not a scale or mask.

// CHECK-LABEL: func.func @neg_other_op_on_scores
// CHECK: attn.tanh
// CHECK: attn.softmax
// CHECK-NOT: attn.attention
func.func @neg_other_op_on_scores(%q: tensor<2x4x16xf32>, %k: tensor<2x4x16xf32>, %v: tensor<2x4x16xf32>) -> tensor<2x4x16xf32> {
  %kt = attn.transpose %k, [0, 2, 1] : tensor<2x4x16xf32> -> tensor<2x16x4xf32>
  %s = attn.matmul %q, %kt : tensor<2x4x16xf32>, tensor<2x16x4xf32> -> tensor<2x4x4xf32>
  %t = attn.tanh %s : tensor<2x4x4xf32>
  %p = attn.softmax %t {axis = -1 : i64} : tensor<2x4x4xf32> -> tensor<2x4x4xf32>
  %o = attn.matmul %p, %v : tensor<2x4x4xf32>, tensor<2x4x16xf32> -> tensor<2x4x16xf32>
  return %o : tensor<2x4x16xf32>
}

// -----

// The select's fill is not a constant.

// CHECK-LABEL: func.func @neg_runtime_fill
// CHECK: attn.select
// CHECK: attn.softmax
// CHECK-NOT: attn.attention
func.func @neg_runtime_fill(%q: tensor<2x4x16xf32>, %k: tensor<2x4x16xf32>, %v: tensor<2x4x16xf32>, %m: tensor<4x4xi1>, %f: tensor<f32>) -> tensor<2x4x16xf32> {
  %kt = attn.transpose %k, [0, 2, 1] : tensor<2x4x16xf32> -> tensor<2x16x4xf32>
  %s = attn.matmul %q, %kt : tensor<2x4x16xf32>, tensor<2x16x4xf32> -> tensor<2x4x4xf32>
  %sm = attn.select %m, %f, %s : tensor<4x4xi1>, tensor<f32>, tensor<2x4x4xf32> -> tensor<2x4x4xf32>
  %p = attn.softmax %sm {axis = -1 : i64} : tensor<2x4x4xf32> -> tensor<2x4x4xf32>
  %o = attn.matmul %p, %v : tensor<2x4x4xf32>, tensor<2x4x16xf32> -> tensor<2x4x16xf32>
  return %o : tensor<2x4x16xf32>
}

// -----

// The softmax feeds the right operand of the matmul (V^T . P^T form).

// CHECK-LABEL: func.func @neg_softmax_rhs
// CHECK: attn.softmax
// CHECK-NOT: attn.attention
func.func @neg_softmax_rhs(%q: tensor<2x4x16xf32>, %k: tensor<2x4x16xf32>, %vt: tensor<2x16x4xf32>) -> tensor<2x16x4xf32> {
  %kt = attn.transpose %k, [0, 2, 1] : tensor<2x4x16xf32> -> tensor<2x16x4xf32>
  %s = attn.matmul %q, %kt : tensor<2x4x16xf32>, tensor<2x16x4xf32> -> tensor<2x4x4xf32>
  %p = attn.softmax %s {axis = -1 : i64} : tensor<2x4x4xf32> -> tensor<2x4x4xf32>
  %o = attn.matmul %vt, %p : tensor<2x16x4xf32>, tensor<2x4x4xf32> -> tensor<2x16x4xf32>
  return %o : tensor<2x16x4xf32>
}

// -----

// Matmuls with a vector or a lower-rank operand (numpy semantics).

// CHECK-LABEL: func.func @neg_vector_key
// CHECK: attn.softmax
// CHECK-NOT: attn.attention
func.func @neg_vector_key(%q: tensor<2x4x16xf32>, %k: tensor<16xf32>, %v: tensor<4x16xf32>) -> tensor<2x16xf32> {
  %s = attn.matmul %q, %k : tensor<2x4x16xf32>, tensor<16xf32> -> tensor<2x4xf32>
  %p = attn.softmax %s {axis = -1 : i64} : tensor<2x4xf32> -> tensor<2x4xf32>
  %o = attn.matmul %p, %v : tensor<2x4xf32>, tensor<4x16xf32> -> tensor<2x16xf32>
  return %o : tensor<2x16xf32>
}

// -----

// CHECK-LABEL: func.func @neg_broadcast_query
// CHECK: attn.softmax
// CHECK-NOT: attn.attention
func.func @neg_broadcast_query(%q: tensor<4x16xf32>, %k: tensor<2x4x16xf32>, %v: tensor<2x4x16xf32>) -> tensor<2x4x16xf32> {
  %kt = attn.transpose %k, [0, 2, 1] : tensor<2x4x16xf32> -> tensor<2x16x4xf32>
  %s = attn.matmul %q, %kt : tensor<4x16xf32>, tensor<2x16x4xf32> -> tensor<2x4x4xf32>
  %p = attn.softmax %s {axis = -1 : i64} : tensor<2x4x4xf32> -> tensor<2x4x4xf32>
  %o = attn.matmul %p, %v : tensor<2x4x4xf32>, tensor<2x4x16xf32> -> tensor<2x4x16xf32>
  return %o : tensor<2x4x16xf32>
}

// -----

// A softmax that is not attention at all.

// CHECK-LABEL: func.func @neg_plain_softmax
// CHECK: attn.softmax
// CHECK-NOT: attn.attention
func.func @neg_plain_softmax(%x: tensor<2x4xf32>) -> tensor<2x4xf32> {
  %p = attn.softmax %x {axis = -1 : i64} : tensor<2x4xf32> -> tensor<2x4xf32>
  return %p : tensor<2x4xf32>
}
