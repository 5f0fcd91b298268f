module {
  func.func @main_graph(%x: tensor<?x4xf32>) -> tensor<?x8xf32> {
    %w = arith.constant dense_resource<w> : tensor<4x8xf32>
    %y = attn.linear %x, %w : tensor<?x4xf32>, tensor<4x8xf32> -> tensor<?x8xf32>
    %h = func.call @helper(%x) : (tensor<?x4xf32>) -> tensor<?x8xf32>
    %r = attn.add %y, %h : tensor<?x8xf32>, tensor<?x8xf32> -> tensor<?x8xf32>
    return %r : tensor<?x8xf32>
  }
  func.func private @helper(%x: tensor<?x4xf32>) -> tensor<?x8xf32> {
    %w = arith.constant dense_resource<w> : tensor<4x8xf32>
    %y = attn.linear %x, %w : tensor<?x4xf32>, tensor<4x8xf32> -> tensor<?x8xf32>
    return %y : tensor<?x8xf32>
  }
}

{-#
  dialect_resources: {
    builtin: {
      w: "0x0400000000000000CDCCCC3DCDCC4C3E9A99993ECDCCCC3E0000003F9A99193F3333333FCDCC4C3F6666663F0000803FCDCC8C3F9A99993F6666A63F3333B33F0000C03FCDCCCC3F9A99D93F6666E63F3333F33F0000004066660640CDCC0C40333313409A9919400000204066662640CDCC2C40333333409A9939400000404066664640"
    }
  }
#-}
