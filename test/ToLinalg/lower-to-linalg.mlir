// RUN: attn-opt %s -split-input-file -attn-lower-to-linalg | FileCheck %s

// Broadcasting add: static size-1 dims read index 0; the dynamic batch dim
// is the result's (no other operand has it), so nothing is guarded.
// CHECK-LABEL: func @add_broadcast
// CHECK-NOT:     scf.if
// CHECK:         linalg.generic {indexing_maps = [#{{.*}}, #{{.*}}, #{{.*}}], iterator_types = ["parallel", "parallel", "parallel"]}
// CHECK:           arith.addf
// CHECK-NOT:     attn.add
func.func @add_broadcast(%a: tensor<?x4x8xf32>, %b: tensor<1x1x8xf32>) -> tensor<?x4x8xf32> {
  %0 = attn.add %a, %b : tensor<?x4x8xf32>, tensor<1x1x8xf32> -> tensor<?x4x8xf32>
  return %0 : tensor<?x4x8xf32>
}

// -----

// A Linear layer: [b, s, k] x [k, n] collapses the rows into one matmul.
// CHECK-LABEL: func @linear
// CHECK:         tensor.collapse_shape %{{.*}} {{\[\[}}0, 1], [2]] : tensor<?x?x256xf32> into tensor<?x256xf32>
// CHECK:         linalg.matmul
// CHECK:         tensor.expand_shape
func.func @linear(%x: tensor<?x?x256xf32>, %w: tensor<256x64xf32>) -> tensor<?x?x64xf32> {
  %0 = attn.matmul %x, %w : tensor<?x?x256xf32>, tensor<256x64xf32> -> tensor<?x?x64xf32>
  return %0 : tensor<?x?x64xf32>
}

// -----

