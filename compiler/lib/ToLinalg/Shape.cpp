//===- Shape.cpp - attn layout and shape ops -> tensor/linalg -------------===//
//
// Transpose, Reshape (collapse/expand; run-time shapes checked against the
// element count), Expand, Concat, Slice, Shape, ConstantOfShape and Range.
//
//===----------------------------------------------------------------------===//
#include "ToLinalg/Patterns.h"
#include "Support/LoweringUtils.h"
#include "Support/RuntimeChecks.h"
#include "attn/Dialect/ShapeInference.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/IR/Matchers.h"

#include <limits>

using namespace mlir;
using namespace mlir::attn;

namespace {
struct TransposePattern : OpRewritePattern<TransposeOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(TransposeOp op, PatternRewriter &rw) const override {
    Location loc = op.getLoc();
    SmallVector<Value> in = getDimValues(rw, loc, op.getInput());
    SmallVector<Value> out;
    for (int64_t p : op.getPerm())
      out.push_back(in[p]);
    Value init = createEmptyTensor(rw, loc, rtype(op.getResult()), out);
    auto t = linalg::TransposeOp::create(rw, loc, op.getInput(), init, op.getPerm());
    rw.replaceOp(op, t.getResult()[0]);
    return success();
  }
};

/// Element `i` of a 1-D integer tensor as i64 (folded when constant).
static Value extractI64(OpBuilder &b, Location loc, Value t, int64_t i) {
  DenseElementsAttr attr;
  if (matchPattern(t, m_Constant(&attr)))
    return arith::ConstantIntOp::create(b,
        loc, (*(attr.getValues<APInt>().begin() + (attr.isSplat() ? 0 : i))).getSExtValue(), 64);
  Value idx = arith::ConstantIndexOp::create(b, loc, i);
  return toI64(b, loc, tensor::ExtractOp::create(b, loc, t, ValueRange{idx}));
}

/// Constant values of a 1-D integer tensor, if it is a constant.
static std::optional<SmallVector<int64_t>> constantI64s(Value t) {
  DenseElementsAttr attr;
  if (!matchPattern(t, m_Constant(&attr)))
    return std::nullopt;
  SmallVector<int64_t> v;
  for (APInt x : attr.getValues<APInt>())
    v.push_back(x.getSExtValue());
  return v;
}

