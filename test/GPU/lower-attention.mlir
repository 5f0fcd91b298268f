// RUN: attn-opt %s -split-input-file -attn-gpu-lower-attention | FileCheck %s --check-prefix=TENSOR
// RUN: attn-opt %s -split-input-file -attn-gpu-lower-attention \
// RUN:   -one-shot-bufferize="bufferize-function-boundaries=1 function-boundary-type-conversion=identity-layout-map" \
// RUN:   -attn-gpu-lower-attention | FileCheck %s --check-prefix=KERNEL

// Phase 1 (tensors): views of the operands, a fresh output buffer and a call
// of a placeholder carrying the op's attributes.
// TENSOR-LABEL: func @seed_mask
// TENSOR-NOT:     attn.attention
// TENSOR:         bufferization.to_buffer %{{.*}} read_only : tensor<?x8x?x64xf32> to memref<?x8x?x64xf32, strided<[?, ?, ?, ?], offset: ?>>
// TENSOR:         %[[OUT:.*]] = memref.alloc(%{{.*}}, %{{.*}}) : memref<?x8x?x64xf32>
// TENSOR:         call @__attn_gpu_attention_0({{.*}}, %[[OUT]]) {attn.causal, attn.fill_value = -1.000000e+20 : f64, attn.has_mask = true, attn.mask_first, attn.mask_kind = #attn.mask_kind<fill_if_zero>, attn.scale = 6.250000e-02 : f64}
// TENSOR:         bufferization.to_tensor %[[OUT]] restrict writable
// TENSOR:       func.func private @__attn_gpu_attention_0(

