//===- SimplifyMasks.cpp - simplify the boolean mask subgraphs of exports -===//
//
// Attention masks built in the graph (Hugging Face transformers 5's
// masking_utils, PyTorch's SDPA export) arrive as
//
//   Where(Expand(And(And(q >= 0, true), padding[b, k]), [B, 1, Sq, Sk]), 0, min)
//
// where `q >= 0` compares `range(0, Sq)` with 0 and is true everywhere. These
// patterns make the broadcasts visible and move them towards the users, so
// that attn-fuse-attention (which broadcasts its mask operand anyway) finds the
// small `[B, 1, 1, Sk]` mask under a chain of `attn.expand`s:
//
//   cmp(x, c) decided by the values x can hold (x from range(start, n, delta)
//       through layout ops; c a scalar constant)
//                          -> expand(dense<true|false> : tensor<i1>, shape(x))
//   and(expand(true, s), y) -> expand(y, s)      or(expand(false, s), y) alike,
//       constant_of_shape(s, true) as expand(true, s)
//   and(true, y)            -> y  (a splat constant that only broadcasts)
//   select(expand(c, s), a, b) -> expand(select(c, a, b), s)
//       (a and b broadcast into c, e.g. the scalars 0 and finfo.min)
//
// Each rewrite keeps the op's result type and values exactly (ONNX Expand
// broadcasts both ways, so `expand(y, s)` has the shape `and` had).
//
//===----------------------------------------------------------------------===//
#include "attn/Compiler/Passes.h"
#include "attn/Dialect/ShapeInference.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

#include <optional>

