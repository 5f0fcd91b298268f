//===- AttentionKernel.cpp - register-blocked flash attention (CPU) -------===//
//
// The fast path of attn-lower-attention for f32 with static head dims: the
// flash loop nest written directly with vector ops on scratch buffers, so the
// hot loops are exactly the FMA micro-kernels we want:
//
//   forall batch... (one (batch, head) per task):
//     Kt = Kᵀ, Vp = V, zero-padded to a multiple of the key block  (O(S·D))
//     for each query block (BQ rows):
//       Qs = Q rows; m = -inf, l = 0, O = 0
//       for each key block (BK keys; causal: only up to the diagonal):
//         S  = Qs · Kt[:, blk]          MR x (NR·VW) register tiles, FMA
//         S' = scale/mask/causal/pad edits, row max, P = exp(S' - m'), row sum
//         O  = alpha O + P · Vp[blk]    MR x (NR·VW) register tiles, FMA
//       causal_fill: rows whose max is <= fill + 128 add the skipped keys
//         (after the band's last key block, and with a window before its first)
//       out rows = O / l                (nan_to_zero: 0 where l is 0 or NaN)
//
// Memory is O((S + BQ + BK)·D) per task, never S x S.
//
// Decode path (Sq <= 4 and the kv group's G·Sq rows fit one query block, K's
// head dim contiguous; chosen at run time): no Kᵀ pack. For each key block,
// each row's scores are VW keys at a time -- VW FMA chains over the head dim
// reading K rows in place, summed across lanes into one vector of VW scores
// by VW - 1 shuffle pairs (reduceRows) -- then the same edits and online
// softmax, and O += P · V one row at a time reading V rows in place. K and
// V are read once per kv group (its rows reread the block from L1).
//
// Flash-decoding (few rows, many keys): the keys of the band some row may see
// (causal: up to the last diagonal; window: from the first row's window
// start) are split into chunks across tasks, each leaving (m, l, O)
// partials that the task finishing an entry's last chunk merges. With
// causal_fill each chunk adds its own skipped keys (the first and the last
// chunk also those outside the band).
//
//===----------------------------------------------------------------------===//
#include "CPU/AttentionKernel.h"
#include "Support/RuntimeChecks.h"
#include "Support/KernelRegion.h"
#include "Support/LoweringUtils.h"
#include "Support/AttentionSemantics.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

using namespace mlir;
using namespace mlir::attn;

namespace {
constexpr int64_t kMR = 6;  // query rows per register tile
constexpr int64_t kNR = 2;  // vectors per register tile row

struct AttentionEmitter {
  OpBuilder &b;
  Location loc;
  AttentionOp op;
  const AttentionKernelOptions &opt;
  Type f32;
  VectorType vecT;

  AttentionEmitter(OpBuilder &b, AttentionOp op, const AttentionKernelOptions &opt)
      : b(b), loc(op.getLoc()), op(op), opt(opt), f32(b.getF32Type()),
        vecT(VectorType::get({opt.vectorWidth}, b.getF32Type())) {}

  Value cIdx(int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); }
  Value cF(double v) { return arith::ConstantOp::create(b, loc, b.getF32FloatAttr(v)); }
  Value splat(double v) {
    return arith::ConstantOp::create(b, loc, DenseElementsAttr::get(vecT, b.getF32FloatAttr(v)));
  }
  Value bcast(Value s) { return vector::BroadcastOp::create(b, loc, vecT, s); }
  Value minIdx(Value a, Value c) { return arith::MinUIOp::create(b, loc, a, c); }
  Value add(Value a, Value c) { return arith::AddIOp::create(b, loc, a, c); }
  Value mul(Value a, Value c) { return arith::MulIOp::create(b, loc, a, c); }

  MemRefType dynStrided(ArrayRef<int64_t> shape, Type et) {
    SmallVector<int64_t> strides(shape.size(), ShapedType::kDynamic);
    return MemRefType::get(shape, et,
                           StridedLayoutAttr::get(b.getContext(), ShapedType::kDynamic, strides));
  }

  /// A fully dynamic strided view of a tensor operand (read only).
  Value toBuffer(Value tensor) {
    auto t = cast<RankedTensorType>(tensor.getType());
    return bufferization::ToBufferOp::create(b,
        loc, dynStrided(t.getShape(), t.getElementType()), tensor, b.getUnitAttr());
  }

  /// Contiguous scratch buffer.
  Value alloc(ArrayRef<int64_t> shape, ValueRange dynSizes) {
    auto t = MemRefType::get(shape, f32);
    return memref::AllocOp::create(b, loc, t, dynSizes, b.getI64IntegerAttr(64));
  }

  /// scf.for with a body builder that uses `b` (insertion moves in and out).
  scf::ForOp forLoop(Value lb, Value ub, Value step, ValueRange init,
                     function_ref<SmallVector<Value>(Value, ValueRange)> body) {
    auto loop = scf::ForOp::create(b, loc, lb, ub, step, init);
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPointToStart(loop.getBody());
    SmallVector<Value> results = body(loop.getInductionVar(), loop.getRegionIterArgs());
    if (loop.getBody()->empty() || !isa<scf::YieldOp>(loop.getBody()->back()))
      scf::YieldOp::create(b, loc, results);
    else
      loop.getBody()->back().setOperands(results);
    return loop;
  }
  void forLoop(Value lb, Value ub, Value step, function_ref<void(Value)> body) {
    forLoop(lb, ub, step, ValueRange{}, [&](Value iv, ValueRange) {
      body(iv);
      return SmallVector<Value>{};
    });
  }

  /// 2-D view [rows, cols] of a rank-r strided buffer at the batch indices
  /// `ivs`, with per-dim strides `strides` (0 for broadcast dims).
  Value view2d(Value base, Value offset, ArrayRef<Value> strides, ArrayRef<Value> ivs,
               Value rows, Value cols, Type et) {
    int64_t nb = ivs.size();
    Value off = offset;
    for (int64_t i = 0; i < nb; ++i)
      off = add(off, mul(ivs[i], strides[i]));
    auto t = dynStrided({ShapedType::kDynamic, ShapedType::kDynamic}, et);
    return memref::ReinterpretCastOp::create(b,
        loc, t, base, OpFoldResult(off),
        ArrayRef<OpFoldResult>{rows, cols},
        ArrayRef<OpFoldResult>{strides[nb], strides[nb + 1]});
  }

  /// memref<?x?xT, strided<[?, 1], offset: ?>> (or rank 3: [?, ?, 1]).
  MemRefType contiguousRowsType(Type et, int64_t rank = 2) {
    SmallVector<int64_t> shape(rank, ShapedType::kDynamic), strides(rank, ShapedType::kDynamic);
    strides.back() = 1;
    return MemRefType::get(shape, et,
                           StridedLayoutAttr::get(b.getContext(), ShapedType::kDynamic, strides));
  }

  /// `view` (2-D or 3-D, dynamic strides) reinterpreted with unit inner stride.
  Value contiguousRows(Value view, Type et) {
    auto md = memref::ExtractStridedMetadataOp::create(b, loc, view);
    int64_t rank = cast<MemRefType>(view.getType()).getRank();
    auto t = contiguousRowsType(et, rank);
    SmallVector<OpFoldResult> sizes, strides;
    for (int64_t i = 0; i < rank; ++i) {
      sizes.push_back(md.getSizes()[i]);
      strides.push_back(i + 1 == rank ? OpFoldResult(b.getIndexAttr(1))
                                      : OpFoldResult(md.getStrides()[i]));
    }
    return memref::ReinterpretCastOp::create(b, loc, t, md.getBaseBuffer(),
                                             OpFoldResult(md.getOffset()), sizes, strides);
  }

  /// 3-D view [G, rows, cols] of a rank-r strided buffer: the G query heads
  /// of group `ivs[nb - 1]` (heads G·h .. G·h + G - 1; G = 1 and a stride-0
  /// first dim without batch dims) at the other batch indices `ivs`.
  Value view3d(Value base, Value offset, ArrayRef<Value> strides, ArrayRef<Value> ivs,
               int64_t G, Value rows, Value cols, Type et) {
    int64_t nb = ivs.size();
    Value off = offset;
    for (int64_t i = 0; i < nb; ++i) {
      Value idx = i == nb - 1 && G != 1 ? mul(ivs[i], cIdx(G)) : ivs[i];
      off = add(off, mul(idx, strides[i]));
    }
    auto t = dynStrided({ShapedType::kDynamic, ShapedType::kDynamic, ShapedType::kDynamic}, et);
    return memref::ReinterpretCastOp::create(b,
        loc, t, base, OpFoldResult(off),
        ArrayRef<OpFoldResult>{cIdx(G), rows, cols},
        ArrayRef<OpFoldResult>{nb ? strides[nb - 1] : cIdx(0), strides[nb], strides[nb + 1]});
  }