struct ReshapePattern : OpRewritePattern<ReshapeOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(ReshapeOp op, PatternRewriter &rw) const override {
    Location loc = op.getLoc();
    auto rt = rtype(op.getResult());
    auto it = rtype(op.getInput());
    int64_t rank = rt.getRank();
    // Static shapes (and 0-d results) use collapse/expand: they fold with
    // their neighbours and avoid memref.reshape of 0-d buffers.
    // One element (scalars <-> [1] in shape arithmetic): rebuild it; MLIR 22's
    // expand-strided-metadata crashes on expand_shape of 0-d memrefs.
    if (it.hasStaticShape() && rt.hasStaticShape() && it.getNumElements() == 1 &&
        (it.getRank() == 0 || rank == 0)) {
      Value zero = arith::ConstantIndexOp::create(rw, loc, 0);
      SmallVector<Value> idx(it.getRank(), zero);
      Value v = tensor::ExtractOp::create(rw, loc, op.getInput(), idx);
      rw.replaceOpWithNewOp<tensor::FromElementsOp>(op, rt, ValueRange{v});
      return success();
    }
    if ((it.hasStaticShape() && rt.hasStaticShape()) || rank == 0) {
      Value v = op.getInput();
      auto reassocAll = [](int64_t r) {
        SmallVector<ReassociationIndices> re;
        if (r == 0)
          return re;
        re.push_back({});
        for (int64_t i = 0; i < r; ++i)
          re[0].push_back(i);
        return re;
      };
      if (rank == 0 || it.getRank() > 1)
        v = tensor::CollapseShapeOp::create(rw, loc, v, reassocAll(rank == 0 ? 0 : it.getRank()));
      if (rank > 0 && (it.getRank() == 0 || rank > 1))
        v = tensor::ExpandShapeOp::create(rw, loc, rt, v, reassocAll(it.getRank() == 0 ? 0 : rank));
      if (v.getType() != rt)
        return op.emitOpError("cannot reshape ") << it << " to " << rt;
      rw.replaceOp(op, v);
      return success();
    }
    SmallVector<Value> inDims = getDimValues(rw, loc, op.getInput());
    SmallVector<Value> out(rank);
    if (!rt.hasStaticShape()) {
      Value total = arith::ConstantIntOp::create(rw, loc, 1, 64);
      for (Value d : inDims)
        total = arith::MulIOp::create(rw, loc, total, toI64(rw, loc, d));
      Value c0 = arith::ConstantIntOp::create(rw, loc, 0, 64);
      Value cm1 = arith::ConstantIntOp::create(rw, loc, -1, 64);
      Value c1 = arith::ConstantIntOp::create(rw, loc, 1, 64);
      SmallVector<Value> vals, isNeg;
      Value known = c1;
      for (int64_t i = 0; i < rank; ++i) {
        Value s = extractI64(rw, loc, op.getShape(), i);
        if (!op.getAllowzero() && i < (int64_t)inDims.size()) {
          Value isZero = arith::CmpIOp::create(rw, loc, arith::CmpIPredicate::eq, s, c0);
          s = arith::SelectOp::create(rw, loc, isZero, toI64(rw, loc, inDims[i]), s);
        }
        Value neg = arith::CmpIOp::create(rw, loc, arith::CmpIPredicate::eq, s, cm1);
        known = arith::MulIOp::create(rw, loc, known,
                                         arith::SelectOp::create(rw, loc, neg, c1, s));
        vals.push_back(s);
        isNeg.push_back(neg);
      }
      // Guard against a zero divisor (an empty tensor reshaped with -1).
      Value isZeroKnown = arith::CmpIOp::create(rw, loc, arith::CmpIPredicate::eq, known, c0);
      Value safeKnown = arith::SelectOp::create(rw, loc, isZeroKnown, c1, known);
      Value inferred = arith::DivSIOp::create(rw, loc, total, safeKnown);
      for (int64_t i = 0; i < rank; ++i)
        out[i] = arith::SelectOp::create(rw, loc, isNeg[i], inferred, vals[i]);
      // The element count must be the input's. When it is not, the run
      // fails with that check and the result's dynamic dims are 0 (a view of
      // no elements: nothing reads past the input).
      Value count = c1;
      for (int64_t i = 0; i < rank; ++i)
        count = arith::MulIOp::create(rw,
            loc, count,
            rt.isDynamicDim(i) ? out[i]
                               : arith::ConstantIntOp::create(rw, loc, rt.getDimSize(i), 64).getResult());
      Value bad = arith::CmpIOp::create(rw, loc, arith::CmpIPredicate::ne, count, total);
      recordRuntimeCheck(rw, loc, bad, total, count,
                         describeNodeAt(loc) +
                             ": cannot reshape {a} elements into a shape of {b} elements");
      for (int64_t i = 0; i < rank; ++i)
        if (rt.isDynamicDim(i))
          out[i] = arith::SelectOp::create(rw, loc, bad, c0, out[i]);
    }
    // Collapse to 1-D and expand to the computed dims (memref.reshape with a
    // dynamic shape operand is avoided: upstream expand-strided-metadata
    // crashes on it in MLIR 22).
    SmallVector<OpFoldResult> outShape;
    for (int64_t i = 0; i < rank; ++i)
      outShape.push_back(rt.isDynamicDim(i)
                             ? OpFoldResult(toIndex(rw, loc, out[i]))
                             : OpFoldResult(rw.getIndexAttr(rt.getDimSize(i))));
    Value flat = op.getInput();
    if (it.getRank() != 1) {
      SmallVector<ReassociationIndices> re{{}};
      for (int64_t i = 0; i < it.getRank(); ++i)
        re[0].push_back(i);
      flat = tensor::CollapseShapeOp::create(rw, loc, flat, re);
    }
    SmallVector<ReassociationIndices> re{{}};
    for (int64_t i = 0; i < rank; ++i)
      re[0].push_back(i);
    if (rank == 1) {
      Value r = flat;
      if (r.getType() != rt)
        r = tensor::CastOp::create(rw, loc, rt, r);
      rw.replaceOp(op, r);
      return success();
    }
    // expand_shape wants the flat dim static exactly when every result dim is
    // (a static input may get a runtime shape, and the other way round).
    auto flatType = RankedTensorType::get(
        {rt.hasStaticShape() ? rt.getNumElements() : ShapedType::kDynamic},
        rt.getElementType());
    if (flat.getType() != flatType)
      flat = tensor::CastOp::create(rw, loc, flatType, flat);
    rw.replaceOpWithNewOp<tensor::ExpandShapeOp>(op, rt, flat, re, outShape);
    return success();
  }
};

