// RUN: attn-opt %s -split-input-file -attn-gpu-parallel-flag-reductions | FileCheck %s

// A gather's index check (flag |= idx out of range, over every index): an
// scf.parallel that stores true where an index is bad; the flag's initial
// value is kept (no fill added).
// CHECK-LABEL: func @index_check
// CHECK-NOT:     linalg.generic
// CHECK:         %[[D0:.*]] = memref.dim %arg0, %c0
// CHECK:         %[[D1:.*]] = memref.dim %arg0, %c1
// CHECK:         scf.parallel (%[[I:.*]], %[[J:.*]]) = (%c0, %c0) to (%[[D0]], %[[D1]]) step (%c1, %c1) {
// CHECK:           %[[V:.*]] = memref.load %arg0[%[[I]], %[[J]]] : memref<?x?xi64>
// CHECK:           %[[LO:.*]] = arith.cmpi slt, %[[V]], %{{.*}}
// CHECK:           %[[HI:.*]] = arith.cmpi sge, %[[V]], %{{.*}}
// CHECK:           %[[BAD:.*]] = arith.ori %[[LO]], %[[HI]] : i1
// CHECK:           scf.if %[[BAD]] {
// CHECK:             memref.store %true, %arg1[] : memref<i1>
#id = affine_map<(i, j) -> (i, j)>
#scalar = affine_map<(i, j) -> ()>
func.func @index_check(%idx: memref<?x?xi64>, %flag: memref<i1>) {
  %lo = arith.constant -50 : i64
  %hi = arith.constant 50 : i64
  linalg.generic {indexing_maps = [#id, #scalar], iterator_types = ["reduction", "reduction"]}
      ins(%idx : memref<?x?xi64>) outs(%flag : memref<i1>) attrs = {attn.index_check} {
  ^bb0(%in: i64, %out: i1):
    %a = arith.cmpi slt, %in, %lo : i64
    %b = arith.cmpi sge, %in, %hi : i64
    %c = arith.ori %a, %b : i1
    %d = arith.ori %out, %c : i1
    linalg.yield %d : i1
  }
  return
}

// -----

// Not this pattern: a reduction whose ORed value depends on the flag, a
// non-i1 output, a partial reduction.
// CHECK-LABEL: func @not_flags
// CHECK-COUNT-3: linalg.generic
// CHECK-NOT:     scf.parallel
#id = affine_map<(i) -> (i)>
#scalar = affine_map<(i) -> ()>
func.func @not_flags(%x: memref<?xi1>, %flag: memref<i1>, %s: memref<?xf32>, %sum: memref<f32>, %m: memref<4x?xi1>, %rows: memref<4xi1>) {
  linalg.generic {indexing_maps = [#id, #scalar], iterator_types = ["reduction"]}
      ins(%x : memref<?xi1>) outs(%flag : memref<i1>) {
  ^bb0(%in: i1, %out: i1):
    %c = arith.xori %in, %out : i1
    %d = arith.ori %out, %c : i1
    linalg.yield %d : i1
  }
  linalg.generic {indexing_maps = [#id, #scalar], iterator_types = ["reduction"]}
      ins(%s : memref<?xf32>) outs(%sum : memref<f32>) {
  ^bb0(%in: f32, %out: f32):
    %d = arith.addf %out, %in : f32
    linalg.yield %d : f32
  }
  linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i)>], iterator_types = ["parallel", "reduction"]}
      ins(%m : memref<4x?xi1>) outs(%rows : memref<4xi1>) {
  ^bb0(%in: i1, %out: i1):
    %d = arith.ori %out, %in : i1
    linalg.yield %d : i1
  }
  return
}
