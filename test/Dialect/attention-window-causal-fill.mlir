// attn.attention's sliding window composes with causal_fill (issue #14): the positions that
// `causal` and `window` hide score the fill (Hugging Face's Where(causal & window & padding,
// 0, finfo.min) on a sliding-window layer), with a padding mask operand and bottom-right
// alignment too. The window still needs `causal` and W >= 1; the fill must be finite.
// RUN: attn-opt %s -split-input-file -verify-diagnostics | FileCheck %s

// CHECK-LABEL: func.func @window_causal_fill
// CHECK: attn.attention {{.*}}mask({{.*}} : tensor<2x1x1x8xf32>) {causal, causal_align = #attn.causal_align<bottom_right>, causal_fill = -3.4028234663852886E+38 : f64, {{.*}}window = 4 : i64}
// CHECK: attn.attention {{.*}}{causal, causal_fill = -1.000000e+09 : f64, {{.*}}window = 1 : i64}
func.func @window_causal_fill(%q: tensor<2x4x3x16xf32>, %k: tensor<2x2x8x16xf32>, %v: tensor<2x2x8x16xf32>, %m: tensor<2x1x1x8xf32>) -> (tensor<2x4x3x16xf32>, tensor<2x4x3x16xf32>) {
  %0 = attn.attention %q, %k, %v mask(%m : tensor<2x1x1x8xf32>) {scale = 0.25 : f64, mask_kind = #attn.mask_kind<additive>, causal, causal_align = #attn.causal_align<bottom_right>, causal_fill = -3.4028234663852886E+38 : f64, window = 4 : i64} : tensor<2x4x3x16xf32>, tensor<2x2x8x16xf32>, tensor<2x2x8x16xf32> -> tensor<2x4x3x16xf32>
  %1 = attn.attention %q, %k, %v {scale = 1.0 : f64, mask_kind = #attn.mask_kind<none>, causal, causal_fill = -1.0e9 : f64, window = 1 : i64} : tensor<2x4x3x16xf32>, tensor<2x2x8x16xf32>, tensor<2x2x8x16xf32> -> tensor<2x4x3x16xf32>
  return %0, %1 : tensor<2x4x3x16xf32>, tensor<2x4x3x16xf32>
}

// -----

func.func @window_without_causal(%q: tensor<1x2x8x16xf32>, %k: tensor<1x2x8x16xf32>, %v: tensor<1x2x8x16xf32>) -> tensor<1x2x8x16xf32> {
  // expected-error @below {{window needs causal}}
  %0 = attn.attention %q, %k, %v {scale = 1.0 : f64, mask_kind = #attn.mask_kind<none>, window = 4 : i64} : tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32> -> tensor<1x2x8x16xf32>
  return %0 : tensor<1x2x8x16xf32>
}

// -----

func.func @window_zero(%q: tensor<1x2x8x16xf32>, %k: tensor<1x2x8x16xf32>, %v: tensor<1x2x8x16xf32>) -> tensor<1x2x8x16xf32> {
  // expected-error @below {{window must be >= 1}}
  %0 = attn.attention %q, %k, %v {scale = 1.0 : f64, mask_kind = #attn.mask_kind<none>, causal, causal_fill = -1.0e9 : f64, window = 0 : i64} : tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32> -> tensor<1x2x8x16xf32>
  return %0 : tensor<1x2x8x16xf32>
}

// -----

func.func @window_fill_not_finite(%q: tensor<1x2x8x16xf32>, %k: tensor<1x2x8x16xf32>, %v: tensor<1x2x8x16xf32>) -> tensor<1x2x8x16xf32> {
  // expected-error @below {{causal_fill must be finite}}
  %0 = attn.attention %q, %k, %v {scale = 1.0 : f64, mask_kind = #attn.mask_kind<none>, causal, causal_fill = 0xFFF0000000000000 : f64, window = 4 : i64} : tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32> -> tensor<1x2x8x16xf32>
  return %0 : tensor<1x2x8x16xf32>
}