struct ExpandPattern : OpRewritePattern<ExpandOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(ExpandOp op, PatternRewriter &rw) const override {
    Location loc = op.getLoc();
    auto rt = rtype(op.getResult());
    auto it = rtype(op.getInput());
    int64_t rank = rt.getRank(), off = rank - it.getRank();
    SmallVector<Value> inDims = getDimValues(rw, loc, op.getInput());
    SmallVector<Value> dims;
    for (int64_t i = 0; i < rank; ++i) {
      if (!rt.isDynamicDim(i)) {
        dims.push_back(arith::ConstantIndexOp::create(rw, loc, rt.getDimSize(i)));
        continue;
      }
      Value s = toIndex(rw, loc, extractI64(rw, loc, op.getShape(), i));
      if (i >= off)
        s = arith::MaxUIOp::create(rw, loc, s, inDims[i - off]);
      dims.push_back(s);
    }
    std::string node = describeNodeAt(loc);
    // A shape entry that is neither 1 nor the input's dim (nor the input's
    // dim 1) is an error, not a max.
    for (int64_t i = off; i < rank; ++i) {
      if (!rt.isDynamicDim(i) || it.getDimSize(i - off) == 1)
        continue;
      Value s = toIndex(rw, loc, extractI64(rw, loc, op.getShape(), i));
      Value one = arith::ConstantIndexOp::create(rw, loc, 1);
      Value in = inDims[i - off];
      Value bad = arith::AndIOp::create(rw,
          loc, arith::CmpIOp::create(rw, loc, arith::CmpIPredicate::ne, s, one),
          arith::AndIOp::create(rw,
              loc, arith::CmpIOp::create(rw, loc, arith::CmpIPredicate::ne, s, in),
              arith::CmpIOp::create(rw, loc, arith::CmpIPredicate::ne, in, one)));
      recordRuntimeCheck(rw, loc, bad, s, in,
                         node + ": shape entry " + std::to_string(i) +
                             " is {a} but the input's dimension is {b} (sizes must be equal or 1)");
    }
    guardResultDims(rw, loc, rt, dims, node);
    Value in = materializeDynamicBroadcast(rw, loc, op.getInput(), dims, node + ": the input");
    Value init = createEmptyTensor(rw, loc, rt, dims);
    SmallVector<AffineMap> maps{
        broadcastIndexingMap(rw.getContext(), cast<RankedTensorType>(in.getType()), rank),
        rw.getMultiDimIdentityMap(rank)};
    SmallVector<utils::IteratorType> iters(rank, utils::IteratorType::parallel);
    auto gen = linalg::GenericOp::create(rw,
        loc, TypeRange{rt}, ValueRange{in}, ValueRange{init}, maps, iters,
        [&](OpBuilder &b, Location l, ValueRange a) {
          linalg::YieldOp::create(b, l, a[0]);
        });
    rw.replaceOp(op, gen.getResult(0));
    return success();
  }
};

