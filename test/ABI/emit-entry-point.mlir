// RUN: attn-opt %s -split-input-file -attn-emit-entry-point -verify-diagnostics | FileCheck %s

// The ABI wrapper unpacks [allocated, aligned, offset, sizes, strides] per
// input, calls the (now internal) model and stores the output descriptor.
// CHECK-LABEL: llvm.func internal @main_graph
// CHECK:       llvm.mlir.global internal constant @__attn_signature
// CHECK:       llvm.func @attn_model_signature() -> !llvm.ptr
// CHECK:       llvm.func hidden @__attn_model_run_body(%[[IN:.*]]: !llvm.ptr, %[[OUT:.*]]: !llvm.ptr, %[[ST:.*]]: !llvm.ptr) -> i32
// CHECK:         llvm.call @main_graph
// CHECK-COUNT-7: llvm.store
// CHECK:         llvm.return
// CHECK:       llvm.func @attn_model_run(%[[IN2:.*]]: !llvm.ptr, %[[OUT2:.*]]: !llvm.ptr) -> i32
// CHECK:         %[[NULL:.*]] = llvm.mlir.zero : !llvm.ptr
// CHECK:         llvm.call @attn_model_run_ex(%[[IN2]], %[[OUT2]], %[[NULL]])
module attributes {attn.signature = "{\"abi\":1,\"inputs\":[{\"name\":\"x\",\"dtype\":\"f32\",\"shape\":[\"n\",4]}],\"outputs\":[{\"name\":\"y\",\"dtype\":\"f32\",\"shape\":[\"n\",4]}]}"} {
  llvm.func @main_graph(%a: !llvm.ptr, %b: !llvm.ptr, %c: i64, %d0: i64, %d1: i64, %s0: i64, %s1: i64) -> !llvm.struct<(ptr, ptr, i64, array<2 x i64>, array<2 x i64>)> {
    %0 = llvm.mlir.poison : !llvm.struct<(ptr, ptr, i64, array<2 x i64>, array<2 x i64>)>
    llvm.return %0 : !llvm.struct<(ptr, ptr, i64, array<2 x i64>, array<2 x i64>)>
  }
}

// -----

// A status result (attn.status_result: [code, check, a, b], RuntimeChecks.h):
// read, freed, stored to the caller's status words when given, and its code
// returned; the check templates join the signature.
// CHECK-LABEL: llvm.func internal @main_graph
// CHECK:       llvm.mlir.global internal constant @__attn_signature("{{.*}}\22checks\22:[\22node 'n' (add): {a} vs {b}\22]
// CHECK:       llvm.func hidden @__attn_model_run_body(%{{.*}}: !llvm.ptr, %{{.*}}: !llvm.ptr, %[[ST:.*]]: !llvm.ptr) -> i32
// CHECK-COUNT-4: llvm.load %{{.*}} : !llvm.ptr -> i64
// CHECK:         llvm.call @free
// CHECK:         llvm.icmp "ne" %[[ST]]
// CHECK-COUNT-4: llvm.store %{{.*}}, %{{.*}} : i64, !llvm.ptr
// CHECK:         llvm.trunc %{{.*}} : i64 to i32
module attributes {attn.signature = "{\"abi\":1,\"inputs\":[],\"outputs\":[]}"} {
  llvm.func @main_graph() -> !llvm.struct<(ptr, ptr, i64, array<1 x i64>, array<1 x i64>)>
      attributes {attn.status_result, attn.checks = ["node 'n' (add): {a} vs {b}"]} {
    %0 = llvm.mlir.poison : !llvm.struct<(ptr, ptr, i64, array<1 x i64>, array<1 x i64>)>
    llvm.return %0 : !llvm.struct<(ptr, ptr, i64, array<1 x i64>, array<1 x i64>)>
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
