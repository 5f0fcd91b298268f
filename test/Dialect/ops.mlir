// RUN: attn-opt %s | attn-opt | FileCheck %s
// RUN: attn-opt %s --mlir-print-op-generic | attn-opt | FileCheck %s

// Round-trip of every attn op, with static and dynamic (`?`) dims.

// CHECK-LABEL: func.func @binary
func.func @binary(%a: tensor<2x?x4xf32>, %b: tensor<4xf32>, %c: tensor<?x1x4xf32>)
    -> (tensor<2x?x4xf32>, tensor<2x?x4xf32>, tensor<2x?x4xf32>, tensor<2x?x4xf32>,
        tensor<2x?x4xf32>, tensor<2x?x4xf32>, tensor<2x?x4xf32>) {
  // CHECK: attn.add %{{.*}}, %{{.*}} : tensor<2x?x4xf32>, tensor<4xf32> -> tensor<2x?x4xf32>
  %0 = attn.add %a, %b : tensor<2x?x4xf32>, tensor<4xf32> -> tensor<2x?x4xf32>
  // CHECK: attn.sub %{{.*}}, %{{.*}} : tensor<4xf32>, tensor<2x?x4xf32> -> tensor<2x?x4xf32>
  %1 = attn.sub %b, %a : tensor<4xf32>, tensor<2x?x4xf32> -> tensor<2x?x4xf32>
  // CHECK: attn.mul %{{.*}}, %{{.*}} : tensor<2x?x4xf32>, tensor<?x1x4xf32> -> tensor<2x?x4xf32>
  %2 = attn.mul %a, %c : tensor<2x?x4xf32>, tensor<?x1x4xf32> -> tensor<2x?x4xf32>
  // CHECK: attn.div %{{.*}}, %{{.*}} : tensor<2x?x4xf32>, tensor<4xf32> -> tensor<2x?x4xf32>
  %3 = attn.div %a, %b : tensor<2x?x4xf32>, tensor<4xf32> -> tensor<2x?x4xf32>
  // CHECK: attn.pow %{{.*}}, %{{.*}} : tensor<2x?x4xf32>, tensor<4xf32> -> tensor<2x?x4xf32>
  %4 = attn.pow %a, %b : tensor<2x?x4xf32>, tensor<4xf32> -> tensor<2x?x4xf32>
  // CHECK: attn.max %{{.*}}, %{{.*}} : tensor<2x?x4xf32>, tensor<4xf32> -> tensor<2x?x4xf32>
  %5 = attn.max %a, %b : tensor<2x?x4xf32>, tensor<4xf32> -> tensor<2x?x4xf32>
  // CHECK: attn.min %{{.*}}, %{{.*}} : tensor<2x?x4xf32>, tensor<4xf32> -> tensor<2x?x4xf32>
  %6 = attn.min %a, %b : tensor<2x?x4xf32>, tensor<4xf32> -> tensor<2x?x4xf32>
  return %0, %1, %2, %3, %4, %5, %6 : tensor<2x?x4xf32>, tensor<2x?x4xf32>, tensor<2x?x4xf32>,
      tensor<2x?x4xf32>, tensor<2x?x4xf32>, tensor<2x?x4xf32>, tensor<2x?x4xf32>
}

// CHECK-LABEL: func.func @logical
func.func @logical(%a: tensor<3x4xi1>, %b: tensor<4xi1>) -> (tensor<3x4xi1>, tensor<3x4xi1>, tensor<3x4xi1>, tensor<3x4xi1>) {
  // CHECK: attn.and %{{.*}}, %{{.*}} : tensor<3x4xi1>, tensor<4xi1> -> tensor<3x4xi1>
  %0 = attn.and %a, %b : tensor<3x4xi1>, tensor<4xi1> -> tensor<3x4xi1>
  // CHECK: attn.or %{{.*}}, %{{.*}} : tensor<3x4xi1>, tensor<4xi1> -> tensor<3x4xi1>
  %1 = attn.or %a, %b : tensor<3x4xi1>, tensor<4xi1> -> tensor<3x4xi1>
  // CHECK: attn.xor %{{.*}}, %{{.*}} : tensor<3x4xi1>, tensor<4xi1> -> tensor<3x4xi1>
  %2 = attn.xor %a, %b : tensor<3x4xi1>, tensor<4xi1> -> tensor<3x4xi1>
  // CHECK: attn.not %{{.*}} : tensor<3x4xi1>
  %3 = attn.not %a : tensor<3x4xi1>
  return %0, %1, %2, %3 : tensor<3x4xi1>, tensor<3x4xi1>, tensor<3x4xi1>, tensor<3x4xi1>
}

