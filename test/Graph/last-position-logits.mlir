// RUN: attn-opt %s -split-input-file -attn-last-position-logits | FileCheck %s

// attnc --logits=last: the hidden state is cut to its last sequence position
// (attn.slice starts -1, axis 1) before the row-wise chain that makes the
// output 'logits', which becomes [B, 1, V]; the signature says so.

// Llama-style: the final RMSNorm (with its residual: both inputs cut) feeds
// the lm_head. The cut goes before the norm; the rest of the graph (another
// output reading the hidden state) is unchanged.
// CHECK: module attributes {attn.signature = "{
// CHECK-SAME: \22logits\22:\22last\22
// CHECK-SAME: {\22dtype\22:\22f32\22,\22name\22:\22logits\22,\22shape\22:[\22batch\22,1,32]}
// CHECK-SAME: {\22dtype\22:\22f32\22,\22name\22:\22hidden\22,\22shape\22:[\22batch\22,\22seq\22,8]}
// CHECK-LABEL: func.func @main_graph(
// CHECK-SAME: %[[X:arg0]]: tensor<?x?x8xf32>, %[[R:arg1]]: tensor<?x?x8xf32>) -> (tensor<?x?x32xf32>, tensor<?x?x8xf32>)
// CHECK: %[[H:.*]] = attn.add %[[X]], %[[R]]
// CHECK-DAG: %[[M1:.*]] = arith.constant dense<-1> : tensor<1xi64>
// CHECK-DAG: %[[END:.*]] = arith.constant dense<9223372036854775807> : tensor<1xi64>
// CHECK-DAG: %[[AX:.*]] = arith.constant dense<1> : tensor<1xi64>
// CHECK: %[[SX:.*]] = attn.slice %[[X]][%[[M1]] : %[[END]], axes %{{.*}}, steps %{{.*}}] : (tensor<?x?x8xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<?x?x8xf32>
// CHECK: %[[SR:.*]] = attn.slice %[[R]][%[[M1]] : %[[END]], axes %{{.*}}, steps %{{.*}}] : {{.*}} -> tensor<?x?x8xf32>
// CHECK: %[[N:.*]] = attn.rms_norm %[[SX]] residual(%[[SR]] : tensor<?x?x8xf32>), %{{.*}} {axis = 2 : i64, {{.*}}} : tensor<?x?x8xf32>, tensor<8xf32> -> tensor<?x?x8xf32>
// CHECK: %[[L:.*]] = attn.linear %[[N]], %{{.*}} : tensor<?x?x8xf32>, tensor<8x32xf32> -> tensor<?x?x32xf32>
// CHECK: return %[[L]], %[[H]] : tensor<?x?x32xf32>, tensor<?x?x8xf32>
// CHECK-NOT: attn.rms_norm
module attributes {attn.signature = "{\22inputs\22:[{\22name\22:\22x\22,\22dtype\22:\22f32\22,\22shape\22:[\22batch\22,\22seq\22,8]},{\22name\22:\22r\22,\22dtype\22:\22f32\22,\22shape\22:[\22batch\22,\22seq\22,8]}],\22outputs\22:[{\22name\22:\22logits\22,\22dtype\22:\22f32\22,\22shape\22:[\22batch\22,\22seq\22,32]},{\22name\22:\22hidden\22,\22dtype\22:\22f32\22,\22shape\22:[\22batch\22,\22seq\22,8]}]}"} {
  func.func @main_graph(%x: tensor<?x?x8xf32>, %r: tensor<?x?x8xf32>) -> (tensor<?x?x32xf32>, tensor<?x?x8xf32>) {
    %w = arith.constant dense<1.0> : tensor<8xf32>
    %lm = arith.constant dense<0.5> : tensor<8x32xf32>
    %h = attn.add %x, %r : tensor<?x?x8xf32>, tensor<?x?x8xf32> -> tensor<?x?x8xf32>
    %n = attn.rms_norm %x residual(%r : tensor<?x?x8xf32>), %w {axis = 2 : i64, epsilon = 1.0e-06 : f64} : tensor<?x?x8xf32>, tensor<8xf32> -> tensor<?x?x8xf32>
    %l = attn.linear %n, %lm : tensor<?x?x8xf32>, tensor<8x32xf32> -> tensor<?x?x32xf32>
    return %l, %h : tensor<?x?x32xf32>, tensor<?x?x8xf32>
  }
}

// -----

