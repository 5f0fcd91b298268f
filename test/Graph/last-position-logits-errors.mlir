// RUN: not attn-opt %s -split-input-file -attn-last-position-logits 2>&1 | FileCheck %s

// What --logits=last cannot cut is refused with an error naming the output.

// No output named 'logits' (an encoder, or a renamed export).
// CHECK: error: --logits=last: the model has no output 'logits' (its outputs: out, hidden); only a decoder language model's logits can be cut
module attributes {attn.signature = "{\22inputs\22:[{\22name\22:\22x\22,\22dtype\22:\22f32\22,\22shape\22:[\22batch\22,\22seq\22,8]}],\22outputs\22:[{\22name\22:\22out\22,\22dtype\22:\22f32\22,\22shape\22:[\22batch\22,\22seq\22,8]},{\22name\22:\22hidden\22,\22dtype\22:\22f32\22,\22shape\22:[\22batch\22,\22seq\22,8]}]}"} {
  func.func @main_graph(%x: tensor<?x?x8xf32>) -> (tensor<?x?x8xf32>, tensor<?x?x8xf32>) {
    %t = attn.tanh %x : tensor<?x?x8xf32>
    return %t, %x : tensor<?x?x8xf32>, tensor<?x?x8xf32>
  }
}

// -----

// 'logits' straight from a non-row-wise op (a softmax over the sequence).
// CHECK: error: --logits=last: output 'logits' is not made by a linear layer (or matmul) over [batch, seq, hidden] rows; cannot compute it for the last position only
module attributes {attn.signature = "{\22inputs\22:[{\22name\22:\22x\22,\22dtype\22:\22f32\22,\22shape\22:[\22batch\22,\22seq\22,8]}],\22outputs\22:[{\22name\22:\22logits\22,\22dtype\22:\22f32\22,\22shape\22:[\22batch\22,\22seq\22,8]}]}"} {
  func.func @main_graph(%x: tensor<?x?x8xf32>) -> tensor<?x?x8xf32> {
    %s = attn.softmax %x {axis = 1 : i64} : tensor<?x?x8xf32> -> tensor<?x?x8xf32>
    return %s : tensor<?x?x8xf32>
  }
}

// -----

// 'logits' of rank 2 (no sequence dim).
// CHECK: error: --logits=last: output 'logits' is not a rank-3 tensor [batch, seq, vocab]
module attributes {attn.signature = "{\22inputs\22:[{\22name\22:\22x\22,\22dtype\22:\22f32\22,\22shape\22:[\22batch\22,8]}],\22outputs\22:[{\22name\22:\22logits\22,\22dtype\22:\22f32\22,\22shape\22:[\22batch\22,16]}]}"} {
  func.func @main_graph(%x: tensor<?x8xf32>) -> tensor<?x16xf32> {
    %lm = arith.constant dense<0.5> : tensor<8x16xf32>
    %l = attn.linear %x, %lm : tensor<?x8xf32>, tensor<8x16xf32> -> tensor<?x16xf32>
    return %l : tensor<?x16xf32>
  }
}

// -----

// Applied twice.
// CHECK: error: --logits=last: the model already computes the last position's logits only
module attributes {attn.signature = "{\22logits\22:\22last\22,\22inputs\22:[{\22name\22:\22x\22,\22dtype\22:\22f32\22,\22shape\22:[\22batch\22,1,8]}],\22outputs\22:[{\22name\22:\22logits\22,\22dtype\22:\22f32\22,\22shape\22:[\22batch\22,1,16]}]}"} {
  func.func @main_graph(%x: tensor<?x1x8xf32>) -> tensor<?x1x16xf32> {
    %lm = arith.constant dense<0.5> : tensor<8x16xf32>
    %l = attn.linear %x, %lm : tensor<?x1x8xf32>, tensor<8x16xf32> -> tensor<?x1x16xf32>
    return %l : tensor<?x1x16xf32>
  }
}
