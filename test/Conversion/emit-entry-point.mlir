// RUN: attn-opt %s -split-input-file -attn-emit-entry-point -verify-diagnostics | FileCheck %s

// The ABI wrapper unpacks [allocated, aligned, offset, sizes, strides] per
// input, calls the (now internal) model and stores the output descriptor.
// CHECK-LABEL: llvm.func internal @main_graph
// CHECK:       llvm.mlir.global internal constant @__attn_signature
// CHECK:       llvm.func @attn_model_signature() -> !llvm.ptr
// CHECK:       llvm.func @attn_model_run(%[[IN:.*]]: !llvm.ptr, %[[OUT:.*]]: !llvm.ptr) -> i32
// CHECK:         llvm.call @main_graph
// CHECK-COUNT-7: llvm.store
// CHECK:         llvm.return
module attributes {attn.signature = "{\"abi\":1,\"inputs\":[{\"name\":\"x\",\"dtype\":\"f32\",\"shape\":[\"n\",4]}],\"outputs\":[{\"name\":\"y\",\"dtype\":\"f32\",\"shape\":[\"n\",4]}]}"} {
  llvm.func @main_graph(%a: !llvm.ptr, %b: !llvm.ptr, %c: i64, %d0: i64, %d1: i64, %s0: i64, %s1: i64) -> !llvm.struct<(ptr, ptr, i64, array<2 x i64>, array<2 x i64>)> {
    %0 = llvm.mlir.poison : !llvm.struct<(ptr, ptr, i64, array<2 x i64>, array<2 x i64>)>
    llvm.return %0 : !llvm.struct<(ptr, ptr, i64, array<2 x i64>, array<2 x i64>)>
  }
}

// -----

// expected-error @below {{module has no attn.signature}}
module {
  llvm.func @main_graph() {
    llvm.return
  }
}

// -----

module attributes {attn.signature = "{\"inputs\":[{\"name\":\"x\",\"dtype\":\"f32\",\"shape\":[3]}],\"outputs\":[]}"} {
  // expected-error @below {{model function takes 0 values, the signature implies 5}}
  llvm.func @main_graph() {
    llvm.return
  }
}
