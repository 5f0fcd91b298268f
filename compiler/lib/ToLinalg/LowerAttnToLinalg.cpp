//===- LowerAttnToLinalg.cpp - attn tensor ops -> linalg/tensor/arith -----===//
//
// Every attn op except attn.attention (see LowerAttentionToLoops.cpp) becomes
// linalg on tensors. Dims are read with tensor.dim, so one lowering serves
// static and dynamic shapes.
//
//===----------------------------------------------------------------------===//
#include "Support/LoweringUtils.h"
#include "CPU/LayerNormKernel.h"
#include "CPU/MatmulKernel.h"
#include "Support/RuntimeChecks.h"
#include "attn/Compiler/Passes.h"
#include "attn/Dialect/ShapeInference.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/DialectConversion.h"

namespace mlir::attn {
#define GEN_PASS_DEF_LOWERATTNTOLINALGPASS
#include "attn/Compiler/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;

/// Marks the linalg.generic computing "some Gather index was out of range";
/// the pass returns the OR of all such flags as an extra function result.
static constexpr llvm::StringLiteral kIndexCheckAttr = "attn.index_check";

static RankedTensorType rtype(Value v) {
  return cast<RankedTensorType>(v.getType());
}

using ScalarBody = function_ref<Value(OpBuilder &, Location, ValueRange)>;

/// A broadcasting elementwise linalg.generic computing `body` per element.
static Value buildElementwise(OpBuilder &b, Location loc,
                              RankedTensorType resultType, ValueRange operands,
                              ScalarBody body) {
  int64_t rank = resultType.getRank();
  SmallVector<Value> dims = broadcastResultDims(b, loc, resultType, operands);
  SmallVector<Value> ins;
  SmallVector<AffineMap> maps;
  std::string node = describeNodeAt(loc);
  for (auto [k, v] : llvm::enumerate(operands)) {
    Value in = materializeDynamicBroadcast(b, loc, v, dims,
                                           node + ": operand " + std::to_string(k));
    ins.push_back(in);
    maps.push_back(broadcastIndexingMap(
        b.getContext(), cast<RankedTensorType>(in.getType()), rank));
  }
  maps.push_back(b.getMultiDimIdentityMap(rank));
  Value init = createEmptyTensor(b, loc, resultType, dims);
  SmallVector<utils::IteratorType> iters(rank, utils::IteratorType::parallel);
  auto gen = linalg::GenericOp::create(b,
      loc, TypeRange{resultType}, ins, ValueRange{init}, maps, iters,
      [&](OpBuilder &bb, Location bl, ValueRange args) {
        linalg::YieldOp::create(bb, bl, body(bb, bl, args.drop_back()));
      });
  return gen.getResult(0);
}

static bool isFloat(Type t) { return isa<FloatType>(t); }

/// The signless integer type of `t`'s width (arith ops take only signless
/// integers; unsigned ONNX tensors are computed on as signless values, with
/// unsigned ops where signedness matters).
static Type signlessType(Type t) {
  if (auto it = dyn_cast<IntegerType>(t); it && !it.isSignless())
    return IntegerType::get(t.getContext(), it.getWidth());
  return t;
}
static bool isUnsignedInt(Type t) {
  auto it = dyn_cast<IntegerType>(getElementTypeOrSelf(t));
  return it && it.isUnsigned();
}

/// Converts a scalar between element types with ONNX Cast semantics. `v`
/// and `to` may be unsigned integer types; the result is of type `to`.
static Value convertScalar(OpBuilder &b, Location loc, Value v, Type to);
static Value convertSignless(OpBuilder &b, Location loc, Value v, Type to,
                             bool fromUnsigned, bool toUnsigned);
static Value castSignedness(OpBuilder &b, Location loc, Value v, Type to) {
  if (v.getType() == to)
    return v;
  return UnrealizedConversionCastOp::create(b, loc, to, v).getResult(0);
}
static Value convertScalar(OpBuilder &b, Location loc, Value v, Type to) {
  Type from = v.getType();
  if (from == to)
    return v;
  bool fu = isUnsignedInt(from), tu = isUnsignedInt(to);
  if (fu || tu) {
    Value r = convertSignless(b, loc, castSignedness(b, loc, v, signlessType(from)),
                              signlessType(to), fu, tu);
    return castSignedness(b, loc, r, to);
  }
  return convertSignless(b, loc, v, to, false, false);
}
static Value convertSignless(OpBuilder &b, Location loc, Value v, Type to,
                             bool fromUnsignedType, bool toUnsigned) {
  Type from = v.getType();
  if (from == to)
    return v;
  if (to.isInteger(1)) {
    if (isFloat(from))
      return arith::CmpFOp::create(b, loc, arith::CmpFPredicate::UNE, v,
                                     createScalarConstant(b, loc, from, 0));
    return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ne, v,
                                   createScalarConstant(b, loc, from, 0));
  }
  if (isFloat(from) && isFloat(to)) {
    if (from.getIntOrFloatBitWidth() < to.getIntOrFloatBitWidth())
      return arith::ExtFOp::create(b, loc, to, v);
    return arith::TruncFOp::create(b, loc, to, v);
  }
  if (isFloat(from))
    return toUnsigned ? arith::FPToUIOp::create(b, loc, to, v).getResult()
                      : arith::FPToSIOp::create(b, loc, to, v).getResult();
  bool fromUnsigned = from.isInteger(1) || fromUnsignedType;
  if (isFloat(to))
    return fromUnsigned ? arith::UIToFPOp::create(b, loc, to, v).getResult()
                        : arith::SIToFPOp::create(b, loc, to, v).getResult();
  unsigned fw = from.getIntOrFloatBitWidth(), tw = to.getIntOrFloatBitWidth();
  if (fw < tw)
    return fromUnsigned ? arith::ExtUIOp::create(b, loc, to, v).getResult()
                        : arith::ExtSIOp::create(b, loc, to, v).getResult();
  if (fw > tw)
    return arith::TruncIOp::create(b, loc, to, v);
  return arith::BitcastOp::create(b, loc, to, v);
}

