// RUN: attn-opt %s -attn-lower-to-linalg="vector-width=8" | FileCheck %s
// RUN: attn-opt %s -attn-lower-to-linalg="vector-width=16" | FileCheck %s --check-prefix=AVX512

// The blocked Linear kernel's tasks are (N block, M block) with the N block
// OUTERMOST: OpenMP gives each thread a contiguous range of the linearized
// task space, so one thread runs all M blocks of an N block in turn and that
// block's B panels stay in its cache; B (the weights: a 98 MB lm_head) is
// read from memory once instead of once per 24-row M block. N = 512 is 4
// blocks of 128 columns (8 lanes) / 2 blocks of 256 (16 lanes); the M block
// index scales by the 24 rows per task.
// CHECK-LABEL: func @task_order
// CHECK:         %[[NM:.*]] = arith.ceildivui %{{.*}}, %c24 : index
// CHECK:         scf.forall (%[[NB:.*]], %[[MB:.*]]) in (%c4, %[[NM]]) {
// CHECK:           arith.muli %[[MB]], %c24
// CHECK:           arith.subi %[[NB]], %c0
// AVX512-LABEL: func @task_order
// AVX512:        %[[NM:.*]] = arith.ceildivui %{{.*}}, %c24 : index
// AVX512:        scf.forall (%[[NB:.*]], %[[MB:.*]]) in (%c2, %[[NM]]) {
// AVX512:          arith.muli %[[MB]], %c24
func.func @task_order(%x: tensor<?x64xf32>, %w: tensor<64x512xf32>) -> tensor<?x512xf32> {
  %0 = attn.matmul %x, %w : tensor<?x64xf32>, tensor<64x512xf32> -> tensor<?x512xf32>
  return %0 : tensor<?x512xf32>
}
