// RUN: attn-opt %s -attn-split-linear-results -split-input-file | FileCheck %s

// PyTorch 1.13's packed in-projection: Slice [0:32], [32:64], [64:96] on
// the last axis of a dynamic-batch linear -> three results, no slices.
// CHECK-LABEL: func.func @slices
// CHECK-NEXT: %[[L:.*]]:3 = attn.linear %arg0, %arg1 bias(%arg2 : tensor<96xf32>) : tensor<?x?x32xf32>, tensor<32x96xf32> -> tensor<?x?x32xf32>, tensor<?x?x32xf32>, tensor<?x?x32xf32>
// CHECK-NEXT: return %[[L]]#2, %[[L]]#0, %[[L]]#1
func.func @slices(%x: tensor<?x?x32xf32>, %w: tensor<32x96xf32>, %b: tensor<96xf32>)
    -> (tensor<?x?x32xf32>, tensor<?x?x32xf32>, tensor<?x?x32xf32>) {
  %axes = arith.constant dense<-1> : tensor<1xi64>
  %one = arith.constant dense<1> : tensor<1xi64>
  %c0 = arith.constant dense<0> : tensor<1xi64>
  %c32 = arith.constant dense<32> : tensor<1xi64>
  %c64 = arith.constant dense<64> : tensor<1xi64>
  %big = arith.constant dense<9223372036854775807> : tensor<1xi64>
  %y = attn.linear %x, %w bias(%b : tensor<96xf32>) : tensor<?x?x32xf32>, tensor<32x96xf32> -> tensor<?x?x96xf32>
  %q = attn.slice %y[%c0 : %c32, axes %axes, steps %one] : (tensor<?x?x96xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<?x?x32xf32>
  %k = attn.slice %y[%c32 : %c64, axes %axes, steps %one] : (tensor<?x?x96xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<?x?x32xf32>
  %v = attn.slice %y[%c64 : %big, axes %axes, steps %one] : (tensor<?x?x96xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<?x?x32xf32>
  return %v, %q, %k : tensor<?x?x32xf32>, tensor<?x?x32xf32>, tensor<?x?x32xf32>
}

// -----

// PyTorch 2.x: unflatten(-1, (3, E)).unsqueeze(0).transpose(0, -2)
// .squeeze(-2) then [i] -> three results; the gathered values have the
// results' shapes.
// CHECK-LABEL: func.func @unflatten_transpose_gather
// CHECK-NEXT: %[[L:.*]]:3 = attn.linear %arg0, %arg1 : tensor<1x6x16xf32>, tensor<16x96xf32> -> tensor<1x6x32xf32>, tensor<1x6x32xf32>, tensor<1x6x32xf32>
// CHECK-NEXT: return %[[L]]#0, %[[L]]#1, %[[L]]#2
func.func @unflatten_transpose_gather(%x: tensor<1x6x16xf32>, %w: tensor<16x96xf32>)
    -> (tensor<1x6x32xf32>, tensor<1x6x32xf32>, tensor<1x6x32xf32>) {
  %s4 = arith.constant dense<[1, 6, 3, 32]> : tensor<4xi64>
  %s5 = arith.constant dense<[1, 1, 6, 3, 32]> : tensor<5xi64>
  %s4b = arith.constant dense<[3, 1, 6, 32]> : tensor<4xi64>
  %i0 = arith.constant dense<0> : tensor<i64>
  %i1 = arith.constant dense<1> : tensor<i64>
  %i2 = arith.constant dense<2> : tensor<i64>
  %y = attn.linear %x, %w : tensor<1x6x16xf32>, tensor<16x96xf32> -> tensor<1x6x96xf32>
  %0 = attn.reshape %y, %s4 : tensor<1x6x96xf32>, tensor<4xi64> -> tensor<1x6x3x32xf32>
  %1 = attn.reshape %0, %s5 {allowzero} : tensor<1x6x3x32xf32>, tensor<5xi64> -> tensor<1x1x6x3x32xf32>
  %2 = attn.transpose %1, [3, 1, 2, 0, 4] : tensor<1x1x6x3x32xf32> -> tensor<3x1x6x1x32xf32>
  %3 = attn.reshape %2, %s4b {allowzero} : tensor<3x1x6x1x32xf32>, tensor<4xi64> -> tensor<3x1x6x32xf32>
  %q = attn.gather %3[%i0] {axis = 0 : i64} : tensor<3x1x6x32xf32>, tensor<i64> -> tensor<1x6x32xf32>
  %k = attn.gather %3[%i1] {axis = 0 : i64} : tensor<3x1x6x32xf32>, tensor<i64> -> tensor<1x6x32xf32>
  %v = attn.gather %3[%i2] {axis = 0 : i64} : tensor<3x1x6x32xf32>, tensor<i64> -> tensor<1x6x32xf32>
  return %q, %k, %v : tensor<1x6x32xf32>, tensor<1x6x32xf32>, tensor<1x6x32xf32>
}

// -----

// A column range that reaches its use with another (static) shape is the
// result reshaped; an unused range (the middle) is a result nobody reads.
// CHECK-LABEL: func.func @reshaped_and_gap
// CHECK: %[[L:.*]]:3 = attn.linear %arg0, %arg1 : tensor<4x8xf32>, tensor<8x48xf32> -> tensor<4x16xf32>, tensor<4x16xf32>, tensor<4x16xf32>
// CHECK: %[[R:.*]] = attn.reshape %[[L]]#2, %{{.*}} : tensor<4x16xf32>, tensor<3xi64> -> tensor<2x2x16xf32>
// CHECK: return %[[L]]#0, %[[R]]
func.func @reshaped_and_gap(%x: tensor<4x8xf32>, %w: tensor<8x48xf32>) -> (tensor<4x16xf32>, tensor<2x2x16xf32>) {
  %axes = arith.constant dense<1> : tensor<1xi64>
  %one = arith.constant dense<1> : tensor<1xi64>
  %c0 = arith.constant dense<0> : tensor<1xi64>
  %c16 = arith.constant dense<16> : tensor<1xi64>
  %c32 = arith.constant dense<32> : tensor<1xi64>
  %c48 = arith.constant dense<48> : tensor<1xi64>
  %s = arith.constant dense<[2, 2, 16]> : tensor<3xi64>
  %y = attn.linear %x, %w : tensor<4x8xf32>, tensor<8x48xf32> -> tensor<4x48xf32>
  %a = attn.slice %y[%c0 : %c16, axes %axes, steps %one] : (tensor<4x48xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<4x16xf32>
  %c = attn.slice %y[%c32 : %c48, axes %axes, steps %one] : (tensor<4x48xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<4x16xf32>
  %r = attn.reshape %c, %s : tensor<4x16xf32>, tensor<3xi64> -> tensor<2x2x16xf32>
  return %a, %r : tensor<4x16xf32>, tensor<2x2x16xf32>
}

// -----

// GPT-2's Conv1D: the Gemm's rows un-flattened with run-time dims, then the
// columns sliced. Each result is reshaped by the rows that reshape asked for
// (a 0 without allowzero resolved from the result's rows), then its width.
// CHECK-LABEL: func.func @runtime_rows
// CHECK: %[[L:.*]]:3 = attn.linear %arg0, %arg1 : tensor<?x8xf32>, tensor<8x48xf32> -> tensor<?x16xf32>, tensor<?x16xf32>, tensor<?x16xf32>
// CHECK-NOT: attn.slice
// CHECK: %[[S0:.*]] = tensor.extract %arg2[%c0]
// CHECK: %[[D0:.*]] = tensor.dim %[[L]]#0, %c0
// CHECK: %[[Z0:.*]] = arith.cmpi eq, %[[S0]], %c0_i64
// CHECK: %[[E0:.*]] = arith.select %[[Z0]], %{{.*}}, %[[S0]]
// CHECK: %[[S1:.*]] = tensor.extract %arg2[%c1]
// CHECK: %[[Z1:.*]] = arith.cmpi eq, %[[S1]], %c0_i64
// CHECK: %[[E1:.*]] = arith.select %[[Z1]], %c48_i64, %[[S1]]
// CHECK: %[[SH:.*]] = tensor.from_elements %[[E0]], %[[E1]], %c16_i64 : tensor<3xi64>
// CHECK: attn.reshape %[[L]]#0, %[[SH]] {allowzero} : tensor<?x16xf32>, tensor<3xi64> -> tensor<?x?x16xf32>
// CHECK-COUNT-2: attn.reshape %[[L]]#{{[12]}}
func.func @runtime_rows(%x: tensor<?x8xf32>, %w: tensor<8x48xf32>, %shape: tensor<3xi64>) -> (tensor<?x?x16xf32>, tensor<?x?x16xf32>, tensor<?x?x16xf32>) {
  %axes = arith.constant dense<2> : tensor<1xi64>
  %one = arith.constant dense<1> : tensor<1xi64>
  %c0 = arith.constant dense<0> : tensor<1xi64>
  %c16 = arith.constant dense<16> : tensor<1xi64>
  %c32 = arith.constant dense<32> : tensor<1xi64>
  %c48 = arith.constant dense<48> : tensor<1xi64>
  %y = attn.linear %x, %w : tensor<?x8xf32>, tensor<8x48xf32> -> tensor<?x48xf32>
  %r = attn.reshape %y, %shape : tensor<?x48xf32>, tensor<3xi64> -> tensor<?x?x48xf32>
  %q = attn.slice %r[%c0 : %c16, axes %axes, steps %one] : (tensor<?x?x48xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<?x?x16xf32>
  %k = attn.slice %r[%c16 : %c32, axes %axes, steps %one] : (tensor<?x?x48xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<?x?x16xf32>
  %v = attn.slice %r[%c32 : %c48, axes %axes, steps %one] : (tensor<?x?x48xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<?x?x16xf32>
  return %q, %k, %v : tensor<?x?x16xf32>, tensor<?x?x16xf32>, tensor<?x?x16xf32>
}

// -----

// Not split: overlapping ranges; the whole result used elsewhere; rows
// reordered by a transpose before the chunk is selected; a gather on a row
// dim. All unchanged.
// CHECK-LABEL: func.func @not_split
// CHECK-COUNT-4: attn.linear %{{.*}} -> tensor<
// CHECK-NOT: attn.linear
func.func @not_split(%x: tensor<4x8xf32>, %w: tensor<8x64xf32>, %x3: tensor<2x3x8xf32>)
    -> (tensor<4x32xf32>, tensor<4x32xf32>, tensor<4x32xf32>, tensor<4x64xf32>, tensor<2x3x32xf32>, tensor<3x64xf32>) {
  %axes = arith.constant dense<1> : tensor<1xi64>
  %one = arith.constant dense<1> : tensor<1xi64>
  %c0 = arith.constant dense<0> : tensor<1xi64>
  %c16 = arith.constant dense<16> : tensor<1xi64>
  %c32 = arith.constant dense<32> : tensor<1xi64>
  %c48 = arith.constant dense<48> : tensor<1xi64>
  %y = attn.linear %x, %w : tensor<4x8xf32>, tensor<8x64xf32> -> tensor<4x64xf32>
  %a = attn.slice %y[%c0 : %c32, axes %axes, steps %one] : (tensor<4x64xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<4x32xf32>
  %b = attn.slice %y[%c16 : %c48, axes %axes, steps %one] : (tensor<4x64xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<4x32xf32>
  %y2 = attn.linear %x, %w : tensor<4x8xf32>, tensor<8x64xf32> -> tensor<4x64xf32>
  %c = attn.slice %y2[%c0 : %c32, axes %axes, steps %one] : (tensor<4x64xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<4x32xf32>
  %y3 = attn.linear %x3, %w : tensor<2x3x8xf32>, tensor<8x64xf32> -> tensor<2x3x64xf32>
  %s4 = arith.constant dense<[2, 3, 2, 32]> : tensor<4xi64>
  %i0 = arith.constant dense<0> : tensor<i64>
  %0 = attn.reshape %y3, %s4 : tensor<2x3x64xf32>, tensor<4xi64> -> tensor<2x3x2x32xf32>
  %1 = attn.transpose %0, [2, 1, 0, 3] : tensor<2x3x2x32xf32> -> tensor<2x3x2x32xf32>
  %q = attn.gather %1[%i0] {axis = 0 : i64} : tensor<2x3x2x32xf32>, tensor<i64> -> tensor<3x2x32xf32>
  %s3 = arith.constant dense<[2, 3, 32]> : tensor<3xi64>
  %qq = attn.reshape %q, %s3 : tensor<3x2x32xf32>, tensor<3xi64> -> tensor<2x3x32xf32>
  %y4 = attn.linear %x3, %w : tensor<2x3x8xf32>, tensor<8x64xf32> -> tensor<2x3x64xf32>
  %r = attn.gather %y4[%i0] {axis = 0 : i64} : tensor<2x3x64xf32>, tensor<i64> -> tensor<3x64xf32>
  return %a, %b, %c, %y2, %qq, %r : tensor<4x32xf32>, tensor<4x32xf32>, tensor<4x32xf32>, tensor<4x64xf32>, tensor<2x3x32xf32>, tensor<3x64xf32>
}

// -----

// A negative gather axis wraps as in ONNX (-4 of rank 4 is the chunk axis
// 0; the index -1 is chunk 2), also in hand-written IR: the attribute is read
// as a signed value (it was compared as unsigned, so the gathers were never
// looked through and nothing was split).
// CHECK-LABEL: func.func @negative_gather_axis
// CHECK-NEXT: %[[L:.*]]:3 = attn.linear %arg0, %arg1 : tensor<1x6x16xf32>, tensor<16x96xf32> -> tensor<1x6x32xf32>, tensor<1x6x32xf32>, tensor<1x6x32xf32>
// CHECK-NEXT: return %[[L]]#0, %[[L]]#1, %[[L]]#2
func.func @negative_gather_axis(%x: tensor<1x6x16xf32>, %w: tensor<16x96xf32>)
    -> (tensor<1x6x32xf32>, tensor<1x6x32xf32>, tensor<1x6x32xf32>) {
  %s4 = arith.constant dense<[1, 6, 3, 32]> : tensor<4xi64>
  %s5 = arith.constant dense<[1, 1, 6, 3, 32]> : tensor<5xi64>
  %s4b = arith.constant dense<[3, 1, 6, 32]> : tensor<4xi64>
  %i0 = arith.constant dense<0> : tensor<i64>
  %i1 = arith.constant dense<1> : tensor<i64>
  %im1 = arith.constant dense<-1> : tensor<i64>
  %y = attn.linear %x, %w : tensor<1x6x16xf32>, tensor<16x96xf32> -> tensor<1x6x96xf32>
  %0 = attn.reshape %y, %s4 : tensor<1x6x96xf32>, tensor<4xi64> -> tensor<1x6x3x32xf32>
  %1 = attn.reshape %0, %s5 {allowzero} : tensor<1x6x3x32xf32>, tensor<5xi64> -> tensor<1x1x6x3x32xf32>
  %2 = attn.transpose %1, [3, 1, 2, 0, 4] : tensor<1x1x6x3x32xf32> -> tensor<3x1x6x1x32xf32>
  %3 = attn.reshape %2, %s4b {allowzero} : tensor<3x1x6x1x32xf32>, tensor<4xi64> -> tensor<3x1x6x32xf32>
  %q = attn.gather %3[%i0] {axis = -4 : i64} : tensor<3x1x6x32xf32>, tensor<i64> -> tensor<1x6x32xf32>
  %k = attn.gather %3[%i1] {axis = -4 : i64} : tensor<3x1x6x32xf32>, tensor<i64> -> tensor<1x6x32xf32>
  %v = attn.gather %3[%im1] {axis = -4 : i64} : tensor<3x1x6x32xf32>, tensor<i64> -> tensor<1x6x32xf32>
  return %q, %k, %v : tensor<1x6x32xf32>, tensor<1x6x32xf32>, tensor<1x6x32xf32>
}
