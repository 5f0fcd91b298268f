// RUN: attn-opt %s -split-input-file -attn-gpu-tile-matmul | FileCheck %s --check-prefixes=CHECK,TC
// RUN: attn-opt %s -split-input-file -attn-gpu-tile-matmul=tensor-cores=0 | FileCheck %s --check-prefixes=CHECK,SIMT

// A Linear layer's matmul on buffers: 64 x 64 tiles of C (grid = ceil(N/64) x
// ceil(M/64)), 256 threads, A [64 x 17] and B [16 x 64] f32 tiles in shared
// memory, 16 accumulators per thread carried by the K loop, two barriers per
// K step, C += acc under bounds checks.
// CHECK-LABEL: func @linear
// CHECK-NOT:     linalg.matmul
// CHECK:         %[[GX:.*]] = arith.ceildivui %{{.*}}, %c64
// CHECK:         %[[GY:.*]] = arith.ceildivui %{{.*}}, %c64
// CHECK:         gpu.launch blocks(%{{.*}}, %{{.*}}, %{{.*}}) in (%{{.*}} = %[[GX]], %{{.*}} = %[[GY]], {{.*}} threads({{.*}}) in (%{{.*}} = %c256
// CHECK-SAME:      function(@matmul_fc_0) workgroup(%[[AS:.*]] : memref<64x17xf32, #gpu.address_space<workgroup>>, %[[BS:.*]] : memref<16x64xf32, #gpu.address_space<workgroup>>)
// CHECK:           scf.for %{{.*}} = %c0{{.*}} to %{{.*}} step %c16{{.*}} iter_args({{.*}}) -> (f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)
// CHECK:             scf.if
// CHECK:               memref.load %{{.*}} : memref<?x256xf32>
// CHECK:             memref.store %{{.*}}, %[[AS]]
// CHECK:             memref.store %{{.*}}, %[[BS]]
// CHECK:             gpu.barrier
// CHECK-COUNT-16:    math.fma
// CHECK:             gpu.barrier
// CHECK:           arith.addf
// CHECK:           memref.store %{{.*}} : memref<?x1024xf32>
func.func @linear(%a: memref<?x256xf32>, %w: memref<256x1024xf32>, %c: memref<?x1024xf32>) {
  linalg.matmul ins(%a, %w : memref<?x256xf32>, memref<256x1024xf32>) outs(%c : memref<?x1024xf32>) loc("fc")
  return
}

// -----

// f16 operands. Tensor cores: 128 threads (2 x 2 warps of 32 x 32), A and
// B^T tiles of 32 k in shared memory as f16 (rows padded to 40), staged by a
// loop, 2 x 4 mma.sync per 16 k; C += acc in f32, truncated.
// With tensor-cores=0: the f32 SIMT tiles, f16 widened when staged.
// CHECK-LABEL: func @half
// CHECK:         gpu.launch
// TC-SAME:         in (%{{.*}} = %c128
// TC-SAME:         function(@tc_matmul__0) workgroup(%{{.*}} : memref<64x40xf16, #gpu.address_space<workgroup>>, %{{.*}} : memref<64x40xf16, #gpu.address_space<workgroup>>)
// TC:              scf.for
// TC:                scf.for
// TC:                gpu.barrier
// TC-COUNT-8:        nvvm.mma.sync
// TC:                gpu.barrier
// SIMT-SAME:       in (%{{.*}} = %c256
// SIMT:            arith.extf %{{.*}} : f16 to f32
// SIMT-NOT:        nvvm.mma.sync
// CHECK:           arith.extf %{{.*}} : f16 to f32
// CHECK:           arith.truncf %{{.*}} : f32 to f16
func.func @half(%a: memref<8x16xf16>, %b: memref<16x8xf16>, %c: memref<8x8xf16>) {
  linalg.matmul ins(%a, %b : memref<8x16xf16>, memref<16x8xf16>) outs(%c : memref<8x8xf16>)
  return
}

// -----

// Tensors (before bufferization) are not touched.
// CHECK-LABEL: func @tensors
// CHECK:         linalg.matmul
func.func @tensors(%a: tensor<8x16xf32>, %b: tensor<16x8xf32>, %c: tensor<8x8xf32>) -> tensor<8x8xf32> {
  %0 = linalg.matmul ins(%a, %b : tensor<8x16xf32>, tensor<16x8xf32>) outs(%c : tensor<8x8xf32>) -> tensor<8x8xf32>
  return %0 : tensor<8x8xf32>
}

