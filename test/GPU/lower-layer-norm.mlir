// RUN: attn-opt %s -split-input-file -attn-gpu-lower-layer-norm | FileCheck %s --check-prefix=TENSOR
// RUN: attn-opt %s -split-input-file -attn-gpu-lower-layer-norm -attn-lower-to-linalg \
// RUN:   -one-shot-bufferize="bufferize-function-boundaries=1 function-boundary-type-conversion=identity-layout-map" \
// RUN:   -attn-gpu-lower-layer-norm -canonicalize | FileCheck %s --check-prefix=KERNEL

// Phase 1 (tensors): operands collapsed to [rows, n] views, scale/bias to
// [n], a fresh output buffer of the result's shape, the placeholder call.
// TENSOR-LABEL: func @residual
// TENSOR-NOT:     attn.layer_norm
// TENSOR:         %[[X:.*]] = tensor.collapse_shape %{{.*}} {{\[}}[0, 1], [2]] : tensor<?x?x96xf32> into tensor<?x96xf32>
// TENSOR:         bufferization.to_buffer %[[X]] read_only : tensor<?x96xf32> to memref<?x96xf32, strided<[?, ?], offset: ?>>
// TENSOR:         %[[OUT:.*]] = memref.alloc(%{{.*}}, %{{.*}}) : memref<?x?x96xf32>
// TENSOR:         call @__attn_gpu_layer_norm_0({{.*}}, %[[OUT]]) {attn.axis = 2 : i64, attn.epsilon = 1.000000e-05 : f64, attn.has_bias = true, attn.has_residual = true}
// TENSOR:         bufferization.to_tensor %[[OUT]] restrict writable
// TENSOR:       func.func private @__attn_gpu_layer_norm_0(

// Phase 2 (buffers): 8 rows (warps) per block of 256 threads, lanes stride
// over the row, residual added on load, two xor-butterfly warp sums per pass.
// KERNEL-LABEL: func @residual
// KERNEL-NOT:     call @__attn_gpu_layer_norm
// KERNEL:         %[[OUT:.*]] = memref.collapse_shape %{{.*}} {{\[}}[0, 1], [2]] : memref<?x?x96xf32> into memref<?x96xf32>
// KERNEL:         %[[ROWS:.*]] = memref.dim %{{.*}}, %c0 : memref<?x96xf32>
// KERNEL:         %[[NB:.*]] = arith.ceildivui %[[ROWS]], %c8
// KERNEL:         gpu.launch blocks({{.*}}) in (%{{.*}} = %[[NB]], %{{.*}} = %c1, %{{.*}} = %c1) threads({{.*}}) in (%{{.*}} = %c256
// KERNEL-SAME:      module(@attn_kernels) function(@layernorm__0)
// KERNEL:           %[[LANE:.*]] = arith.remui %{{.*}}, %c32
// KERNEL:           scf.if
// KERNEL:             scf.for %{{.*}} = %[[LANE]] to %c96 step %c32 iter_args(%{{.*}} = %{{.*}}) -> (f32)
// KERNEL:               arith.addf
// KERNEL:             gpu.shuffle  xor %{{.*}}, %c16_i32, %c32_i32
// KERNEL:             gpu.shuffle  xor %{{.*}}, %c1_i32, %c32_i32
// KERNEL:             scf.for %{{.*}} = %[[LANE]] to %c96 step %c32 iter_args({{.*}}) -> (f32, f32)
// KERNEL:               math.fma
// KERNEL:             math.rsqrt
// KERNEL:             scf.for %{{.*}} = %[[LANE]] to %c96 step %c32 {
// KERNEL:               memref.store %{{.*}}, %[[OUT]]
func.func @residual(%x: tensor<?x?x96xf32>, %r: tensor<?x?x96xf32>, %s: tensor<96xf32>, %b: tensor<96xf32>) -> tensor<?x?x96xf32> {
  %0 = attn.layer_norm %x residual(%r : tensor<?x?x96xf32>), %s, %b : tensor<96xf32> {axis = 2 : i64, epsilon = 1.0e-05 : f64} : tensor<?x?x96xf32>, tensor<96xf32> -> tensor<?x?x96xf32>
  return %0 : tensor<?x?x96xf32>
}

// -----

// f16 storage: widened on load, f32 statistics, truncated on store; no bias.
// KERNEL-LABEL: func @half
// KERNEL:         gpu.launch
// KERNEL:           arith.extf %{{.*}} : f16 to f32
// KERNEL:           math.rsqrt %{{.*}} : f32
// KERNEL:           arith.truncf %{{.*}} : f32 to f16
// KERNEL-NOT:       memref.load %arg1
func.func @half(%x: tensor<4x64xf16>, %s: tensor<64xf16>) -> tensor<4x64xf16> {
  %0 = attn.layer_norm %x, %s {axis = 1 : i64, epsilon = 1.0e-05 : f64} : tensor<4x64xf16>, tensor<64xf16> -> tensor<4x64xf16>
  return %0 : tensor<4x64xf16>
}

// -----

// Not taken (the linalg lowering stays): normalizing over every dim, a
// dynamic normalized size, a scale that broadcasts inside the row.
// TENSOR-LABEL: func @not_taken
// TENSOR-COUNT-3: attn.layer_norm
// TENSOR-NOT:     call @__attn_gpu_layer_norm
// KERNEL-LABEL: func @not_taken
// KERNEL-NOT:     gpu.launch
func.func @not_taken(%x: tensor<4x64xf32>, %s: tensor<64xf32>, %y: tensor<4x?xf32>, %t: tensor<1xf32>) -> (tensor<4x64xf32>, tensor<4x?xf32>, tensor<4x64xf32>) {
  %0 = attn.layer_norm %x, %s {axis = 0 : i64, epsilon = 1.0e-05 : f64} : tensor<4x64xf32>, tensor<64xf32> -> tensor<4x64xf32>
  %1 = attn.layer_norm %y, %t {axis = 1 : i64, epsilon = 1.0e-05 : f64} : tensor<4x?xf32>, tensor<1xf32> -> tensor<4x?xf32>
  %2 = attn.layer_norm %x, %t {axis = 1 : i64, epsilon = 1.0e-05 : f64} : tensor<4x64xf32>, tensor<1xf32> -> tensor<4x64xf32>
  return %0, %1, %2 : tensor<4x64xf32>, tensor<4x?xf32>, tensor<4x64xf32>
}
