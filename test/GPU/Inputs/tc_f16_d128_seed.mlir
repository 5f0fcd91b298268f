func.func @main_graph(%q: tensor<?x8x?x128xf16>, %k: tensor<?x8x?x128xf16>, %v: tensor<?x8x?x128xf16>, %m: tensor<?x1x?x?xi64>) -> tensor<?x8x?x128xf16> {
  %0 = attn.attention %q, %k, %v mask(%m : tensor<?x1x?x?xi64>) {causal, mask_kind = #attn.mask_kind<fill_if_zero>, fill_value = -1.0e20 : f64, mask_first, scale = 0.125 : f64} : tensor<?x8x?x128xf16>, tensor<?x8x?x128xf16>, tensor<?x8x?x128xf16> -> tensor<?x8x?x128xf16>
  return %0 : tensor<?x8x?x128xf16>
}
