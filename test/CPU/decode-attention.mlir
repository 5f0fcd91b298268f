// RUN: attn-opt %s -split-input-file -attn-lower-attention="vector-width=8 query-tile=48 key-tile=128" | FileCheck %s

// A decode step (1 query x 4 heads of each kv group, dynamic keys): the
// kernel chooses at run time between flash-decoding -- the keys split into
// chunks across tasks, each leaving (m, l, O) partials for all rows of its
// kv group, then a merge over the chunks -- and the flash path (one task
// per kv group and query blocks). Split when the group's rows fit 4 query
// blocks (4 x 48 = 192) and the keys make 2 or more chunks.
// CHECK-LABEL: func @decode
// A batch whose kv entries alone make decodeTasks (64) tasks keeps its keys
// whole: the chunk is all of them (at least the minimum chunk, never 0).
// CHECK:         %[[WANT:.*]] = arith.ceildivui %c64{{(_[0-9]+)?}}, %{{.*}} : index
// CHECK:         %[[ENOUGH:.*]] = arith.cmpi eq, %[[WANT]], %c1{{(_[0-9]+)?}} : index
// CHECK:         %[[ALL:.*]] = arith.maxui %{{.*}}, %c256 : index
// CHECK:         arith.select %[[ENOUGH]], %[[ALL]], %{{.*}} : index
// CHECK:         %[[TWO:.*]] = arith.cmpi uge, %[[CHUNKS:.*]], %c2
// CHECK:         %[[ROWS:.*]] = arith.cmpi ule, %{{.*}}, %c192
// CHECK:         %[[SPLIT:.*]] = arith.andi %[[ROWS]], %[[TWO]] : i1
// CHECK:         scf.if %[[SPLIT]] {
// The partials: [entries x chunks, rows, Dv] outputs, [.., rows] max and
// sum, and a count of finished chunks per entry.
// CHECK:           memref.alloc(%{{.*}}, %{{.*}}) {alignment = 64 : i64} : memref<?x?x64xf32>
// CHECK:           memref.alloc(%{{.*}}, %{{.*}}) {alignment = 64 : i64} : memref<?x?xf32>
// CHECK:           memref.alloc(%{{.*}}, %{{.*}}) {alignment = 64 : i64} : memref<?x?xf32>
// CHECK:           memref.alloc(%{{.*}}) {alignment = 64 : i64} : memref<?xi32>
// CHECK:           scf.forall (%[[E:.*]], %{{.*}}) in (%{{.*}}, %[[CHUNKS]]) {
// Each task's Kᵀ scratch covers its chunk only.
// CHECK:             memref.alloc(%{{.*}}) {alignment = 64 : i64} : memref<?x64x16xf32>
// CHECK:             vector.fma
// The task that finishes an entry's last chunk merges its rows.
// CHECK:             %[[BEFORE:.*]] = memref.atomic_rmw addi %{{.*}}, %{{.*}}[%[[E]]] : (i32, memref<?xi32>) -> i32
// CHECK:             %[[LAST:.*]] = arith.cmpi eq, %[[BEFORE]], %{{.*}} : i32
// CHECK:             scf.if %[[LAST]] {
// CHECK:               arith.maximumf
// CHECK:               math.fma
// CHECK:               vector.fma
// CHECK:               arith.divf
// CHECK:             } {attn.flash_decoding_merge}
// CHECK:           } {attn.flash_decoding}
// CHECK:         } else {
// CHECK:           scf.forall
// CHECK-NOT:       attn.flash_decoding
// CHECK:         return
func.func @decode(%q: tensor<?x8x1x64xf32>, %k: tensor<?x2x?x64xf32>, %v: tensor<?x2x?x64xf32>) -> tensor<?x8x1x64xf32> {
  %0 = attn.attention %q, %k, %v {scale = 0.125 : f64, mask_kind = #attn.mask_kind<none>, causal, causal_align = #attn.causal_align<bottom_right>} : tensor<?x8x1x64xf32>, tensor<?x2x?x64xf32>, tensor<?x2x?x64xf32> -> tensor<?x8x1x64xf32>
  return %0 : tensor<?x8x1x64xf32>
}

// -----

// causal_fill splits too: each chunk adds the keys it skips (its own, the
// first chunk also those before the band, the last those after it) as
// fill-scored keys for the rows whose max stays near the fill; the merge
// combines the chunks.
// CHECK-LABEL: func @causal_fill
// CHECK:         scf.forall
// CHECK:           arith.cmpi eq, %{{.*}}, %c0{{(_[0-9]+)?}} : index
// CHECK:           arith.cmpi eq, %{{.*}}, %{{.*}} : index
// CHECK:           arith.maximumf %{{.*}}, %cst{{.*}} : f32
// CHECK:           } {attn.flash_decoding_merge}
// CHECK:         } {attn.flash_decoding}
func.func @causal_fill(%q: tensor<1x4x1x64xf32>, %k: tensor<1x4x?x64xf32>, %v: tensor<1x4x?x64xf32>, %m: tensor<1x1x1x?xf32>) -> tensor<1x4x1x64xf32> {
  %0 = attn.attention %q, %k, %v mask(%m : tensor<1x1x1x?xf32>) {scale = 0.125 : f64, mask_kind = #attn.mask_kind<additive>, causal, causal_fill = -3.4028234663852886E+38 : f64} : tensor<1x4x1x64xf32>, tensor<1x4x?x64xf32>, tensor<1x4x?x64xf32> -> tensor<1x4x1x64xf32>
  return %0 : tensor<1x4x1x64xf32>
}

// -----

// A sliding-window decode step: the decode path (Sq <= 4, the group's rows
// in one query block of 48, K's head dim contiguous: no Kᵀ panels, K rows
// read in place, 8 dot products summed across lanes by shuffles), and
// flash-decoding splits only the band of keys the window shows: from the
// window start (Sk - 1 - 699, rounded down to the key block of 128) to the
// diagonal.
// CHECK-LABEL: func @window
// CHECK:         %[[FEW:.*]] = arith.cmpi ule, %{{.*}}, %c4{{(_[0-9]+)?}} : index
// CHECK:         %[[ONE:.*]] = arith.cmpi ule, %{{.*}}, %c48 : index
// CHECK:         %[[UNIT:.*]] = arith.cmpi eq, %{{.*}}, %c1{{(_[0-9]+)?}} : index
// CHECK:         %[[D0:.*]] = arith.andi %[[FEW]], %[[ONE]] : i1
// CHECK:         %[[DEC:.*]] = arith.andi %[[D0]], %[[UNIT]] : i1
// CHECK:         %[[HI:.*]] = arith.minsi %{{.*}}, %{{.*}} : index
// CHECK:         arith.subi %{{.*}}, %c699 : index
// CHECK:         arith.divui %{{.*}}, %c128 : index
// CHECK:         %[[LO:.*]] = arith.minui %{{.*}}, %[[HI]] : index
// CHECK:         %[[LEN:.*]] = arith.subi %[[HI]], %[[LO]] : index
// CHECK:         %[[WANT:.*]] = arith.ceildivui %c64{{(_[0-9]+)?}}, %{{.*}} : index
// CHECK:         arith.ceildivui %[[LEN]], %[[WANT]] : index
// CHECK:         scf.if
// CHECK:           scf.forall (%{{.*}}, %[[C:.*]]) in
// CHECK:             %[[OFF:.*]] = arith.muli %[[C]], %{{.*}} : index
// CHECK:             arith.addi %[[LO]], %[[OFF]] : index
// CHECK:             %[[KT:.*]] = arith.select %[[DEC]], %c0{{(_[0-9]+)?}}, %{{.*}} : index
// CHECK:             memref.alloc(%[[KT]]) {alignment = 64 : i64} : memref<?x64x16xf32>
// CHECK:             scf.if %[[DEC]] {
// CHECK-NEXT:        } else {
// CHECK:             scf.if %[[DEC]] {
// CHECK:               vector.fma
// CHECK:               vector.shuffle %{{.*}}, %{{.*}} [0, 1, 2, 3, 8, 9, 10, 11] : vector<8xf32>, vector<8xf32>
// CHECK:               vector.shuffle %{{.*}}, %{{.*}} [4, 5, 6, 7, 12, 13, 14, 15] : vector<8xf32>, vector<8xf32>
// CHECK:               arith.addf %{{.*}}, %{{.*}} : vector<8xf32>
// CHECK:             } else {
func.func @window(%q: tensor<1x4x1x64xf32>, %k: tensor<1x2x?x64xf32>, %v: tensor<1x2x?x64xf32>) -> tensor<1x4x1x64xf32> {
  %0 = attn.attention %q, %k, %v {scale = 0.125 : f64, mask_kind = #attn.mask_kind<none>, causal, causal_align = #attn.causal_align<bottom_right>, window = 700 : i64} : tensor<1x4x1x64xf32>, tensor<1x2x?x64xf32>, tensor<1x2x?x64xf32> -> tensor<1x4x1x64xf32>
  return %0 : tensor<1x4x1x64xf32>
}

// -----

// With `omp_get_max_threads` declared (attnc's CPU pipeline declares it in a
// module with attention), the split aims at 4 tasks per run-time thread
// instead of the fixed 64: a batch whose kv entries keep every thread busy
// is not split.
// CHECK-LABEL: func @decode_threads
// CHECK:         %[[T:.*]] = {{(func\.)?}}call @omp_get_max_threads() : () -> i32
// CHECK:         %[[TI:.*]] = arith.index_cast %[[T]] : i32 to index
// CHECK:         %[[T1:.*]] = arith.maxsi %[[TI]], %c1{{(_[0-9]+)?}} : index
// CHECK:         %[[TARGET:.*]] = arith.muli %[[T1]], %c4{{(_[0-9]+)?}} : index
// CHECK:         %[[WANT:.*]] = arith.ceildivui %[[TARGET]], %{{.*}} : index
// CHECK:         arith.cmpi eq, %[[WANT]], %c1{{(_[0-9]+)?}} : index
// CHECK:         attn.flash_decoding
func.func private @omp_get_max_threads() -> i32
func.func @decode_threads(%q: tensor<?x8x1x64xf32>, %k: tensor<?x2x?x64xf32>, %v: tensor<?x2x?x64xf32>) -> tensor<?x8x1x64xf32> {
  %0 = attn.attention %q, %k, %v {scale = 0.125 : f64, mask_kind = #attn.mask_kind<none>, causal, causal_align = #attn.causal_align<bottom_right>} : tensor<?x8x1x64xf32>, tensor<?x2x?x64xf32>, tensor<?x2x?x64xf32> -> tensor<?x8x1x64xf32>
  return %0 : tensor<?x8x1x64xf32>
}
