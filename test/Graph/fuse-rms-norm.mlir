// RUN: attn-opt %s -split-input-file -attn-fuse-rms-norm | FileCheck %s

// TorchScript's Llama RMSNorm: Pow, ReduceMean, Add eps, Sqrt, Div(1, .),
// Mul x, Mul weight.
// CHECK-LABEL: func @llama_ts
// CHECK-SAME:    (%[[X:.*]]: tensor<?x?x64xf32>, %[[W:.*]]: tensor<64xf32>)
// CHECK-NEXT:    %[[R:.*]] = attn.rms_norm %[[X]], %[[W]] {axis = 2 : i64, epsilon = 9.9999999747524271E-7 : f64} : tensor<?x?x64xf32>, tensor<64xf32> -> tensor<?x?x64xf32>
// CHECK-NEXT:    return %[[R]]
func.func @llama_ts(%x: tensor<?x?x64xf32>, %w: tensor<64xf32>) -> tensor<?x?x64xf32> {
  %two = arith.constant dense<2.0> : tensor<f32>
  %eps = arith.constant dense<1.0e-6> : tensor<f32>
  %one = arith.constant dense<1.0> : tensor<f32>
  %0 = attn.pow %x, %two : tensor<?x?x64xf32>, tensor<f32> -> tensor<?x?x64xf32>
  %1 = attn.reduce mean %0 {axes = array<i64: 2>, keepdims = true} : tensor<?x?x64xf32> -> tensor<?x?x1xf32>
  %2 = attn.add %1, %eps : tensor<?x?x1xf32>, tensor<f32> -> tensor<?x?x1xf32>
  %3 = attn.sqrt %2 : tensor<?x?x1xf32>
  %4 = attn.div %one, %3 : tensor<f32>, tensor<?x?x1xf32> -> tensor<?x?x1xf32>
  %5 = attn.mul %x, %4 : tensor<?x?x64xf32>, tensor<?x?x1xf32> -> tensor<?x?x64xf32>
  %6 = attn.mul %w, %5 : tensor<64xf32>, tensor<?x?x64xf32> -> tensor<?x?x64xf32>
  return %6 : tensor<?x?x64xf32>
}

// -----

// The dynamo form (Reciprocal, operands swapped), x = a + b used again
// later (the residual stream): the add is the residual operand and its
// other user reads the op's second result.
// CHECK-LABEL: func @dynamo_residual_sum
// CHECK-SAME:    (%[[A:.*]]: tensor<2x5x32xf32>, %[[B:.*]]: tensor<2x5x32xf32>, %[[W:.*]]: tensor<32xf32>, %[[C:.*]]: tensor<2x5x32xf32>)
// CHECK-NEXT:    %[[R:.*]]:2 = attn.rms_norm %[[A]] residual(%[[B]] : tensor<2x5x32xf32>), %[[W]] {axis = 2 : i64, epsilon = 9.9999997473787516E-6 : f64} : tensor<2x5x32xf32>, tensor<32xf32> -> tensor<2x5x32xf32>, tensor<2x5x32xf32>
// CHECK-NEXT:    %[[S:.*]] = attn.add %[[R]]#1, %[[C]]
// CHECK-NEXT:    return %[[R]]#0, %[[S]]
func.func @dynamo_residual_sum(%a: tensor<2x5x32xf32>, %b: tensor<2x5x32xf32>, %w: tensor<32xf32>, %c: tensor<2x5x32xf32>) -> (tensor<2x5x32xf32>, tensor<2x5x32xf32>) {
  %two = arith.constant dense<2.0> : tensor<f32>
  %eps = arith.constant dense<1.0e-5> : tensor<f32>
  %x = attn.add %a, %b : tensor<2x5x32xf32>, tensor<2x5x32xf32> -> tensor<2x5x32xf32>
  %0 = attn.pow %x, %two : tensor<2x5x32xf32>, tensor<f32> -> tensor<2x5x32xf32>
  %1 = attn.reduce mean %0 {axes = array<i64: -1>, keepdims = true} : tensor<2x5x32xf32> -> tensor<2x5x1xf32>
  %2 = attn.add %eps, %1 : tensor<f32>, tensor<2x5x1xf32> -> tensor<2x5x1xf32>
  %3 = attn.sqrt %2 : tensor<2x5x1xf32>
  %4 = attn.reciprocal %3 : tensor<2x5x1xf32>
  %5 = attn.mul %4, %x : tensor<2x5x1xf32>, tensor<2x5x32xf32> -> tensor<2x5x32xf32>
  %6 = attn.mul %5, %w : tensor<2x5x32xf32>, tensor<32xf32> -> tensor<2x5x32xf32>
  %7 = attn.add %x, %c : tensor<2x5x32xf32>, tensor<2x5x32xf32> -> tensor<2x5x32xf32>
  return %6, %7 : tensor<2x5x32xf32>, tensor<2x5x32xf32>
}