// A Linear layer with several results and no vector kernel (the GPU's
// pipeline): one matmul per result on its columns of the weight and bias,
// each with its own zero-filled buffer and epilogue, no copies.
// CHECK-LABEL: func @linear_split
// CHECK:         %[[W0:.*]] = tensor.extract_slice %arg1[0, 0] [64, 16] [1, 1]
// CHECK:         %[[B0:.*]] = tensor.extract_slice %arg2[0] [16] [1]
// CHECK:         %[[I0:.*]] = bufferization.alloc_tensor(%{{.*}}) : tensor<?x16xf32>
// CHECK:         %[[F0:.*]] = linalg.fill ins(%{{.*}} : f32) outs(%[[I0]] : tensor<?x16xf32>)
// CHECK:         linalg.matmul ins(%arg0, %[[W0]] : tensor<?x64xf32>, tensor<64x16xf32>) outs(%[[F0]]
// CHECK:         linalg.generic {{.*}} ins(%{{.*}}, %[[B0]]
// CHECK:           arith.addf
// CHECK:           arith.maximumf
// CHECK:         %[[W1:.*]] = tensor.extract_slice %arg1[0, 16] [64, 32] [1, 1]
// CHECK:         linalg.matmul ins(%arg0, %[[W1]]
// CHECK-NOT:     linalg.copy
func.func @linear_split(%x: tensor<?x64xf32>, %w: tensor<64x48xf32>, %b: tensor<48xf32>) -> (tensor<?x16xf32>, tensor<?x32xf32>) {
  %0:2 = attn.linear %x, %w bias(%b : tensor<48xf32>) {activation = #attn.activation<relu>} : tensor<?x64xf32>, tensor<64x48xf32> -> tensor<?x16xf32>, tensor<?x32xf32>
  return %0#0, %0#1 : tensor<?x16xf32>, tensor<?x32xf32>
}

// -----

// Batched matmul with a broadcast batch dim becomes one contraction generic.
// CHECK-LABEL: func @batched
// CHECK:         linalg.fill
// CHECK:         linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]
// CHECK:           arith.mulf
// CHECK:           arith.addf
func.func @batched(%a: tensor<2x8x?x64xf32>, %b: tensor<1x8x64x?xf32>) -> tensor<2x8x?x?xf32> {
  %0 = attn.matmul %a, %b : tensor<2x8x?x64xf32>, tensor<1x8x64x?xf32> -> tensor<2x8x?x?xf32>
  return %0 : tensor<2x8x?x?xf32>
}

// -----

// Softmax: max-reduce, exp(x - max), sum-reduce, divide.
// CHECK-LABEL: func @softmax
// CHECK:         linalg.generic {{.*}} ["parallel", "reduction"]
// CHECK:           arith.maximumf
// CHECK:         linalg.generic
// CHECK:           arith.subf
// CHECK:           math.exp
// CHECK:         linalg.generic {{.*}} ["parallel", "reduction"]
// CHECK:           arith.addf
// CHECK:         linalg.generic
// CHECK:           arith.divf
func.func @softmax(%x: tensor<?x16xf32>) -> tensor<?x16xf32> {
  %0 = attn.softmax %x {axis = -1 : i64} : tensor<?x16xf32> -> tensor<?x16xf32>
  return %0 : tensor<?x16xf32>
}

// -----

// Reshape with ONNX 0 / -1 entries computes the target shape at run time.
// CHECK-LABEL: func @reshape
// CHECK:         arith.divsi
// CHECK:         %[[FLAT:.*]] = tensor.collapse_shape %{{.*}} {{\[\[}}0, 1, 2]] : tensor<?x?x256xf32> into tensor<?xf32>
// CHECK:         tensor.expand_shape %[[FLAT]] {{\[\[}}0, 1, 2, 3]] output_shape [%{{.*}}, %{{.*}}, 8, 32] : tensor<?xf32> into tensor<?x?x8x32xf32>
func.func @reshape(%x: tensor<?x?x256xf32>) -> tensor<?x?x8x32xf32> {
  %s = arith.constant dense<[0, -1, 8, 32]> : tensor<4xi64>
  %0 = attn.reshape %x, %s : tensor<?x?x256xf32>, tensor<4xi64> -> tensor<?x?x8x32xf32>
  return %0 : tensor<?x?x8x32xf32>
}

// -----

// CHECK-LABEL: func @layer_norm
// CHECK:         math.rsqrt
// CHECK-NOT:     attn.layer_norm
func.func @layer_norm(%x: tensor<?x?x32xf32>, %g: tensor<32xf32>, %b: tensor<32xf32>) -> tensor<?x?x32xf32> {
  %0 = attn.layer_norm %x, %g, %b : tensor<32xf32> {axis = -1 : i64, epsilon = 1.0e-5 : f64} : tensor<?x?x32xf32>, tensor<32xf32> -> tensor<?x?x32xf32>
  return %0 : tensor<?x?x32xf32>
}

// -----

// Gather clamps indices so that bad input never reads outside the table,
// and reports them: the OR of the checks becomes the status result
// [code, check, a, b] (RuntimeChecks.h), the check's message in attn.checks.
// CHECK-LABEL: func @gather
// CHECK-SAME:    -> (tensor<?x?x16xf32>, tensor<4xi64>) attributes {attn.checks = ["an op: an index is out of range (e.g. a Gather index beyond its table)"], attn.status_result}
// CHECK:         linalg.generic
// CHECK:           arith.minsi
// CHECK:           arith.maxsi
// CHECK:           tensor.extract
// CHECK:         linalg.generic {{.*}}iterator_types = ["reduction", "reduction"]
// CHECK-SAME:      attn.index_check
// CHECK:           arith.cmpi slt
// CHECK:           arith.cmpi sge
// CHECK:         %[[BAD:.*]] = tensor.extract %{{.*}}[] : tensor<i1>
// CHECK:         %[[CODE:.*]] = arith.select %[[BAD]], %c1_i64, %c0_i64
// CHECK:         %[[ST:.*]] = tensor.from_elements %[[CODE]], %{{.*}}, %{{.*}}, %{{.*}} : tensor<4xi64>
// CHECK:         return %{{.*}}, %[[ST]] : tensor<?x?x16xf32>, tensor<4xi64>
func.func @gather(%t: tensor<100x16xf32>, %i: tensor<?x?xi64>) -> tensor<?x?x16xf32> {
  %0 = attn.gather %t[%i] {axis = 0 : i64} : tensor<100x16xf32>, tensor<?x?xi64> -> tensor<?x?x16xf32>
  return %0 : tensor<?x?x16xf32>
}

// -----

// GatherElements: one generic over the indices; the axis coordinate is the
// clamped index, the dynamic batch dim (indices may outgrow data there) is
// clamped too and both are reported through the index check.
// CHECK-LABEL: func @gather_elements
// CHECK-SAME:    -> (tensor<?x5xf32>, tensor<4xi64>) attributes {attn.checks = [{{.*}}], attn.status_result}
// CHECK:         linalg.generic
// CHECK:           %[[B:.+]] = linalg.index 0
// CHECK:           %[[BC:.+]] = arith.minsi %[[B]]
// CHECK:           arith.minsi
// CHECK:           %[[A:.+]] = arith.maxsi
// CHECK:           tensor.extract %{{.*}}[%[[BC]], %[[A]]]
// CHECK:         linalg.generic {{.*}}iterator_types = ["reduction", "reduction"]
// CHECK-SAME:      attn.index_check
// CHECK:           arith.cmpi slt
// CHECK:           arith.cmpi sge
// CHECK:           linalg.index 0
// CHECK:           arith.cmpi sge
func.func @gather_elements(%t: tensor<?x7xf32>, %i: tensor<?x5xi64>) -> tensor<?x5xf32> {
  %0 = attn.gather_elements %t[%i] {axis = 1 : i64} : tensor<?x7xf32>, tensor<?x5xi64> -> tensor<?x5xf32>
  return %0 : tensor<?x5xf32>
}

// -----

// attn.attention is left for attn-lower-attention.
// CHECK-LABEL: func @keeps_attention
// CHECK:         attn.attention
func.func @keeps_attention(%q: tensor<2x4x8xf32>) -> tensor<2x4x8xf32> {
  %0 = attn.attention %q, %q, %q {scale = 1.0 : f64, mask_kind = #attn.mask_kind<none>} : tensor<2x4x8xf32>, tensor<2x4x8xf32>, tensor<2x4x8xf32> -> tensor<2x4x8xf32>
  return %0 : tensor<2x4x8xf32>
}


// -----

// Run-time shape checks (RuntimeChecks.h): dims that must agree but are not
// known equal (here a static 8 against a dynamic broadcast size) are checked;
// a mismatch is recorded in the status with the node and both sizes, and the
// operand is read through a clamped copy (slow path under scf.if), never
// outside its buffer.
// CHECK-LABEL: func @broadcast_check
// CHECK-SAME:    -> (tensor<?x4xf32>, tensor<4xi64>) attributes {attn.checks = ["node 'add1': operand 0: dimension 0 has size {a} but the broadcast result's is {b} (sizes must be equal or 1)", "node 'add1': operand 1: dimension 0 has size {a} but the broadcast result's is {b} (sizes must be equal or 1)"], attn.status_result}
// CHECK:         %[[IF:.*]] = scf.if %{{.*}} -> (tensor<?x4xf32>) {
// CHECK:           arith.minui
// CHECK:         } else {
// CHECK:           tensor.cast %{{.*}} : tensor<8x4xf32> to tensor<?x4xf32>
// CHECK:         linalg.generic
// CHECK:         arith.select %{{.*}}, %c2_i64
// CHECK:         return %{{.*}}, %{{.*}} : tensor<?x4xf32>, tensor<4xi64>
func.func @broadcast_check(%a: tensor<8x4xf32>, %b: tensor<?x4xf32>) -> tensor<?x4xf32> {
  %0 = attn.add %a, %b : tensor<8x4xf32>, tensor<?x4xf32> -> tensor<?x4xf32> loc("add1")
  return %0 : tensor<?x4xf32>
}