  /// The VW x VW transpose of `rows` (VW vectors) in registers: log2(VW)
  /// rounds of two-input shuffles; round h pairs rows i and i + h and swaps
  /// their off-diagonal h-blocks.
  SmallVector<Value> transposeRows(SmallVector<Value> rows) {
    int64_t vw = rows.size();
    for (int64_t h = vw / 2; h >= 1; h /= 2) {
      SmallVector<int64_t> lo, hi;
      for (int64_t l = 0; l < vw; ++l) {
        bool low = (l & h) == 0;
        lo.push_back(low ? l : vw + l - h);
        hi.push_back(low ? l + h : vw + l);
      }
      SmallVector<Value> next(rows);
      for (int64_t i = 0; i < vw; ++i) {
        if (i & h)
          continue;
        next[i] = vector::ShuffleOp::create(b, loc, rows[i], rows[i + h], lo);
        next[i + h] = vector::ShuffleOp::create(b, loc, rows[i], rows[i + h], hi);
      }
      rows = next;
    }
    return rows;
  }

  /// Kt = K transposed into panels of P = NR·VW keys, Kt[k / P][d][k % P] =
  /// K[k][d] (one register tile reads one contiguous panel): VW x VW blocks
  /// transposed in registers where K's head dim is contiguous, scalar
  /// copies for the rest (a plain loop here becomes scatters, the slowest
  /// thing on the machine).
  void transposeKeys(Value k2, Value kInnerStride, Value Sk, int64_t D, Value kt) {
    int64_t VW = vecT.getDimSize(0);
    Value c0 = cIdx(0), c1 = cIdx(1), cP = cIdx(kNR * VW);
    auto scalarCopy = [&](Value kFrom, Value kTo, int64_t dFrom) {
      forLoop(cIdx(dFrom), cIdx(D), c1, [&](Value d) {
        forLoop(kFrom, kTo, c1, [&](Value k) {
          Value p = arith::DivUIOp::create(b, loc, k, cP);
          Value j = arith::RemUIOp::create(b, loc, k, cP);
          memref::StoreOp::create(b, loc, memref::LoadOp::create(b, loc, k2, ValueRange{k, d}), kt,
                                    ValueRange{p, d, j});
        });
      });
    };
    Value unit = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, kInnerStride, c1);
    auto ifOp = scf::IfOp::create(b, loc, unit, /*withElseRegion=*/true);
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPointToStart(&ifOp.getThenRegion().front());
    Value kc = contiguousRows(k2, f32);
    Value fullK = mul(arith::DivUIOp::create(b, loc, Sk, cIdx(VW)), cIdx(VW));
    int64_t fullD = D / VW * VW;
    forLoop(c0, fullK, cIdx(VW), [&](Value k0) {
      Value p = arith::DivUIOp::create(b, loc, k0, cP);
      Value j0 = arith::RemUIOp::create(b, loc, k0, cP);
      for (int64_t d0 = 0; d0 < fullD; d0 += VW) {
        SmallVector<Value> rows;
        for (int64_t i = 0; i < VW; ++i)
          rows.push_back(vector::LoadOp::create(b, loc, vecT, kc, ValueRange{add(k0, cIdx(i)), cIdx(d0)}));
        SmallVector<Value> cols = transposeRows(rows);
        for (int64_t j = 0; j < VW; ++j)
          vector::StoreOp::create(b, loc, cols[j], kt, ValueRange{p, cIdx(d0 + j), j0});
      }
    });
    if (fullD < D)
      scalarCopy(c0, fullK, fullD);
    scalarCopy(fullK, Sk, 0);
    b.setInsertionPointToStart(&ifOp.getElseRegion().front());
    scalarCopy(c0, Sk, 0);
  }

  /// e^x for x <= 0 (what softmax takes: scores minus their row max; -inf
  /// for removed keys, which must give exactly 0) in 13 vector ops instead
  /// of the ~20 of the general approximation: 2^(x log2 e) = 2^n · 2^f,
  /// n = roundeven, f in [-1/2, 1/2], 2^f by a degree-5 polynomial (relative
  /// error 2.3e-7), 2^n built in the exponent bits; below 2^-127 the result
  /// is 0; NaN stays NaN. Works on scalars and vectors of f32.
  Value fastExp(Value x) {
    Type t = x.getType();
    Type it = isa<VectorType>(t) ? Type(VectorType::get(cast<VectorType>(t).getShape(), b.getI32Type()))
                                 : Type(b.getI32Type());
    auto c = [&](double v) { return createScalarConstant(b, loc, t, v); };
    auto ci = [&](int64_t v) { return createScalarConstant(b, loc, it, static_cast<double>(v)); };
    Value y = arith::MulFOp::create(b, loc, x, c(1.4426950408889634));
    Value lo = c(-127.0);
    y = arith::SelectOp::create(b,
        loc, arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OLT, y, lo), lo, y);
    Value n = math::RoundEvenOp::create(b, loc, y);
    Value f = arith::SubFOp::create(b, loc, y, n);
    const double coef[] = {1.0000001, 0.69314694, 0.2402212, 0.055507135, 0.009675541,
                           0.0013276464};
    Value p = c(coef[5]);
    for (int k = 4; k >= 0; --k)
      p = math::FmaOp::create(b, loc, p, f, c(coef[k]));
    Value e = arith::ShLIOp::create(b,
        loc, arith::AddIOp::create(b, loc, arith::FPToSIOp::create(b, loc, it, n), ci(127)), ci(23));
    return arith::MulFOp::create(b, loc, p, arith::BitcastOp::create(b, loc, t, e));
  }

  /// max(a, b) as one vmaxps: NaN scores need no special max, they make
  /// their row's weights NaN through exp anyway.
  Value maxF(Value x, Value y) {
    return arith::SelectOp::create(b,
        loc, arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGT, x, y), x, y);
  }

  /// scf.if yielding one value of `type` from each branch.
  Value ifElse(Value cond, Type type, function_ref<Value()> thenFn, function_ref<Value()> elseFn) {
    auto ifOp = scf::IfOp::create(b, loc, TypeRange{type}, cond, /*withElseRegion=*/true);
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPointToStart(&ifOp.getThenRegion().front());
    scf::YieldOp::create(b, loc, thenFn());
    b.setInsertionPointToStart(&ifOp.getElseRegion().front());
    scf::YieldOp::create(b, loc, elseFn());
    return ifOp.getResult(0);
  }

  /// The register tile both products use: acc[i][j] += bcast(scalar(i, r)) *
  /// vector(j, r) over r in [0, ub), starting from `init` (kMR x kNR vectors).
  scf::ForOp fmaTile(Value ub, ValueRange init,
                     function_ref<Value(int64_t j, Value r)> vector,
                     function_ref<Value(int64_t i, Value r)> scalar) {
    return forLoop(cIdx(0), ub, cIdx(1), init, [&](Value r, ValueRange a) {
      SmallVector<Value> vs, next;
      for (int64_t j = 0; j < kNR; ++j)
        vs.push_back(vector(j, r));
      for (int64_t i = 0; i < kMR; ++i) {
        Value x = bcast(scalar(i, r));
        for (int64_t j = 0; j < kNR; ++j)
          next.push_back(vector::FMAOp::create(b, loc, x, vs[j], a[i * kNR + j]));
      }
      return next;
    });
  }

  /// Stores a kMR x kNR tile at buf[row0 + i, col0 + j * VW].
  void storeTile(scf::ForOp tile, Value buf, Value row0, Value col0) {
    for (int64_t i = 0; i < kMR; ++i)
      for (int64_t j = 0; j < kNR; ++j)
        vector::StoreOp::create(b, loc, tile.getResult(i * kNR + j), buf,
                                  ValueRange{add(row0, cIdx(i)), add(col0, cIdx(j * vecT.getDimSize(0)))});
  }

  /// causal_fill: the keys [lo0, kBegin) (before a window's first key
  /// block) and [kEnd, hi1) were skipped and all score `fill` (lo0 <= kBegin
  /// <= kEnd <= hi1; unsplit: lo0 = 0, hi1 = Sk; a flash-decoding chunk: its
  /// own keys, the first chunk also those before the band, the last those
  /// after it). A row whose running max m reaches above fill + 128 gives them
  /// weights below e^-128 of its largest (0 in f32); the other rows (every
  /// visible key masked) take them in exactly: m' = max(m, fill), and
  /// (kBegin - lo0 + hi1 - kEnd) keys of weight exp(fill - m') with the sum
  /// of their values. `vFull` is V over all Sk keys (absolute key index),
  /// read with vector loads where its head dim is contiguous (`vUnit`).
  void addSkippedFillKeys(double fill, Value lo0, Value kBegin, Value kEnd, Value hi1, Value tq,
                          Value mBuf, Value lBuf, Value oBuf, Value vFull, Value vUnit, int64_t Dv) {
    Value c0 = cIdx(0), c1 = cIdx(1);
    int64_t VW = vecT.getDimSize(0);
    Value fillV = cF(fill);
    Value limit = cF(fill + 128.0);
    Value nBefore = arith::SubIOp::create(b, loc, kBegin, lo0);
    Value nAfter = arith::SubIOp::create(b, loc, hi1, kEnd);
    Value n = arith::AddIOp::create(b, loc, nBefore, nAfter);
    Value skipped = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ne, n, c0);
    Value count = arith::UIToFPOp::create(b,
        loc, f32, arith::IndexCastOp::create(b, loc, b.getI64Type(), n));
    Value vc = contiguousRows(vFull, f32);
    forLoop(c0, tq, c1, [&](Value q) {
      Value m = memref::LoadOp::create(b, loc, mBuf, ValueRange{q});
      Value low = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OLE, m, limit);
      auto ifOp = scf::IfOp::create(b, loc, arith::AndIOp::create(b, loc, low, skipped),
                                      /*withElseRegion=*/false);
      OpBuilder::InsertionGuard g(b);
      b.setInsertionPointToStart(&ifOp.getThenRegion().front());
      Value mNew = arith::MaximumFOp::create(b, loc, m, fillV);
      Value alpha = fastExp(arith::SubFOp::create(b, loc, m, mNew));
      Value w = fastExp(arith::SubFOp::create(b, loc, fillV, mNew));
      Value l = memref::LoadOp::create(b, loc, lBuf, ValueRange{q});
      memref::StoreOp::create(b,
          loc,
          arith::AddFOp::create(b, loc, arith::MulFOp::create(b, loc, l, alpha),
                                  arith::MulFOp::create(b, loc, count, w)),
          lBuf, ValueRange{q});
      memref::StoreOp::create(b, loc, mNew, mBuf, ValueRange{q});
      Value alphaV = bcast(alpha), wV = bcast(w);
      forLoop(c0, cIdx(Dv), cIdx(VW), [&](Value dv) {
        // One V row's lanes [dv, dv + VW): a vector load, or VW scalars
        // where the head dim is strided.
        auto row = [&](Value k) -> Value {
          return ifElse(
              vUnit, vecT,
              [&]() -> Value { return vector::LoadOp::create(b, loc, vecT, vc, ValueRange{k, dv}); },
              [&]() -> Value {
                SmallVector<Value> e;
                for (int64_t i = 0; i < VW; ++i)
                  e.push_back(memref::LoadOp::create(b, loc, vFull, ValueRange{k, add(dv, cIdx(i))}));
                return vector::FromElementsOp::create(b, loc, vecT, e);
              });
        };
        auto sumOver = [&](Value lo, Value hi, Value init) {
          return forLoop(lo, hi, c1, ValueRange{init}, [&](Value k, ValueRange a) {
                   return SmallVector<Value>{arith::AddFOp::create(b, loc, a[0], row(k))};
                 }).getResult(0);
        };
        Value sum = sumOver(kEnd, hi1, sumOver(lo0, kBegin, splat(0.0)));
        Value o = vector::LoadOp::create(b, loc, vecT, oBuf, ValueRange{q, dv});
        Value r = vector::FMAOp::create(b, loc, wV, sum,
                                          arith::MulFOp::create(b, loc, o, alphaV));
        vector::StoreOp::create(b, loc, r, oBuf, ValueRange{q, dv});
      });
    });
  }

  /// The sum over lanes of each of `rows` (VW vectors), as one vector: lane
  /// j = the sum of rows[j]. The transpose of transposeRows with the two
  /// halves of each pair added instead of kept: VW - 1 shuffle pairs and
  /// adds (a decode step's VW dot products in one vector).
  Value reduceRows(SmallVector<Value> rows) {
    int64_t vw = rows.size();
    for (int64_t h = vw / 2; h >= 1; h /= 2) {
      SmallVector<int64_t> lo, hi;
      for (int64_t l = 0; l < vw; ++l) {
        bool low = (l & h) == 0;
        lo.push_back(low ? l : vw + l - h);
        hi.push_back(low ? l + h : vw + l);
      }
      SmallVector<Value> next;
      for (int64_t i = 0; i < h; ++i) {
        Value x = vector::ShuffleOp::create(b, loc, rows[i], rows[i + h], lo);
        Value y = vector::ShuffleOp::create(b, loc, rows[i], rows[i + h], hi);
        next.push_back(arith::AddFOp::create(b, loc, x, y));
      }
      rows = next;
    }
    return rows[0];
  }

  /// The decode path's scores: sBuf[q, k] = Qs[q] · K[kbl + k] for the rows
  /// q < tq and keys k < kVecEnd (lanes past the chunk read its last key:
  /// they are removed by the edits). VW keys at a time: VW FMA chains over
  /// the head dim (Dp / VW vectors, a masked load for the last one when D is
  /// not a multiple of VW: Qs is zero there), then reduceRows.
  void decodeScores(Value kc, Value qs, Value sBuf, Value tq, Value kbl, Value kLenLast,
                    Value kVecEnd, int64_t D, int64_t Dp) {
    int64_t VW = vecT.getDimSize(0);
    Value c0 = cIdx(0), c1 = cIdx(1);
    Value tailMask;
    if (Dp != D) {
      SmallVector<bool> bits(VW, false);
      for (int64_t i = 0; i < D - (Dp - VW); ++i)
        bits[i] = true;
      tailMask = arith::ConstantOp::create(
          b, loc, DenseElementsAttr::get(VectorType::get({VW}, b.getI1Type()), ArrayRef<bool>(bits)));
    }
    forLoop(c0, tq, c1, [&](Value q) {
      forLoop(c0, kVecEnd, cIdx(VW), [&](Value k0) {
        SmallVector<Value> rows;
        for (int64_t j = 0; j < VW; ++j)
          rows.push_back(minIdx(add(kbl, add(k0, cIdx(j))), kLenLast));
        Value zero = splat(0.0);
        SmallVector<Value> acc(VW, zero);
        for (int64_t d = 0; d < Dp; d += VW) {
          Value cd = cIdx(d);
          Value qv = vector::LoadOp::create(b, loc, vecT, qs, ValueRange{q, cd});
          for (int64_t j = 0; j < VW; ++j) {
            Value kv = d + VW <= D
                           ? vector::LoadOp::create(b, loc, vecT, kc, ValueRange{rows[j], cd})
                                 .getResult()
                           : vector::MaskedLoadOp::create(b, loc, vecT, kc,
                                                          ValueRange{rows[j], cd}, tailMask, zero)
                                 .getResult();
            acc[j] = vector::FMAOp::create(b, loc, qv, kv, acc[j]);
          }
        }
        vector::StoreOp::create(b, loc, reduceRows(acc), sBuf, ValueRange{q, k0});
      });
    });
  }

  /// The decode path's O = alpha O + P · V[kbl : kbl + kValid] for the rows
  /// q < tq: one row's NV vectors of output in registers at a time (NV <= 8
  /// dividing Dv / VW), V rows read in place (vp has unit inner stride).
  void decodePV(Value vp, Value sBuf, Value oBuf, Value aBuf, Value tq, Value kbl, Value kValid,
                int64_t Dv) {
    int64_t VW = vecT.getDimSize(0);
    int64_t NV = Dv / VW;
    while (NV > 8)
      NV = NV % 2 == 0 ? NV / 2 : 1;
    while ((Dv / VW) % NV != 0)
      --NV;
    Value c0 = cIdx(0), c1 = cIdx(1);
    forLoop(c0, tq, c1, [&](Value q) {
      Value a = bcast(memref::LoadOp::create(b, loc, aBuf, ValueRange{q}));
      forLoop(c0, cIdx(Dv), cIdx(NV * VW), [&](Value dv0) {
        SmallVector<Value> init;
        for (int64_t j = 0; j < NV; ++j) {
          Value o = vector::LoadOp::create(b, loc, vecT, oBuf, ValueRange{q, add(dv0, cIdx(j * VW))});
          init.push_back(arith::MulFOp::create(b, loc, o, a));
        }
        auto acc = forLoop(c0, kValid, c1, init, [&](Value k, ValueRange a) {
          Value p = bcast(memref::LoadOp::create(b, loc, sBuf, ValueRange{q, k}));
          Value row = add(kbl, k);
          SmallVector<Value> next;
          for (int64_t j = 0; j < NV; ++j) {
            Value v = vector::LoadOp::create(b, loc, vecT, vp, ValueRange{row, add(dv0, cIdx(j * VW))});
            next.push_back(vector::FMAOp::create(b, loc, p, v, a[j]));
          }
          return next;
        });
        for (int64_t j = 0; j < NV; ++j)
          vector::StoreOp::create(b, loc, acc.getResult(j), oBuf, ValueRange{q, add(dv0, cIdx(j * VW))});
      });
    });
  }

  FailureOr<Value> build();
};
} // namespace

