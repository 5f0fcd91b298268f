//===- FuseRmsNorm.cpp - RMSNorm patterns into attn.rms_norm ---------------===//
//
// Exporters spell RMSNorm (Llama, Qwen2, Mistral, Phi-3, Gemma) out as
//
//   ms  = ReduceMean(Pow(x, 2) | Mul(x, x), trailing axes, keepdims)
//   inv = Reciprocal(Sqrt(ms + eps)) | Div(1, Sqrt(ms + eps))
//   y   = Mul(x, inv) | Div(x, Sqrt(ms + eps))
//   out = Mul(y, w) | Mul(y, 1 + w) (Gemma) | y
//
// in any operand order, possibly computed in f32 around a narrower model
// type (`x = Cast(x0)`, `Cast(y)` or `Cast(y * w)` back to x0's type). The
// chain becomes one attn.rms_norm on x (or x0) whose scale is `w` (a
// constant `1 + w` folded into a new constant, `1` when there is no weight).
// Every interior value must have exactly the one use in the chain.
//
// When the normalized value is `a + b` (both of the sum's type) the add
// becomes the residual operand; when the sum has other users (the residual
// stream of a pre-norm decoder continues from it), the op gets its second
// result, the sum, and those users read it: the row kernel writes the sum
// while it normalizes.
//
//===----------------------------------------------------------------------===//
#include "attn/Compiler/Passes.h"
#include "attn/Compiler/Statistics.h"
#include "attn/Dialect/ConstantData.h"
#include "attn/Dialect/ShapeInference.h"
#include "Graph/GraphUtils.h"

#include "mlir/IR/Dominance.h"
#include "mlir/IR/PatternMatch.h"

#include "llvm/ADT/APFloat.h"

