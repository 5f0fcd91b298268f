// RUN: attn-opt %s -attn-fuse-linear -split-input-file | FileCheck %s
// RUN: attn-opt %s -attn-fuse-linear -split-input-file -mlir-print-debuginfo -mlir-print-local-scope | FileCheck %s --check-prefix=LOC

// A BERT FFN up-projection: matmul, bias add, GELU -> one attn.linear.
// CHECK-LABEL: func.func @bias_gelu
// CHECK-SAME: (%[[X:.*]]: tensor<?x?x64xf32>, %[[W:.*]]: tensor<64x128xf32>, %[[B:.*]]: tensor<128xf32>)
// CHECK-NEXT: %[[L:.*]] = attn.linear %[[X]], %[[W]] bias(%[[B]] : tensor<128xf32>) {activation = #attn.activation<gelu>} : tensor<?x?x64xf32>, tensor<64x128xf32> -> tensor<?x?x128xf32>
// CHECK-NEXT: return %[[L]]
// LOC-LABEL: func.func @bias_gelu
// LOC: attn.linear {{.*}} loc(fused["/MatMul", "/Add", "/Gelu"])
func.func @bias_gelu(%x: tensor<?x?x64xf32>, %w: tensor<64x128xf32>, %b: tensor<128xf32>) -> tensor<?x?x128xf32> {
  %0 = attn.matmul %x, %w : tensor<?x?x64xf32>, tensor<64x128xf32> -> tensor<?x?x128xf32> loc("/MatMul")
  %1 = attn.add %0, %b : tensor<?x?x128xf32>, tensor<128xf32> -> tensor<?x?x128xf32> loc("/Add")
  %2 = attn.gelu %1 : tensor<?x?x128xf32> loc("/Gelu")
  return %2 : tensor<?x?x128xf32>
}

// -----

// Bias on the left, as a [1, 1, N] constant (reshaped to [N] at compile
// time, the old constant erased); ReLU; tanh GELU gives gelu_tanh.
// CHECK-LABEL: func.func @bias_left_relu
// CHECK-NEXT: %[[B:.*]] = arith.constant dense<[1.000000e+00, 2.000000e+00, 3.000000e+00, 4.000000e+00]> : tensor<4xf32>
// CHECK-NEXT: %[[L:.*]] = attn.linear %{{.*}}, %{{.*}} bias(%[[B]] : tensor<4xf32>) {activation = #attn.activation<relu>}
// CHECK-NEXT: %[[T:.*]] = attn.linear %{{.*}}, %{{.*}} {activation = #attn.activation<gelu_tanh>} : tensor<2x3x8xf32>, tensor<8x4xf32> -> tensor<2x3x4xf32>
// CHECK-NEXT: return %[[L]], %[[T]]
func.func @bias_left_relu(%x: tensor<2x3x8xf32>, %w: tensor<8x4xf32>) -> (tensor<2x3x4xf32>, tensor<2x3x4xf32>) {
  %b = arith.constant dense<[[[1.0, 2.0, 3.0, 4.0]]]> : tensor<1x1x4xf32>
  %0 = attn.matmul %x, %w : tensor<2x3x8xf32>, tensor<8x4xf32> -> tensor<2x3x4xf32>
  %1 = attn.add %b, %0 : tensor<1x1x4xf32>, tensor<2x3x4xf32> -> tensor<2x3x4xf32>
  %2 = attn.relu %1 : tensor<2x3x4xf32>
  %3 = attn.matmul %x, %w : tensor<2x3x8xf32>, tensor<8x4xf32> -> tensor<2x3x4xf32>
  %4 = attn.gelu %3 {tanh_approximation} : tensor<2x3x4xf32>
  return %2, %4 : tensor<2x3x4xf32>, tensor<2x3x4xf32>
}

// -----

// The matmul result has a second user: no epilogue is fused (it would be
// computed twice), the matmul alone becomes a linear.
// CHECK-LABEL: func.func @shared_product
// CHECK-NEXT: %[[L:.*]] = attn.linear %{{.*}}, %{{.*}} : tensor<4x8xf32>, tensor<8x16xf32> -> tensor<4x16xf32>
// CHECK-NEXT: %[[A:.*]] = attn.add %[[L]], %{{.*}}
// CHECK-NEXT: return %[[A]], %[[L]]
func.func @shared_product(%x: tensor<4x8xf32>, %w: tensor<8x16xf32>, %b: tensor<16xf32>) -> (tensor<4x16xf32>, tensor<4x16xf32>) {
  %0 = attn.matmul %x, %w : tensor<4x8xf32>, tensor<8x16xf32> -> tensor<4x16xf32>
  %1 = attn.add %0, %b : tensor<4x16xf32>, tensor<16xf32> -> tensor<4x16xf32>
  return %1, %0 : tensor<4x16xf32>, tensor<4x16xf32>
}