struct ConcatPattern : OpRewritePattern<ConcatOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(ConcatOp op, PatternRewriter &rw) const override {
    Location loc = op.getLoc();
    auto rt = rtype(op.getResult());
    int64_t rank = rt.getRank();
    int64_t axis = *normalizeAxis(op.getAxis(), rank);
    SmallVector<Value> dims = getDimValues(rw, loc, op.getInputs()[0]);
    Value total = arith::ConstantIndexOp::create(rw, loc, 0);
    for (Value v : op.getInputs())
      total = arith::AddIOp::create(rw,
          loc, total, getDimValues(rw, loc, v)[axis]);
    dims[axis] = total;
    Value result = createEmptyTensor(rw, loc, rt, dims);
    Value offset = arith::ConstantIndexOp::create(rw, loc, 0);
    std::string node = describeNodeAt(loc);
    for (auto [k, input] : llvm::enumerate(op.getInputs())) {
      Value v = input;
      SmallVector<Value> vd = getDimValues(rw, loc, v);
      if (k > 0) { // the other dims must be input 0's
        SmallVector<Value> target(dims);
        target[axis] = vd[axis];
        v = conformOperand(rw, loc, v, target, /*allowBroadcast=*/false,
                           node + ": input " + std::to_string(k), {axis});
        vd = getDimValues(rw, loc, v);
      }
      SmallVector<OpFoldResult> offs(rank, rw.getIndexAttr(0)), sizes, strides(rank, rw.getIndexAttr(1));
      offs[axis] = getAsOpFoldResult(offset);
      for (Value d : vd)
        sizes.push_back(getAsOpFoldResult(d));
      result = tensor::InsertSliceOp::create(rw, loc, v, result, offs, sizes, strides);
      offset = arith::AddIOp::create(rw, loc, offset, vd[axis]);
    }
    rw.replaceOp(op, result);
    return success();
  }
};

struct SlicePattern : OpRewritePattern<SliceOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(SliceOp op, PatternRewriter &rw) const override {
    Location loc = op.getLoc();
    auto it = rtype(op.getInput());
    int64_t rank = it.getRank();
    auto axes = constantI64s(op.getAxes());
    auto steps = constantI64s(op.getSteps());
    if (!axes || !steps)
      return op.emitOpError("lowering needs constant axes and steps");
    SmallVector<Value> dims = getDimValues(rw, loc, op.getInput());
    SmallVector<OpFoldResult> offs(rank, rw.getIndexAttr(0)), sizes, strides(rank, rw.getIndexAttr(1));
    for (Value d : dims)
      sizes.push_back(d);
    Value c0 = arith::ConstantIntOp::create(rw, loc, 0, 64);
    for (size_t k = 0; k < axes->size(); ++k) {
      auto axis = normalizeAxis((*axes)[k], rank);
      int64_t step = (*steps)[steps->size() == 1 ? 0 : k];
      if (!axis)
        return op.emitOpError("slice axis out of range");
      if (step <= 0)
        return op.emitOpError("lowering supports positive steps only, got ") << step;
      Value dim = toI64(rw, loc, dims[*axis]);
      auto clampIdx = [&](Value v) {
        Value neg = arith::CmpIOp::create(rw, loc, arith::CmpIPredicate::slt, v, c0);
        v = arith::SelectOp::create(rw, loc, neg, arith::AddIOp::create(rw, loc, v, dim), v);
        v = arith::MaxSIOp::create(rw, loc, v, c0);
        return arith::MinSIOp::create(rw, loc, v, dim).getResult();
      };
      Value start = clampIdx(extractI64(rw, loc, op.getStarts(), k));
      Value end = clampIdx(extractI64(rw, loc, op.getEnds(), k));
      Value len = arith::MaxSIOp::create(rw, loc, arith::SubIOp::create(rw, loc, end, start), c0);
      Value stepV = arith::ConstantIntOp::create(rw, loc, step, 64);
      Value size = arith::CeilDivSIOp::create(rw, loc, len, stepV);
      offs[*axis] = toIndex(rw, loc, start);
      sizes[*axis] = toIndex(rw, loc, size);
      strides[*axis] = rw.getIndexAttr(step);
    }
    auto sliceType = tensor::ExtractSliceOp::inferResultType(cast<RankedTensorType>(it), sizes);
    Value r = tensor::ExtractSliceOp::create(rw, loc, sliceType, op.getInput(), offs, sizes, strides);
    if (r.getType() != rtype(op.getResult()))
      r = tensor::CastOp::create(rw, loc, rtype(op.getResult()), r);
    rw.replaceOp(op, r);
    return success();
  }
};

