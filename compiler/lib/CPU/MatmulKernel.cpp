//===- MatmulKernel.cpp - register-blocked f32 matmul (CPU) ---------------===//
//
// C[M, N] = act(A[M, K] · B[K, N] + bias) for Linear layers, written directly
// with vector ops so that the inner loop is an MR x (NR·VW) tile of FMAs
// whose accumulators stay in registers:
//
//   forall (N block, M block):                  // OpenMP tasks, N outermost
//     for n0 in N block step NR·VW:             // one B panel, from cache
//       for m0 in M block step MR:
//         acc[MR][NR] = 0
//         for k: b_j = Bp[panel][k][j·VW]; a_i = broadcast A[m0+i, k]
//                acc[i][j] = fma(a_i, b_j, acc[i][j])
//         C[m0.., n0..] = act(acc + bias[n0..])  // rows past M not stored
//
// B is read as panels [N / (NR·VW)][K][NR·VW] so that the k loop streams
// contiguous memory. A constant B (the weights) is packed into that layout
// at compile time; a B computed at run time is packed by the kernel when
// there are enough rows to pay for it, and read in place through a strided
// view of the panel shape otherwise.
//
// The columns may be split into several results (merged Q/K/V projections):
// every N block lies inside one split, and the block index selects the
// split's output buffer and its column offset.
//
// Gated (SwiGLU, GeGLU): C[M, N/2] = act(A·B_gate + b_gate) * (A·B_up + b_up)
// with B = [B_gate | B_up]. A panel then holds one vector of gate columns and
// the same columns' up vector ([N/2 / VW][K][gate VW | up VW]), so the tile
// is MR x (gate, up) over one output vector: the same FMAs per loaded value
// as the plain tile, and the epilogue computes act(gate) * up on registers
// and stores the one vector. The [M, N] product never exists. A run-time B
// is always packed (its halves are N/2 apart).
//
//===----------------------------------------------------------------------===//
#include "CPU/MatmulKernel.h"
#include "Support/KernelRegion.h"
#include "Support/LoweringUtils.h"
#include "attn/Dialect/ConstantData.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

#include <cstring>

using namespace mlir;
using namespace mlir::attn;

namespace {
constexpr int64_t kMR = 6;
constexpr int64_t kNR = 2;
constexpr int64_t kMBlock = 24;        // rows per task (multiple of kMR)
constexpr int64_t kNBlockVectors = 16; // columns per task = 16 vectors
constexpr int64_t kPackMinRows = 192;  // pack a run-time B only for this many rows
constexpr int64_t kDecodeRows = 8;     // up to this many rows: the streaming kernel
constexpr int64_t kDecodeKBlock = 128; // k's per block of the 8-row streaming tiles
} // namespace

bool attn::canUseMatmulKernel(RankedTensorType a, RankedTensorType b,
                              ArrayRef<int64_t> splits, int64_t vectorWidth, bool gated,
                              bool bConstant) {
  if (vectorWidth <= 0 || a.getRank() != 2 || b.getRank() != 2)
    return false;
  if (!a.getElementType().isF32() || !b.getElementType().isF32())
    return false;
  if (b.isDynamicDim(0) || b.isDynamicDim(1))
    return false;
  int64_t panel = kNR * vectorWidth;
  if (gated) {
    // Output columns N/2, one vector per tile.
    if (b.getDimSize(1) % (2 * vectorWidth) != 0)
      return false;
    panel = vectorWidth;
  }
  if (splits.empty())
    return b.getDimSize(1) % panel == 0 || (bConstant && !gated && b.getDimSize(1) > 0);
  return llvm::all_of(splits, [&](int64_t n) { return n > 0 && n % panel == 0; });
}

static MemRefType dynStrided(MLIRContext *ctx, ArrayRef<int64_t> shape, Type et) {
  SmallVector<int64_t> strides(shape.size(), ShapedType::kDynamic);
  return MemRefType::get(shape, et,
                         StridedLayoutAttr::get(ctx, ShapedType::kDynamic, strides));
}