namespace mlir::attn {
#define GEN_PASS_DEF_SIMPLIFYMASKSPASS
#include "attn/Compiler/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;

namespace {

RankedTensorType rankedType(Value v) {
  return cast<RankedTensorType>(v.getType());
}

/// Whether `small` broadcasts into `big` without changing it: not of higher
/// rank, and every dim is a static 1 or statically equal to big's.
bool onlyBroadcasts(RankedTensorType small, RankedTensorType big) {
  if (small.getRank() > big.getRank())
    return false;
  int64_t off = big.getRank() - small.getRank();
  for (int64_t i = 0; i < small.getRank(); ++i) {
    int64_t s = small.getDimSize(i), b = big.getDimSize(i + off);
    if (s != 1 && (ShapedType::isDynamic(s) || s != b))
      return false;
  }
  return true;
}

/// The single value of a splat integer/bool constant tensor.
std::optional<APInt> splatInt(Value v) {
  DenseIntElementsAttr attr;
  if (!matchPattern(v, m_Constant(&attr)) || !attr.isSplat())
    return std::nullopt;
  return attr.getSplatValue<APInt>();
}

/// Whether `v` is a splat bool constant of value `b`, or
/// `expand(splat b, s)` or `constant_of_shape(s, b)` (then `shape` is s).
bool isBoolSplat(Value v, bool b, Value *shape = nullptr) {
  if (!getElementTypeOrSelf(v.getType()).isInteger(1))
    return false;
  if (auto c = v.getDefiningOp<ConstantOfShapeOp>()) {
    auto value = dyn_cast<IntegerAttr>(c.getValue());
    if (!value || value.getValue().getBoolValue() != b)
      return false;
    if (shape)
      *shape = c.getShape();
    return true;
  }
  if (auto e = v.getDefiningOp<ExpandOp>()) {
    if (!isBoolSplat(e.getInput(), b) || e.getInput().getDefiningOp<ExpandOp>())
      return false;
    if (shape)
      *shape = e.getShape();
    return true;
  }
  std::optional<APInt> s = splatInt(v);
  return s && s->getBoolValue() == b;
}

/// Bounds on the values of an integer tensor: [lo, hi], either side unknown.
struct Bounds {
  std::optional<int64_t> lo, hi;
};

/// What the values of `v` are known to lie in: range(start, n, delta) holds
/// values from start on (up for delta > 0, down for delta < 0); layout ops and
/// gathers only move values around; constants are their min and max.
Bounds valueBounds(Value v, int depth = 0) {
  auto type = dyn_cast<RankedTensorType>(v.getType());
  if (!type || !type.getElementType().isSignlessInteger() ||
      type.getElementType().isInteger(1) || depth > 16)
    return {};
  DenseIntElementsAttr attr;
  if (matchPattern(v, m_Constant(&attr))) {
    Bounds b;
    for (const APInt &x : attr.getValues<APInt>()) {
      int64_t s = x.getSExtValue();
      b.lo = b.lo ? std::min(*b.lo, s) : s;
      b.hi = b.hi ? std::max(*b.hi, s) : s;
    }
    return b;
  }
  Operation *def = v.getDefiningOp();
  if (!def)
    return {};
  if (auto r = dyn_cast<RangeOp>(def)) {
    std::optional<APInt> start = splatInt(r.getStart()), delta = splatInt(r.getDelta());
    if (!start || !delta || rankedType(r.getStart()).getNumElements() != 1 ||
        rankedType(r.getDelta()).getNumElements() != 1)
      return {};
    Bounds b;
    if (delta->isStrictlyPositive())
      b.lo = start->getSExtValue();
    else if (delta->isNegative())
      b.hi = start->getSExtValue();
    return b;
  }
  if (isa<ReshapeOp, ExpandOp, TransposeOp, SliceOp>(def))
    return valueBounds(def->getOperand(0), depth + 1);
  if (auto g = dyn_cast<GatherOp>(def))
    return valueBounds(g.getData(), depth + 1);
  if (auto c = dyn_cast<CastOp>(def)) {
    auto in = dyn_cast<IntegerType>(getElementTypeOrSelf(c.getInput().getType()));
    auto out = dyn_cast<IntegerType>(type.getElementType());
    // Only widening integer casts keep every value.
    if (!in || in.getWidth() == 1 || !in.isSignless() || in.getWidth() > out.getWidth())
      return {};
    return valueBounds(c.getInput(), depth + 1);
  }
  if (auto c = dyn_cast<ConcatOp>(def)) {
    Bounds b;
    bool first = true;
    for (Value in : c.getInputs()) {
      Bounds x = valueBounds(in, depth + 1);
      if (first) {
        b = x;
        first = false;
        continue;
      }
      b.lo = b.lo && x.lo ? std::optional<int64_t>(std::min(*b.lo, *x.lo)) : std::nullopt;
      b.hi = b.hi && x.hi ? std::optional<int64_t>(std::max(*b.hi, *x.hi)) : std::nullopt;
    }
    return b;
  }
  return {};
}

/// The value of `x pred c` when the bounds of x decide it.
std::optional<bool> decide(CmpPredicate pred, const Bounds &x, int64_t c) {
  switch (pred) {
  case CmpPredicate::ge:
    if (x.lo && *x.lo >= c) return true;
    if (x.hi && *x.hi < c) return false;
    break;
  case CmpPredicate::gt:
    if (x.lo && *x.lo > c) return true;
    if (x.hi && *x.hi <= c) return false;
    break;
  case CmpPredicate::le:
    if (x.hi && *x.hi <= c) return true;
    if (x.lo && *x.lo > c) return false;
    break;
  case CmpPredicate::lt:
    if (x.hi && *x.hi < c) return true;
    if (x.lo && *x.lo >= c) return false;
    break;
  case CmpPredicate::eq:
  case CmpPredicate::ne:
    if ((x.lo && *x.lo > c) || (x.hi && *x.hi < c))
      return pred == CmpPredicate::ne;
    break;
  }
  return std::nullopt;
}

CmpPredicate swapped(CmpPredicate p) {
  switch (p) {
  case CmpPredicate::lt: return CmpPredicate::gt;
  case CmpPredicate::le: return CmpPredicate::ge;
  case CmpPredicate::gt: return CmpPredicate::lt;
  case CmpPredicate::ge: return CmpPredicate::le;
  default: return p;
  }
}

/// `expand(dense<b> : tensor<i1>, shape(like))` of the type `type`.
Value boolSplatLike(PatternRewriter &rw, Location loc, bool b, Value like,
                    RankedTensorType type) {
  auto scalarType = RankedTensorType::get({}, rw.getI1Type());
  Value splat = arith::ConstantOp::create(
      rw, loc, DenseElementsAttr::get(scalarType, rw.getBoolAttr(b)));
  int64_t rank = rankedType(like).getRank();
  Value shape = ShapeOp::create(rw, loc, RankedTensorType::get({rank}, rw.getI64Type()),
                                like, rw.getI64IntegerAttr(0), rw.getI64IntegerAttr(rank));
  return ExpandOp::create(rw, loc, type, splat, shape);
}

/// cmp(x, c) (or cmp(c, x)) that the values of x decide.
struct DecidedCompare : OpRewritePattern<CmpOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(CmpOp op, PatternRewriter &rw) const override {
    auto resultType = rankedType(op.getResult());
    for (bool lhsIsX : {true, false}) {
      Value x = lhsIsX ? op.getLhs() : op.getRhs();
      Value c = lhsIsX ? op.getRhs() : op.getLhs();
      std::optional<APInt> cst = splatInt(c);
      if (!cst || getElementTypeOrSelf(c.getType()).isInteger(1) ||
          !onlyBroadcasts(rankedType(c), rankedType(x)) ||
          rankedType(x).getShape() != resultType.getShape())
        continue;
      CmpPredicate pred = lhsIsX ? op.getPredicate() : swapped(op.getPredicate());
      std::optional<bool> value = decide(pred, valueBounds(x), cst->getSExtValue());
      if (!value)
        continue;
      rw.replaceOp(op, boolSplatLike(rw, op.getLoc(), *value, x, resultType));
      return success();
    }
    return rw.notifyMatchFailure(op, "not decided by the operands' values");
  }
};

/// and(true, y) -> y, or(false, y) -> y, broadcast to the op's shape.
template <typename OpTy, bool Identity>
struct DropIdentityOperand : OpRewritePattern<OpTy> {
  using OpRewritePattern<OpTy>::OpRewritePattern;
  LogicalResult matchAndRewrite(OpTy op, PatternRewriter &rw) const override {
    auto resultType = rankedType(op.getResult());
    for (int i : {0, 1}) {
      Value t = op->getOperand(i), y = op->getOperand(1 - i);
      Value shape;
      if (!isBoolSplat(t, Identity, &shape))
        continue;
      if (shape) {
        rw.replaceOpWithNewOp<ExpandOp>(op, resultType, y, shape);
        return success();
      }
      if (y.getType() == resultType && onlyBroadcasts(rankedType(t), resultType)) {
        rw.replaceOp(op, y);
        return success();
      }
    }
    return rw.notifyMatchFailure(op, "no identity operand");
  }
};

/// select(expand(c, s), a, b) -> expand(select(c, a, b), s) when a and b
/// broadcast into c (the select then computes on c's shape only).
struct SinkExpandThroughSelect : OpRewritePattern<SelectOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(SelectOp op, PatternRewriter &rw) const override {
    auto expand = op.getCondition().getDefiningOp<ExpandOp>();
    if (!expand)
      return rw.notifyMatchFailure(op, "the condition is not an attn.expand");
    Value c = expand.getInput();
    auto ct = rankedType(c);
    if (!onlyBroadcasts(rankedType(op.getTrueValue()), ct) ||
        !onlyBroadcasts(rankedType(op.getFalseValue()), ct))
      return rw.notifyMatchFailure(op, "the branches do not broadcast into the condition");
    auto inner = SelectOp::create(
        rw, op.getLoc(),
        RankedTensorType::get(ct.getShape(), getElementTypeOrSelf(op.getType())),
        c, op.getTrueValue(), op.getFalseValue());
    rw.replaceOpWithNewOp<ExpandOp>(op, op.getType(), inner, expand.getShape());
    return success();
  }
};

struct SimplifyMasksPass : attn::impl::SimplifyMasksPassBase<SimplifyMasksPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<DecidedCompare, DropIdentityOperand<AndOp, true>,
                 DropIdentityOperand<OrOp, false>, SinkExpandThroughSelect>(
        &getContext());
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
