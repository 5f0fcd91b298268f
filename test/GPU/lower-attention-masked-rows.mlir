// RUN: attn-opt %s -split-input-file -attn-gpu-lower-attention | FileCheck %s --check-prefix=TENSOR
// RUN: attn-opt %s -split-input-file -attn-gpu-lower-attention \
// RUN:   -one-shot-bufferize="bufferize-function-boundaries=1 function-boundary-type-conversion=identity-layout-map" \
// RUN:   -attn-gpu-lower-attention | FileCheck %s --check-prefix=KERNEL

// causal_fill (Hugging Face's eager causal & padding mask): the positions
// k > q score the fill value, so no key tile is skipped (the key loop runs to
// Sk, no arith.minsi before it).
// TENSOR-LABEL: func @causal_fill
// TENSOR:         call @__attn_gpu_attention_0({{.*}}) {attn.causal, attn.causal_fill = -3.4028234663852886E+38 : f64, {{.*}}attn.has_mask = true, attn.mask_kind = #attn.mask_kind<additive>, attn.scale = 2.500000e-01 : f64}
// KERNEL-LABEL: func @causal_fill
// KERNEL:         gpu.launch
// KERNEL-NOT:       arith.minsi
// KERNEL:           scf.for %{{.*}} = %c0{{.*}} to %dim{{.*}} step %c32
// KERNEL:             %[[FUTURE:.*]] = arith.cmpi sgt
// KERNEL-NEXT:        %[[FILL:.*]] = arith.constant -3.40282347E+38 : f32
// KERNEL-NEXT:        arith.select %[[FUTURE]], %[[FILL]], %{{.*}} : f32
// KERNEL:           arith.divf
// KERNEL-NOT:       arith.cmpf ogt
// KERNEL:           gpu.terminator
func.func @causal_fill(%q: tensor<?x4x?x64xf32>, %m: tensor<?x1x1x?xf32>) -> tensor<?x4x?x64xf32> {
  %0 = attn.attention %q, %q, %q mask(%m : tensor<?x1x1x?xf32>) {causal, causal_fill = -3.4028234663852886E+38 : f64, mask_kind = #attn.mask_kind<additive>, scale = 0.25 : f64} : tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32> -> tensor<?x4x?x64xf32>
  return %0 : tensor<?x4x?x64xf32>
}

// -----

// nan_to_zero (PyTorch's SDPA export): causal skipping stays; rows with
// l <= 0 (every score -inf) or NaN give 0 instead of O / l.
// TENSOR-LABEL: func @nan_to_zero
// TENSOR:         call @__attn_gpu_attention_0({{.*}}) {attn.causal, {{.*}}attn.has_mask = true, attn.mask_kind = #attn.mask_kind<additive>, attn.nan_to_zero, attn.scale = 2.500000e-01 : f64}
// KERNEL-LABEL: func @nan_to_zero
// KERNEL:         gpu.launch
// KERNEL:           %[[END:.*]] = arith.minsi %{{.*}}, %dim
// KERNEL:           scf.for %{{.*}} = %c0{{.*}} to %[[END]] step %c32
// KERNEL:           %[[O:.*]] = arith.divf %{{.*}}, %[[L:.*]] : f32
// KERNEL-NEXT:      %[[OK:.*]] = arith.cmpf ogt, %[[L]], %{{.*}} : f32
// KERNEL-NEXT:      arith.select %[[OK]], %[[O]], %{{.*}} : f32
// KERNEL:           gpu.terminator
func.func @nan_to_zero(%q: tensor<?x4x?x64xf32>, %m: tensor<?x1x1x?xf32>) -> tensor<?x4x?x64xf32> {
  %0 = attn.attention %q, %q, %q mask(%m : tensor<?x1x1x?xf32>) {causal, mask_kind = #attn.mask_kind<additive>, nan_to_zero, scale = 0.25 : f64} : tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32> -> tensor<?x4x?x64xf32>
  return %0 : tensor<?x4x?x64xf32>
}
