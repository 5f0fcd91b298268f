// RUN: attn-opt %s -split-input-file -verify-diagnostics -attn-gpu-map-parallel-loops | FileCheck %s

// An outermost scf.parallel becomes one gpu.launch over its linearized
// iteration space (256 threads per block); each thread delinearizes its id.
// CHECK-LABEL: func @elementwise
// CHECK-NOT:     scf.parallel
// CHECK:         arith.ceildivui
// CHECK:         arith.muli
// CHECK:         arith.ceildivui
// CHECK:         %[[TOTAL:.*]] = arith.muli %{{.*}}, %{{.*}} : index
// CHECK:         %[[NB:.*]] = arith.ceildivui %[[TOTAL]], %c256
// CHECK:         gpu.launch blocks(%{{.*}}, %{{.*}}, %{{.*}}) in (%{{.*}} = %[[NB]], {{.*}} threads(%[[TX:[a-z0-9]+]], %{{.*}}, %{{.*}}) in (%{{.*}} = %c256{{.*}} module(@attn_kernels) function(@loop_op_0)
// CHECK:           %[[ID:.*]] = arith.addi %{{.*}}, %[[TX]]
// CHECK:           scf.if %{{.*}} {
// CHECK:             arith.remui %[[ID]]
// CHECK:             arith.divui %[[ID]]
// CHECK:             memref.load
// CHECK:             math.exp
// CHECK:             memref.store
// CHECK:           gpu.terminator
func.func @elementwise(%a: memref<?x?xf32>, %b: memref<?x?xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %n = memref.dim %a, %c0 : memref<?x?xf32>
  %m = memref.dim %a, %c1 : memref<?x?xf32>
  scf.parallel (%i, %j) = (%c0, %c0) to (%n, %m) step (%c1, %c1) {
    %x = memref.load %a[%i, %j] : memref<?x?xf32>
    %y = math.exp %x : f32
    memref.store %y, %b[%i, %j] : memref<?x?xf32>
    scf.reduce
  }
  return
}

// -----

// A sequential loop nest touching tensor data runs in a single GPU thread.
// CHECK-LABEL: func @serial
// CHECK:         gpu.launch blocks({{.*}}) in (%{{.*}} = %c1{{.*}}) threads({{.*}}) in (%{{.*}} = %c1{{.*}} module(@attn_kernels) function(@serial_op_0)
// CHECK:           scf.for
// CHECK:             memref.load
// CHECK:           gpu.terminator
func.func @serial(%a: memref<?xf32>, %out: memref<f32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %n = memref.dim %a, %c0 : memref<?xf32>
  scf.for %i = %c0 to %n step %c1 {
    %x = memref.load %a[%i] : memref<?xf32>
    %s = memref.load %out[] : memref<f32>
    %t = arith.addf %s, %x : f32
    memref.store %t, %out[] : memref<f32>
  }
  return
}

// -----

// Host code that reads tensor data outside any loop needs the value on the
// host (a shape entry, a status flag): it reads it from the device through
// the runtime (attn_cuda_read, into host stack memory). What host code
// writes (a shape tensor built from dims) is written by a 1-thread kernel.
// CHECK-LABEL: func @host_values
// CHECK:         %[[TMP:.*]] = memref.alloca() : memref<i64>
// CHECK:         call @attn_cuda_read({{.*}}) : (index, index, i64) -> ()
// CHECK:         %[[V:.*]] = memref.load %[[TMP]][] : memref<i64>
// CHECK:         memref.alloc(%{{.*}})
// CHECK:         gpu.launch
// CHECK:           memref.store %{{.*}}, %{{.*}}[] : memref<i64>
// CHECK:           gpu.terminator
func.func @host_values(%shape: memref<2xi64>, %b: memref<i64>) -> memref<?xf32> {
  %c1 = arith.constant 1 : index
  %d = memref.load %shape[%c1] : memref<2xi64>
  %n = arith.index_cast %d : i64 to index
  %buf = memref.alloc(%n) : memref<?xf32>
  memref.store %d, %b[] : memref<i64>
  return %buf : memref<?xf32>
}

// -----

// Other host-side accesses of tensor data are reported, never run on the
// CPU.
func.func @host_compute(%a: memref<8xf32>) -> vector<8xf32> {
  %c0 = arith.constant 0 : index
  // expected-error @below {{'vector.load' would compute on the host: this op cannot be lowered for --target=cuda}}
  %x = vector.load %a[%c0] : memref<8xf32>, vector<8xf32>
  return %x : vector<8xf32>
}
