//===- MapToGpu.cpp - host loops on buffers -> gpu.launch -----------------===//
//
// After bufferization and linalg -> scf.parallel, every outermost
// scf.parallel of a host function becomes one gpu.launch: its iteration
// space is linearized, 256 threads per block, and each thread
// delinearizes its global id into the loop's induction variables (any rank,
// dynamic bounds). Inner loops (reductions) stay sequential per thread.
// Sequential loop nests that still touch tensor data (e.g. a reduction to
// a scalar) run as a single-thread kernel. Anything else that would read or
// write tensor data on the host is an error naming the op: a CUDA model
// never computes on the CPU.
//
//===----------------------------------------------------------------------===//
#include "GPU/KernelBuilder.h"
#include "attn/Compiler/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/IRMapping.h"

namespace mlir::attn {
#define GEN_PASS_DEF_GPUMAPPARALLELLOOPSPASS
#include "attn/Compiler/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;

namespace {

constexpr int64_t kThreads = 256;

bool insideKernel(Operation *op) { return op->getParentOfType<gpu::LaunchOp>() != nullptr; }

/// Host stack memory (the destination of device -> host reads).
bool isHostScratch(Value memref) { return memref.getDefiningOp<memref::AllocaOp>() != nullptr; }

/// Does `op` read or write memory that holds tensor data?
bool touchesTensorData(Operation *op) {
  if (auto l = dyn_cast<memref::LoadOp>(op); l && isHostScratch(l.getMemref()))
    return false;
  if (isa<memref::DimOp, memref::AllocOp, memref::AllocaOp, memref::DeallocOp,
          memref::CastOp, memref::ReinterpretCastOp, memref::SubViewOp, memref::ExpandShapeOp,
          memref::CollapseShapeOp, memref::GetGlobalOp, memref::ExtractStridedMetadataOp,
          memref::ViewOp, memref::ExtractAlignedPointerAsIndexOp>(op))
    return false;
  auto effects = dyn_cast<MemoryEffectOpInterface>(op);
  if (!effects)
    return false;
  SmallVector<MemoryEffects::EffectInstance> list;
  effects.getEffects(list);
  for (auto &e : list)
    if (isa<MemoryEffects::Read, MemoryEffects::Write>(e.getEffect()))
      return true;
  return false;
}

struct GpuMapParallelLoopsPass
    : attn::impl::GpuMapParallelLoopsPassBase<GpuMapParallelLoopsPass> {
  using Base::Base;
  unsigned counter = 0;

  gpu::LaunchOp createLaunch(OpBuilder &b, Location loc, Value blocks, int64_t threads,
                             StringRef kind) {
    Value c1 = arith::ConstantIndexOp::create(b, loc, 1);
    return attn::gpukernel::createKernelLaunch(b, loc, blocks, c1, threads, TypeRange{},
                                         attn::gpukernel::kernelName(loc, kind, counter++, "op"));
  }

  LogicalResult mapParallel(scf::ParallelOp loop) {
    if (loop.getNumResults())
      return loop.emitError("scf.parallel with reductions cannot be mapped to the GPU yet");
    OpBuilder b(loop);
    Location loc = loop.getLoc();
    unsigned n = loop.getNumLoops();
    SmallVector<Value> trips;
    Value total = arith::ConstantIndexOp::create(b, loc, 1);
    Value zero = arith::ConstantIndexOp::create(b, loc, 0);
    for (unsigned i = 0; i < n; ++i) {
      Value extent = arith::SubIOp::create(b, loc, loop.getUpperBound()[i], loop.getLowerBound()[i]);
      extent = arith::MaxSIOp::create(b, loc, extent, zero);
      Value trip = arith::CeilDivUIOp::create(b, loc, extent, loop.getStep()[i]);
      trips.push_back(trip);
      total = arith::MulIOp::create(b, loc, total, trip);
    }
    Value tpb = arith::ConstantIndexOp::create(b, loc, kThreads);
    Value blocks = arith::CeilDivUIOp::create(b, loc, total, tpb);
    gpu::LaunchOp launch = createLaunch(b, loc, blocks, kThreads, "loop");
    Block &body = launch.getBody().front();
    b.setInsertionPointToStart(&body);
    Value gid = arith::AddIOp::create(b,
        loc, arith::MulIOp::create(b, loc, launch.getBlockIds().x, tpb), launch.getThreadIds().x);
    auto guard = scf::IfOp::create(b,
        loc, arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, gid, total), false);
    gpu::TerminatorOp::create(b, loc);
    b.setInsertionPointToStart(&guard.getThenRegion().front());
    IRMapping map;
    Value rem = gid;
    for (int i = n - 1; i >= 0; --i) {
      Value q = i > 0 ? arith::RemUIOp::create(b, loc, rem, trips[i]).getResult() : rem;
      if (i > 0)
        rem = arith::DivUIOp::create(b, loc, rem, trips[i]);
      Value iv = arith::AddIOp::create(b,
          loc, loop.getLowerBound()[i], arith::MulIOp::create(b, loc, q, loop.getStep()[i]));
      map.map(loop.getInductionVars()[i], iv);
    }
    for (Operation &op : loop.getBody()->without_terminator())
      b.clone(op, map);
    loop.erase();
    return success();
  }

