// RUN: attn-opt %s -attn-lower-memref-copy | FileCheck %s

// CHECK-LABEL: func @copy
// CHECK-NOT:     memref.copy
// CHECK:         linalg.copy ins(%{{.*}} : memref<?x4xf32, strided<[8, 1]>>) outs(%{{.*}} : memref<?x4xf32>)
func.func @copy(%a: memref<?x4xf32, strided<[8, 1]>>, %b: memref<?x4xf32>) {
  memref.copy %a, %b : memref<?x4xf32, strided<[8, 1]>> to memref<?x4xf32>
  return
}