/// Whether `v` is a splat constant equal to `x`.
static bool isSplatConstant(Value v, double x) {
  DenseElementsAttr attr;
  if (!matchPattern(v, m_Constant(&attr)) || !attr.isSplat())
    return false;
  if (auto ft = dyn_cast<FloatType>(attr.getElementType()))
    return attr.getSplatValue<APFloat>().convertToDouble() == x;
  if (attr.getElementType().isInteger(1))
    return false;
  return attr.getSplatValue<APInt>().getSExtValue() == static_cast<int64_t>(x);
}

//===----------------------------------------------------------------------===//
// Elementwise patterns
//===----------------------------------------------------------------------===//

namespace {
template <typename OpTy>
struct ElementwisePattern : OpRewritePattern<OpTy> {
  using OpRewritePattern<OpTy>::OpRewritePattern;
  using BodyFn = std::function<Value(OpBuilder &, Location, ValueRange, OpTy)>;
  ElementwisePattern(MLIRContext *ctx, BodyFn fn)
      : OpRewritePattern<OpTy>(ctx), fn(std::move(fn)) {}
  LogicalResult matchAndRewrite(OpTy op, PatternRewriter &rw) const override {
    auto type = cast<RankedTensorType>(op->getResult(0).getType());
    // Unsigned integers: the body computes on signless values (bodies that
    // depend on signedness look at the op's types), cast at its edges.
    bool anyUnsigned = isUnsignedInt(type) || llvm::any_of(op->getOperandTypes(), isUnsignedInt);
    Value r = buildElementwise(
        rw, op.getLoc(), type, op->getOperands(),
        [&](OpBuilder &b, Location l, ValueRange a) -> Value {
          if (!anyUnsigned || isa<CastOp>(op.getOperation()))
            return fn(b, l, a, op);
          SmallVector<Value> sl;
          for (Value v : a)
            sl.push_back(castSignedness(b, l, v, signlessType(v.getType())));
          return castSignedness(b, l, fn(b, l, sl, op), type.getElementType());
        });
    rw.replaceOp(op, r);
    return success();
  }
  BodyFn fn;
};
} // namespace

template <typename OpTy, typename FOp, typename IOp, typename UOp = IOp>
static void addArith(RewritePatternSet &p) {
  p.add<ElementwisePattern<OpTy>>(
      p.getContext(), [](OpBuilder &b, Location l, ValueRange a, OpTy op) -> Value {
        if (isFloat(a[0].getType()))
          return FOp::create(b, l, a[0], a[1]);
        if (isUnsignedInt(op->getOperand(0).getType()))
          return UOp::create(b, l, a[0], a[1]);
        return IOp::create(b, l, a[0], a[1]);
      });
}

template <typename OpTy, typename FOp>
static void addFloatUnary(RewritePatternSet &p) {
  p.add<ElementwisePattern<OpTy>>(
      p.getContext(), [](OpBuilder &b, Location l, ValueRange a, OpTy) -> Value {
        return FOp::create(b, l, a[0]);
      });
}

