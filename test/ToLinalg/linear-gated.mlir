// RUN: attn-opt %s -attn-lower-to-linalg="vector-width=8" -split-input-file | FileCheck %s --check-prefix=KERNEL
// RUN: attn-opt %s -attn-lower-to-linalg -split-input-file | FileCheck %s --check-prefix=GENERIC

// A gated linear with a constant weight [K, 2N']: the kernel reads a panel
// of (gate vector | up vector) per k (packed at compile time into
// [N'/8, K, 16], gate columns then up columns), keeps 6 x 2 accumulators, and its epilogue adds the two
// bias halves, applies SiLU to the gate and multiplies by up: one vector
// stored per row, into a [M, N'] buffer (the [M, 2N'] product never exists).
// KERNEL-LABEL: func @gated_constant
// KERNEL:         %[[P:.*]] = arith.constant dense_resource<{{.*}}packed_gated16> : tensor<2x8x16xf32>
// KERNEL-NOT:     scf.if
// KERNEL:         memref.alloc(%{{.*}}) {alignment = 64 : i64} : memref<?x16xf32>
// KERNEL:         scf.forall
// KERNEL:               scf.for {{.*}} iter_args({{.*}}) -> (vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>)
// KERNEL-COUNT-12:        vector.fma
// KERNEL:               arith.addf {{.*}} : vector<8xf32>
// KERNEL:               arith.addf {{.*}} : vector<8xf32>
// KERNEL:               math.exp {{.*}} : vector<8xf32>
// KERNEL:               arith.divf {{.*}} : vector<8xf32>
// KERNEL-NEXT:          arith.mulf {{.*}} : vector<8xf32>
// KERNEL-NEXT:          vector.store {{.*}} : memref<?x?xf32>, vector<8xf32>
// KERNEL-NEXT:        }
// KERNEL:         bufferization.to_tensor {{.*}} : memref<?x16xf32> to tensor<?x16xf32>
// GENERIC-LABEL: func @gated_constant
// GENERIC:        linalg.matmul ins(%{{.*}}, %{{.*}} : tensor<?x8xf32>, tensor<8x16xf32>)
// GENERIC:        linalg.matmul ins(%{{.*}}, %{{.*}} : tensor<?x8xf32>, tensor<8x16xf32>)
// GENERIC:        linalg.generic {{.*}} ins(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} : tensor<?x16xf32>, tensor<?x16xf32>, tensor<16xf32>, tensor<16xf32>)
// GENERIC:          math.exp
// GENERIC:          arith.mulf
func.func @gated_constant(%x: tensor<?x8xf32>, %b: tensor<32xf32>) -> tensor<?x16xf32> {
  %w = arith.constant dense<"0x000000000000803F0000004000004040000080400000A0400000C0400000E0400000004100001041000020410000304100004041000050410000604100007041000080410000884100009041000098410000A0410000A8410000B0410000B8410000C0410000C8410000D0410000D8410000E0410000E8410000F0410000F84100000042000004420000084200000C4200001042000014420000184200001C4200002042000024420000284200002C4200003042000034420000384200003C4200004042000044420000484200004C4200005042000054420000584200005C4200006042000064420000684200006C4200007042000074420000784200007C42000080420000824200008442000086420000884200008A4200008C4200008E42000090420000924200009442000096420000984200009A4200009C4200009E420000A0420000A2420000A4420000A6420000A8420000AA420000AC420000AE420000B0420000B2420000B4420000B6420000B8420000BA420000BC420000BE420000C0420000C2420000C4420000C6420000C8420000CA420000CC420000CE420000D0420000D2420000D4420000D6420000D8420000DA420000DC420000DE420000E0420000E2420000E4420000E6420000E8420000EA420000EC420000EE420000F0420000F2420000F4420000F6420000F8420000FA420000FC420000FE420000004300000143000002430000034300000443000005430000064300000743000008430000094300000A4300000B4300000C4300000D4300000E4300000F430000104300001143000012430000134300001443000015430000164300001743000018430000194300001A4300001B4300001C4300001D4300001E4300001F430000204300002143000022430000234300002443000025430000264300002743000028430000294300002A4300002B4300002C4300002D4300002E4300002F430000304300003143000032430000334300003443000035430000364300003743000038430000394300003A4300003B4300003C4300003D4300003E4300003F430000404300004143000042430000434300004443000045430000464300004743000048430000494300004A4300004B4300004C4300004D4300004E4300004F430000504300005143000052430000534300005443000055430000564300005743000058430000594300005A4300005B4300005C4300005D4300005E4300005F430000604300006143000062430000634300006443000065430000664300006743000068430000694300006A4300006B4300006C4300006D4300006E4300006F430000704300007143000072430000734300007443000075430000764300007743000078430000794300007A4300007B4300007C4300007D4300007E4300007F43"> : tensor<8x32xf32>
  %0 = attn.linear %x, %w bias(%b : tensor<32xf32>) {activation = #attn.activation<silu>, gated} : tensor<?x8xf32>, tensor<8x32xf32> -> tensor<?x16xf32>
  return %0 : tensor<?x16xf32>
}

// -----

// A run-time weight is always packed by the kernel (the halves are N/2
// apart, no in-place panel view): gate columns from p * 8, up columns from
// N/2 + p * 8.
// KERNEL-LABEL: func @gated_runtime
// KERNEL:         memref.alloc() {alignment = 64 : i64} : memref<2x16x16xf32>
// KERNEL:         scf.forall
// KERNEL:           vector.load
// KERNEL:           vector.store
// KERNEL:         scf.forall
// KERNEL-COUNT-12:        vector.fma
func.func @gated_runtime(%x: tensor<?x16xf32>, %w: tensor<16x32xf32>) -> tensor<?x16xf32> {
  %0 = attn.linear %x, %w {activation = #attn.activation<gelu>, gated} : tensor<?x16xf32>, tensor<16x32xf32> -> tensor<?x16xf32>
  return %0 : tensor<?x16xf32>
}

// -----

// N/2 = 12 is off the 8-lane tile: the generic path, also with the kernel
// enabled.
// KERNEL-LABEL: func @gated_off_tile
// KERNEL-NOT:     vector.fma
// KERNEL-COUNT-2: linalg.matmul
// KERNEL:         linalg.generic
// KERNEL:           arith.mulf
func.func @gated_off_tile(%x: tensor<5x16xf32>, %w: tensor<16x24xf32>) -> tensor<5x12xf32> {
  %0 = attn.linear %x, %w {activation = #attn.activation<relu>, gated} : tensor<5x16xf32>, tensor<16x24xf32> -> tensor<5x12xf32>
  return %0 : tensor<5x12xf32>
}