struct ShapePattern : OpRewritePattern<ShapeOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(ShapeOp op, PatternRewriter &rw) const override {
    Location loc = op.getLoc();
    SmallVector<Value> dims = getDimValues(rw, loc, op.getInput());
    int64_t rank = dims.size();
    int64_t start = std::clamp<int64_t>(op.getStart() < 0 ? op.getStart() + rank : op.getStart(), 0, rank);
    int64_t end = std::clamp<int64_t>(op.getEnd() < 0 ? op.getEnd() + rank : op.getEnd(), 0, rank);
    SmallVector<Value> vals;
    for (int64_t i = start; i < end; ++i)
      vals.push_back(toI64(rw, loc, dims[i]));
    rw.replaceOpWithNewOp<tensor::FromElementsOp>(op, rtype(op.getResult()), vals);
    return success();
  }
};

struct ConstantOfShapePattern : OpRewritePattern<ConstantOfShapeOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(ConstantOfShapeOp op, PatternRewriter &rw) const override {
    Location loc = op.getLoc();
    auto rt = rtype(op.getResult());
    SmallVector<Value> dims;
    for (int64_t i = 0; i < rt.getRank(); ++i)
      dims.push_back(rt.isDynamicDim(i)
                         ? toIndex(rw, loc, extractI64(rw, loc, op.getShape(), i))
                         : arith::ConstantIndexOp::create(rw, loc, rt.getDimSize(i)).getResult());
    guardResultDims(rw, loc, rt, dims, describeNodeAt(loc));
    Value init = createEmptyTensor(rw, loc, rt, dims);
    Value v = arith::ConstantOp::create(rw, loc, op.getValue());
    rw.replaceOp(op, linalg::FillOp::create(rw, loc, v, init).getResult(0));
    return success();
  }
};