static void populateElementwisePatterns(RewritePatternSet &p) {
  MLIRContext *ctx = p.getContext();
  addArith<AddOp, arith::AddFOp, arith::AddIOp>(p);
  addArith<SubOp, arith::SubFOp, arith::SubIOp>(p);
  addArith<MulOp, arith::MulFOp, arith::MulIOp>(p);
  // Integer division by zero (and INT_MIN / -1) would trap: ONNX leaves the
  // result undefined; here it is 0 (and the wrapped -INT_MIN), never a
  // signal.
  p.add<ElementwisePattern<DivOp>>(
      ctx, [](OpBuilder &b, Location l, ValueRange a, DivOp op) -> Value {
        if (isFloat(a[0].getType()))
          return arith::DivFOp::create(b, l, a[0], a[1]);
        Type t = a[0].getType();
        Value zero = createScalarConstant(b, l, t, 0), one = createScalarConstant(b, l, t, 1);
        Value isZero = arith::CmpIOp::create(b, l, arith::CmpIPredicate::eq, a[1], zero);
        Value safe = arith::SelectOp::create(b, l, isZero, one, a[1]);
        Value q;
        if (isUnsignedInt(op.getLhs().getType()) || t.isInteger(1)) {
          q = arith::DivUIOp::create(b, l, a[0], safe);
        } else {
          Value minusOne = createScalarConstant(b, l, t, -1);
          Value isM1 = arith::CmpIOp::create(b, l, arith::CmpIPredicate::eq, safe, minusOne);
          Value safe2 = arith::SelectOp::create(b, l, isM1, one, safe);
          Value div = arith::DivSIOp::create(b, l, a[0], safe2);
          q = arith::SelectOp::create(b, l, isM1, arith::SubIOp::create(b, l, zero, a[0]), div);
        }
        return arith::SelectOp::create(b, l, isZero, zero, q);
      });
  addArith<MaxOp, arith::MaximumFOp, arith::MaxSIOp, arith::MaxUIOp>(p);
  addArith<MinOp, arith::MinimumFOp, arith::MinSIOp, arith::MinUIOp>(p);
  addArith<AndOp, arith::AndIOp, arith::AndIOp>(p);
  addArith<OrOp, arith::OrIOp, arith::OrIOp>(p);
  addArith<XorOp, arith::XOrIOp, arith::XOrIOp>(p);
  p.add<ElementwisePattern<PowOp>>(
      ctx, [](OpBuilder &b, Location l, ValueRange a, PowOp op) -> Value {
        // x^2 and x^0.5 are the common cases (variance, norms).
        if (isSplatConstant(op.getRhs(), 2.0))
          return isFloat(a[0].getType())
                     ? arith::MulFOp::create(b, l, a[0], a[0]).getResult()
                     : arith::MulIOp::create(b, l, a[0], a[0]).getResult();
        if (isFloat(a[0].getType())) {
          if (isSplatConstant(op.getRhs(), 0.5))
            return math::SqrtOp::create(b, l, a[0]);
          return math::PowFOp::create(b, l, a[0], a[1]);
        }
        return math::IPowIOp::create(b, l, a[0], a[1]);
      });
  p.add<ElementwisePattern<CmpOp>>(
      ctx, [](OpBuilder &b, Location l, ValueRange a, CmpOp op) -> Value {
        if (isFloat(a[0].getType())) {
          arith::CmpFPredicate pred;
          switch (op.getPredicate()) {
          case CmpPredicate::eq: pred = arith::CmpFPredicate::OEQ; break;
          case CmpPredicate::ne: pred = arith::CmpFPredicate::UNE; break;
          case CmpPredicate::lt: pred = arith::CmpFPredicate::OLT; break;
          case CmpPredicate::le: pred = arith::CmpFPredicate::OLE; break;
          case CmpPredicate::gt: pred = arith::CmpFPredicate::OGT; break;
          case CmpPredicate::ge: pred = arith::CmpFPredicate::OGE; break;
          }
          return arith::CmpFOp::create(b, l, pred, a[0], a[1]);
        }
        arith::CmpIPredicate pred =
            integerPredicate(op.getPredicate(), getElementTypeOrSelf(op.getLhs().getType()));
        return arith::CmpIOp::create(b, l, pred, a[0], a[1]);
      });
  p.add<ElementwisePattern<SelectOp>>(
      ctx, [](OpBuilder &b, Location l, ValueRange a, SelectOp) -> Value {
        return arith::SelectOp::create(b, l, a[0], a[1], a[2]);
      });
  p.add<ElementwisePattern<NegOp>>(
      ctx, [](OpBuilder &b, Location l, ValueRange a, NegOp) -> Value {
        if (isFloat(a[0].getType()))
          return arith::NegFOp::create(b, l, a[0]);
        return arith::SubIOp::create(b,
            l, createScalarConstant(b, l, a[0].getType(), 0), a[0]);
      });
  p.add<ElementwisePattern<AbsOp>>(
      ctx, [](OpBuilder &b, Location l, ValueRange a, AbsOp) -> Value {
        if (isFloat(a[0].getType()))
          return math::AbsFOp::create(b, l, a[0]);
        return math::AbsIOp::create(b, l, a[0]);
      });
  addFloatUnary<ExpOp, math::ExpOp>(p);
  addFloatUnary<LogOp, math::LogOp>(p);
  addFloatUnary<SqrtOp, math::SqrtOp>(p);
  addFloatUnary<TanhOp, math::TanhOp>(p);
  addFloatUnary<ErfOp, math::ErfOp>(p);
  addFloatUnary<FloorOp, math::FloorOp>(p);
  addFloatUnary<CeilOp, math::CeilOp>(p);
  p.add<ElementwisePattern<ReciprocalOp>>(
      ctx, [](OpBuilder &b, Location l, ValueRange a, ReciprocalOp) -> Value {
        return arith::DivFOp::create(b,
            l, createScalarConstant(b, l, a[0].getType(), 1), a[0]);
      });
  p.add<ElementwisePattern<SigmoidOp>>(
      ctx, [](OpBuilder &b, Location l, ValueRange a, SigmoidOp) -> Value {
        Type t = a[0].getType();
        Value e = math::ExpOp::create(b, l, arith::NegFOp::create(b, l, a[0]));
        Value one = createScalarConstant(b, l, t, 1);
        return arith::DivFOp::create(b, l, one,
                                       arith::AddFOp::create(b, l, one, e));
      });
  p.add<ElementwisePattern<ReluOp>>(
      ctx, [](OpBuilder &b, Location l, ValueRange a, ReluOp) -> Value {
        Value zero = createScalarConstant(b, l, a[0].getType(), 0);
        if (isFloat(a[0].getType()))
          return arith::MaximumFOp::create(b, l, a[0], zero);
        return arith::MaxSIOp::create(b, l, a[0], zero);
      });
  p.add<ElementwisePattern<NotOp>>(
      ctx, [](OpBuilder &b, Location l, ValueRange a, NotOp) -> Value {
        return arith::XOrIOp::create(b,
            l, a[0], arith::ConstantIntOp::create(b, l, 1, 1));
      });
  p.add<ElementwisePattern<GeluOp>>(
      ctx, [](OpBuilder &b, Location l, ValueRange a, GeluOp op) -> Value {
        return applyActivation(b, l, a[0],
                               op.getTanhApproximation() ? Activation::gelu_tanh
                                                         : Activation::gelu);
      });
  p.add<ElementwisePattern<CastOp>>(
      ctx, [](OpBuilder &b, Location l, ValueRange a, CastOp op) -> Value {
        return convertScalar(b, l, a[0], rtype(op.getResult()).getElementType());
      });
}

//===----------------------------------------------------------------------===//
// Matmul
//===----------------------------------------------------------------------===//

