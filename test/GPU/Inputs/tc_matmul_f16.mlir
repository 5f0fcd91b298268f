func.func @main_graph(%x: tensor<?x?x256xf16>, %w: tensor<256x1024xf16>) -> tensor<?x?x1024xf16> {
  %0 = attn.matmul %x, %w : tensor<?x?x256xf16>, tensor<256x1024xf16> -> tensor<?x?x1024xf16>
  return %0 : tensor<?x?x1024xf16>
}