namespace mlir::attn {
#define GEN_PASS_DEF_FUSERMSNORMPASS
#include "attn/Compiler/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;

namespace {

bool isSplat(Value v, double want) {
  auto c = getSplatValue(v);
  return c && *c == want;
}

/// The single user of `v` when it has exactly one use.
Operation *singleUser(Value v) {
  return v.hasOneUse() ? *v.getUsers().begin() : nullptr;
}

/// The other operand of a binary op `op` whose operand `v` is one side.
Value otherOperand(Operation *op, Value v) {
  if (op->getNumOperands() != 2)
    return {};
  if (op->getOperand(0) == v)
    return op->getOperand(1);
  if (op->getOperand(1) == v)
    return op->getOperand(0);
  return {};
}

struct RmsMatch {
  Value x;               ///< the normalized value (f32 compute type)
  Value input;           ///< the op's input: x, or x0 for the cast form
  Operation *root;       ///< the last op of the chain (its result is replaced)
  Value scale;           ///< the weight (null: ones)
  Value onePlusWeight;   ///< Gemma: scale is 1 + this (a constant)
  int64_t axis = 0;
  double eps = 0;
  SmallVector<Operation *> ops; ///< matched ops (erased when dead)
};

/// y = x * (1/sqrt(e)) or x / sqrt(e) starting from `sqrt`'s result; sets
/// the normalized product op.
Operation *matchNormalize(Value sqrtV, Value x, SmallVectorImpl<Operation *> &ops) {
  Operation *u = singleUser(sqrtV);
  if (!u)
    return nullptr;
  if (auto div = dyn_cast<DivOp>(u); div && div.getRhs() == sqrtV) {
    if (div.getLhs() == x) {
      ops.push_back(div);
      return div;
    }
    if (!isSplat(div.getLhs(), 1.0))
      return nullptr;
    ops.push_back(div);
  } else if (auto rec = dyn_cast<ReciprocalOp>(u)) {
    ops.push_back(rec);
  } else {
    return nullptr;
  }
  Value inv = u->getResult(0);
  auto mul = dyn_cast_or_null<MulOp>(singleUser(inv));
  if (!mul || otherOperand(mul, inv) != x)
    return nullptr;
  ops.push_back(mul);
  return mul;
}

/// Whether foldOnePlus folds `w`.
bool canFoldOnePlus(Value w) {
  auto ft = dyn_cast<FloatType>(cast<RankedTensorType>(w.getType()).getElementType());
  return ft && ft.getWidth() % 8 == 0 && ft.getWidth() <= 64 && readConstantElements(w);
}

/// The weight of `mul(y, w)`: w must broadcast to the normalized dims
/// (leading size-1 dims beyond them are allowed for constants) without
/// changing y's type.
Value matchWeight(Operation *mul, Value y, ArrayRef<int64_t> normShape) {
  Value w = otherOperand(mul, y);
  if (!w || mul->getResult(0).getType() != y.getType())
    return {};
  auto wt = dyn_cast<RankedTensorType>(w.getType());
  if (!wt || wt.getElementType() != cast<RankedTensorType>(y.getType()).getElementType())
    return {};
  ArrayRef<int64_t> ws = wt.getShape();
  while (ws.size() > normShape.size() && ws.front() == 1)
    ws = ws.drop_front();
  if (!broadcastsTo(ws, normShape))
    return {};
  if (ws.size() != static_cast<size_t>(wt.getRank()) && !getConstantBytes(w)) {
    // Only constants are reshaped: w itself, or the w of Gemma's 1 + w.
    auto add = w.getDefiningOp<AddOp>();
    if (!add || !((isSplat(add.getLhs(), 1.0) && canFoldOnePlus(add.getRhs())) ||
                  (isSplat(add.getRhs(), 1.0) && canFoldOnePlus(add.getLhs()))))
      return {};
  }
  return w;
}

std::optional<RmsMatch> matchRms(ReduceOp mean) {
  RmsMatch m;
  if (mean.getKind() != ReduceKind::mean || !mean.getKeepdims())
    return std::nullopt;
  auto sqOp = mean.getInput().getDefiningOp();
  if (!sqOp || !mean.getInput().hasOneUse())
    return std::nullopt;
  if (auto pow = dyn_cast<PowOp>(sqOp); pow && isSplat(pow.getRhs(), 2.0))
    m.x = pow.getLhs();
  else if (auto mul = dyn_cast<MulOp>(sqOp); mul && mul.getLhs() == mul.getRhs())
    m.x = mul.getLhs();
  else
    return std::nullopt;
  auto xt = cast<RankedTensorType>(m.x.getType());
  if (sqOp->getResult(0).getType() != xt || !isa<FloatType>(xt.getElementType()))
    return std::nullopt;
  int64_t rank = xt.getRank();
  // The axes: exactly [axis, rank).
  SmallVector<bool> reduced(rank, false);
  for (int64_t a : mean.getAxes()) {
    auto n = normalizeAxis(a, rank);
    if (!n || reduced[*n])
      return std::nullopt;
    reduced[*n] = true;
  }
  int64_t axis = rank;
  while (axis > 0 && reduced[axis - 1])
    --axis;
  if (axis == rank || llvm::count(reduced, true) != rank - axis)
    return std::nullopt;
  m.axis = axis;
  m.ops = {sqOp, mean};

  // ms + eps, then sqrt.
  auto add = dyn_cast_or_null<AddOp>(singleUser(mean.getResult()));
  if (!add || add.getType() != mean.getType())
    return std::nullopt;
  auto eps = getSplatValue(otherOperand(add, mean.getResult()));
  if (!eps || !(*eps >= 0))
    return std::nullopt;
  m.eps = *eps;
  m.ops.push_back(add);
  auto sqrt = dyn_cast_or_null<SqrtOp>(singleUser(add.getResult()));
  if (!sqrt)
    return std::nullopt;
  m.ops.push_back(sqrt);
  Operation *norm = matchNormalize(sqrt.getResult(), m.x, m.ops);
  if (!norm)
    return std::nullopt;
  Value y = norm->getResult(0);
  m.root = norm;
  m.input = m.x;

  // Compute-type casts: x = cast(x0) and the result cast back to x0's type
  // (before or after the weight).
  Type narrow;
  if (auto c = m.x.getDefiningOp<CastOp>()) {
    auto x0t = cast<RankedTensorType>(c.getInput().getType());
    if (isa<FloatType>(x0t.getElementType()) && x0t.getShape() == xt.getShape())
      narrow = x0t.getElementType();
  }
  ArrayRef<int64_t> normShape = xt.getShape().drop_front(axis);
  auto castBack = [&](Value v) -> CastOp {
    auto c = dyn_cast_or_null<CastOp>(singleUser(v));
    if (!narrow || !c || cast<RankedTensorType>(c.getType()).getElementType() != narrow)
      return {};
    return c;
  };
  auto takeWeight = [&](Value v) -> bool {
    auto mul = dyn_cast_or_null<MulOp>(singleUser(v));
    if (!mul)
      return false;
    Value w = matchWeight(mul, v, normShape);
    if (!w)
      return false;
    m.scale = w;
    if (auto one = w.getDefiningOp<AddOp>()) {
      for (auto [c, other] : {std::pair{one.getLhs(), one.getRhs()},
                              std::pair{one.getRhs(), one.getLhs()}})
        if (isSplat(c, 1.0) && other.getType() == w.getType() && canFoldOnePlus(other)) {
          m.onePlusWeight = other;
          break;
        }
    }
    m.ops.push_back(mul);
    m.root = mul;
    return true;
  };
  if (CastOp c = castBack(y)) {
    // cast(y) * w in the narrow type.
    m.ops.push_back(c);
    m.root = c;
    m.input = cast<CastOp>(m.x.getDefiningOp()).getInput();
    takeWeight(c.getResult());
  } else if (takeWeight(y)) {
    if (CastOp c2 = castBack(m.root->getResult(0))) {
      // cast(y * w): the weight (f32) is cast to the narrow type.
      m.ops.push_back(c2);
      m.root = c2;
      m.input = cast<CastOp>(m.x.getDefiningOp()).getInput();
    }
  }
  if (m.root->getResult(0).getType() != m.input.getType())
    return std::nullopt;
  return m;
}

/// A constant `1 + w` (w a float constant) of w's type.
Value foldOnePlus(OpBuilder &b, Location loc, Value w) {
  if (!canFoldOnePlus(w))
    return {};
  auto elems = readConstantElements(w);
  auto t = cast<RankedTensorType>(w.getType());
  auto ft = cast<FloatType>(t.getElementType());
  int64_t bytes = ft.getWidth() / 8;
  std::vector<char> data(elems->size() * bytes);
  for (int64_t i = 0; i < elems->size(); ++i) {
    llvm::APFloat v(1.0 + elems->getDouble(i));
    bool lost;
    v.convert(ft.getFloatSemantics(), llvm::APFloat::rmNearestTiesToEven, &lost);
    uint64_t bits = v.bitcastToAPInt().getZExtValue();
    std::memcpy(data.data() + i * bytes, &bits, bytes); // little endian
  }
  return createConstantFromBytes(b, loc, t, data, constantBlobName(w, ".plus1"));
}

/// `w` reshaped (a constant) to drop leading size-1 dims beyond `rank`.
Value dropLeadingOnes(OpBuilder &b, Location loc, Value w, int64_t rank) {
  auto t = cast<RankedTensorType>(w.getType());
  if (t.getRank() <= rank)
    return w;
  auto bytes = getConstantBytes(w);
  if (!bytes)
    return {};
  auto nt = RankedTensorType::get(t.getShape().take_back(rank), t.getElementType());
  if (bytes->splat) {
    std::vector<char> data;
    for (int64_t i = 0; i < nt.getNumElements(); ++i)
      data.insert(data.end(), bytes->data.begin(), bytes->data.end());
    return createConstantFromBytes(b, loc, nt, data, constantBlobName(w, ".rms"));
  }
  return createConstantFromBytes(b, loc, nt, bytes->data, constantBlobName(w, ".rms"));
}

struct FuseRmsNormPass : attn::impl::FuseRmsNormPassBase<FuseRmsNormPass> {
  PassStatistic numFused{"attn-fuse-rms-norm", "fused", "Number of RMSNorm chains recognized"};
  PassStatistic numResidual{"attn-fuse-rms-norm", "residual",
                            "Number of residual adds folded into attn.rms_norm"};
  void runOnOperation() override {
    SmallVector<ReduceOp> means;
    getOperation().walk([&](ReduceOp op) { means.push_back(op); });
    IRRewriter rw(&getContext());
    DominanceInfo dom(getOperation());
    for (ReduceOp mean : means) {
      std::optional<RmsMatch> m = matchRms(mean);
      if (!m)
        continue;
      SmallVector<Operation *> constants = operandConstants(m->ops);
      Location loc = m->root->getLoc();
      Value input = m->input;
      auto it = cast<RankedTensorType>(input.getType());
      int64_t normRank = it.getRank() - m->axis;

      // Residual: input = a + b of one type. The sum's other users (not
      // the chain: its casts, the square, the product) read the op's sum.
      Value residual;
      bool withSum = false;
      SmallVector<OpOperand *> sumUses;
      auto add = input.getDefiningOp<AddOp>();
      if (add && add.getLhs().getType() == it && add.getRhs().getType() == it) {
        for (OpOperand &use : input.getUses())
          if (!llvm::is_contained(m->ops, use.getOwner()) &&
              !(m->input != m->x && use.getOwner() == m->x.getDefiningOp()))
            sumUses.push_back(&use);
        // The op goes right after the add when it returns the sum: the scale
        // must be available there (constants are rebuilt there).
        bool scaleReady = !m->scale || dom.properlyDominates(m->scale, add) ||
                          m->scale.getDefiningOp<arith::ConstantOp>() ||
                          (m->onePlusWeight && canFoldOnePlus(m->onePlusWeight));
        if (sumUses.empty() || scaleReady) {
          withSum = !sumUses.empty();
          residual = add.getRhs();
          input = add.getLhs();
        } else {
          sumUses.clear();
        }
      }
      if (withSum)
        rw.setInsertionPointAfter(add);
      else
        rw.setInsertionPoint(m->root);

      // What the chain leaves dead (users before producers), and the
      // constants only it used, collected while everything is alive.
      SmallVector<Operation *> dead(m->ops.rbegin(), m->ops.rend());
      if (m->input != m->x)
        dead.push_back(m->x.getDefiningOp());
      if (residual)
        dead.push_back(add);
      if (m->onePlusWeight)
        dead.push_back(m->scale.getDefiningOp());
      constants.append(operandConstants(dead));

      // The scale: 1 + w folded, leading ones dropped, cast to the op's type.
      Value scale = m->scale;
      if (m->onePlusWeight)
        if (Value folded = foldOnePlus(rw, loc, m->onePlusWeight))
          scale = folded;
      if (scale)
        if (auto c = scale.getDefiningOp<arith::ConstantOp>();
            c && scale == m->scale && withSum && !dom.properlyDominates(scale, add))
          scale = rw.clone(*c)->getResult(0);
      if (scale) {
        Value reshaped = dropLeadingOnes(rw, loc, scale, normRank);
        if (!reshaped)
          continue; // matchWeight admits only constants there: not reached
        if (reshaped != scale && scale != m->scale && scale.use_empty())
          rw.eraseOp(scale.getDefiningOp()); // the folded 1 + w before the reshape
        scale = reshaped;
      }
      if (!scale) {
        SmallVector<int64_t> shape(it.getShape().drop_front(m->axis));
        if (llvm::any_of(shape, ShapedType::isDynamic))
          shape.assign(1, 1);
        auto st = RankedTensorType::get(shape, it.getElementType());
        scale = arith::ConstantOp::create(
            rw, loc, DenseElementsAttr::get(st, rw.getFloatAttr(it.getElementType(), 1.0)));
      }
      if (cast<RankedTensorType>(scale.getType()).getElementType() != it.getElementType()) {
        auto st = cast<RankedTensorType>(scale.getType());
        scale = CastOp::create(rw, loc, RankedTensorType::get(st.getShape(), it.getElementType()),
                               scale);
      }
      auto op = RmsNormOp::create(rw, loc, input, residual, scale, m->axis, m->eps, withSum);
      rw.replaceAllUsesWith(m->root->getResult(0), op.getResult());
      for (OpOperand *use : sumUses)
        rw.modifyOpInPlace(use->getOwner(), [&] { use->set(op.getSum()); });
      if (residual)
        ++numResidual;
      // Constants are left to eraseDeadConstants (an op of `dead` may be one
      // of them: erased twice otherwise).
      llvm::SmallPtrSet<Operation *, 8> erased;
      for (Operation *d : dead)
        if (d && !erased.contains(d) && d->use_empty() &&
            !llvm::is_contained(constants, d)) {
          erased.insert(d);
          rw.eraseOp(d);
        }
      eraseDeadConstants(rw, constants);
      ++numFused;
    }
  }
};
} // namespace
