// RUN: not attn-opt %s -split-input-file -attn-kv-cache=max-len=8 2>&1 | FileCheck %s
// RUN: not attn-opt %s -attn-kv-cache=max-len=0 2>&1 | FileCheck %s --check-prefix=ZERO

// What --kv-cache cannot keep in place is refused with an error naming the input or output.
// ZERO: error: --kv-cache=0: the cache length must be at least 1

// The present is not Concat(past, new, axis 2) (here: the operands swapped).
// CHECK: error: --kv-cache=8: output 'present.0.key' is not Concat(past_key_values.0.key, new, axis=2); cannot keep it in place
module attributes {attn.signature = "{\22inputs\22:[{\22name\22:\22x\22,\22dtype\22:\22f32\22,\22shape\22:[\22batch\22,2,\22seq\22,8]},{\22name\22:\22past_key_values.0.key\22,\22dtype\22:\22f32\22,\22shape\22:[\22batch\22,2,\22past\22,8]}],\22outputs\22:[{\22name\22:\22present.0.key\22,\22dtype\22:\22f32\22,\22shape\22:[\22batch\22,2,\22total\22,8]}]}"} {
  func.func @main_graph(%x: tensor<?x2x?x8xf32>, %pk: tensor<?x2x?x8xf32>) -> tensor<?x2x?x8xf32> {
    %k = attn.concat %x, %pk {axis = 2 : i64} : tensor<?x2x?x8xf32>, tensor<?x2x?x8xf32> -> tensor<?x2x?x8xf32>
    return %k : tensor<?x2x?x8xf32>
  }
}

// -----

// A past input without its present output.
// CHECK: error: --kv-cache=8: input 'past_key_0' has no present output 'present_key_0'
module attributes {attn.signature = "{\22inputs\22:[{\22name\22:\22x\22,\22dtype\22:\22f32\22,\22shape\22:[\22batch\22,2,\22seq\22,8]},{\22name\22:\22past_key_0\22,\22dtype\22:\22f32\22,\22shape\22:[\22batch\22,2,\22past\22,8]}],\22outputs\22:[{\22name\22:\22present.0.key\22,\22dtype\22:\22f32\22,\22shape\22:[\22batch\22,2,\22total\22,8]}]}"} {
  func.func @main_graph(%x: tensor<?x2x?x8xf32>, %pk: tensor<?x2x?x8xf32>) -> tensor<?x2x?x8xf32> {
    %k = attn.concat %pk, %x {axis = 2 : i64} : tensor<?x2x?x8xf32>, tensor<?x2x?x8xf32> -> tensor<?x2x?x8xf32>
    return %k : tensor<?x2x?x8xf32>
  }
}

// -----

// A present output without its past input.
// CHECK: error: --kv-cache=8: output 'present.1.value' has no past input
module attributes {attn.signature = "{\22inputs\22:[{\22name\22:\22x\22,\22dtype\22:\22f32\22,\22shape\22:[\22batch\22,2,\22seq\22,8]},{\22name\22:\22past_key_values.0.key\22,\22dtype\22:\22f32\22,\22shape\22:[\22batch\22,2,\22past\22,8]}],\22outputs\22:[{\22name\22:\22present.0.key\22,\22dtype\22:\22f32\22,\22shape\22:[\22batch\22,2,\22total\22,8]},{\22name\22:\22present.1.value\22,\22dtype\22:\22f32\22,\22shape\22:[\22batch\22,2,\22seq\22,8]}]}"} {
  func.func @main_graph(%x: tensor<?x2x?x8xf32>, %pk: tensor<?x2x?x8xf32>) -> (tensor<?x2x?x8xf32>, tensor<?x2x?x8xf32>) {
    %k = attn.concat %pk, %x {axis = 2 : i64} : tensor<?x2x?x8xf32>, tensor<?x2x?x8xf32> -> tensor<?x2x?x8xf32>
    return %k, %x : tensor<?x2x?x8xf32>, tensor<?x2x?x8xf32>
  }
}

// -----

// A static past length (an export that fixed it) cannot vary with P.
// CHECK: error: --kv-cache=8: input 'past_key_values.0.key' has a static past length (3); export it with a dynamic past dim
module attributes {attn.signature = "{\22inputs\22:[{\22name\22:\22x\22,\22dtype\22:\22f32\22,\22shape\22:[1,2,1,8]},{\22name\22:\22past_key_values.0.key\22,\22dtype\22:\22f32\22,\22shape\22:[1,2,3,8]}],\22outputs\22:[{\22name\22:\22present.0.key\22,\22dtype\22:\22f32\22,\22shape\22:[1,2,4,8]}]}"} {
  func.func @main_graph(%x: tensor<1x2x1x8xf32>, %pk: tensor<1x2x3x8xf32>) -> tensor<1x2x4x8xf32> {
    %k = attn.concat %pk, %x {axis = 2 : i64} : tensor<1x2x3x8xf32>, tensor<1x2x1x8xf32> -> tensor<1x2x4x8xf32>
    return %k : tensor<1x2x4x8xf32>
  }
}

// -----

// More new positions (static) than the cache holds.
// CHECK: error: --kv-cache=8: output 'present.0.key' appends 9 positions, more than the cache holds
module attributes {attn.signature = "{\22inputs\22:[{\22name\22:\22x\22,\22dtype\22:\22f32\22,\22shape\22:[\22batch\22,2,9,8]},{\22name\22:\22past_key_values.0.key\22,\22dtype\22:\22f32\22,\22shape\22:[\22batch\22,2,\22past\22,8]}],\22outputs\22:[{\22name\22:\22present.0.key\22,\22dtype\22:\22f32\22,\22shape\22:[\22batch\22,2,\22total\22,8]}]}"} {
  func.func @main_graph(%x: tensor<?x2x9x8xf32>, %pk: tensor<?x2x?x8xf32>) -> tensor<?x2x?x8xf32> {
    %k = attn.concat %pk, %x {axis = 2 : i64} : tensor<?x2x?x8xf32>, tensor<?x2x9x8xf32> -> tensor<?x2x?x8xf32>
    return %k : tensor<?x2x?x8xf32>
  }
}

// -----

// No past inputs at all.
// CHECK: error: --kv-cache=8: the model has no past K/V inputs (past_key_values.{i}.key|value or past_key_{i} / past_value_{i}); export it with its past
module attributes {attn.signature = "{\22inputs\22:[{\22name\22:\22x\22,\22dtype\22:\22f32\22,\22shape\22:[2]}],\22outputs\22:[{\22name\22:\22y\22,\22dtype\22:\22f32\22,\22shape\22:[2]}]}"} {
  func.func @main_graph(%x: tensor<2xf32>) -> tensor<2xf32> {
    return %x : tensor<2xf32>
  }
}

// -----

// A module without the names (attn.signature).
// CHECK: error: --kv-cache=8: the module has no attn.signature (input and output names)
func.func @main_graph(%x: tensor<2xf32>) -> tensor<2xf32> {
  return %x : tensor<2xf32>
}
