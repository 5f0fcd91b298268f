// RUN: attn-opt %s -split-input-file -verify-diagnostics

// One case per verifier / type-inference error in dialects/lib/AttnOps.cpp.
// Custom verifiers run before the inferred-result-type check, so inference
// errors come with a second "failed to infer returned types" error.

//===----------------------------------------------------------------------===//
// Broadcasting binary ops
//===----------------------------------------------------------------------===//

func.func @binary_element_types(%a: tensor<2xf32>, %b: tensor<2xf16>) -> tensor<2xf32> {
  // expected-error @+1 {{'attn.add' op operand element types differ: 'f32' vs 'f16'}}
  %0 = attn.add %a, %b : tensor<2xf32>, tensor<2xf16> -> tensor<2xf32>
  return %0 : tensor<2xf32>
}

// -----

func.func @binary_result_element_type(%a: tensor<2xf32>, %b: tensor<2xf32>) -> tensor<2xf16> {
  // expected-error @+1 {{'attn.mul' op result element type must be 'f32'}}
  %0 = attn.mul %a, %b : tensor<2xf32>, tensor<2xf32> -> tensor<2xf16>
  return %0 : tensor<2xf16>
}

// -----

func.func @logical_needs_i1(%a: tensor<2xf32>, %b: tensor<2xf32>) -> tensor<2xf32> {
  // expected-error @+1 {{'attn.and' op expects i1 operands, got 'f32'}}
  %0 = attn.and %a, %b : tensor<2xf32>, tensor<2xf32> -> tensor<2xf32>
  return %0 : tensor<2xf32>
}

// -----

func.func @binary_no_broadcast(%a: tensor<2x3xf32>, %b: tensor<2xf32>) -> tensor<2x3xf32> {
  // expected-error @+2 {{operand shapes [2, 3] and [2] do not broadcast}}
  // expected-error @+1 {{'attn.sub' op failed to infer returned types}}
  %0 = attn.sub %a, %b : tensor<2x3xf32>, tensor<2xf32> -> tensor<2x3xf32>
  return %0 : tensor<2x3xf32>
}

// -----

func.func @binary_wrong_result_shape(%a: tensor<2x3xf32>) -> tensor<2x4xf32> {
  // expected-error @+2 {{'attn.add' op inferred type(s) 'tensor<2x3xf32>' are incompatible with return type(s) of operation 'tensor<2x4xf32>'}}
  // expected-error @+1 {{'attn.add' op failed to infer returned types}}
  %0 = attn.add %a, %a : tensor<2x3xf32>, tensor<2x3xf32> -> tensor<2x4xf32>
  return %0 : tensor<2x4xf32>
}

// -----

//===----------------------------------------------------------------------===//
// cmp / select / cast
//===----------------------------------------------------------------------===//

func.func @cmp_element_types(%a: tensor<2xi64>, %b: tensor<2xi32>) -> tensor<2xi1> {
  // expected-error @+1 {{'attn.cmp' op operand element types differ}}
  %0 = attn.cmp eq, %a, %b : tensor<2xi64>, tensor<2xi32> -> tensor<2xi1>
  return %0 : tensor<2xi1>
}

// -----

func.func @cmp_no_broadcast(%a: tensor<3xi64>, %b: tensor<2xi64>) -> tensor<3xi1> {
  // expected-error @+2 {{operand shapes [3] and [2] do not broadcast}}
  // expected-error @+1 {{'attn.cmp' op failed to infer returned types}}
  %0 = attn.cmp lt, %a, %b : tensor<3xi64>, tensor<2xi64> -> tensor<3xi1>
  return %0 : tensor<3xi1>
}

// -----

func.func @select_element_types(%c: tensor<2xi1>, %a: tensor<2xf32>, %b: tensor<2xf16>) -> tensor<2xf32> {
  // expected-error @+1 {{'attn.select' op true and false values have different element types}}
  %0 = attn.select %c, %a, %b : tensor<2xi1>, tensor<2xf32>, tensor<2xf16> -> tensor<2xf32>
  return %0 : tensor<2xf32>
}

// -----

func.func @select_values_no_broadcast(%c: tensor<2xi1>, %a: tensor<3xf32>, %b: tensor<2xf32>) -> tensor<3xf32> {
  // expected-error @+2 {{operand shapes [3] and [2] do not broadcast}}
  // expected-error @+1 {{'attn.select' op failed to infer returned types}}
  %0 = attn.select %c, %a, %b : tensor<2xi1>, tensor<3xf32>, tensor<2xf32> -> tensor<3xf32>
  return %0 : tensor<3xf32>
}

// -----

func.func @select_condition_no_broadcast(%c: tensor<4xi1>, %a: tensor<2x3xf32>, %b: tensor<f32>) -> tensor<2x3xf32> {
  // expected-error @+2 {{operand shapes [4] and [2, 3] do not broadcast}}
  // expected-error @+1 {{'attn.select' op failed to infer returned types}}
  %0 = attn.select %c, %a, %b : tensor<4xi1>, tensor<2x3xf32>, tensor<f32> -> tensor<2x3xf32>
  return %0 : tensor<2x3xf32>
}

// -----

