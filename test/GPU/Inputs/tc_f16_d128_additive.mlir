func.func @main_graph(%q: tensor<?x8x?x128xf16>, %k: tensor<?x8x?x128xf16>, %v: tensor<?x8x?x128xf16>, %m: tensor<?x1x1x?xf16>) -> tensor<?x8x?x128xf16> {
  %0 = attn.attention %q, %k, %v mask(%m : tensor<?x1x1x?xf16>) {mask_kind = #attn.mask_kind<additive>, scale = 0.125 : f64} : tensor<?x8x?x128xf16>, tensor<?x8x?x128xf16>, tensor<?x8x?x128xf16> -> tensor<?x8x?x128xf16>
  return %0 : tensor<?x8x?x128xf16>
}
