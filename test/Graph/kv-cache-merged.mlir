// RUN: not attn-opt %s -split-input-file -attn-kv-cache=max-len=16 2>/dev/null | FileCheck %s
// RUN: not attn-opt %s -split-input-file -attn-kv-cache=max-len=16 2>&1 | FileCheck %s --check-prefix=ERR

// attnc --kv-cache on an Optimum merged decoder: the bool input
// use_cache_branch picks the with-past graph (then) or the no-past graph
// (else) through an ONNX If (scf.if). The in-place cache always holds a past
// (P >= 0 positions), so the flag is fixed to true: the input leaves the
// signature and the function, the then branch replaces the If (also an If
// nested inside it, and other readers of the flag read a constant true), what
// only the else branch read is gone, and the with-past graph is cached as
// usual (present = Concat(past, new) -> write at P, view [0, P+T)).

// CHECK: module attributes {attn.signature = "{
// CHECK-NOT: use_cache_branch
// CHECK-SAME: \22name\22:\22past_sequence_length\22
// CHECK-NOT: use_cache_branch
// CHECK-LABEL: func.func @main_graph(
// CHECK-SAME: %[[X:arg[0-9]+]]: tensor<?x2x?x8xf32> {bufferization.writable = false},
// CHECK-SAME: %[[K:arg[0-9]+]]: tensor<?x2x16x8xf32> {bufferization.writable = true},
// CHECK-SAME: %[[P:arg[0-9]+]]: tensor<i64> {bufferization.writable = false})
// CHECK-SAME: -> (tensor<?x2x?x8xf32>, tensor<1xi1>)
// CHECK-NOT: scf.if
// CHECK-NOT: attn.neg
// CHECK: %[[INS:.*]] = tensor.insert_slice %{{.*}} into %[[K]]
// CHECK: %[[VIEW:.*]] = tensor.extract_slice %[[INS]]
// CHECK: %[[O:.*]] = attn.attention %[[X]], %[[VIEW]], %[[VIEW]]
// CHECK: %[[T:.*]] = attn.tanh %[[O]]
// CHECK-NOT: attn.concat
// CHECK-NOT: scf.if
// CHECK: return %[[T]], %{{.*}} : tensor<?x2x?x8xf32>, tensor<1xi1>
module attributes {attn.signature = "{\22inputs\22:[{\22name\22:\22x\22,\22dtype\22:\22f32\22,\22shape\22:[\22batch\22,2,\22seq\22,8]},{\22name\22:\22past_key_values.0.key\22,\22dtype\22:\22f32\22,\22shape\22:[\22batch\22,2,\22past\22,8]},{\22name\22:\22use_cache_branch\22,\22dtype\22:\22bool\22,\22shape\22:[1]}],\22outputs\22:[{\22name\22:\22out\22,\22dtype\22:\22f32\22,\22shape\22:[\22batch\22,2,\22seq\22,8]},{\22name\22:\22present.0.key\22,\22dtype\22:\22f32\22,\22shape\22:[\22batch\22,2,\22total\22,8]},{\22name\22:\22flag\22,\22dtype\22:\22bool\22,\22shape\22:[1]}]}"} {
  func.func @main_graph(%x: tensor<?x2x?x8xf32>, %pk: tensor<?x2x?x8xf32>, %use: tensor<1xi1>) -> (tensor<?x2x?x8xf32>, tensor<?x2x?x8xf32>, tensor<1xi1>) {
    %c0 = arith.constant 0 : index
    %neg = attn.neg %x : tensor<?x2x?x8xf32>
    %cond = tensor.extract %use[%c0] : tensor<1xi1>
    %r:2 = scf.if %cond -> (tensor<?x2x?x8xf32>, tensor<?x2x?x8xf32>) {
      %k = attn.concat %pk, %x {axis = 2 : i64} : tensor<?x2x?x8xf32>, tensor<?x2x?x8xf32> -> tensor<?x2x?x8xf32>
      %o = attn.attention %x, %k, %k {mask_kind = #attn.mask_kind<none>, scale = 0.35 : f64} : tensor<?x2x?x8xf32>, tensor<?x2x?x8xf32>, tensor<?x2x?x8xf32> -> tensor<?x2x?x8xf32>
      %cond2 = tensor.extract %use[%c0] : tensor<1xi1>
      %o2 = scf.if %cond2 -> (tensor<?x2x?x8xf32>) {
        %t = attn.tanh %o : tensor<?x2x?x8xf32>
        scf.yield %t : tensor<?x2x?x8xf32>
      } else {
        scf.yield %o : tensor<?x2x?x8xf32>
      }
      scf.yield %o2, %k : tensor<?x2x?x8xf32>, tensor<?x2x?x8xf32>
    } else {
      %o = attn.attention %neg, %x, %x {mask_kind = #attn.mask_kind<none>, scale = 0.35 : f64} : tensor<?x2x?x8xf32>, tensor<?x2x?x8xf32>, tensor<?x2x?x8xf32> -> tensor<?x2x?x8xf32>
      scf.yield %o, %x : tensor<?x2x?x8xf32>, tensor<?x2x?x8xf32>
    }
    return %r#0, %r#1, %use : tensor<?x2x?x8xf32>, tensor<?x2x?x8xf32>, tensor<1xi1>
  }
}

// -----

// An If on another condition between a present and its past: refused.
// ERR: error: --kv-cache=16: output 'present.0.key' is chosen by an ONNX If at run time (a merged decoder whose condition is not the input 'use_cache_branch'); compile the with-past export instead
module attributes {attn.signature = "{\22inputs\22:[{\22name\22:\22x\22,\22dtype\22:\22f32\22,\22shape\22:[\22batch\22,2,\22seq\22,8]},{\22name\22:\22past_key_values.0.key\22,\22dtype\22:\22f32\22,\22shape\22:[\22batch\22,2,\22past\22,8]},{\22name\22:\22with_past\22,\22dtype\22:\22bool\22,\22shape\22:[1]}],\22outputs\22:[{\22name\22:\22present.0.key\22,\22dtype\22:\22f32\22,\22shape\22:[\22batch\22,2,\22total\22,8]}]}"} {
  func.func @main_graph(%x: tensor<?x2x?x8xf32>, %pk: tensor<?x2x?x8xf32>, %use: tensor<1xi1>) -> tensor<?x2x?x8xf32> {
    %c0 = arith.constant 0 : index
    %cond = tensor.extract %use[%c0] : tensor<1xi1>
    %r = scf.if %cond -> (tensor<?x2x?x8xf32>) {
      %k = attn.concat %pk, %x {axis = 2 : i64} : tensor<?x2x?x8xf32>, tensor<?x2x?x8xf32> -> tensor<?x2x?x8xf32>
      scf.yield %k : tensor<?x2x?x8xf32>
    } else {
      scf.yield %x : tensor<?x2x?x8xf32>
    }
    return %r : tensor<?x2x?x8xf32>
  }
}

// -----

// use_cache_branch that is not one bool: refused.
// ERR: error: --kv-cache=16: input 'use_cache_branch' (a merged decoder's branch flag) must be one bool
module attributes {attn.signature = "{\22inputs\22:[{\22name\22:\22x\22,\22dtype\22:\22f32\22,\22shape\22:[\22batch\22,2,\22seq\22,8]},{\22name\22:\22past_key_values.0.key\22,\22dtype\22:\22f32\22,\22shape\22:[\22batch\22,2,\22past\22,8]},{\22name\22:\22use_cache_branch\22,\22dtype\22:\22bool\22,\22shape\22:[2]}],\22outputs\22:[{\22name\22:\22present.0.key\22,\22dtype\22:\22f32\22,\22shape\22:[\22batch\22,2,\22total\22,8]}]}"} {
  func.func @main_graph(%x: tensor<?x2x?x8xf32>, %pk: tensor<?x2x?x8xf32>, %use: tensor<2xi1>) -> tensor<?x2x?x8xf32> {
    %k = attn.concat %pk, %x {axis = 2 : i64} : tensor<?x2x?x8xf32>, tensor<?x2x?x8xf32> -> tensor<?x2x?x8xf32>
    return %k : tensor<?x2x?x8xf32>
  }
}
