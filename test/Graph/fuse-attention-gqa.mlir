// RUN: attn-opt %s -attn-fuse-attention=remarks=false -split-input-file | FileCheck %s

// GQA's repeat_kv (Reshape to [B, Hkv, 1, S, D], Expand to [B, Hkv, G, S, D],
// Reshape to [B, Hkv*G, S, D]) on both K and V is absorbed: attn.attention
// reads the 2 key/value heads directly and nothing is expanded.
// CHECK-LABEL: func @repeat_kv
// CHECK-NOT:     attn.expand
// CHECK:         attn.attention %arg0, %{{.*}}, %arg2 {{.*}} : tensor<1x4x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32> -> tensor<1x4x8x16xf32>
// CHECK-NOT:     attn.expand
// CHECK-NOT:     attn.softmax
func.func @repeat_kv(%q: tensor<1x4x8x16xf32>, %k: tensor<1x2x8x16xf32>, %v: tensor<1x2x8x16xf32>) -> tensor<1x4x8x16xf32> {
  %s5 = arith.constant dense<[1, 2, 1, 8, 16]> : tensor<5xi64>
  %e5 = arith.constant dense<[1, 2, 2, 8, 16]> : tensor<5xi64>
  %s4 = arith.constant dense<[1, 4, 8, 16]> : tensor<4xi64>
  %k1 = attn.reshape %k, %s5 : tensor<1x2x8x16xf32>, tensor<5xi64> -> tensor<1x2x1x8x16xf32>
  %k2 = attn.expand %k1, %e5 : tensor<1x2x1x8x16xf32>, tensor<5xi64> -> tensor<1x2x2x8x16xf32>
  %k3 = attn.reshape %k2, %s4 : tensor<1x2x2x8x16xf32>, tensor<4xi64> -> tensor<1x4x8x16xf32>
  %v1 = attn.reshape %v, %s5 : tensor<1x2x8x16xf32>, tensor<5xi64> -> tensor<1x2x1x8x16xf32>
  %v2 = attn.expand %v1, %e5 : tensor<1x2x1x8x16xf32>, tensor<5xi64> -> tensor<1x2x2x8x16xf32>
  %v3 = attn.reshape %v2, %s4 : tensor<1x2x2x8x16xf32>, tensor<4xi64> -> tensor<1x4x8x16xf32>
  %kt = attn.transpose %k3, [0, 1, 3, 2] : tensor<1x4x8x16xf32> -> tensor<1x4x16x8xf32>
  %s = attn.matmul %q, %kt : tensor<1x4x8x16xf32>, tensor<1x4x16x8xf32> -> tensor<1x4x8x8xf32>
  %c = arith.constant dense<0.25> : tensor<f32>
  %ss = attn.mul %s, %c : tensor<1x4x8x8xf32>, tensor<f32> -> tensor<1x4x8x8xf32>
  %p = attn.softmax %ss {axis = -1 : i64} : tensor<1x4x8x8xf32> -> tensor<1x4x8x8xf32>
  %o = attn.matmul %p, %v3 : tensor<1x4x8x8xf32>, tensor<1x4x8x16xf32> -> tensor<1x4x8x16xf32>
  return %o : tensor<1x4x8x16xf32>
}

// -----

// The 1 inserted before the heads (torch's `repeat`, head h reads h % Hkv):
// not repeat_kv, so the expanded K/V stay.
// CHECK-LABEL: func @repeat_not_interleave
// CHECK:         attn.expand
// CHECK:         attn.attention {{.*}} : tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>
func.func @repeat_not_interleave(%q: tensor<1x4x8x16xf32>, %k: tensor<1x2x8x16xf32>, %v: tensor<1x2x8x16xf32>) -> tensor<1x4x8x16xf32> {
  %s5 = arith.constant dense<[1, 1, 2, 8, 16]> : tensor<5xi64>
  %e5 = arith.constant dense<[1, 2, 2, 8, 16]> : tensor<5xi64>
  %s4 = arith.constant dense<[1, 4, 8, 16]> : tensor<4xi64>
  %k1 = attn.reshape %k, %s5 : tensor<1x2x8x16xf32>, tensor<5xi64> -> tensor<1x1x2x8x16xf32>
  %k2 = attn.expand %k1, %e5 : tensor<1x1x2x8x16xf32>, tensor<5xi64> -> tensor<1x2x2x8x16xf32>
  %k3 = attn.reshape %k2, %s4 : tensor<1x2x2x8x16xf32>, tensor<4xi64> -> tensor<1x4x8x16xf32>
  %v1 = attn.reshape %v, %s5 : tensor<1x2x8x16xf32>, tensor<5xi64> -> tensor<1x1x2x8x16xf32>
  %v2 = attn.expand %v1, %e5 : tensor<1x1x2x8x16xf32>, tensor<5xi64> -> tensor<1x2x2x8x16xf32>
  %v3 = attn.reshape %v2, %s4 : tensor<1x2x2x8x16xf32>, tensor<4xi64> -> tensor<1x4x8x16xf32>
  %kt = attn.transpose %k3, [0, 1, 3, 2] : tensor<1x4x8x16xf32> -> tensor<1x4x16x8xf32>
  %s = attn.matmul %q, %kt : tensor<1x4x8x16xf32>, tensor<1x4x16x8xf32> -> tensor<1x4x8x8xf32>
  %p = attn.softmax %s {axis = -1 : i64} : tensor<1x4x8x8xf32> -> tensor<1x4x8x8xf32>
  %o = attn.matmul %p, %v3 : tensor<1x4x8x8xf32>, tensor<1x4x8x16xf32> -> tensor<1x4x8x16xf32>
  return %o : tensor<1x4x8x16xf32>
}
