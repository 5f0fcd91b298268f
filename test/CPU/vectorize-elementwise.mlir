// RUN: attn-opt %s -attn-lower-to-linalg -linalg-fuse-elementwise-ops -attn-vectorize-elementwise=vector-width=8 -split-input-file | FileCheck %s

// Bias add + tanh on [?, 37]: one row loop, 8-lane vectors over the columns
// (the bias as a vector, the body cloned on vectors), a masked tail for the
// 37 % 8 columns left; dynamic rows run in parallel chunks.
// (The generic under scf.if is the rare-path expansion of a dynamic dim that
// is 1 at run time; index-dependent, it stays.)
// CHECK-LABEL: func.func @bias_tanh
// CHECK: scf.forall
// CHECK: scf.for
// CHECK: scf.for
// CHECK: vector.load {{.*}} : memref<?x37xf32, strided<[37, 1], offset: ?>>, vector<8xf32>
// CHECK: vector.load {{.*}} : memref<37xf32, strided<[1], offset: ?>>, vector<8xf32>
// CHECK: math.tanh {{.*}} : vector<8xf32>
// CHECK: vector.store
// CHECK: vector.create_mask
// CHECK: vector.maskedload
// CHECK: vector.maskedstore
func.func @bias_tanh(%x: tensor<?x37xf32>, %b: tensor<37xf32>) -> tensor<?x37xf32> {
  %0 = attn.add %x, %b : tensor<?x37xf32>, tensor<37xf32> -> tensor<?x37xf32>
  %1 = attn.tanh %0 : tensor<?x37xf32>
  return %1 : tensor<?x37xf32>
}

// -----

// A small static op runs without threads; a per-row operand ([8, 1]) is
// loaded once per row and broadcast.
// CHECK-LABEL: func.func @per_row
// CHECK-NOT: scf.forall
// CHECK: memref.load {{.*}} : memref<8xf32, strided<[1], offset: ?>>
// CHECK: vector.broadcast
// CHECK: arith.divf {{.*}} : vector<8xf32>
func.func @per_row(%x: tensor<8x64xf32>, %r: tensor<8x1xf32>) -> tensor<8x64xf32> {
  %0 = attn.div %x, %r : tensor<8x64xf32>, tensor<8x1xf32> -> tensor<8x64xf32>
  return %0 : tensor<8x64xf32>
}

// -----

// Left alone: a reduction, a bool result, an operand that broadcasts in the
// middle ([4, 1, 64] against [4, 8, 64]).
// CHECK-LABEL: func.func @not_vectorized
// CHECK-COUNT-3: linalg.generic
// CHECK-NOT: vector.load
func.func @not_vectorized(%x: tensor<4x8x64xf32>, %m: tensor<4x1x64xf32>) -> (tensor<4x8x1xf32>, tensor<4x8x64xi1>, tensor<4x8x64xf32>) {
  %0 = attn.reduce sum %x {axes = array<i64: 2>, keepdims = true} : tensor<4x8x64xf32> -> tensor<4x8x1xf32>
  %1 = attn.cmp gt, %x, %m : tensor<4x8x64xf32>, tensor<4x1x64xf32> -> tensor<4x8x64xi1>
  %2 = attn.add %x, %m : tensor<4x8x64xf32>, tensor<4x1x64xf32> -> tensor<4x8x64xf32>
  return %0, %1, %2 : tensor<4x8x1xf32>, tensor<4x8x64xi1>, tensor<4x8x64xf32>
}

// -----

// A generic that yields a value defined outside its body (a fill from a
// runtime scalar, no inputs): the value is broadcast, main loop and tail.
// CHECK-LABEL: func.func @fill_scalar
// CHECK-SAME:    (%[[V:.+]]: f32,
// CHECK: scf.for
// CHECK:   %[[B:.+]] = vector.broadcast %[[V]] : f32 to vector<8xf32>
// CHECK:   vector.store %[[B]]
// CHECK: vector.maskedstore
#id2 = affine_map<(d0, d1) -> (d0, d1)>
func.func @fill_scalar(%v: f32, %n: index) -> tensor<?x40xf32> {
  %e = tensor.empty(%n) : tensor<?x40xf32>
  %0 = linalg.generic {indexing_maps = [#id2], iterator_types = ["parallel", "parallel"]} outs(%e : tensor<?x40xf32>) {
  ^bb0(%out: f32):
    linalg.yield %v : f32
  } -> tensor<?x40xf32>
  return %0 : tensor<?x40xf32>
}