struct RangePattern : OpRewritePattern<RangeOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(RangeOp op, PatternRewriter &rw) const override {
    Location loc = op.getLoc();
    auto rt = rtype(op.getResult());
    Type et = rt.getElementType();
    auto scalar = [&](Value t) {
      return tensor::ExtractOp::create(rw, loc, t, ValueRange{}).getResult();
    };
    Value start = scalar(op.getStart()), limit = scalar(op.getLimit()),
          delta = scalar(op.getDelta());
    Value n;
    if (!rt.isDynamicDim(0)) {
      n = arith::ConstantIndexOp::create(rw, loc, rt.getDimSize(0));
    } else if (isFloat(et)) {
      // ceil((limit - start) / delta) in the element type. NaN (a NaN
      // operand, inf - inf, 0 / 0) and a zero delta are failed checks;
      // the count is clamped to [0, 2^62] before the conversion (fptosi of
      // an out-of-range value is poison), so an infinite range is refused
      // by the result-size guard below, never silently empty.
      auto cmpf = [&](arith::CmpFPredicate p, Value x, Value y) {
        return arith::CmpFOp::create(rw, loc, p, x, y).getResult();
      };
      auto fconst = [&](double v) {
        return arith::ConstantOp::create(rw, loc, rw.getFloatAttr(et, v)).getResult();
      };
      Value c0 = arith::ConstantIntOp::create(rw, loc, 0, 64);
      Value dZero = cmpf(arith::CmpFPredicate::OEQ, delta, fconst(0.0));
      recordRuntimeCheck(rw, loc, dZero, c0, c0, describeNodeAt(loc) + ": the delta is 0");
      Value q = math::CeilOp::create(rw,
          loc, arith::DivFOp::create(rw, loc, arith::SubFOp::create(rw, loc, limit, start), delta));
      Value nan = cmpf(arith::CmpFPredicate::UNO, q, q);
      Value bad = arith::AndIOp::create(rw, loc, nan,
                                        arith::XOrIOp::create(rw, loc, dZero,
                                                              arith::ConstantIntOp::create(rw, loc, 1, 1)));
      recordRuntimeCheck(rw, loc, bad, c0, c0,
                         describeNodeAt(loc) +
                             ": the element count ceil((limit - start) / delta) is NaN");
      Value big = fconst(4611686018427387904.0); // 2^62
      Value qc = arith::SelectOp::create(rw, loc, cmpf(arith::CmpFPredicate::UGT, q, big), big, q);
      qc = arith::SelectOp::create(rw, loc, cmpf(arith::CmpFPredicate::ULT, qc, fconst(0.0)),
                                   fconst(0.0), qc);
      Value c = arith::FPToSIOp::create(rw, loc, rw.getI64Type(), qc);
      c = arith::SelectOp::create(rw, loc, arith::OrIOp::create(rw, loc, nan, dZero), c0, c);
      n = toIndex(rw, loc, c);
    } else {
      // ceil((limit - start) / delta) without overflow: the distance
      // |limit - start| and |delta| as unsigned 64-bit values (exact for any
      // i64 operands), the count clamped to INT64_MAX (refused by the
      // result-size guard below).
      Value s = toI64(rw, loc, start), li = toI64(rw, loc, limit), d = toI64(rw, loc, delta);
      auto cmpi = [&](arith::CmpIPredicate p, Value x, Value y) {
        return arith::CmpIOp::create(rw, loc, p, x, y).getResult();
      };
      auto sel = [&](Value c, Value x, Value y) {
        return arith::SelectOp::create(rw, loc, c, x, y).getResult();
      };
      Value c0 = arith::ConstantIntOp::create(rw, loc, 0, 64);
      Value c1 = arith::ConstantIntOp::create(rw, loc, 1, 64);
      // A zero delta would divide by zero: a failed check, and no elements.
      Value isZero = cmpi(arith::CmpIPredicate::eq, d, c0);
      recordRuntimeCheck(rw, loc, isZero, d, c0, describeNodeAt(loc) + ": the delta is {a}");
      Value up = cmpi(arith::CmpIPredicate::sgt, d, c0);
      Value nonEmpty = sel(up, cmpi(arith::CmpIPredicate::sgt, li, s),
                           cmpi(arith::CmpIPredicate::slt, li, s));
      Value dist = sel(up, arith::SubIOp::create(rw, loc, li, s), arith::SubIOp::create(rw, loc, s, li));
      Value step = sel(up, d, arith::SubIOp::create(rw, loc, c0, d));
      step = sel(isZero, c1, step);
      Value q = arith::DivUIOp::create(rw, loc, dist, step);
      Value r = arith::RemUIOp::create(rw, loc, dist, step);
      Value c = arith::AddIOp::create(rw, loc, q,
                                      arith::ExtUIOp::create(rw, loc, rw.getI64Type(),
                                                             cmpi(arith::CmpIPredicate::ne, r, c0)));
      Value imax = arith::ConstantIntOp::create(rw, loc, std::numeric_limits<int64_t>::max(), 64);
      c = sel(cmpi(arith::CmpIPredicate::slt, c, c0), imax, c);
      c = sel(arith::AndIOp::create(rw, loc, nonEmpty,
                                    arith::XOrIOp::create(rw, loc, isZero,
                                                          arith::ConstantIntOp::create(rw, loc, 1, 1))),
              c, c0);
      n = toIndex(rw, loc, c);
    }
    if (rt.isDynamicDim(0)) {
      SmallVector<Value> dims{n};
      guardResultDims(rw, loc, rt, dims, describeNodeAt(loc));
      n = dims[0];
    }
    Value init = createEmptyTensor(rw, loc, rt, {n});
    SmallVector<AffineMap> maps{rw.getMultiDimIdentityMap(1)};
    auto gen = linalg::GenericOp::create(rw,
        loc, TypeRange{rt}, ValueRange{}, ValueRange{init}, maps,
        SmallVector<utils::IteratorType>{utils::IteratorType::parallel},
        [&](OpBuilder &b, Location l, ValueRange) {
          Value i = arith::IndexCastOp::create(b, l, b.getI64Type(), linalg::IndexOp::create(b, l, 0));
          Value v;
          if (isFloat(et))
            v = arith::AddFOp::create(b, l, start, arith::MulFOp::create(b, l, delta, arith::SIToFPOp::create(b, l, et, i)));
          else
            v = arith::AddIOp::create(b, l, start, arith::MulIOp::create(b, l, delta, convertScalar(b, l, i, et)));
          linalg::YieldOp::create(b, l, v);
        });
    rw.replaceOp(op, gen.getResult(0));
    return success();
  }
};
} // namespace

void attn::populateShapePatterns(RewritePatternSet &patterns) {
  patterns.add<TransposePattern, ReshapePattern, ExpandPattern, ConcatPattern,
               SlicePattern, ShapePattern, ConstantOfShapePattern,
               RangePattern>(patterns.getContext());
}
