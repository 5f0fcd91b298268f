//===- LayerNormKernel.cpp - vectorized CPU layer normalization -----------===//
//
// attn.layer_norm over the trailing n elements of every row, rows in
// parallel (OpenMP tasks of a few rows), each row in three vector passes
// over data that stays in L1:
//
//   x = input (+ residual), stored into the output row; sum += x
//   mean = sum / n;  d = x - mean;  var = E[d^2] - E[d]^2, mean += E[d]
//                                  (two passes, the mean's rounding corrected)
//   out = (x - mean) * (1 / sqrt(var + eps)) * scale + bias
//
// Operands are viewed as [rows, n] through a 1-D collapse (bufferization
// copies a non-contiguous operand there, so the views always have unit
// inner stride). Layer norm and RMSNorm (below) share that frame (RowFrame:
// the views, the parallel row loop, the reshape back) and differ only in
// their passes over a row.
//
//===----------------------------------------------------------------------===//
#include "CPU/LayerNormKernel.h"
#include "Support/LoweringUtils.h"
#include "attn/Dialect/ShapeInference.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

using namespace mlir;
using namespace mlir::attn;

namespace {
constexpr int64_t kRowsPerTask = 4;

/// The normalized size n of an input of type `t` normalized from `axisAttr`
/// on, when it is static and nonzero and every non-null per-row operand
/// (scale, bias) has a static shape of exactly n elements.
std::optional<int64_t> trailingRowSize(RankedTensorType t, int64_t axisAttr,
                                       ArrayRef<Value> rowOperands) {
  auto axis = normalizeAxis(axisAttr, t.getRank());
  if (!axis)
    return std::nullopt;
  int64_t n = 1;
  for (int64_t i = *axis; i < t.getRank(); ++i) {
    if (t.isDynamicDim(i))
      return std::nullopt;
    n *= t.getDimSize(i);
  }
  if (n == 0)
    return std::nullopt;
  for (Value v : rowOperands) {
    if (!v)
      continue;
    auto vt = cast<RankedTensorType>(v.getType());
    if (!vt.hasStaticShape() || vt.getNumElements() != n)
      return std::nullopt;
  }
  return n;
}

/// `v` collapsed to 1-D (all its elements, row-major).
Value flatten(OpBuilder &b, Location loc, Value v) {
  auto t = cast<RankedTensorType>(v.getType());
  if (t.getRank() == 1)
    return v;
  SmallVector<ReassociationIndices> re{{}};
  for (int64_t i = 0; i < t.getRank(); ++i)
    re[0].push_back(i);
  if (t.getRank() == 0) // a scalar: [] -> [1]
    return tensor::ExpandShapeOp::create(b, loc, RankedTensorType::get({1}, t.getElementType()), v,
                                         ArrayRef<ReassociationIndices>{},
                                         ArrayRef<OpFoldResult>{b.getIndexAttr(1)});
  return tensor::CollapseShapeOp::create(b, loc, v, re);
}

/// The frame both row kernels share: an f32 input of type `t` seen as
/// [rows, n] (rows = the product of the dims before the axis, static when
/// they all are), operand views with unit inner stride, row buffers, the
/// parallel loop over tasks of kRowsPerTask rows, and results reshaped back.
struct RowFrame {
  OpBuilder &b;
  Location loc;
  RankedTensorType t;
  int64_t n;
  Type f32;
  SmallVector<Value> dims;
  Value rows;
  int64_t rowsS = 1; // static row count, or dynamic
  MemRefType rowsType;

  VectorType vecT;