// Phase 2 (buffers): one block per (query tile, batch x heads), 128 threads,
// shared-memory tiles (32 rows for D = 64), online softmax, causal skipping.
// KERNEL-LABEL: func @seed_mask
// KERNEL-NOT:     call @__attn_gpu_attention
// KERNEL:         %[[NQT:.*]] = arith.ceildivui %{{.*}}, %c32
// KERNEL:         gpu.launch blocks(%{{.*}}, %{{.*}}, %{{.*}}) in (%{{.*}} = %[[NQT]], %{{.*}} = %{{.*}}, %{{.*}} = %c1{{.*}}) threads(%{{.*}}, %{{.*}}, %{{.*}}) in (%{{.*}} = %c128
// KERNEL-SAME:      module(@attn_kernels) function(@attention__0)
// KERNEL-SAME:      workgroup(%{{.*}} : memref<32x64xf32, #gpu.address_space<workgroup>>, %{{.*}} : memref<32x64xf32, #gpu.address_space<workgroup>>, %{{.*}} : memref<32x64xf32, #gpu.address_space<workgroup>>, %[[S:.*]] : memref<32x32xf32, #gpu.address_space<workgroup>>
// Causal: the key loop stops at the tile's last query row.
// KERNEL:           %[[END:.*]] = arith.minsi %{{.*}}, %dim{{.*}} : index
// KERNEL:           scf.for %{{.*}} = %c0{{.*}} to %[[END]] step %c32
// KERNEL:             gpu.barrier
// KERNEL:             arith.cmpi eq
// KERNEL:             arith.select
// KERNEL:             arith.cmpi sgt
// KERNEL:             memref.store %{{.*}}, %[[S]]
// KERNEL:             gpu.barrier
// KERNEL:             arith.maximumf
// KERNEL:             math.exp
// KERNEL:             gpu.barrier
// KERNEL:           arith.divf
// KERNEL:           gpu.terminator
// KERNEL-NOT:   func.func private @__attn_gpu_attention
func.func @seed_mask(%q: tensor<?x8x?x64xf32>, %k: tensor<?x8x?x64xf32>, %v: tensor<?x8x?x64xf32>, %m: tensor<?x1x1x?xi64>) -> tensor<?x8x?x64xf32> {
  %0 = attn.attention %q, %k, %v mask(%m : tensor<?x1x1x?xi64>) {scale = 0.0625 : f64, mask_kind = #attn.mask_kind<fill_if_zero>, fill_value = -1.0e20 : f64, mask_first, causal} : tensor<?x8x?x64xf32>, tensor<?x8x?x64xf32>, tensor<?x8x?x64xf32> -> tensor<?x8x?x64xf32>
  return %0 : tensor<?x8x?x64xf32>
}

// -----

// Head dim 128 in f32: the tiles shrink to 16 rows to fit 48 KiB of shared
// memory.
// KERNEL-LABEL: func @wide_f32
// KERNEL:         gpu.launch
// KERNEL-SAME:      workgroup(%{{.*}} : memref<16x128xf32, #gpu.address_space<workgroup>>
func.func @wide_f32(%q: tensor<1x4x256x128xf32>, %k: tensor<1x4x256x128xf32>, %v: tensor<1x4x256x128xf32>) -> tensor<1x4x256x128xf32> {
  %0 = attn.attention %q, %k, %v {scale = 0.088 : f64, mask_kind = #attn.mask_kind<none>} : tensor<1x4x256x128xf32>, tensor<1x4x256x128xf32>, tensor<1x4x256x128xf32> -> tensor<1x4x256x128xf32>
  return %0 : tensor<1x4x256x128xf32>
}

// -----

// f16 on tensor cores: 64 query rows per block (4 warps), K and V^T tiles of
// 32 keys (D = 128) in shared memory as f16 with rows padded by 8, S and O in
// registers through nvvm.mma.sync m16n8k16 (f32 accumulators), row max/sum
// over the 4 threads of a row by xor shuffles; P goes back to f16 for P.V.
// (Numerics: emulate-attention.test runs this kernel.)
// KERNEL-LABEL: func @tensor_core_f16
// KERNEL:         %[[NQT:.*]] = arith.ceildivui %{{.*}}, %c64
// KERNEL:         gpu.launch blocks(%{{.*}}, %{{.*}}, %{{.*}}) in (%{{.*}} = %[[NQT]], {{.*}} threads(%{{.*}}, %{{.*}}, %{{.*}}) in (%{{.*}} = %c128
// KERNEL-SAME:      function(@attention_tc__0)
// KERNEL-SAME:      workgroup(%{{.*}} : memref<32x136xf16, #gpu.address_space<workgroup>>, %{{.*}} : memref<128x40xf16, #gpu.address_space<workgroup>>)
// KERNEL:           scf.for
// KERNEL:             gpu.barrier
// KERNEL:             vector.load %{{.*}} : memref<32x136xf16, #gpu.address_space<workgroup>>, vector<2xf16>
// KERNEL:             nvvm.mma.sync A[{{.*}}] B[{{.*}}] C[{{.*}}] {layoutA = #nvvm.mma_layout<row>, layoutB = #nvvm.mma_layout<col>, shape = #nvvm.shape<m = 16, n = 8, k = 16>} : (vector<2xf16>, vector<2xf16>, f32) -> !llvm.struct<(f32, f32, f32, f32)>
// KERNEL:             gpu.shuffle  xor %{{.*}}, %c1_i32{{.*}}, %c32_i32{{.*}} : f32
// KERNEL:             gpu.shuffle  xor %{{.*}}, %c2_i32{{.*}}, %c32_i32{{.*}} : f32
// KERNEL:             math.exp
// KERNEL:             arith.truncf %{{.*}} : f32 to f16
// KERNEL:             nvvm.mma.sync
// KERNEL:           arith.divf
// KERNEL:           arith.truncf %{{.*}} : f32 to f16
// KERNEL:           memref.store %{{.*}} : memref<1x4x256x128xf16>
func.func @tensor_core_f16(%q: tensor<1x4x256x128xf16>, %k: tensor<1x4x256x128xf16>, %v: tensor<1x4x256x128xf16>) -> tensor<1x4x256x128xf16> {
  %0 = attn.attention %q, %k, %v {scale = 0.088 : f64, mask_kind = #attn.mask_kind<none>} : tensor<1x4x256x128xf16>, tensor<1x4x256x128xf16>, tensor<1x4x256x128xf16> -> tensor<1x4x256x128xf16>
  return %0 : tensor<1x4x256x128xf16>
}

// -----

// Layout perms (sequence-first [S, B, H, D] tensors): no transposes; the
// kernel gets memref.transpose views of the stored operands and of the
// output buffer, which is allocated in the stored layout.
// TENSOR-LABEL: func @perms
// TENSOR-NOT:     attn.transpose
// TENSOR:         %[[QB:.*]] = bufferization.to_buffer %arg0 read_only
// TENSOR:         %[[QV:.*]] = memref.transpose %[[QB]] (d0, d1, d2, d3) -> (d1, d2, d0, d3) : memref<?x?x4x32xf32, strided<[?, ?, ?, ?], offset: ?>> to memref<?x4x?x32xf32, strided<[?, ?, ?, ?], offset: ?>>
// TENSOR:         %[[OUT:.*]] = memref.alloc(%{{.*}}, %{{.*}}) : memref<?x?x4x32xf32>
// TENSOR:         %[[OV:.*]] = memref.transpose %[[OUT]] (d0, d1, d2, d3) -> (d1, d2, d0, d3) : memref<?x?x4x32xf32> to memref<?x4x?x32xf32, strided<[128, 32, ?, 1]>>
// TENSOR:         call @__attn_gpu_attention_0(%[[QV]], %{{.*}}, %{{.*}}, %[[OV]])
// TENSOR-NOT:       _perm
// TENSOR-SAME:      : (
// TENSOR:         bufferization.to_tensor %[[OUT]] restrict writable
// KERNEL-LABEL: func @perms
// KERNEL:         gpu.launch
// KERNEL-SAME:      function(@attention__0)
func.func @perms(%q: tensor<?x?x4x32xf32>, %k: tensor<?x?x4x32xf32>, %v: tensor<?x?x4x32xf32>) -> tensor<?x?x4x32xf32> {
  %0 = attn.attention %q, %k, %v {key_perm = array<i64: 1, 2, 0, 3>, mask_kind = #attn.mask_kind<none>, query_perm = array<i64: 1, 2, 0, 3>, result_perm = array<i64: 2, 0, 1, 3>, scale = 0.17 : f64, value_perm = array<i64: 1, 2, 0, 3>} : tensor<?x?x4x32xf32>, tensor<?x?x4x32xf32>, tensor<?x?x4x32xf32> -> tensor<?x?x4x32xf32>
  return %0 : tensor<?x?x4x32xf32>
}
