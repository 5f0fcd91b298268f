// RUN: attn-opt %s -attn-fuse-gelu -split-input-file | FileCheck %s

// The erf GELU as torch.onnx exports nn.GELU (opset < 20):
// Div(x, 1.4142135) -> Erf -> Add 1 -> Mul x -> Mul 0.5.
// CHECK-LABEL: func.func @erf_torch
// CHECK-SAME: (%[[X:.*]]: tensor<2x8xf32>)
// CHECK-NEXT: %[[G:.*]] = attn.gelu %[[X]] : tensor<2x8xf32>
// CHECK-NEXT: return %[[G]]
func.func @erf_torch(%x: tensor<2x8xf32>) -> tensor<2x8xf32> {
  %sqrt2 = arith.constant dense<1.41421354> : tensor<f32>
  %one = arith.constant dense<1.0> : tensor<f32>
  %half = arith.constant dense<0.5> : tensor<f32>
  %0 = attn.div %x, %sqrt2 : tensor<2x8xf32>, tensor<f32> -> tensor<2x8xf32>
  %1 = attn.erf %0 : tensor<2x8xf32>
  %2 = attn.add %1, %one : tensor<2x8xf32>, tensor<f32> -> tensor<2x8xf32>
  %3 = attn.mul %x, %2 : tensor<2x8xf32>, tensor<2x8xf32> -> tensor<2x8xf32>
  %4 = attn.mul %3, %half : tensor<2x8xf32>, tensor<f32> -> tensor<2x8xf32>
  return %4 : tensor<2x8xf32>
}

// -----

// Hugging Face's spelling: x * 0.5 first, 1 + erf(x * (1/sqrt 2)) with the
// constant on the left.
// CHECK-LABEL: func.func @erf_hf
// CHECK-SAME: (%[[X:.*]]: tensor<?x4xf32>)
// CHECK-NEXT: %[[G:.*]] = attn.gelu %[[X]] : tensor<?x4xf32>
// CHECK-NEXT: return %[[G]]
func.func @erf_hf(%x: tensor<?x4xf32>) -> tensor<?x4xf32> {
  %rsqrt2 = arith.constant dense<0.707106769> : tensor<f32>
  %one = arith.constant dense<1.0> : tensor<f32>
  %half = arith.constant dense<0.5> : tensor<f32>
  %0 = attn.mul %x, %half : tensor<?x4xf32>, tensor<f32> -> tensor<?x4xf32>
  %1 = attn.mul %rsqrt2, %x : tensor<f32>, tensor<?x4xf32> -> tensor<?x4xf32>
  %2 = attn.erf %1 : tensor<?x4xf32>
  %3 = attn.add %one, %2 : tensor<f32>, tensor<?x4xf32> -> tensor<?x4xf32>
  %4 = attn.mul %0, %3 : tensor<?x4xf32>, tensor<?x4xf32> -> tensor<?x4xf32>
  return %4 : tensor<?x4xf32>
}

// -----

// GPT-2's gelu_new: 0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 * pow(x, 3)))).
// CHECK-LABEL: func.func @tanh_pow
// CHECK-SAME: (%[[X:.*]]: tensor<3x16xf32>)
// CHECK-NEXT: %[[G:.*]] = attn.gelu %[[X]] {tanh_approximation} : tensor<3x16xf32>
// CHECK-NEXT: return %[[G]]
func.func @tanh_pow(%x: tensor<3x16xf32>) -> tensor<3x16xf32> {
  %three = arith.constant dense<3.0> : tensor<f32>
  %c = arith.constant dense<0.044715> : tensor<f32>
  %s = arith.constant dense<0.797884583> : tensor<f32>
  %one = arith.constant dense<1.0> : tensor<f32>
  %half = arith.constant dense<0.5> : tensor<f32>
  %0 = attn.mul %half, %x : tensor<f32>, tensor<3x16xf32> -> tensor<3x16xf32>
  %1 = attn.pow %x, %three : tensor<3x16xf32>, tensor<f32> -> tensor<3x16xf32>
  %2 = attn.mul %c, %1 : tensor<f32>, tensor<3x16xf32> -> tensor<3x16xf32>
  %3 = attn.add %x, %2 : tensor<3x16xf32>, tensor<3x16xf32> -> tensor<3x16xf32>
  %4 = attn.mul %s, %3 : tensor<f32>, tensor<3x16xf32> -> tensor<3x16xf32>
  %5 = attn.tanh %4 : tensor<3x16xf32>
  %6 = attn.add %one, %5 : tensor<f32>, tensor<3x16xf32> -> tensor<3x16xf32>
  %7 = attn.mul %0, %6 : tensor<3x16xf32>, tensor<3x16xf32> -> tensor<3x16xf32>
  return %7 : tensor<3x16xf32>
}

// -----