/// act(x [b..., K] · w [K, N] + bias), as the results `resultTypes` ([b...,
/// N_i], splitting N in order): the vector kernel when it applies, else
/// linalg.matmul with a generic epilogue, one per result on its columns of
/// the weight (the GPU's tiled kernels fuse the epilogue).
static SmallVector<Value> lowerLinear(OpBuilder &b, Location loc, Value x, Value w,
                                      Value bias, Activation act,
                                      ArrayRef<Type> resultTypes, int64_t vectorWidth) {
  auto xt = rtype(x);
  auto wt = rtype(w);
  Type et = xt.getElementType();
  int64_t rank = xt.getRank();
  // The contraction dims must agree at run time when either is dynamic.
  if (xt.isDynamicDim(rank - 1) || wt.isDynamicDim(0)) {
    SmallVector<Value> target = getDimValues(b, loc, x);
    target.back() = getDimValues(b, loc, w)[0];
    SmallVector<int64_t> skip;
    for (int64_t i = 0; i + 1 < rank; ++i)
      skip.push_back(i);
    x = conformOperand(b, loc, x, target, /*allowBroadcast=*/false,
                       describeNodeAt(loc) + ": the contraction dimension of the input "
                                             "(the weight's rows)",
                       skip);
    xt = rtype(x);
  }
  // [b..., K] -> [M, K]
  SmallVector<ReassociationIndices> re{{}};
  for (int64_t i = 0; i < rank - 1; ++i)
    re[0].push_back(i);
  re.push_back({rank - 1});
  Value a = rank > 2 ? tensor::CollapseShapeOp::create(b, loc, x, re).getResult() : x;
  auto at = rtype(a);
  SmallVector<int64_t> splits;
  for (Type t : resultTypes)
    splits.push_back(cast<RankedTensorType>(t).getShape().back());
  if (resultTypes.size() == 1)
    splits.clear(); // all of N (which may be dynamic here)

  SmallVector<Value> dims = getDimValues(b, loc, a), wdims = getDimValues(b, loc, w);
  // fill + linalg.matmul + a generic epilogue (bias, activation) for the
  // weight columns [col, col + n) (all of them when n < 0).
  auto plainLinear = [&](int64_t col, int64_t n) -> Value {
    Value wc = w, bc = bias, nv = wdims[1];
    int64_t nStatic = wt.getDimSize(1);
    if (n >= 0) {
      SmallVector<OpFoldResult> one{b.getIndexAttr(1), b.getIndexAttr(1)};
      wc = tensor::ExtractSliceOp::create(b,
          loc, w, SmallVector<OpFoldResult>{b.getIndexAttr(0), b.getIndexAttr(col)},
          SmallVector<OpFoldResult>{wt.isDynamicDim(0) ? OpFoldResult(wdims[0])
                                                       : OpFoldResult(b.getIndexAttr(wt.getDimSize(0))),
                                    b.getIndexAttr(n)},
          one);
      if (bias)
        bc = tensor::ExtractSliceOp::create(b, loc, bias, SmallVector<OpFoldResult>{b.getIndexAttr(col)},
                                              SmallVector<OpFoldResult>{b.getIndexAttr(n)},
                                              SmallVector<OpFoldResult>{b.getIndexAttr(1)});
      nv = arith::ConstantIndexOp::create(b, loc, n);
      nStatic = n;
    }
    auto mmType = RankedTensorType::get({at.getDimSize(0), nStatic}, et);
    // Per result: a fresh buffer each (tensor.empty + fill would be CSE'd
    // into one shared, copied fill).
    Value init = n < 0 ? createEmptyTensor(b, loc, mmType, {dims[0], nv})
                       : bufferization::AllocTensorOp::create(b,
                              loc, mmType, mmType.isDynamicDim(0) ? ValueRange{dims[0]} : ValueRange{})
                             .getResult();
    Value zero = createScalarConstant(b, loc, et, 0);
    Value filled = linalg::FillOp::create(b, loc, zero, init).getResult(0);
    Value mm = linalg::MatmulOp::create(b, loc, TypeRange{mmType}, ValueRange{a, wc},
                                          ValueRange{filled})
                   .getResult(0);
    if (bias || act != Activation::none) {
      SmallVector<Value> operands{mm};
      if (bc)
        operands.push_back(bc);
      bool hasBias = static_cast<bool>(bc);
      mm = buildElementwise(b, loc, mmType, operands,
                            [&](OpBuilder &bb, Location l, ValueRange v) -> Value {
                              Value y = hasBias ? arith::AddFOp::create(bb, l, v[0], v[1]).getResult()
                                                : v[0];
                              return applyActivation(bb, l, y, act);
                            });
    }
    return mm;
  };

  SmallVector<Value> parts;
  if (canUseMatmulKernel(at, wt, splits, vectorWidth)) {
    parts = buildMatmulKernel(b, loc, MatmulKernelArgs{a, w, bias, act, splits}, vectorWidth);
  } else if (!splits.empty() && !canUseMatmulKernel(at, wt, {}, vectorWidth)) {
    // No kernel: one matmul per result on its columns of the weight (each
    // result written once, as its own buffer: no copies).
    int64_t col = 0;
    for (int64_t n : splits) {
      parts.push_back(plainLinear(col, n));
      col += n;
    }
  } else {
    // All of N at once (the kernel when only the splits are off its tiles),
    // then each split copied out.
    Value mm = canUseMatmulKernel(at, wt, {}, vectorWidth)
                   ? buildMatmulKernel(b, loc, MatmulKernelArgs{a, w, bias, act, {}}, vectorWidth)[0]
                   : plainLinear(0, -1);
    if (splits.empty()) {
      parts.push_back(mm);
    } else {
      int64_t col = 0;
      for (int64_t n : splits) {
        SmallVector<OpFoldResult> offsets{b.getIndexAttr(0), b.getIndexAttr(col)};
        SmallVector<OpFoldResult> sizes{OpFoldResult(dims[0]), b.getIndexAttr(n)};
        SmallVector<OpFoldResult> strides{b.getIndexAttr(1), b.getIndexAttr(1)};
        Value slice = tensor::ExtractSliceOp::create(b, loc, mm, offsets, sizes, strides);
        // A contiguous copy: each result is its own tensor.
        auto st = RankedTensorType::get({at.getDimSize(0), n}, et);
        Value copyInit = createEmptyTensor(b, loc, st, {dims[0], arith::ConstantIndexOp::create(b, loc, n)});
        parts.push_back(linalg::CopyOp::create(b, loc, slice, copyInit).getResult(0));
        col += n;
      }
    }
  }
  // [M, N_i] -> [b..., N_i]
  SmallVector<Value> results;
  SmallVector<Value> xdims = getDimValues(b, loc, x);
  for (auto [part, type] : llvm::zip(parts, resultTypes)) {
    auto rtT = cast<RankedTensorType>(type);
    Value r = part;
    if (rank > 2) {
      SmallVector<OpFoldResult> outShape;
      for (int64_t i = 0; i < rank; ++i) {
        if (!rtT.isDynamicDim(i))
          outShape.push_back(b.getIndexAttr(rtT.getDimSize(i)));
        else if (i < rank - 1)
          outShape.push_back(xdims[i]);
        else
          outShape.push_back(tensor::DimOp::create(b, loc, part, 1).getResult());
      }
      auto expanded = RankedTensorType::get(
          [&] {
            SmallVector<int64_t> shape(xt.getShape().drop_back());
            shape.push_back(rtype(part).getShape().back());
            return shape;
          }(),
          et);
      r = tensor::ExpandShapeOp::create(b, loc, expanded, part, re, outShape);
    }
    if (r.getType() != rtT)
      r = tensor::CastOp::create(b, loc, rtT, r);
    results.push_back(r);
  }
  return results;
}