// -----

// A Linear layer as lowered: zero fill, matmul, bias + relu generic into a
// fresh buffer. One kernel: the fill is dropped (C = acc, C never read), the
// generic's body runs on the accumulators, stored to its output; C is not
// written. (Allocations in between do not matter.)
// CHECK-LABEL: func @epilogue
// CHECK-NOT:     linalg.fill
// CHECK:         gpu.launch
// CHECK:           scf.for
// CHECK:           memref.load %arg2[%{{.*}}] : memref<1024xf32>
// CHECK:           arith.addf
// CHECK:           arith.maximumf
// CHECK:           memref.store %{{.*}}, %arg3[%{{.*}}, %{{.*}}] : memref<?x1024xf32>
// CHECK-NOT:     linalg.generic
// CHECK-NOT:     linalg.matmul
#id = affine_map<(i, j) -> (i, j)>
#col = affine_map<(i, j) -> (j)>
func.func @epilogue(%a: memref<?x256xf32>, %w: memref<256x1024xf32>, %bias: memref<1024xf32>, %d: memref<?x1024xf32>) {
  %zero = arith.constant 0.0 : f32
  %c0 = arith.constant 0 : index
  %m = memref.dim %a, %c0 : memref<?x256xf32>
  %c = memref.alloc(%m) : memref<?x1024xf32>
  linalg.fill ins(%zero : f32) outs(%c : memref<?x1024xf32>)
  linalg.matmul ins(%a, %w : memref<?x256xf32>, memref<256x1024xf32>) outs(%c : memref<?x1024xf32>)
  %other = memref.alloc(%m) : memref<?x1024xf32>
  linalg.generic {indexing_maps = [#id, #col, #id], iterator_types = ["parallel", "parallel"]}
      ins(%c, %bias : memref<?x1024xf32>, memref<1024xf32>) outs(%d : memref<?x1024xf32>) {
  ^bb0(%x: f32, %b: f32, %o: f32):
    %s = arith.addf %x, %b : f32
    %r = arith.maximumf %s, %zero : f32
    linalg.yield %r : f32
  }
  memref.dealloc %c : memref<?x1024xf32>
  memref.dealloc %other : memref<?x1024xf32>
  return
}

// -----

// Not fused: C is read again after the generic (the generic stays), and a
// generic that is a reduction; the zero fills still fold into the kernels.
// CHECK-LABEL: func @no_epilogue
// CHECK-NOT:     linalg.fill
// CHECK:         gpu.launch
// CHECK:         linalg.generic
// CHECK:         memref.copy
// CHECK-NOT:     linalg.fill
// CHECK:         gpu.launch
// CHECK:         linalg.generic {{.*}}"reduction"
#id = affine_map<(i, j) -> (i, j)>
func.func @no_epilogue(%a: memref<8x16xf32>, %w: memref<16x8xf32>, %d: memref<8x8xf32>, %e: memref<8x8xf32>, %r: memref<8xf32>) {
  %zero = arith.constant 0.0 : f32
  %c = memref.alloc() : memref<8x8xf32>
  linalg.fill ins(%zero : f32) outs(%c : memref<8x8xf32>)
  linalg.matmul ins(%a, %w : memref<8x16xf32>, memref<16x8xf32>) outs(%c : memref<8x8xf32>)
  linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%c : memref<8x8xf32>) outs(%d : memref<8x8xf32>) {
  ^bb0(%x: f32, %o: f32):
    %n = arith.negf %x : f32
    linalg.yield %n : f32
  }
  memref.copy %c, %e : memref<8x8xf32> to memref<8x8xf32>
  %c2 = memref.alloc() : memref<8x8xf32>
  linalg.fill ins(%zero : f32) outs(%c2 : memref<8x8xf32>)
  linalg.matmul ins(%a, %w : memref<8x16xf32>, memref<16x8xf32>) outs(%c2 : memref<8x8xf32>)
  linalg.generic {indexing_maps = [#id, affine_map<(i, j) -> (i)>], iterator_types = ["parallel", "reduction"]}
      ins(%c2 : memref<8x8xf32>) outs(%r : memref<8xf32>) {
  ^bb0(%x: f32, %o: f32):
    %s = arith.addf %x, %o : f32
    linalg.yield %s : f32
  }
  return
}