// -----

// Not a bias: the addend varies along the rows ([4, 1] and a full [4, 16]
// residual); the linear stops at the matmul and the relu after the add stays.
// CHECK-LABEL: func.func @not_bias
// CHECK: attn.linear %{{.*}}, %{{.*}} : tensor<4x8xf32>, tensor<8x16xf32> -> tensor<4x16xf32>
// CHECK-NEXT: attn.add
// CHECK-NEXT: attn.relu
// CHECK: attn.linear %{{.*}}, %{{.*}} : tensor<4x8xf32>, tensor<8x16xf32> -> tensor<4x16xf32>
// CHECK-NEXT: attn.add
func.func @not_bias(%x: tensor<4x8xf32>, %w: tensor<8x16xf32>, %c: tensor<4x1xf32>, %r: tensor<4x16xf32>) -> (tensor<4x16xf32>, tensor<4x16xf32>) {
  %0 = attn.matmul %x, %w : tensor<4x8xf32>, tensor<8x16xf32> -> tensor<4x16xf32>
  %1 = attn.add %0, %c : tensor<4x16xf32>, tensor<4x1xf32> -> tensor<4x16xf32>
  %2 = attn.relu %1 : tensor<4x16xf32>
  %3 = attn.matmul %x, %w : tensor<4x8xf32>, tensor<8x16xf32> -> tensor<4x16xf32>
  %4 = attn.add %3, %r : tensor<4x16xf32>, tensor<4x16xf32> -> tensor<4x16xf32>
  return %2, %4 : tensor<4x16xf32>, tensor<4x16xf32>
}

// -----

// Not Linear layers: a batched weight (attention's Q.K^T), an integer
// matmul, a vector right operand. Unchanged.
// CHECK-LABEL: func.func @not_linear
// CHECK-NOT: attn.linear
// CHECK-COUNT-3: attn.matmul
// CHECK-NOT: attn.linear
func.func @not_linear(%q: tensor<2x4x8xf32>, %kt: tensor<2x8x4xf32>, %a: tensor<4x8xi64>, %b: tensor<8x2xi64>, %v: tensor<8xf32>)
    -> (tensor<2x4x4xf32>, tensor<4x2xi64>, tensor<2x4xf32>) {
  %0 = attn.matmul %q, %kt : tensor<2x4x8xf32>, tensor<2x8x4xf32> -> tensor<2x4x4xf32>
  %1 = attn.matmul %a, %b : tensor<4x8xi64>, tensor<8x2xi64> -> tensor<4x2xi64>
  %2 = attn.matmul %q, %v : tensor<2x4x8xf32>, tensor<8xf32> -> tensor<2x4xf32>
  return %0, %1, %2 : tensor<2x4x4xf32>, tensor<4x2xi64>, tensor<2x4xf32>
}

// -----

// GPT-2's Conv1D: the Gemm runs on flattened rows and a reshape restores
// [B, S, N] before the GELU; the GELU moves into the epilogue and the
// reshape after the linear.
// CHECK-LABEL: func.func @reshape_then_gelu
// CHECK-NEXT: %[[L:.*]] = attn.linear %arg0, %arg1 bias(%arg2 : tensor<16xf32>) {activation = #attn.activation<gelu_tanh>} : tensor<?x8xf32>, tensor<8x16xf32> -> tensor<?x16xf32>
// CHECK-NEXT: %[[R:.*]] = attn.reshape %[[L]], %arg3 : tensor<?x16xf32>, tensor<3xi64> -> tensor<?x?x16xf32>
// CHECK-NEXT: return %[[R]]
func.func @reshape_then_gelu(%x: tensor<?x8xf32>, %w: tensor<8x16xf32>, %b: tensor<16xf32>, %s: tensor<3xi64>) -> tensor<?x?x16xf32> {
  %0 = attn.matmul %x, %w : tensor<?x8xf32>, tensor<8x16xf32> -> tensor<?x16xf32>
  %1 = attn.add %0, %b : tensor<?x16xf32>, tensor<16xf32> -> tensor<?x16xf32>
  %2 = attn.reshape %1, %s : tensor<?x16xf32>, tensor<3xi64> -> tensor<?x?x16xf32>
  %3 = attn.gelu %2 {tanh_approximation} : tensor<?x?x16xf32>
  return %3 : tensor<?x?x16xf32>
}