namespace {
struct LinearPattern : OpRewritePattern<LinearOp> {
  LinearPattern(MLIRContext *ctx, int64_t vectorWidth)
      : OpRewritePattern(ctx), vectorWidth(vectorWidth) {}
  int64_t vectorWidth;
  LogicalResult matchAndRewrite(LinearOp op, PatternRewriter &rw) const override {
    SmallVector<Type> types(op.getResultTypes());
    rw.replaceOp(op, lowerLinear(rw, op.getLoc(), op.getInput(), op.getWeight(), op.getBias(),
                                 op.getActivation(), types, vectorWidth));
    return success();
  }
};
} // namespace

namespace {
struct MatmulPattern : OpRewritePattern<MatmulOp> {
  MatmulPattern(MLIRContext *ctx, int64_t vectorWidth)
      : OpRewritePattern(ctx), vectorWidth(vectorWidth) {}
  int64_t vectorWidth;
  LogicalResult matchAndRewrite(MatmulOp op, PatternRewriter &rw) const override {
    Location loc = op.getLoc();
    Value lhs = op.getLhs(), rhs = op.getRhs();
    auto lt = cast<RankedTensorType>(lhs.getType()), rt = cast<RankedTensorType>(rhs.getType());
    auto resultType = cast<RankedTensorType>(rtype(op.getResult()));
    Type et = resultType.getElementType();
    if (lt.getRank() < 2 || rt.getRank() < 2)
      return rw.notifyMatchFailure(op, "1-D matmul operands are reshaped by the frontend");

    Value zero = createScalarConstant(rw, loc, et, 0);
    // Linear layer: [b..., M, K] x [K, N] -> one 2-D matmul on the collapsed rows.
    if (rt.getRank() == 2) {
      rw.replaceOp(op, lowerLinear(rw, loc, lhs, rhs, Value(), Activation::none,
                                   {resultType}, vectorWidth));
      return success();
    }

    // General batched case: broadcast the batch dims, one generic contraction.
    int64_t rank = resultType.getRank(); // batch dims + M + N
    int64_t nb = rank - 2;
    // Batch dims of the result.
    SmallVector<Value> rdims;
    {
      // Dynamic result batch dims: max of aligned operand batch dims.
      SmallVector<Value> ld = getDimValues(rw, loc, lhs), rd = getDimValues(rw, loc, rhs);
      for (int64_t i = 0; i < nb; ++i) {
        if (!resultType.isDynamicDim(i)) {
          rdims.push_back(arith::ConstantIndexOp::create(rw, loc, resultType.getDimSize(i)));
          continue;
        }
        Value d;
        for (auto [t, dv] : {std::pair{lt, &ld}, std::pair{rt, &rd}}) {
          int64_t j = i - (nb - (t.getRank() - 2));
          if (j < 0 || t.getDimSize(j) == 1)
            continue;
          d = d ? arith::MaxUIOp::create(rw, loc, d, (*dv)[j]).getResult() : (*dv)[j];
        }
        rdims.push_back(d ? d : arith::ConstantIndexOp::create(rw, loc, 1).getResult());
      }
      SmallVector<Value> lfull(rdims), rfull(rdims);
      lfull.push_back(ld[lt.getRank() - 2]);
      lfull.push_back(ld[lt.getRank() - 1]);
      rfull.push_back(rd[rt.getRank() - 2]);
      rfull.push_back(rd[rt.getRank() - 1]);
      std::string node = describeNodeAt(loc);
      lhs = materializeDynamicBroadcast(rw, loc, lhs, lfull, node + ": operand 0");
      rhs = materializeDynamicBroadcast(rw, loc, rhs, rfull, node + ": operand 1");
      // The contraction: rhs's K must be lhs's K.
      if (lt.isDynamicDim(lt.getRank() - 1) || rt.isDynamicDim(rt.getRank() - 2)) {
        SmallVector<Value> target = getDimValues(rw, loc, rhs);
        target[rt.getRank() - 2] = ld[lt.getRank() - 1];
        SmallVector<int64_t> skip;
        for (int64_t i = 0; i < rt.getRank(); ++i)
          if (i != rt.getRank() - 2)
            skip.push_back(i);
        rhs = conformOperand(rw, loc, rhs, target, /*allowBroadcast=*/false,
                             node + ": the contraction dimension of operand 1", skip);
      }
      rdims.push_back(ld[lt.getRank() - 2]);
      rdims.push_back(rd[rt.getRank() - 1]);
    }
    MLIRContext *ctx = rw.getContext();
    // Loop dims: batch (nb), m, n, k.
    int64_t nLoops = nb + 3;
    auto mapFor = [&](RankedTensorType t, bool isLhs) {
      SmallVector<AffineExpr> e;
      int64_t tb = t.getRank() - 2;
      for (int64_t j = 0; j < tb; ++j) {
        int64_t i = j + (nb - tb);
        e.push_back(t.getDimSize(j) == 1 ? getAffineConstantExpr(0, ctx)
                                         : getAffineDimExpr(i, ctx));
      }
      if (isLhs) {
        e.push_back(getAffineDimExpr(nb, ctx));
        e.push_back(getAffineDimExpr(nb + 2, ctx));
      } else {
        e.push_back(getAffineDimExpr(nb + 2, ctx));
        e.push_back(getAffineDimExpr(nb + 1, ctx));
      }
      return AffineMap::get(nLoops, 0, e, ctx);
    };
    SmallVector<AffineExpr> outE;
    for (int64_t i = 0; i < nb + 2; ++i)
      outE.push_back(getAffineDimExpr(i, ctx));
    SmallVector<AffineMap> maps{mapFor(lt, true), mapFor(rt, false),
                                AffineMap::get(nLoops, 0, outE, ctx)};
    SmallVector<utils::IteratorType> iters(nb + 2, utils::IteratorType::parallel);
    iters.push_back(utils::IteratorType::reduction);
    Value init = createEmptyTensor(rw, loc, resultType, rdims);
    Value filled = linalg::FillOp::create(rw, loc, zero, init).getResult(0);
    auto gen = linalg::GenericOp::create(rw,
        loc, TypeRange{resultType}, ValueRange{lhs, rhs}, ValueRange{filled},
        maps, iters, [&](OpBuilder &b, Location l, ValueRange a) {
          Value r = isFloat(et)
                        ? arith::AddFOp::create(b,
                               l, a[2], arith::MulFOp::create(b, l, a[0], a[1]))
                              .getResult()
                        : arith::AddIOp::create(b,
                               l, a[2], arith::MulIOp::create(b, l, a[0], a[1]))
                              .getResult();
          linalg::YieldOp::create(b, l, r);
        });
    rw.replaceOp(op, gen.getResult(0));
    return success();
  }
};

//===----------------------------------------------------------------------===//
// Layout ops
//===----------------------------------------------------------------------===//

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

/// Index `v` (integer) into a dim of size `dim`: negative indices count from
/// the end, out-of-range ones are clamped so that bad input never reads
/// outside the table (checkIndices reports them).
static Value clampIndex(OpBuilder &b, Location l, Value v, Value dim) {
  Value i = toIndex(b, l, v);
  Value zero = arith::ConstantIndexOp::create(b, l, 0);
  Value neg = arith::CmpIOp::create(b, l, arith::CmpIPredicate::slt, i, zero);
  i = arith::SelectOp::create(b, l, neg, arith::AddIOp::create(b, l, i, dim), i);
  Value last = arith::SubIOp::create(b, l, dim, arith::ConstantIndexOp::create(b, l, 1));
  return arith::MaxSIOp::create(b, l, arith::MinSIOp::create(b, l, i, last), zero);
}

/// Indices outside [-dim, dim) are clamped by clampIndex; the model also
/// reports them (a run then fails with ATTN_MODEL_ERR_INDEX_OUT_OF_RANGE
/// instead of returning silently wrong values, e.g. a sequence longer than
/// a positional-embedding table). Constant indices were checked statically.
/// `bounds` (dim of `indices`, size) adds checks that an index position is
/// below that size (GatherElements: indices may not outgrow data).
static void checkIndices(OpBuilder &rw, Location loc, Value indices, Value axisDim,
                         ArrayRef<std::pair<int64_t, Value>> bounds = {}) {
  DenseElementsAttr constIdx;
  if (bounds.empty() && matchPattern(indices, m_Constant(&constIdx)))
    return;
  int64_t ir = rtype(indices).getRank();
  auto flagType = RankedTensorType::get({}, rw.getI1Type());
  Value init = tensor::EmptyOp::create(rw, loc, ArrayRef<int64_t>{}, rw.getI1Type());
  Value falseV = arith::ConstantIntOp::create(rw, loc, 0, 1);
  Value filled = linalg::FillOp::create(rw, loc, falseV, init).getResult(0);
  SmallVector<AffineMap> cmaps{rw.getMultiDimIdentityMap(ir),
                               AffineMap::get(ir, 0, {}, rw.getContext())};
  SmallVector<utils::IteratorType> citers(ir, utils::IteratorType::reduction);
  auto check = linalg::GenericOp::create(rw,
      loc, TypeRange{flagType}, ValueRange{indices}, ValueRange{filled}, cmaps, citers,
      [&](OpBuilder &b, Location l, ValueRange a) {
        Value i = toI64(b, l, a[0]);
        Value dim = toI64(b, l, axisDim);
        Value low = arith::CmpIOp::create(b, l, arith::CmpIPredicate::slt, i,
                                            arith::SubIOp::create(b, l, arith::ConstantIntOp::create(b, l, 0, 64), dim));
        Value high = arith::CmpIOp::create(b, l, arith::CmpIPredicate::sge, i, dim);
        Value bad = arith::OrIOp::create(b, l, low, high);
        for (auto [d, size] : bounds)
          bad = arith::OrIOp::create(b,
              l, bad, arith::CmpIOp::create(b, l, arith::CmpIPredicate::sge,
                                              linalg::IndexOp::create(b, l, d), size));
        linalg::YieldOp::create(b, l, ValueRange{arith::OrIOp::create(b, l, a[1], bad).getResult()});
      });
  check->setAttr(kIndexCheckAttr,
                 rw.getStringAttr(describeNodeAt(loc) +
                                  ": an index is out of range (e.g. a Gather index beyond its "
                                  "table)"));
}

struct GatherPattern : OpRewritePattern<GatherOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(GatherOp op, PatternRewriter &rw) const override {
    Location loc = op.getLoc();
    auto dt = rtype(op.getData());
    auto idxT = rtype(op.getIndices());
    auto rt = rtype(op.getResult());
    int64_t axis = *normalizeAxis(op.getAxis(), dt.getRank());
    int64_t ir = idxT.getRank(), rank = rt.getRank();
    SmallVector<Value> dd = getDimValues(rw, loc, op.getData());
    SmallVector<Value> id = getDimValues(rw, loc, op.getIndices());
    SmallVector<Value> dims(dd.begin(), dd.begin() + axis);
    dims.append(id.begin(), id.end());
    dims.append(dd.begin() + axis + 1, dd.end());
    Value init = createEmptyTensor(rw, loc, rt, dims);
    MLIRContext *ctx = rw.getContext();
    SmallVector<AffineExpr> ie;
    for (int64_t j = 0; j < ir; ++j)
      ie.push_back(getAffineDimExpr(axis + j, ctx));
    SmallVector<AffineMap> maps{AffineMap::get(rank, 0, ie, ctx),
                                rw.getMultiDimIdentityMap(rank)};
    SmallVector<utils::IteratorType> iters(rank, utils::IteratorType::parallel);
    Value data = op.getData();
    Value axisDim = dd[axis];
    auto gen = linalg::GenericOp::create(rw,
        loc, TypeRange{rt}, ValueRange{op.getIndices()}, ValueRange{init}, maps,
        iters, [&](OpBuilder &b, Location l, ValueRange a) {
          Value i = clampIndex(b, l, a[0], axisDim);
          SmallVector<Value> idx;
          for (int64_t j = 0; j < axis; ++j)
            idx.push_back(linalg::IndexOp::create(b, l, j));
          idx.push_back(i);
          for (int64_t j = axis + 1; j < dt.getRank(); ++j)
            idx.push_back(linalg::IndexOp::create(b, l, j - 1 + ir));
          linalg::YieldOp::create(b, l, tensor::ExtractOp::create(b, l, data, idx).getResult());
        });
    checkIndices(rw, loc, op.getIndices(), axisDim);
    rw.replaceOp(op, gen.getResult(0));
    return success();
  }
};