/// B [K, N] packed into panels [N / P][K][P] (compile time); gated: panel
/// p holds the gate columns [p·P/2, (p+1)·P/2) and then the same up columns
/// (N/2 further).
static Value packConstant(OpBuilder &b, Location loc, Value B, const ConstantBytes &bytes,
                          int64_t K, int64_t N, int64_t P, bool gated) {
  // Plain N off the panel width: the last panel's columns past N are zeros.
  int64_t numPanels = (N + P - 1) / P, half = P / 2;
  auto type = RankedTensorType::get({numPanels, K, P}, b.getF32Type());
  // Written straight into the blob: the largest weight (an lm_head) is not
  // staged in a second buffer.
  return createConstantFilled(
      b, loc, type, constantBlobName(B, (gated ? ".packed_gated" : ".packed") + std::to_string(P)),
      [&](MutableArrayRef<char> packed) {
        for (int64_t p = 0; p < numPanels; ++p)
          for (int64_t k = 0; k < K; ++k)
            for (int64_t j = 0; j < P; ++j) {
              int64_t col =
                  !gated ? p * P + j : j < half ? p * half + j : N / 2 + p * half + (j - half);
              char *dst = packed.data() + ((p * K + k) * P + j) * 4;
              if (col < N)
                std::memcpy(dst, bytes.element(k * N + col).data(), 4);
              else
                std::memset(dst, 0, 4);
            }
      });
}

