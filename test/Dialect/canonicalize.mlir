// RUN: attn-opt %s -canonicalize -split-input-file | FileCheck %s

// A transpose of a constant (Gemm's transB, nn.Linear's W^T) folds into a
// new constant holding the permuted data.
// CHECK-LABEL: func.func @transpose_constant
// CHECK-NEXT: %[[C:.*]] = arith.constant dense<{{\[}}[1.000000e+00, 4.000000e+00], [2.000000e+00, 5.000000e+00], [3.000000e+00, 6.000000e+00]]> : tensor<3x2xf32>
// CHECK-NEXT: return %[[C]]
func.func @transpose_constant() -> tensor<3x2xf32> {
  %c = arith.constant dense<[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]> : tensor<2x3xf32>
  %0 = attn.transpose %c, [1, 0] : tensor<2x3xf32> -> tensor<3x2xf32>
  return %0 : tensor<3x2xf32>
}

// -----

// Rank 3 and a blob: the result is a new dense_resource blob.
// CHECK-LABEL: func.func @transpose_resource
// CHECK-NEXT: %[[C:.*]] = arith.constant dense_resource<w.T> : tensor<3x2x4xi32>
// CHECK-NEXT: return %[[C]]
// The result row-major: out[i][j][k] = in[j][k][i] = 12 j + 3 k + i, so it
// starts 0 3 6 9 12 (after the blob header: its alignment, 64).
// CHECK: w.T: "0x4000000000000000030000000600000009000000{{0C|0c}}000000
func.func @transpose_resource() -> tensor<3x2x4xi32> {
  %c = arith.constant dense_resource<w> : tensor<2x4x3xi32>
  %0 = attn.transpose %c, [2, 0, 1] : tensor<2x4x3xi32> -> tensor<3x2x4xi32>
  return %0 : tensor<3x2x4xi32>
}

{-#
  dialect_resources: {
    builtin: {
      w: "0x04000000000000000100000002000000030000000400000005000000060000000700000008000000090000000A0000000B0000000C0000000D0000000E0000000F0000001000000011000000120000001300000014000000150000001600000017000000"
    }
  }
#-}

// -----

// A run-time transpose stays.
// CHECK-LABEL: func.func @transpose_argument
// CHECK: attn.transpose
func.func @transpose_argument(%a: tensor<2x3xf32>) -> tensor<3x2xf32> {
  %0 = attn.transpose %a, [1, 0] : tensor<2x3xf32> -> tensor<3x2xf32>
  return %0 : tensor<3x2xf32>
}