  /// `load` (host code, device memory) as attn_cuda_read into host stack
  /// memory (see attn/abi.h).
  void readOnHost(memref::LoadOp load) {
    OpBuilder b(load);
    Location loc = load.getLoc();
    Type et = load.getMemRefType().getElementType();
    int64_t bytes = et.isIndex() ? 8 : std::max<int64_t>(1, et.getIntOrFloatBitWidth() / 8);
    func::FuncOp fn = getOperation();
    auto module = fn->getParentOfType<ModuleOp>();
    auto idx = b.getIndexType();
    if (!module.lookupSymbol<func::FuncOp>("attn_cuda_read")) {
      OpBuilder mb = OpBuilder::atBlockBegin(module.getBody());
      auto decl = func::FuncOp::create(mb,
          loc, "attn_cuda_read", FunctionType::get(b.getContext(), {idx, idx, b.getI64Type()}, {}));
      decl.setPrivate();
    }
    auto md = memref::ExtractStridedMetadataOp::create(b, loc, load.getMemref());
    Value lin = md.getOffset();
    for (auto [i, v] : llvm::enumerate(load.getIndices()))
      lin = arith::AddIOp::create(b, loc, lin, arith::MulIOp::create(b, loc, v, md.getStrides()[i]));
    Value base = memref::ExtractAlignedPointerAsIndexOp::create(b, loc, load.getMemref());
    Value src = arith::AddIOp::create(b,
        loc, base, arith::MulIOp::create(b, loc, lin, arith::ConstantIndexOp::create(b, loc, bytes)));
    Value tmp = memref::AllocaOp::create(b, loc, MemRefType::get({}, et));
    Value dst = memref::ExtractAlignedPointerAsIndexOp::create(b, loc, tmp);
    func::CallOp::create(b, loc, "attn_cuda_read", TypeRange{},
                           ValueRange{dst, src, arith::ConstantIntOp::create(b, loc, bytes, 64)});
    Value v = memref::LoadOp::create(b, loc, tmp, ValueRange{});
    load.replaceAllUsesWith(v);
    load.erase();
  }

  /// Runs a sequential loop nest touching tensor data in one GPU thread.
  void wrapSequential(Operation *op) {
    OpBuilder b(op);
    Location loc = op->getLoc();
    Value c1 = arith::ConstantIndexOp::create(b, loc, 1);
    gpu::LaunchOp launch = createLaunch(b, loc, c1, 1, "serial");
    Block &body = launch.getBody().front();
    b.setInsertionPointToStart(&body);
    gpu::TerminatorOp::create(b, loc);
    op->moveBefore(&body.back());
  }

  void runOnOperation() override {
    func::FuncOp fn = getOperation();
    SmallVector<scf::ParallelOp> loops;
    fn.walk<WalkOrder::PreOrder>([&](Operation *op) {
      if (isa<gpu::LaunchOp>(op))
        return WalkResult::skip();
      if (auto p = dyn_cast<scf::ParallelOp>(op)) {
        loops.push_back(p);
        return WalkResult::skip();
      }
      return WalkResult::advance();
    });
    for (scf::ParallelOp loop : loops)
      if (failed(mapParallel(loop)))
        return signalPassFailure();

    // Sequential loop nests (no results) that touch tensor data.
    SmallVector<scf::ForOp> serial;
    fn.walk<WalkOrder::PreOrder>([&](Operation *op) {
      if (isa<gpu::LaunchOp>(op))
        return WalkResult::skip();
      if (auto f = dyn_cast<scf::ForOp>(op)) {
        bool touches = false;
        f.walk([&](Operation *inner) { touches |= touchesTensorData(inner); });
        if (touches && f.getNumResults() == 0) {
          serial.push_back(f);
          return WalkResult::skip();
        }
      }
      return WalkResult::advance();
    });
    for (scf::ForOp f : serial)
      wrapSequential(f);

    // What host code still reads of tensor data is what it needs on the
    // host (shape entries of dynamic models, the index-check status): read
    // from the device (the runtime synchronizes the stream). What it still
    // writes (shape tensors built from dims) is written by a 1-thread kernel.
    SmallVector<memref::LoadOp> loads;
    SmallVector<memref::StoreOp> stores;
    fn.walk<WalkOrder::PreOrder>([&](Operation *op) {
      if (isa<gpu::LaunchOp>(op))
        return WalkResult::skip();
      if (auto l = dyn_cast<memref::LoadOp>(op); l && !isHostScratch(l.getMemref()))
        loads.push_back(l);
      if (auto st = dyn_cast<memref::StoreOp>(op); st && !isHostScratch(st.getMemref()))
        stores.push_back(st);
      return WalkResult::advance();
    });
    for (memref::LoadOp l : loads)
      readOnHost(l);
    for (memref::StoreOp st : stores)
      wrapSequential(st);

    // Whatever still reads or writes tensor data on the host is an error.
    bool failedAny = false;
    fn.walk<WalkOrder::PreOrder>([&](Operation *op) {
      if (isa<gpu::LaunchOp>(op))
        return WalkResult::skip();
      if (touchesTensorData(op) && !isa<func::CallOp>(op)) {
        op->emitError("'")
            << op->getName()
            << "' would compute on the host: this op cannot be lowered for --target=cuda";
        failedAny = true;
      }
      return WalkResult::advance();
    });
    if (failedAny)
      signalPassFailure();
    (void)insideKernel;
  }
};

} // namespace