func.func @cast_shape(%a: tensor<2x3xf32>) -> tensor<3x2xf16> {
  // expected-error @+1 {{'attn.cast' op result shape [3, 2] differs from input shape [2, 3]}}
  %0 = attn.cast %a : tensor<2x3xf32> to tensor<3x2xf16>
  return %0 : tensor<3x2xf16>
}

// -----

//===----------------------------------------------------------------------===//
// matmul / transpose
//===----------------------------------------------------------------------===//

func.func @matmul_rank0(%a: tensor<f32>, %b: tensor<4xf32>) -> tensor<f32> {
  // expected-error @+2 {{cannot multiply [] by [4]: matmul operands must have rank >= 1}}
  // expected-error @+1 {{'attn.matmul' op failed to infer returned types}}
  %0 = attn.matmul %a, %b : tensor<f32>, tensor<4xf32> -> tensor<f32>
  return %0 : tensor<f32>
}

// -----

func.func @matmul_contracting(%a: tensor<2x3xf32>, %b: tensor<4x5xf32>) -> tensor<2x5xf32> {
  // expected-error @+2 {{cannot multiply [2, 3] by [4, 5]: contracting dims differ (3 vs 4)}}
  // expected-error @+1 {{'attn.matmul' op failed to infer returned types}}
  %0 = attn.matmul %a, %b : tensor<2x3xf32>, tensor<4x5xf32> -> tensor<2x5xf32>
  return %0 : tensor<2x5xf32>
}

// -----

func.func @matmul_batch(%a: tensor<2x8x3xf32>, %b: tensor<4x3x5xf32>) -> tensor<2x8x5xf32> {
  // expected-error @+2 {{cannot multiply [2, 8, 3] by [4, 3, 5]: batch dims do not broadcast}}
  // expected-error @+1 {{'attn.matmul' op failed to infer returned types}}
  %0 = attn.matmul %a, %b : tensor<2x8x3xf32>, tensor<4x3x5xf32> -> tensor<2x8x5xf32>
  return %0 : tensor<2x8x5xf32>
}

// -----

func.func @matmul_element_types(%a: tensor<2x3xf32>, %b: tensor<3x5xf16>) -> tensor<2x5xf32> {
  // expected-error @+1 {{'attn.matmul' op operand element types differ}}
  %0 = attn.matmul %a, %b : tensor<2x3xf32>, tensor<3x5xf16> -> tensor<2x5xf32>
  return %0 : tensor<2x5xf32>
}

// -----

func.func @transpose_perm_size(%a: tensor<2x3x4xf32>) -> tensor<3x2xf32> {
  // expected-error @+2 {{perm has 2 entries but the input has rank 3}}
  // expected-error @+1 {{'attn.transpose' op failed to infer returned types}}
  %0 = attn.transpose %a, [1, 0] : tensor<2x3x4xf32> -> tensor<3x2xf32>
  return %0 : tensor<3x2xf32>
}

// -----

func.func @transpose_not_permutation(%a: tensor<2x3x4xf32>) -> tensor<3x3x4xf32> {
  // expected-error @+2 {{perm [1, 1, 2] is not a permutation of [0, 3)}}
  // expected-error @+1 {{'attn.transpose' op failed to infer returned types}}
  %0 = attn.transpose %a, [1, 1, 2] : tensor<2x3x4xf32> -> tensor<3x3x4xf32>
  return %0 : tensor<3x3x4xf32>
}

// -----

func.func @transpose_out_of_range(%a: tensor<2x3xf32>) -> tensor<3x2xf32> {
  // expected-error @+2 {{perm [1, 2] is not a permutation of [0, 2)}}
  // expected-error @+1 {{'attn.transpose' op failed to infer returned types}}
  %0 = attn.transpose %a, [1, 2] : tensor<2x3xf32> -> tensor<3x2xf32>
  return %0 : tensor<3x2xf32>
}

// -----

//===----------------------------------------------------------------------===//
// reshape / expand
//===----------------------------------------------------------------------===//

func.func @reshape_shape_rank(%a: tensor<6xf32>, %s: tensor<1x2xi64>) -> tensor<2x3xf32> {
  // expected-error @+1 {{'attn.reshape' op shape must be a 1-D tensor}}
  %0 = attn.reshape %a, %s : tensor<6xf32>, tensor<1x2xi64> -> tensor<2x3xf32>
  return %0 : tensor<2x3xf32>
}

// -----

func.func @reshape_shape_entries(%a: tensor<6xf32>, %s: tensor<3xi64>) -> tensor<2x3xf32> {
  // expected-error @+1 {{'attn.reshape' op shape has 3 entries but the result has rank 2}}
  %0 = attn.reshape %a, %s : tensor<6xf32>, tensor<3xi64> -> tensor<2x3xf32>
  return %0 : tensor<2x3xf32>
}

// -----

func.func @reshape_element_type(%a: tensor<6xf32>, %s: tensor<2xi64>) -> tensor<2x3xf16> {
  // expected-error @+1 {{'attn.reshape' op element type changes}}
  %0 = attn.reshape %a, %s : tensor<6xf32>, tensor<2xi64> -> tensor<2x3xf16>
  return %0 : tensor<2x3xf16>
}

// -----

