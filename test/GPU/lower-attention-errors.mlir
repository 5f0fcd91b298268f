// RUN: attn-opt %s -attn-gpu-lower-attention -verify-diagnostics

func.func @dynamic_head(%q: tensor<1x?x?xf32>, %k: tensor<1x?x?xf32>, %v: tensor<1x?x?xf32>) -> tensor<1x?x?xf32> {
  // expected-error @below {{attn.attention with a dynamic head dimension cannot be lowered for --target=cuda}}
  %0 = attn.attention %q, %k, %v {scale = 1.0 : f64, mask_kind = #attn.mask_kind<none>} : tensor<1x?x?xf32>, tensor<1x?x?xf32>, tensor<1x?x?xf32> -> tensor<1x?x?xf32>
  return %0 : tensor<1x?x?xf32>
}
