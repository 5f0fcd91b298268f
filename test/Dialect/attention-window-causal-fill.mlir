// RUN: attn-opt %s -verify-diagnostics

func.func @window_causal_fill(%q: tensor<1x2x8x16xf32>, %k: tensor<1x2x8x16xf32>, %v: tensor<1x2x8x16xf32>) -> tensor<1x2x8x16xf32> {
  // expected-error @below {{causal_fill and window do not compose}}
  %0 = attn.attention %q, %k, %v {scale = 1.0 : f64, mask_kind = #attn.mask_kind<none>, causal, causal_fill = -1.0e9 : f64, window = 4 : i64} : tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32> -> tensor<1x2x8x16xf32>
  return %0 : tensor<1x2x8x16xf32>
}
