//===- GpuTileMatmul.cpp - linalg.matmul on buffers -> a tiled GPU kernel -===//
//
// C += A B for linalg.matmul on memrefs ([M, K] x [K, N] -> [M, N], any
// strides; f32, f16 or bf16 operands, f32 accumulation): one thread block of
// 256 threads (16 x 16) per 64 x 64 tile of C,
//
//   acc[4][4] = 0                       // thread (ty, tx): rows ty + 16 i,
//   for k0 in [0, K) step 16:           //                  cols tx + 16 j
//     As[64][16] = A tile, Bs[16][64] = B tile (zero outside; shared, f32)
//     barrier
//     for kk < 16: acc[i][j] += As[ty + 16 i][kk] * Bs[kk][tx + 16 j]
//     barrier
//   C[r][c] += acc (rows/cols inside C)
//
// so every element of A and B is read from global memory once per tile
// instead of once per output (the one-thread-per-element loop nest that
// convert-linalg-to-parallel-loops would give). Rows of As are padded by one
// element so that the column reads of the 16 ty values do not conflict.
//
// The ops around the matmul that the linalg lowering of a Linear layer puts
// there are fused (`Epilogue`): a zero fill of C just before it is dropped
// (C = acc instead of C += acc), and an elementwise linalg.generic reading C
// just after it (bias, activation; any pure body) runs on the accumulators
// before the store, into the generic's output; C itself is then not written
// at all unless it is that output. One kernel per Linear layer instead of
// three.
//
// A and B both f16 (or both bf16) go to tensor cores instead: 4 warps (2 x 2)
// of 32 x 32 per 64 x 64 tile, 32-deep A and B^T tiles in shared memory as
// the element type (rows padded to 40: conflict-free fragment loads),
// 2 x 4 mma.sync m16n8k16 accumulators (f32) per warp and 16-deep step
// (fragment layouts: Mma.h).
//
//===----------------------------------------------------------------------===//
#include "GPU/KernelBuilder.h"
#include "GPU/Mma.h"
#include "attn/Compiler/Passes.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/Matchers.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