bool attn::canUseAttentionKernel(AttentionOp op, const AttentionKernelOptions &opt) {
  auto q = cast<RankedTensorType>(op.getQuery().getType());
  auto v = cast<RankedTensorType>(op.getValue().getType());
  int64_t r = q.getRank();
  if (!q.getElementType().isF32() || opt.vectorWidth <= 0)
    return false;
  if (q.isDynamicDim(r - 1) || v.isDynamicDim(r - 1))
    return false;
  if (v.getDimSize(r - 1) % (kNR * opt.vectorWidth) != 0)
    return false;
  if (opt.queryBlock % kMR != 0 || opt.keyBlock % (kNR * opt.vectorWidth) != 0)
    return false;
  if (Value m = op.getMask()) {
    Type et = cast<RankedTensorType>(m.getType()).getElementType();
    if (!et.isF32() && !isa<IntegerType>(et))
      return false;
  }
  return true;
}

FailureOr<Value> AttentionEmitter::build() {
  Value Q = op.getQuery(), K = op.getKey(), V = op.getValue(), M = op.getMask();
  auto qt = cast<RankedTensorType>(Q.getType());
  auto vt = cast<RankedTensorType>(V.getType());
  auto resultType = cast<RankedTensorType>(op.getResult().getType());
  int64_t r = qt.getRank(), nb = r - 2;
  int64_t D = qt.getDimSize(r - 1), Dv = vt.getDimSize(r - 1);
  int64_t VW = opt.vectorWidth, BQ = opt.queryBlock, BK = opt.keyBlock;
  double scale = op.getScale().convertToDouble();
  double fill = op.getFillValue().convertToDouble();
  MaskKind kind = op.getMaskKind();
  bool maskFirst = op.getMaskFirst(), causal = op.getCausal();
  std::optional<double> causalFill;
  if (std::optional<APFloat> f = op.getCausalFill())
    causalFill = f->convertToDouble();
  bool nanToZero = op.getNanToZero();
  // Causal offset, window, softcap and the key/value head of a query head:
  // Support/AttentionSemantics.h.
  AttentionRules rules = AttentionRules::of(op);
  // Grouped-query attention: a task entry is one key/value head; its G
  // query heads are one block of G·Sq query rows (row = g·Sq + position),
  // so K/V are packed once per group and a decode step (Sq = 1) fills the
  // register tiles with the group's heads.
  const int64_t G = rules.kvGroup;

  // Operands in their stored layouts; the kernel works on logical dims
  // (layout perm applied to the dims and strides).
  auto logical = [&](SmallVector<Value> v, std::optional<ArrayRef<int64_t>> perm) {
    if (!perm)
      return v;
    SmallVector<Value> out;
    for (int64_t p : *perm)
      out.push_back(v[p]);
    return out;
  };
  SmallVector<Value> qd = logical(getDimValues(b, loc, Q), op.getQueryPerm());
  SmallVector<Value> kd = logical(getDimValues(b, loc, K), op.getKeyPerm());
  Value Sq = qd[nb], Sk = kd[nb];
  // The batch entries of the tasks: Q's batch dims, with the key/value heads
  // instead of the query heads under GQA.
  SmallVector<Value> ed(qd.begin(), qd.begin() + nb);
  if (G != 1)
    ed[nb - 1] = kd[nb - 1];
  Value rowsTotal = G == 1 ? Sq : mul(Sq, cIdx(G));
  Value causalOff = rules.offset(b, loc, Sq, Sk);

  // Strided metadata of the inputs.
  auto meta = [&](Value tensor) {
    Value buf = toBuffer(tensor);
    return memref::ExtractStridedMetadataOp::create(b, loc, buf);
  };
  auto qm = meta(Q), km = meta(K), vm = meta(V);
  SmallVector<Value> qStr = logical(qm.getStrides(), op.getQueryPerm());
  SmallVector<Value> kStr = logical(km.getStrides(), op.getKeyPerm());
  SmallVector<Value> vStr = logical(vm.getStrides(), op.getValuePerm());

  // The mask as a broadcasting view: stride 0 along every broadcast dim.
  Value maskBase, maskOff;
  SmallVector<Value> maskStr;
  Type maskET;
  if (M) {
    auto mt = cast<RankedTensorType>(M.getType());
    maskET = mt.getElementType();
    auto mm = meta(M);
    maskBase = mm.getBaseBuffer();
    maskOff = mm.getOffset();
    int64_t off = r - mt.getRank();
    Value zero = cIdx(0), one = cIdx(1);
    for (int64_t i = 0; i < r; ++i) {
      int64_t j = i - off;
      if (j < 0) {
        maskStr.push_back(zero);
        continue;
      }
      Value size = mm.getSizes()[j];
      Value isOne = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, size, one);
      maskStr.push_back(arith::SelectOp::create(b, loc, isOne, zero, mm.getStrides()[j]));
    }
  }

  Value runOk; // all run-time checks hold (null: nothing to check)
  // Run-time agreement of the operands' dims (RuntimeChecks.h): the kernel
  // indexes K, V and the mask with Q's batch entries and K's keys. When a
  // check fails the run reports it and the kernel runs no task (nothing is
  // read outside an operand; the output is discarded).
  {
    std::string node = describeNode(op);
    Value c1 = cIdx(1);
    Value ok;
    auto need = [&](Value got, Value want, bool orOne, const std::string &what) {
      if (got == want)
        return;
      auto gc = getConstantIntValue(got), wc = getConstantIntValue(want);
      if (gc && wc && (*gc == *wc || (orOne && *gc == 1)))
        return;
      Value bad = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ne, got, want);
      if (orOne)
        bad = arith::AndIOp::create(b,
            loc, bad, arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ne, got, c1));
      recordRuntimeCheck(b, loc, bad, got, want,
                         node + ": " + what + " has size {a} but " + "{b}" +
                             (orOne ? " (or 1) is expected" : " is expected"));
      Value good = arith::XOrIOp::create(b, loc, bad, arith::ConstantIntOp::create(b, loc, 1, 1));
      ok = ok ? arith::AndIOp::create(b, loc, ok, good).getResult() : good;
    };
    SmallVector<Value> vd = logical(getDimValues(b, loc, V), op.getValuePerm());
    for (int64_t i = 0; i < nb; ++i) {
      // GQA heads: static, and the verifier checked they divide Q's.
      Value want = G != 1 && i == nb - 1 ? kd[i] : qd[i];
      need(kd[i], want, false, "dimension " + std::to_string(i) + " of the key");
      need(vd[i], want, false, "dimension " + std::to_string(i) + " of the value");
    }
    need(vd[nb], Sk, false, "the value's sequence dimension");
    need(kd[nb + 1], cIdx(D), false, "the key's head dimension");
    if (M) {
      auto mt = cast<RankedTensorType>(M.getType());
      SmallVector<Value> md = getDimValues(b, loc, M);
      int64_t off = r - mt.getRank();
      for (int64_t j = 0; j < mt.getRank(); ++j) {
        Value want = j + off < nb ? qd[j + off] : (j + off == nb ? Sq : Sk);
        need(md[j], want, true, "dimension " + std::to_string(j) + " of the mask");
      }
    }
    runOk = ok;
  }

  // The kernel proper: a function shared by every attention of this shape
  // (KernelRegion.h). The checks above stay at function level.
  scf::ExecuteRegionOp kernelRegion = openKernelRegion(b, loc, "attention", TypeRange{resultType});

  // The result buffer, written row block by row block.
  // The result buffer in the result's layout: its dim i is logical dim
  // resultPerm[i].
  SmallVector<int64_t> resultPerm = llvm::to_vector(llvm::seq<int64_t>(0, r));
  if (std::optional<ArrayRef<int64_t>> p = op.getResultPerm())
    resultPerm.assign(p->begin(), p->end());
  SmallVector<Value> outDyn;
  for (int64_t i = 0; i < r; ++i)
    if (resultType.isDynamicDim(i))
      outDyn.push_back(resultPerm[i] < nb ? qd[resultPerm[i]] : Sq);
  auto outType = MemRefType::get(resultType.getShape(), f32);
  Value out = memref::AllocOp::create(b, loc, outType, outDyn, b.getI64IntegerAttr(64));

  Value c0 = cIdx(0), c1 = cIdx(1), cBK = cIdx(BK), cBQ = cIdx(BQ), cVW = cIdx(VW);
  auto roundUp = [&](Value x, int64_t n) {
    return mul(arith::CeilDivUIOp::create(b, loc, x, cIdx(n)), cIdx(n));
  };

  // Tasks: groups of (batch...) entries -- many small heads (the seed's
  // sequence-first attention has thousands of length-1 ones) share one
  // task's scratch buffers -- times `splits` sets of query blocks when there
  // are few entries (one long head still uses every core; each split copies
  // K/V once more, O(S·D) against O(S²·D) work).
  Value numQB = arith::CeilDivUIOp::create(b, loc, rowsTotal, cBQ);
  Value batchTasks = c1;
  for (int64_t i = 0; i < nb; ++i)
    batchTasks = mul(batchTasks, ed[i]);
  Value perTask = arith::MaxUIOp::create(b,
      loc, c1, arith::CeilDivUIOp::create(b, loc, batchTasks, cIdx(opt.maxTasks)));
  Value groups = arith::CeilDivUIOp::create(b, loc, batchTasks, perTask);
  if (runOk) // a failed check: no task runs
    groups = arith::SelectOp::create(b, loc, runOk, groups, c0);
  Value splits = arith::MaxUIOp::create(b,
      loc, c1,
      minIdx(numQB, arith::CeilDivUIOp::create(b, loc, cIdx(opt.minTasks),
                                                 arith::MaxUIOp::create(b, loc, batchTasks, c1))));
  Value cD = cIdx(D), cDv = cIdx(Dv);
  // The decode path (a decode step or a few speculative/chunked positions:
  // Sq <= 4, the group's rows in one query block, K's head dim contiguous):
  // no Kᵀ pack -- each query row's scores are VW keys at a time, VW vector
  // FMA chains over the head dim reading K rows in place, summed across
  // lanes into one score vector (reduceRows); P·V reads V rows in place,
  // one row's output in registers. K/V stream through once per kv group
  // (the group's rows reread the key block from L1), instead of K read, Kᵀ
  // written and read again; and no register tile of 6 rows for 1 real one.
  // Dp: the head dim rounded up to the vector width (Qs is zero there, K
  // read with a masked load).
  const int64_t Dp = (D + VW - 1) / VW * VW;
  // (One op per statement: the IR's op order must not depend on the host
  // compiler's argument evaluation order.)
  Value fewPositions = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ule, Sq, cIdx(4));
  Value oneBlock = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ule, rowsTotal, cBQ);
  Value kRowsUnit = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, kStr[nb + 1], c1);
  Value useDecode = arith::AndIOp::create(b, loc, fewPositions, oneBlock);
  useDecode = arith::AndIOp::create(b, loc, useDecode, kRowsUnit);
  // Scratch of one task whose keys are `keys` long: Kt = Kᵀ (columns past
  // the keys are never unmasked), Vp = V, and the query block's buffers.
  struct Scratch {
    Value kt, vpBuf, qs, sBuf, oBuf, mBuf, lBuf, aBuf;
  };
  auto allocScratch = [&](Value keys) {
    Scratch t;
    // (No Kᵀ on the decode path.)
    t.kt = alloc({ShapedType::kDynamic, D, kNR * VW},
                 ValueRange{arith::SelectOp::create(
                     b, loc, useDecode, c0, arith::CeilDivUIOp::create(b, loc, keys, cIdx(kNR * VW)))});
    // (V is copied only where its head dim is strided; else read in place.)
    Value vStrided = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ne, vStr[nb + 1], c1);
    t.vpBuf = alloc({ShapedType::kDynamic, Dv},
                    ValueRange{arith::SelectOp::create(b, loc, vStrided, keys, c0)});
    t.qs = alloc({BQ, Dp}, {});
    t.sBuf = alloc({BQ, BK}, {});
    t.oBuf = alloc({BQ, Dv}, {});
    t.mBuf = alloc({BQ}, {});
    t.lBuf = alloc({BQ}, {});
    t.aBuf = alloc({BQ}, {});
    return t;
  };
  // Flash-decoding partials: a task over one key chunk leaves its rows'
  // running max m, sum l and unnormalized output O at [slot, row].
  struct Partials {
    Value o, m, l, slot;
  };
  // The result element index of (entry indices `ivs`, row, dv).
  auto resultIndex = [&](ArrayRef<Value> ivs, Value row, Value dv) {
    Value og = c0, opos = row;
    if (G != 1) {
      og = arith::DivUIOp::create(b, loc, row, Sq);
      opos = arith::RemUIOp::create(b, loc, row, Sq);
    }
    SmallVector<Value> lidx(ivs.begin(), ivs.end());
    if (G != 1)
      lidx[nb - 1] = add(mul(ivs[nb - 1], cIdx(G)), og);
    lidx.push_back(opos);
    lidx.push_back(dv);
    SmallVector<Value> idx;
    for (int64_t p : resultPerm)
      idx.push_back(lidx[p]);
    return idx;
  };
  // The batch indices of entry bi (row-major over the batch dims).
  auto entryIndices = [&](Value bi) {
    SmallVector<Value> ivs(nb);
    Value rem = bi;
    for (int64_t i = nb - 1; i >= 0; --i) {
      ivs[i] = arith::RemUIOp::create(b, loc, rem, ed[i]);
      rem = arith::DivUIOp::create(b, loc, rem, ed[i]);
    }
    return ivs;
  };

  // One entry (batch indices, a group's query rows) against the keys
  // [kLo, kHi) (kLo a multiple of BK), query blocks qBegin, qBegin + qStep,
  // ...: the normalized rows into `out`, or (part) the partials. With
  // causal_fill the keys of [fillLo, fillHi) (a superset of [kLo, kHi)) that
  // the key loop skips are added as fill-scored keys.
  auto entryBody = [&](Value bi, Value kLo, Value kHi, Value fillLo, Value fillHi, Value qBegin,
                       Value qStep, const Scratch &scratch, const Partials *part) {
    Value kt = scratch.kt, vpBuf = scratch.vpBuf, qs = scratch.qs, sBuf = scratch.sBuf,
          oBuf = scratch.oBuf, mBuf = scratch.mBuf, lBuf = scratch.lBuf, aBuf = scratch.aBuf;
    Value rowsLast = arith::SubIOp::create(b, loc, rowsTotal, c1);
    Value skLast = arith::SubIOp::create(b, loc, Sk, c1);
    Value kLen = arith::SubIOp::create(b, loc, kHi, kLo);
    SmallVector<int64_t> lanes(VW);
    for (int64_t i = 0; i < VW; ++i)
      lanes[i] = i;
    Value iota = arith::ConstantOp::create(b,
        loc, DenseElementsAttr::get(VectorType::get({VW}, b.getI64Type()), ArrayRef<int64_t>(lanes)));
    {
      // The batch indices of entry bi (row-major over the batch dims).
      SmallVector<Value> ivs = entryIndices(bi);
      // Q, the mask and the result are read/written per query row r as
      // [g, position] = [r / Sq, r % Sq] of the group's heads.
      auto rowPos = [&](Value row) -> std::pair<Value, Value> {
        if (G == 1)
          return {c0, row};
        return {arith::DivUIOp::create(b, loc, row, Sq), arith::RemUIOp::create(b, loc, row, Sq)};
      };
      Value q2 = view3d(qm.getBaseBuffer(), qm.getOffset(), qStr, ivs, G, Sq, cD, f32);
      // K and V of the key range (a strided view: a cache slice works too).
      Value k2 = view2d(km.getBaseBuffer(), add(km.getOffset(), mul(kLo, kStr[nb])), kStr, ivs,
                        kLen, cD, f32);
      Value v2 = view2d(vm.getBaseBuffer(), add(vm.getOffset(), mul(kLo, vStr[nb])), vStr, ivs,
                        kLen, cDv, f32);
      Value m2, m2c;
      if (M) {
        m2 = view3d(maskBase, maskOff, maskStr, ivs, G, Sq, Sk, maskET);
        // The same view with unit key stride, for vector loads where the mask
        // is contiguous along the keys (used only when it is).
        m2c = contiguousRows(m2, maskET);
      }

      // Kᵀ panels for the register tiles (not on the decode path: K is read
      // in place there, kc).
      {
        auto packK = scf::IfOp::create(b, loc, useDecode, /*withElseRegion=*/true);
        OpBuilder::InsertionGuard g2(b);
        b.setInsertionPointToStart(&packK.getElseRegion().front());
        transposeKeys(k2, kStr[nb + 1], kLen, D, kt);
      }
      Value kc = contiguousRows(k2, f32);
      Value kLenLast = arith::SubIOp::create(b, loc, kLen, c1);
      Value qUnit = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, qStr[nb + 1], c1);
      Value q2c = contiguousRows(q2, f32);
      // V is read in place where its head dim is contiguous (rows are
      // loaded as vectors), else copied into the scratch buffer.
      Value vUnit = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, vStr[nb + 1], c1);
      auto copyV = scf::IfOp::create(b, loc, vUnit, /*withElseRegion=*/true);
      {
        OpBuilder::InsertionGuard g2(b);
        b.setInsertionPointToStart(&copyV.getElseRegion().front());
        forLoop(c0, kLen, c1, [&](Value k) {
          forLoop(c0, cDv, c1, [&](Value d) {
            memref::StoreOp::create(b, loc, memref::LoadOp::create(b, loc, v2, ValueRange{k, d}), vpBuf,
                                      ValueRange{k, d});
          });
        });
      }
      Value vp = arith::SelectOp::create(b,
          loc, vUnit, contiguousRows(v2, f32),
          memref::CastOp::create(b, loc, contiguousRowsType(f32), vpBuf));

      forLoop(qBegin, rowsTotal, qStep, [&](Value qb) {
        Value tq = minIdx(cBQ, arith::SubIOp::create(b, loc, rowsTotal, qb));
        // Short sequences (and the last blocks) only compute what exists:
        // rows up to tq and keys up to the block's valid end, rounded to the
        // register tiles (extra lanes are padding, masked below).
        Value rowsEnd = roundUp(tq, kMR);
        // Qs rows (rows past the end repeat the last row; never stored).
        forLoop(c0, rowsEnd, c1, [&](Value q) {
          auto [gg, gq] = rowPos(minIdx(add(qb, q), rowsLast));
          // Scaled once here instead of every score: s' = (q * scale) · k.
          // Vectors where Q's head dim is contiguous (and D fills them).
          auto scalarRow = [&] {
            forLoop(c0, cD, c1, [&](Value d) {
              Value x = memref::LoadOp::create(b, loc, q2, ValueRange{gg, gq, d});
              memref::StoreOp::create(b, loc, arith::MulFOp::create(b, loc, x, cF(scale)), qs,
                                        ValueRange{q, d});
            });
          };
          if (D % VW == 0) {
            auto ifOp = scf::IfOp::create(b, loc, qUnit, /*withElseRegion=*/true);
            OpBuilder::InsertionGuard g3(b);
            b.setInsertionPointToStart(&ifOp.getThenRegion().front());
            for (int64_t d = 0; d < D; d += VW) {
              Value x = vector::LoadOp::create(b, loc, vecT, q2c, ValueRange{gg, gq, cIdx(d)});
              vector::StoreOp::create(b, loc, arith::MulFOp::create(b, loc, x, splat(scale)), qs,
                                        ValueRange{q, cIdx(d)});
            }
            b.setInsertionPointToStart(&ifOp.getElseRegion().front());
            scalarRow();
          } else {
            scalarRow();
          }
          // The decode path reads Qs rows as Dp / VW vectors: zeros past D.
          for (int64_t d = D; d < Dp; ++d) {
            Value zero = cF(0.0), cd = cIdx(d);
            memref::StoreOp::create(b, loc, zero, qs, ValueRange{q, cd});
          }
          memref::StoreOp::create(b, loc, cF(-INFINITY), mBuf, ValueRange{q});
          memref::StoreOp::create(b, loc, cF(0.0), lBuf, ValueRange{q});
          forLoop(c0, cDv, cVW, [&](Value d) {
            vector::StoreOp::create(b, loc, splat(0.0), oBuf, ValueRange{q, d});
          });
        });
        // The key range of the block's rows (causal/window: only the key
        // blocks that meet the visible band). Their positions are contiguous
        // within one head; a block spanning several heads covers [0, Sq).
        Value posMin = qb, posMax = arith::SubIOp::create(b, loc, add(qb, tq), c1);
        if (G != 1) {
          Value crosses = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ne,
                                                arith::DivUIOp::create(b, loc, posMin, Sq),
                                                arith::DivUIOp::create(b, loc, posMax, Sq));
          posMin = arith::SelectOp::create(b, loc, crosses, c0,
                                           arith::RemUIOp::create(b, loc, posMin, Sq));
          posMax = arith::SelectOp::create(b, loc, crosses, arith::SubIOp::create(b, loc, Sq, c1),
                                           arith::RemUIOp::create(b, loc, posMax, Sq));
        }
        Value qoMin = add(posMin, causalOff), qoMax = add(posMax, causalOff);
        Value kEnd = rules.keyEnd(b, loc, qoMax, Sk);
        // Key blocks start at multiples of BK (Kt panels); a chunk's blocks
        // lie in [kLo, kHi).
        Value kBegin = kLo;
        if (rules.window)
          kBegin = arith::MaxUIOp::create(
              b, loc, kLo,
              mul(arith::DivUIOp::create(b, loc, rules.keyBegin(b, loc, qoMin), cBK), cBK));
        Value kStop = minIdx(kEnd, kHi);
        kBegin = minIdx(kBegin, kStop);
        forLoop(kBegin, kStop, cBK, [&](Value kb) {
          Value kValid = minIdx(cBK, arith::SubIOp::create(b, loc, kStop, kb));
          Value kbl = arith::SubIOp::create(b, loc, kb, kLo); // in Kt, Vp
          Value kTileEnd = roundUp(kValid, kNR * VW);
          // Every lane of the block is a real key that every row of the
          // query block may see.
          Value interior = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, kValid, cBK);
          if (causal)
            interior = arith::AndIOp::create(b, loc, interior,
                                             rules.allVisible(b, loc, kb, add(kb, cBK), qoMin, qoMax));
          Value kVecEnd = roundUp(kValid, VW);
          // S = Qs · Kt[:, kb:kb+BK] (register tiles), or on the decode
          // path Qs · K[kb:kb+BK]ᵀ with K rows read in place.
          auto sIf = scf::IfOp::create(b, loc, useDecode, /*withElseRegion=*/true);
          {
            OpBuilder::InsertionGuard gs(b);
            b.setInsertionPointToStart(&sIf.getThenRegion().front());
            decodeScores(kc, qs, sBuf, tq, kbl, kLenLast, kVecEnd, D, Dp);
            b.setInsertionPointToStart(&sIf.getElseRegion().front());
            forLoop(c0, rowsEnd, cIdx(kMR), [&](Value q0) {
              forLoop(c0, kTileEnd, cIdx(kNR * VW), [&](Value k0) {
                SmallVector<Value> init(kMR * kNR, splat(0.0));
                auto acc = fmaTile(
                    cD, init,
                    [&](int64_t j, Value d) -> Value {
                      return vector::LoadOp::create(b,
                          loc, vecT, kt,
                          ValueRange{arith::DivUIOp::create(b, loc, add(kbl, k0), cIdx(kNR * VW)), d,
                                     cIdx(j * VW)});
                    },
                    [&](int64_t i, Value d) -> Value {
                      return memref::LoadOp::create(b, loc, qs, ValueRange{add(q0, cIdx(i)), d});
                    });
                storeTile(acc, sBuf, q0, k0);
              });
            });

          }

          // Edits and the online softmax, one query row at a time.
          forLoop(c0, tq, c1, [&](Value q) {
            auto [gg, gqc] = rowPos(add(qb, q));
            // q + o of this row, compared with key indices in i64 lanes.
            Value qo64 = arith::IndexCastOp::create(b, loc, b.getI64Type(), add(gqc, causalOff));
            // Lanes at or past the loop's end are padding (or the next chunk).
            Value stop64 = arith::IndexCastOp::create(b, loc, b.getI64Type(), kStop);
            // `edges`: the block has padding lanes or causal future keys;
            // interior blocks skip those selects.
            auto scoresLoop = [&](bool edges) -> Value {
            return forLoop(c0, kVecEnd, cVW, ValueRange{splat(-INFINITY)}, [&](Value kc, ValueRange a) {
              Value s = vector::LoadOp::create(b, loc, vecT, sBuf, ValueRange{q, kc});
              Value sc = splat(scale);
              Value kbase = add(kb, kc);
              auto applyMask = [&](Value x) -> Value {
              // The mask values of keys [kbase, kbase + VW) in row gqc: one
              // broadcast element (a [.., 1] mask), one vector load (keys
              // contiguous, all in range), or one load per lane (lanes past
              // the end repeat the last key; they are dead anyway).
              auto maskVecT = VectorType::get({VW}, maskET);
              Value keyStride = maskStr[nb + 1];
              Value isBcast = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, keyStride, c0);
              Value mvals = ifElse(
                  isBcast, maskVecT,
                  [&] {
                    return vector::BroadcastOp::create(b,
                        loc, maskVecT, memref::LoadOp::create(b, loc, m2, ValueRange{gg, gqc, c0}));
                  },
                  [&]() -> Value {
                    auto perLane = [&]() -> Value {
                      SmallVector<Value> elems;
                      for (int64_t j = 0; j < VW; ++j) {
                        Value kj = minIdx(add(kbase, cIdx(j)), skLast);
                        elems.push_back(memref::LoadOp::create(b, loc, m2, ValueRange{gg, gqc, kj}));
                      }
                      return vector::FromElementsOp::create(b, loc, maskVecT, elems);
                    };
                    // Bools are bit-packed in vectors but bytes in memory.
                    if (maskET.isInteger(1))
                      return perLane();
                    Value contiguous = arith::AndIOp::create(b,
                        loc, arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, keyStride, c1),
                        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ule, add(kbase, cVW), Sk));
                    return ifElse(
                        contiguous, maskVecT,
                        [&] { return vector::LoadOp::create(b, loc, maskVecT, m2c, ValueRange{gg, gqc, kbase}); },
                        perLane);
                  });
              if (kind == MaskKind::additive)
                return arith::AddFOp::create(b,
                    loc, x, maskFirst ? arith::MulFOp::create(b, loc, mvals, sc).getResult() : mvals);
              Value zero = isa<FloatType>(maskET)
                               ? createScalarConstant(b, loc, maskVecT, 0.0)
                               : arith::ConstantOp::create(b,
                                     loc, DenseElementsAttr::get(maskVecT, b.getIntegerAttr(maskET, 0)))
                                     .getResult();
              Value cond = isa<FloatType>(maskET)
                               ? arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OEQ, mvals, zero).getResult()
                               : arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, mvals, zero).getResult();
              Value f = splat(maskFirst ? fill * scale : fill);
              return kind == MaskKind::fill_if_zero
                         ? arith::SelectOp::create(b, loc, cond, f, x).getResult()
                         : arith::SelectOp::create(b, loc, cond, x, f).getResult();
            };
            // s is already scaled (Qs is). A mask applied before the scale:
              // (s + m) * c = s' + m * c, select(z, f, s) * c = select(z, f * c, s').
              // Soft-capping: on the scaled score, before the mask.
              s = rules.applySoftcap(b, loc, s);
              if (kind != MaskKind::none)
                s = applyMask(s);
              if (!edges) {
                vector::StoreOp::create(b, loc, s, sBuf, ValueRange{q, kc});
                return SmallVector<Value>{maxF(a[0], s)};
              }
              // Padding keys (and causal future keys) are removed entirely.
              Value kidx = arith::AddIOp::create(b,
                  loc, iota,
                  vector::BroadcastOp::create(b, loc, iota.getType(),
                                                arith::IndexCastOp::create(b, loc, b.getI64Type(), kbase)));
              Value dead = arith::CmpIOp::create(b,
                  loc, arith::CmpIPredicate::sge, kidx,
                  vector::BroadcastOp::create(b,
                      loc, iota.getType(),
                      stop64));
              if (causalFill) {
                // causal_fill: hidden keys in [kBegin, kEnd) (future, or
                // before the window) score the fill; those outside are added
                // after the key loop where needed.
                Value hidden = rules.hidden(b, loc, kidx, qo64);
                s = arith::SelectOp::create(b, loc, hidden, splat(*causalFill), s);
              } else if (causal)
                dead = arith::OrIOp::create(b, loc, dead, rules.hidden(b, loc, kidx, qo64));
              s = arith::SelectOp::create(b, loc, dead, splat(-INFINITY), s);
              vector::StoreOp::create(b, loc, s, sBuf, ValueRange{q, kc});
              return SmallVector<Value>{maxF(a[0], s)};
            }).getResult(0);
            };
            Value rowMaxV = ifElse(interior, vecT, [&] { return scoresLoop(false); },
                                   [&] { return scoresLoop(true); });
            // A tree of vmaxps (no NaN care: see maxF), not a serial chain.
            Value mx = vector::ReductionOp::create(b, loc, f32, vector::CombiningKind::MAXNUMF,
                                                     rowMaxV, Value(),
                                                     arith::FastMathFlags::nnan);
            Value mOld = memref::LoadOp::create(b, loc, mBuf, ValueRange{q});
            Value mNew = maxF(mOld, mx);
            Value isNinf = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OEQ, mNew, cF(-INFINITY));
            Value mSafe = arith::SelectOp::create(b, loc, isNinf, cF(0.0), mNew);
            Value alpha = fastExp(arith::SubFOp::create(b, loc, mOld, mSafe));
            Value mSafeV = bcast(mSafe);
            auto sum = forLoop(c0, kVecEnd, cVW, ValueRange{splat(0.0)}, [&](Value kc, ValueRange a) {
              Value s = vector::LoadOp::create(b, loc, vecT, sBuf, ValueRange{q, kc});
              Value p = fastExp(arith::SubFOp::create(b, loc, s, mSafeV));
              vector::StoreOp::create(b, loc, p, sBuf, ValueRange{q, kc});
              return SmallVector<Value>{arith::AddFOp::create(b, loc, a[0], p)};
            });
            Value rowSum = vector::ReductionOp::create(b, loc, f32, vector::CombiningKind::ADD,
                                                         sum.getResult(0), Value(),
                                                         arith::FastMathFlags::reassoc);
            Value lOld = memref::LoadOp::create(b, loc, lBuf, ValueRange{q});
            memref::StoreOp::create(b, loc, arith::AddFOp::create(b, loc, arith::MulFOp::create(b, loc, lOld, alpha), rowSum),
                                      lBuf, ValueRange{q});
            memref::StoreOp::create(b, loc, mNew, mBuf, ValueRange{q});
            memref::StoreOp::create(b, loc, alpha, aBuf, ValueRange{q});
          });

          // O = alpha O + P · Vp[kb:kb+BK] (register tiles; on the decode
          // path one row's output at a time, V rows read in place).
          auto pvIf = scf::IfOp::create(b, loc, useDecode, /*withElseRegion=*/true);
          {
            OpBuilder::InsertionGuard gp(b);
            b.setInsertionPointToStart(&pvIf.getThenRegion().front());
            decodePV(vp, sBuf, oBuf, aBuf, tq, kbl, kValid, Dv);
            b.setInsertionPointToStart(&pvIf.getElseRegion().front());
            forLoop(c0, rowsEnd, cIdx(kMR), [&](Value q0) {
              forLoop(c0, cDv, cIdx(kNR * VW), [&](Value dv0) {
                SmallVector<Value> init;
                for (int64_t i = 0; i < kMR; ++i) {
                  Value a = bcast(memref::LoadOp::create(b, loc, aBuf, ValueRange{add(q0, cIdx(i))}));
                  for (int64_t j = 0; j < kNR; ++j) {
                    Value o = vector::LoadOp::create(b, loc, vecT, oBuf,
                                                       ValueRange{add(q0, cIdx(i)), add(dv0, cIdx(j * VW))});
                    init.push_back(arith::MulFOp::create(b, loc, o, a));
                  }
                }
                auto acc = fmaTile(
                    kValid, init,
                    [&](int64_t j, Value k) -> Value {
                      return vector::LoadOp::create(b,
                          loc, vecT, vp, ValueRange{add(kbl, k), add(dv0, cIdx(j * VW))});
                    },
                    [&](int64_t i, Value k) -> Value {
                      return memref::LoadOp::create(b, loc, sBuf, ValueRange{add(q0, cIdx(i)), k});
                    });
                storeTile(acc, oBuf, q0, dv0);
              });
            });
          }
        });

        // causal_fill: the keys of [fillLo, fillHi) outside [kBegin, kStop)
        // score the fill (unsplit: all of [0, Sk); a chunk: its own keys,
        // plus those outside the band for the first and the last chunk).
        if (causalFill) {
          Value vFull = view2d(vm.getBaseBuffer(), vm.getOffset(), vStr, ivs, Sk, cDv, f32);
          Value lo0 = minIdx(fillLo, kBegin);
          Value hi1 = arith::MaxUIOp::create(b, loc, fillHi, kStop);
          addSkippedFillKeys(*causalFill, lo0, kBegin, kStop, hi1, tq, mBuf, lBuf, oBuf, vFull,
                             vUnit, Dv);
        }

        if (part) {
          // Flash-decoding: the chunk's m, l and O rows, merged below.
          forLoop(c0, tq, c1, [&](Value q) {
            Value row = add(qb, q);
            memref::StoreOp::create(b, loc, memref::LoadOp::create(b, loc, mBuf, ValueRange{q}),
                                    part->m, ValueRange{part->slot, row});
            memref::StoreOp::create(b, loc, memref::LoadOp::create(b, loc, lBuf, ValueRange{q}),
                                    part->l, ValueRange{part->slot, row});
            forLoop(c0, cDv, cVW, [&](Value dv) {
              Value o = vector::LoadOp::create(b, loc, vecT, oBuf, ValueRange{q, dv});
              vector::StoreOp::create(b, loc, o, part->o, ValueRange{part->slot, row, dv});
            });
          });
          return;
        }
        // out rows = O / l (deferred normalization; l = 0 gives NaN as PyTorch).
        forLoop(c0, tq, c1, [&](Value q) {
          Value lS = memref::LoadOp::create(b, loc, lBuf, ValueRange{q});
          Value l = bcast(lS);
          // nan_to_zero: l > 0 fails exactly for the rows whose weights are NaN
          // (l = 0: every score -inf; l = NaN: a NaN or +inf score).
          Value ok = nanToZero ? arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGT, lS, cF(0.0))
                               : Value();
          forLoop(c0, cDv, cVW, [&](Value dv) {
            Value o = vector::LoadOp::create(b, loc, vecT, oBuf, ValueRange{q, dv});
            Value r = arith::DivFOp::create(b, loc, o, l);
            if (ok)
              r = arith::SelectOp::create(b, loc, ok, r, splat(0.0));
            vector::StoreOp::create(b, loc, r, out, resultIndex(ivs, add(qb, q), dv));
          });
        });
      });
    }
  };

  // The flash path: tasks over groups of entries x sets of query blocks.
  auto emitFlash = [&] {
    auto forall = scf::ForallOp::create(b, loc, ArrayRef<OpFoldResult>{groups, splits},
                                        ValueRange{}, std::nullopt);
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPointToStart(forall.getBody());
    Value group = forall.getInductionVars()[0];
    Value split = forall.getInductionVars()[1];
    // Splits take every `splits`-th query block, so causal work (which grows
    // with the block index) is spread evenly over them.
    Value qBegin = mul(split, cBQ);
    Value qStep = mul(splits, cBQ);
    // Scratch, once per task.
    Scratch scratch = allocScratch(Sk);
    Value bBegin = mul(group, perTask);
    Value bEnd = minIdx(add(bBegin, perTask), batchTasks);
    forLoop(bBegin, bEnd, c1, [&](Value bi) {
      entryBody(bi, c0, Sk, c0, Sk, qBegin, qStep, scratch, nullptr);
    });
  };

  // Flash-decoding (few query rows against many keys: a decode step, Lq x
  // the group's heads <= 4 query blocks): the keys are split into chunks
  // across tasks; each task reads its chunk of K/V once for all the rows of
  // one kv group and leaves partial (m, l, O); a second loop merges them.
  // Only the keys some row may see are split (the band: causal, up to the
  // last row's diagonal; a sliding window, from the first row's window start
  // rounded down to BK), so a window layer's tasks all read keys inside its
  // window. causal_fill: each chunk adds its own skipped keys as fill-scored
  // keys (exact per chunk, as unsplit; the merge combines them), the first
  // chunk also those before the band, the last those after it.
  {
    // Chunks: enough tasks for the machine, at least kDecodeMinChunk keys
    // each, at most kDecodeMaxChunk (a chunk's Kᵀ stays in cache), a
    // multiple of BK. Enough tasks: decodeTasksPerThread x the run-time
    // thread count (omp_get_max_threads, when the module declares it: attnc's
    // pipeline does), else the fixed decodeTasks. When the entries alone make
    // enough tasks (a batch of sequences: B x kv heads) the keys are not
    // split at all: one chunk of all Sk keys, the flash path (no partials,
    // no merge, no second Kᵀ scratch).
    Value cMin = cIdx(std::max<int64_t>(BK, opt.decodeMinChunk / BK * BK));
    Value cMax = cIdx(std::max<int64_t>(BK, opt.decodeMaxChunk / BK * BK));
    Value entries = arith::MaxUIOp::create(b, loc, batchTasks, c1);
    Value targetTasks = cIdx(opt.decodeTasks);
    auto threadsFn = SymbolTable::lookupNearestSymbolFrom<func::FuncOp>(
        op, StringAttr::get(b.getContext(), "omp_get_max_threads"));
    if (threadsFn && threadsFn.getFunctionType() == b.getFunctionType({}, {b.getI32Type()})) {
      Value threads = func::CallOp::create(b, loc, threadsFn, ValueRange{}).getResult(0);
      threads = arith::IndexCastOp::create(b, loc, b.getIndexType(), threads);
      threads = arith::MaxSIOp::create(b, loc, threads, c1);
      targetTasks = mul(threads, cIdx(opt.decodeTasksPerThread));
    }
    Value bandLo = c0, bandHi = Sk;
    if (causal) {
      bandHi = rules.keyEnd(b, loc, add(arith::SubIOp::create(b, loc, Sq, c1), causalOff), Sk);
      if (rules.window)
        bandLo = minIdx(mul(arith::DivUIOp::create(b, loc, rules.keyBegin(b, loc, causalOff), cBK), cBK),
                        bandHi);
    }
    Value bandLen = arith::SubIOp::create(b, loc, bandHi, bandLo);
    Value wantChunks = arith::CeilDivUIOp::create(b, loc, targetTasks, entries);
    Value chunk = arith::CeilDivUIOp::create(b, loc, bandLen, wantChunks);
    chunk = minIdx(arith::MaxUIOp::create(b, loc, chunk, cMin), cMax);
    Value enoughEntries = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, wantChunks, c1);
    Value allKeys = arith::MaxUIOp::create(b, loc, bandLen, cMin); // never 0 (a divisor below)
    chunk = arith::SelectOp::create(b, loc, enoughEntries, allKeys, chunk);
    chunk = roundUp(chunk, BK);
    Value chunks = arith::CeilDivUIOp::create(b, loc, bandLen, chunk);
    // Two statements: the order of the ops must not depend on the host
    // compiler's argument evaluation order (lit tests check it).
    Value twoChunks = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::uge, chunks, cIdx(2));
    Value fewRows = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ule, rowsTotal, cIdx(4 * BQ));
    Value useSplit = arith::AndIOp::create(b, loc, fewRows, twoChunks);
    auto ifOp = scf::IfOp::create(b, loc, useSplit, /*withElseRegion=*/true);
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPointToStart(&ifOp.getElseRegion().front());
    emitFlash();
    b.setInsertionPointToStart(&ifOp.getThenRegion().front());
    Value slots = mul(batchTasks, chunks);
    Partials part;
    part.o = memref::AllocOp::create(
        b, loc, MemRefType::get({ShapedType::kDynamic, ShapedType::kDynamic, Dv}, f32),
        ValueRange{slots, rowsTotal}, b.getI64IntegerAttr(64));
    auto rowsType = MemRefType::get({ShapedType::kDynamic, ShapedType::kDynamic}, f32);
    part.m = memref::AllocOp::create(b, loc, rowsType, ValueRange{slots, rowsTotal},
                                     b.getI64IntegerAttr(64));
    part.l = memref::AllocOp::create(b, loc, rowsType, ValueRange{slots, rowsTotal},
                                     b.getI64IntegerAttr(64));
    Value tasks = runOk ? arith::SelectOp::create(b, loc, runOk, batchTasks, c0).getResult()
                        : batchTasks;
    // Merge of entry bi's row: M = max m_c, w_c = e^(m_c - M) (0 for chunks
    // that saw no key: m_c = -inf), out = sum w_c O_c / sum w_c l_c -- 0/0 =
    // NaN for rows that see no key at all, as the flash path (0 with
    // nan_to_zero).
    auto mergeRow = [&](Value bi, Value row) {
      Value slot0 = mul(bi, chunks);
      Value mMax = forLoop(c0, chunks, c1, ValueRange{cF(-INFINITY)}, [&](Value c, ValueRange a) {
                     Value m = memref::LoadOp::create(b, loc, part.m, ValueRange{add(slot0, c), row});
                     return SmallVector<Value>{arith::MaximumFOp::create(b, loc, a[0], m)};
                   }).getResult(0);
      Value isNinf = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OEQ, mMax, cF(-INFINITY));
      Value mSafe = arith::SelectOp::create(b, loc, isNinf, cF(0.0), mMax);
      auto weight = [&](Value c) {
        Value m = memref::LoadOp::create(b, loc, part.m, ValueRange{add(slot0, c), row});
        return fastExp(arith::SubFOp::create(b, loc, m, mSafe));
      };
      Value lS = forLoop(c0, chunks, c1, ValueRange{cF(0.0)}, [&](Value c, ValueRange a) {
                   Value l = memref::LoadOp::create(b, loc, part.l, ValueRange{add(slot0, c), row});
                   return SmallVector<Value>{
                       math::FmaOp::create(b, loc, weight(c), l, a[0]).getResult()};
                 }).getResult(0);
      Value l = bcast(lS);
      Value ok = nanToZero ? arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGT, lS, cF(0.0))
                           : Value();
      SmallVector<Value> ivs = entryIndices(bi);
      forLoop(c0, cDv, cVW, [&](Value dv) {
        Value o = forLoop(c0, chunks, c1, ValueRange{splat(0.0)}, [&](Value c, ValueRange a) {
                    Value oc = vector::LoadOp::create(b, loc, vecT, part.o,
                                                      ValueRange{add(slot0, c), row, dv});
                    return SmallVector<Value>{
                        vector::FMAOp::create(b, loc, bcast(weight(c)), oc, a[0]).getResult()};
                  }).getResult(0);
        Value r = arith::DivFOp::create(b, loc, o, l);
        if (ok)
          r = arith::SelectOp::create(b, loc, ok, r, splat(0.0));
        vector::StoreOp::create(b, loc, r, out, resultIndex(ivs, row, dv));
      });
    };
    // Chunks done per entry: the task finishing an entry's last chunk merges
    // it (no second parallel loop). The atomic add is acq_rel: the partials
    // every earlier task stored are visible to the one that sees count - 1.
    auto i32 = b.getI32Type();
    Value done = memref::AllocOp::create(b, loc, MemRefType::get({ShapedType::kDynamic}, i32),
                                         ValueRange{batchTasks}, b.getI64IntegerAttr(64));
    forLoop(c0, batchTasks, c1, [&](Value e) {
      memref::StoreOp::create(b, loc, arith::ConstantIntOp::create(b, loc, i32, 0), done,
                              ValueRange{e});
    });
    {
      auto forall = scf::ForallOp::create(b, loc, ArrayRef<OpFoldResult>{tasks, chunks},
                                          ValueRange{}, std::nullopt);
      forall->setAttr("attn.flash_decoding", b.getUnitAttr());
      OpBuilder::InsertionGuard g2(b);
      b.setInsertionPointToStart(forall.getBody());
      Value bi = forall.getInductionVars()[0], c = forall.getInductionVars()[1];
      Value kLo = add(bandLo, mul(c, chunk));
      Value kHi = minIdx(add(kLo, chunk), bandHi);
      Value fillLo = arith::SelectOp::create(
          b, loc, arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, c, c0), c0, kLo);
      Value fillHi = arith::SelectOp::create(
          b, loc,
          arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, c,
                                arith::SubIOp::create(b, loc, chunks, c1)),
          Sk, kHi);
      Scratch scratch = allocScratch(chunk);
      Partials mine = part;
      mine.slot = add(mul(bi, chunks), c);
      entryBody(bi, kLo, kHi, fillLo, fillHi, c0, cBQ, scratch, &mine);
      Value before = memref::AtomicRMWOp::create(b, loc, arith::AtomicRMWKind::addi,
                                                 arith::ConstantIntOp::create(b, loc, i32, 1), done,
                                                 ValueRange{bi});
      Value last = arith::CmpIOp::create(
          b, loc, arith::CmpIPredicate::eq, before,
          arith::IndexCastOp::create(b, loc, i32, arith::SubIOp::create(b, loc, chunks, c1)));
      auto ifLast = scf::IfOp::create(b, loc, last, /*withElseRegion=*/false);
      ifLast->setAttr("attn.flash_decoding_merge", b.getUnitAttr());
      b.setInsertionPointToStart(&ifLast.getThenRegion().front());
      forLoop(c0, rowsTotal, c1, [&](Value row) { mergeRow(bi, row); });
    }
  }
  Value result = bufferization::ToTensorOp::create(b, loc, resultType, out, /*restrict=*/true,
                                                   /*writable=*/true);
  return closeKernelRegion(b, kernelRegion, result)[0];
}

FailureOr<Value> attn::buildAttentionKernel(OpBuilder &b, AttentionOp op,
                                            const AttentionKernelOptions &opt) {
  AttentionEmitter kb(b, op, opt);
  return kb.build();
}