// -----

// The sum used by nothing else: residual operand, one result. Square as
// Mul(x, x), Div(x, sqrt) instead of a reciprocal.
// CHECK-LABEL: func @residual_div
// CHECK-SAME:    (%[[A:.*]]: tensor<3x16xf32>, %[[B:.*]]: tensor<3x16xf32>, %[[W:.*]]: tensor<16xf32>)
// CHECK-NEXT:    %[[R:.*]] = attn.rms_norm %[[A]] residual(%[[B]] : tensor<3x16xf32>), %[[W]] {axis = 1 : i64, epsilon = 0.0{{0*}}e+00 : f64} : tensor<3x16xf32>, tensor<16xf32> -> tensor<3x16xf32>
// CHECK-NEXT:    return %[[R]]
func.func @residual_div(%a: tensor<3x16xf32>, %b: tensor<3x16xf32>, %w: tensor<16xf32>) -> tensor<3x16xf32> {
  %eps = arith.constant dense<0.0> : tensor<f32>
  %x = attn.add %a, %b : tensor<3x16xf32>, tensor<3x16xf32> -> tensor<3x16xf32>
  %0 = attn.mul %x, %x : tensor<3x16xf32>, tensor<3x16xf32> -> tensor<3x16xf32>
  %1 = attn.reduce mean %0 {axes = array<i64: 1>, keepdims = true} : tensor<3x16xf32> -> tensor<3x1xf32>
  %2 = attn.add %1, %eps : tensor<3x1xf32>, tensor<f32> -> tensor<3x1xf32>
  %3 = attn.sqrt %2 : tensor<3x1xf32>
  %4 = attn.div %x, %3 : tensor<3x16xf32>, tensor<3x1xf32> -> tensor<3x16xf32>
  %5 = attn.mul %4, %w : tensor<3x16xf32>, tensor<16xf32> -> tensor<3x16xf32>
  return %5 : tensor<3x16xf32>
}

// -----

// Gemma: the weight is (1 + w), w a constant: folded into a new constant;
// the weight given as [1, 1, 4] loses its leading ones.
// CHECK-LABEL: func @gemma
// CHECK-DAG:     %[[S:.*]] = arith.constant dense<[1.500000e+00, 2.000000e+00, 0.000000e+00, 1.250000e+00]> : tensor<4xf32>
// CHECK:         %[[R:.*]] = attn.rms_norm %{{.*}}, %[[S]] {axis = 2 : i64, epsilon = 9.9999999747524271E-7 : f64} : tensor<2x3x4xf32>, tensor<4xf32> -> tensor<2x3x4xf32>
// CHECK-NEXT:    return %[[R]]
// CHECK-NOT:     attn.add
func.func @gemma(%x: tensor<2x3x4xf32>) -> tensor<2x3x4xf32> {
  %two = arith.constant dense<2.0> : tensor<f32>
  %eps = arith.constant dense<1.0e-6> : tensor<f32>
  %one = arith.constant dense<1.0> : tensor<f32>
  %w = arith.constant dense<[[[0.5, 1.0, -1.0, 0.25]]]> : tensor<1x1x4xf32>
  %w1 = attn.add %w, %one : tensor<1x1x4xf32>, tensor<f32> -> tensor<1x1x4xf32>
  %0 = attn.pow %x, %two : tensor<2x3x4xf32>, tensor<f32> -> tensor<2x3x4xf32>
  %1 = attn.reduce mean %0 {axes = array<i64: 2>, keepdims = true} : tensor<2x3x4xf32> -> tensor<2x3x1xf32>
  %2 = attn.add %1, %eps : tensor<2x3x1xf32>, tensor<f32> -> tensor<2x3x1xf32>
  %3 = attn.sqrt %2 : tensor<2x3x1xf32>
  %4 = attn.reciprocal %3 : tensor<2x3x1xf32>
  %5 = attn.mul %x, %4 : tensor<2x3x4xf32>, tensor<2x3x1xf32> -> tensor<2x3x4xf32>
  %6 = attn.mul %5, %w1 : tensor<2x3x4xf32>, tensor<1x1x4xf32> -> tensor<2x3x4xf32>
  return %6 : tensor<2x3x4xf32>
}

