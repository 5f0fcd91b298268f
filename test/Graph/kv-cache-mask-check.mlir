// RUN: attn-opt %s -attn-kv-cache=max-len=64 | FileCheck %s
// RUN: attn-opt %s -attn-kv-cache=max-len=64 | attn-opt -attn-lower-to-linalg | FileCheck %s --check-prefix=STATUS

// attnc --kv-cache: an input whose signature names a dim like the presents'
// sequence dim ("total": attention_mask [batch, total]) must be P + T long at
// run time (the presents, which carried that size, are gone): a run-time
// check compares dim 1 of the mask with past_sequence_length + T (issue #12:
// a longer mask was silently accepted, a shorter one failed inside the graph
// with an unrelated index error). Inputs without that dim name get no check.

// CHECK-LABEL: func.func @main_graph(
// CHECK-SAME: %[[X:arg[0-9]+]]: tensor<?x2x?x8xf32> {bufferization.writable = false},
// CHECK-SAME: %[[M:arg[0-9]+]]: tensor<?x?xi64> {bufferization.writable = false},
// CHECK: %[[PV:.*]] = tensor.extract %{{.*}}[] : tensor<i64>
// CHECK: {attn.runtime_check = "context full: {a} of {b} tokens"
// CHECK: %[[MD:.*]] = tensor.dim %[[M]], %c1
// CHECK: %[[MD64:.*]] = arith.index_cast %[[MD]] : index to i64
// CHECK: %[[WANT:.*]] = arith.addi %[[PV]], %{{.*}} : i64
// CHECK: arith.cmpi ne, %[[MD64]], %[[WANT]] : i64
// CHECK: {attn.runtime_check = "input 'attention_mask': dimension 1 is {a} but past_sequence_length + the new tokens are {b}"
// CHECK-NOT: input 'other'

// STATUS: attn.checks = ["context full: {a} of {b} tokens", {{.*}}"input 'attention_mask': dimension 1 is {a} but past_sequence_length + the new tokens are {b}"

module attributes {attn.signature = "{\22inputs\22:[{\22name\22:\22x\22,\22dtype\22:\22f32\22,\22shape\22:[\22batch\22,2,\22seq\22,8]},{\22name\22:\22attention_mask\22,\22dtype\22:\22i64\22,\22shape\22:[\22batch\22,\22total\22]},{\22name\22:\22other\22,\22dtype\22:\22i64\22,\22shape\22:[\22batch\22,\22seq\22]},{\22name\22:\22past_key_values.0.key\22,\22dtype\22:\22f32\22,\22shape\22:[\22batch\22,2,\22past\22,8]},{\22name\22:\22past_key_values.0.value\22,\22dtype\22:\22f32\22,\22shape\22:[\22batch\22,2,\22past\22,8]}],\22outputs\22:[{\22name\22:\22out\22,\22dtype\22:\22f32\22,\22shape\22:[\22batch\22,2,\22seq\22,8]},{\22name\22:\22present.0.key\22,\22dtype\22:\22f32\22,\22shape\22:[\22batch\22,2,\22total\22,8]},{\22name\22:\22present.0.value\22,\22dtype\22:\22f32\22,\22shape\22:[\22batch\22,2,\22total\22,8]}]}"} {
  func.func @main_graph(%x: tensor<?x2x?x8xf32>, %m: tensor<?x?xi64>, %other: tensor<?x?xi64>, %pk: tensor<?x2x?x8xf32>, %pv: tensor<?x2x?x8xf32>) -> (tensor<?x2x?x8xf32>, tensor<?x2x?x8xf32>, tensor<?x2x?x8xf32>) {
    %k = attn.concat %pk, %x {axis = 2 : i64} : tensor<?x2x?x8xf32>, tensor<?x2x?x8xf32> -> tensor<?x2x?x8xf32>
    %v = attn.concat %pv, %x {axis = 2 : i64} : tensor<?x2x?x8xf32>, tensor<?x2x?x8xf32> -> tensor<?x2x?x8xf32>
    %o = attn.attention %x, %k, %v {mask_kind = #attn.mask_kind<none>, scale = 0.25 : f64} : tensor<?x2x?x8xf32>, tensor<?x2x?x8xf32>, tensor<?x2x?x8xf32> -> tensor<?x2x?x8xf32>
    return %o, %k, %v : tensor<?x2x?x8xf32>, tensor<?x2x?x8xf32>, tensor<?x2x?x8xf32>
  }
}
