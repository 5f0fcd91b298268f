// RUN: attn-opt %s -attn-simplify-masks -split-input-file | FileCheck %s

// transformers 5's BERT mask (masking_utils, eager): the query condition
// `range(0, Sq) >= 0` is true everywhere, `And` with it (and with the
// constant true) is the padding mask broadcast, and the `Expand` to
// [B, 1, Sq, Sk] moves out of the `Where`: the select works on the
// [B, 1, 1, Sk] padding mask, two expands broadcast it.

// CHECK-LABEL: func.func @bert_mask
// CHECK-SAME:    (%[[N:[^:]*]]: tensor<i64>, %[[PAD:[^:]*]]: tensor<?x1x1x?xi1>, %[[S:[^:]*]]: tensor<4xi64>)
// CHECK-NOT:   attn.cmp
// CHECK-NOT:   attn.and
// CHECK:       %[[Q:.*]] = attn.reshape
// CHECK:       %[[QS:.*]] = attn.shape %[[Q]] {end = 4 : i64, start = 0 : i64} : tensor<1x1x?x1xi64> -> tensor<4xi64>
// CHECK:       %[[SEL:.*]] = attn.select %[[PAD]], %{{.*}}, %{{.*}} : tensor<?x1x1x?xi1>, tensor<f32>, tensor<f32> -> tensor<?x1x1x?xf32>
// CHECK:       %[[E1:.*]] = attn.expand %[[SEL]], %[[QS]] : tensor<?x1x1x?xf32>, tensor<4xi64> -> tensor<?x1x?x?xf32>
// CHECK:       %[[E2:.*]] = attn.expand %[[E1]], %[[S]] : tensor<?x1x?x?xf32>, tensor<4xi64> -> tensor<?x1x?x?xf32>
// CHECK:       return %[[E2]]
func.func @bert_mask(%n: tensor<i64>, %pad: tensor<?x1x1x?xi1>, %shape: tensor<4xi64>) -> tensor<?x1x?x?xf32> {
  %c0 = arith.constant dense<0> : tensor<i64>
  %c1 = arith.constant dense<1> : tensor<i64>
  %true = arith.constant dense<true> : tensor<i1>
  %qshape = arith.constant dense<[1, 1, -1, 1]> : tensor<4xi64>
  %zero = arith.constant dense<0.0> : tensor<f32>
  %min = arith.constant dense<-3.40282347E+38> : tensor<f32>
  %r = attn.range %c0, %n, %c1 : tensor<i64> -> tensor<?xi64>
  %q = attn.reshape %r, %qshape {allowzero} : tensor<?xi64>, tensor<4xi64> -> tensor<1x1x?x1xi64>
  %ge = attn.cmp ge, %q, %c0 : tensor<1x1x?x1xi64>, tensor<i64> -> tensor<1x1x?x1xi1>
  %a = attn.and %ge, %true : tensor<1x1x?x1xi1>, tensor<i1> -> tensor<1x1x?x1xi1>
  %b = attn.and %a, %pad : tensor<1x1x?x1xi1>, tensor<?x1x1x?xi1> -> tensor<?x1x?x?xi1>
  %e = attn.expand %b, %shape : tensor<?x1x?x?xi1>, tensor<4xi64> -> tensor<?x1x?x?xi1>
  %m = attn.select %e, %zero, %min : tensor<?x1x?x?xi1>, tensor<f32>, tensor<f32> -> tensor<?x1x?x?xf32>
  return %m : tensor<?x1x?x?xf32>
}

// -----

// GPT-2's: `And(k <= q, true)` is the causal condition itself; it stays
// combined with the padding mask (attn-fuse-attention splits them), the
// expand moves out of the select.

