//===- MatmulKernel.cpp - register-blocked f32 matmul (CPU) ---------------===//
//
// C[M, N] = A[M, K] · B[K, N] for Linear layers, written directly with vector
// ops so that the inner loop is an MR x (NR·VW) tile of FMAs whose
// accumulators stay in registers:
//
//   forall (M block, N block):                  // OpenMP tasks
//     for n0 in N block step NR·VW:             // B panel reused from cache
//       for m0 in M block step MR:
//         acc[MR][NR] = 0
//         for k: b_j = B[k, n0 + j·VW]; a_i = broadcast A[m0+i, k]
//                acc[i][j] = fma(a_i, b_j, acc[i][j])
//         C[m0.., n0..] = acc                   // rows past M are not stored
//
//===----------------------------------------------------------------------===//
#include "MatmulKernel.h"
#include "LoweringUtils.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

using namespace mlir;
using namespace mlir::attn;

namespace {
constexpr int64_t kMR = 6;
constexpr int64_t kNR = 2;
constexpr int64_t kMBlock = 24; // rows per task (multiple of kMR)
constexpr int64_t kNBlockVectors = 16; // columns per task = 16 vectors
constexpr int64_t kPackMinRows = 192;  // pack B only for at least this many rows
} // namespace

bool attn::canUseMatmulKernel(RankedTensorType a, RankedTensorType b,
                              int64_t vectorWidth) {
  if (vectorWidth <= 0 || a.getRank() != 2 || b.getRank() != 2)
    return false;
  if (!a.getElementType().isF32() || !b.getElementType().isF32())
    return false;
  // K and N static (weights); N a multiple of the register tile width.
  return !b.isDynamicDim(0) && !b.isDynamicDim(1) &&
         b.getDimSize(1) % (kNR * vectorWidth) == 0;
}

static MemRefType dynStrided(MLIRContext *ctx, ArrayRef<int64_t> shape, Type et) {
  SmallVector<int64_t> strides(shape.size(), ShapedType::kDynamic);
  return MemRefType::get(shape, et,
                         StridedLayoutAttr::get(ctx, ShapedType::kDynamic, strides));
}

