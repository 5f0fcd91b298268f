module attributes {attn.signature = "{\"inputs\":[{\"name\":\"q\",\"dtype\":\"f16\",\"shape\":[2,8,5,64]},{\"name\":\"k\",\"dtype\":\"f16\",\"shape\":[2,2,130,64]},{\"name\":\"v\",\"dtype\":\"f16\",\"shape\":[2,2,130,64]}],\"outputs\":[{\"name\":\"out\",\"dtype\":\"f16\",\"shape\":[2,8,5,64]}]}"} {
  func.func @main_graph(%q: tensor<2x8x5x64xf16>, %k: tensor<2x2x130x64xf16>, %v: tensor<2x2x130x64xf16>) -> tensor<2x8x5x64xf16> {
    %0 = attn.attention %q, %k, %v {scale = 0.125 : f64, mask_kind = #attn.mask_kind<none>, causal, causal_align = #attn.causal_align<bottom_right>, window = 40 : i64} : tensor<2x8x5x64xf16>, tensor<2x2x130x64xf16>, tensor<2x2x130x64xf16> -> tensor<2x8x5x64xf16>
    return %0 : tensor<2x8x5x64xf16>
  }
}