// CHECK-LABEL: func.func @gpt2_mask
// CHECK:       %[[LE:.*]] = attn.cmp le, %{{.*}}, %{{.*}} : tensor<1x1x1x?xi64>, tensor<1x1x?x1xi64> -> tensor<1x1x?x?xi1>
// CHECK-NEXT:  %[[AND:.*]] = attn.and %[[LE]], %{{.*}} : tensor<1x1x?x?xi1>, tensor<?x1x1x?xi1> -> tensor<?x1x?x?xi1>
// CHECK-NEXT:  %[[SEL:.*]] = attn.select %[[AND]], %{{.*}}, %{{.*}} : tensor<?x1x?x?xi1>, tensor<1xf32>, tensor<1xf32> -> tensor<?x1x?x?xf32>
// CHECK-NEXT:  %[[E:.*]] = attn.expand %[[SEL]], %{{.*}} : tensor<?x1x?x?xf32>, tensor<4xi64> -> tensor<?x1x?x?xf32>
// CHECK-NEXT:  return %[[E]]
func.func @gpt2_mask(%k: tensor<1x1x1x?xi64>, %q: tensor<1x1x?x1xi64>, %pad: tensor<?x1x1x?xi1>, %shape: tensor<4xi64>) -> tensor<?x1x?x?xf32> {
  %true = arith.constant dense<true> : tensor<i1>
  %zero = arith.constant dense<0.0> : tensor<1xf32>
  %min = arith.constant dense<0xFF800000> : tensor<1xf32>
  %le = attn.cmp le, %k, %q : tensor<1x1x1x?xi64>, tensor<1x1x?x1xi64> -> tensor<1x1x?x?xi1>
  %a = attn.and %le, %true : tensor<1x1x?x?xi1>, tensor<i1> -> tensor<1x1x?x?xi1>
  %b = attn.and %a, %pad : tensor<1x1x?x?xi1>, tensor<?x1x1x?xi1> -> tensor<?x1x?x?xi1>
  %e = attn.expand %b, %shape : tensor<?x1x?x?xi1>, tensor<4xi64> -> tensor<?x1x?x?xi1>
  %m = attn.select %e, %zero, %min : tensor<?x1x?x?xi1>, tensor<1xf32>, tensor<1xf32> -> tensor<?x1x?x?xf32>
  return %m : tensor<?x1x?x?xf32>
}

// -----

// Comparisons the values decide, through layout ops, casts and gathers; the
// constant on either side. A ConstantOfShape of true is a broadcast too, and
// Or with false is the other operand.

// CHECK-LABEL: func.func @decided
// CHECK-DAG:   %[[T:.*]] = arith.constant dense<true> : tensor<i1>
// CHECK-DAG:   %[[F:.*]] = arith.constant dense<false> : tensor<i1>
// CHECK-NOT:   attn.cmp
// CHECK:       %[[S1:.*]] = attn.shape %{{.*}} {end = 1 : i64, start = 0 : i64} : tensor<?xi64> -> tensor<1xi64>
// CHECK:       %[[GT:.*]] = attn.expand %[[T]], %[[S1]] : tensor<i1>, tensor<1xi64> -> tensor<?xi1>
// CHECK:       %[[LT:.*]] = attn.expand %[[F]], %{{.*}} : tensor<i1>, tensor<1xi64> -> tensor<?xi1>
// CHECK:       %[[NE:.*]] = attn.expand %[[T]], %{{.*}} : tensor<i1>, tensor<2xi64> -> tensor<1x?xi1>
// CHECK:       %[[DOWN:.*]] = attn.expand %[[T]], %{{.*}} : tensor<i1>, tensor<1xi64> -> tensor<?xi1>
// CHECK:       %[[AND:.*]] = attn.expand %[[Y:[^,]*]], %[[SHAPE:[^ ]*]] : tensor<?x?xi1>, tensor<2xi64> -> tensor<?x?xi1>
// CHECK-NOT:   attn.constant_of_shape
// CHECK-NOT:   attn.or
// CHECK:       return %[[GT]], %[[LT]], %[[NE]], %[[DOWN]], %[[AND]], %[[Y]]
func.func @decided(%n: tensor<i64>, %y: tensor<?x?xi1>, %shape: tensor<2xi64>)
    -> (tensor<?xi1>, tensor<?xi1>, tensor<1x?xi1>, tensor<?xi1>, tensor<?x?xi1>, tensor<?x?xi1>) {
  %c0 = arith.constant dense<0> : tensor<i64>
  %c1 = arith.constant dense<1> : tensor<i64>
  %c5 = arith.constant dense<5> : tensor<i64>
  %cm1 = arith.constant dense<-1> : tensor<i64>
  %c3 = arith.constant dense<3> : tensor<1xi64>
  %false = arith.constant dense<false> : tensor<1x1xi1>
  %rshape = arith.constant dense<[1, -1]> : tensor<2xi64>
  // range(1, n) > 0
  %r1 = attn.range %c1, %n, %c1 : tensor<i64> -> tensor<?xi64>
  %gt = attn.cmp gt, %r1, %c0 : tensor<?xi64>, tensor<i64> -> tensor<?xi1>
  // 0 > range(0, n): false (constant on the left)
  %r0 = attn.range %c0, %n, %c1 : tensor<i64> -> tensor<?xi64>
  %lt = attn.cmp gt, %c0, %r0 : tensor<i64>, tensor<?xi64> -> tensor<?xi1>
  // cast(reshape(range(0, n) : i32) to i64) != -1
  %c0i = arith.constant dense<0> : tensor<i32>
  %c1i = arith.constant dense<1> : tensor<i32>
  %ni = attn.cast %n : tensor<i64> to tensor<i32>
  %ri = attn.range %c0i, %ni, %c1i : tensor<i32> -> tensor<?xi32>
  %re = attn.reshape %ri, %rshape : tensor<?xi32>, tensor<2xi64> -> tensor<1x?xi32>
  %r64 = attn.cast %re : tensor<1x?xi32> to tensor<1x?xi64>
  %ne = attn.cmp ne, %r64, %cm1 : tensor<1x?xi64>, tensor<i64> -> tensor<1x?xi1>
  // range(5, n, -1) <= 5
  %rd = attn.range %c5, %n, %cm1 : tensor<i64> -> tensor<?xi64>
  %down = attn.cmp le, %rd, %c5 : tensor<?xi64>, tensor<i64> -> tensor<?xi1>
  // and(constant_of_shape(true), y), or(y, false)
  %t = attn.constant_of_shape %shape, true : tensor<2xi64> -> tensor<?x?xi1>
  %and = attn.and %t, %y : tensor<?x?xi1>, tensor<?x?xi1> -> tensor<?x?xi1>
  %or = attn.or %y, %false : tensor<?x?xi1>, tensor<1x1xi1> -> tensor<?x?xi1>
  return %gt, %lt, %ne, %down, %and, %or : tensor<?xi1>, tensor<?xi1>, tensor<1x?xi1>, tensor<?xi1>, tensor<?x?xi1>, tensor<?x?xi1>
}