Value attn::buildMatmulKernel(OpBuilder &b, Location loc, Value A, Value B,
                              int64_t vectorWidth) {
  MLIRContext *ctx = b.getContext();
  auto at = cast<RankedTensorType>(A.getType());
  auto bt = cast<RankedTensorType>(B.getType());
  Type f32 = b.getF32Type();
  int64_t VW = vectorWidth, N = bt.getDimSize(1), K = bt.getDimSize(0);
  auto vecT = VectorType::get({VW}, f32);
  auto cIdx = [&](int64_t v) { return b.create<arith::ConstantIndexOp>(loc, v).getResult(); };
  auto add = [&](Value x, Value y) { return b.create<arith::AddIOp>(loc, x, y).getResult(); };

  Value aBuf = b.create<bufferization::ToBufferOp>(
      loc, dynStrided(ctx, at.getShape(), f32), A, b.getUnitAttr());
  // B rows are read as vectors: its innermost stride must be 1.
  auto bBufType = MemRefType::get(
      bt.getShape(), f32,
      StridedLayoutAttr::get(ctx, ShapedType::kDynamic, {ShapedType::kDynamic, 1}));
  Value bBuf = b.create<bufferization::ToBufferOp>(loc, bBufType, B, b.getUnitAttr());
  Value M = at.isDynamicDim(0) ? b.create<tensor::DimOp>(loc, A, 0).getResult()
                               : cIdx(at.getDimSize(0));
  auto ct = RankedTensorType::get({at.getDimSize(0), N}, f32);
  SmallVector<Value> dyn;
  if (at.isDynamicDim(0))
    dyn.push_back(M);
  Value cBuf = b.create<memref::AllocOp>(loc, MemRefType::get(ct.getShape(), f32), dyn,
                                         b.getI64IntegerAttr(64));

  int64_t nBlock = std::min<int64_t>(N, kNBlockVectors * VW);
  // N is a multiple of kNR*VW; the last N block may be shorter.
  // Panels of B: [N / (NR·VW)][K][NR·VW]. With many rows, B is first packed
  // into that layout so that the k loop streams contiguous memory instead of
  // striding by N (one TLB page per k); with few rows the packing would cost
  // more than it saves and the kernel reads B in place through a strided
  // view of the same shape.
  int64_t panelW = kNR * VW, numPanels = N / panelW;
  auto panelType = MemRefType::get(
      {numPanels, K, panelW}, f32,
      StridedLayoutAttr::get(ctx, ShapedType::kDynamic,
                             {ShapedType::kDynamic, ShapedType::kDynamic, 1}));
  Value bPackedBuf = b.create<memref::AllocOp>(
      loc, MemRefType::get({numPanels, K, panelW}, f32), ValueRange{},
      b.getI64IntegerAttr(64));
  Value doPack = b.create<arith::CmpIOp>(loc, arith::CmpIPredicate::uge, M,
                                         cIdx(kPackMinRows));
  {
    auto ifOp = b.create<scf::IfOp>(loc, doPack, /*withElse=*/false);
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPointToStart(&ifOp.getThenRegion().front());
    auto pack = b.create<scf::ForallOp>(
        loc, ArrayRef<OpFoldResult>{b.getIndexAttr(numPanels)}, ValueRange{}, std::nullopt);
    b.setInsertionPointToStart(pack.getBody());
    Value p = pack.getInductionVars()[0];
    Value col0 = b.create<arith::MulIOp>(loc, p, cIdx(panelW));
    auto kl = b.create<scf::ForOp>(loc, cIdx(0), cIdx(K), cIdx(1));
    b.setInsertionPointToStart(kl.getBody());
    for (int64_t j = 0; j < kNR; ++j) {
      Value v = b.create<vector::LoadOp>(loc, vecT, bBuf,
                                         ValueRange{kl.getInductionVar(), add(col0, cIdx(j * VW))});
      b.create<vector::StoreOp>(loc, v, bPackedBuf,
                                ValueRange{p, kl.getInductionVar(), cIdx(j * VW)});
    }
  }
  auto bMeta = b.create<memref::ExtractStridedMetadataOp>(loc, bBuf);
  Value inPlace = b.create<memref::ReinterpretCastOp>(
      loc, panelType, bMeta.getBaseBuffer(), OpFoldResult(bMeta.getOffset()),
      ArrayRef<OpFoldResult>{b.getIndexAttr(numPanels), b.getIndexAttr(K), b.getIndexAttr(panelW)},
      ArrayRef<OpFoldResult>{b.getIndexAttr(panelW), OpFoldResult(bMeta.getStrides()[0]),
                             b.getIndexAttr(1)});
  Value packedView = b.create<memref::CastOp>(loc, panelType, bPackedBuf);
  Value bPacked = b.create<arith::SelectOp>(loc, doPack, packedView, inPlace);
  Value numM = b.create<arith::CeilDivUIOp>(loc, M, cIdx(kMBlock));
  Value numN = cIdx((N + nBlock - 1) / nBlock);
  auto forall = b.create<scf::ForallOp>(
      loc, ArrayRef<OpFoldResult>{numM, numN}, ValueRange{}, std::nullopt);
  {
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPointToStart(forall.getBody());
    Value mb = b.create<arith::MulIOp>(loc, forall.getInductionVars()[0], cIdx(kMBlock));
    Value nb = b.create<arith::MulIOp>(loc, forall.getInductionVars()[1], cIdx(nBlock));
    Value mEnd = b.create<arith::MinUIOp>(loc, add(mb, cIdx(kMBlock)), M);
    Value nEnd = b.create<arith::MinUIOp>(loc, add(nb, cIdx(nBlock)), cIdx(N));
    Value mLast = b.create<arith::SubIOp>(loc, M, cIdx(1));
    auto nLoop = b.create<scf::ForOp>(loc, nb, nEnd, cIdx(kNR * VW));
    b.setInsertionPointToStart(nLoop.getBody());
    Value n0 = nLoop.getInductionVar();
    Value panel = b.create<arith::DivUIOp>(loc, n0, cIdx(kNR * VW));
    auto mLoop = b.create<scf::ForOp>(loc, mb, mEnd, cIdx(kMR));
    b.setInsertionPointToStart(mLoop.getBody());
    Value m0 = mLoop.getInductionVar();
    // Rows past the end repeat the last row (never stored): no masking in
    // the hot loop.
    SmallVector<Value> rows;
    for (int64_t i = 0; i < kMR; ++i)
      rows.push_back(b.create<arith::MinUIOp>(loc, add(m0, cIdx(i)), mLast));
    Value zero = b.create<arith::ConstantOp>(loc, DenseElementsAttr::get(vecT, b.getF32FloatAttr(0.0)));
    SmallVector<Value> init(kMR * kNR, zero);
    auto kLoop = b.create<scf::ForOp>(loc, cIdx(0), cIdx(K), cIdx(1), init);
    {
      OpBuilder::InsertionGuard g2(b);
      b.setInsertionPointToStart(kLoop.getBody());
      Value k = kLoop.getInductionVar();
      SmallVector<Value> bv, next;
      for (int64_t j = 0; j < kNR; ++j)
        bv.push_back(b.create<vector::LoadOp>(loc, vecT, bPacked, ValueRange{panel, k, cIdx(j * VW)}));
      for (int64_t i = 0; i < kMR; ++i) {
        Value a = b.create<vector::BroadcastOp>(
            loc, vecT, b.create<memref::LoadOp>(loc, aBuf, ValueRange{rows[i], k}));
        for (int64_t j = 0; j < kNR; ++j)
          next.push_back(b.create<vector::FMAOp>(loc, a, bv[j], kLoop.getRegionIterArgs()[i * kNR + j]));
      }
      b.create<scf::YieldOp>(loc, next);
    }
    for (int64_t i = 0; i < kMR; ++i) {
      Value row = add(m0, cIdx(i));
      Value valid = b.create<arith::CmpIOp>(loc, arith::CmpIPredicate::ult, row, M);
      auto ifOp = b.create<scf::IfOp>(loc, valid, /*withElse=*/false);
      OpBuilder::InsertionGuard g3(b);
      b.setInsertionPointToStart(&ifOp.getThenRegion().front());
      for (int64_t j = 0; j < kNR; ++j)
        b.create<vector::StoreOp>(loc, kLoop.getResult(i * kNR + j), cBuf,
                                  ValueRange{row, add(n0, cIdx(j * VW))});
    }
  }
  return b.create<bufferization::ToTensorOp>(loc, ct, cBuf, /*restrict=*/true,
                                             /*writable=*/true);
}
