// RUN: attn-opt %s -attn-fuse-linear -split-input-file | FileCheck %s

// SiLU as x * sigmoid(x) after a matmul + bias -> activation silu.
// CHECK-LABEL: func.func @silu_sigmoid
// CHECK-NEXT: %[[L:.*]] = attn.linear %{{.*}}, %{{.*}} bias(%{{.*}} : tensor<16xf32>) {activation = #attn.activation<silu>} : tensor<?x?x8xf32>, tensor<8x16xf32> -> tensor<?x?x16xf32>
// CHECK-NEXT: return %[[L]]
func.func @silu_sigmoid(%x: tensor<?x?x8xf32>, %w: tensor<8x16xf32>, %b: tensor<16xf32>) -> tensor<?x?x16xf32> {
  %0 = attn.matmul %x, %w : tensor<?x?x8xf32>, tensor<8x16xf32> -> tensor<?x?x16xf32>
  %1 = attn.add %0, %b : tensor<?x?x16xf32>, tensor<16xf32> -> tensor<?x?x16xf32>
  %2 = attn.sigmoid %1 : tensor<?x?x16xf32>
  %3 = attn.mul %2, %1 : tensor<?x?x16xf32>, tensor<?x?x16xf32> -> tensor<?x?x16xf32>
  return %3 : tensor<?x?x16xf32>
}

// -----

// SiLU as x / (1 + exp(-x)), no bias; the constant 1 goes with it.
// CHECK-LABEL: func.func @silu_div
// CHECK-NEXT: %[[L:.*]] = attn.linear %{{.*}}, %{{.*}} {activation = #attn.activation<silu>} : tensor<4x8xf32>, tensor<8x16xf32> -> tensor<4x16xf32>
// CHECK-NEXT: return %[[L]]
func.func @silu_div(%x: tensor<4x8xf32>, %w: tensor<8x16xf32>) -> tensor<4x16xf32> {
  %one = arith.constant dense<1.0> : tensor<f32>
  %0 = attn.matmul %x, %w : tensor<4x8xf32>, tensor<8x16xf32> -> tensor<4x16xf32>
  %1 = attn.neg %0 : tensor<4x16xf32>
  %2 = attn.exp %1 : tensor<4x16xf32>
  %3 = attn.add %one, %2 : tensor<f32>, tensor<4x16xf32> -> tensor<4x16xf32>
  %4 = attn.div %0, %3 : tensor<4x16xf32>, tensor<4x16xf32> -> tensor<4x16xf32>
  return %4 : tensor<4x16xf32>
}

// -----

// Not SiLU: sigmoid of another value; x * sigmoid(x) where x is also
// returned; 2 + exp(-x). The linears keep no activation.
// CHECK-LABEL: func.func @not_silu
// CHECK: %[[A:.*]] = attn.linear %{{.*}}, %{{.*}} : tensor<4x8xf32>, tensor<8x16xf32> -> tensor<4x16xf32>
// CHECK: attn.sigmoid %arg2
// CHECK: %[[B:.*]] = attn.linear %{{.*}}, %{{.*}} : tensor<4x8xf32>, tensor<8x16xf32> -> tensor<4x16xf32>
// CHECK: attn.sigmoid %[[B]]
// CHECK: %[[C:.*]] = attn.linear %{{.*}}, %{{.*}} : tensor<4x8xf32>, tensor<8x16xf32> -> tensor<4x16xf32>
// CHECK: attn.neg %[[C]]
// CHECK: attn.div %[[C]]
func.func @not_silu(%x: tensor<4x8xf32>, %w: tensor<8x16xf32>, %y: tensor<4x16xf32>) -> (tensor<4x16xf32>, tensor<4x16xf32>, tensor<4x16xf32>, tensor<4x16xf32>) {
  %0 = attn.matmul %x, %w : tensor<4x8xf32>, tensor<8x16xf32> -> tensor<4x16xf32>
  %1 = attn.sigmoid %y : tensor<4x16xf32>
  %2 = attn.mul %0, %1 : tensor<4x16xf32>, tensor<4x16xf32> -> tensor<4x16xf32>
  %3 = attn.matmul %x, %w : tensor<4x8xf32>, tensor<8x16xf32> -> tensor<4x16xf32>
  %4 = attn.sigmoid %3 : tensor<4x16xf32>
  %5 = attn.mul %3, %4 : tensor<4x16xf32>, tensor<4x16xf32> -> tensor<4x16xf32>
  %two = arith.constant dense<2.0> : tensor<f32>
  %6 = attn.matmul %x, %w : tensor<4x8xf32>, tensor<8x16xf32> -> tensor<4x16xf32>
  %7 = attn.neg %6 : tensor<4x16xf32>
  %8 = attn.exp %7 : tensor<4x16xf32>
  %9 = attn.add %two, %8 : tensor<f32>, tensor<4x16xf32> -> tensor<4x16xf32>
  %10 = attn.div %6, %9 : tensor<4x16xf32>, tensor<4x16xf32> -> tensor<4x16xf32>
  return %2, %5, %3, %10 : tensor<4x16xf32>, tensor<4x16xf32>, tensor<4x16xf32>, tensor<4x16xf32>
}
