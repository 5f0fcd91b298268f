// RUN: attn-opt %s -attn-fuse-residual-layernorm -split-input-file | FileCheck %s

// Post-LN block end: LayerNorm(x + sublayer) -> residual operand.
// CHECK-LABEL: func.func @post_ln
// CHECK-SAME: (%[[X:.*]]: tensor<?x?x8xf32>, %[[S:.*]]: tensor<?x?x8xf32>, %[[G:.*]]: tensor<8xf32>, %[[B:.*]]: tensor<8xf32>)
// CHECK-NEXT: %[[N:.*]] = attn.layer_norm %[[S]] residual(%[[X]] : tensor<?x?x8xf32>), %[[G]], %[[B]] : tensor<8xf32>
// CHECK-NEXT: return %[[N]]
func.func @post_ln(%x: tensor<?x?x8xf32>, %s: tensor<?x?x8xf32>, %g: tensor<8xf32>, %b: tensor<8xf32>) -> tensor<?x?x8xf32> {
  %0 = attn.add %s, %x : tensor<?x?x8xf32>, tensor<?x?x8xf32> -> tensor<?x?x8xf32>
  %1 = attn.layer_norm %0, %g, %b : tensor<8xf32> {axis = 2 : i64, epsilon = 1.0e-05 : f64} : tensor<?x?x8xf32>, tensor<8xf32> -> tensor<?x?x8xf32>
  return %1 : tensor<?x?x8xf32>
}

// -----

// Pre-LN (GPT-2): the sum is also the next residual -- it has a second user
// and stays. A broadcasting add stays too. Unchanged.
// CHECK-LABEL: func.func @not_fused
// CHECK: attn.add
// CHECK: attn.layer_norm %{{[^ ]*}}, %{{.*}} {axis
// CHECK: attn.add
// CHECK: attn.layer_norm %{{[^ ]*}}, %{{.*}} {axis
// CHECK-NOT: residual
func.func @not_fused(%x: tensor<2x8xf32>, %s: tensor<2x8xf32>, %r: tensor<8xf32>, %g: tensor<8xf32>)
    -> (tensor<2x8xf32>, tensor<2x8xf32>, tensor<2x8xf32>) {
  %0 = attn.add %s, %x : tensor<2x8xf32>, tensor<2x8xf32> -> tensor<2x8xf32>
  %1 = attn.layer_norm %0, %g {axis = 1 : i64, epsilon = 1.0e-05 : f64} : tensor<2x8xf32>, tensor<8xf32> -> tensor<2x8xf32>
  %2 = attn.add %s, %r : tensor<2x8xf32>, tensor<8xf32> -> tensor<2x8xf32>
  %3 = attn.layer_norm %2, %g {axis = 1 : i64, epsilon = 1.0e-05 : f64} : tensor<2x8xf32>, tensor<8xf32> -> tensor<2x8xf32>
  return %1, %0, %3 : tensor<2x8xf32>, tensor<2x8xf32>, tensor<2x8xf32>
}
