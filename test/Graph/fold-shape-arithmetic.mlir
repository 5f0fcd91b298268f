// RUN: attn-opt %s -split-input-file -attn-fold-shape-arithmetic -canonicalize | FileCheck %s

// The TorchScript head split: Shape -> Gather -> Unsqueeze -> Mul -> Concat
// -> Reshape becomes scalar arithmetic on tensor.dim; the reshape reads a
// tensor.from_elements (its lowering's tensor.extract folds).
// CHECK-LABEL: func @head_split
// CHECK-NOT:     attn.shape
// CHECK-NOT:     attn.gather
// CHECK-NOT:     attn.concat
// CHECK-DAG:     %[[D0:.*]] = tensor.dim %arg0, %c0
// CHECK-DAG:     %[[D1:.*]] = tensor.dim %arg0, %c1
// CHECK-DAG:     %[[B:.*]] = arith.index_cast %[[D0]] : index to i64
// CHECK-DAG:     %[[S:.*]] = arith.index_cast %[[D1]] : index to i64
// CHECK:         %[[BH:.*]] = arith.muli %[[B]], %c4_i64
// CHECK:         %[[SHAPE:.*]] = tensor.from_elements %[[BH]], %[[S]], %c8_i64 : tensor<3xi64>
// CHECK:         attn.reshape %arg0, %[[SHAPE]] : tensor<?x?x32xf32>, tensor<3xi64> -> tensor<?x?x8xf32>
func.func @head_split(%x: tensor<?x?x32xf32>) -> tensor<?x?x8xf32> {
  %c0 = arith.constant dense<0> : tensor<i64>
  %c1 = arith.constant dense<1> : tensor<i64>
  %c4 = arith.constant dense<4> : tensor<i64>
  %one = arith.constant dense<1> : tensor<1xi64>
  %c8 = arith.constant dense<8> : tensor<1xi64>
  %s = attn.shape %x {end = 3 : i64, start = 0 : i64} : tensor<?x?x32xf32> -> tensor<3xi64>
  %b = attn.gather %s[%c0] {axis = 0 : i64} : tensor<3xi64>, tensor<i64> -> tensor<i64>
  %n = attn.gather %s[%c1] {axis = 0 : i64} : tensor<3xi64>, tensor<i64> -> tensor<i64>
  %bh = attn.mul %b, %c4 : tensor<i64>, tensor<i64> -> tensor<i64>
  %u0 = attn.reshape %bh, %one {allowzero} : tensor<i64>, tensor<1xi64> -> tensor<1xi64>
  %u1 = attn.reshape %n, %one {allowzero} : tensor<i64>, tensor<1xi64> -> tensor<1xi64>
  %shape = attn.concat %u0, %u1, %c8 {axis = 0 : i64} : tensor<1xi64>, tensor<1xi64>, tensor<1xi64> -> tensor<3xi64>
  %r = attn.reshape %x, %shape : tensor<?x?x32xf32>, tensor<3xi64> -> tensor<?x?x8xf32>
  return %r : tensor<?x?x8xf32>
}

// -----

// Where(Equal(shape, -1), 1, shape) before Expand, Slice of a shape, a
// negative constant gather index, a cast: all scalar code; the static dim
// is a constant.
// CHECK-LABEL: func @expand_shape
// CHECK-NOT:     attn.cmp
// CHECK-NOT:     attn.select
// CHECK-NOT:     attn.slice
// CHECK:         %[[D:.*]] = tensor.dim %arg0, %c0
// CHECK:         %[[DI:.*]] = arith.index_cast %[[D]] : index to i64
// CHECK:         %[[EQ:.*]] = arith.cmpi eq, %[[DI]], %c-1_i64
// CHECK:         %[[SEL:.*]] = arith.select %[[EQ]], %c1_i64, %[[DI]]
// CHECK:         %[[E:.*]] = tensor.from_elements %[[SEL]], %c16_i64 : tensor<2xi64>
// CHECK:         attn.expand %arg1, %[[E]]
// CHECK:         %[[T:.*]] = arith.trunci %[[DI]] : i64 to i32
// CHECK:         %[[L:.*]] = tensor.from_elements %[[T]] : tensor<i32>
// CHECK:         return {{.*}}, %[[L]]
func.func @expand_shape(%x: tensor<?x16xf32>, %y: tensor<1x16xf32>) -> (tensor<?x16xf32>, tensor<i32>) {
  %m1 = arith.constant dense<-1> : tensor<2xi64>
  %ones = arith.constant dense<1> : tensor<2xi64>
  %z = arith.constant dense<0> : tensor<1xi64>
  %two = arith.constant dense<2> : tensor<1xi64>
  %step = arith.constant dense<1> : tensor<1xi64>
  %neg = arith.constant dense<-2> : tensor<i64>
  %s = attn.shape %x {end = 2 : i64, start = 0 : i64} : tensor<?x16xf32> -> tensor<2xi64>
  %sl = attn.slice %s[%z : %two, axes %z, steps %step] : (tensor<2xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<2xi64>
  %eq = attn.cmp eq, %sl, %m1 : tensor<2xi64>, tensor<2xi64> -> tensor<2xi1>
  %w = attn.select %eq, %ones, %sl : tensor<2xi1>, tensor<2xi64>, tensor<2xi64> -> tensor<2xi64>
  %e = attn.expand %y, %w : tensor<1x16xf32>, tensor<2xi64> -> tensor<?x16xf32>
  %g = attn.gather %s[%neg] {axis = 0 : i64} : tensor<2xi64>, tensor<i64> -> tensor<i64>
  %c = attn.cast %g : tensor<i64> to tensor<i32>
  return %e, %c : tensor<?x16xf32>, tensor<i32>
}

// -----

// Not folded: a gather by a run-time index (the run-time index check
// reports one out of range; a constant one is a verifier error), and
// data-dependent values.
// CHECK-LABEL: func @not_folded
// CHECK:         attn.gather %{{.*}}[%{{.*}}] {axis = 0 : i64} : tensor<2xi64>, tensor<i64>
// CHECK:         attn.add %arg1, %{{.*}} : tensor<2xi64>
func.func @not_folded(%x: tensor<?x16xf32>, %d: tensor<2xi64>, %i: tensor<i64>) -> (tensor<i64>, tensor<2xi64>) {
  %s = attn.shape %x {end = 2 : i64, start = 0 : i64} : tensor<?x16xf32> -> tensor<2xi64>
  %g = attn.gather %s[%i] {axis = 0 : i64} : tensor<2xi64>, tensor<i64> -> tensor<i64>
  %a = attn.add %d, %s : tensor<2xi64>, tensor<2xi64> -> tensor<2xi64>
  return %g, %a : tensor<i64>, tensor<2xi64>
}
