//===- ChainMatch.cpp - attention score chain and operand matchers -------===//
//
// What lies between the two matmuls of an attention chain: the scales and
// masks on the scores (matchScoreChain, matchScaleOp, the select conditions),
// how the query and key operands reach the scores matmul (transposes,
// dynamo's regrouped transpose, scales: matchOperand), and the SDPA export's
// NaN select after the softmax (matchNanToZero). A new form is a new case in
// one of them.
//
//===----------------------------------------------------------------------===//
#include "Graph/AttentionMatch.h"
#include "Support/ConstantEval.h"
#include "attn/Dialect/ShapeInference.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/FormatVariadic.h"

#include <cmath>

using namespace mlir;
using namespace mlir::attn;
using namespace mlir::attn::fuse;

namespace {

/// `reshape(transpose(reshape(x, [N, S, D]), [0, 2, 1]), [B, H, D, S])` with x
/// `[B, H, S, D]` (dynamo's SDPA decomposition of K^T): x, whose last two dims
/// that chain transposes, or null.
Value matchRegroupedTranspose(ReshapeOp outer, SymbolicShapes &dims,
                              SmallVectorImpl<Location> &locs) {
  auto t = outer.getInput().getDefiningOp<TransposeOp>();
  auto inner = t ? t.getInput().getDefiningOp<ReshapeOp>() : ReshapeOp();
  if (!inner)
    return {};
  ArrayRef<int64_t> perm = t.getPerm();
  int64_t m = perm.size();
  if (m < 2 || perm[m - 1] != m - 2 || perm[m - 2] != m - 1)
    return {};
  for (int64_t i = 0; i < m - 2; ++i)
    if (perm[i] != i)
      return {};
  Value x = inner.getInput();
  int64_t n = shapeOf(x).size();
  if (n < 2 || (int64_t)shapeOf(outer.getResult()).size() != n)
    return {};
  // The inner reshape keeps x's last two dims, the outer one restores its
  // leading dims: only the batch dims were regrouped around the transpose.
  Value y = outer.getResult(), z = inner.getResult();
  if (!dims.dim(z, -1).same(dims.dim(x, -1)) || !dims.dim(z, -2).same(dims.dim(x, -2)) ||
      !dims.dim(y, -1).same(dims.dim(x, -2)) || !dims.dim(y, -2).same(dims.dim(x, -1)))
    return {};
  for (int64_t i = 0; i < n - 2; ++i)
    if (!dims.dim(y, i).same(dims.dim(x, i)))
      return {};
  locs.append({outer.getLoc(), t.getLoc(), inner.getLoc()});
  return x;
}

/// What a bool condition tests: true <=> (mask == 0) or true <=> (mask != 0).
struct Condition {
  Value mask;
  bool trueWhenZero = false;
};

} // namespace