func.func @reshape_element_count(%a: tensor<6xf32>, %s: tensor<2xi64>) -> tensor<2x4xf32> {
  // expected-error @+1 {{'attn.reshape' op cannot reshape [6] (6 elements) to [2, 4]}}
  %0 = attn.reshape %a, %s : tensor<6xf32>, tensor<2xi64> -> tensor<2x4xf32>
  return %0 : tensor<2x4xf32>
}

// -----

func.func @expand_shape_rank(%a: tensor<3xf32>, %s: tensor<1x2xi64>) -> tensor<2x3xf32> {
  // expected-error @+1 {{'attn.expand' op shape must be a 1-D tensor}}
  %0 = attn.expand %a, %s : tensor<3xf32>, tensor<1x2xi64> -> tensor<2x3xf32>
  return %0 : tensor<2x3xf32>
}

// -----

func.func @expand_rank(%a: tensor<2x3xf32>, %s: tensor<1xi64>) -> tensor<3xf32> {
  // expected-error @+1 {{'attn.expand' op result rank is smaller than the input rank}}
  %0 = attn.expand %a, %s : tensor<2x3xf32>, tensor<1xi64> -> tensor<3xf32>
  return %0 : tensor<3xf32>
}

// -----

func.func @expand_broadcast(%a: tensor<3xf32>, %s: tensor<2xi64>) -> tensor<2x4xf32> {
  // expected-error @+1 {{'attn.expand' op input shape [3] does not broadcast to [2, 4]}}
  %0 = attn.expand %a, %s : tensor<3xf32>, tensor<2xi64> -> tensor<2x4xf32>
  return %0 : tensor<2x4xf32>
}

// -----

//===----------------------------------------------------------------------===//
// concat / slice / gather
//===----------------------------------------------------------------------===//

func.func @concat_no_inputs() -> tensor<2xf32> {
  // expected-error @+2 {{needs at least one input}}
  // expected-error @+1 {{'attn.concat' op failed to infer returned types}}
  %0 = "attn.concat"() <{axis = 0 : i64}> : () -> tensor<2xf32>
  return %0 : tensor<2xf32>
}

// -----

func.func @concat_axis(%a: tensor<2x3xf32>) -> tensor<2x6xf32> {
  // expected-error @+2 {{axis 2 out of range for rank 2}}
  // expected-error @+1 {{'attn.concat' op failed to infer returned types}}
  %0 = attn.concat %a, %a {axis = 2 : i64} : tensor<2x3xf32>, tensor<2x3xf32> -> tensor<2x6xf32>
  return %0 : tensor<2x6xf32>
}

// -----

func.func @concat_rank(%a: tensor<2x3xf32>, %b: tensor<3xf32>) -> tensor<2x6xf32> {
  // expected-error @+2 {{inputs differ in rank or element type}}
  // expected-error @+1 {{'attn.concat' op failed to infer returned types}}
  %0 = attn.concat %a, %b {axis = 1 : i64} : tensor<2x3xf32>, tensor<3xf32> -> tensor<2x6xf32>
  return %0 : tensor<2x6xf32>
}

// -----

func.func @concat_dims(%a: tensor<2x3xf32>, %b: tensor<4x3xf32>) -> tensor<2x6xf32> {
  // expected-error @+2 {{inputs differ in dim 0 (2 vs 4)}}
  // expected-error @+1 {{'attn.concat' op failed to infer returned types}}
  %0 = attn.concat %a, %b {axis = 1 : i64} : tensor<2x3xf32>, tensor<4x3xf32> -> tensor<2x6xf32>
  return %0 : tensor<2x6xf32>
}

// -----

