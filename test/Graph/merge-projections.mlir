// RUN: attn-opt %s -attn-merge-projections -split-input-file | FileCheck %s

// BERT's Q, K and V projections of one input: one attn.linear with the
// weights and biases concatenated at compile time and three results; the
// original constants are erased.
// CHECK-LABEL: func.func @qkv
// CHECK-SAME: (%[[X:.*]]: tensor<?x4xf32>)
// CHECK-DAG: %[[W:.*]] = arith.constant dense_resource<weight.merged> : tensor<4x6xf32>
// CHECK-DAG: %[[B:.*]] = arith.constant dense<[1.000000e-01, 2.000000e-01, 3.000000e-01, 4.000000e-01, 5.000000e-01, 6.000000e-01]> : tensor<6xf32>
// CHECK: %[[L:.*]]:3 = attn.linear %[[X]], %[[W]] bias(%[[B]] : tensor<6xf32>) : tensor<?x4xf32>, tensor<4x6xf32> -> tensor<?x2xf32>, tensor<?x2xf32>, tensor<?x2xf32>
// CHECK-NOT: arith.constant
// CHECK-NOT: attn.linear
// CHECK: return %[[L]]#0, %[[L]]#1, %[[L]]#2
// Row 0 of the merged weight is wq[0] wk[0] wv[0] = 1 2 5 6 9 10 (f32, after
// the blob's 4-byte alignment header).
// CHECK: weight.merged: "0x400000000000803F000000400000A0400000C0400000104100002041
func.func @qkv(%x: tensor<?x4xf32>) -> (tensor<?x2xf32>, tensor<?x2xf32>, tensor<?x2xf32>) {
  %wq = arith.constant dense<[[1.0, 2.0], [3.0, 4.0], [0.0, 0.5], [1.5, 2.5]]> : tensor<4x2xf32>
  %wk = arith.constant dense<[[5.0, 6.0], [7.0, 8.0], [0.0, 0.5], [1.5, 2.5]]> : tensor<4x2xf32>
  %wv = arith.constant dense<[[9.0, 10.0], [11.0, 12.0], [0.0, 0.5], [1.5, 2.5]]> : tensor<4x2xf32>
  %bq = arith.constant dense<[0.1, 0.2]> : tensor<2xf32>
  %bk = arith.constant dense<[0.3, 0.4]> : tensor<2xf32>
  %bv = arith.constant dense<[0.5, 0.6]> : tensor<2xf32>
  %q = attn.linear %x, %wq bias(%bq : tensor<2xf32>) : tensor<?x4xf32>, tensor<4x2xf32> -> tensor<?x2xf32>
  %k = attn.linear %x, %wk bias(%bk : tensor<2xf32>) : tensor<?x4xf32>, tensor<4x2xf32> -> tensor<?x2xf32>
  %v = attn.linear %x, %wv bias(%bv : tensor<2xf32>) : tensor<?x4xf32>, tensor<4x2xf32> -> tensor<?x2xf32>
  return %q, %k, %v : tensor<?x2xf32>, tensor<?x2xf32>, tensor<?x2xf32>
}

// -----

// Only projections that agree merge: a different activation, a missing
// bias, a run-time weight and another input each stay apart; the two
// matching ones (q, k) merge in program order.
// CHECK-LABEL: func.func @mixed
// CHECK: %[[QK:.*]]:2 = attn.linear %arg0, %{{.*}} : tensor<3x4xf32>, tensor<4x4xf32> -> tensor<3x2xf32>, tensor<3x2xf32>
// CHECK: %[[R:.*]] = attn.linear %arg0, %{{.*}} {activation = #attn.activation<relu>}
// CHECK: %[[B:.*]] = attn.linear %arg0, %{{.*}} bias
// CHECK: %[[D:.*]] = attn.linear %arg0, %arg1 :
// CHECK: %[[O:.*]] = attn.linear %arg2, %{{.*}} :
// CHECK: return %[[QK]]#0, %[[QK]]#1, %[[R]], %[[B]], %[[D]], %[[O]]
func.func @mixed(%x: tensor<3x4xf32>, %wdyn: tensor<4x2xf32>, %y: tensor<3x4xf32>)
    -> (tensor<3x2xf32>, tensor<3x2xf32>, tensor<3x2xf32>, tensor<3x2xf32>, tensor<3x2xf32>, tensor<3x2xf32>) {
  %w = arith.constant dense<[[1.0, 2.0], [3.0, 4.0], [5.0, 6.0], [7.0, 8.0]]> : tensor<4x2xf32>
  %w2 = arith.constant dense<[[9.0, 2.0], [3.0, 4.0], [5.0, 6.0], [7.0, 8.0]]> : tensor<4x2xf32>
  %b = arith.constant dense<[0.5, 0.25]> : tensor<2xf32>
  %q = attn.linear %x, %w : tensor<3x4xf32>, tensor<4x2xf32> -> tensor<3x2xf32>
  %r = attn.linear %x, %w {activation = #attn.activation<relu>} : tensor<3x4xf32>, tensor<4x2xf32> -> tensor<3x2xf32>
  %k = attn.linear %x, %w2 : tensor<3x4xf32>, tensor<4x2xf32> -> tensor<3x2xf32>
  %bb = attn.linear %x, %w bias(%b : tensor<2xf32>) : tensor<3x4xf32>, tensor<4x2xf32> -> tensor<3x2xf32>
  %d = attn.linear %x, %wdyn : tensor<3x4xf32>, tensor<4x2xf32> -> tensor<3x2xf32>
  %o = attn.linear %y, %w : tensor<3x4xf32>, tensor<4x2xf32> -> tensor<3x2xf32>
  return %q, %k, %r, %bb, %d, %o : tensor<3x2xf32>, tensor<3x2xf32>, tensor<3x2xf32>, tensor<3x2xf32>, tensor<3x2xf32>, tensor<3x2xf32>
}
