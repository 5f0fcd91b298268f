//===- GpuParallelFlags.cpp - OR-reductions to a flag as parallel kernels -===//
//
// The index checks of Gather/GatherElements/GatherND (and any other
// linalg.generic that ORs a predicate of every element into a 0-d i1
// buffer) are full reductions: convert-linalg-to-parallel-loops makes them a
// sequential loop nest, which the GPU mapping can only run as a one-thread
// kernel: one thread walking every index of the batch, thousands of
// dependent global loads. Here such a generic becomes
//
//   scf.parallel (ivs) { if (pred(inputs[ivs])) flag[] = true }
//
// one thread per element (attn-gpu-map-parallel-loops). Every writer stores
// the same value, so the race is benign and needs no atomics; the flag's
// initial value (the generic's output before it) is kept.
//
//===----------------------------------------------------------------------===//
#include "attn/Compiler/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

namespace mlir::attn {
#define GEN_PASS_DEF_GPUPARALLELFLAGREDUCTIONSPASS
#include "attn/Compiler/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;

namespace {

/// The value ORed into the flag when `g` is `flag |= x` over all its loops
/// (x computed from the inputs only); null otherwise.
Value orredValue(linalg::GenericOp g) {
  if (!g.hasPureBufferSemantics() || g.getNumDpsInits() != 1 || g.getNumLoops() == 0 ||
      g.getNumReductionLoops() != g.getNumLoops())
    return {};
  auto ft = dyn_cast<MemRefType>(g.getDpsInits()[0].getType());
  if (!ft || ft.getRank() != 0 || !ft.getElementType().isInteger(1))
    return {};
  auto maps = g.getIndexingMapsArray();
  for (AffineMap m : ArrayRef<AffineMap>(maps).drop_back())
    for (AffineExpr e : m.getResults())
      if (!isa<AffineDimExpr, AffineConstantExpr>(e))
        return {};
  Block &body = g.getRegion().front();
  for (Operation &op : body.without_terminator())
    if (isa<linalg::IndexOp>(op) || !isMemoryEffectFree(&op) || op.getNumRegions())
      return {};
  Value flagArg = body.getArguments().back();
  auto ori = body.getTerminator()->getOperand(0).getDefiningOp<arith::OrIOp>();
  if (!ori)
    return {};
  Value x = ori.getLhs() == flagArg ? ori.getRhs() : ori.getRhs() == flagArg ? ori.getLhs() : Value();
  if (!x || x == flagArg)
    return {};
  // Every loop must be the dim of some input (its trip count).
  for (unsigned d = 0; d < g.getNumLoops(); ++d)
    if (llvm::none_of(ArrayRef<AffineMap>(maps).drop_back(),
                      [&](AffineMap m) {
                        return m.getResultPosition(getAffineDimExpr(d, g.getContext())).has_value();
                      }))
      return {};
  // x must not depend on the flag.
  SmallVector<Value> work{x};
  DenseSet<Value> seen;
  while (!work.empty()) {
    Value v = work.pop_back_val();
    if (v == flagArg)
      return {};
    if (!seen.insert(v).second)
      continue;
    if (Operation *d = v.getDefiningOp(); d && d->getBlock() == &body)
      work.append(d->operand_begin(), d->operand_end());
  }
  return x;
}

void parallelize(linalg::GenericOp g, Value x) {
  OpBuilder b(g);
  Location loc = g.getLoc();
  auto maps = g.getIndexingMapsArray();
  SmallVector<Value> lbs, ubs, steps;
  Value c0 = arith::ConstantIndexOp::create(b, loc, 0), c1 = arith::ConstantIndexOp::create(b, loc, 1);
  for (unsigned d = 0; d < g.getNumLoops(); ++d)
    for (auto [i, in] : llvm::enumerate(g.getDpsInputs()))
      if (auto k = maps[i].getResultPosition(b.getAffineDimExpr(d))) {
        lbs.push_back(c0);
        ubs.push_back(memref::DimOp::create(b, loc, in, *k));
        steps.push_back(c1);
        break;
      }
  Value flag = g.getDpsInits()[0];
  Block &body = g.getRegion().front();
  scf::ParallelOp::create(b, loc, lbs, ubs, steps, [&](OpBuilder &pb, Location l, ValueRange ivs) {
    IRMapping map;
    for (auto [i, in] : llvm::enumerate(g.getDpsInputs())) {
      SmallVector<Value> idx;
      for (AffineExpr e : maps[i].getResults())
        idx.push_back(isa<AffineDimExpr>(e)
                          ? ivs[cast<AffineDimExpr>(e).getPosition()]
                          : arith::ConstantIndexOp::create(pb, l, cast<AffineConstantExpr>(e).getValue())
                                .getResult());
      map.map(body.getArgument(i), memref::LoadOp::create(pb, l, in, idx));
    }
    for (Operation &op : body.without_terminator()) {
      if (op.getResults().size() == 1 && op.getResult(0) == body.getTerminator()->getOperand(0))
        continue; // the final OR
      pb.clone(op, map);
    }
    Value hit = map.lookupOrDefault(x);
    auto ifOp = scf::IfOp::create(pb, l, hit, /*withElseRegion=*/false);
    OpBuilder ib = OpBuilder::atBlockBegin(&ifOp.getThenRegion().front());
    Value t = arith::ConstantIntOp::create(ib, l, 1, 1);
    memref::StoreOp::create(ib, l, t, flag, ValueRange{});
  });
  g.erase();
}

struct GpuParallelFlagReductionsPass
    : attn::impl::GpuParallelFlagReductionsPassBase<GpuParallelFlagReductionsPass> {
  void runOnOperation() override {
    SmallVector<std::pair<linalg::GenericOp, Value>> todo;
    getOperation().walk([&](linalg::GenericOp g) {
      if (Value x = orredValue(g))
        todo.push_back({g, x});
    });
    for (auto [g, x] : todo)
      parallelize(g, x);
  }
};

} // namespace