namespace mlir::attn::fuse {

bool isIdentityCast(Operation *op) {
  auto cast = dyn_cast_or_null<CastOp>(op);
  return cast && cast.getInput().getType() == cast.getType();
}

//--- Scale ------------------------------------------------------------------//

/// `op` is `attn.mul(x, c)`, `attn.mul(c, x)` or `attn.div(x, c)` with `c` a
/// scalar constant that only broadcasts; returns x and the factor.
LogicalResult matchScaleOp(Operation *op, Value &input, double &factor,
                           Why &why) {
  auto scalarOperand = [&](Value x, Value c) -> std::optional<double> {
    if (!fitsInto(shapeOf(c), shapeOf(x)) ||
        shapeOf(x).size() != shapeOf(op->getResult(0)).size())
      return std::nullopt;
    return evalScalar(c);
  };
  if (auto mul = dyn_cast<MulOp>(op)) {
    if (auto c = scalarOperand(mul.getLhs(), mul.getRhs())) {
      input = mul.getLhs();
      factor = *c;
    } else if (auto c = scalarOperand(mul.getRhs(), mul.getLhs())) {
      input = mul.getRhs();
      factor = *c;
    } else {
      return why.fail("'attn.mul' on the scores is not by a scalar constant");
    }
  } else if (auto div = dyn_cast<DivOp>(op)) {
    auto c = scalarOperand(div.getLhs(), div.getRhs());
    if (!c)
      return why.fail("'attn.div' on the scores is not by a scalar constant");
    if (*c == 0.0)
      return why.fail("the scores are divided by zero");
    input = div.getLhs();
    factor = 1.0 / *c;
  } else {
    return why.fail(opName(op) + " is not a scale");
  }
  if (!std::isfinite(factor))
    return why.fail("the scale is not finite");
  return success();
}

//--- Q and K operands -------------------------------------------------------//

/// Walks up from a matmul operand through attn.transpose and scalar scales.
/// `wanted` is the permutation the attention operand must have relative to
/// the matmul operand: identity for Q; for K the operand is K^T, so K is the
/// operand transposed by the last-two-dims swap. Reuses an existing value when
/// one has exactly that layout, otherwise plans a new attn.transpose of the
/// topmost value. For K, that transpose must keep the base value's innermost
/// dim innermost (the K' chain really transposes the key's last two dims).
LogicalResult matchOperand(Value operand, bool isKey, SymbolicShapes &dims,
                           OperandPlan &plan, Why &why) {
  struct Step {
    Value value;
    SmallVector<int64_t> perm; // operand = transpose(value, perm) (x scales)
    SmallVector<Location> locs;
  };
  int64_t rank = shapeOf(operand).size();
  SmallVector<Step> steps{{operand, identityPerm(rank), {}}};
  size_t lowest = 0; // steps below the deepest scale may be used
  double scale = 1.0;
  bool scaled = false;
  while (Operation *def = steps.back().value.getDefiningOp()) {
    Step next = steps.back();
    if (auto t = dyn_cast<TransposeOp>(def)) {
      // operand = transpose(transpose(in, p), perm) = transpose(in, p o perm)
      for (int64_t &d : next.perm)
        d = t.getPerm()[d];
      next.value = t.getInput();
      next.locs.push_back(t.getLoc());
      steps.push_back(std::move(next));
      continue;
    }
    if (auto r = dyn_cast<ReshapeOp>(def)) {
      if (Value x = matchRegroupedTranspose(r, dims, next.locs)) {
        // As a transpose of the last two dims.
        int64_t n = next.perm.size();
        for (int64_t &d : next.perm)
          if (d >= n - 2)
            d = d == n - 1 ? n - 2 : n - 1;
        next.value = x;
        steps.push_back(std::move(next));
        continue;
      }
    }
    Value in;
    double f;
    Why ignored;
    if (isa<MulOp, DivOp>(def) && succeeded(matchScaleOp(def, in, f, ignored))) {
      scale *= f;
      scaled = true;
      next.value = in;
      steps.push_back(std::move(next));
      lowest = steps.size() - 1;
      continue;
    }
    break;
  }

  SmallVector<int64_t> wanted =
      isKey ? swapLastTwo(identityPerm(rank)) : identityPerm(rank);
  plan = OperandPlan();
  plan.scale = scale;
  plan.scaled = scaled;
  for (size_t i = lowest; i < steps.size(); ++i) {
    if (steps[i].perm == wanted) {
      plan.base = steps[i].value;
      return success();
    }
  }
  if (!isKey) {
    // A scale under a transpose: transpose the unscaled value.
    plan.base = steps[lowest].value;
    plan.perm = steps[lowest].perm;
    plan.locs = steps[lowest].locs;
    return success();
  }
  const Step &top = steps.back();
  if (top.perm[rank - 2] != rank - 1)
    return why.fail("the key operand of the scores matmul is not a transpose "
                    "of the key's last two dims");
  plan.base = top.value;
  plan.perm = swapLastTwo(top.perm);
  plan.locs = top.locs;
  return success();
}

Value peelBroadcasts(Value mask, ArrayRef<int64_t> scoresShape) {
  while (auto e = mask.getDefiningOp<ExpandOp>()) {
    if (!fitsInto(shapeOf(e.getInput()), scoresShape))
      break;
    mask = e.getInput();
  }
  return mask;
}

/// Looks through `cmp eq/ne (m, 0)`, `not`, casts to i1 and broadcasts so
/// that the mask operand is the user's mask, as long as it still fits the

} // namespace mlir::attn::fuse

