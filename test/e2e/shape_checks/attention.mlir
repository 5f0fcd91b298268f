func.func @main_graph(%q: tensor<1x?x64xf32>, %k: tensor<1x?x64xf32>, %v: tensor<1x?x64xf32>) -> tensor<1x?x64xf32> {
  %0 = attn.attention %q, %k, %v {mask_kind = #attn.mask_kind<none>, scale = 0.125 : f64} : tensor<1x?x64xf32>, tensor<1x?x64xf32>, tensor<1x?x64xf32> -> tensor<1x?x64xf32> loc("attn0")
  return %0 : tensor<1x?x64xf32>
}