namespace mlir::attn {
#define GEN_PASS_DEF_GPUTILEMATMULPASS
#include "attn/Compiler/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
namespace mma = mlir::attn::mma;
using mlir::attn::gpukernel::KernelBuilder;

namespace {

constexpr int64_t kTile = 64, kDepth = 16, kSide = 16, kPer = kTile / kSide; // 4 x 4 per thread

bool supported(Type t) { return t.isF32() || t.isF16() || t.isBF16(); }

/// The fill and the elementwise consumer fused into a matmul's kernel.
struct Epilogue {
  linalg::FillOp zeroFill;   // C = 0 just before the matmul (dropped)
  linalg::GenericOp generic; // elementwise op reading C just after it
  unsigned cInput = 0;       // the generic's input that is C
  Value out;                 // where the kernel stores: C or the generic's output
};

/// The nearest op before/after `op` that may read or write memory (pure ops
/// and fresh allocations are skipped).
Operation *neighbour(Operation *op, bool after) {
  for (Operation *n = after ? op->getNextNode() : op->getPrevNode(); n;
       n = after ? n->getNextNode() : n->getPrevNode())
    if (!isMemoryEffectFree(n) && !isa<memref::AllocOp>(n))
      return n;
  return nullptr;
}

bool isZero(Value v) {
  FloatAttr f;
  return matchPattern(v, m_Constant(&f)) && f.getValue().isZero();
}

Epilogue findEpilogue(linalg::MatmulOp op) {
  Epilogue e;
  Value C = op.getDpsInits()[0];
  e.out = C;
  if (auto fill = dyn_cast_or_null<linalg::FillOp>(neighbour(op, false)))
    if (fill.hasPureBufferSemantics() && fill.getDpsInits()[0] == C && isZero(fill.getInputs()[0]))
      e.zeroFill = fill;

  auto g = dyn_cast_or_null<linalg::GenericOp>(neighbour(op, true));
  if (!g || !g.hasPureBufferSemantics() || g.getNumDpsInits() != 1 || g.getNumLoops() != 2 ||
      g.getNumReductionLoops() != 0)
    return e;
  Value D = g.getDpsInits()[0];
  auto maps = g.getIndexingMapsArray();
  if (!maps.back().isIdentity() || cast<MemRefType>(D.getType()).getRank() != 2)
    return e;
  // The body: pure scalar ops, no linalg.index; the output's old value only
  // when that output is C.
  Block &body = g.getRegion().front();
  for (Operation &inner : body.without_terminator())
    if (isa<linalg::IndexOp>(inner) || !isMemoryEffectFree(&inner) || inner.getNumRegions())
      return e;
  if (D != C && !body.getArguments().back().use_empty())
    return e;
  std::optional<unsigned> cInput;
  for (auto [i, in] : llvm::enumerate(g.getDpsInputs())) {
    if (in == C) {
      if (cInput || !maps[i].isIdentity())
        return e;
      cInput = i;
      continue;
    }
    // Other operands: dims of (row, col) or constants, and never the buffer
    // being written (unless read at the same element).
    for (AffineExpr r : maps[i].getResults())
      if (!isa<AffineDimExpr, AffineConstantExpr>(r))
        return e;
    if (in == D && !maps[i].isIdentity())
      return e;
  }
  if (!cInput)
    return e;
  // Written elsewhere: C must be a fresh buffer nobody else uses.
  if (D != C) {
    if (!C.getDefiningOp<memref::AllocOp>())
      return e;
    for (Operation *u : C.getUsers())
      if (u != op && u != g && u != e.zeroFill && !isa<memref::DeallocOp>(u))
        return e;
  }
  e.generic = g;
  e.cInput = *cInput;
  e.out = D;
  return e;
}

/// What both kernels share: the operands and sizes, the launch over the
/// 64 x 64 tiles of C, bounds-checked tile staging and C += acc.
struct MatmulTiler {
  linalg::MatmulOp op;
  unsigned index;
  Epilogue epi;
  OpBuilder b;
  Location loc;
  KernelBuilder h;
  Value A, B, C, M, K, N;

  // With a fused generic, the kernel goes where the generic was: everything
  // the generic reads is defined there, and what lies in between has no
  // memory effects.
  MatmulTiler(linalg::MatmulOp op, unsigned index, Epilogue epi)
      : op(op), index(index), epi(epi),
        b(epi.generic ? epi.generic.getOperation() : op.getOperation()), loc(op.getLoc()),
        h(b, loc) {
    A = op.getDpsInputs()[0], B = op.getDpsInputs()[1], C = op.getDpsInits()[0];
    M = memref::DimOp::create(b, loc, A, 0), K = memref::DimOp::create(b, loc, A, 1);
    N = memref::DimOp::create(b, loc, B, 1);
  }

  /// The launch (grid ceil(N/64) x ceil(M/64)), insertion point in its body.
  gpu::LaunchOp launch(int64_t threads, ArrayRef<Type> workgroup, StringRef prefix) {
    Value gx = arith::CeilDivUIOp::create(b, loc, N, h.idx(kTile));
    Value gy = arith::CeilDivUIOp::create(b, loc, M, h.idx(kTile));
    auto l = attn::gpukernel::createKernelLaunch(
        b, loc, gx, gy, threads, workgroup, attn::gpukernel::kernelName(loc, prefix, index));
    b.setInsertionPointToStart(&l.getBody().front());
    return l;
  }

  /// src[r][c] as type t (f32: widened) inside rows x cols, else `zero`.
  Value guardedLoad(Value src, Value r, Value c, Value rows, Value cols, Value zero) {
    auto ifOp = scf::IfOp::create(b, loc, TypeRange{zero.getType()},
                                    arith::AndIOp::create(b, loc, h.ult(r, rows), h.ult(c, cols)),
                                    /*withElse=*/true);
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPointToStart(&ifOp.getThenRegion().front());
    Value v = h.load(src, {r, c});
    scf::YieldOp::create(b, loc, zero.getType() == v.getType() ? v : h.toF32(v));
    b.setInsertionPointToStart(&ifOp.getElseRegion().front());
    scf::YieldOp::create(b, loc, zero);
    return ifOp.getResult(0);
  }