// -----

// f16 model computing the norm in f32: Cast up, Cast back, weight in f16.
// No weight at all: a scale of ones. Two trailing dims normalized.
// CHECK-LABEL: func @cast_form
// CHECK-SAME:    (%[[X:.*]]: tensor<4x8xf16>, %[[W:.*]]: tensor<8xf16>)
// CHECK-NEXT:    %[[R:.*]] = attn.rms_norm %[[X]], %[[W]] {axis = 1 : i64, {{.*}}} : tensor<4x8xf16>, tensor<8xf16> -> tensor<4x8xf16>
// CHECK-NEXT:    return %[[R]]
func.func @cast_form(%x: tensor<4x8xf16>, %w: tensor<8xf16>) -> tensor<4x8xf16> {
  %two = arith.constant dense<2.0> : tensor<f32>
  %eps = arith.constant dense<1.0e-6> : tensor<f32>
  %xf = attn.cast %x : tensor<4x8xf16> to tensor<4x8xf32>
  %0 = attn.pow %xf, %two : tensor<4x8xf32>, tensor<f32> -> tensor<4x8xf32>
  %1 = attn.reduce mean %0 {axes = array<i64: 1>, keepdims = true} : tensor<4x8xf32> -> tensor<4x1xf32>
  %2 = attn.add %1, %eps : tensor<4x1xf32>, tensor<f32> -> tensor<4x1xf32>
  %3 = attn.sqrt %2 : tensor<4x1xf32>
  %4 = attn.reciprocal %3 : tensor<4x1xf32>
  %5 = attn.mul %xf, %4 : tensor<4x8xf32>, tensor<4x1xf32> -> tensor<4x8xf32>
  %6 = attn.cast %5 : tensor<4x8xf32> to tensor<4x8xf16>
  %7 = attn.mul %w, %6 : tensor<8xf16>, tensor<4x8xf16> -> tensor<4x8xf16>
  return %7 : tensor<4x8xf16>
}

// CHECK-LABEL: func @no_weight_two_dims
// CHECK:         %[[ONES:.*]] = arith.constant dense<1.000000e+00> : tensor<3x8xf32>
// CHECK:         attn.rms_norm %{{.*}}, %[[ONES]] {axis = 1 : i64, {{.*}}} : tensor<2x3x8xf32>, tensor<3x8xf32> -> tensor<2x3x8xf32>
// CHECK-NOT:     attn.reduce
func.func @no_weight_two_dims(%x: tensor<2x3x8xf32>) -> tensor<2x3x8xf32> {
  %two = arith.constant dense<2.0> : tensor<f32>
  %eps = arith.constant dense<1.0e-6> : tensor<f32>
  %0 = attn.pow %x, %two : tensor<2x3x8xf32>, tensor<f32> -> tensor<2x3x8xf32>
  %1 = attn.reduce mean %0 {axes = array<i64: 1, 2>, keepdims = true} : tensor<2x3x8xf32> -> tensor<2x1x1xf32>
  %2 = attn.add %1, %eps : tensor<2x1x1xf32>, tensor<f32> -> tensor<2x1x1xf32>
  %3 = attn.sqrt %2 : tensor<2x1x1xf32>
  %4 = attn.reciprocal %3 : tensor<2x1x1xf32>
  %5 = attn.mul %x, %4 : tensor<2x3x8xf32>, tensor<2x1x1xf32> -> tensor<2x3x8xf32>
  return %5 : tensor<2x3x8xf32>
}

