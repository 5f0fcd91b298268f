//===- Normalization.cpp - reductions, softmax, layer norm -> linalg ------===//
//
// attn.reduce becomes a linalg.generic reduction (keeping the reduced dims as
// size 1, collapsed afterwards without keepdims); softmax and layer norm are
// built from such reductions and broadcasting elementwise generics, except
// that f32 layer norms the CPU vector kernel handles go to that kernel.
//
//===----------------------------------------------------------------------===//
#include "ToLinalg/Patterns.h"
#include "Support/LoweringUtils.h"
#include "Support/RuntimeChecks.h"
#include "Support/KernelRegion.h"
#include "CPU/LayerNormKernel.h"
#include "attn/Dialect/ShapeInference.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

using namespace mlir;
using namespace mlir::attn;

/// Reduces `input` over `reduced` dims (keeping them as size 1) with the
/// combiner `combine` starting from `initValue`, into `accType` elements
/// (default: the input's).
static Value reduceKeepDims(OpBuilder &b, Location loc, Value input,
                            ArrayRef<bool> reduced, Value initValue,
                            function_ref<Value(OpBuilder &, Location, Value, Value)> combine,
                            Type accType = {}) {
  auto it = cast<RankedTensorType>(input.getType());
  int64_t rank = it.getRank();
  SmallVector<int64_t> shape(it.getShape());
  SmallVector<Value> dims = getDimValues(b, loc, input);
  SmallVector<AffineExpr> outE;
  SmallVector<utils::IteratorType> iters;
  for (int64_t i = 0; i < rank; ++i) {
    if (reduced[i]) {
      shape[i] = 1;
      dims[i] = arith::ConstantIndexOp::create(b, loc, 1);
      outE.push_back(getAffineConstantExpr(0, b.getContext()));
      iters.push_back(utils::IteratorType::reduction);
    } else {
      outE.push_back(getAffineDimExpr(i, b.getContext()));
      iters.push_back(utils::IteratorType::parallel);
    }
  }
  auto outType = RankedTensorType::get(shape, accType ? accType : it.getElementType());
  Value init = createEmptyTensor(b, loc, outType, dims);
  Value filled = linalg::FillOp::create(b, loc, initValue, init).getResult(0);
  SmallVector<AffineMap> maps{b.getMultiDimIdentityMap(rank),
                              AffineMap::get(rank, 0, outE, b.getContext())};
  auto gen = linalg::GenericOp::create(b,
      loc, TypeRange{outType}, ValueRange{input}, ValueRange{filled}, maps, iters,
      [&](OpBuilder &bb, Location l, ValueRange a) {
        linalg::YieldOp::create(bb, l, combine(bb, l, a[1], a[0]));
      });
  return gen.getResult(0);
}

static Value addF(OpBuilder &b, Location l, Value x, Value y) {
  return arith::AddFOp::create(b, l, x, y);
}
static Value maxF(OpBuilder &b, Location l, Value x, Value y) {
  return arith::MaximumFOp::create(b, l, x, y);
}

/// Number of elements over the reduced dims as a scalar of `type`.
static Value reducedCount(OpBuilder &b, Location loc, Value input,
                          ArrayRef<bool> reduced, Type type) {
  SmallVector<Value> dims = getDimValues(b, loc, input);
  Value n = arith::ConstantIndexOp::create(b, loc, 1);
  for (size_t i = 0; i < reduced.size(); ++i)
    if (reduced[i])
      n = arith::MulIOp::create(b, loc, n, dims[i]);
  Value n64 = arith::IndexCastOp::create(b, loc, b.getI64Type(), n);
  if (isFloat(type))
    return arith::SIToFPOp::create(b, loc, type, n64);
  return convertScalar(b, loc, n64, type);
}