// CHECK-LABEL: func.func @compare_select
func.func @compare_select(%m: tensor<?x1x1x?xi64>, %s: tensor<?x8x?x?xf32>) -> (tensor<?x1x1x?xi1>, tensor<?x8x?x?xf32>) {
  %zero = arith.constant dense<0> : tensor<i64>
  %fill = arith.constant dense<-1.000000e+20> : tensor<f32>
  // CHECK: attn.cmp eq, %{{.*}}, %{{.*}} : tensor<?x1x1x?xi64>, tensor<i64> -> tensor<?x1x1x?xi1>
  %c = attn.cmp eq, %m, %zero : tensor<?x1x1x?xi64>, tensor<i64> -> tensor<?x1x1x?xi1>
  // CHECK: attn.cmp ne,
  %c1 = attn.cmp ne, %m, %zero : tensor<?x1x1x?xi64>, tensor<i64> -> tensor<?x1x1x?xi1>
  // CHECK: attn.cmp lt,
  %c2 = attn.cmp lt, %m, %zero : tensor<?x1x1x?xi64>, tensor<i64> -> tensor<?x1x1x?xi1>
  // CHECK: attn.cmp le,
  %c3 = attn.cmp le, %m, %zero : tensor<?x1x1x?xi64>, tensor<i64> -> tensor<?x1x1x?xi1>
  // CHECK: attn.cmp gt,
  %c4 = attn.cmp gt, %m, %zero : tensor<?x1x1x?xi64>, tensor<i64> -> tensor<?x1x1x?xi1>
  // CHECK: attn.cmp ge,
  %c5 = attn.cmp ge, %m, %zero : tensor<?x1x1x?xi64>, tensor<i64> -> tensor<?x1x1x?xi1>
  // CHECK: attn.select %{{.*}}, %{{.*}}, %{{.*}} : tensor<?x1x1x?xi1>, tensor<f32>, tensor<?x8x?x?xf32> -> tensor<?x8x?x?xf32>
  %r = attn.select %c, %fill, %s : tensor<?x1x1x?xi1>, tensor<f32>, tensor<?x8x?x?xf32> -> tensor<?x8x?x?xf32>
  return %c, %r : tensor<?x1x1x?xi1>, tensor<?x8x?x?xf32>
}

// CHECK-LABEL: func.func @unary
func.func @unary(%x: tensor<2x?xf32>, %i: tensor<4xi32>) -> tensor<2x?xf32> {
  // CHECK: attn.neg %{{.*}} : tensor<2x?xf32>
  %0 = attn.neg %x : tensor<2x?xf32>
  // CHECK: attn.abs %{{.*}} : tensor<4xi32>
  %1 = attn.abs %i : tensor<4xi32>
  // CHECK: attn.exp %{{.*}} : tensor<2x?xf32>
  %2 = attn.exp %0 : tensor<2x?xf32>
  // CHECK: attn.log %{{.*}} : tensor<2x?xf32>
  %3 = attn.log %2 : tensor<2x?xf32>
  // CHECK: attn.sqrt %{{.*}} : tensor<2x?xf32>
  %4 = attn.sqrt %3 : tensor<2x?xf32>
  // CHECK: attn.reciprocal %{{.*}} : tensor<2x?xf32>
  %5 = attn.reciprocal %4 : tensor<2x?xf32>
  // CHECK: attn.tanh %{{.*}} : tensor<2x?xf32>
  %6 = attn.tanh %5 : tensor<2x?xf32>
  // CHECK: attn.erf %{{.*}} : tensor<2x?xf32>
  %7 = attn.erf %6 : tensor<2x?xf32>
  // CHECK: attn.sigmoid %{{.*}} : tensor<2x?xf32>
  %8 = attn.sigmoid %7 : tensor<2x?xf32>
  // CHECK: attn.relu %{{.*}} : tensor<2x?xf32>
  %9 = attn.relu %8 : tensor<2x?xf32>
  // CHECK: attn.floor %{{.*}} : tensor<2x?xf32>
  %10 = attn.floor %9 : tensor<2x?xf32>
  // CHECK: attn.ceil %{{.*}} : tensor<2x?xf32>
  %11 = attn.ceil %10 : tensor<2x?xf32>
  // CHECK: attn.gelu %{{.*}} : tensor<2x?xf32>
  %12 = attn.gelu %11 : tensor<2x?xf32>
  // CHECK: attn.gelu %{{.*}} {tanh_approximation} : tensor<2x?xf32>
  %13 = attn.gelu %12 {tanh_approximation} : tensor<2x?xf32>
  return %13 : tensor<2x?xf32>
}

