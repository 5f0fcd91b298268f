// RUN: attn-opt %s -split-input-file -attn-lower-to-linalg=vector-width=8 -canonicalize | FileCheck %s
// RUN: attn-opt %s -split-input-file -attn-lower-to-linalg=vector-width=16 -canonicalize | FileCheck %s --check-prefix=W16

// f32, n = 32 (a multiple of 8): the row kernel. Pass 1 adds the residual,
// stores the sum (the second result) and accumulates squares in 4 FMA
// chains; pass 2 reads the sum back and writes x * rstd * scale.
// CHECK-LABEL: func @kernel_sum
// CHECK-NOT:     attn.rms_norm
// CHECK:         %[[OUT:.*]] = memref.alloc(%{{.*}}) {alignment = 64 : i64} : memref<?x32xf32>
// CHECK:         %[[SUM:.*]] = memref.alloc(%{{.*}}) {alignment = 64 : i64} : memref<?x32xf32>
// CHECK:         scf.forall
// CHECK:           scf.for
// CHECK:             arith.addf %{{.*}}, %{{.*}} : vector<8xf32>
// CHECK:             vector.store %{{.*}}, %[[SUM]]
// CHECK-COUNT-4:     vector.fma
// CHECK:             vector.reduction <add>
// CHECK:             math.sqrt
// CHECK:             scf.for
// CHECK:               vector.load %[[SUM]]
// CHECK:               vector.store %{{.*}}, %[[OUT]]
// W16-LABEL: func @kernel_sum
// W16-COUNT-2: vector.fma {{.*}} : vector<16xf32>
// W16-NOT:     vector.fma
func.func @kernel_sum(%x: tensor<?x?x32xf32>, %r: tensor<?x?x32xf32>, %g: tensor<32xf32>) -> (tensor<?x?x32xf32>, tensor<?x?x32xf32>) {
  %0:2 = attn.rms_norm %x residual(%r : tensor<?x?x32xf32>), %g {axis = 2 : i64, epsilon = 1.0e-06 : f64} : tensor<?x?x32xf32>, tensor<32xf32> -> tensor<?x?x32xf32>, tensor<?x?x32xf32>
  return %0#0, %0#1 : tensor<?x?x32xf32>, tensor<?x?x32xf32>
}

// -----

// No residual: nothing stored in pass 1, pass 2 re-reads the input.
// CHECK-LABEL: func @kernel_plain
// W16-LABEL: func @kernel_plain
// CHECK:         %[[IN:.*]] = bufferization.to_buffer %{{.*}} read_only : tensor<?x64xf32>
// CHECK:         scf.forall
// CHECK-NOT:       vector.store
// CHECK:           vector.reduction
// CHECK:           vector.load %[[IN]]
// CHECK:           vector.store
func.func @kernel_plain(%x: tensor<?x64xf32>, %g: tensor<64xf32>) -> tensor<?x64xf32> {
  %0 = attn.rms_norm %x, %g {axis = 1 : i64, epsilon = 1.0e-06 : f64} : tensor<?x64xf32>, tensor<64xf32> -> tensor<?x64xf32>
  return %0 : tensor<?x64xf32>
}

// -----

// f16: the generic lowering, statistics in f32 (widened on load, rsqrt in
// f32, truncated on store).
// CHECK-LABEL: func @half
// CHECK-NOT:     scf.forall
// CHECK:         linalg.generic
// CHECK:           arith.extf %{{.*}} : f16 to f32
// CHECK:           arith.mulf %{{.*}} : f32
// CHECK:         } -> tensor<4x1xf32>
// CHECK:         math.rsqrt %{{.*}} : f32
// CHECK:         arith.truncf %{{.*}} : f32 to f16
func.func @half(%x: tensor<4x32xf16>, %g: tensor<32xf16>) -> tensor<4x32xf16> {
  %0 = attn.rms_norm %x, %g {axis = 1 : i64, epsilon = 1.0e-06 : f64} : tensor<4x32xf16>, tensor<32xf16> -> tensor<4x32xf16>
  return %0 : tensor<4x32xf16>
}

// -----

// n = 20 (not a multiple of the width) and a broadcast [1] scale: generic.
// CHECK-LABEL: func @generic_fallback
// CHECK-NOT:     scf.forall
// CHECK:         linalg.generic
// CHECK:         math.rsqrt
// CHECK-NOT:     attn.rms_norm
func.func @generic_fallback(%x: tensor<3x20xf32>, %r: tensor<3x20xf32>, %g: tensor<1xf32>) -> (tensor<3x20xf32>, tensor<3x20xf32>) {
  %0:2 = attn.rms_norm %x residual(%r : tensor<3x20xf32>), %g {axis = 1 : i64, epsilon = 1.0e-06 : f64} : tensor<3x20xf32>, tensor<1xf32> -> tensor<3x20xf32>, tensor<3x20xf32>
  return %0#0, %0#1 : tensor<3x20xf32>, tensor<3x20xf32>
}
