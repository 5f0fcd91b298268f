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
// A and B both f16 (or both bf16) go to tensor cores instead: 4 warps (2 x 2)
// of 32 x 32 per 64 x 64 tile, 32-deep A and B^T tiles in shared memory as
// the element type (rows padded to 40: conflict-free fragment loads),
// 2 x 4 mma.sync m16n8k16 accumulators (f32) per warp and 16-deep step
// (fragment layouts: Mma.h).
//
//===----------------------------------------------------------------------===//
#include "Mma.h"
#include "attn/Compiler/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

namespace mlir::attn {
#define GEN_PASS_DEF_GPUTILEMATMULPASS
#include "attn/Compiler/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
namespace mma = mlir::attn::mma;

namespace {

constexpr int64_t kTile = 64, kDepth = 16, kSide = 16, kPer = kTile / kSide; // 4 x 4 per thread

std::string matmulKernelName(Location loc, unsigned index) {
  std::string base;
  if (auto name = dyn_cast<NameLoc>(loc))
    base = name.getName().str();
  else if (auto fused = dyn_cast<FusedLoc>(loc))
    for (Location l : fused.getLocations())
      if (auto n = dyn_cast<NameLoc>(l)) {
        base = n.getName().str();
        break;
      }
  std::string out = "matmul_";
  for (char c : base)
    out += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  return out + "_" + std::to_string(index);
}

bool supported(Type t) { return t.isF32() || t.isF16() || t.isBF16(); }

LogicalResult tileTensorCore(linalg::MatmulOp op, unsigned index);

LogicalResult tile(linalg::MatmulOp op, unsigned index, bool tensorCores) {
  if (!op.hasPureBufferSemantics() || op.getNumDpsInputs() != 2)
    return failure();
  // Only the plain matmul (no transposed/broadcast indexing maps).
  if (op.getIndexingMapsArray() != op.getDefaultIndexingMaps(op.getContext()))
    return failure();
  Value A = op.getDpsInputs()[0], B = op.getDpsInputs()[1], C = op.getDpsInits()[0];
  auto at = dyn_cast<MemRefType>(A.getType()), bt = dyn_cast<MemRefType>(B.getType()),
       ct = dyn_cast<MemRefType>(C.getType());
  if (!at || !bt || !ct || !supported(at.getElementType()) || !supported(bt.getElementType()) ||
      !supported(ct.getElementType()))
    return failure();

  Type ae = at.getElementType();
  if (tensorCores && ae == bt.getElementType() && (ae.isF16() || ae.isBF16()))
    return tileTensorCore(op, index);

  OpBuilder b(op);
  Location loc = op.getLoc();
  Type f32 = b.getF32Type();
  auto idx = [&](int64_t v) -> Value { return b.create<arith::ConstantIndexOp>(loc, v); };
  auto add = [&](Value x, Value y) -> Value { return b.create<arith::AddIOp>(loc, x, y); };
  auto mul = [&](Value x, Value y) -> Value { return b.create<arith::MulIOp>(loc, x, y); };
  auto ult = [&](Value x, Value y) -> Value {
    return b.create<arith::CmpIOp>(loc, arith::CmpIPredicate::ult, x, y);
  };
  auto toF32 = [&](Value v) -> Value {
    return v.getType() == f32 ? v : b.create<arith::ExtFOp>(loc, f32, v).getResult();
  };
  Value M = b.create<memref::DimOp>(loc, A, 0), K = b.create<memref::DimOp>(loc, A, 1),
        N = b.create<memref::DimOp>(loc, B, 1);
  Value gx = b.create<arith::CeilDivUIOp>(loc, N, idx(kTile));
  Value gy = b.create<arith::CeilDivUIOp>(loc, M, idx(kTile));

  auto wg = gpu::AddressSpaceAttr::get(b.getContext(), gpu::AddressSpace::Workgroup);
  SmallVector<Type> attributions{
      MemRefType::get({kTile, kDepth + 1}, f32, MemRefLayoutAttrInterface(), wg),
      MemRefType::get({kDepth, kTile}, f32, MemRefLayoutAttrInterface(), wg)};
  auto launch = b.create<gpu::LaunchOp>(
      loc, gx, gy, idx(1), idx(kSide * kSide), idx(1), idx(1), Value(), Type(), ValueRange{},
      attributions, TypeRange{}, Value(), Value(), Value(),
      SymbolRefAttr::get(b.getContext(), "attn_kernels"),
      SymbolRefAttr::get(b.getContext(), matmulKernelName(loc, index)));
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(&launch.getBody().front());
    Value As = launch.getWorkgroupAttributions()[0], Bs = launch.getWorkgroupAttributions()[1];
    Value tid = launch.getThreadIds().x;
    Value tx = b.create<arith::RemUIOp>(loc, tid, idx(kSide)),
          ty = b.create<arith::DivUIOp>(loc, tid, idx(kSide));
    Value m0 = mul(launch.getBlockIds().y, idx(kTile)), n0 = mul(launch.getBlockIds().x, idx(kTile));
    Value zero = b.create<arith::ConstantOp>(loc, b.getF32FloatAttr(0.0f));

    SmallVector<Value> init(kPer * kPer, zero);
    auto loop = b.create<scf::ForOp>(loc, idx(0), K, idx(kDepth), init);
    {
      OpBuilder::InsertionGuard g2(b);
      b.setInsertionPointToStart(loop.getBody());
      Value k0 = loop.getInductionVar();
      // Stage: 4 elements of each tile per thread; zero outside A/B.
      auto guardedLoad = [&](Value src, Value r, Value c, Value rows, Value cols) -> Value {
        auto ifOp = b.create<scf::IfOp>(loc, TypeRange{f32},
                                        b.create<arith::AndIOp>(loc, ult(r, rows), ult(c, cols)),
                                        /*withElse=*/true);
        OpBuilder::InsertionGuard g3(b);
        b.setInsertionPointToStart(&ifOp.getThenRegion().front());
        b.create<scf::YieldOp>(loc, toF32(b.create<memref::LoadOp>(loc, src, ValueRange{r, c})));
        b.setInsertionPointToStart(&ifOp.getElseRegion().front());
        b.create<scf::YieldOp>(loc, zero);
        return ifOp.getResult(0);
      };
      for (int64_t l = 0; l < kTile * kDepth / (kSide * kSide); ++l) {
        Value e = add(tid, idx(l * kSide * kSide));
        Value ar = b.create<arith::DivUIOp>(loc, e, idx(kDepth)),
              ac = b.create<arith::RemUIOp>(loc, e, idx(kDepth));
        b.create<memref::StoreOp>(loc, guardedLoad(A, add(m0, ar), add(k0, ac), M, K), As,
                                  ValueRange{ar, ac});
        Value br = b.create<arith::DivUIOp>(loc, e, idx(kTile)),
              bc = b.create<arith::RemUIOp>(loc, e, idx(kTile));
        b.create<memref::StoreOp>(loc, guardedLoad(B, add(k0, br), add(n0, bc), K, N), Bs,
                                  ValueRange{br, bc});
      }
      b.create<gpu::BarrierOp>(loc);
      SmallVector<Value> acc(loop.getRegionIterArgs().begin(), loop.getRegionIterArgs().end());
      for (int64_t kk = 0; kk < kDepth; ++kk) {
        SmallVector<Value> av, bv;
        for (int64_t i = 0; i < kPer; ++i)
          av.push_back(b.create<memref::LoadOp>(loc, As,
                                                ValueRange{add(ty, idx(kSide * i)), idx(kk)}));
        for (int64_t j = 0; j < kPer; ++j)
          bv.push_back(b.create<memref::LoadOp>(loc, Bs,
                                                ValueRange{idx(kk), add(tx, idx(kSide * j))}));
        for (int64_t i = 0; i < kPer; ++i)
          for (int64_t j = 0; j < kPer; ++j)
            acc[i * kPer + j] = b.create<math::FmaOp>(loc, av[i], bv[j], acc[i * kPer + j]);
      }
      b.create<gpu::BarrierOp>(loc);
      b.create<scf::YieldOp>(loc, acc);
    }
    // C += acc inside C.
    Type ce = ct.getElementType();
    for (int64_t i = 0; i < kPer; ++i)
      for (int64_t j = 0; j < kPer; ++j) {
        Value r = add(m0, add(ty, idx(kSide * i))), c = add(n0, add(tx, idx(kSide * j)));
        auto ifOp = b.create<scf::IfOp>(loc, b.create<arith::AndIOp>(loc, ult(r, M), ult(c, N)),
                                        /*withElse=*/false);
        OpBuilder::InsertionGuard g3(b);
        b.setInsertionPointToStart(&ifOp.getThenRegion().front());
        Value old = toF32(b.create<memref::LoadOp>(loc, C, ValueRange{r, c}));
        Value v = b.create<arith::AddFOp>(loc, old, loop.getResult(i * kPer + j));
        if (ce != f32)
          v = b.create<arith::TruncFOp>(loc, ce, v);
        b.create<memref::StoreOp>(loc, v, C, ValueRange{r, c});
      }
    b.create<gpu::TerminatorOp>(loc);
  }
  op.erase();
  return success();
}

/// The tensor-core variant (A, B both f16 or both bf16).
LogicalResult tileTensorCore(linalg::MatmulOp op, unsigned index) {
  Value A = op.getDpsInputs()[0], B = op.getDpsInputs()[1], C = op.getDpsInits()[0];
  auto ct = cast<MemRefType>(C.getType());
  Type ht = cast<MemRefType>(A.getType()).getElementType();
  constexpr int64_t kDepthTc = 32, kPadTc = 8, kWarps = 4;
  OpBuilder b(op);
  Location loc = op.getLoc();
  Type f32 = b.getF32Type();
  auto idx = [&](int64_t v) -> Value { return b.create<arith::ConstantIndexOp>(loc, v); };
  auto add = [&](Value x, Value y) -> Value { return b.create<arith::AddIOp>(loc, x, y); };
  auto mul = [&](Value x, Value y) -> Value { return b.create<arith::MulIOp>(loc, x, y); };
  auto divu = [&](Value x, int64_t y) -> Value { return b.create<arith::DivUIOp>(loc, x, idx(y)); };
  auto remu = [&](Value x, int64_t y) -> Value { return b.create<arith::RemUIOp>(loc, x, idx(y)); };
  auto ult = [&](Value x, Value y) -> Value {
    return b.create<arith::CmpIOp>(loc, arith::CmpIPredicate::ult, x, y);
  };
  Value M = b.create<memref::DimOp>(loc, A, 0), K = b.create<memref::DimOp>(loc, A, 1),
        N = b.create<memref::DimOp>(loc, B, 1);
  Value gx = b.create<arith::CeilDivUIOp>(loc, N, idx(kTile));
  Value gy = b.create<arith::CeilDivUIOp>(loc, M, idx(kTile));
  auto wg = gpu::AddressSpaceAttr::get(b.getContext(), gpu::AddressSpace::Workgroup);
  SmallVector<Type> attributions{
      MemRefType::get({kTile, kDepthTc + kPadTc}, ht, MemRefLayoutAttrInterface(), wg),  // A
      MemRefType::get({kTile, kDepthTc + kPadTc}, ht, MemRefLayoutAttrInterface(), wg)}; // B^T
  auto launch = b.create<gpu::LaunchOp>(
      loc, gx, gy, idx(1), idx(32 * kWarps), idx(1), idx(1), Value(), Type(), ValueRange{},
      attributions, TypeRange{}, Value(), Value(), Value(),
      SymbolRefAttr::get(b.getContext(), "attn_kernels"),
      SymbolRefAttr::get(b.getContext(), "tc_" + matmulKernelName(loc, index)));
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(&launch.getBody().front());
    Value As = launch.getWorkgroupAttributions()[0], Bt = launch.getWorkgroupAttributions()[1];
    Value tid = launch.getThreadIds().x;
    Value warp = divu(tid, 32), lane = remu(tid, 32);
    Value g = divu(lane, 4), t2 = mul(remu(lane, 4), idx(2));
    Value wm = mul(divu(warp, 2), idx(32)), wn = mul(remu(warp, 2), idx(32));
    Value m0 = mul(launch.getBlockIds().y, idx(kTile)), n0 = mul(launch.getBlockIds().x, idx(kTile));
    Value zero = b.create<arith::ConstantOp>(loc, b.getF32FloatAttr(0.0f));
    Value hzero = b.create<arith::ConstantOp>(loc, b.getFloatAttr(ht, 0.0));

    SmallVector<Value> init(2 * 4 * 4, zero);
    auto loop = b.create<scf::ForOp>(loc, idx(0), K, idx(kDepthTc), init);
    {
      OpBuilder::InsertionGuard g2(b);
      b.setInsertionPointToStart(loop.getBody());
      Value k0 = loop.getInductionVar();
      auto guarded = [&](Value src, Value r, Value c, Value rows, Value cols) -> Value {
        auto ifOp = b.create<scf::IfOp>(loc, TypeRange{ht},
                                        b.create<arith::AndIOp>(loc, ult(r, rows), ult(c, cols)),
                                        /*withElse=*/true);
        OpBuilder::InsertionGuard g3(b);
        b.setInsertionPointToStart(&ifOp.getThenRegion().front());
        b.create<scf::YieldOp>(loc, b.create<memref::LoadOp>(loc, src, ValueRange{r, c}).getResult());
        b.setInsertionPointToStart(&ifOp.getElseRegion().front());
        b.create<scf::YieldOp>(loc, hzero);
        return ifOp.getResult(0);
      };
      // (A loop, not unrolled: the accumulators need the registers.)
      auto stage = b.create<scf::ForOp>(loc, tid, idx(kTile * kDepthTc), idx(32 * kWarps));
      {
        OpBuilder::InsertionGuard g4(b);
        b.setInsertionPointToStart(stage.getBody());
        Value e = stage.getInductionVar();
        Value ar = divu(e, kDepthTc), ac = remu(e, kDepthTc);
        b.create<memref::StoreOp>(loc, guarded(A, add(m0, ar), add(k0, ac), M, K), As,
                                  ValueRange{ar, ac});
        Value bk = divu(e, kTile), bn = remu(e, kTile);
        b.create<memref::StoreOp>(loc, guarded(B, add(k0, bk), add(n0, bn), K, N), Bt,
                                  ValueRange{bn, bk});
      }
      b.create<gpu::BarrierOp>(loc);
      auto iter = loop.getRegionIterArgs();
      SmallVector<mma::Acc> acc(8);
      for (int64_t i = 0; i < 32; ++i)
        acc[i / 4][i % 4] = iter[i];
      auto pair = [&](Value tile, Value r, Value k) { return mma::loadPair(b, loc, tile, r, k, ht); };
      for (int64_t ks = 0; ks < kDepthTc; ks += 16) {
        Value k = add(t2, idx(ks)), k8 = add(t2, idx(ks + 8));
        SmallVector<SmallVector<Value>> af, bf;
        for (int64_t mi = 0; mi < 2; ++mi) {
          Value r = add(wm, add(g, idx(mi * 16))), r8 = add(r, idx(8));
          af.push_back({pair(As, r, k), pair(As, r8, k), pair(As, r, k8), pair(As, r8, k8)});
        }
        for (int64_t ni = 0; ni < 4; ++ni) {
          Value n = add(wn, add(g, idx(ni * 8)));
          bf.push_back({pair(Bt, n, k), pair(Bt, n, k8)});
        }
        for (int64_t mi = 0; mi < 2; ++mi)
          for (int64_t ni = 0; ni < 4; ++ni)
            acc[mi * 4 + ni] = mma::mma(b, loc, af[mi], bf[ni], acc[mi * 4 + ni], ht);
      }
      b.create<gpu::BarrierOp>(loc);
      SmallVector<Value> yield;
      for (auto &a : acc)
        yield.append(a.begin(), a.end());
      b.create<scf::YieldOp>(loc, yield);
    }
    // C += acc inside C.
    Type ce = ct.getElementType();
    for (int64_t mi = 0; mi < 2; ++mi)
      for (int64_t ni = 0; ni < 4; ++ni)
        for (int64_t e = 0; e < 4; ++e) {
          Value r = add(m0, add(wm, add(g, idx(mi * 16 + 8 * (e / 2)))));
          Value c = add(n0, add(wn, add(t2, idx(ni * 8 + e % 2))));
          auto ifOp = b.create<scf::IfOp>(loc, b.create<arith::AndIOp>(loc, ult(r, M), ult(c, N)),
                                          /*withElse=*/false);
          OpBuilder::InsertionGuard g3(b);
          b.setInsertionPointToStart(&ifOp.getThenRegion().front());
          Value old = b.create<memref::LoadOp>(loc, C, ValueRange{r, c});
          if (old.getType() != f32)
            old = b.create<arith::ExtFOp>(loc, f32, old);
          Value v = b.create<arith::AddFOp>(loc, old, loop.getResult((mi * 4 + ni) * 4 + e));
          if (ce != f32)
            v = b.create<arith::TruncFOp>(loc, ce, v);
          b.create<memref::StoreOp>(loc, v, C, ValueRange{r, c});
        }
    b.create<gpu::TerminatorOp>(loc);
  }
  op.erase();
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