// The cube spelled as x * x * x, the sum with the cube term first.
// CHECK-LABEL: func.func @tanh_cube
// CHECK: attn.gelu %{{.*}} {tanh_approximation}
// CHECK-NOT: attn.tanh
func.func @tanh_cube(%x: tensor<8xf32>) -> tensor<8xf32> {
  %c = arith.constant dense<0.044715> : tensor<f32>
  %s = arith.constant dense<0.797884583> : tensor<f32>
  %one = arith.constant dense<1.0> : tensor<f32>
  %half = arith.constant dense<0.5> : tensor<f32>
  %xx = attn.mul %x, %x : tensor<8xf32>, tensor<8xf32> -> tensor<8xf32>
  %xxx = attn.mul %xx, %x : tensor<8xf32>, tensor<8xf32> -> tensor<8xf32>
  %2 = attn.mul %xxx, %c : tensor<8xf32>, tensor<f32> -> tensor<8xf32>
  %3 = attn.add %2, %x : tensor<8xf32>, tensor<8xf32> -> tensor<8xf32>
  %4 = attn.mul %3, %s : tensor<8xf32>, tensor<f32> -> tensor<8xf32>
  %5 = attn.tanh %4 : tensor<8xf32>
  %6 = attn.add %5, %one : tensor<8xf32>, tensor<f32> -> tensor<8xf32>
  %7 = attn.mul %x, %6 : tensor<8xf32>, tensor<8xf32> -> tensor<8xf32>
  %8 = attn.mul %7, %half : tensor<8xf32>, tensor<f32> -> tensor<8xf32>
  return %8 : tensor<8xf32>
}

// -----

// Not GELU: the outer factor is 0.6, not 0.5. Unchanged.
// CHECK-LABEL: func.func @wrong_half
// CHECK-NOT: attn.gelu
// CHECK: attn.erf
func.func @wrong_half(%x: tensor<4xf32>) -> tensor<4xf32> {
  %sqrt2 = arith.constant dense<1.41421354> : tensor<f32>
  %one = arith.constant dense<1.0> : tensor<f32>
  %c = arith.constant dense<0.6> : tensor<f32>
  %0 = attn.div %x, %sqrt2 : tensor<4xf32>, tensor<f32> -> tensor<4xf32>
  %1 = attn.erf %0 : tensor<4xf32>
  %2 = attn.add %1, %one : tensor<4xf32>, tensor<f32> -> tensor<4xf32>
  %3 = attn.mul %x, %2 : tensor<4xf32>, tensor<4xf32> -> tensor<4xf32>
  %4 = attn.mul %3, %c : tensor<4xf32>, tensor<f32> -> tensor<4xf32>
  return %4 : tensor<4xf32>
}

// -----

// Not GELU: erf's argument is another tensor's.
// CHECK-LABEL: func.func @other_argument
// CHECK-NOT: attn.gelu
func.func @other_argument(%x: tensor<4xf32>, %y: tensor<4xf32>) -> tensor<4xf32> {
  %sqrt2 = arith.constant dense<1.41421354> : tensor<f32>
  %one = arith.constant dense<1.0> : tensor<f32>
  %half = arith.constant dense<0.5> : tensor<f32>
  %0 = attn.div %y, %sqrt2 : tensor<4xf32>, tensor<f32> -> tensor<4xf32>
  %1 = attn.erf %0 : tensor<4xf32>
  %2 = attn.add %1, %one : tensor<4xf32>, tensor<f32> -> tensor<4xf32>
  %3 = attn.mul %x, %2 : tensor<4xf32>, tensor<4xf32> -> tensor<4xf32>
  %4 = attn.mul %3, %half : tensor<4xf32>, tensor<f32> -> tensor<4xf32>
  return %4 : tensor<4xf32>
}

// -----

// The intermediate x * 0.5 has a second user: a shared factor is not looked
// into, so the product is (x*0.5) * (1 + erf) with scale 1 -- not GELU.
// Unchanged.
// CHECK-LABEL: func.func @shared_interior
// CHECK-NOT: attn.gelu
func.func @shared_interior(%x: tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>) {
  %sqrt2 = arith.constant dense<1.41421354> : tensor<f32>
  %one = arith.constant dense<1.0> : tensor<f32>
  %half = arith.constant dense<0.5> : tensor<f32>
  %h = attn.mul %x, %half : tensor<4xf32>, tensor<f32> -> tensor<4xf32>
  %0 = attn.div %x, %sqrt2 : tensor<4xf32>, tensor<f32> -> tensor<4xf32>
  %1 = attn.erf %0 : tensor<4xf32>
  %2 = attn.add %1, %one : tensor<4xf32>, tensor<f32> -> tensor<4xf32>
  %3 = attn.mul %h, %2 : tensor<4xf32>, tensor<4xf32> -> tensor<4xf32>
  return %3, %h : tensor<4xf32>, tensor<4xf32>
}
