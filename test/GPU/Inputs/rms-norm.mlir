func.func @sum(%x: tensor<?x64xf32>, %r: tensor<?x64xf32>, %g: tensor<64xf32>) -> (tensor<?x64xf32>, tensor<?x64xf32>) {
  %0:2 = attn.rms_norm %x residual(%r : tensor<?x64xf32>), %g {axis = 1 : i64, epsilon = 1.0e-06 : f64} : tensor<?x64xf32>, tensor<64xf32> -> tensor<?x64xf32>, tensor<?x64xf32>
  return %0#0, %0#1 : tensor<?x64xf32>, tensor<?x64xf32>
}

// Normalizing every dim (axis 0) keeps the linalg lowering.
func.func @not_taken(%x: tensor<4x64xf32>, %g: tensor<4x64xf32>) -> tensor<4x64xf32> {
  %0 = attn.rms_norm %x, %g {axis = 0 : i64, epsilon = 1.0e-06 : f64} : tensor<4x64xf32>, tensor<4x64xf32> -> tensor<4x64xf32>
  return %0 : tensor<4x64xf32>
}