namespace {
struct ReducePattern : OpRewritePattern<ReduceOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(ReduceOp op, PatternRewriter &rw) const override {
    Location loc = op.getLoc();
    auto it = rtype(op.getInput());
    Type et = it.getElementType();
    int64_t rank = it.getRank();
    SmallVector<bool> reduced(rank, false);
    for (int64_t a : op.getAxes())
      reduced[*normalizeAxis(a, rank)] = true;
    bool f = isFloat(et);
    Value initV;
    std::function<Value(OpBuilder &, Location, Value, Value)> combine;
    switch (op.getKind()) {
    case ReduceKind::sum:
    case ReduceKind::mean:
      initV = createScalarConstant(rw, loc, et, 0);
      combine = [](OpBuilder &b, Location l, Value x, Value y) {
        return ArithBuilder(b, l).add(x, y);
      };
      break;
    case ReduceKind::prod:
      initV = createScalarConstant(rw, loc, et, 1);
      combine = [](OpBuilder &b, Location l, Value x, Value y) {
        return ArithBuilder(b, l).mul(x, y);
      };
      break;
    case ReduceKind::max:
      initV = f ? createScalarConstant(rw, loc, et, -INFINITY)
                : arith::ConstantOp::create(rw, loc, rw.getIntegerAttr(et, APInt::getSignedMinValue(et.getIntOrFloatBitWidth()))).getResult();
      combine = [f](OpBuilder &b, Location l, Value x, Value y) -> Value {
        return f ? arith::MaximumFOp::create(b, l, x, y).getResult() : arith::MaxSIOp::create(b, l, x, y).getResult();
      };
      break;
    case ReduceKind::min:
      initV = f ? createScalarConstant(rw, loc, et, INFINITY)
                : arith::ConstantOp::create(rw, loc, rw.getIntegerAttr(et, APInt::getSignedMaxValue(et.getIntOrFloatBitWidth()))).getResult();
      combine = [f](OpBuilder &b, Location l, Value x, Value y) -> Value {
        return f ? arith::MinimumFOp::create(b, l, x, y).getResult() : arith::MinSIOp::create(b, l, x, y).getResult();
      };
      break;
    }
    Value r = reduceKeepDims(rw, loc, op.getInput(), reduced, initV, combine);
    if (op.getKind() == ReduceKind::mean) {
      Value n = reducedCount(rw, loc, op.getInput(), reduced, et);
      auto rtype = cast<RankedTensorType>(r.getType());
      r = buildElementwise(rw, loc, rtype, ValueRange{r},
                           [&](OpBuilder &b, Location l, ValueRange a) -> Value {
                             return f ? arith::DivFOp::create(b, l, a[0], n).getResult()
                                      : arith::DivSIOp::create(b, l, a[0], n).getResult();
                           });
    }
    if (!op.getKeepdims()) {
      SmallVector<ReassociationIndices> re;
      ReassociationIndices cur;
      for (int64_t i = 0; i < rank; ++i) {
        cur.push_back(i);
        if (!reduced[i]) {
          re.push_back(cur);
          cur.clear();
        }
      }
      if (!cur.empty()) {
        if (re.empty())
          re.push_back({});
        re.back().append(cur.begin(), cur.end());
      }
      if (rtype(op.getResult()).getRank() == 0)
        re.clear();
      r = tensor::CollapseShapeOp::create(rw, loc, rtype(op.getResult()), r, re);
    }
    rw.replaceOp(op, r);
    return success();
  }
};

struct SoftmaxPattern : OpRewritePattern<SoftmaxOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(SoftmaxOp op, PatternRewriter &rw) const override {
    Location loc = op.getLoc();
    auto t = rtype(op.getResult());
    Type et = t.getElementType();
    int64_t rank = t.getRank();
    SmallVector<bool> reduced(rank, false);
    reduced[*normalizeAxis(op.getAxis(), rank)] = true;
    Value x = op.getInput();
    Value mx = reduceKeepDims(rw, loc, x, reduced, createScalarConstant(rw, loc, et, -INFINITY), maxF);
    Value e = buildElementwise(rw, loc, t, ValueRange{x, mx},
                               [](OpBuilder &b, Location l, ValueRange a) -> Value {
                                 return math::ExpOp::create(b, l, arith::SubFOp::create(b, l, a[0], a[1]));
                               });
    Value s = reduceKeepDims(rw, loc, e, reduced, createScalarConstant(rw, loc, et, 0), addF);
    Value r = buildElementwise(rw, loc, t, ValueRange{e, s},
                               [](OpBuilder &b, Location l, ValueRange a) -> Value {
                                 return arith::DivFOp::create(b, l, a[0], a[1]);
                               });
    rw.replaceOp(op, r);
    return success();
  }
};