/// ONNX GatherElements: a generic over the indices reading data at the
/// element's own position with the axis coordinate replaced (clamped).
struct GatherElementsPattern : OpRewritePattern<GatherElementsOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(GatherElementsOp op, PatternRewriter &rw) const override {
    Location loc = op.getLoc();
    auto dt = rtype(op.getData());
    auto rt = rtype(op.getResult());
    int64_t rank = dt.getRank();
    int64_t axis = *normalizeAxis(op.getAxis(), rank);
    SmallVector<Value> dd = getDimValues(rw, loc, op.getData());
    Value init = createEmptyTensor(rw, loc, rt, getDimValues(rw, loc, op.getIndices()));
    SmallVector<AffineMap> maps{rw.getMultiDimIdentityMap(rank), rw.getMultiDimIdentityMap(rank)};
    SmallVector<utils::IteratorType> iters(rank, utils::IteratorType::parallel);
    Value data = op.getData(), axisDim = dd[axis];
    // Dims other than axis where the indices may (at run time) be larger
    // than data: their positions are clamped and reported like bad indices.
    auto it = rtype(op.getIndices());
    SmallVector<int64_t> unsafe;
    for (int64_t j = 0; j < rank; ++j)
      if (j != axis && (it.isDynamicDim(j) || dt.isDynamicDim(j)))
        unsafe.push_back(j);
    auto gen = linalg::GenericOp::create(rw,
        loc, TypeRange{rt}, ValueRange{op.getIndices()}, ValueRange{init}, maps, iters,
        [&](OpBuilder &b, Location l, ValueRange a) {
          SmallVector<Value> idx;
          for (int64_t j = 0; j < rank; ++j) {
            if (j == axis) {
              idx.push_back(clampIndex(b, l, a[0], axisDim));
              continue;
            }
            Value p = linalg::IndexOp::create(b, l, j);
            if (llvm::is_contained(unsafe, j))   // never read outside data
              p = arith::MinSIOp::create(b,
                  l, p, arith::SubIOp::create(b, l, dd[j], arith::ConstantIndexOp::create(b, l, 1)));
            idx.push_back(p);
          }
          linalg::YieldOp::create(b, l, tensor::ExtractOp::create(b, l, data, idx).getResult());
        });
    SmallVector<std::pair<int64_t, Value>> bounds;
    for (int64_t j : unsafe)
      bounds.push_back({j, dd[j]});
    checkIndices(rw, loc, op.getIndices(), axisDim, bounds);
    rw.replaceOp(op, gen.getResult(0));
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
      Value q = math::CeilOp::create(rw,
          loc, arith::DivFOp::create(rw, loc, arith::SubFOp::create(rw, loc, limit, start), delta));
      Value c = arith::FPToSIOp::create(rw, loc, rw.getI64Type(), q);
      n = toIndex(rw, loc, arith::MaxSIOp::create(rw, loc, c, arith::ConstantIntOp::create(rw, loc, 0, 64)));
    } else {
      Value s = toI64(rw, loc, start), li = toI64(rw, loc, limit), d = toI64(rw, loc, delta);
      // A zero delta would divide by zero: a failed check, and no elements.
      Value c0 = arith::ConstantIntOp::create(rw, loc, 0, 64);
      Value isZero = arith::CmpIOp::create(rw, loc, arith::CmpIPredicate::eq, d, c0);
      recordRuntimeCheck(rw, loc, isZero, d, c0, describeNodeAt(loc) + ": the delta is {a}");
      Value safe = arith::SelectOp::create(rw, loc, isZero,
                                              arith::ConstantIntOp::create(rw, loc, 1, 64), d);
      Value c = arith::CeilDivSIOp::create(rw, loc, arith::SubIOp::create(rw, loc, li, s), safe);
      c = arith::SelectOp::create(rw, loc, isZero, c0, c);
      n = toIndex(rw, loc, arith::MaxSIOp::create(rw, loc, c, c0));
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

struct TriluPattern : OpRewritePattern<TriluOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(TriluOp op, PatternRewriter &rw) const override {
    int64_t rank = rtype(op.getResult()).getRank();
    int64_t k = op.getK();
    bool upper = op.getUpper();
    Value r = buildElementwise(
        rw, op.getLoc(), rtype(op.getResult()), ValueRange{op.getInput()},
        [&](OpBuilder &b, Location l, ValueRange a) -> Value {
          Value i = linalg::IndexOp::create(b, l, rank - 2);
          Value j = linalg::IndexOp::create(b, l, rank - 1);
          Value diff = arith::SubIOp::create(b, l, j, i);
          Value kc = arith::ConstantIndexOp::create(b, l, k);
          Value keep = arith::CmpIOp::create(b,
              l, upper ? arith::CmpIPredicate::sge : arith::CmpIPredicate::sle, diff, kc);
          Value zero = a[0].getType().isInteger(1)
                           ? arith::ConstantIntOp::create(b, l, 0, 1).getResult()
                           : createScalarConstant(b, l, a[0].getType(), 0);
          return arith::SelectOp::create(b, l, keep, a[0], zero);
        });
    rw.replaceOp(op, r);
    return success();
  }
};

