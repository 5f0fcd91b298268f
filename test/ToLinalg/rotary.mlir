// RUN: attn-opt %s -split-input-file -attn-lower-to-linalg | FileCheck %s --check-prefix=GENERIC
// RUN: attn-opt %s -split-input-file -attn-lower-to-linalg=vector-width=8 | FileCheck %s --check-prefix=VEC

// Without a vector width (GPU): one elementwise generic reading the partner
// channel (j + R/2 or j - R/2) with tensor.extract.
// GENERIC-LABEL: func @half
// GENERIC: linalg.generic
// GENERIC:   linalg.index 3
// GENERIC:   arith.cmpi ult
// GENERIC:   tensor.extract
// GENERIC-DAG: arith.addf
// GENERIC-DAG: arith.subf
// GENERIC:   arith.select
// GENERIC-NOT: attn.rotary
// CPU f32: the vector kernel, rows in parallel, both halves per step.
// VEC-LABEL: func @half
// VEC: scf.forall
// VEC: scf.for
// VEC: scf.for
// VEC-COUNT-6: vector.load {{.*}} vector<8xf32>
// VEC-COUNT-2: vector.store
// VEC-NOT: attn.rotary
func.func @half(%x: tensor<?x?x4x32xf32>, %c: tensor<1x?x1x32xf32>, %s: tensor<1x?x1x32xf32>) -> tensor<?x?x4x32xf32> {
  %0 = attn.rotary %x, %c, %s : tensor<?x?x4x32xf32>, tensor<1x?x1x32xf32>, tensor<1x?x1x32xf32> -> tensor<?x?x4x32xf32>
  return %0 : tensor<?x?x4x32xf32>
}

// -----

// Interleaved partial (R = 12 of 20): generic on the first 12 channels, the
// partner is j xor 1, inserted into the input. The kernel: a pair swap
// (shuffle), masked tails (12 = 8 + 4; the 8 passed channels = one step).
// GENERIC-LABEL: func @interleaved_partial
// GENERIC: tensor.extract_slice %{{.*}}[0, 0, 0] [%{{.*}}, 3, 12] [1, 1, 1]
// GENERIC: linalg.generic
// GENERIC:   arith.xori
// GENERIC:   tensor.extract
// GENERIC: tensor.insert_slice
// VEC-LABEL: func @interleaved_partial
// VEC: vector.shuffle {{.*}} [1, 0, 3, 2, 5, 4, 7, 6]
// VEC: vector.create_mask
// VEC: vector.maskedload
// VEC: vector.maskedstore
func.func @interleaved_partial(%x: tensor<?x3x20xf32>, %c: tensor<3x12xf32>, %s: tensor<3x12xf32>) -> tensor<?x3x20xf32> {
  %0 = attn.rotary %x, %c, %s {interleaved} : tensor<?x3x20xf32>, tensor<3x12xf32>, tensor<3x12xf32> -> tensor<?x3x20xf32>
  return %0 : tensor<?x3x20xf32>
}

// -----

// f16 takes the generic path even with a vector width.
// VEC-LABEL: func @f16
// VEC: linalg.generic
// VEC: tensor.extract
// VEC-NOT: vector.load
func.func @f16(%x: tensor<2x8xf16>, %c: tensor<8xf16>, %s: tensor<8xf16>) -> tensor<2x8xf16> {
  %0 = attn.rotary %x, %c, %s : tensor<2x8xf16>, tensor<8xf16>, tensor<8xf16> -> tensor<2x8xf16>
  return %0 : tensor<2x8xf16>
}
