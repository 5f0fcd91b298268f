// RUN: attn-opt %s -attn-lower-to-linalg="vector-width=8" | FileCheck %s --check-prefix=KERNEL

// With a vector width, f32 Linear layers use the register-blocked kernel:
// a forall over (M block, N block) tasks, a k loop carrying 6 x 2 vector
// accumulators, one FMA per (row, vector).
// KERNEL-LABEL: func @linear_kernel
// KERNEL:         scf.forall
// KERNEL:           scf.for
// KERNEL:             scf.for
// KERNEL:               scf.for {{.*}} iter_args({{.*}}) -> (vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>)
// KERNEL-COUNT-12:        vector.fma
// KERNEL:         bufferization.to_tensor
func.func @linear_kernel(%x: tensor<?x64xf32>, %w: tensor<64x32xf32>) -> tensor<?x32xf32> {
  %0 = attn.matmul %x, %w : tensor<?x64xf32>, tensor<64x32xf32> -> tensor<?x32xf32>
  return %0 : tensor<?x32xf32>
}
