func.func @main_graph(%x: tensor<?x?x256xf16>, %w: tensor<256x1024xf16>, %b: tensor<256xf16>, %w2: tensor<1024x256xf16>) -> (tensor<?x?x1024xf16>, tensor<?x?x256xf16>) {
  %0 = attn.matmul %x, %w : tensor<?x?x256xf16>, tensor<256x1024xf16> -> tensor<?x?x1024xf16>
  %1 = attn.linear %0, %w2 bias(%b : tensor<256xf16>) {activation = #attn.activation<gelu>} : tensor<?x?x1024xf16>, tensor<1024x256xf16> -> tensor<?x?x256xf16>
  return %0, %1 : tensor<?x?x1024xf16>, tensor<?x?x256xf16>
}