// CHECK-LABEL: func.func @cast
func.func @cast(%x: tensor<2x?xf32>, %b: tensor<3xi1>) -> (tensor<2x?xbf16>, tensor<3xi64>, tensor<2x3xf16>) {
  // CHECK: attn.cast %{{.*}} : tensor<2x?xf32> to tensor<2x?xbf16>
  %0 = attn.cast %x : tensor<2x?xf32> to tensor<2x?xbf16>
  // CHECK: attn.cast %{{.*}} : tensor<3xi1> to tensor<3xi64>
  %1 = attn.cast %b : tensor<3xi1> to tensor<3xi64>
  // A cast may refine a dynamic dim.
  // CHECK: attn.cast %{{.*}} : tensor<2x?xf32> to tensor<2x3xf16>
  %2 = attn.cast %x : tensor<2x?xf32> to tensor<2x3xf16>
  return %0, %1, %2 : tensor<2x?xbf16>, tensor<3xi64>, tensor<2x3xf16>
}

// CHECK-LABEL: func.func @matmul
func.func @matmul(%a: tensor<?x8x?x64xf32>, %b: tensor<?x8x64x?xf32>, %w: tensor<64x32xf32>,
                  %v: tensor<64xf32>) -> (tensor<?x8x?x?xf32>, tensor<?x8x?x32xf32>, tensor<?x8x?xf32>) {
  // CHECK: attn.matmul %{{.*}}, %{{.*}} : tensor<?x8x?x64xf32>, tensor<?x8x64x?xf32> -> tensor<?x8x?x?xf32>
  %0 = attn.matmul %a, %b : tensor<?x8x?x64xf32>, tensor<?x8x64x?xf32> -> tensor<?x8x?x?xf32>
  // CHECK: attn.matmul %{{.*}}, %{{.*}} : tensor<?x8x?x64xf32>, tensor<64x32xf32> -> tensor<?x8x?x32xf32>
  %1 = attn.matmul %a, %w : tensor<?x8x?x64xf32>, tensor<64x32xf32> -> tensor<?x8x?x32xf32>
  // CHECK: attn.matmul %{{.*}}, %{{.*}} : tensor<?x8x?x64xf32>, tensor<64xf32> -> tensor<?x8x?xf32>
  %2 = attn.matmul %a, %v : tensor<?x8x?x64xf32>, tensor<64xf32> -> tensor<?x8x?xf32>
  return %0, %1, %2 : tensor<?x8x?x?xf32>, tensor<?x8x?x32xf32>, tensor<?x8x?xf32>
}

