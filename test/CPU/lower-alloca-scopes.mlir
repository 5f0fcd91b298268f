// RUN: attn-opt %s -attn-lower-alloca-scopes | FileCheck %s

// CHECK-LABEL: func @scope
// CHECK-NOT:     memref.alloca_scope
// CHECK:         scf.for
// CHECK:           %[[SP:.*]] = llvm.intr.stacksave : !llvm.ptr
// CHECK:           memref.alloca
// CHECK:           scf.for
// CHECK:           llvm.intr.stackrestore %[[SP]] : !llvm.ptr
func.func @scope(%n: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  scf.for %i = %c0 to %n step %c1 {
    memref.alloca_scope {
      %a = memref.alloca() : memref<4xi1>
      scf.for %j = %c0 to %n step %c1 {
        %t = arith.constant true
        memref.store %t, %a[%c0] : memref<4xi1>
      }
    }
  }
  return
}
