// RUN: attn-opt %s -split-input-file -verify-diagnostics | FileCheck %s

// attn.shape's start/end are a normalized range, 0 <= start <= end <= rank
// (the importer wraps and clamps ONNX Shape's negative and out-of-range
// values). The attributes are I64Attrs read as uint64_t: a negative value in
// hand-written IR was never wrapped (-1 became start 0) and is refused now.

// CHECK-LABEL: func.func @in_range
// CHECK: attn.shape %arg0 {end = 3 : i64, start = 0 : i64} : tensor<2x3x4xf32> -> tensor<3xi64>
// CHECK: attn.shape %arg0 {end = 2 : i64, start = 1 : i64} : tensor<2x3x4xf32> -> tensor<1xi64>
// CHECK: attn.shape %arg0 {end = 3 : i64, start = 3 : i64} : tensor<2x3x4xf32> -> tensor<0xi64>
func.func @in_range(%x: tensor<2x3x4xf32>) -> (tensor<3xi64>, tensor<1xi64>, tensor<0xi64>) {
  %a = attn.shape %x {start = 0 : i64, end = 3 : i64} : tensor<2x3x4xf32> -> tensor<3xi64>
  %b = attn.shape %x {start = 1 : i64, end = 2 : i64} : tensor<2x3x4xf32> -> tensor<1xi64>
  %c = attn.shape %x {start = 3 : i64, end = 3 : i64} : tensor<2x3x4xf32> -> tensor<0xi64>
  return %a, %b, %c : tensor<3xi64>, tensor<1xi64>, tensor<0xi64>
}

// -----

func.func @negative_start(%x: tensor<2x3x4xf32>) -> tensor<1xi64> {
  // expected-error @+2 {{start -1 and end 3 must satisfy 0 <= start <= end <= rank (3)}}
  // expected-error @+1 {{'attn.shape' op failed to infer returned types}}
  %s = attn.shape %x {start = -1 : i64, end = 3 : i64} : tensor<2x3x4xf32> -> tensor<1xi64>
  return %s : tensor<1xi64>
}

// -----

// Before: -1 was read as 2^64 - 1 and the type check accepted a 3-element
// result (start 0).
func.func @negative_start_whole(%x: tensor<2x3x4xf32>) -> tensor<3xi64> {
  // expected-error @+2 {{start -1 and end 3 must satisfy 0 <= start <= end <= rank (3)}}
  // expected-error @+1 {{'attn.shape' op failed to infer returned types}}
  %s = attn.shape %x {start = -1 : i64, end = 3 : i64} : tensor<2x3x4xf32> -> tensor<3xi64>
  return %s : tensor<3xi64>
}

// -----

func.func @negative_end(%x: tensor<2x3x4xf32>) -> tensor<2xi64> {
  // expected-error @+2 {{start 0 and end -1 must satisfy 0 <= start <= end <= rank (3)}}
  // expected-error @+1 {{'attn.shape' op failed to infer returned types}}
  %s = attn.shape %x {start = 0 : i64, end = -1 : i64} : tensor<2x3x4xf32> -> tensor<2xi64>
  return %s : tensor<2xi64>
}

// -----

func.func @end_past_rank(%x: tensor<2x3x4xf32>) -> tensor<3xi64> {
  // expected-error @+2 {{start 1 and end 4 must satisfy 0 <= start <= end <= rank (3)}}
  // expected-error @+1 {{'attn.shape' op failed to infer returned types}}
  %s = attn.shape %x {start = 1 : i64, end = 4 : i64} : tensor<2x3x4xf32> -> tensor<3xi64>
  return %s : tensor<3xi64>
}

// -----

func.func @start_after_end(%x: tensor<2x3x4xf32>) -> tensor<0xi64> {
  // expected-error @+2 {{start 2 and end 1 must satisfy 0 <= start <= end <= rank (3)}}
  // expected-error @+1 {{'attn.shape' op failed to infer returned types}}
  %s = attn.shape %x {start = 2 : i64, end = 1 : i64} : tensor<2x3x4xf32> -> tensor<0xi64>
  return %s : tensor<0xi64>
}