SmallVector<Value> attn::buildMatmulKernel(OpBuilder &b, Location loc,
                                           const MatmulKernelArgs &args,
                                           int64_t vectorWidth) {
  MLIRContext *ctx = b.getContext();
  Value A = args.a, B = args.b;
  auto at = cast<RankedTensorType>(A.getType());
  auto bt = cast<RankedTensorType>(B.getType());
  Type f32 = b.getF32Type();
  int64_t VW = vectorWidth, N = bt.getDimSize(1), K = bt.getDimSize(0);
  bool gated = args.gated;
  // B's panels are always kNR vectors wide; the output columns per panel
  // are the same (plain) or one vector (gated: a gate and an up vector).
  // N off the panel width (plain, unsplit, constant B only): the packed
  // panels are zero-padded past N and every bias load / output store is
  // masked to the columns below N (only the last panel's are partial).
  int64_t panelW = kNR * VW, numPanels = (N + panelW - 1) / panelW;
  bool tail = N % panelW != 0;
  int64_t nOut = gated ? N / 2 : N, outPanelW = gated ? VW : panelW;
  auto vecT = VectorType::get({VW}, f32);
  auto cIdx = [&](int64_t v) { return arith::ConstantIndexOp::create(b, loc, v).getResult(); };
  auto add = [&](Value x, Value y) { return arith::AddIOp::create(b, loc, x, y).getResult(); };
  auto sub = [&](Value x, Value y) { return arith::SubIOp::create(b, loc, x, y).getResult(); };
  auto mul = [&](Value x, Value y) { return arith::MulIOp::create(b, loc, x, y).getResult(); };
  SmallVector<int64_t> splits(args.splits);
  if (splits.empty())
    splits.push_back(nOut);
  assert((!tail || (!gated && splits.size() == 1)) && "N tail: plain, unsplit only");
  // The lanes of the vector at output column `col` that are below N.
  auto colMask = [&](Value col) -> Value {
    Value valid = arith::MaxSIOp::create(b, loc, sub(cIdx(N), col), cIdx(0));
    return vector::CreateMaskOp::create(b, loc, VectorType::get({VW}, b.getI1Type()),
                                        ValueRange{valid});
  };
  Value zeroVec = tail ? arith::ConstantOp::create(b, loc, DenseElementsAttr::get(vecT, b.getF32FloatAttr(0.0))).getResult()
                       : Value();
  // Tail-aware bias load and output store at (global) column `col`: only
  // the vectors that reach past N (the last panel's) take the masked form;
  // every other vector branches to the plain load / store (masked stores
  // are slow, e.g. microcoded vmaskmovps on AMD).
  auto fullVector = [&](Value col) -> Value {
    return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ule, add(col, cIdx(VW)), cIdx(N));
  };
  auto loadBias = [&](Value buf, Value col) -> Value {
    if (!tail)
      return vector::LoadOp::create(b, loc, vecT, buf, ValueRange{col});
    auto ifOp = scf::IfOp::create(b, loc, TypeRange{vecT}, fullVector(col), /*withElse=*/true);
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPointToStart(&ifOp.getThenRegion().front());
    scf::YieldOp::create(b, loc, vector::LoadOp::create(b, loc, vecT, buf, ValueRange{col}).getResult());
    b.setInsertionPointToStart(&ifOp.getElseRegion().front());
    scf::YieldOp::create(
        b, loc,
        vector::MaskedLoadOp::create(b, loc, vecT, buf, ValueRange{col}, colMask(col), zeroVec)
            .getResult());
    return ifOp.getResult(0);
  };
  auto storeOut = [&](Value v, Value buf, Value row, Value col) {
    if (!tail) {
      vector::StoreOp::create(b, loc, v, buf, ValueRange{row, col});
      return;
    }
    auto ifOp = scf::IfOp::create(b, loc, fullVector(col), /*withElse=*/true);
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPointToStart(&ifOp.getThenRegion().front());
    vector::StoreOp::create(b, loc, v, buf, ValueRange{row, col});
    b.setInsertionPointToStart(&ifOp.getElseRegion().front());
    vector::MaskedStoreOp::create(b, loc, buf, ValueRange{row, col}, colMask(col), v);
  };

  Value aBuf = bufferization::ToBufferOp::create(b,
      loc, dynStrided(ctx, at.getShape(), f32), A, b.getUnitAttr());
  Value M = at.isDynamicDim(0) ? tensor::DimOp::create(b, loc, A, 0).getResult()
                               : cIdx(at.getDimSize(0));
  auto panelType = MemRefType::get(
      {numPanels, K, panelW}, f32,
      StridedLayoutAttr::get(ctx, ShapedType::kDynamic,
                             {ShapedType::kDynamic, ShapedType::kDynamic, 1}));

  // The B panels.
  Value bPacked;
  if (std::optional<ConstantBytes> bytes = getConstantBytes(B)) {
    // (In its own, contiguous layout: the kernel function's argument keeps
    // static strides.)
    Value packed = packConstant(b, loc, B, *bytes, K, N, panelW, gated);
    bPacked = bufferization::ToBufferOp::create(
        b, loc, MemRefType::get({numPanels, K, panelW}, f32), packed, b.getUnitAttr());
  } else {
    assert(!tail && "a run-time B needs N a multiple of the panel width");
    // B rows are read as vectors: its innermost stride must be 1.
    auto bBufType = MemRefType::get(
        bt.getShape(), f32,
        StridedLayoutAttr::get(ctx, ShapedType::kDynamic, {ShapedType::kDynamic, 1}));
    Value bBuf = bufferization::ToBufferOp::create(b, loc, bBufType, B, b.getUnitAttr());
    Value bPackedBuf = memref::AllocOp::create(b,
        loc, MemRefType::get({numPanels, K, panelW}, f32), ValueRange{},
        b.getI64IntegerAttr(64));
    // Gated: the halves are N/2 apart, no panel view of B in place.
    Value doPack = gated ? arith::ConstantIntOp::create(b, loc, 1, 1).getResult()
                         : arith::CmpIOp::create(b, loc, arith::CmpIPredicate::uge, M,
                                                 cIdx(kPackMinRows)).getResult();
    {
      auto ifOp = scf::IfOp::create(b, loc, doPack, /*withElse=*/false);
      OpBuilder::InsertionGuard g(b);
      b.setInsertionPointToStart(&ifOp.getThenRegion().front());
      auto pack = scf::ForallOp::create(b,
          loc, ArrayRef<OpFoldResult>{b.getIndexAttr(numPanels)}, ValueRange{}, std::nullopt);
      b.setInsertionPointToStart(pack.getBody());
      Value p = pack.getInductionVars()[0];
      Value col0 = mul(p, cIdx(outPanelW));
      auto kl = scf::ForOp::create(b, loc, cIdx(0), cIdx(K), cIdx(1));
      b.setInsertionPointToStart(kl.getBody());
      for (int64_t j = 0; j < kNR; ++j) {
        Value col = add(col0, cIdx(gated ? j * nOut : j * VW));
        Value v = vector::LoadOp::create(b, loc, vecT, bBuf,
                                           ValueRange{kl.getInductionVar(), col});
        vector::StoreOp::create(b, loc, v, bPackedBuf,
                                  ValueRange{p, kl.getInductionVar(), cIdx(j * VW)});
      }
    }
    auto bMeta = memref::ExtractStridedMetadataOp::create(b, loc, bBuf);
    Value inPlace = memref::ReinterpretCastOp::create(b,
        loc, panelType, bMeta.getBaseBuffer(), OpFoldResult(bMeta.getOffset()),
        ArrayRef<OpFoldResult>{b.getIndexAttr(numPanels), b.getIndexAttr(K), b.getIndexAttr(panelW)},
        ArrayRef<OpFoldResult>{b.getIndexAttr(panelW), OpFoldResult(bMeta.getStrides()[0]),
                               b.getIndexAttr(1)});
    Value packedView = memref::CastOp::create(b, loc, panelType, bPackedBuf);
    bPacked = arith::SelectOp::create(b, loc, doPack, packedView, inPlace);
  }

  Value biasBuf;
  if (args.bias)
    biasBuf = bufferization::ToBufferOp::create(b,
        loc,
        MemRefType::get({N}, f32, StridedLayoutAttr::get(ctx, ShapedType::kDynamic, {1})),
        args.bias, b.getUnitAttr());

  // The kernel proper: a function shared by every linear layer of this
  // shape (KernelRegion.h); the packed weights are its argument.
  SmallVector<Type> resultTypes;
  for (int64_t n : splits)
    resultTypes.push_back(RankedTensorType::get({at.getDimSize(0), n}, f32));
  scf::ExecuteRegionOp region = openKernelRegion(b, loc, "matmul", resultTypes);
  if (bPacked.getType() != panelType)
    bPacked = memref::CastOp::create(b, loc, panelType, bPacked);

  // One output buffer per split; N blocks never straddle two splits.
  // (Gated: half the output columns per task, the same B bytes.)
  int64_t nBlock = (gated ? kNBlockVectors / 2 : kNBlockVectors) * VW;
  SmallVector<Value> outBufs, outViews;
  SmallVector<int64_t> firstBlock, colOffset;
  int64_t blocks = 0, col = 0;
  SmallVector<Value> dyn;
  if (at.isDynamicDim(0))
    dyn.push_back(M);
  auto viewType = MemRefType::get({ShapedType::kDynamic, ShapedType::kDynamic}, f32);
  for (int64_t n : splits) {
    Value buf = memref::AllocOp::create(b, loc, MemRefType::get({at.getDimSize(0), n}, f32), dyn,
                                          b.getI64IntegerAttr(64));
    outBufs.push_back(buf);
    outViews.push_back(memref::CastOp::create(b, loc, viewType, buf));
    firstBlock.push_back(blocks);
    colOffset.push_back(col);
    blocks += (n + nBlock - 1) / nBlock;
    col += n;
  }

  // Decode (1..kDecodeRows rows, decided at run time): a streaming
  // matrix-vector kernel. One task per B panel (kNR·VW columns; gated: VW
  // outputs), so every thread streams its share of the packed weights once;
  // the rows are register tiles of R rows x kNR vectors (see rowTile and
  // twoTiles below), bias/activation/gate applied on registers as in the
  // blocked kernel.
  // (1 <= M <= kDecodeRows as one unsigned compare: M = 0 takes the blocked
  // kernel, which runs no task.)
  auto decodeIf = scf::IfOp::create(
      b, loc,
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ule, sub(M, cIdx(1)),
                            cIdx(kDecodeRows - 1)),
      /*withElseRegion=*/true);
  {
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPointToStart(&decodeIf.getThenRegion().front());
    auto forall = scf::ForallOp::create(b, loc, ArrayRef<OpFoldResult>{cIdx(numPanels)},
                                        ValueRange{}, std::nullopt);
    forall->setAttr("attn.streaming_gemv", b.getUnitAttr());
    b.setInsertionPointToStart(forall.getBody());
    Value panel = forall.getInductionVars()[0];
    Value n0 = mul(panel, cIdx(outPanelW)); // first output column (all of N)
    Value split = cIdx(0);
    for (size_t s = 1; s < splits.size(); ++s)
      split = arith::SelectOp::create(b, loc,
          arith::CmpIOp::create(b, loc, arith::CmpIPredicate::uge, n0, cIdx(colOffset[s])),
          cIdx(s), split);
    auto perSplit = [&](auto valueOf) {
      Value v = valueOf(0);
      for (size_t s = 1; s < splits.size(); ++s)
        v = arith::SelectOp::create(b,
            loc, arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, split, cIdx(s)),
            valueOf(s), v);
      return v;
    };
    Value out = perSplit([&](size_t s) { return outViews[s]; });
    Value outCol = sub(n0, perSplit([&](size_t s) { return cIdx(colOffset[s]); }));
    SmallVector<Value> biasVec;
    if (biasBuf)
      for (int64_t j = 0; j < kNR; ++j)
        biasVec.push_back(loadBias(biasBuf, add(n0, cIdx(gated ? j * nOut : j * VW))));
    Value mLast = sub(M, cIdx(1));
    Value zero = arith::ConstantOp::create(b, loc, DenseElementsAttr::get(vecT, b.getF32FloatAttr(0.0)));
    // The rows of an R-row tile at m0 (rows past M repeat the last one).
    auto tileRows = [&](int64_t R, Value m0) {
      SmallVector<Value> rows;
      for (int64_t i = 0; i < R; ++i)
        rows.push_back(arith::MinUIOp::create(b, loc, add(m0, cIdx(i)), mLast));
      return rows;
    };
    // acc[u·R·kNR + i·kNR + j] += A[rows[i], k] · B[panel, k, j·VW..] for k
    // in [lo, hi) step `sets`, accumulator set u on k + u.
    auto kLoop = [&](Value lo, Value hi, ArrayRef<Value> rows, int64_t sets,
                     SmallVector<Value> init) {
      int64_t R = rows.size(), nAcc = R * kNR;
      auto loop = scf::ForOp::create(b, loc, lo, hi, cIdx(sets), init);
      OpBuilder::InsertionGuard g2(b);
      b.setInsertionPointToStart(loop.getBody());
      SmallVector<Value> next(loop.getRegionIterArgs());
      for (int64_t u = 0; u < sets; ++u) {
        Value k = add(loop.getInductionVar(), cIdx(u));
        SmallVector<Value> bv;
        for (int64_t j = 0; j < kNR; ++j)
          bv.push_back(vector::LoadOp::create(b, loc, vecT, bPacked, ValueRange{panel, k, cIdx(j * VW)}));
        for (int64_t i = 0; i < R; ++i) {
          Value a = vector::BroadcastOp::create(b,
              loc, vecT, memref::LoadOp::create(b, loc, aBuf, ValueRange{rows[i], k}));
          for (int64_t j = 0; j < kNR; ++j) {
            int64_t x = u * nAcc + i * kNR + j;
            next[x] = vector::FMAOp::create(b, loc, a, bv[j], next[x]);
          }
        }
      }
      scf::YieldOp::create(b, loc, next);
      return SmallVector<Value>(loop.getResults());
    };
    // Bias, activation (gate), store of tile rows m0 + i below M.
    auto epilogue = [&](Value m0, ArrayRef<Value> sum) {
      int64_t R = sum.size() / kNR;
      for (int64_t i = 0; i < R; ++i) {
        Value row = add(m0, cIdx(i));
        Value valid = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, row, M);
        auto ifOp = scf::IfOp::create(b, loc, valid, /*withElse=*/false);
        OpBuilder::InsertionGuard g3(b);
        b.setInsertionPointToStart(&ifOp.getThenRegion().front());
        SmallVector<Value> vs;
        for (int64_t j = 0; j < kNR; ++j) {
          Value v = sum[i * kNR + j];
          if (biasBuf)
            v = arith::AddFOp::create(b, loc, v, biasVec[j]);
          vs.push_back(v);
        }
        if (gated) {
          Value v = arith::MulFOp::create(b, loc, applyActivation(b, loc, vs[0], args.activation), vs[1]);
          vector::StoreOp::create(b, loc, v, out, ValueRange{row, outCol});
          continue;
        }
        for (int64_t j = 0; j < kNR; ++j)
          storeOut(applyActivation(b, loc, vs[j], args.activation), out, row, add(outCol, cIdx(j * VW)));
      }
    };
    // One tile of R = 1, 2 or 4 rows at m0: R·kNR·(4/R) = 8 accumulators
    // (with fewer rows, 4/R sets over alternating k keep the FMA chains
    // short).
    auto rowTile = [&](int64_t R, Value m0) {
      int64_t U = 4 / R, nAcc = R * kNR;
      SmallVector<Value> rows = tileRows(R, m0);
      int64_t kMain = K / U * U;
      SmallVector<Value> accs = kLoop(cIdx(0), cIdx(kMain), rows, U, SmallVector<Value>(U * nAcc, zero));
      SmallVector<Value> sum(accs.begin(), accs.begin() + nAcc);
      for (int64_t u = 1; u < U; ++u)
        for (int64_t x = 0; x < nAcc; ++x)
          sum[x] = arith::AddFOp::create(b, loc, sum[x], accs[u * nAcc + x]);
      if (kMain < K)
        sum = kLoop(cIdx(kMain), cIdx(K), rows, 1, sum);
      epilogue(m0, sum);
    };
    // 5..8 rows: two 4-row tiles over each block of kDecodeKBlock k's in
    // turn, so the panel is streamed from memory once (the second tile
    // reads the block from L1) with 8 register accumulators per inner loop
    // (2 x 8 would not fit AVX2's 16 registers); the idle tile's
    // accumulators are carried by the outer loop.
    auto twoTiles = [&] {
      SmallVector<Value> rowsA = tileRows(4, cIdx(0)), rowsB = tileRows(4, cIdx(4));
      int64_t nAcc = 4 * kNR, kb = std::min<int64_t>(kDecodeKBlock, K);
      auto blockStep = [&](Value lo, Value hi, ValueRange accs) {
        SmallVector<Value> a = kLoop(lo, hi, rowsA, 1, SmallVector<Value>(accs.take_front(nAcc)));
        SmallVector<Value> c = kLoop(lo, hi, rowsB, 1, SmallVector<Value>(accs.drop_front(nAcc)));
        a.append(c.begin(), c.end());
        return a;
      };
      int64_t kMain = K / kb * kb;
      auto outer = scf::ForOp::create(b, loc, cIdx(0), cIdx(kMain), cIdx(kb),
                                      SmallVector<Value>(2 * nAcc, zero));
      {
        OpBuilder::InsertionGuard g2(b);
        b.setInsertionPointToStart(outer.getBody());
        Value lo = outer.getInductionVar();
        scf::YieldOp::create(b, loc, blockStep(lo, add(lo, cIdx(kb)), outer.getRegionIterArgs()));
      }
      SmallVector<Value> accs(outer.getResults());
      if (kMain < K)
        accs = blockStep(cIdx(kMain), cIdx(K), accs);
      epilogue(cIdx(0), ArrayRef<Value>(accs).take_front(nAcc));
      epilogue(cIdx(4), ArrayRef<Value>(accs).drop_front(nAcc));
    };
    // M = 1, 2: one tile; 3, 4: one 4-row tile; 5..8: two (rows past M
    // repeat the last one, never stored).
    auto cmpM = [&](arith::CmpIPredicate pred, int64_t v) {
      return arith::CmpIOp::create(b, loc, pred, M, cIdx(v)).getResult();
    };
    auto if1 = scf::IfOp::create(b, loc, cmpM(arith::CmpIPredicate::eq, 1), /*withElseRegion=*/true);
    b.setInsertionPointToStart(&if1.getThenRegion().front());
    rowTile(1, cIdx(0));
    b.setInsertionPointToStart(&if1.getElseRegion().front());
    auto if2 = scf::IfOp::create(b, loc, cmpM(arith::CmpIPredicate::eq, 2), /*withElseRegion=*/true);
    b.setInsertionPointToStart(&if2.getThenRegion().front());
    rowTile(2, cIdx(0));
    b.setInsertionPointToStart(&if2.getElseRegion().front());
    auto if4 = scf::IfOp::create(b, loc, cmpM(arith::CmpIPredicate::ule, 4), /*withElseRegion=*/true);
    b.setInsertionPointToStart(&if4.getThenRegion().front());
    rowTile(4, cIdx(0));
    b.setInsertionPointToStart(&if4.getElseRegion().front());
    static_assert(kDecodeRows == 8, "5..8 rows are two 4-row tiles");
    twoTiles();
  }
  // More rows: the blocked kernel (then back after decodeIf, below).
  b.setInsertionPointToStart(&decodeIf.getElseRegion().front());
  Value numM = arith::CeilDivUIOp::create(b, loc, M, cIdx(kMBlock));
  // N blocks outermost: OpenMP hands each thread a contiguous range of the
  // linearized (N block, M block) space, so a thread runs every M block of
  // one N block in turn and the block's B panels stay in its L2 (B is read
  // from memory once; the much smaller A is what is re-read). The other
  // order streamed the whole of B once per M block (a 98 MB lm_head 22
  // times at 512 rows).
  auto forall = scf::ForallOp::create(b,
      loc, ArrayRef<OpFoldResult>{cIdx(blocks), numM}, ValueRange{}, std::nullopt);
  {
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPointToStart(forall.getBody());
    Value blk = forall.getInductionVars()[0];
    // The block's split: a select chain over the (few) splits.
    Value split = cIdx(0);
    for (size_t s = 1; s < splits.size(); ++s)
      split = arith::SelectOp::create(b,
          loc, arith::CmpIOp::create(b, loc, arith::CmpIPredicate::uge, blk, cIdx(firstBlock[s])),
          cIdx(s), split);
    auto perSplit = [&](auto valueOf) {
      Value v = valueOf(0);
      for (size_t s = 1; s < splits.size(); ++s)
        v = arith::SelectOp::create(b,
            loc, arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, split, cIdx(s)),
            valueOf(s), v);
      return v;
    };
    Value out = perSplit([&](size_t s) { return outViews[s]; });
    Value offset = perSplit([&](size_t s) { return cIdx(colOffset[s]); });
    Value splitEnd = perSplit([&](size_t s) { return cIdx(colOffset[s] + splits[s]); });
    Value first = perSplit([&](size_t s) { return cIdx(firstBlock[s]); });

    Value mb = mul(forall.getInductionVars()[1], cIdx(kMBlock));
    Value nb = add(offset, mul(sub(blk, first), cIdx(nBlock)));
    Value mEnd = arith::MinUIOp::create(b, loc, add(mb, cIdx(kMBlock)), M);
    Value nEnd = arith::MinUIOp::create(b, loc, add(nb, cIdx(nBlock)), splitEnd);
    Value mLast = sub(M, cIdx(1));
    auto nLoop = scf::ForOp::create(b, loc, nb, nEnd, cIdx(outPanelW));
    b.setInsertionPointToStart(nLoop.getBody());
    Value n0 = nLoop.getInductionVar();
    Value panel = arith::DivUIOp::create(b, loc, n0, cIdx(outPanelW));
    Value outCol = sub(n0, offset);
    SmallVector<Value> biasVec;
    if (biasBuf)
      for (int64_t j = 0; j < kNR; ++j)
        biasVec.push_back(loadBias(biasBuf, add(n0, cIdx(gated ? j * nOut : j * VW))));
    auto mLoop = scf::ForOp::create(b, loc, mb, mEnd, cIdx(kMR));
    b.setInsertionPointToStart(mLoop.getBody());
    Value m0 = mLoop.getInductionVar();
    // Rows past the end repeat the last row (never stored): no masking in
    // the hot loop.
    SmallVector<Value> rows;
    for (int64_t i = 0; i < kMR; ++i)
      rows.push_back(arith::MinUIOp::create(b, loc, add(m0, cIdx(i)), mLast));
    Value zero = arith::ConstantOp::create(b, loc, DenseElementsAttr::get(vecT, b.getF32FloatAttr(0.0)));
    SmallVector<Value> init(kMR * kNR, zero);
    auto kLoop = scf::ForOp::create(b, loc, cIdx(0), cIdx(K), cIdx(1), init);
    {
      OpBuilder::InsertionGuard g2(b);
      b.setInsertionPointToStart(kLoop.getBody());
      Value k = kLoop.getInductionVar();
      SmallVector<Value> bv, next;
      for (int64_t j = 0; j < kNR; ++j)
        bv.push_back(vector::LoadOp::create(b, loc, vecT, bPacked, ValueRange{panel, k, cIdx(j * VW)}));
      for (int64_t i = 0; i < kMR; ++i) {
        Value a = vector::BroadcastOp::create(b,
            loc, vecT, memref::LoadOp::create(b, loc, aBuf, ValueRange{rows[i], k}));
        for (int64_t j = 0; j < kNR; ++j)
          next.push_back(vector::FMAOp::create(b, loc, a, bv[j], kLoop.getRegionIterArgs()[i * kNR + j]));
      }
      scf::YieldOp::create(b, loc, next);
    }
    // Epilogue on registers: bias, activation, store.
    for (int64_t i = 0; i < kMR; ++i) {
      Value row = add(m0, cIdx(i));
      Value valid = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, row, M);
      auto ifOp = scf::IfOp::create(b, loc, valid, /*withElse=*/false);
      OpBuilder::InsertionGuard g3(b);
      b.setInsertionPointToStart(&ifOp.getThenRegion().front());
      SmallVector<Value> vs;
      for (int64_t j = 0; j < kNR; ++j) {
        Value v = kLoop.getResult(i * kNR + j);
        if (biasBuf)
          v = arith::AddFOp::create(b, loc, v, biasVec[j]);
        vs.push_back(v);
      }
      if (gated) {
        // act(gate) * up: one output vector.
        static_assert(kNR == 2, "the gated tile is one gate and one up vector");
        Value v = arith::MulFOp::create(b, loc, applyActivation(b, loc, vs[0], args.activation), vs[1]);
        vector::StoreOp::create(b, loc, v, out, ValueRange{row, outCol});
        continue;
      }
      for (int64_t j = 0; j < kNR; ++j) {
        Value v = applyActivation(b, loc, vs[j], args.activation);
        storeOut(v, out, row, add(outCol, cIdx(j * VW)));
      }
    }
  }
  b.setInsertionPointAfter(decodeIf);
  SmallVector<Value> results;
  for (auto [buf, t] : llvm::zip(outBufs, resultTypes))
    results.push_back(bufferization::ToTensorOp::create(b, loc, t, buf, /*restrict=*/true,
                                                        /*writable=*/true));
  return closeKernelRegion(b, region, results);
}
