// RUN: attn-opt %s -attn-fuse-gated-mlp -split-input-file | FileCheck %s
// RUN: attn-opt %s -attn-fuse-gated-mlp -split-input-file -mlir-print-debuginfo -mlir-print-local-scope | FileCheck %s --check-prefix=LOC

// Llama: act(x·Wg) * (x·Wu), constant weights -> one gated linear on the
// concatenated constant [Wg | Wu] (row by row); the old weights are gone.
// CHECK-LABEL: func.func @pair_silu
// CHECK-NEXT: %[[W:.*]] = arith.constant dense<{{\[}}[1.000000e+00, 2.000000e+00, 5.000000e+00, 6.000000e+00], [3.000000e+00, 4.000000e+00, 7.000000e+00, 8.000000e+00]]> : tensor<2x4xf32>
// CHECK-NEXT: %[[L:.*]] = attn.linear %arg0, %[[W]] {activation = #attn.activation<silu>, gated} : tensor<?x?x2xf32>, tensor<2x4xf32> -> tensor<?x?x2xf32>
// CHECK-NEXT: return %[[L]]
// LOC-LABEL: func.func @pair_silu
// LOC: attn.linear {{.*}} loc(fused["gate", "up", "mul"])
func.func @pair_silu(%x: tensor<?x?x2xf32>) -> tensor<?x?x2xf32> {
  %wg = arith.constant dense<[[1.0, 2.0], [3.0, 4.0]]> : tensor<2x2xf32>
  %wu = arith.constant dense<[[5.0, 6.0], [7.0, 8.0]]> : tensor<2x2xf32>
  %g = attn.linear %x, %wg {activation = #attn.activation<silu>} : tensor<?x?x2xf32>, tensor<2x2xf32> -> tensor<?x?x2xf32> loc("gate")
  %u = attn.linear %x, %wu : tensor<?x?x2xf32>, tensor<2x2xf32> -> tensor<?x?x2xf32> loc("up")
  %y = attn.mul %g, %u : tensor<?x?x2xf32>, tensor<?x?x2xf32> -> tensor<?x?x2xf32> loc("mul")
  return %y : tensor<?x?x2xf32>
}

// -----

// The up projection on the left of the mul, a bias only on the up
// projection (zeros for the gate half), GELU.
// CHECK-LABEL: func.func @pair_bias_swapped
// CHECK-DAG: %[[W:.*]] = arith.constant dense<{{\[}}[1.000000e+00, 2.000000e+00, 5.000000e+00, 6.000000e+00]]> : tensor<1x4xf32>
// CHECK-DAG: %[[B:.*]] = arith.constant dense<[0.000000e+00, 0.000000e+00, 3.000000e+00, 4.000000e+00]> : tensor<4xf32>
// CHECK: %[[L:.*]] = attn.linear %arg0, %[[W]] bias(%[[B]] : tensor<4xf32>) {activation = #attn.activation<gelu>, gated} : tensor<3x1xf32>, tensor<1x4xf32> -> tensor<3x2xf32>
// CHECK-NEXT: return %[[L]]
func.func @pair_bias_swapped(%x: tensor<3x1xf32>) -> tensor<3x2xf32> {
  %wg = arith.constant dense<[[1.0, 2.0]]> : tensor<1x2xf32>
  %wu = arith.constant dense<[[5.0, 6.0]]> : tensor<1x2xf32>
  %bu = arith.constant dense<[3.0, 4.0]> : tensor<2xf32>
  %g = attn.linear %x, %wg {activation = #attn.activation<gelu>} : tensor<3x1xf32>, tensor<1x2xf32> -> tensor<3x2xf32>
  %u = attn.linear %x, %wu bias(%bu : tensor<2xf32>) : tensor<3x1xf32>, tensor<1x2xf32> -> tensor<3x2xf32>
  %y = attn.mul %u, %g : tensor<3x2xf32>, tensor<3x2xf32> -> tensor<3x2xf32>
  return %y : tensor<3x2xf32>
}

// -----

// Weights that are not constants: attn.concat.
// CHECK-LABEL: func.func @pair_runtime_weights
// CHECK-NEXT: %[[W:.*]] = attn.concat %arg1, %arg2 {axis = 1 : i64} : tensor<8x16xf32>, tensor<8x16xf32> -> tensor<8x32xf32>
// CHECK-NEXT: %[[L:.*]] = attn.linear %arg0, %[[W]] {activation = #attn.activation<silu>, gated} : tensor<4x8xf32>, tensor<8x32xf32> -> tensor<4x16xf32>
// CHECK-NEXT: return %[[L]]
func.func @pair_runtime_weights(%x: tensor<4x8xf32>, %wg: tensor<8x16xf32>, %wu: tensor<8x16xf32>) -> tensor<4x16xf32> {
  %g = attn.linear %x, %wg {activation = #attn.activation<silu>} : tensor<4x8xf32>, tensor<8x16xf32> -> tensor<4x16xf32>
  %u = attn.linear %x, %wu : tensor<4x8xf32>, tensor<8x16xf32> -> tensor<4x16xf32>
  %y = attn.mul %g, %u : tensor<4x16xf32>, tensor<4x16xf32> -> tensor<4x16xf32>
  return %y : tensor<4x16xf32>
}

// -----

// Not fused: different inputs; a projection with another user; both
// projections with an activation.
// CHECK-LABEL: func.func @pair_negative
// CHECK-NOT: gated
func.func @pair_negative(%x: tensor<4x8xf32>, %x2: tensor<4x8xf32>, %wg: tensor<8x16xf32>, %wu: tensor<8x16xf32>) -> (tensor<4x16xf32>, tensor<4x16xf32>, tensor<4x16xf32>, tensor<4x16xf32>) {
  %g = attn.linear %x, %wg {activation = #attn.activation<silu>} : tensor<4x8xf32>, tensor<8x16xf32> -> tensor<4x16xf32>
  %u = attn.linear %x2, %wu : tensor<4x8xf32>, tensor<8x16xf32> -> tensor<4x16xf32>
  %y = attn.mul %g, %u : tensor<4x16xf32>, tensor<4x16xf32> -> tensor<4x16xf32>
  %g2 = attn.linear %x, %wg {activation = #attn.activation<silu>} : tensor<4x8xf32>, tensor<8x16xf32> -> tensor<4x16xf32>
  %u2 = attn.linear %x, %wu : tensor<4x8xf32>, tensor<8x16xf32> -> tensor<4x16xf32>
  %y2 = attn.mul %g2, %u2 : tensor<4x16xf32>, tensor<4x16xf32> -> tensor<4x16xf32>
  %g3 = attn.linear %x, %wg {activation = #attn.activation<silu>} : tensor<4x8xf32>, tensor<8x16xf32> -> tensor<4x16xf32>
  %u3 = attn.linear %x, %wu {activation = #attn.activation<relu>} : tensor<4x8xf32>, tensor<8x16xf32> -> tensor<4x16xf32>
  %y3 = attn.mul %g3, %u3 : tensor<4x16xf32>, tensor<4x16xf32> -> tensor<4x16xf32>
  return %y, %y2, %u2, %y3 : tensor<4x16xf32>, tensor<4x16xf32>, tensor<4x16xf32>, tensor<4x16xf32>
}

// -----

// Phi-3: one packed projection [K, 2N'], its halves sliced, SiLU (as
// x * sigmoid(x)) on the first: the linear itself becomes gated.
// CHECK-LABEL: func.func @packed_silu
// CHECK-NEXT: %[[L:.*]] = attn.linear %arg0, %arg1 {activation = #attn.activation<silu>, gated} : tensor<?x?x8xf32>, tensor<8x32xf32> -> tensor<?x?x16xf32>
// CHECK-NEXT: return %[[L]]
func.func @packed_silu(%x: tensor<?x?x8xf32>, %w: tensor<8x32xf32>) -> tensor<?x?x16xf32> {
  %c0 = arith.constant dense<0> : tensor<1xi64>
  %c16 = arith.constant dense<16> : tensor<1xi64>
  %c32 = arith.constant dense<9223372036854775807> : tensor<1xi64>
  %ax = arith.constant dense<-1> : tensor<1xi64>
  %st = arith.constant dense<1> : tensor<1xi64>
  %gu = attn.linear %x, %w : tensor<?x?x8xf32>, tensor<8x32xf32> -> tensor<?x?x32xf32>
  %g = attn.slice %gu[%c0 : %c16, axes %ax, steps %st] : (tensor<?x?x32xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<?x?x16xf32>
  %u = attn.slice %gu[%c16 : %c32, axes %ax, steps %st] : (tensor<?x?x32xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<?x?x16xf32>
  %s = attn.sigmoid %g : tensor<?x?x16xf32>
  %a = attn.mul %g, %s : tensor<?x?x16xf32>, tensor<?x?x16xf32> -> tensor<?x?x16xf32>
  %y = attn.mul %u, %a : tensor<?x?x16xf32>, tensor<?x?x16xf32> -> tensor<?x?x16xf32>
  return %y : tensor<?x?x16xf32>
}

// -----

// The same with a bias, x / (1 + exp(-x)), and with tanh GELU (axis 2 =
// the last); halves in the wrong order are not a gated MLP.
// CHECK-LABEL: func.func @packed_variants
// CHECK: %[[A:.*]] = attn.linear %arg0, %arg1 bias(%arg2 : tensor<32xf32>) {activation = #attn.activation<silu>, gated} : tensor<2x3x8xf32>, tensor<8x32xf32> -> tensor<2x3x16xf32>
// CHECK: %[[B:.*]] = attn.linear %arg0, %arg1 {activation = #attn.activation<gelu_tanh>, gated} : tensor<2x3x8xf32>, tensor<8x32xf32> -> tensor<2x3x16xf32>
// CHECK: %[[C:.*]] = attn.linear %arg0, %arg1 : tensor<2x3x8xf32>, tensor<8x32xf32> -> tensor<2x3x32xf32>
// CHECK: attn.gelu
// CHECK: return %[[A]], %[[B]]
func.func @packed_variants(%x: tensor<2x3x8xf32>, %w: tensor<8x32xf32>, %b: tensor<32xf32>) -> (tensor<2x3x16xf32>, tensor<2x3x16xf32>, tensor<2x3x16xf32>) {
  %c0 = arith.constant dense<0> : tensor<1xi64>
  %c16 = arith.constant dense<16> : tensor<1xi64>
  %c32 = arith.constant dense<32> : tensor<1xi64>
  %ax = arith.constant dense<2> : tensor<1xi64>
  %st = arith.constant dense<1> : tensor<1xi64>
  %one = arith.constant dense<1.0> : tensor<f32>
  %gu = attn.linear %x, %w bias(%b : tensor<32xf32>) : tensor<2x3x8xf32>, tensor<8x32xf32> -> tensor<2x3x32xf32>
  %g = attn.slice %gu[%c0 : %c16, axes %ax, steps %st] : (tensor<2x3x32xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<2x3x16xf32>
  %u = attn.slice %gu[%c16 : %c32, axes %ax, steps %st] : (tensor<2x3x32xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<2x3x16xf32>
  %n = attn.neg %g : tensor<2x3x16xf32>
  %e = attn.exp %n : tensor<2x3x16xf32>
  %d = attn.add %e, %one : tensor<2x3x16xf32>, tensor<f32> -> tensor<2x3x16xf32>
  %a = attn.div %g, %d : tensor<2x3x16xf32>, tensor<2x3x16xf32> -> tensor<2x3x16xf32>
  %y = attn.mul %a, %u : tensor<2x3x16xf32>, tensor<2x3x16xf32> -> tensor<2x3x16xf32>
  %gu2 = attn.linear %x, %w : tensor<2x3x8xf32>, tensor<8x32xf32> -> tensor<2x3x32xf32>
  %g2 = attn.slice %gu2[%c0 : %c16, axes %ax, steps %st] : (tensor<2x3x32xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<2x3x16xf32>
  %u2 = attn.slice %gu2[%c16 : %c32, axes %ax, steps %st] : (tensor<2x3x32xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<2x3x16xf32>
  %a2 = attn.gelu %g2 {tanh_approximation} : tensor<2x3x16xf32>
  %y2 = attn.mul %a2, %u2 : tensor<2x3x16xf32>, tensor<2x3x16xf32> -> tensor<2x3x16xf32>
  %gu3 = attn.linear %x, %w : tensor<2x3x8xf32>, tensor<8x32xf32> -> tensor<2x3x32xf32>
  %g3 = attn.slice %gu3[%c16 : %c32, axes %ax, steps %st] : (tensor<2x3x32xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<2x3x16xf32>
  %u3 = attn.slice %gu3[%c0 : %c16, axes %ax, steps %st] : (tensor<2x3x32xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<2x3x16xf32>
  %a3 = attn.gelu %g3 : tensor<2x3x16xf32>
  %y3 = attn.mul %a3, %u3 : tensor<2x3x16xf32>, tensor<2x3x16xf32> -> tensor<2x3x16xf32>
  return %y, %y2, %y3 : tensor<2x3x16xf32>, tensor<2x3x16xf32>, tensor<2x3x16xf32>
}