//===----------------------------------------------------------------------===//
// Reductions, softmax, layer norm
//===----------------------------------------------------------------------===//

/// Reduces `input` over `reduced` dims (keeping them as size 1) with the
/// combiner `combine` starting from `initValue`.
static Value reduceKeepDims(OpBuilder &b, Location loc, Value input,
                            ArrayRef<bool> reduced, Value initValue,
                            function_ref<Value(OpBuilder &, Location, Value, Value)> combine) {
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
  auto outType = RankedTensorType::get(shape, it.getElementType());
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
      combine = [f](OpBuilder &b, Location l, Value x, Value y) -> Value {
        return f ? arith::AddFOp::create(b, l, x, y).getResult() : arith::AddIOp::create(b, l, x, y).getResult();
      };
      break;
    case ReduceKind::prod:
      initV = createScalarConstant(rw, loc, et, 1);
      combine = [f](OpBuilder &b, Location l, Value x, Value y) -> Value {
        return f ? arith::MulFOp::create(b, l, x, y).getResult() : arith::MulIOp::create(b, l, x, y).getResult();
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
      rw.replaceOp(op, buildLayerNormKernel(rw, op, vectorWidth));
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

struct LowerAttnToLinalgPass
    : attn::impl::LowerAttnToLinalgPassBase<LowerAttnToLinalgPass> {
  using Base::Base;
  void runOnOperation() override {
    MLIRContext *ctx = &getContext();
    RewritePatternSet patterns(ctx);
    populateElementwisePatterns(patterns);
    patterns.add<MatmulPattern, LinearPattern, LayerNormPattern>(ctx, vectorWidth);
    patterns.add<TransposePattern, ReshapePattern, ExpandPattern,
                 ConcatPattern, SlicePattern, GatherPattern, GatherElementsPattern, ShapePattern,
                 ConstantOfShapePattern, RangePattern, TriluPattern,
                 ReducePattern, SoftmaxPattern>(ctx);
    ConversionTarget target(*ctx);
    target.addLegalDialect<linalg::LinalgDialect, tensor::TensorDialect,
                           arith::ArithDialect, math::MathDialect,
                           scf::SCFDialect, func::FuncDialect,
                           memref::MemRefDialect, vector::VectorDialect,
                           bufferization::BufferizationDialect>();
    target.addIllegalDialect<AttnDialect>();
    target.addLegalOp<AttentionOp>();
    // Unsigned integer elementwise bodies cast to signless values and back.
    target.addLegalOp<UnrealizedConversionCastOp>();
    if (failed(applyPartialConversion(getOperation(), target, std::move(patterns))))
      return signalPassFailure();
    returnIndexStatus();
  }

  /// Folds the index checks (Gather) and the run-time shape checks into the
  /// model function's status result (RuntimeChecks.h).
  void returnIndexStatus() {
    func::FuncOp fn = getOperation();
    SmallVector<std::pair<Value, std::string>> flags;
    fn.walk([&](linalg::GenericOp g) {
      if (auto tmpl = g->getAttrOfType<StringAttr>(kIndexCheckAttr); tmpl && g->getParentOp() == fn)
        flags.push_back({g.getResult(0), tmpl.str()});
    });
    returnRuntimeStatus(fn, flags);
  }
};
} // namespace