// -----

// Left alone: comparisons the values do not decide (an argument, a range
// that may start below 0, a narrowing cast, a non-scalar constant), `and`
// without a constant operand, a splat that would broadcast the other
// operand, and a select whose branches are bigger than its condition.

// CHECK-LABEL: func.func @negative
// CHECK-COUNT-5: attn.cmp
// CHECK:       attn.and %{{.*}}, %{{.*}} : tensor<?xi1>, tensor<?xi1>
// CHECK:       attn.and %{{.*}}, %{{.*}} : tensor<?xi1>, tensor<3x1xi1> -> tensor<3x?xi1>
// CHECK:       attn.expand
// CHECK-NEXT:  attn.select %{{.*}}, %{{.*}}, %{{.*}} : tensor<?x?xi1>, tensor<?x?xf32>, tensor<f32> -> tensor<?x?xf32>
func.func @negative(%x: tensor<?xi64>, %n: tensor<i64>, %s: tensor<2xi64>, %c: tensor<?xi1>, %v: tensor<?x?xf32>)
    -> (tensor<?xi1>, tensor<?xi1>, tensor<?xi1>, tensor<2xi1>, tensor<?xi1>, tensor<3x?xi1>, tensor<?x?xf32>, tensor<?xi1>) {
  %c0 = arith.constant dense<0> : tensor<i64>
  %c1 = arith.constant dense<1> : tensor<i64>
  %cm1 = arith.constant dense<-1> : tensor<i64>
  %two = arith.constant dense<[0, 1]> : tensor<2xi64>
  %true3 = arith.constant dense<true> : tensor<3x1xi1>
  %zero = arith.constant dense<0.0> : tensor<f32>
  %a = attn.cmp ge, %x, %c0 : tensor<?xi64>, tensor<i64> -> tensor<?xi1>
  %r = attn.range %cm1, %n, %c1 : tensor<i64> -> tensor<?xi64>
  %b = attn.cmp ge, %r, %c0 : tensor<?xi64>, tensor<i64> -> tensor<?xi1>
  %r0 = attn.range %c0, %n, %c1 : tensor<i64> -> tensor<?xi64>
  %r8 = attn.cast %r0 : tensor<?xi64> to tensor<?xi8>
  %c08 = attn.cast %c0 : tensor<i64> to tensor<i8>
  %d = attn.cmp ge, %r8, %c08 : tensor<?xi8>, tensor<i8> -> tensor<?xi1>
  %e = attn.cmp ge, %two, %two : tensor<2xi64>, tensor<2xi64> -> tensor<2xi1>
  %f = attn.cmp lt, %x, %c0 : tensor<?xi64>, tensor<i64> -> tensor<?xi1>
  %both = attn.and %a, %f : tensor<?xi1>, tensor<?xi1> -> tensor<?xi1>
  %bc = attn.and %c, %true3 : tensor<?xi1>, tensor<3x1xi1> -> tensor<3x?xi1>
  %ce = attn.expand %c, %s : tensor<?xi1>, tensor<2xi64> -> tensor<?x?xi1>
  %sel = attn.select %ce, %v, %zero : tensor<?x?xi1>, tensor<?x?xf32>, tensor<f32> -> tensor<?x?xf32>
  return %a, %b, %d, %e, %both, %bc, %sel, %f : tensor<?xi1>, tensor<?xi1>, tensor<?xi1>, tensor<2xi1>, tensor<?xi1>, tensor<3x?xi1>, tensor<?x?xf32>, tensor<?xi1>
}
