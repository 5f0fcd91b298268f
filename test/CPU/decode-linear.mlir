// RUN: attn-opt %s -attn-lower-to-linalg="vector-width=8" | FileCheck %s

// attn.linear with a dynamic row count: at run time, M = 1..8 rows (M - 1
// <= 7 unsigned: M = 0 takes the blocked kernel, which runs no task) take the
// streaming matrix-vector kernel -- one task per packed weight panel (2
// vectors of B columns; gated: 8 outputs from 8 gate + 8 up columns), so all
// threads stream the compile-time-packed weights -- with register tiles of 8
// accumulators: M = 1: 4 sets over k, M = 2: 2 sets, 3..4: one 4-row tile,
// 5..8: two 4-row tiles in turn over each block of 128 k's (the panel
// streamed from memory once; here K = 64 is one block). More rows take the
// blocked 6 x 2 kernel. The gated epilogue is kept.
// CHECK-LABEL: func @decode_linear
// CHECK:         dense_resource<weight.packed_gated16> : tensor<4x64x16xf32>
// CHECK:         %[[M1:.*]] = arith.subi %[[M:.*]], %c1{{(_[0-9]+)?}} : index
// CHECK:         %[[DEC:.*]] = arith.cmpi ule, %[[M1]], %c7 : index
// CHECK:         scf.if %[[DEC]] {
// CHECK:           scf.forall (%[[P:.*]]) in (%c4) {
// CHECK:             arith.cmpi eq, %[[M]], %c1
// M = 1: k step 4, 8 accumulators.
// CHECK:             scf.for %{{.*}} = %{{.*}} to %c64{{.*}} step %c4{{.*}} iter_args({{.*}}) -> (vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>)
// CHECK-COUNT-8:       vector.fma
// CHECK:             arith.negf
// CHECK:             math.exp
// CHECK:             vector.store
// M = 2: k step 2.
// CHECK:             arith.cmpi eq, %[[M]], %c2
// CHECK:             scf.for %{{.*}} = %{{.*}} to %c64{{.*}} step %c2{{.*}} iter_args
// 3..4 rows: one tile of 4 rows, k step 1.
// CHECK:             arith.cmpi ule, %[[M]], %c4
// CHECK:             scf.for %{{.*}} = %{{.*}} to %c64{{.*}} step %c1{{.*}} iter_args
// 5..8 rows: 16 accumulators carried over the k-blocks, two 8-accumulator
// loops over each block.
// CHECK:             } else {
// CHECK:               %{{.*}}:16 = scf.for %[[KB:.*]] = %{{.*}} to %c64{{.*}} step %c64{{.*}} iter_args
// CHECK:                 %{{.*}}:8 = scf.for %{{.*}} = %[[KB]] to %{{.*}} step %c1{{.*}} iter_args
// CHECK-COUNT-8:           vector.fma
// CHECK:                 %{{.*}}:8 = scf.for %{{.*}} = %[[KB]] to %{{.*}} step %c1{{.*}} iter_args
// CHECK-COUNT-8:           vector.fma
// CHECK:           } {attn.streaming_gemv}
// CHECK:         } else {
// CHECK:           scf.forall (%{{.*}}, %{{.*}}) in
// CHECK:             step %c6
func.func @decode_linear(%x: tensor<?x64xf32>) -> tensor<?x32xf32> {
  %w = arith.constant dense<1.0> : tensor<64x64xf32>
  %b = arith.constant dense<0.5> : tensor<64xf32>
  %0 = attn.linear %x, %w bias(%b : tensor<64xf32>) {gated, activation = #attn.activation<silu>} : tensor<?x64xf32>, tensor<64x64xf32> -> tensor<?x32xf32>
  return %0 : tensor<?x32xf32>
}