func.func @slice_operands(%a: tensor<4xf32>, %s: tensor<1x1xi64>, %e: tensor<1xi64>) -> tensor<?xf32> {
  // expected-error @+1 {{'attn.slice' op starts, ends, axes and steps must be 1-D tensors}}
  %0 = attn.slice %a[%s : %e, axes %e, steps %e] : (tensor<4xf32>, tensor<1x1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<?xf32>
  return %0 : tensor<?xf32>
}

// -----

func.func @slice_result(%a: tensor<4xf32>, %e: tensor<1xi64>) -> tensor<?x1xf32> {
  // expected-error @+1 {{'attn.slice' op result must have the input's rank and element type}}
  %0 = attn.slice %a[%e : %e, axes %e, steps %e] : (tensor<4xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<?x1xf32>
  return %0 : tensor<?x1xf32>
}

// -----

func.func @gather_axis(%a: tensor<4xf32>, %i: tensor<2xi64>) -> tensor<2xf32> {
  // expected-error @+2 {{axis -2 out of range for rank 1}}
  // expected-error @+1 {{'attn.gather' op failed to infer returned types}}
  %0 = attn.gather %a[%i] {axis = -2 : i64} : tensor<4xf32>, tensor<2xi64> -> tensor<2xf32>
  return %0 : tensor<2xf32>
}

// -----

func.func @gather_elements_axis(%a: tensor<4x3xf32>, %i: tensor<2x3xi64>) -> tensor<2x3xf32> {
  // expected-error @+1 {{'attn.gather_elements' op axis 2 out of range for rank 2}}
  %0 = attn.gather_elements %a[%i] {axis = 2 : i64} : tensor<4x3xf32>, tensor<2x3xi64> -> tensor<2x3xf32>
  return %0 : tensor<2x3xf32>
}

// -----

func.func @gather_elements_rank(%a: tensor<4x3xf32>, %i: tensor<6xi64>) -> tensor<6xf32> {
  // expected-error @+1 {{'attn.gather_elements' op indices must have the rank of data (2), got 1}}
  %0 = attn.gather_elements %a[%i] {axis = 0 : i64} : tensor<4x3xf32>, tensor<6xi64> -> tensor<6xf32>
  return %0 : tensor<6xf32>
}

// -----

func.func @gather_elements_result(%a: tensor<4x3xf32>, %i: tensor<2x3xi64>) -> tensor<2x2xf32> {
  // expected-error @+1 {{'attn.gather_elements' op result must have the shape of indices [2, 3] and the element type of data}}
  %0 = attn.gather_elements %a[%i] {axis = 0 : i64} : tensor<4x3xf32>, tensor<2x3xi64> -> tensor<2x2xf32>
  return %0 : tensor<2x2xf32>
}

// -----

func.func @gather_elements_dim(%a: tensor<4x3xf32>, %i: tensor<2x5xi64>) -> tensor<2x5xf32> {
  // expected-error @+1 {{'attn.gather_elements' op indices dim 1 (5) is larger than data's (3)}}
  %0 = attn.gather_elements %a[%i] {axis = 0 : i64} : tensor<4x3xf32>, tensor<2x5xi64> -> tensor<2x5xf32>
  return %0 : tensor<2x5xf32>
}

// -----

//===----------------------------------------------------------------------===//
// constant_of_shape / range / trilu
//===----------------------------------------------------------------------===//

func.func @constant_of_shape_rank(%s: tensor<1x2xi64>) -> tensor<?x?xf32> {
  // expected-error @+1 {{'attn.constant_of_shape' op shape must be a 1-D tensor}}
  %0 = attn.constant_of_shape %s, 0.0 : f32 : tensor<1x2xi64> -> tensor<?x?xf32>
  return %0 : tensor<?x?xf32>
}

// -----

func.func @constant_of_shape_type(%s: tensor<2xi64>) -> tensor<?x?xf32> {
  // expected-error @+1 {{'attn.constant_of_shape' op fill value type 'i64' differs from the result element type 'f32'}}
  %0 = attn.constant_of_shape %s, 1 : i64 : tensor<2xi64> -> tensor<?x?xf32>
  return %0 : tensor<?x?xf32>
}

// -----

func.func @range_rank(%a: tensor<1xi64>) -> tensor<?xi64> {
  // expected-error @+1 {{'attn.range' op start, limit and delta must be 0-d tensors}}
  %0 = attn.range %a, %a, %a : tensor<1xi64> -> tensor<?xi64>
  return %0 : tensor<?xi64>
}

// -----

func.func @range_element_type(%a: tensor<i64>) -> tensor<?xi32> {
  // expected-error @+1 {{'attn.range' op operand and result element types differ}}
  %0 = attn.range %a, %a, %a : tensor<i64> -> tensor<?xi32>
  return %0 : tensor<?xi32>
}

// -----

func.func @range_result_rank(%a: tensor<i64>) -> tensor<?x?xi64> {
  // expected-error @+1 {{'attn.range' op result must be 1-D}}
  %0 = attn.range %a, %a, %a : tensor<i64> -> tensor<?x?xi64>
  return %0 : tensor<?x?xi64>
}

// -----

func.func @trilu_rank(%a: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{'attn.trilu' op input must have rank >= 2}}
  %0 = attn.trilu %a {k = 0 : i64, upper = false} : tensor<4xf32> -> tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

func.func @trilu_type(%a: tensor<4x4xf32>) -> tensor<4x4xf16> {
  // expected-error @+1 {{'attn.trilu' op result type must equal the input type}}
  %0 = attn.trilu %a {k = 0 : i64, upper = false} : tensor<4x4xf32> -> tensor<4x4xf16>
  return %0 : tensor<4x4xf16>
}

// -----

//===----------------------------------------------------------------------===//
// reduce / softmax / layer_norm
//===----------------------------------------------------------------------===//

func.func @reduce_axis(%a: tensor<2x3xf32>) -> tensor<2xf32> {
  // expected-error @+2 {{axis 2 out of range for rank 2}}
  // expected-error @+1 {{'attn.reduce' op failed to infer returned types}}
  %0 = attn.reduce sum %a {axes = array<i64: 2>, keepdims = false} : tensor<2x3xf32> -> tensor<2xf32>
  return %0 : tensor<2xf32>
}

// -----

func.func @softmax_axis(%a: tensor<2x3xf32>) -> tensor<2x3xf32> {
  // expected-error @+2 {{axis -3 out of range for rank 2}}
  // expected-error @+1 {{'attn.softmax' op failed to infer returned types}}
  %0 = attn.softmax %a {axis = -3 : i64} : tensor<2x3xf32> -> tensor<2x3xf32>
  return %0 : tensor<2x3xf32>
}

// -----

func.func @layer_norm_axis(%a: tensor<2x3xf32>, %g: tensor<3xf32>) -> tensor<2x3xf32> {
  // expected-error @+2 {{axis 2 out of range for rank 2}}
  // expected-error @+1 {{'attn.layer_norm' op failed to infer returned types}}
  %0 = attn.layer_norm %a, %g {axis = 2 : i64, epsilon = 1.0e-05 : f64} : tensor<2x3xf32>, tensor<3xf32> -> tensor<2x3xf32>
  return %0 : tensor<2x3xf32>
}

// -----

func.func @layer_norm_residual(%a: tensor<2x3xf32>, %r: tensor<1x3xf32>, %g: tensor<3xf32>) -> tensor<2x3xf32> {
  // expected-error @+2 {{residual type must equal the input type}}
  // expected-error @+1 {{'attn.layer_norm' op failed to infer returned types}}
  %0 = attn.layer_norm %a residual(%r : tensor<1x3xf32>), %g {axis = 1 : i64, epsilon = 1.0e-05 : f64} : tensor<2x3xf32>, tensor<3xf32> -> tensor<2x3xf32>
  return %0 : tensor<2x3xf32>
}

// -----

func.func @layer_norm_scale(%a: tensor<2x3xf32>, %g: tensor<2x3xf32>) -> tensor<2x3xf32> {
  // expected-error @+1 {{'attn.layer_norm' op scale/bias shape [2, 3] does not broadcast to the normalized dims [3]}}
  %0 = attn.layer_norm %a, %g {axis = -1 : i64, epsilon = 1.0e-05 : f64} : tensor<2x3xf32>, tensor<2x3xf32> -> tensor<2x3xf32>
  return %0 : tensor<2x3xf32>
}

// -----

func.func @layer_norm_bias(%a: tensor<2x3xf32>, %g: tensor<3xf32>, %b: tensor<4xf32>) -> tensor<2x3xf32> {
  // expected-error @+1 {{'attn.layer_norm' op scale/bias shape [4] does not broadcast to the normalized dims [3]}}
  %0 = attn.layer_norm %a, %g, %b : tensor<4xf32> {axis = 1 : i64, epsilon = 1.0e-05 : f64} : tensor<2x3xf32>, tensor<3xf32> -> tensor<2x3xf32>
  return %0 : tensor<2x3xf32>
}

// -----

//===----------------------------------------------------------------------===//
// linear
//===----------------------------------------------------------------------===//

func.func @linear_weight_rank(%x: tensor<2x4xf32>, %w: tensor<2x4x8xf32>) -> tensor<2x8xf32> {
  // expected-error @+1 {{'attn.linear' op weight must be [K, N], got [2, 4, 8]}}
  %0 = attn.linear %x, %w : tensor<2x4xf32>, tensor<2x4x8xf32> -> tensor<2x8xf32>
  return %0 : tensor<2x8xf32>
}

// -----

func.func @linear_input_rank(%x: tensor<4xf32>, %w: tensor<4x8xf32>) -> tensor<8xf32> {
  // expected-error @+1 {{'attn.linear' op input must be [batch..., K] with rank >= 2, got rank 1}}
  %0 = attn.linear %x, %w : tensor<4xf32>, tensor<4x8xf32> -> tensor<8xf32>
  return %0 : tensor<8xf32>
}

// -----

func.func @linear_weight_type(%x: tensor<2x4xf32>, %w: tensor<4x8xf16>) -> tensor<2x8xf32> {
  // expected-error @+1 {{'attn.linear' op weight element type 'f16' differs from the input's 'f32'}}
  %0 = attn.linear %x, %w : tensor<2x4xf32>, tensor<4x8xf16> -> tensor<2x8xf32>
  return %0 : tensor<2x8xf32>
}

// -----

func.func @linear_k(%x: tensor<2x5xf32>, %w: tensor<4x8xf32>) -> tensor<2x8xf32> {
  // expected-error @+1 {{'attn.linear' op input inner dim 5 differs from the weight's K = 4}}
  %0 = attn.linear %x, %w : tensor<2x5xf32>, tensor<4x8xf32> -> tensor<2x8xf32>
  return %0 : tensor<2x8xf32>
}

// -----

func.func @linear_bias_type(%x: tensor<2x4xf32>, %w: tensor<4x8xf32>, %b: tensor<8xf16>) -> tensor<2x8xf32> {
  // expected-error @+1 {{'attn.linear' op bias element type 'f16' differs from the input's 'f32'}}
  %0 = attn.linear %x, %w bias(%b : tensor<8xf16>) : tensor<2x4xf32>, tensor<4x8xf32> -> tensor<2x8xf32>
  return %0 : tensor<2x8xf32>
}

// -----

func.func @linear_bias_shape(%x: tensor<2x4xf32>, %w: tensor<4x8xf32>, %b: tensor<1x8xf32>) -> tensor<2x8xf32> {
  // expected-error @+1 {{'attn.linear' op bias must be [N] = [8], got [1, 8]}}
  %0 = attn.linear %x, %w bias(%b : tensor<1x8xf32>) : tensor<2x4xf32>, tensor<4x8xf32> -> tensor<2x8xf32>
  return %0 : tensor<2x8xf32>
}

// -----

func.func @linear_result_type(%x: tensor<2x4xf32>, %w: tensor<4x8xf32>) -> tensor<2x8xf16> {
  // expected-error @+1 {{'attn.linear' op result element type 'f16' differs from the input's 'f32'}}
  %0 = attn.linear %x, %w : tensor<2x4xf32>, tensor<4x8xf32> -> tensor<2x8xf16>
  return %0 : tensor<2x8xf16>
}

// -----

func.func @linear_result_batch(%x: tensor<2x4xf32>, %w: tensor<4x8xf32>) -> tensor<3x8xf32> {
  // expected-error @+1 {{'attn.linear' op result shape [3, 8] does not match the input's batch dims [2, 4]}}
  %0 = attn.linear %x, %w : tensor<2x4xf32>, tensor<4x8xf32> -> tensor<3x8xf32>
  return %0 : tensor<3x8xf32>
}

// -----

func.func @linear_split_dynamic(%x: tensor<2x4xf32>, %w: tensor<4x8xf32>) -> (tensor<2x?xf32>, tensor<2x4xf32>) {
  // expected-error @+1 {{'attn.linear' op results that split N must have static last dims}}
  %0:2 = attn.linear %x, %w : tensor<2x4xf32>, tensor<4x8xf32> -> tensor<2x?xf32>, tensor<2x4xf32>
  return %0#0, %0#1 : tensor<2x?xf32>, tensor<2x4xf32>
}

// -----

func.func @linear_split_sum(%x: tensor<2x4xf32>, %w: tensor<4x8xf32>) -> (tensor<2x4xf32>, tensor<2x2xf32>) {
  // expected-error @+1 {{'attn.linear' op result widths add up to 6 but N = 8}}
  %0:2 = attn.linear %x, %w : tensor<2x4xf32>, tensor<4x8xf32> -> tensor<2x4xf32>, tensor<2x2xf32>
  return %0#0, %0#1 : tensor<2x4xf32>, tensor<2x2xf32>
}

// -----

func.func @linear_no_result(%x: tensor<2x4xf32>, %w: tensor<4x8xf32>) {
  // expected-error @+1 {{'attn.linear' op needs at least one result}}
  "attn.linear"(%x, %w) : (tensor<2x4xf32>, tensor<4x8xf32>) -> ()
  return
}

// -----

//===----------------------------------------------------------------------===//
// attention
//===----------------------------------------------------------------------===//

func.func @attention_rank(%q: tensor<2x4x8xf32>, %k: tensor<4x8xf32>, %v: tensor<2x4x8xf32>) -> tensor<2x4x8xf32> {
  // expected-error @+2 {{query, key and value must have the same rank >= 2 (got 3, 2, 3)}}
  // expected-error @+1 {{'attn.attention' op failed to infer returned types}}
  %0 = attn.attention %q, %k, %v {mask_kind = #attn.mask_kind<none>, scale = 1.0 : f64} : tensor<2x4x8xf32>, tensor<4x8xf32>, tensor<2x4x8xf32> -> tensor<2x4x8xf32>
  return %0 : tensor<2x4x8xf32>
}

// -----

func.func @attention_rank_with_mask(%q: tensor<2x4x8xf32>, %k: tensor<8xf32>, %v: tensor<2x4x8xf32>, %m: tensor<4x4xf32>) -> tensor<2x4x8xf32> {
  // The mask check must not index the key's dims when the ranks differ.
  // expected-error @+2 {{query, key and value must have the same rank >= 2 (got 3, 1, 3)}}
  // expected-error @+1 {{'attn.attention' op failed to infer returned types}}
  %0 = attn.attention %q, %k, %v mask(%m : tensor<4x4xf32>) {mask_kind = #attn.mask_kind<additive>, scale = 1.0 : f64} : tensor<2x4x8xf32>, tensor<8xf32>, tensor<2x4x8xf32> -> tensor<2x4x8xf32>
  return %0 : tensor<2x4x8xf32>
}

// -----

func.func @attention_rank1_with_mask(%q: tensor<8xf32>, %m: tensor<4x4xf32>) -> tensor<8xf32> {
  // expected-error @+2 {{query, key and value must have the same rank >= 2 (got 1, 1, 1)}}
  // expected-error @+1 {{'attn.attention' op failed to infer returned types}}
  %0 = attn.attention %q, %q, %q mask(%m : tensor<4x4xf32>) {mask_kind = #attn.mask_kind<additive>, scale = 1.0 : f64} : tensor<8xf32>, tensor<8xf32>, tensor<8xf32> -> tensor<8xf32>
  return %0 : tensor<8xf32>
}

// -----

func.func @attention_batch(%q: tensor<2x4x8xf32>, %k: tensor<3x4x8xf32>, %v: tensor<3x4x8xf32>) -> tensor<2x4x8xf32> {
  // expected-error @+2 {{batch dims differ: query [2, 4, 8], key [3, 4, 8], value [3, 4, 8]}}
  // expected-error @+1 {{'attn.attention' op failed to infer returned types}}
  %0 = attn.attention %q, %k, %v {mask_kind = #attn.mask_kind<none>, scale = 1.0 : f64} : tensor<2x4x8xf32>, tensor<3x4x8xf32>, tensor<3x4x8xf32> -> tensor<2x4x8xf32>
  return %0 : tensor<2x4x8xf32>
}

// -----

func.func @attention_head_dim(%q: tensor<2x4x8xf32>, %k: tensor<2x4x16xf32>, %v: tensor<2x4x8xf32>) -> tensor<2x4x8xf32> {
  // expected-error @+2 {{query head dim 8 differs from key head dim 16}}
  // expected-error @+1 {{'attn.attention' op failed to infer returned types}}
  %0 = attn.attention %q, %k, %v {mask_kind = #attn.mask_kind<none>, scale = 1.0 : f64} : tensor<2x4x8xf32>, tensor<2x4x16xf32>, tensor<2x4x8xf32> -> tensor<2x4x8xf32>
  return %0 : tensor<2x4x8xf32>
}

// -----

func.func @attention_key_length(%q: tensor<2x4x8xf32>, %k: tensor<2x5x8xf32>, %v: tensor<2x6x8xf32>) -> tensor<2x4x8xf32> {
  // expected-error @+2 {{key length 5 differs from value length 6}}
  // expected-error @+1 {{'attn.attention' op failed to infer returned types}}
  %0 = attn.attention %q, %k, %v {mask_kind = #attn.mask_kind<none>, scale = 1.0 : f64} : tensor<2x4x8xf32>, tensor<2x5x8xf32>, tensor<2x6x8xf32> -> tensor<2x4x8xf32>
  return %0 : tensor<2x4x8xf32>
}

// -----

func.func @attention_result(%q: tensor<2x4x8xf32>, %k: tensor<2x5x8xf32>, %v: tensor<2x5x16xf32>) -> tensor<2x4x8xf32> {
  // expected-error @+2 {{'attn.attention' op inferred type(s) 'tensor<2x4x16xf32>' are incompatible with return type(s) of operation 'tensor<2x4x8xf32>'}}
  // expected-error @+1 {{'attn.attention' op failed to infer returned types}}
  %0 = attn.attention %q, %k, %v {mask_kind = #attn.mask_kind<none>, scale = 1.0 : f64} : tensor<2x4x8xf32>, tensor<2x5x8xf32>, tensor<2x5x16xf32> -> tensor<2x4x8xf32>
  return %0 : tensor<2x4x8xf32>
}

// -----

func.func @attention_element_types(%q: tensor<2x4x8xf32>, %k: tensor<2x4x8xf16>, %v: tensor<2x4x8xf32>) -> tensor<2x4x8xf32> {
  // expected-error @+1 {{'attn.attention' op query, key and value element types differ}}
  %0 = attn.attention %q, %k, %v {mask_kind = #attn.mask_kind<none>, scale = 1.0 : f64} : tensor<2x4x8xf32>, tensor<2x4x8xf16>, tensor<2x4x8xf32> -> tensor<2x4x8xf32>
  return %0 : tensor<2x4x8xf32>
}

// -----

func.func @attention_mask_without_kind(%q: tensor<2x4x8xf32>, %m: tensor<4x4xf32>) -> tensor<2x4x8xf32> {
  // expected-error @+1 {{'attn.attention' op has a mask operand but mask_kind = none}}
  %0 = attn.attention %q, %q, %q mask(%m : tensor<4x4xf32>) {mask_kind = #attn.mask_kind<none>, scale = 1.0 : f64} : tensor<2x4x8xf32>, tensor<2x4x8xf32>, tensor<2x4x8xf32> -> tensor<2x4x8xf32>
  return %0 : tensor<2x4x8xf32>
}

// -----

func.func @attention_kind_without_mask(%q: tensor<2x4x8xf32>) -> tensor<2x4x8xf32> {
  // expected-error @+1 {{'attn.attention' op mask_kind needs a mask operand}}
  %0 = attn.attention %q, %q, %q {mask_kind = #attn.mask_kind<fill_if_zero>, scale = 1.0 : f64} : tensor<2x4x8xf32>, tensor<2x4x8xf32>, tensor<2x4x8xf32> -> tensor<2x4x8xf32>
  return %0 : tensor<2x4x8xf32>
}

// -----

func.func @attention_mask_first_without_mask(%q: tensor<2x4x8xf32>) -> tensor<2x4x8xf32> {
  // expected-error @+1 {{'attn.attention' op mask_first needs a mask}}
  %0 = attn.attention %q, %q, %q {mask_first, mask_kind = #attn.mask_kind<none>, scale = 1.0 : f64} : tensor<2x4x8xf32>, tensor<2x4x8xf32>, tensor<2x4x8xf32> -> tensor<2x4x8xf32>
  return %0 : tensor<2x4x8xf32>
}

// -----

func.func @attention_scale_finite(%q: tensor<2x4x8xf32>) -> tensor<2x4x8xf32> {
  // expected-error @+1 {{'attn.attention' op scale must be finite}}
  %0 = attn.attention %q, %q, %q {mask_kind = #attn.mask_kind<none>, scale = 0x7FF0000000000000 : f64} : tensor<2x4x8xf32>, tensor<2x4x8xf32>, tensor<2x4x8xf32> -> tensor<2x4x8xf32>
  return %0 : tensor<2x4x8xf32>
}

// -----

func.func @attention_mask_shape(%q: tensor<2x4x8xf32>, %k: tensor<2x6x8xf32>, %m: tensor<4x4xf32>) -> tensor<2x4x8xf32> {
  // expected-error @+1 {{'attn.attention' op mask shape [4, 4] does not broadcast to the scores shape [2, 4, 6]}}
  %0 = attn.attention %q, %k, %k mask(%m : tensor<4x4xf32>) {mask_kind = #attn.mask_kind<additive>, scale = 1.0 : f64} : tensor<2x4x8xf32>, tensor<2x6x8xf32>, tensor<2x6x8xf32> -> tensor<2x4x8xf32>
  return %0 : tensor<2x4x8xf32>
}

// -----

func.func @attention_mask_rank(%q: tensor<2x4x8xf32>, %m: tensor<1x2x4x4xi1>) -> tensor<2x4x8xf32> {
  // expected-error @+1 {{'attn.attention' op mask shape [1, 2, 4, 4] does not broadcast to the scores shape [2, 4, 4]}}
  %0 = attn.attention %q, %q, %q mask(%m : tensor<1x2x4x4xi1>) {mask_kind = #attn.mask_kind<fill_if_zero>, scale = 1.0 : f64} : tensor<2x4x8xf32>, tensor<2x4x8xf32>, tensor<2x4x8xf32> -> tensor<2x4x8xf32>
  return %0 : tensor<2x4x8xf32>
}

// -----

func.func @attention_additive_mask_type(%q: tensor<2x4x8xf32>, %m: tensor<4x4xi1>) -> tensor<2x4x8xf32> {
  // expected-error @+1 {{'attn.attention' op an additive mask must have the element type 'f32', got 'i1'}}
  %0 = attn.attention %q, %q, %q mask(%m : tensor<4x4xi1>) {mask_kind = #attn.mask_kind<additive>, scale = 1.0 : f64} : tensor<2x4x8xf32>, tensor<2x4x8xf32>, tensor<2x4x8xf32> -> tensor<2x4x8xf32>
  return %0 : tensor<2x4x8xf32>
}

// -----

func.func @attention_causal_fill_without_causal(%q: tensor<2x4x8xf32>) -> tensor<2x4x8xf32> {
  // expected-error @+1 {{'attn.attention' op causal_fill needs causal}}
  %0 = attn.attention %q, %q, %q {causal_fill = -3.4028234663852886E+38 : f64, mask_kind = #attn.mask_kind<none>, scale = 1.0 : f64} : tensor<2x4x8xf32>, tensor<2x4x8xf32>, tensor<2x4x8xf32> -> tensor<2x4x8xf32>
  return %0 : tensor<2x4x8xf32>
}

// -----

func.func @attention_causal_fill_infinite(%q: tensor<2x4x8xf32>) -> tensor<2x4x8xf32> {
  // expected-error @+1 {{'attn.attention' op causal_fill must be finite (causal alone removes the positions k > q)}}
  %0 = attn.attention %q, %q, %q {causal, causal_fill = 0xFFF0000000000000 : f64, mask_kind = #attn.mask_kind<none>, scale = 1.0 : f64} : tensor<2x4x8xf32>, tensor<2x4x8xf32>, tensor<2x4x8xf32> -> tensor<2x4x8xf32>
  return %0 : tensor<2x4x8xf32>
}

// -----

func.func @attention_perm_not_permutation(%q: tensor<2x4x8xf32>, %k: tensor<2x4x8xf32>, %v: tensor<2x4x8xf32>) -> tensor<2x4x8xf32> {
  // expected-error @+2 {{query_perm [0, 0, 2] is not a permutation of [0, 3)}}
  // expected-error @+1 {{'attn.attention' op failed to infer returned types}}
  %0 = attn.attention %q, %k, %v {mask_kind = #attn.mask_kind<none>, scale = 1.0 : f64, query_perm = array<i64: 0, 0, 2>} : tensor<2x4x8xf32>, tensor<2x4x8xf32>, tensor<2x4x8xf32> -> tensor<2x4x8xf32>
  return %0 : tensor<2x4x8xf32>
}

// -----

func.func @attention_perm_head_dim(%q: tensor<2x8x4xf32>, %k: tensor<2x4x8xf32>, %v: tensor<2x4x8xf32>) -> tensor<2x4x8xf32> {
  // expected-error @+2 {{result_perm [0, 2, 1] must keep the head dim last}}
  // expected-error @+1 {{'attn.attention' op failed to infer returned types}}
  %0 = attn.attention %q, %k, %v {mask_kind = #attn.mask_kind<none>, scale = 1.0 : f64, result_perm = array<i64: 0, 2, 1>} : tensor<2x8x4xf32>, tensor<2x4x8xf32>, tensor<2x4x8xf32> -> tensor<2x4x8xf32>
  return %0 : tensor<2x4x8xf32>
}


// -----

// A constant index out of range is an error, never clamped.
func.func @gather_constant_index_out_of_range(%t: tensor<2x4xf32>) -> tensor<4xf32> {
  %c = arith.constant dense<-3> : tensor<i64>
  // expected-error @+1 {{'attn.gather' op index -3 is out of range for axis 0 of size 2}}
  %0 = attn.gather %t[%c] {axis = 0 : i64} : tensor<2x4xf32>, tensor<i64> -> tensor<4xf32>
  return %0 : tensor<4xf32>
}
