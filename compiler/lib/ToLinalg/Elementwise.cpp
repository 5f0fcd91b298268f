//===- Elementwise.cpp - attn elementwise ops -> linalg.generic -----------===//
//
// Broadcasting elementwise ops (arithmetic, logic, comparisons, select,
// unary math, GELU, Cast) and Trilu become one linalg.generic each, dims read
// with tensor.dim so that one lowering serves static and dynamic shapes.
// Also the shared helpers buildElementwise and convertScalar (Patterns.h).
//
//===----------------------------------------------------------------------===//
#include "ToLinalg/Patterns.h"
#include "Support/LoweringUtils.h"
#include "Support/RuntimeChecks.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/IR/Matchers.h"

using namespace mlir;
using namespace mlir::attn;

/// A broadcasting elementwise linalg.generic computing `body` per element.
Value attn::buildElementwise(OpBuilder &b, Location loc,
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

static Value convertSignless(OpBuilder &b, Location loc, Value v, Type to,
                             bool fromUnsigned, bool toUnsigned);
static Value castSignedness(OpBuilder &b, Location loc, Value v, Type to) {
  if (v.getType() == to)
    return v;
  return UnrealizedConversionCastOp::create(b, loc, to, v).getResult(0);
}
Value attn::convertScalar(OpBuilder &b, Location loc, Value v, Type to) {
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

/// Trilu: the input where the element is on the kept side of diagonal k,
/// zero elsewhere.
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

void attn::populateElementwisePatterns(RewritePatternSet &p) {
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
          return ArithBuilder(b, l).mul(a[0], a[0]);
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
  addFloatUnary<CosOp, math::CosOp>(p);
  addFloatUnary<SinOp, math::SinOp>(p);
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
  p.add<TriluPattern>(ctx);
}
