// RUN: attn-opt %s -attn-expand-dynamic-reshapes | FileCheck %s

// [?] -> [?, ?, 8, 32] becomes a reinterpret_cast with row-major strides.
// CHECK-LABEL: func @two_dynamic
// CHECK-NOT:     memref.expand_shape
// CHECK:         %[[BASE:.*]], %{{.*}}, %{{.*}}, %{{.*}} = memref.extract_strided_metadata
// CHECK:         memref.reinterpret_cast %[[BASE]] to offset: [0], sizes: [%{{.*}}, %{{.*}}, 8, 32], strides: [%{{.*}}, 256, 32, 1]
// CHECK:         memref.cast
func.func @two_dynamic(%a: memref<?xf32>, %x: index, %y: index) -> memref<?x?x8x32xf32> {
  %e = memref.expand_shape %a [[0, 1, 2, 3]] output_shape [%x, %y, 8, 32] : memref<?xf32> into memref<?x?x8x32xf32>
  return %e : memref<?x?x8x32xf32>
}

// One dynamic dim per group is left for expand-strided-metadata.
// CHECK-LABEL: func @one_dynamic
// CHECK:         memref.expand_shape
func.func @one_dynamic(%a: memref<?xf32>, %x: index) -> memref<?x8xf32> {
  %e = memref.expand_shape %a [[0, 1]] output_shape [%x, 8] : memref<?xf32> into memref<?x8xf32>
  return %e : memref<?x8xf32>
}