// CHECK-LABEL: func.func @layout
func.func @layout(%x: tensor<?x?x512xf32>, %s: tensor<4xi64>, %e: tensor<3xi64>)
    -> (tensor<?x8x?x64xf32>, tensor<?x?x512xf32>, tensor<?x?x8x64xf32>) {
  // CHECK: attn.reshape %{{.*}}, %{{.*}} : tensor<?x?x512xf32>, tensor<4xi64> -> tensor<?x?x8x64xf32>
  %0 = attn.reshape %x, %s : tensor<?x?x512xf32>, tensor<4xi64> -> tensor<?x?x8x64xf32>
  // CHECK: attn.reshape %{{.*}}, %{{.*}} {allowzero} : tensor<?x?x512xf32>, tensor<4xi64> -> tensor<?x?x8x64xf32>
  %r = attn.reshape %x, %s {allowzero} : tensor<?x?x512xf32>, tensor<4xi64> -> tensor<?x?x8x64xf32>
  // CHECK: attn.transpose %{{.*}}, [0, 2, 1, 3] : tensor<?x?x8x64xf32> -> tensor<?x8x?x64xf32>
  %1 = attn.transpose %0, [0, 2, 1, 3] : tensor<?x?x8x64xf32> -> tensor<?x8x?x64xf32>
  // CHECK: attn.expand %{{.*}}, %{{.*}} : tensor<?x?x512xf32>, tensor<3xi64> -> tensor<?x?x512xf32>
  %2 = attn.expand %x, %e : tensor<?x?x512xf32>, tensor<3xi64> -> tensor<?x?x512xf32>
  return %1, %2, %r : tensor<?x8x?x64xf32>, tensor<?x?x512xf32>, tensor<?x?x8x64xf32>
}

// CHECK-LABEL: func.func @gather_elements
func.func @gather_elements(%d: tensor<1x?xi64>, %i: tensor<1x?xi64>) -> tensor<1x?xi64> {
  // CHECK: attn.gather_elements %{{.*}}[%{{.*}}] {axis = 1 : i64} : tensor<1x?xi64>, tensor<1x?xi64> -> tensor<1x?xi64>
  %0 = attn.gather_elements %d[%i] {axis = 1 : i64} : tensor<1x?xi64>, tensor<1x?xi64> -> tensor<1x?xi64>
  return %0 : tensor<1x?xi64>
}