namespace {

Condition analyzeCondition(Value cond, ArrayRef<int64_t> scoresShape) {
  cond = peelBroadcasts(cond, scoresShape);
  Condition direct{cond, /*trueWhenZero=*/false};
  Operation *def = cond.getDefiningOp();
  if (!def)
    return direct;
  std::optional<Condition> inner;
  if (auto cmp = dyn_cast<CmpOp>(def)) {
    bool eq = cmp.getPredicate() == CmpPredicate::eq;
    if (eq || cmp.getPredicate() == CmpPredicate::ne) {
      if (isZero(cmp.getRhs()))
        inner = Condition{cmp.getLhs(), eq};
      else if (isZero(cmp.getLhs()))
        inner = Condition{cmp.getRhs(), eq};
    }
  } else if (auto n = dyn_cast<NotOp>(def)) {
    Condition c = analyzeCondition(n.getInput(), scoresShape);
    c.trueWhenZero = !c.trueWhenZero;
    inner = c;
  } else if (auto c = dyn_cast<CastOp>(def)) {
    // Cast to bool is `x != 0` (ONNX Cast); from bool it is the identity.
    if (getElementTypeOrSelf(c.getInput().getType()).isInteger(1))
      inner = analyzeCondition(c.getInput(), scoresShape);
    else
      inner = Condition{c.getInput(), false};
  }
  if (inner && fitsInto(shapeOf(inner->mask), scoresShape)) {
    inner->mask = peelBroadcasts(inner->mask, scoresShape);
    return *inner;
  }
  return direct;
}

bool isChainOp(Value v) {
  Operation *def = v.getDefiningOp();
  return def && (isa<MatmulOp, MulOp, DivOp, AddOp, SelectOp>(def) ||
                 isIdentityCast(def));
}

size_t numMasks(const AttentionMatch &m) {
  return llvm::count_if(m.edits,
                        [](const ScoreEdit &e) { return e.mask.has_value(); });
}

/// Matches the edits between the scores matmul and the softmax, from the

} // namespace