struct LayerNormPattern : OpRewritePattern<LayerNormOp> {
  LayerNormPattern(MLIRContext *ctx, int64_t vectorWidth)
      : OpRewritePattern(ctx), vectorWidth(vectorWidth) {}
  int64_t vectorWidth;
  LogicalResult matchAndRewrite(LayerNormOp op, PatternRewriter &rw) const override {
    if (canUseLayerNormKernel(op, vectorWidth)) {
      // The kernel reads the residual row by row with the input's rows: its
      // dims must be the input's (checked at run time where not static).
      if (Value res = op.getResidual()) {
        Value conformed =
            conformOperand(rw, op.getLoc(), res, getDimValues(rw, op.getLoc(), op.getInput()),
                           /*allowBroadcast=*/false, describeNode(op) + ": the residual");
        if (conformed != res) {
          if (conformed.getType() != res.getType())
            conformed = tensor::CastOp::create(rw, op.getLoc(), res.getType(), conformed);
          rw.modifyOpInPlace(op, [&] { op.getResidualMutable().assign(conformed); });
        }
      }
      // A function shared by every layer norm of this shape (Support/KernelRegion.h).
      scf::ExecuteRegionOp region =
          openKernelRegion(rw, op.getLoc(), "layer_norm", op->getResultTypes());
      Value r = buildLayerNormKernel(rw, op, vectorWidth);
      rw.replaceOp(op, closeKernelRegion(rw, region, r));
      return success();
    }
    Location loc = op.getLoc();
    auto t = rtype(op.getResult());
    Type et = t.getElementType();
    int64_t rank = t.getRank();
    int64_t axis = *normalizeAxis(op.getAxis(), rank);
    SmallVector<bool> reduced(rank, false);
    for (int64_t i = axis; i < rank; ++i)
      reduced[i] = true;
    Value x = op.getInput();
    if (op.getResidual())
      x = buildElementwise(rw, loc, t, ValueRange{x, op.getResidual()},
                           [](OpBuilder &b, Location l, ValueRange a) -> Value {
                             return arith::AddFOp::create(b, l, a[0], a[1]);
                           });
    Value n = reducedCount(rw, loc, x, reduced, et);
    Value zero = createScalarConstant(rw, loc, et, 0);
    Value sum = reduceKeepDims(rw, loc, x, reduced, zero, addF);
    auto st = cast<RankedTensorType>(sum.getType());
    Value mean = buildElementwise(rw, loc, st, ValueRange{sum},
                                  [&](OpBuilder &b, Location l, ValueRange a) -> Value {
                                    return arith::DivFOp::create(b, l, a[0], n);
                                  });
    Value centered = buildElementwise(rw, loc, t, ValueRange{x, mean},
                                      [](OpBuilder &b, Location l, ValueRange a) -> Value {
                                        return arith::SubFOp::create(b, l, a[0], a[1]);
                                      });
    Value sq = reduceKeepDims(rw, loc, centered, reduced, zero,
                              [](OpBuilder &b, Location l, Value acc, Value v) -> Value {
                                return arith::AddFOp::create(b, l, acc, arith::MulFOp::create(b, l, v, v));
                              });
    double eps = op.getEpsilon().convertToDouble();
    Value rstd = buildElementwise(rw, loc, st, ValueRange{sq},
                                  [&](OpBuilder &b, Location l, ValueRange a) -> Value {
                                    Value var = arith::DivFOp::create(b, l, a[0], n);
                                    Value ve = arith::AddFOp::create(b, l, var, createScalarConstant(b, l, et, eps));
                                    return math::RsqrtOp::create(b, l, ve);
                                  });
    SmallVector<Value> operands{centered, rstd, op.getScale()};
    if (op.getBias())
      operands.push_back(op.getBias());
    bool hasBias = static_cast<bool>(op.getBias());
    Value r = buildElementwise(rw, loc, t, operands,
                               [&](OpBuilder &b, Location l, ValueRange a) -> Value {
                                 Value v = arith::MulFOp::create(b, l, arith::MulFOp::create(b, l, a[0], a[1]), a[2]);
                                 return hasBias ? arith::AddFOp::create(b, l, v, a[3]).getResult() : v;
                               });
    rw.replaceOp(op, r);
    return success();
  }
};
/// attn.rms_norm: the CPU row kernel where it applies, else h = x (+ r),
/// ss = sum(h * h) over the normalized dims (accumulated in f32 for
/// narrower types), h * rsqrt(ss / n + eps) * scale.
struct RmsNormPattern : OpRewritePattern<RmsNormOp> {
  RmsNormPattern(MLIRContext *ctx, int64_t vectorWidth)
      : OpRewritePattern(ctx), vectorWidth(vectorWidth) {}
  int64_t vectorWidth;
  LogicalResult matchAndRewrite(RmsNormOp op, PatternRewriter &rw) const override {
    Location loc = op.getLoc();
    if (canUseRmsNormKernel(op, vectorWidth)) {
      // The kernel reads the residual row by row with the input's rows.
      if (Value res = op.getResidual()) {
        Value conformed =
            conformOperand(rw, loc, res, getDimValues(rw, loc, op.getInput()),
                           /*allowBroadcast=*/false, describeNode(op) + ": the residual");
        if (conformed != res) {
          if (conformed.getType() != res.getType())
            conformed = tensor::CastOp::create(rw, loc, res.getType(), conformed);
          rw.modifyOpInPlace(op, [&] { op.getResidualMutable().assign(conformed); });
        }
      }
      scf::ExecuteRegionOp region = openKernelRegion(rw, loc, "rms_norm", op->getResultTypes());
      SmallVector<Value> r = buildRmsNormKernel(rw, op, vectorWidth);
      rw.replaceOp(op, closeKernelRegion(rw, region, r));
      return success();
    }
    auto t = rtype(op.getInput());
    Type et = t.getElementType();
    int64_t rank = t.getRank();
    int64_t axis = *normalizeAxis(op.getAxis(), rank);
    SmallVector<bool> reduced(rank, false);
    for (int64_t i = axis; i < rank; ++i)
      reduced[i] = true;
    Value x = op.getInput();
    if (op.getResidual())
      x = buildElementwise(rw, loc, t, ValueRange{x, op.getResidual()},
                           [](OpBuilder &b, Location l, ValueRange a) -> Value {
                             return arith::AddFOp::create(b, l, a[0], a[1]);
                           });
    // Statistics in f32 at least.
    Type acc = et.getIntOrFloatBitWidth() < 32 ? Type(rw.getF32Type()) : et;
    auto widen = [acc](OpBuilder &b, Location l, Value v) -> Value {
      return v.getType() == acc ? v : arith::ExtFOp::create(b, l, acc, v).getResult();
    };
    Value n = reducedCount(rw, loc, x, reduced, acc);
    Value sq = reduceKeepDims(
        rw, loc, x, reduced, createScalarConstant(rw, loc, acc, 0),
        [&](OpBuilder &b, Location l, Value a, Value v) -> Value {
          Value w = widen(b, l, v);
          return arith::AddFOp::create(b, l, a, arith::MulFOp::create(b, l, w, w));
        },
        acc);
    double eps = op.getEpsilon().convertToDouble();
    auto st = cast<RankedTensorType>(sq.getType());
    Value rstd = buildElementwise(rw, loc, st, ValueRange{sq},
                                  [&](OpBuilder &b, Location l, ValueRange a) -> Value {
                                    Value ms = arith::DivFOp::create(b, l, a[0], n);
                                    Value e = arith::AddFOp::create(b, l, ms, createScalarConstant(b, l, acc, eps));
                                    return math::RsqrtOp::create(b, l, e);
                                  });
    Value r = buildElementwise(rw, loc, t, ValueRange{x, rstd, op.getScale()},
                               [&](OpBuilder &b, Location l, ValueRange a) -> Value {
                                 Value v = arith::MulFOp::create(b, l, widen(b, l, a[0]), a[1]);
                                 v = arith::MulFOp::create(b, l, v, widen(b, l, a[2]));
                                 return v.getType() == et ? v
                                     : arith::TruncFOp::create(b, l, et, v).getResult();
                               });
    SmallVector<Value> results{r};
    if (op.getSum())
      results.push_back(x);
    for (auto [v, ty] : llvm::zip(results, op.getResultTypes()))
      if (v.getType() != ty)
        v = tensor::CastOp::create(rw, loc, ty, v);
    rw.replaceOp(op, results);
    return success();
  }
};
} // namespace

void attn::populateNormalizationPatterns(RewritePatternSet &patterns,
                                         int64_t vectorWidth) {
  patterns.add<ReducePattern, SoftmaxPattern>(patterns.getContext());
  patterns.add<LayerNormPattern, RmsNormPattern>(patterns.getContext(), vectorWidth);
}
