// RUN: attn-opt %s -attn-fuse-rotary -split-input-file | FileCheck %s

// Hugging Face rotate_half after the head transpose (TorchScript form: ends
// INT64_MAX): one attn.rotary, moved above the transpose with cos/sin
// transposed instead; the shape read of the transposed value reads the
// rotary's dim.
// CHECK-LABEL: func.func @hf_half
// CHECK-SAME: (%[[X:.*]]: tensor<?x?x4x16xf32>, %[[C:.*]]: tensor<1x1x?x16xf32>, %[[S:.*]]: tensor<1x1x?x16xf32>)
// CHECK-DAG: %[[CT:.*]] = attn.transpose %[[C]], [0, 2, 1, 3] : tensor<1x1x?x16xf32> -> tensor<1x?x1x16xf32>
// CHECK-DAG: %[[ST:.*]] = attn.transpose %[[S]], [0, 2, 1, 3]
// CHECK: %[[R:.*]] = attn.rotary %[[X]], %[[CT]], %[[ST]] : tensor<?x?x4x16xf32>, tensor<1x?x1x16xf32>, tensor<1x?x1x16xf32> -> tensor<?x?x4x16xf32>
// CHECK: %[[T:.*]] = attn.transpose %[[R]], [0, 2, 1, 3]
// CHECK: tensor.dim %[[R]], %c1
// CHECK-NOT: attn.slice
// CHECK-NOT: attn.neg
// CHECK: return %[[T]]
func.func @hf_half(%x: tensor<?x?x4x16xf32>, %cos: tensor<1x1x?x16xf32>, %sin: tensor<1x1x?x16xf32>) -> (tensor<?x4x?x16xf32>, index) {
  %c0 = arith.constant dense<0> : tensor<1xi64>
  %c8 = arith.constant dense<8> : tensor<1xi64>
  %max = arith.constant dense<9223372036854775807> : tensor<1xi64>
  %ax = arith.constant dense<3> : tensor<1xi64>
  %one = arith.constant dense<1> : tensor<1xi64>
  %i2 = arith.constant 2 : index
  %q = attn.transpose %x, [0, 2, 1, 3] : tensor<?x?x4x16xf32> -> tensor<?x4x?x16xf32>
  %0 = attn.mul %q, %cos : tensor<?x4x?x16xf32>, tensor<1x1x?x16xf32> -> tensor<?x4x?x16xf32>
  %1 = attn.slice %q[%c0 : %c8, axes %ax, steps %one] : (tensor<?x4x?x16xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<?x4x?x8xf32>
  %2 = attn.slice %q[%c8 : %max, axes %ax, steps %one] : (tensor<?x4x?x16xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<?x4x?x8xf32>
  %3 = attn.neg %2 : tensor<?x4x?x8xf32>
  %4 = attn.concat %3, %1 {axis = 3 : i64} : tensor<?x4x?x8xf32>, tensor<?x4x?x8xf32> -> tensor<?x4x?x16xf32>
  %5 = attn.mul %4, %sin : tensor<?x4x?x16xf32>, tensor<1x1x?x16xf32> -> tensor<?x4x?x16xf32>
  %6 = attn.add %0, %5 : tensor<?x4x?x16xf32>, tensor<?x4x?x16xf32> -> tensor<?x4x?x16xf32>
  %d = tensor.dim %6, %i2 : tensor<?x4x?x16xf32>
  return %6, %d : tensor<?x4x?x16xf32>, index
}

// -----

// Operands in the other order, negative axis and start (dynamo/Split forms).
// CHECK-LABEL: func.func @swapped_negative_axis
// CHECK: %[[R:.*]] = attn.rotary %arg0, %arg1, %arg2 : tensor<2x3x8xf32>, tensor<3x8xf32>, tensor<3x8xf32> -> tensor<2x3x8xf32>
// CHECK-NEXT: return %[[R]]
func.func @swapped_negative_axis(%x: tensor<2x3x8xf32>, %cos: tensor<3x8xf32>, %sin: tensor<3x8xf32>) -> tensor<2x3x8xf32> {
  %c0 = arith.constant dense<0> : tensor<1xi64>
  %c4 = arith.constant dense<4> : tensor<1xi64>
  %m4 = arith.constant dense<-4> : tensor<1xi64>
  %c8 = arith.constant dense<8> : tensor<1xi64>
  %ax = arith.constant dense<-1> : tensor<1xi64>
  %one = arith.constant dense<1> : tensor<1xi64>
  %1 = attn.slice %x[%c0 : %c4, axes %ax, steps %one] : (tensor<2x3x8xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<2x3x4xf32>
  %2 = attn.slice %x[%m4 : %c8, axes %ax, steps %one] : (tensor<2x3x8xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<2x3x4xf32>
  %3 = attn.neg %2 : tensor<2x3x4xf32>
  %4 = attn.concat %3, %1 {axis = -1 : i64} : tensor<2x3x4xf32>, tensor<2x3x4xf32> -> tensor<2x3x8xf32>
  %5 = attn.mul %sin, %4 : tensor<3x8xf32>, tensor<2x3x8xf32> -> tensor<2x3x8xf32>
  %0 = attn.mul %cos, %x : tensor<3x8xf32>, tensor<2x3x8xf32> -> tensor<2x3x8xf32>
  %6 = attn.add %5, %0 : tensor<2x3x8xf32>, tensor<2x3x8xf32> -> tensor<2x3x8xf32>
  return %6 : tensor<2x3x8xf32>
}

// -----

// GPT-J rotate_every_two: stack((-x[..., 1::2], x[..., ::2]), -1).flatten(-2).
// CHECK-LABEL: func.func @interleaved
// CHECK: %[[R:.*]] = attn.rotary %arg0, %arg1, %arg2 {interleaved} : tensor<?x5x8xf32>, tensor<5x8xf32>, tensor<5x8xf32> -> tensor<?x5x8xf32>
// CHECK-NEXT: return %[[R]]
func.func @interleaved(%x: tensor<?x5x8xf32>, %cos: tensor<5x8xf32>, %sin: tensor<5x8xf32>) -> tensor<?x5x8xf32> {
  %c0 = arith.constant dense<0> : tensor<1xi64>
  %c1 = arith.constant dense<1> : tensor<1xi64>
  %max = arith.constant dense<9223372036854775807> : tensor<1xi64>
  %ax = arith.constant dense<2> : tensor<1xi64>
  %two = arith.constant dense<2> : tensor<1xi64>
  %sh4 = arith.constant dense<[0, 5, 4, 1]> : tensor<4xi64>
  %sh3 = arith.constant dense<[0, 5, 8]> : tensor<3xi64>
  %e = attn.slice %x[%c0 : %max, axes %ax, steps %two] : (tensor<?x5x8xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<?x5x4xf32>
  %o = attn.slice %x[%c1 : %max, axes %ax, steps %two] : (tensor<?x5x8xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<?x5x4xf32>
  %n = attn.neg %o : tensor<?x5x4xf32>
  %a = attn.reshape %n, %sh4 : tensor<?x5x4xf32>, tensor<4xi64> -> tensor<?x5x4x1xf32>
  %b = attn.reshape %e, %sh4 : tensor<?x5x4xf32>, tensor<4xi64> -> tensor<?x5x4x1xf32>
  %st = attn.concat %a, %b {axis = 3 : i64} : tensor<?x5x4x1xf32>, tensor<?x5x4x1xf32> -> tensor<?x5x4x2xf32>
  %rot = attn.reshape %st, %sh3 : tensor<?x5x4x2xf32>, tensor<3xi64> -> tensor<?x5x8xf32>
  %0 = attn.mul %x, %cos : tensor<?x5x8xf32>, tensor<5x8xf32> -> tensor<?x5x8xf32>
  %1 = attn.mul %rot, %sin : tensor<?x5x8xf32>, tensor<5x8xf32> -> tensor<?x5x8xf32>
  %2 = attn.add %0, %1 : tensor<?x5x8xf32>, tensor<?x5x8xf32> -> tensor<?x5x8xf32>
  return %2 : tensor<?x5x8xf32>
}

// -----

// Partial rotary (Phi): rotary on x[..., :8] concatenated with x[..., 8:]
// is one op on the whole x.
// CHECK-LABEL: func.func @partial
// CHECK: %[[R:.*]] = attn.rotary %arg0, %arg1, %arg2 : tensor<2x3x12xf32>, tensor<3x8xf32>, tensor<3x8xf32> -> tensor<2x3x12xf32>
// CHECK-NEXT: return %[[R]]
func.func @partial(%x: tensor<2x3x12xf32>, %cos: tensor<3x8xf32>, %sin: tensor<3x8xf32>) -> tensor<2x3x12xf32> {
  %c0 = arith.constant dense<0> : tensor<1xi64>
  %c4 = arith.constant dense<4> : tensor<1xi64>
  %c8 = arith.constant dense<8> : tensor<1xi64>
  %max = arith.constant dense<9223372036854775807> : tensor<1xi64>
  %ax = arith.constant dense<2> : tensor<1xi64>
  %one = arith.constant dense<1> : tensor<1xi64>
  %xr = attn.slice %x[%c0 : %c8, axes %ax, steps %one] : (tensor<2x3x12xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<2x3x8xf32>
  %xp = attn.slice %x[%c8 : %max, axes %ax, steps %one] : (tensor<2x3x12xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<2x3x4xf32>
  %1 = attn.slice %xr[%c0 : %c4, axes %ax, steps %one] : (tensor<2x3x8xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<2x3x4xf32>
  %2 = attn.slice %xr[%c4 : %max, axes %ax, steps %one] : (tensor<2x3x8xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<2x3x4xf32>
  %3 = attn.neg %2 : tensor<2x3x4xf32>
  %4 = attn.concat %3, %1 {axis = 2 : i64} : tensor<2x3x4xf32>, tensor<2x3x4xf32> -> tensor<2x3x8xf32>
  %0 = attn.mul %xr, %cos : tensor<2x3x8xf32>, tensor<3x8xf32> -> tensor<2x3x8xf32>
  %5 = attn.mul %4, %sin : tensor<2x3x8xf32>, tensor<3x8xf32> -> tensor<2x3x8xf32>
  %6 = attn.add %0, %5 : tensor<2x3x8xf32>, tensor<2x3x8xf32> -> tensor<2x3x8xf32>
  %7 = attn.concat %6, %xp {axis = 2 : i64} : tensor<2x3x8xf32>, tensor<2x3x4xf32> -> tensor<2x3x12xf32>
  return %7 : tensor<2x3x12xf32>
}

// -----

// Not rotary: the halves are not swapped (concat(-x1, x2)), nothing changes.
// CHECK-LABEL: func.func @not_rotate_half
// CHECK-NOT: attn.rotary
// CHECK: attn.neg
func.func @not_rotate_half(%x: tensor<2x8xf32>, %cos: tensor<8xf32>, %sin: tensor<8xf32>) -> tensor<2x8xf32> {
  %c0 = arith.constant dense<0> : tensor<1xi64>
  %c4 = arith.constant dense<4> : tensor<1xi64>
  %c8 = arith.constant dense<8> : tensor<1xi64>
  %ax = arith.constant dense<1> : tensor<1xi64>
  %one = arith.constant dense<1> : tensor<1xi64>
  %1 = attn.slice %x[%c0 : %c4, axes %ax, steps %one] : (tensor<2x8xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<2x4xf32>
  %2 = attn.slice %x[%c4 : %c8, axes %ax, steps %one] : (tensor<2x8xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<2x4xf32>
  %3 = attn.neg %1 : tensor<2x4xf32>
  %4 = attn.concat %3, %2 {axis = 1 : i64} : tensor<2x4xf32>, tensor<2x4xf32> -> tensor<2x8xf32>
  %0 = attn.mul %x, %cos : tensor<2x8xf32>, tensor<8xf32> -> tensor<2x8xf32>
  %5 = attn.mul %4, %sin : tensor<2x8xf32>, tensor<8xf32> -> tensor<2x8xf32>
  %6 = attn.add %0, %5 : tensor<2x8xf32>, tensor<2x8xf32> -> tensor<2x8xf32>
  return %6 : tensor<2x8xf32>
}