namespace mlir::attn::fuse {

LogicalResult matchScoreChain(Value v, AttentionMatch &m, Why &why) {
  Operation *def = v.getDefiningOp();
  if (!def)
    return why.fail("the softmax input is not computed by a matmul");
  if (!v.hasOneUse())
    return why.fail(llvm::formatv("the result of {0} between the scores matmul "
                                  "and the softmax has {1} users",
                                  opName(def),
                                  std::distance(v.use_begin(), v.use_end())));
  if (auto mm = dyn_cast<MatmulOp>(def)) {
    m.scores = mm;
    return success();
  }

  if (isIdentityCast(def)) {
    m.passthrough.push_back(def);
    return matchScoreChain(def->getOperand(0), m, why);
  }

  // Gemma 2's logit soft-capping: c * tanh(x / c) (x * (1/c) too).
  if (auto mul = dyn_cast<MulOp>(def)) {
    for (int i : {0, 1}) {
      auto tanh = mul->getOperand(i).getDefiningOp<TanhOp>();
      std::optional<double> c = evalScalar(mul->getOperand(1 - i));
      if (!tanh || !c || !(*c > 0) || !std::isfinite(*c) || !tanh->hasOneUse() ||
          !fitsInto(shapeOf(mul->getOperand(1 - i)), shapeOf(mul.getResult())) ||
          shapeOf(tanh.getResult()) != shapeOf(mul.getResult()))
        continue;
      Operation *inner = tanh.getInput().getDefiningOp();
      Value x;
      double f;
      Why innerWhy;
      if (!inner || !inner->hasOneUse() || !isa<MulOp, DivOp>(inner) ||
          failed(matchScaleOp(inner, x, f, innerWhy)) ||
          std::abs(f * *c - 1.0) > 1e-6)
        return why.fail("'attn.tanh' on the scores is not a soft-cap c * tanh(x / c)");
      if (m.softcap || llvm::any_of(m.edits, [](const ScoreEdit &e) { return e.softcap; }))
        return why.fail("two soft-caps on the scores");
      ScoreEdit edit{def, 1.0, std::nullopt};
      edit.softcap = *c;
      m.edits.push_back(edit);
      return matchScoreChain(x, m, why);
    }
  }

  if (isa<MulOp, DivOp>(def)) {
    Value in;
    double f;
    if (failed(matchScaleOp(def, in, f, why)))
      return failure();
    m.edits.push_back(ScoreEdit{def, f, std::nullopt});
    return matchScoreChain(in, m, why);
  }

  bool isMask = isa<AddOp, SelectOp>(def);
  if (isMask && numMasks(m) >= 2)
    return why.fail("more than two masks between the scores and the softmax");

  if (auto add = dyn_cast<AddOp>(def)) {
    // Either operand may be the scores; try the likelier one first.
    int first = (!isChainOp(add.getLhs()) && isChainOp(add.getRhs())) ? 1 : 0;
    std::optional<Why> firstWhy;
    for (int i : {first, 1 - first}) {
      Value chain = add->getOperand(i), mask = add->getOperand(1 - i);
      Why attempt;
      if (!fitsInto(shapeOf(mask), shapeOf(chain))) {
        (void)attempt.fail(llvm::formatv(
            "the additive mask shape {0} does not fit the scores shape {1}",
            shapeStr(shapeOf(mask)), shapeStr(shapeOf(chain))));
      } else {
        AttentionMatch saved = m;
        mask = peelBroadcasts(mask, shapeOf(chain));
        m.edits.push_back(
            ScoreEdit{add, 1.0, MaskEdit{MaskKind::additive, mask, 0.0, {}}});
        if (succeeded(matchScoreChain(chain, m, attempt)))
          return success();
        m = saved;
      }
      if (!firstWhy)
        firstWhy = attempt;
    }
    why = *firstWhy;
    return failure();
  }

  if (auto sel = dyn_cast<SelectOp>(def)) {
    std::optional<double> t = evalScalar(sel.getTrueValue());
    std::optional<double> f = evalScalar(sel.getFalseValue());
    if (t.has_value() == f.has_value())
      return why.fail("'attn.select' on the scores does not pick between the "
                      "scores and a splat constant");
    bool fillWhenTrue = t.has_value();
    Value chain = fillWhenTrue ? sel.getFalseValue() : sel.getTrueValue();
    Value fill = fillWhenTrue ? sel.getTrueValue() : sel.getFalseValue();
    ArrayRef<int64_t> scoresShape = shapeOf(chain);
    if (!fitsInto(shapeOf(fill), scoresShape) ||
        !fitsInto(shapeOf(sel.getCondition()), scoresShape))
      return why.fail(llvm::formatv(
          "the mask shape {0} does not fit the scores shape {1}",
          shapeStr(shapeOf(sel.getCondition())), shapeStr(scoresShape)));
    Condition cond = analyzeCondition(sel.getCondition(), scoresShape);
    // Fill where (cond == fillWhenTrue); cond <=> (mask == 0) if trueWhenZero.
    MaskKind kind = fillWhenTrue == cond.trueWhenZero ? MaskKind::fill_if_zero
                                                      : MaskKind::fill_if_nonzero;
    m.edits.push_back(ScoreEdit{
        sel, 1.0, MaskEdit{kind, cond.mask, fillWhenTrue ? *t : *f, {}}});
    return matchScoreChain(chain, m, why);
  }

  return why.fail(opName(def) +
                  " between the scores matmul and the softmax is not a "
                  "scale or a mask");
}

/// `Where(IsNaN(p), 0, p)` (IsNaN imported as `p != p`) after the softmax,
/// PyTorch's SDPA export: the select, or null.
SelectOp matchNanToZero(Value p) {
  SelectOp sel;
  CmpOp isNan;
  for (Operation *user : p.getUsers()) {
    if (auto s = dyn_cast<SelectOp>(user)) {
      if (sel && sel != s)
        return {};
      sel = s;
    } else if (auto c = dyn_cast<CmpOp>(user)) {
      if (isNan && isNan != c)
        return {};
      isNan = c;
    } else {
      return {};
    }
  }
  if (!sel || !isNan || isNan.getPredicate() != CmpPredicate::ne ||
      isNan.getLhs() != p || isNan.getRhs() != p || !isNan->hasOneUse() ||
      sel.getCondition() != isNan.getResult() || sel.getFalseValue() != p ||
      sel.getTrueValue() == p || !isZero(sel.getTrueValue()) ||
      sel.getType() != p.getType())
    return {};
  return sel;
}

} // namespace mlir::attn::fuse
