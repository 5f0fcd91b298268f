module attributes {attn.signature = "{\"inputs\":[{\"name\":\"q\",\"dtype\":\"f32\",\"shape\":[2,4,33,32]},{\"name\":\"k\",\"dtype\":\"f32\",\"shape\":[2,2,33,32]},{\"name\":\"v\",\"dtype\":\"f32\",\"shape\":[2,2,33,32]},{\"name\":\"m\",\"dtype\":\"f32\",\"shape\":[2,4,33,33]}],\"outputs\":[{\"name\":\"out\",\"dtype\":\"f32\",\"shape\":[2,4,33,32]}]}"} {
  func.func @main_graph(%q: tensor<2x4x33x32xf32>, %k: tensor<2x2x33x32xf32>, %v: tensor<2x2x33x32xf32>, %m: tensor<2x4x33x33xf32>) -> tensor<2x4x33x32xf32> {
    %0 = attn.attention %q, %k, %v mask(%m : tensor<2x4x33x33xf32>) {scale = 0.17677669529663687 : f64, mask_kind = #attn.mask_kind<additive>, causal, softcap = 20.0 : f64} : tensor<2x4x33x32xf32>, tensor<2x2x33x32xf32>, tensor<2x2x33x32xf32> -> tensor<2x4x33x32xf32>
    return %0 : tensor<2x4x33x32xf32>
  }
}
