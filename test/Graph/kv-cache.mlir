// RUN: attn-opt %s -attn-kv-cache=max-len=64 | FileCheck %s
// RUN: attn-opt %s -attn-kv-cache=max-len=64 | attn-opt -attn-lower-to-linalg | FileCheck %s --check-prefix=STATUS

// attnc --kv-cache=64 on one with-past attention layer: the past inputs become
// [B, 2, 64, 8] caches the model may write (the other inputs are read-only),
// past_sequence_length (rank-0 i64) is appended, present = concat(past, new)
// becomes "write new at P, read the view [0, P+T)", readers of the past (its
// dim 2 here) read the view [0, P), the presents leave the results, and the
// signature says so. A run-time check reports "context full" (P < 0 or
// P + T > 64); then nothing is written (T rows -> 0).

// CHECK: module attributes {attn.signature = "{
// CHECK-SAME: \22kv_cache\22:true,\22name\22:\22past_key_values.0.key\22,\22shape\22:[\22batch\22,2,64,8]}
// CHECK-SAME: \22kv_cache\22:true,\22name\22:\22past_key_values.0.value\22,\22shape\22:[\22batch\22,2,64,8]}
// CHECK-SAME: {\22dtype\22:\22i64\22,\22name\22:\22past_sequence_length\22,\22shape\22:[]}]
// CHECK-SAME: \22kv_cache\22:{\22caches\22:[{\22input\22:\22past_key_values.0.key\22,\22output\22:\22present.0.key\22},{\22input\22:\22past_key_values.0.value\22,\22output\22:\22present.0.value\22}],\22max_len\22:64,\22past_length_input\22:\22past_sequence_length\22}
// CHECK-SAME: \22outputs\22:[{\22dtype\22:\22f32\22,\22name\22:\22out\22,\22shape\22:[\22batch\22,2,\22seq\22,8]},{\22dtype\22:\22i64\22,\22name\22:\22pos\22,\22shape\22:[1]}]}"
// CHECK-LABEL: func.func @main_graph(
// CHECK-SAME: %[[X:arg[0-9]+]]: tensor<?x2x?x8xf32> {bufferization.writable = false},
// CHECK-SAME: %[[K:arg[0-9]+]]: tensor<?x2x64x8xf32> {bufferization.writable = true},
// CHECK-SAME: %[[V:arg[0-9]+]]: tensor<?x2x64x8xf32> {bufferization.writable = true},
// CHECK-SAME: %[[P:arg[0-9]+]]: tensor<i64> {bufferization.writable = false})
// CHECK-SAME: -> (tensor<?x2x?x8xf32>, tensor<1xi64>)
// CHECK: %[[PV:.*]] = tensor.extract %[[P]][] : tensor<i64>
// CHECK: %[[MIN:.*]] = arith.minsi %[[PV]], %c64_i64
// CHECK: %[[PC:.*]] = arith.maxsi %{{.*}}, %[[MIN]]
// CHECK: %[[PCI:.*]] = arith.index_cast %[[PC]] : i64 to index
// CHECK: %[[PASTK:.*]] = tensor.extract_slice %[[K]][0, 0, 0, 0] [%{{.*}}, 2, %[[PCI]], 8] [1, 1, 1, 1] : tensor<?x2x64x8xf32> to tensor<?x2x?x8xf32>
// CHECK: tensor.from_elements {{.*}} {attn.runtime_check = "context full: {a} of {b} tokens"
// CHECK: %[[TW:.*]] = arith.select %{{.*}}, %{{.*}}, %{{.*}} : index
// CHECK: %[[SRC:.*]] = tensor.extract_slice %[[X]][0, 0, 0, 0] [%{{.*}}, 2, %[[TW]], 8]
// CHECK: %[[INS:.*]] = tensor.insert_slice %[[SRC]] into %[[K]][0, 0, %[[PCI]], 0] [%{{.*}}, 2, %[[TW]], 8] [1, 1, 1, 1] : tensor<?x2x?x8xf32> into tensor<?x2x64x8xf32>
// CHECK: %[[END:.*]] = arith.addi %[[PCI]], %[[TW]] : index
// CHECK: %[[VIEWK:.*]] = tensor.extract_slice %[[INS]][0, 0, 0, 0] [%{{.*}}, 2, %[[END]], 8] [1, 1, 1, 1] : tensor<?x2x64x8xf32> to tensor<?x2x?x8xf32>
// CHECK: tensor.insert_slice %{{.*}} into %[[V]][0, 0, %[[PCI]], 0]
// CHECK: %[[VIEWV:.*]] = tensor.extract_slice
// CHECK: %[[O:.*]] = attn.attention %[[X]], %[[VIEWK]], %[[VIEWV]]
// CHECK: tensor.dim %[[PASTK]], %c2
// CHECK-NOT: attn.concat
// CHECK: return %[[O]], %{{.*}} : tensor<?x2x?x8xf32>, tensor<1xi64>

// The check reaches the model's status result (attn-lower-to-linalg).
// STATUS: -> (tensor<?x2x?x8xf32>, tensor<1xi64>, tensor<4xi64>) attributes {attn.checks = ["context full: {a} of {b} tokens"

module attributes {attn.signature = "{\22inputs\22:[{\22name\22:\22x\22,\22dtype\22:\22f32\22,\22shape\22:[\22batch\22,2,\22seq\22,8]},{\22name\22:\22past_key_values.0.key\22,\22dtype\22:\22f32\22,\22shape\22:[\22batch\22,2,\22past\22,8]},{\22name\22:\22past_key_values.0.value\22,\22dtype\22:\22f32\22,\22shape\22:[\22batch\22,2,\22past\22,8]}],\22outputs\22:[{\22name\22:\22out\22,\22dtype\22:\22f32\22,\22shape\22:[\22batch\22,2,\22seq\22,8]},{\22name\22:\22present.0.key\22,\22dtype\22:\22f32\22,\22shape\22:[\22batch\22,2,\22total\22,8]},{\22name\22:\22pos\22,\22dtype\22:\22i64\22,\22shape\22:[1]},{\22name\22:\22present.0.value\22,\22dtype\22:\22f32\22,\22shape\22:[\22batch\22,2,\22total\22,8]}]}"} {
  func.func @main_graph(%x: tensor<?x2x?x8xf32>, %pk: tensor<?x2x?x8xf32>, %pv: tensor<?x2x?x8xf32>) -> (tensor<?x2x?x8xf32>, tensor<?x2x?x8xf32>, tensor<1xi64>, tensor<?x2x?x8xf32>) {
    %c2 = arith.constant 2 : index
    %k = attn.concat %pk, %x {axis = 2 : i64} : tensor<?x2x?x8xf32>, tensor<?x2x?x8xf32> -> tensor<?x2x?x8xf32>
    %v = attn.concat %pv, %x {axis = 2 : i64} : tensor<?x2x?x8xf32>, tensor<?x2x?x8xf32> -> tensor<?x2x?x8xf32>
    %o = attn.attention %x, %k, %v {mask_kind = #attn.mask_kind<none>, scale = 0.25 : f64} : tensor<?x2x?x8xf32>, tensor<?x2x?x8xf32>, tensor<?x2x?x8xf32> -> tensor<?x2x?x8xf32>
    %d = tensor.dim %pk, %c2 : tensor<?x2x?x8xf32>
    %d64 = arith.index_cast %d : index to i64
    %pos = tensor.from_elements %d64 : tensor<1xi64>
    return %o, %k, %pos, %v : tensor<?x2x?x8xf32>, tensor<?x2x?x8xf32>, tensor<1xi64>, tensor<?x2x?x8xf32>
  }
}