// -----

// Not RMSNorm: the mean over a leading dim, a square of something else, an
// interior value with another user, a non-scalar epsilon.
// CHECK-LABEL: func @not_matched
// CHECK-NOT:     attn.rms_norm
func.func @not_matched(%x: tensor<4x8xf32>, %y: tensor<4x8xf32>, %e: tensor<4x1xf32>) -> (tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x1xf32>, tensor<4x8xf32>) {
  %two = arith.constant dense<2.0> : tensor<f32>
  %eps = arith.constant dense<1.0e-6> : tensor<f32>
  %0 = attn.pow %x, %two : tensor<4x8xf32>, tensor<f32> -> tensor<4x8xf32>
  %1 = attn.reduce mean %0 {axes = array<i64: 0>, keepdims = true} : tensor<4x8xf32> -> tensor<1x8xf32>
  %2 = attn.add %1, %eps : tensor<1x8xf32>, tensor<f32> -> tensor<1x8xf32>
  %3 = attn.sqrt %2 : tensor<1x8xf32>
  %4 = attn.reciprocal %3 : tensor<1x8xf32>
  %5 = attn.mul %x, %4 : tensor<4x8xf32>, tensor<1x8xf32> -> tensor<4x8xf32>
  // Square of %y, normalizing %x.
  %10 = attn.pow %y, %two : tensor<4x8xf32>, tensor<f32> -> tensor<4x8xf32>
  %11 = attn.reduce mean %10 {axes = array<i64: 1>, keepdims = true} : tensor<4x8xf32> -> tensor<4x1xf32>
  %12 = attn.add %11, %eps : tensor<4x1xf32>, tensor<f32> -> tensor<4x1xf32>
  %13 = attn.sqrt %12 : tensor<4x1xf32>
  %14 = attn.reciprocal %13 : tensor<4x1xf32>
  %15 = attn.mul %x, %14 : tensor<4x8xf32>, tensor<4x1xf32> -> tensor<4x8xf32>
  // The mean square is also returned.
  %20 = attn.pow %x, %two : tensor<4x8xf32>, tensor<f32> -> tensor<4x8xf32>
  %21 = attn.reduce mean %20 {axes = array<i64: 1>, keepdims = true} : tensor<4x8xf32> -> tensor<4x1xf32>
  %22 = attn.add %21, %eps : tensor<4x1xf32>, tensor<f32> -> tensor<4x1xf32>
  %23 = attn.sqrt %22 : tensor<4x1xf32>
  %24 = attn.reciprocal %23 : tensor<4x1xf32>
  %25 = attn.mul %x, %24 : tensor<4x8xf32>, tensor<4x1xf32> -> tensor<4x8xf32>
  // Epsilon per row (not a constant).
  %30 = attn.pow %y, %two : tensor<4x8xf32>, tensor<f32> -> tensor<4x8xf32>
  %31 = attn.reduce mean %30 {axes = array<i64: 1>, keepdims = true} : tensor<4x8xf32> -> tensor<4x1xf32>
  %32 = attn.add %31, %e : tensor<4x1xf32>, tensor<4x1xf32> -> tensor<4x1xf32>
  %33 = attn.sqrt %32 : tensor<4x1xf32>
  %34 = attn.reciprocal %33 : tensor<4x1xf32>
  %35 = attn.mul %y, %34 : tensor<4x8xf32>, tensor<4x1xf32> -> tensor<4x8xf32>
  %40 = attn.add %5, %15 : tensor<4x8xf32>, tensor<4x8xf32> -> tensor<4x8xf32>
  return %40, %25, %21, %35 : tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x1xf32>, tensor<4x8xf32>
}
