// RUN: attn-opt %s -attn-lower-to-linalg="vector-width=8" -attn-share-kernel-regions | FileCheck %s
// RUN: attn-opt %s -attn-lower-to-linalg="vector-width=8" -attn-share-kernel-regions | grep -c "func.func private @__attn_region_matmul" | FileCheck %s --check-prefix=COUNT
// RUN: attn-opt %s -attn-lower-to-linalg="vector-width=8" -attn-share-kernel-regions -attn-inline-kernel-regions | FileCheck %s --check-prefix=BACK
// RUN: attn-opt %s -attn-lower-to-linalg="vector-width=8" -attn-share-kernel-regions -canonicalize -attn-inline-kernel-regions -one-shot-bufferize="bufferize-function-boundaries=1 allow-return-allocs-from-loops=1 function-boundary-type-conversion=identity-layout-map" -attn-outline-kernels | FileCheck %s --check-prefix=OUTLINED

// Before bufferization, attn-share-kernel-regions makes each kernel region a
// function of what it reads from outside: the two layers of the same shape
// (each with its own weights, packed at compile time) call one function, the
// layer of another shape has its own.
// CHECK-LABEL: func.func @three_layers
// CHECK:         %[[W1:.*]] = bufferization.to_buffer %{{.*}} : tensor<2x64x16xf32>
// CHECK:         call @[[K:__attn_region_matmul_[0-9]+]](%[[W1]],
// CHECK:         %[[W2:.*]] = bufferization.to_buffer %{{.*}} : tensor<2x64x16xf32>
// CHECK:         call @[[K]](%[[W2]],
// CHECK:         call @[[K2:__attn_region_matmul_[0-9]+]](
// CHECK-NOT:   scf.execute_region
// CHECK-DAG:   func.func private @[[K]]({{.*}}memref<2x64x16xf32>{{.*}}) -> tensor<?x32xf32> attributes {attn.kernel_region = "matmul"}
// CHECK-DAG:   func.func private @[[K2]]({{.*}}memref<2x32x16xf32>{{.*}}) -> tensor<?x32xf32> attributes {attn.kernel_region = "matmul"}
// COUNT: 2

// attn-inline-kernel-regions puts a copy of the function back at each call,
// as a kernel region again (its location names the kernel) ...
// BACK-LABEL: func.func @three_layers
// BACK-COUNT-3: scf.execute_region -> tensor<?x32xf32> no_inline
// BACK-NOT:     call @__attn_region
// BACK-NOT:     func.func private @__attn_region

// ... which attn-outline-kernels shares again after bufferization.
// OUTLINED-LABEL: func.func @three_layers
// OUTLINED:         call @[[K:__attn_kernel_matmul_[0-9]+]](
// OUTLINED:         call @[[K]](
// OUTLINED:         call @[[K2:__attn_kernel_matmul_[0-9]+]](
// OUTLINED-DAG:   func.func private @[[K]]({{.*}}memref<2x64x16xf32>{{.*}}) -> memref<?x32xf32> attributes {attn.kernel = "matmul"}
// OUTLINED-DAG:   func.func private @[[K2]]({{.*}}memref<2x32x16xf32>{{.*}}) -> memref<?x32xf32> attributes {attn.kernel = "matmul"}
func.func @three_layers(%x: tensor<?x64xf32>) -> tensor<?x32xf32> {
  %w1 = arith.constant dense<1.0> : tensor<64x32xf32>
  %w2 = arith.constant dense<2.0> : tensor<64x32xf32>
  %w3 = arith.constant dense<3.0> : tensor<32x32xf32>
  %0 = attn.linear %x, %w1 : tensor<?x64xf32>, tensor<64x32xf32> -> tensor<?x32xf32>
  %1 = attn.linear %x, %w2 : tensor<?x64xf32>, tensor<64x32xf32> -> tensor<?x32xf32>
  %2 = attn.add %0, %1 : tensor<?x32xf32>, tensor<?x32xf32> -> tensor<?x32xf32>
  %3 = attn.linear %2, %w3 : tensor<?x32xf32>, tensor<32x32xf32> -> tensor<?x32xf32>
  return %3 : tensor<?x32xf32>
}

// A scalar the region reads that folds to a constant (a static dim of a
// tensor, arithmetic on it) is cloned into the function as that constant, as
// the canonicalizer would have folded it in place; a tensor.cast it reads is
// cloned too, the function taking the cast's static source.
// CHECK-LABEL: func.func @captured
// CHECK:         call @[[F:__attn_region_k_[0-9]+]](%{{.*}}) : (tensor<4x8xf32>) -> index
// CHECK:       func.func private @[[F]](%[[A:.*]]: tensor<4x8xf32>) -> index
// CHECK-DAG:     %[[C16:.*]] = arith.constant 16 : index
// CHECK-DAG:     %[[CAST:.*]] = tensor.cast %[[A]] : tensor<4x8xf32> to tensor<?x?xf32>
// CHECK:         tensor.dim %[[CAST]]
// CHECK:         arith.addi %{{.*}}, %[[C16]]
func.func @captured(%t: tensor<4x8xf32>) -> index {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %d = tensor.dim %t, %c1 : tensor<4x8xf32>
  %16 = arith.addi %d, %d : index
  %dyn = tensor.cast %t : tensor<4x8xf32> to tensor<?x?xf32>
  %r = scf.execute_region -> index no_inline {
    %x = tensor.dim %dyn, %c0 : tensor<?x?xf32>
    %y = arith.addi %x, %16 : index
    scf.yield %y : index
  } loc(fused<"k">["here"])
  return %r : index
}