  /// `input` normalized from `axisAttr` on over rows of n elements, in
  /// vectors of `vw` lanes.
  RowFrame(OpBuilder &b, Location loc, Value input, int64_t axisAttr, int64_t n, int64_t vw)
      : b(b), loc(loc), t(cast<RankedTensorType>(input.getType())), n(n), f32(b.getF32Type()),
        vecT(VectorType::get({vw}, f32)) {
    int64_t axis = *normalizeAxis(axisAttr, t.getRank());
    dims = getDimValues(b, loc, input);
    rows = cIdx(1);
    for (int64_t i = 0; i < axis; ++i) {
      rows = arith::MulIOp::create(b, loc, rows, dims[i]);
      rowsS = t.isDynamicDim(i) || ShapedType::isDynamic(rowsS) ? ShapedType::kDynamic
                                                                 : rowsS * t.getDimSize(i);
    }
    rowsType = MemRefType::get({rowsS, n}, f32,
                               StridedLayoutAttr::get(b.getContext(), ShapedType::kDynamic, {n, 1}));
  }

  Value cIdx(int64_t v) { return arith::ConstantIndexOp::create(b, loc, v).getResult(); }
  Value cF(double v) { return arith::ConstantOp::create(b, loc, b.getF32FloatAttr(v)).getResult(); }
  Value splat(Value s) { return vector::BroadcastOp::create(b, loc, vecT, s).getResult(); }
  bool rowsStatic() const { return !ShapedType::isDynamic(rowsS); }

  /// `v` (the input's shape) as a [rows, n] buffer. A static row count must
  /// be given as an attribute: expand_shape's verifier rejects an SSA value
  /// for a static output dim (axis 0, or leading dims all static).
  Value asRows(Value v) {
    Value rowsT = tensor::ExpandShapeOp::create(
        b, loc, RankedTensorType::get({rowsS, n}, f32), flatten(b, loc, v),
        ArrayRef<ReassociationIndices>{{0, 1}},
        ArrayRef<OpFoldResult>{rowsStatic() ? OpFoldResult(b.getIndexAttr(rowsS)) : OpFoldResult(rows),
                               b.getIndexAttr(n)});
    return bufferization::ToBufferOp::create(b, loc, rowsType, rowsT, b.getUnitAttr());
  }

  /// A per-row operand (n elements) as an [n] buffer; null stays null.
  Value asVec(Value v) {
    if (!v)
      return {};
    auto type = MemRefType::get({n}, f32, StridedLayoutAttr::get(b.getContext(), ShapedType::kDynamic, {1}));
    return bufferization::ToBufferOp::create(b, loc, type, flatten(b, loc, v), b.getUnitAttr());
  }

  /// A new [rows, n] buffer (64-byte aligned).
  Value alloc() {
    return memref::AllocOp::create(b, loc, MemRefType::get({rowsS, n}, f32),
                                   rowsStatic() ? ValueRange{} : ValueRange{rows},
                                   b.getI64IntegerAttr(64));
  }

  /// The parallel loop over the rows: `row(r)` builds one row's passes.
  void forEachRow(function_ref<void(Value)> row) {
    Value numTasks = arith::CeilDivUIOp::create(b, loc, rows, cIdx(kRowsPerTask));
    auto forall = scf::ForallOp::create(b, loc, ArrayRef<OpFoldResult>{numTasks}, ValueRange{},
                                        std::nullopt);
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPointToStart(forall.getBody());
    Value r0 = arith::MulIOp::create(b, loc, forall.getInductionVars()[0], cIdx(kRowsPerTask));
    Value r1 = arith::MinUIOp::create(b, loc, arith::AddIOp::create(b, loc, r0, cIdx(kRowsPerTask)),
                                      rows);
    auto rowLoop = scf::ForOp::create(b, loc, r0, r1, cIdx(1));
    b.setInsertionPointToStart(rowLoop.getBody());
    row(rowLoop.getInductionVar());
  }

