// RUN: attn-opt %s -attn-lower-to-linalg="vector-width=8" | FileCheck %s

// attn.linear with a constant weight and N = 50257 (GPT-2's vocabulary, not
// a multiple of the 16-column panel) takes the register-blocked kernel, not
// linalg.matmul: the weight is packed into ceil(N / 16) = 3142 zero-padded
// panels, the bias loads and the output stores of the vectors that reach
// past N (the last panel's) are masked to the columns below N -- every other
// vector branches to plain ones -- and the result is exactly [M, 50257] (no
// copy). M = 1..8 rows take the streaming kernel (M - 1 <= 7 unsigned: M = 0
// takes the blocked kernel, which runs no task).
// CHECK-LABEL: func @lm_head
// CHECK-NOT:     linalg.matmul
// CHECK:         dense_resource<weight.packed16{{(_[0-9]+)?}}> : tensor<3142x2x16xf32>
// CHECK:         %[[DEC:.*]] = arith.cmpi ule, %{{.*}}, %c7 : index
// CHECK:         scf.if %[[DEC]] {
// CHECK:           scf.forall (%{{.*}}) in (%c3142) {
// Only a vector reaching past column N takes the masked form: the others
// branch to plain loads and stores.
// CHECK:             %[[BEND:.*]] = arith.addi %{{.*}}, %c8{{(_[0-9]+)?}} : index
// CHECK:             %[[BFULL:.*]] = arith.cmpi ule, %[[BEND]], %c50257{{(_[0-9]+)?}} : index
// CHECK:             scf.if %[[BFULL]] -> (vector<8xf32>) {
// CHECK:               vector.load %{{.*}}[%{{.*}}] : memref<50257xf32
// CHECK:             } else {
// CHECK:               %[[BM:.*]] = vector.create_mask %{{.*}} : vector<8xi1>
// CHECK:               vector.maskedload %{{.*}}[%{{.*}}], %[[BM]], %{{.*}} : memref<50257xf32
// CHECK:             vector.fma
// CHECK:             %[[SEND:.*]] = arith.addi %{{.*}}, %c8{{(_[0-9]+)?}} : index
// CHECK:             %[[SFULL:.*]] = arith.cmpi ule, %[[SEND]], %c50257{{(_[0-9]+)?}} : index
// CHECK:             scf.if %[[SFULL]] {
// CHECK:               vector.store %{{.*}}, %{{.*}}[%{{.*}}, %{{.*}}] : memref<?x?xf32>, vector<8xf32>
// CHECK:             } else {
// CHECK:               %[[SM:.*]] = vector.create_mask %{{.*}} : vector<8xi1>
// CHECK:               vector.maskedstore %{{.*}}[%{{.*}}, %{{.*}}], %[[SM]], %{{.*}} : memref<?x?xf32>, vector<8xi1>, vector<8xf32>
// CHECK:           } {attn.streaming_gemv}
// CHECK:         } else {
// CHECK:           scf.forall (%{{.*}}, %{{.*}}) in
// CHECK:             vector.fma
// CHECK:             vector.maskedstore
// CHECK-NOT:     linalg.matmul
// CHECK:         return
func.func @lm_head(%x: tensor<?x2xf32>) -> tensor<?x50257xf32> {
  %w = arith.constant dense<1.0> : tensor<2x50257xf32>
  %b = arith.constant dense<0.5> : tensor<50257xf32>
  %0 = attn.linear %x, %w bias(%b : tensor<50257xf32>) {activation = #attn.activation<gelu>} : tensor<?x2xf32>, tensor<2x50257xf32> -> tensor<?x50257xf32>
  return %0 : tensor<?x50257xf32>
}

// N a multiple of the panel keeps the unmasked stores.
// CHECK-LABEL: func @aligned
// CHECK-NOT:     vector.maskedstore
// CHECK-NOT:     vector.create_mask
// CHECK:         return
func.func @aligned(%x: tensor<?x2xf32>) -> tensor<?x32xf32> {
  %w = arith.constant dense<1.0> : tensor<2x32xf32>
  %0 = attn.linear %x, %w : tensor<?x2xf32>, tensor<2x32xf32> -> tensor<?x32xf32>
  return %0 : tensor<?x32xf32>
}

// A run-time weight with N off the panel keeps the linalg.matmul fallback.
// CHECK-LABEL: func @runtime_weight
// CHECK:         linalg.matmul
func.func @runtime_weight(%x: tensor<?x2xf32>, %w: tensor<2x17xf32>) -> tensor<?x17xf32> {
  %0 = attn.linear %x, %w : tensor<?x2xf32>, tensor<2x17xf32> -> tensor<?x17xf32>
  return %0 : tensor<?x17xf32>
}