  /// C[r][c] += acc (f32; = acc after a zero fill) where (r, c) is inside C,
  /// then the fused generic's body on it, stored to its output.
  void accumulate(Value r, Value c, Value acc) {
    h.ifThen(arith::AndIOp::create(b, loc, h.ult(r, M), h.ult(c, N)), [&] {
      Value v = epi.zeroFill ? acc : h.fadd(h.toF32(h.load(C, {r, c})), acc);
      v = h.fromF32(v, cast<MemRefType>(C.getType()).getElementType());
      if (!epi.generic) {
        h.store(v, C, {r, c});
        return;
      }
      linalg::GenericOp g = epi.generic;
      Block &body = g.getRegion().front();
      auto maps = g.getIndexingMapsArray();
      IRMapping map;
      for (auto [i, in] : llvm::enumerate(g.getDpsInputs())) {
        if (i == epi.cInput) {
          map.map(body.getArgument(i), v);
          continue;
        }
        SmallVector<Value> idx;
        for (AffineExpr e : maps[i].getResults())
          idx.push_back(isa<AffineDimExpr>(e)
                            ? (cast<AffineDimExpr>(e).getPosition() == 0 ? r : c)
                            : h.idx(cast<AffineConstantExpr>(e).getValue()));
        map.map(body.getArgument(i), h.load(in, idx));
      }
      map.map(body.getArguments().back(), v); // used only when the output is C
      for (Operation &inner : body.without_terminator())
        b.clone(inner, map);
      Value y = map.lookupOrDefault(body.getTerminator()->getOperand(0));
      h.store(y, epi.out, {r, c});
    });
  }