  /// A [rows, n] buffer as a tensor of the input's shape.
  Value reshapeBack(Value buf) {
    Value result = bufferization::ToTensorOp::create(b, loc, RankedTensorType::get({rowsS, n}, f32), buf,
                                                     /*restrict=*/true, /*writable=*/true);
    Value flat = tensor::CollapseShapeOp::create(b, loc, result, ArrayRef<ReassociationIndices>{{0, 1}});
    int64_t rank = t.getRank();
    if (rank == 1)
      return tensor::CastOp::create(b, loc, t, flat);
    SmallVector<ReassociationIndices> re{{}};
    SmallVector<OpFoldResult> shape;
    for (int64_t i = 0; i < rank; ++i) {
      re[0].push_back(i);
      shape.push_back(t.isDynamicDim(i) ? OpFoldResult(dims[i]) : b.getIndexAttr(t.getDimSize(i)));
    }
    return tensor::ExpandShapeOp::create(b, loc, t, flat, re, shape);
  }
};
} // namespace

std::optional<int64_t> attn::staticRowSize(LayerNormOp op) {
  return trailingRowSize(cast<RankedTensorType>(op.getInput().getType()), op.getAxis(),
                         {op.getScale(), op.getBias()});
}

bool attn::canUseLayerNormKernel(LayerNormOp op, int64_t vectorWidth) {
  auto t = cast<RankedTensorType>(op.getInput().getType());
  if (vectorWidth <= 0 || !t.getElementType().isF32())
    return false;
  std::optional<int64_t> n = staticRowSize(op);
  if (!n || *n % vectorWidth != 0)
    return false;
  for (Value v : {op.getScale(), op.getBias()})
    if (v && !cast<RankedTensorType>(v.getType()).getElementType().isF32())
      return false;
  return true;
}

Value attn::buildLayerNormKernel(OpBuilder &b, LayerNormOp op, int64_t VW) {
  Location loc = op.getLoc();
  RowFrame frame(b, loc, op.getInput(), op.getAxis(), *staticRowSize(op), VW);
  int64_t n = frame.n;
  Type f32 = frame.f32;
  VectorType vecT = frame.vecT;
  auto cIdx = [&](int64_t v) { return frame.cIdx(v); };
  auto cF = [&](double v) { return frame.cF(v); };
  auto splat = [&](Value s) { return frame.splat(s); };

  Value in = frame.asRows(op.getInput());
  Value res = op.getResidual() ? frame.asRows(op.getResidual()) : Value();
  Value scale = frame.asVec(op.getScale()), bias = frame.asVec(op.getBias());
  Value out = frame.alloc();

  Value c0 = cIdx(0), cVW = cIdx(VW), cN = cIdx(n);
  frame.forEachRow([&](Value r) {
    Value zeroV = splat(cF(0.0));
    // Pass 1: x = in (+ res) -> out row, sum.
    auto sumLoop = scf::ForOp::create(b, loc, c0, cN, cVW, ValueRange{zeroV});
    {
      OpBuilder::InsertionGuard g2(b);
      b.setInsertionPointToStart(sumLoop.getBody());
      Value i = sumLoop.getInductionVar();
      Value x = vector::LoadOp::create(b, loc, vecT, in, ValueRange{r, i});
      if (res)
        x = arith::AddFOp::create(b, loc, x, vector::LoadOp::create(b, loc, vecT, res, ValueRange{r, i}));
      vector::StoreOp::create(b, loc, x, out, ValueRange{r, i});
      scf::YieldOp::create(b, loc, ValueRange{arith::AddFOp::create(b, loc, sumLoop.getRegionIterArgs()[0], x)});
    }
    Value invN = cF(1.0 / static_cast<double>(n));
    Value mean = arith::MulFOp::create(b,
        loc, vector::ReductionOp::create(b, loc, f32, vector::CombiningKind::ADD, sumLoop.getResult(0),
                                           Value(), arith::FastMathFlags::reassoc),
        invN);
    Value meanV = splat(mean);
    // Pass 2: variance around the mean, with the mean's rounding error
    // corrected (sum of deviations): var = E[d^2] - E[d]^2, mean += E[d].
    auto varLoop = scf::ForOp::create(b, loc, c0, cN, cVW, ValueRange{zeroV, zeroV});
    {
      OpBuilder::InsertionGuard g2(b);
      b.setInsertionPointToStart(varLoop.getBody());
      Value i = varLoop.getInductionVar();
      Value d = arith::SubFOp::create(b, loc, vector::LoadOp::create(b, loc, vecT, out, ValueRange{r, i}),
                                        meanV);
      ValueRange acc = varLoop.getRegionIterArgs();
      scf::YieldOp::create(b, loc, ValueRange{vector::FMAOp::create(b, loc, d, d, acc[0]),
                                             arith::AddFOp::create(b, loc, acc[1], d)});
    }
    auto rowMean = [&](Value v) {
      return arith::MulFOp::create(b,
          loc, vector::ReductionOp::create(b, loc, f32, vector::CombiningKind::ADD, v, Value(),
                                             arith::FastMathFlags::reassoc),
          invN);
    };
    Value dMean = rowMean(varLoop.getResult(1));
    Value var = arith::SubFOp::create(b, loc, rowMean(varLoop.getResult(0)),
                                        arith::MulFOp::create(b, loc, dMean, dMean));
    meanV = splat(arith::AddFOp::create(b, loc, mean, dMean));
    double eps = op.getEpsilon().convertToDouble();
    Value rstd = arith::DivFOp::create(b,
        loc, cF(1.0), math::SqrtOp::create(b, loc, arith::AddFOp::create(b, loc, var, cF(eps))));
    Value rstdV = splat(rstd);
    // Pass 3: normalize, scale, shift.
    auto normLoop = scf::ForOp::create(b, loc, c0, cN, cVW);
    {
      OpBuilder::InsertionGuard g2(b);
      b.setInsertionPointToStart(normLoop.getBody());
      Value i = normLoop.getInductionVar();
      Value x = vector::LoadOp::create(b, loc, vecT, out, ValueRange{r, i});
      Value y = arith::MulFOp::create(b, loc, arith::SubFOp::create(b, loc, x, meanV), rstdV);
      y = arith::MulFOp::create(b, loc, y, vector::LoadOp::create(b, loc, vecT, scale, ValueRange{i}));
      if (bias)
        y = arith::AddFOp::create(b, loc, y, vector::LoadOp::create(b, loc, vecT, bias, ValueRange{i}));
      vector::StoreOp::create(b, loc, y, out, ValueRange{r, i});
    }
  });
  return frame.reshapeBack(out);
}