// CHECK-LABEL: func.func @concat_slice_gather
func.func @concat_slice_gather(%a: tensor<2x?xf32>, %b: tensor<2x3xf32>, %st: tensor<1xi64>,
                               %en: tensor<1xi64>, %ax: tensor<1xi64>, %sp: tensor<1xi64>,
                               %idx: tensor<5xi64>, %idx32: tensor<i32>)
    -> (tensor<2x?xf32>, tensor<2x?xf32>, tensor<2x5xf32>, tensor<?xf32>) {
  // CHECK: attn.concat %{{.*}}, %{{.*}} {axis = 1 : i64} : tensor<2x?xf32>, tensor<2x3xf32> -> tensor<2x?xf32>
  %0 = attn.concat %a, %b {axis = 1 : i64} : tensor<2x?xf32>, tensor<2x3xf32> -> tensor<2x?xf32>
  // CHECK: attn.slice %{{.*}}[%{{.*}} : %{{.*}}, axes %{{.*}}, steps %{{.*}}] : (tensor<2x?xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<2x?xf32>
  %1 = attn.slice %0[%st : %en, axes %ax, steps %sp] : (tensor<2x?xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<2x?xf32>
  // CHECK: attn.gather %{{.*}}[%{{.*}}] {axis = 1 : i64} : tensor<2x3xf32>, tensor<5xi64> -> tensor<2x5xf32>
  %2 = attn.gather %b[%idx] {axis = 1 : i64} : tensor<2x3xf32>, tensor<5xi64> -> tensor<2x5xf32>
  // CHECK: attn.gather %{{.*}}[%{{.*}}] {axis = 0 : i64} : tensor<2x?xf32>, tensor<i32> -> tensor<?xf32>
  %3 = attn.gather %a[%idx32] {axis = 0 : i64} : tensor<2x?xf32>, tensor<i32> -> tensor<?xf32>
  return %0, %1, %2, %3 : tensor<2x?xf32>, tensor<2x?xf32>, tensor<2x5xf32>, tensor<?xf32>
}

// CHECK-LABEL: func.func @shape_ops
func.func @shape_ops(%x: tensor<?x8x?xf32>) -> (tensor<2xi64>, tensor<?x?xf32>, tensor<?xi64>, tensor<?xf32>) {
  // CHECK: attn.shape %{{.*}} {end = 3 : i64, start = 1 : i64} : tensor<?x8x?xf32> -> tensor<2xi64>
  %0 = attn.shape %x {start = 1 : i64, end = 3 : i64} : tensor<?x8x?xf32> -> tensor<2xi64>
  // CHECK: attn.constant_of_shape %{{.*}}, 1.000000e+00 : f32 : tensor<2xi64> -> tensor<?x?xf32>
  %1 = attn.constant_of_shape %0, 1.0 : f32 : tensor<2xi64> -> tensor<?x?xf32>
  %start = arith.constant dense<0> : tensor<i64>
  %limit = arith.constant dense<10> : tensor<i64>
  %delta = arith.constant dense<1> : tensor<i64>
  // CHECK: attn.range %{{.*}}, %{{.*}}, %{{.*}} : tensor<i64> -> tensor<?xi64>
  %2 = attn.range %start, %limit, %delta : tensor<i64> -> tensor<?xi64>
  %fs = arith.constant dense<0.0> : tensor<f32>
  %fl = arith.constant dense<4.0> : tensor<f32>
  %fd = arith.constant dense<0.5> : tensor<f32>
  // CHECK: attn.range %{{.*}}, %{{.*}}, %{{.*}} : tensor<f32> -> tensor<?xf32>
  %3 = attn.range %fs, %fl, %fd : tensor<f32> -> tensor<?xf32>
  return %0, %1, %2, %3 : tensor<2xi64>, tensor<?x?xf32>, tensor<?xi64>, tensor<?xf32>
}

// CHECK-LABEL: func.func @trilu
func.func @trilu(%x: tensor<?x4x4xi1>) -> (tensor<?x4x4xi1>, tensor<?x4x4xi1>) {
  // CHECK: attn.trilu %{{.*}} {k = 0 : i64, upper = false} : tensor<?x4x4xi1> -> tensor<?x4x4xi1>
  %0 = attn.trilu %x {k = 0 : i64, upper = false} : tensor<?x4x4xi1> -> tensor<?x4x4xi1>
  // CHECK: attn.trilu %{{.*}} {k = 1 : i64, upper = true} : tensor<?x4x4xi1> -> tensor<?x4x4xi1>
  %1 = attn.trilu %x {k = 1 : i64, upper = true} : tensor<?x4x4xi1> -> tensor<?x4x4xi1>
  return %0, %1 : tensor<?x4x4xi1>, tensor<?x4x4xi1>
}

// CHECK-LABEL: func.func @reduce
func.func @reduce(%x: tensor<?x4x8xf32>) -> (tensor<?x4x1xf32>, tensor<?xf32>, tensor<?x4x8xf32>) {
  // CHECK: attn.reduce sum %{{.*}} {axes = array<i64: -1>, keepdims = true} : tensor<?x4x8xf32> -> tensor<?x4x1xf32>
  %0 = attn.reduce sum %x {axes = array<i64: -1>, keepdims = true} : tensor<?x4x8xf32> -> tensor<?x4x1xf32>
  // CHECK: attn.reduce mean %{{.*}} {axes = array<i64: 1, 2>, keepdims = false} : tensor<?x4x8xf32> -> tensor<?xf32>
  %1 = attn.reduce mean %x {axes = array<i64: 1, 2>, keepdims = false} : tensor<?x4x8xf32> -> tensor<?xf32>
  // CHECK: attn.reduce max
  %2 = attn.reduce max %x {axes = array<i64: 2>, keepdims = true} : tensor<?x4x8xf32> -> tensor<?x4x1xf32>
  // CHECK: attn.reduce min
  %3 = attn.reduce min %x {axes = array<i64: 2>, keepdims = true} : tensor<?x4x8xf32> -> tensor<?x4x1xf32>
  // CHECK: attn.reduce prod
  %4 = attn.reduce prod %x {axes = array<i64: 2>, keepdims = true} : tensor<?x4x8xf32> -> tensor<?x4x1xf32>
  // CHECK: attn.softmax %{{.*}} {axis = -1 : i64} : tensor<?x4x8xf32> -> tensor<?x4x8xf32>
  %5 = attn.softmax %x {axis = -1 : i64} : tensor<?x4x8xf32> -> tensor<?x4x8xf32>
  return %0, %1, %5 : tensor<?x4x1xf32>, tensor<?xf32>, tensor<?x4x8xf32>
}

// Layout perms: [B, S, H, D] operands and result.
// CHECK-LABEL: func.func @attention_layout
func.func @attention_layout(%q: tensor<?x?x4x16xf32>, %k: tensor<?x?x4x16xf32>, %v: tensor<?x?x4x16xf32>) -> tensor<?x?x4x16xf32> {
  // CHECK: attn.attention %{{.*}}, %{{.*}}, %{{.*}} {key_perm = array<i64: 0, 2, 1, 3>, mask_kind = #attn.mask_kind<none>, query_perm = array<i64: 0, 2, 1, 3>, result_perm = array<i64: 0, 2, 1, 3>, scale = 2.500000e-01 : f64, value_perm = array<i64: 0, 2, 1, 3>} : tensor<?x?x4x16xf32>, tensor<?x?x4x16xf32>, tensor<?x?x4x16xf32> -> tensor<?x?x4x16xf32>
  %0 = attn.attention %q, %k, %v {mask_kind = #attn.mask_kind<none>, scale = 0.25 : f64, query_perm = array<i64: 0, 2, 1, 3>, key_perm = array<i64: 0, 2, 1, 3>, value_perm = array<i64: 0, 2, 1, 3>, result_perm = array<i64: 0, 2, 1, 3>} : tensor<?x?x4x16xf32>, tensor<?x?x4x16xf32>, tensor<?x?x4x16xf32> -> tensor<?x?x4x16xf32>
  return %0 : tensor<?x?x4x16xf32>
}

// CHECK-LABEL: func.func @linear
func.func @linear(%x: tensor<?x?x64xf32>, %w: tensor<64x96xf32>, %b: tensor<96xf32>)
    -> (tensor<?x?x96xf32>, tensor<?x?x96xf32>, tensor<?x?x32xf32>, tensor<?x?x64xf32>) {
  // CHECK: attn.linear %{{.*}}, %{{.*}} : tensor<?x?x64xf32>, tensor<64x96xf32> -> tensor<?x?x96xf32>
  %0 = attn.linear %x, %w : tensor<?x?x64xf32>, tensor<64x96xf32> -> tensor<?x?x96xf32>
  // CHECK: attn.linear %{{.*}}, %{{.*}} bias(%{{.*}} : tensor<96xf32>) {activation = #attn.activation<gelu_tanh>} : tensor<?x?x64xf32>, tensor<64x96xf32> -> tensor<?x?x96xf32>
  %1 = attn.linear %x, %w bias(%b : tensor<96xf32>) {activation = #attn.activation<gelu_tanh>} : tensor<?x?x64xf32>, tensor<64x96xf32> -> tensor<?x?x96xf32>
  // CHECK: %{{.*}}:2 = attn.linear %{{.*}}, %{{.*}} bias(%{{.*}} : tensor<96xf32>) {activation = #attn.activation<relu>} : tensor<?x?x64xf32>, tensor<64x96xf32> -> tensor<?x?x32xf32>, tensor<?x?x64xf32>
  %2:2 = attn.linear %x, %w bias(%b : tensor<96xf32>) {activation = #attn.activation<relu>} : tensor<?x?x64xf32>, tensor<64x96xf32> -> tensor<?x?x32xf32>, tensor<?x?x64xf32>
  return %0, %1, %2#0, %2#1 : tensor<?x?x96xf32>, tensor<?x?x96xf32>, tensor<?x?x32xf32>, tensor<?x?x64xf32>
}

// CHECK-LABEL: func.func @layer_norm
func.func @layer_norm(%x: tensor<?x?x512xf32>, %r: tensor<?x?x512xf32>, %g: tensor<512xf32>,
                      %b: tensor<512xf32>) -> (tensor<?x?x512xf32>, tensor<?x?x512xf32>) {
  // CHECK: attn.layer_norm %{{.*}}, %{{.*}}, %{{.*}} : tensor<512xf32> {axis = -1 : i64, epsilon = 1.000000e-05 : f64} : tensor<?x?x512xf32>, tensor<512xf32> -> tensor<?x?x512xf32>
  %0 = attn.layer_norm %x, %g, %b : tensor<512xf32> {axis = -1 : i64, epsilon = 1.0e-05 : f64} : tensor<?x?x512xf32>, tensor<512xf32> -> tensor<?x?x512xf32>
  // CHECK: attn.layer_norm %{{.*}} residual(%{{.*}} : tensor<?x?x512xf32>), %{{.*}} {axis = 2 : i64, epsilon = 9.9999999999999995E-7 : f64} : tensor<?x?x512xf32>, tensor<512xf32> -> tensor<?x?x512xf32>
  %1 = attn.layer_norm %x residual(%r : tensor<?x?x512xf32>), %g {axis = 2 : i64, epsilon = 1.0e-06 : f64} : tensor<?x?x512xf32>, tensor<512xf32> -> tensor<?x?x512xf32>
  return %0, %1 : tensor<?x?x512xf32>, tensor<?x?x512xf32>
}

// CHECK-LABEL: func.func @attention
func.func @attention(%q: tensor<?x8x?x64xf32>, %k: tensor<?x8x?x64xf32>, %v: tensor<?x8x?x32xf32>,
                     %m: tensor<?x1x1x?xi64>, %a: tensor<?x?xf32>, %b: tensor<?x1x?x?xi1>)
    -> (tensor<?x8x?x32xf32>, tensor<?x8x?x32xf32>, tensor<?x8x?x32xf32>, tensor<?x8x?x32xf32>, tensor<?x8x?x32xf32>) {
  // CHECK: attn.attention %{{.*}}, %{{.*}}, %{{.*}} {mask_kind = #attn.mask_kind<none>, scale = 1.250000e-01 : f64} : tensor<?x8x?x64xf32>, tensor<?x8x?x64xf32>, tensor<?x8x?x32xf32> -> tensor<?x8x?x32xf32>
  %0 = attn.attention %q, %k, %v {mask_kind = #attn.mask_kind<none>, scale = 0.125 : f64} : tensor<?x8x?x64xf32>, tensor<?x8x?x64xf32>, tensor<?x8x?x32xf32> -> tensor<?x8x?x32xf32>
  // CHECK: attn.attention %{{.*}}, %{{.*}}, %{{.*}} {causal, mask_kind = #attn.mask_kind<none>, scale = 1.250000e-01 : f64}
  %1 = attn.attention %q, %k, %v {causal, mask_kind = #attn.mask_kind<none>, scale = 0.125 : f64} : tensor<?x8x?x64xf32>, tensor<?x8x?x64xf32>, tensor<?x8x?x32xf32> -> tensor<?x8x?x32xf32>
  // CHECK: attn.attention %{{.*}}, %{{.*}}, %{{.*}} mask(%{{.*}} : tensor<?x1x1x?xi64>) {fill_value = -1.000000e+20 : f64, mask_first, mask_kind = #attn.mask_kind<fill_if_zero>, scale = 6.250000e-02 : f64}
  %2 = attn.attention %q, %k, %v mask(%m : tensor<?x1x1x?xi64>) {fill_value = -1.0e20 : f64, mask_first, mask_kind = #attn.mask_kind<fill_if_zero>, scale = 0.0625 : f64} : tensor<?x8x?x64xf32>, tensor<?x8x?x64xf32>, tensor<?x8x?x32xf32> -> tensor<?x8x?x32xf32>
  // CHECK: attn.attention %{{.*}}, %{{.*}}, %{{.*}} mask(%{{.*}} : tensor<?x?xf32>) {mask_kind = #attn.mask_kind<additive>, scale = 1.250000e-01 : f64}
  %3 = attn.attention %q, %k, %v mask(%a : tensor<?x?xf32>) {mask_kind = #attn.mask_kind<additive>, scale = 0.125 : f64} : tensor<?x8x?x64xf32>, tensor<?x8x?x64xf32>, tensor<?x8x?x32xf32> -> tensor<?x8x?x32xf32>
  // CHECK: attn.attention %{{.*}}, %{{.*}}, %{{.*}} mask(%{{.*}} : tensor<?x1x?x?xi1>) {fill_value = 0xFFF0000000000000 : f64, mask_kind = #attn.mask_kind<fill_if_nonzero>, scale = 1.250000e-01 : f64}
  %4 = attn.attention %q, %k, %v mask(%b : tensor<?x1x?x?xi1>) {fill_value = 0xFFF0000000000000 : f64, mask_kind = #attn.mask_kind<fill_if_nonzero>, scale = 0.125 : f64} : tensor<?x8x?x64xf32>, tensor<?x8x?x64xf32>, tensor<?x8x?x32xf32> -> tensor<?x8x?x32xf32>
  return %0, %1, %2, %3, %4 : tensor<?x8x?x32xf32>, tensor<?x8x?x32xf32>, tensor<?x8x?x32xf32>, tensor<?x8x?x32xf32>, tensor<?x8x?x32xf32>
}

// CHECK-LABEL: func.func @attention_3d_bf16
func.func @attention_3d_bf16(%q: tensor<16x10x64xbf16>, %k: tensor<16x12x64xbf16>, %v: tensor<16x12x64xbf16>)
    -> tensor<16x10x64xbf16> {
  // CHECK: attn.attention %{{.*}}, %{{.*}}, %{{.*}} {mask_kind = #attn.mask_kind<none>, scale = 1.250000e-01 : f64} : tensor<16x10x64xbf16>, tensor<16x12x64xbf16>, tensor<16x12x64xbf16> -> tensor<16x10x64xbf16>
  %0 = attn.attention %q, %k, %v {mask_kind = #attn.mask_kind<none>, scale = 0.125 : f64} : tensor<16x10x64xbf16>, tensor<16x12x64xbf16>, tensor<16x12x64xbf16> -> tensor<16x10x64xbf16>
  return %0 : tensor<16x10x64xbf16>
}

// CHECK-LABEL: func.func @attention_masked_rows
func.func @attention_masked_rows(%q: tensor<?x4x?x16xf32>, %m: tensor<?x1x1x?xf32>)
    -> (tensor<?x4x?x16xf32>, tensor<?x4x?x16xf32>) {
  // CHECK: attn.attention %{{.*}}, %{{.*}}, %{{.*}} mask(%{{.*}} : tensor<?x1x1x?xf32>) {causal, causal_fill = -3.4028234663852886E+38 : f64, mask_kind = #attn.mask_kind<additive>, scale = 2.500000e-01 : f64}
  %0 = attn.attention %q, %q, %q mask(%m : tensor<?x1x1x?xf32>) {causal, causal_fill = -3.4028234663852886E+38 : f64, mask_kind = #attn.mask_kind<additive>, scale = 0.25 : f64} : tensor<?x4x?x16xf32>, tensor<?x4x?x16xf32>, tensor<?x4x?x16xf32> -> tensor<?x4x?x16xf32>
  // CHECK: attn.attention %{{.*}}, %{{.*}}, %{{.*}} mask(%{{.*}} : tensor<?x1x1x?xf32>) {causal, mask_kind = #attn.mask_kind<additive>, nan_to_zero, scale = 2.500000e-01 : f64}
  %1 = attn.attention %q, %q, %q mask(%m : tensor<?x1x1x?xf32>) {causal, mask_kind = #attn.mask_kind<additive>, nan_to_zero, scale = 0.25 : f64} : tensor<?x4x?x16xf32>, tensor<?x4x?x16xf32>, tensor<?x4x?x16xf32> -> tensor<?x4x?x16xf32>
  return %0, %1 : tensor<?x4x?x16xf32>, tensor<?x4x?x16xf32>
}