  LogicalResult simt();
  LogicalResult tensorCore();
};

LogicalResult MatmulTiler::simt() {
  Type f32 = h.f32;
  auto wg = gpu::AddressSpaceAttr::get(b.getContext(), gpu::AddressSpace::Workgroup);
  SmallVector<Type> attributions{
      MemRefType::get({kTile, kDepth + 1}, f32, MemRefLayoutAttrInterface(), wg),
      MemRefType::get({kDepth, kTile}, f32, MemRefLayoutAttrInterface(), wg)};
  OpBuilder::InsertionGuard guard(b);
  gpu::LaunchOp l = launch(kSide * kSide, attributions, "matmul");
  Value As = l.getWorkgroupAttributions()[0], Bs = l.getWorkgroupAttributions()[1];
  Value tid = l.getThreadIds().x;
  Value tx = h.rem(tid, h.idx(kSide)), ty = h.div(tid, h.idx(kSide));
  Value m0 = h.mul(l.getBlockIds().y, h.idx(kTile)), n0 = h.mul(l.getBlockIds().x, h.idx(kTile));
  Value zero = h.f(0.0);

  SmallVector<Value> init(kPer * kPer, zero);
  auto loop = scf::ForOp::create(b, loc, h.idx(0), K, h.idx(kDepth), init);
  {
    OpBuilder::InsertionGuard g2(b);
    b.setInsertionPointToStart(loop.getBody());
    Value k0 = loop.getInductionVar();
    // Stage: 4 elements of each tile per thread; zero outside A/B.
    for (int64_t i = 0; i < kTile * kDepth / (kSide * kSide); ++i) {
      Value e = h.add(tid, h.idx(i * kSide * kSide));
      Value ar = h.div(e, h.idx(kDepth)), ac = h.rem(e, h.idx(kDepth));
      h.store(guardedLoad(A, h.add(m0, ar), h.add(k0, ac), M, K, zero), As, {ar, ac});
      Value br = h.div(e, h.idx(kTile)), bc = h.rem(e, h.idx(kTile));
      h.store(guardedLoad(B, h.add(k0, br), h.add(n0, bc), K, N, zero), Bs, {br, bc});
    }
    h.barrier();
    SmallVector<Value> acc(loop.getRegionIterArgs().begin(), loop.getRegionIterArgs().end());
    for (int64_t kk = 0; kk < kDepth; ++kk) {
      SmallVector<Value> av, bv;
      for (int64_t i = 0; i < kPer; ++i)
        av.push_back(h.load(As, {h.add(ty, h.idx(kSide * i)), h.idx(kk)}));
      for (int64_t j = 0; j < kPer; ++j)
        bv.push_back(h.load(Bs, {h.idx(kk), h.add(tx, h.idx(kSide * j))}));
      for (int64_t i = 0; i < kPer; ++i)
        for (int64_t j = 0; j < kPer; ++j)
          acc[i * kPer + j] = math::FmaOp::create(b, loc, av[i], bv[j], acc[i * kPer + j]);
    }
    h.barrier();
    scf::YieldOp::create(b, loc, acc);
  }
  for (int64_t i = 0; i < kPer; ++i)
    for (int64_t j = 0; j < kPer; ++j)
      accumulate(h.add(m0, h.add(ty, h.idx(kSide * i))), h.add(n0, h.add(tx, h.idx(kSide * j))),
                 loop.getResult(i * kPer + j));
  gpu::TerminatorOp::create(b, loc);
  return success();
}

/// The tensor-core variant (A, B both f16 or both bf16).
LogicalResult MatmulTiler::tensorCore() {
  Type ht = cast<MemRefType>(A.getType()).getElementType();
  constexpr int64_t kDepthTc = 32, kPadTc = 8, kWarps = 4;
  auto wg = gpu::AddressSpaceAttr::get(b.getContext(), gpu::AddressSpace::Workgroup);
  SmallVector<Type> attributions{
      MemRefType::get({kTile, kDepthTc + kPadTc}, ht, MemRefLayoutAttrInterface(), wg),  // A
      MemRefType::get({kTile, kDepthTc + kPadTc}, ht, MemRefLayoutAttrInterface(), wg)}; // B^T
  OpBuilder::InsertionGuard guard(b);
  gpu::LaunchOp l = launch(32 * kWarps, attributions, "tc_matmul");
  Value As = l.getWorkgroupAttributions()[0], Bt = l.getWorkgroupAttributions()[1];
  Value tid = l.getThreadIds().x;
  auto divu = [&](Value x, int64_t y) { return h.div(x, h.idx(y)); };
  auto remu = [&](Value x, int64_t y) { return h.rem(x, h.idx(y)); };
  Value warp = divu(tid, 32), lane = remu(tid, 32);
  Value g = divu(lane, 4), t2 = h.mul(remu(lane, 4), h.idx(2));
  Value wm = h.mul(divu(warp, 2), h.idx(32)), wn = h.mul(remu(warp, 2), h.idx(32));
  Value m0 = h.mul(l.getBlockIds().y, h.idx(kTile)), n0 = h.mul(l.getBlockIds().x, h.idx(kTile));
  Value zero = h.f(0.0);
  Value hzero = arith::ConstantOp::create(b, loc, b.getFloatAttr(ht, 0.0));

  SmallVector<Value> init(2 * 4 * 4, zero);
  auto loop = scf::ForOp::create(b, loc, h.idx(0), K, h.idx(kDepthTc), init);
  {
    OpBuilder::InsertionGuard g2(b);
    b.setInsertionPointToStart(loop.getBody());
    Value k0 = loop.getInductionVar();
    // (A loop, not unrolled: the accumulators need the registers.)
    h.loop(tid, h.idx(kTile * kDepthTc), h.idx(32 * kWarps), [&](Value e) {
      Value ar = divu(e, kDepthTc), ac = remu(e, kDepthTc);
      h.store(guardedLoad(A, h.add(m0, ar), h.add(k0, ac), M, K, hzero), As, {ar, ac});
      Value bk = divu(e, kTile), bn = remu(e, kTile);
      h.store(guardedLoad(B, h.add(k0, bk), h.add(n0, bn), K, N, hzero), Bt, {bn, bk});
    });
    h.barrier();
    auto iter = loop.getRegionIterArgs();
    SmallVector<mma::Acc> acc(8);
    for (int64_t i = 0; i < 32; ++i)
      acc[i / 4][i % 4] = iter[i];
    auto pair = [&](Value tile, Value r, Value k) { return mma::loadPair(b, loc, tile, r, k, ht); };
    for (int64_t ks = 0; ks < kDepthTc; ks += 16) {
      Value k = h.add(t2, h.idx(ks)), k8 = h.add(t2, h.idx(ks + 8));
      SmallVector<SmallVector<Value>> af, bf;
      for (int64_t mi = 0; mi < 2; ++mi) {
        Value r = h.add(wm, h.add(g, h.idx(mi * 16))), r8 = h.add(r, h.idx(8));
        af.push_back({pair(As, r, k), pair(As, r8, k), pair(As, r, k8), pair(As, r8, k8)});
      }
      for (int64_t ni = 0; ni < 4; ++ni) {
        Value n = h.add(wn, h.add(g, h.idx(ni * 8)));
        bf.push_back({pair(Bt, n, k), pair(Bt, n, k8)});
      }
      for (int64_t mi = 0; mi < 2; ++mi)
        for (int64_t ni = 0; ni < 4; ++ni)
          acc[mi * 4 + ni] = mma::mma(b, loc, af[mi], bf[ni], acc[mi * 4 + ni], ht);
    }
    h.barrier();
    SmallVector<Value> yield;
    for (auto &a : acc)
      yield.append(a.begin(), a.end());
    scf::YieldOp::create(b, loc, yield);
  }
  for (int64_t mi = 0; mi < 2; ++mi)
    for (int64_t ni = 0; ni < 4; ++ni)
      for (int64_t e = 0; e < 4; ++e)
        accumulate(h.add(m0, h.add(wm, h.add(g, h.idx(mi * 16 + 8 * (e / 2))))),
                   h.add(n0, h.add(wn, h.add(t2, h.idx(ni * 8 + e % 2)))),
                   loop.getResult((mi * 4 + ni) * 4 + e));
  gpu::TerminatorOp::create(b, loc);
  return success();
}

LogicalResult tile(linalg::MatmulOp op, unsigned index, bool tensorCores) {
  if (!op.hasPureBufferSemantics() || op.getNumDpsInputs() != 2)
    return failure();
  // Only the plain matmul (no transposed/broadcast indexing maps).
  if (op.getIndexingMapsArray() != op.getDefaultIndexingMaps(op.getContext()))
    return failure();
  auto at = dyn_cast<MemRefType>(op.getDpsInputs()[0].getType()),
       bt = dyn_cast<MemRefType>(op.getDpsInputs()[1].getType()),
       ct = dyn_cast<MemRefType>(op.getDpsInits()[0].getType());
  if (!at || !bt || !ct || !supported(at.getElementType()) || !supported(bt.getElementType()) ||
      !supported(ct.getElementType()))
    return failure();
  Type ae = at.getElementType();
  Epilogue epi = findEpilogue(op);
  MatmulTiler tiler(op, index, epi);
  if (failed(tensorCores && ae == bt.getElementType() && (ae.isF16() || ae.isBF16())
                 ? tiler.tensorCore()
                 : tiler.simt()))
    return failure();
  op.erase();
  if (epi.zeroFill)
    epi.zeroFill.erase();
  if (epi.generic)
    epi.generic.erase();
  return success();
}

struct GpuTileMatmulPass : attn::impl::GpuTileMatmulPassBase<GpuTileMatmulPass> {
  using Base::Base;
  void runOnOperation() override {
    SmallVector<linalg::MatmulOp> ops;
    getOperation().walk([&](linalg::MatmulOp op) { ops.push_back(op); });
    unsigned index = 0;
    for (linalg::MatmulOp op : ops)
      if (succeeded(tile(op, index, tensorCores)))
        ++index;
  }
};

} // namespace