//===----------------------------------------------------------------------===//
// RMSNorm
//
// attn.rms_norm over the trailing n elements of every row, rows in parallel
// like layer norm, each row in two vector passes:
//
//   x = input (+ residual); with a residual x is stored (into the sum
//   result when the op returns it, else into the output row); ss += x * x
//   (U independent FMA chains, U = 4, 2 or 1 as n / VW allows)
//   out = x * (1 / sqrt(ss / n + eps)) * scale     (x re-read: L1)
//===----------------------------------------------------------------------===//

std::optional<int64_t> attn::staticRowSize(RmsNormOp op) {
  return trailingRowSize(cast<RankedTensorType>(op.getInput().getType()), op.getAxis(),
                         {op.getScale()});
}

bool attn::canUseRmsNormKernel(RmsNormOp op, int64_t vectorWidth) {
  auto t = cast<RankedTensorType>(op.getInput().getType());
  if (vectorWidth <= 0 || !t.getElementType().isF32())
    return false;
  std::optional<int64_t> n = staticRowSize(op);
  return n && *n % vectorWidth == 0;
}

SmallVector<Value> attn::buildRmsNormKernel(OpBuilder &b, RmsNormOp op, int64_t VW) {
  Location loc = op.getLoc();
  RowFrame frame(b, loc, op.getInput(), op.getAxis(), *staticRowSize(op), VW);
  int64_t n = frame.n;
  Type f32 = frame.f32;
  VectorType vecT = frame.vecT;
  auto cIdx = [&](int64_t v) { return frame.cIdx(v); };
  auto cF = [&](double v) { return frame.cF(v); };
  auto splat = [&](Value s) { return frame.splat(s); };

  Value in = frame.asRows(op.getInput());
  Value res = op.getResidual() ? frame.asRows(op.getResidual()) : Value();
  Value scale = frame.asVec(op.getScale());
  Value out = frame.alloc();
  Value sumOut = op.getSum() ? frame.alloc() : Value();
  // Where pass 1 stores x (with a residual) and pass 2 reads it.
  Value xBuf = res ? (sumOut ? sumOut : out) : in;

  int64_t chunks = n / VW;
  int64_t U = chunks % 4 == 0 ? 4 : chunks % 2 == 0 ? 2 : 1;
  Value c0 = cIdx(0), cN = cIdx(n);
  frame.forEachRow([&](Value r) {
    Value zeroV = splat(cF(0.0));
    // Pass 1: x = in (+ res) (stored with a residual); U sums of squares.
    auto ssLoop = scf::ForOp::create(b, loc, c0, cN, cIdx(U * VW),
                                     SmallVector<Value>(U, zeroV));
    {
      OpBuilder::InsertionGuard g2(b);
      b.setInsertionPointToStart(ssLoop.getBody());
      SmallVector<Value> acc;
      for (int64_t u = 0; u < U; ++u) {
        Value i = arith::AddIOp::create(b, loc, ssLoop.getInductionVar(), cIdx(u * VW));
        Value x = vector::LoadOp::create(b, loc, vecT, in, ValueRange{r, i});
        if (res) {
          x = arith::AddFOp::create(b, loc, x, vector::LoadOp::create(b, loc, vecT, res, ValueRange{r, i}));
          vector::StoreOp::create(b, loc, x, xBuf, ValueRange{r, i});
        }
        acc.push_back(vector::FMAOp::create(b, loc, x, x, ssLoop.getRegionIterArgs()[u]));
      }
      scf::YieldOp::create(b, loc, acc);
    }
    Value ss = ssLoop.getResult(0);
    for (int64_t u = 1; u < U; ++u)
      ss = arith::AddFOp::create(b, loc, ss, ssLoop.getResult(u));
    Value ms = arith::MulFOp::create(b,
        loc, vector::ReductionOp::create(b, loc, f32, vector::CombiningKind::ADD, ss, Value(),
                                         arith::FastMathFlags::reassoc),
        cF(1.0 / static_cast<double>(n)));
    double eps = op.getEpsilon().convertToDouble();
    Value rstd = arith::DivFOp::create(b,
        loc, cF(1.0), math::SqrtOp::create(b, loc, arith::AddFOp::create(b, loc, ms, cF(eps))));
    Value rstdV = splat(rstd);
    // Pass 2: normalize and scale.
    auto normLoop = scf::ForOp::create(b, loc, c0, cN, cIdx(VW));
    {
      OpBuilder::InsertionGuard g2(b);
      b.setInsertionPointToStart(normLoop.getBody());
      Value i = normLoop.getInductionVar();
      Value x = vector::LoadOp::create(b, loc, vecT, xBuf, ValueRange{r, i});
      Value y = arith::MulFOp::create(b, loc, x, rstdV);
      y = arith::MulFOp::create(b, loc, y, vector::LoadOp::create(b, loc, vecT, scale, ValueRange{i}));
      vector::StoreOp::create(b, loc, y, out, ValueRange{r, i});
    }
  });
  SmallVector<Value> results{frame.reshapeBack(out)};
  if (sumOut)
    results.push_back(frame.reshapeBack(sumOut));
  // Result types may be more static than the input's.
  for (auto [v, ty] : llvm::zip(results, op.getResultTypes()))
    if (v.getType() != ty)
      v = tensor::CastOp::create(b, loc, ty, v);
  return results;
}
