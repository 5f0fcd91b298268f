// RUN: attn-opt %s -attn-lower-to-linalg="vector-width=8" -one-shot-bufferize="bufferize-function-boundaries=1 allow-return-allocs-from-loops=1 function-boundary-type-conversion=identity-layout-map" -attn-outline-kernels | FileCheck %s
// RUN: attn-opt %s -attn-lower-to-linalg="vector-width=8" -one-shot-bufferize="bufferize-function-boundaries=1 allow-return-allocs-from-loops=1 function-boundary-type-conversion=identity-layout-map" -attn-outline-kernels | grep -c "func.func private @__attn_kernel_matmul" | FileCheck %s --check-prefix=COUNT
// RUN: attn-opt %s -attn-lower-to-linalg="vector-width=8" | FileCheck %s --check-prefix=REGION

// The CPU kernels are built inside kernel regions (no_inline execute_regions
// tagged with the kernel's name in their location) ...
// REGION-LABEL: func @three_layers
// REGION-COUNT-3: scf.execute_region -> tensor<?x32xf32> no_inline
// REGION-NOT:     scf.execute_region

// ... which attn-outline-kernels makes functions of the buffers they read:
// two layers of the same shape, each with its own weights, call one kernel
// function (the weights, packed at compile time, are its argument, in their
// contiguous layout); the layer of another shape has its own.
// CHECK-LABEL: func.func @three_layers
// CHECK:         %[[W1:.*]] = memref.get_global @{{.*}} : memref<2x64x16xf32>
// CHECK:         %[[A:.*]] = call @[[K:__attn_kernel_matmul_[0-9]+]]({{.*}}%[[W1]]
// CHECK:         %[[W2:.*]] = memref.get_global @{{.*}} : memref<2x64x16xf32>
// CHECK:         call @[[K]]({{.*}}%[[W2]]
// CHECK:         memref.get_global @{{.*}} : memref<2x32x16xf32>
// CHECK:         call @[[K2:__attn_kernel_matmul_[0-9]+]](
// CHECK-DAG:   func.func private @[[K]]({{.*}}memref<2x64x16xf32>{{.*}}) -> memref<?x32xf32> attributes {attn.kernel = "matmul"}
// CHECK-DAG:   func.func private @[[K2]]({{.*}}memref<2x32x16xf32>{{.*}}) -> memref<?x32xf32> attributes {attn.kernel = "matmul"}
// COUNT: 2
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
