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

// Host code that reads tensor data outside any loop is reported, never run
// on the CPU.
func.func @host_compute(%a: memref<f32>, %b: memref<f32>) {
  // expected-error @below {{'memref.load' would compute on the host: this op cannot be lowered for --target=cuda}}
  %x = memref.load %a[] : memref<f32>
  // expected-error @below {{'memref.store' would compute on the host}}
  memref.store %x, %b[] : memref<f32>
  return
}