// GPT-2 style: LayerNorm, then a reshape (not known to be row-wise), then the
// lm_head: the cut goes right before the linear. The signature's logits dim 1
// becomes 1.
// CHECK: \22logits\22:\22last\22
// CHECK-SAME: \22name\22:\22logits\22,\22shape\22:[\22batch\22,1,16]
// CHECK-LABEL: func.func @main_graph(
// CHECK: %[[LN:.*]] = attn.layer_norm
// CHECK: %[[RS:.*]] = attn.reshape %[[LN]]
// CHECK: %[[S:.*]] = attn.slice %[[RS]][{{.*}}] : {{.*}} -> tensor<?x?x8xf32>
// CHECK: %[[L:.*]] = attn.linear %[[S]], %{{.*}} bias(%{{.*}} : tensor<16xf32>) : tensor<?x?x8xf32>, tensor<8x16xf32> -> tensor<?x?x16xf32>
// CHECK: return %[[L]] : tensor<?x?x16xf32>
module attributes {attn.signature = "{\22inputs\22:[{\22name\22:\22x\22,\22dtype\22:\22f32\22,\22shape\22:[\22batch\22,\22seq\22,8]},{\22name\22:\22shape\22,\22dtype\22:\22i64\22,\22shape\22:[3]}],\22outputs\22:[{\22name\22:\22logits\22,\22dtype\22:\22f32\22,\22shape\22:[\22batch\22,\22seq\22,16]}]}"} {
  func.func @main_graph(%x: tensor<?x?x8xf32>, %shape: tensor<3xi64>) -> tensor<?x?x16xf32> {
    %w = arith.constant dense<1.0> : tensor<8xf32>
    %b = arith.constant dense<0.0> : tensor<8xf32>
    %lm = arith.constant dense<0.5> : tensor<8x16xf32>
    %lb = arith.constant dense<0.25> : tensor<16xf32>
    %n = attn.layer_norm %x, %w, %b : tensor<8xf32> {axis = 2 : i64, epsilon = 1.0e-05 : f64} : tensor<?x?x8xf32>, tensor<8xf32> -> tensor<?x?x8xf32>
    %rs = attn.reshape %n, %shape : tensor<?x?x8xf32>, tensor<3xi64> -> tensor<?x?x8xf32>
    %l = attn.linear %rs, %lm bias(%lb : tensor<16xf32>) : tensor<?x?x8xf32>, tensor<8x16xf32> -> tensor<?x?x16xf32>
    return %l : tensor<?x?x16xf32>
  }
}

// -----

// Gemma-2 style final soft-cap (div by a scalar, tanh, mul) after an lm_head
// matmul: all row-wise, the cut goes before the matmul (its input comes from
// a softmax, not row-wise over [batch, seq] as far as this pass knows).
// CHECK-LABEL: func.func @main_graph(
// CHECK: %[[SM:.*]] = attn.softmax
// CHECK: %[[S:.*]] = attn.slice %[[SM]][{{.*}}] : {{.*}} -> tensor<2x?x8xf32>
// CHECK: %[[M:.*]] = attn.matmul %[[S]], %{{.*}} : tensor<2x?x8xf32>, tensor<8x16xf32> -> tensor<2x?x16xf32>
// CHECK: %[[D:.*]] = attn.div %[[M]], %{{.*}} : tensor<2x?x16xf32>, tensor<f32> -> tensor<2x?x16xf32>
// CHECK: %[[T:.*]] = attn.tanh %[[D]] : tensor<2x?x16xf32>
// CHECK: %[[C:.*]] = attn.mul %{{.*}}, %[[T]] : tensor<f32>, tensor<2x?x16xf32> -> tensor<2x?x16xf32>
// CHECK: return %[[C]] : tensor<2x?x16xf32>
module attributes {attn.signature = "{\22inputs\22:[{\22name\22:\22x\22,\22dtype\22:\22f32\22,\22shape\22:[2,5,8]}],\22outputs\22:[{\22name\22:\22logits\22,\22dtype\22:\22f32\22,\22shape\22:[2,5,16]}]}"} {
  func.func @main_graph(%x: tensor<2x5x8xf32>) -> tensor<2x5x16xf32> {
    %lm = arith.constant dense<0.5> : tensor<8x16xf32>
    %cap = arith.constant dense<30.0> : tensor<f32>
    %sm = attn.softmax %x {axis = 1 : i64} : tensor<2x5x8xf32> -> tensor<2x5x8xf32>
    %m = attn.matmul %sm, %lm : tensor<2x5x8xf32>, tensor<8x16xf32> -> tensor<2x5x16xf32>
    %d = attn.div %m, %cap : tensor<2x5x16xf32>, tensor<f32> -> tensor<2x5x16xf32>
    %t = attn.tanh %d : tensor<2x5x16xf32>
    %c = attn.mul %cap, %t : tensor<f32>, tensor<2x5x16xf32> -> tensor<2x5x16xf32>
    return %c : tensor<2x5x16xf32>
  }
}
