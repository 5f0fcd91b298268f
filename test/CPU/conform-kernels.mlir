// RUN: attn-opt %s -attn-lower-to-linalg="vector-width=8" | FileCheck %s --check-prefix=REGION
// RUN: attn-opt %s -attn-lower-to-linalg="vector-width=8" -one-shot-bufferize="bufferize-function-boundaries=1 allow-return-allocs-from-loops=1 function-boundary-type-conversion=identity-layout-map" -attn-outline-kernels | FileCheck %s
// RUN: sed -e 's/attributes {attn.kernel_regions}//' %s | attn-opt -attn-lower-to-linalg="vector-width=8" | FileCheck %s --check-prefix=UNMARKED

// In a module marked attn.kernel_regions (the CPU pipeline marks it before
// lowering) the slow path of a run-time broadcast or size check (the copy
// conformOperand makes when an operand's dynamic size differs from the
// result's) is a kernel region: each of the four operands of the two adds
// has one, under the scf.if that takes it only when the sizes differ.
// REGION-LABEL: func @two_adds
// REGION-COUNT-4: scf.execute_region -> tensor<?x8xf32> no_inline
// REGION-NOT:     scf.execute_region

// attn-outline-kernels makes them one function, called four times, and
// removes the module's mark.
// CHECK:       module {
// CHECK:       func.func @two_adds(%[[A:.*]]: memref<?x8xf32>, %[[B:.*]]: memref<?x8xf32>, %[[C:.*]]: memref<?x8xf32>)
// CHECK:         call @[[K:__attn_kernel_conform_[0-9]+]](%[[A]],
// CHECK:         call @[[K]](%[[B]],
// CHECK:         call @[[K]](
// CHECK:         call @[[K]](%[[C]],
// CHECK:       func.func private @[[K]](%{{.*}}: memref<?x8xf32>, %{{.*}}: index) -> memref<?x8xf32> attributes {attn.kernel = "conform"}
// CHECK-NOT:   func.func private @__attn_kernel_conform

// Unmarked (the GPU pipeline), the copy stays inline.
// UNMARKED-LABEL: func @two_adds
// UNMARKED-NOT:   scf.execute_region
module attributes {attn.kernel_regions} {
func.func @two_adds(%a: tensor<?x8xf32>, %b: tensor<?x8xf32>, %c: tensor<?x8xf32>) -> tensor<?x8xf32> {
  %0 = attn.add %a, %b : tensor<?x8xf32>, tensor<?x8xf32> -> tensor<?x8xf32>
  %1 = attn.add %0, %c : tensor<?x8xf32>, tensor<?x8xf32> -> tensor<?x8xf32>
  return %1 : tensor<?x8xf32>
}
}
