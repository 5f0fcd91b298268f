// RUN: attn-opt %s -split-input-file -attn-lower-attention="query-tile=16 key-tile=32" | FileCheck %s

// The seed's masked attention becomes a forall over (batch, heads, query
// tiles) with an inner loop over key tiles carrying (max, sum, acc); no
// Sq x Sk tensor is created: scores only exist as ?x? tiles.
// CHECK-LABEL: func @seed_mask
// CHECK-NOT:     attn.attention
// CHECK:         scf.forall (%[[B:.*]], %[[H:.*]], %[[QT:.*]]) in
// CHECK:           %[[QS:.*]] = arith.muli %[[QT]], %c16
// CHECK:           tensor.extract_slice %{{.*}}[%[[B]], %[[H]], %[[QS]], 0] [1, 1, %{{.*}}, 64] [1, 1, 1, 1] : tensor<?x8x?x64xf32> to tensor<?x64xf32>
// CHECK:           %[[R:.*]]:3 = scf.for %[[KS:.*]] = %c0{{.*}} to %[[SK:.*]] step %c32{{.*}} iter_args
// CHECK:             linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "reduction"]
// CHECK-SAME:          outs(%{{.*}} : tensor<?x?xf32>)
// mask_first: select(mask == 0, fill, s) then * scale.
// CHECK:             arith.cmpi eq
// CHECK:             %[[SEL:.*]] = arith.select %{{.*}}, %{{.*}}, %{{.*}} : f32
// CHECK:             arith.mulf %[[SEL]], %{{.*}} : f32
// CHECK:             arith.maximumf
// CHECK:             math.exp
// CHECK:             scf.yield
// CHECK:           arith.divf
// CHECK:           scf.forall.in_parallel
// CHECK:             tensor.parallel_insert_slice
func.func @seed_mask(%q: tensor<?x8x?x64xf32>, %k: tensor<?x8x?x64xf32>, %v: tensor<?x8x?x64xf32>, %m: tensor<?x1x1x?xi64>) -> tensor<?x8x?x64xf32> {
  %0 = attn.attention %q, %k, %v mask(%m : tensor<?x1x1x?xi64>) {scale = 0.0625 : f64, mask_kind = #attn.mask_kind<fill_if_zero>, fill_value = -1.0e20 : f64, mask_first} : tensor<?x8x?x64xf32>, tensor<?x8x?x64xf32>, tensor<?x8x?x64xf32> -> tensor<?x8x?x64xf32>
  return %0 : tensor<?x8x?x64xf32>
}

// -----

// Causal: the key loop stops at the end of the query tile (fully masked key
// tiles are never visited), and only k > q positions become -inf.
// CHECK-LABEL: func @causal
// CHECK:         scf.forall (%[[H:.*]], %[[QT:.*]]) in
// CHECK:           %[[QS:.*]] = arith.muli %[[QT]], %c16
// CHECK:           %[[TQ:.*]] = arith.minui
// CHECK:           %[[END:.*]] = arith.addi %[[QS]], %[[TQ]]
// CHECK:           arith.maxsi
// CHECK:           %[[KEND:.*]] = arith.minsi %{{.*}}, %{{.*}}
// CHECK:           scf.for %{{.*}} = %c0{{.*}} to %[[KEND]] step %c32{{.*}}
// CHECK:             arith.cmpi sgt
// CHECK:             arith.select %{{.*}}, %cst{{.*}}, %{{.*}} : f32
func.func @causal(%q: tensor<4x?x32xf32>, %k: tensor<4x?x32xf32>, %v: tensor<4x?x32xf32>) -> tensor<4x?x32xf32> {
  %0 = attn.attention %q, %k, %v {scale = 0.17677669529663687 : f64, mask_kind = #attn.mask_kind<none>, causal} : tensor<4x?x32xf32>, tensor<4x?x32xf32>, tensor<4x?x32xf32> -> tensor<4x?x32xf32>
  return %0 : tensor<4x?x32xf32>
}

// -----

// Additive masks are added after scaling and read through a broadcasting
// map: the [S, S] mask is sliced per tile, never expanded over batch.
// CHECK-LABEL: func @additive
// CHECK:         scf.for
// CHECK:           tensor.extract_slice %{{.*}}[%{{.*}}, %{{.*}}] [%{{.*}}, %{{.*}}] [1, 1] : tensor<?x?xf32> to tensor<?x?xf32>
// CHECK:           linalg.generic
// CHECK:             %[[S:.*]] = arith.mulf
// CHECK:             arith.addf %[[S]], %{{.*}} : f32
func.func @additive(%q: tensor<6x?x16xf32>, %k: tensor<6x?x16xf32>, %v: tensor<6x?x16xf32>, %m: tensor<?x?xf32>) -> tensor<6x?x16xf32> {
  %0 = attn.attention %q, %k, %v mask(%m : tensor<?x?xf32>) {scale = 0.25 : f64, mask_kind = #attn.mask_kind<additive>} : tensor<6x?x16xf32>, tensor<6x?x16xf32>, tensor<6x?x16xf32> -> tensor<6x?x16xf32>
  return %0 : tensor<6x?x16xf32>
}

// -----

// Sliding window + GQA (generic lowering): the key loop starts at the first
// row's window (max(0, qs + o - W + 1)), K/V tiles are sliced at head h / 2,
// and keys k <= q + o - W are removed as well as k > q + o.
// CHECK-LABEL: func @window_gqa
// CHECK:         scf.forall (%[[B:.*]], %[[H:.*]], %[[QT:.*]]) in
// CHECK:           %[[KEND:.*]] = arith.minsi %{{.*}}, %dim{{.*}} : index
// CHECK:           %[[KB:.*]] = arith.maxsi
// CHECK:           %[[KBEGIN:.*]] = arith.minsi %[[KB]], %[[KEND]] : index
// CHECK:           scf.for %{{.*}} = %[[KBEGIN]] to %[[KEND]] step
// CHECK:             %[[KVH:.*]] = arith.divui %[[H]], %c2
// CHECK:             tensor.extract_slice %{{.*}}[%[[B]], %[[KVH]], %{{.*}}, 0]
// CHECK:             arith.cmpi sgt
// CHECK:             arith.cmpi sle
// CHECK:             arith.ori
func.func @window_gqa(%q: tensor<2x4x?x32xf32>, %k: tensor<2x2x?x32xf32>, %v: tensor<2x2x?x32xf32>) -> tensor<2x4x?x32xf32> {
  %0 = attn.attention %q, %k, %v {scale = 0.125 : f64, mask_kind = #attn.mask_kind<none>, causal, causal_align = #attn.causal_align<bottom_right>, window = 8 : i64} : tensor<2x4x?x32xf32>, tensor<2x2x?x32xf32>, tensor<2x2x?x32xf32> -> tensor<2x4x?x32xf32>
  return %0 : tensor<2x4x?x32xf32>
}

// -----

// Soft-capping: c * tanh(s * scale / c), before the additive mask.
// CHECK-LABEL: func @softcap
// CHECK:         linalg.generic
// CHECK:           arith.mulf %{{.*}}, %cst{{.*}} : f32
// CHECK:           arith.mulf %{{.*}}, %cst{{.*}} : f32
// CHECK:           math.tanh
// CHECK:           arith.mulf %{{.*}}, %cst{{.*}} : f32
// CHECK:           arith.addf
func.func @softcap(%q: tensor<2x?x32xf32>, %k: tensor<2x?x32xf32>, %v: tensor<2x?x32xf32>, %m: tensor<2x?x?xf32>) -> tensor<2x?x32xf32> {
  %0 = attn.attention %q, %k, %v mask(%m : tensor<2x?x?xf32>) {scale = 0.125 : f64, mask_kind = #attn.mask_kind<additive>, softcap = 30.0 : f64} : tensor<2x?x32xf32>, tensor<2x?x32xf32>, tensor<2x?x32xf32> -> tensor<2x?x32xf32>
  return %0 : tensor<2x?x32xf32>
}
