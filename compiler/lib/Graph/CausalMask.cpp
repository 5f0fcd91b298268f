//===- CausalMask.cpp - mask patterns and the causal flag -----------------===//
//
// Evaluates masks whose value depends only on the (query, key) position
// (constants, Trilu of ConstantOfShape, Range/Less comparisons of positions)
// into `(k - q >= t) ? hi : lo` patterns; decides which mask is exactly
// top-left causal and becomes the `causal` flag, splits `causal & padding`
// into the flag and the padding mask, and folds the scales and the mask into
// the attributes of attn.attention (matchAttributes).
//
//===----------------------------------------------------------------------===//
#include "Graph/AttentionMatch.h"
#include "Support/ConstantEval.h"
#include "attn/Dialect/ShapeInference.h"

#include "llvm/ADT/STLExtras.h"

#include <cmath>

using namespace mlir;
using namespace mlir::attn;
using namespace mlir::attn::fuse;

namespace {

struct MaskPattern {
  int64_t t = 0;
  double hi = 0.0, lo = 0.0;
  enum class Index { none, key, query, vector } index = Index::none;
  bool splat() const { return index == Index::none && hi == lo; }
};

class PatternEvaluator {
public:
  explicit PatternEvaluator(SymbolicShapes &dims) : dims(dims) {}

  std::optional<MaskPattern> eval(Value v, int depth = 0) {
    if (depth > 32)
      return std::nullopt;
    Type et = getElementTypeOrSelf(v.getType());
    if (auto c = evalScalar(v))
      return splat(*c);
    if (ConstantReader r = readConstant(v))
      return fitConstant(r, cast<RankedTensorType>(v.getType()));
    Operation *def = v.getDefiningOp();
    if (!def)
      return std::nullopt;
    if (auto c = dyn_cast<ConstantOfShapeOp>(def)) {
      if (auto f = dyn_cast<FloatAttr>(c.getValue()))
        return splat(f.getValueAsDouble());
      if (auto n = dyn_cast<IntegerAttr>(c.getValue()))
        return splat(n.getType().isInteger(1) ? (double)n.getValue().getZExtValue()
                                              : (double)n.getValue().getSExtValue());
      return std::nullopt;
    }
    if (auto r = dyn_cast<RangeOp>(def)) {
      auto start = evalScalar(r.getStart()), delta = evalScalar(r.getDelta());
      if (!start || !delta || *start != 0.0 || *delta != 1.0)
        return std::nullopt;
      MaskPattern p;
      p.index = MaskPattern::Index::vector;
      return p;
    }
    if (auto t = dyn_cast<TriluOp>(def)) {
      auto in = eval(t.getInput(), depth + 1);
      if (!in || !in->splat())
        return std::nullopt;
      int64_t k = t.getK();
      // upper keeps k - q >= k; lower keeps k - q <= k, i.e. not >= k + 1.
      return t.getUpper() ? pattern(k, in->hi, 0.0) : pattern(k + 1, 0.0, in->hi);
    }
    if (isa<ReshapeOp, ExpandOp>(def))
      return evalLayout(def, v, depth);
    if (auto n = dyn_cast<NotOp>(def)) {
      auto in = eval(n.getInput(), depth + 1);
      if (!in || in->index != MaskPattern::Index::none)
        return std::nullopt;
      return pattern(in->t, in->hi == 0.0, in->lo == 0.0);
    }
    if (auto c = dyn_cast<CastOp>(def)) {
      auto in = eval(c.getInput(), depth + 1);
      if (!in || in->index != MaskPattern::Index::none)
        return std::nullopt;
      auto conv = [&](double x) {
        if (et.isInteger(1))
          return x != 0.0 ? 1.0 : 0.0;
        if (isa<FloatType>(et))
          return roundTo(et, x);
        return std::trunc(x);
      };
      return pattern(in->t, conv(in->hi), conv(in->lo));
    }
    if (auto cmp = dyn_cast<CmpOp>(def))
      return evalCompare(cmp, depth);
    if (auto sel = dyn_cast<SelectOp>(def)) {
      auto c = eval(sel.getCondition(), depth + 1);
      auto a = eval(sel.getTrueValue(), depth + 1);
      auto b = eval(sel.getFalseValue(), depth + 1);
      if (!c || !a || !b)
        return std::nullopt;
      return combine({*c, *a, *b}, [](ArrayRef<double> x) {
        return x[0] != 0.0 ? x[1] : x[2];
      });
    }
    if (isa<AddOp, SubOp, MulOp, DivOp>(def)) {
      auto a = eval(def->getOperand(0), depth + 1);
      auto b = eval(def->getOperand(1), depth + 1);
      if (!a || !b)
        return std::nullopt;
      return combine({*a, *b}, [&](ArrayRef<double> x) {
        double r = isa<AddOp>(def)   ? x[0] + x[1]
                   : isa<SubOp>(def) ? x[0] - x[1]
                   : isa<MulOp>(def) ? x[0] * x[1]
                                     : x[0] / x[1];
        return roundTo(et, r);
      });
    }
    return std::nullopt;
  }

private:
  SymbolicShapes &dims;

  static MaskPattern splat(double c) { return pattern(0, c, c); }
  static MaskPattern pattern(int64_t t, double hi, double lo) {
    MaskPattern p;
    p.t = t;
    p.hi = hi;
    p.lo = lo;
    return p;
  }

  /// The pattern of a constant, if it has one: `hi` is taken from the top
  /// right corner (largest k - q), `lo` from the bottom left, `t` from where
  /// row 0 first reaches `hi`; then every element (of every broadcast slice)
  /// is checked.
  static std::optional<MaskPattern> fitConstant(const ConstantReader &r,
                                                RankedTensorType type) {
    if (type.getRank() < 2 || r.numElements == 0)
      return std::nullopt;
    int64_t rows = type.getDimSize(type.getRank() - 2);
    int64_t cols = type.getShape().back();
    double hi = r.at(cols - 1), lo = r.at((rows - 1) * cols);
    int64_t t = 0;
    if (hi != lo) {
      while (t < cols && r.at(t) != hi)
        ++t;
    }
    for (int64_t i = 0; i < r.numElements; ++i) {
      int64_t k = i % cols, q = (i / cols) % rows;
      double want = hi != lo && k - q < t ? lo : hi;
      double x = r.at(i);
      if (!(x == want || (std::isnan(x) && std::isnan(want))))
        return std::nullopt;
    }
    return pattern(t, hi, lo);
  }

  /// Elementwise combination of patterns that share their threshold.
  std::optional<MaskPattern>
  combine(ArrayRef<MaskPattern> in,
          llvm::function_ref<double(ArrayRef<double>)> fn) {
    std::optional<int64_t> t;
    for (const MaskPattern &p : in) {
      if (p.index != MaskPattern::Index::none)
        return std::nullopt;
      if (p.splat())
        continue;
      if (t && *t != p.t)
        return std::nullopt;
      t = p.t;
    }
    SmallVector<double> hi, lo;
    for (const MaskPattern &p : in) {
      hi.push_back(p.hi);
      lo.push_back(p.lo);
    }
    return pattern(t.value_or(0), fn(hi), fn(lo));
  }

  /// Reshape/expand: a rank-1 position vector laid out as [1, n] (key
  /// positions) or [n, 1] (query positions); a 2-D pattern keeps its meaning
  /// when the last two dims stay the same (row-major order is preserved by
  /// reshape, and expand only adds broadcast copies).
  std::optional<MaskPattern> evalLayout(Operation *def, Value v, int depth) {
    Value in = def->getOperand(0);
    auto p = eval(in, depth + 1);
    if (!p)
      return std::nullopt;
    auto outTy = cast<RankedTensorType>(v.getType());
    int64_t rank = outTy.getRank();
    auto inTy = cast<RankedTensorType>(in.getType());
    int64_t along = p->index == MaskPattern::Index::query ? inTy.getRank() - 2
                                                           : inTy.getRank() - 1;
    bool vectorLayout = p->index != MaskPattern::Index::none && isa<ReshapeOp>(def);
    for (int64_t i = 0; vectorLayout && i < inTy.getRank(); ++i)
      vectorLayout = i == along || inTy.getDimSize(i) == 1;
    if (vectorLayout) {
      // A position vector (range(0, n)) laid out along one dim, the others
      // static 1: along the last dim it holds key positions, along the second
      // to last query positions (position_ids [1, S] -> [1, 1, S, 1]).
      SymbolicDim n = dims.dim(in, along);
      if (rank < 2)
        return std::nullopt;
      for (int64_t i = 0; i < rank - 2; ++i)
        if (outTy.getDimSize(i) != 1)
          return std::nullopt;
      SymbolicDim rows = dims.dim(v, -2), cols = dims.dim(v, -1);
      MaskPattern r = *p;
      if (rows.isOne() && cols.same(n))
        r.index = MaskPattern::Index::key;
      else if (cols.isOne() && rows.same(n))
        r.index = MaskPattern::Index::query;
      else
        return std::nullopt;
      return r;
    }
    if (p->index == MaskPattern::Index::vector)
      return std::nullopt;
    if (p->splat())
      return p;
    if (inTy.getRank() < 2 || rank < 2 ||
        !dims.dim(v, -1).same(dims.dim(in, -1)) ||
        !dims.dim(v, -2).same(dims.dim(in, -2)))
      return std::nullopt;
    return p;
  }

  /// cmp(pred, key positions, query positions) (or the other way round).
  std::optional<MaskPattern> evalCompare(CmpOp cmp, int depth) {
    auto a = eval(cmp.getLhs(), depth + 1);
    auto b = eval(cmp.getRhs(), depth + 1);
    if (!a || !b)
      return std::nullopt;
    using I = MaskPattern::Index;
    CmpPredicate pred = cmp.getPredicate();
    if (a->index == I::query && b->index == I::key) {
      std::swap(a, b);
      switch (pred) {
      case CmpPredicate::lt: pred = CmpPredicate::gt; break;
      case CmpPredicate::le: pred = CmpPredicate::ge; break;
      case CmpPredicate::gt: pred = CmpPredicate::lt; break;
      case CmpPredicate::ge: pred = CmpPredicate::le; break;
      default: break;
      }
    }
    if (a->index != I::key || b->index != I::query)
      return std::nullopt;
    // Compare k with q in terms of d = k - q.
    switch (pred) {
    case CmpPredicate::gt: return pattern(1, 1.0, 0.0); // d >= 1
    case CmpPredicate::ge: return pattern(0, 1.0, 0.0); // d >= 0
    case CmpPredicate::lt: return pattern(0, 0.0, 1.0); // not d >= 0
    case CmpPredicate::le: return pattern(1, 0.0, 1.0); // not d >= 1
    default: return std::nullopt;
    }
  }
};

//--- Causal -----------------------------------------------------------------//

/// Whether a score value x (the fill, or an additive mask entry), multiplied
/// by the scales applied after it, gets exp() = 0.
bool negligible(double x, double laterScale) {
  if (!(laterScale > 0.0))
    return false;
  double eff = x * laterScale;
  return eff == -INFINITY || eff <= kCausalMaskThreshold;
}

/// Whether the mask is exactly top-left causal on scores whose query and key
/// lengths are `sq` and `sk`: its last two dims provably are [sq, sk], its
/// value depends only on the position (a constant, or a Trilu of a
/// ConstantOfShape, or a comparison of range() key and query positions, ...),
/// key k is masked exactly when k > q, and a masked score gets exp() = 0.
bool isCausalMask(const MaskEdit &mask, double laterScale, const SymbolicDim &sq,
                  const SymbolicDim &sk, SymbolicShapes &dims) {
  auto type = cast<RankedTensorType>(mask.mask.getType());
  if (type.getRank() < 2 || !dims.dim(mask.mask, -2).same(sq) ||
      !dims.dim(mask.mask, -1).same(sk))
    return false;
  std::optional<MaskPattern> p = PatternEvaluator(dims).eval(mask.mask);
  if (!p || p->index != MaskPattern::Index::none || p->splat() || p->t != 1)
    return false;
  double masked = p->hi, kept = p->lo; // masked where k - q >= 1
  switch (mask.kind) {
  case MaskKind::additive:
    return kept == 0.0 && negligible(masked, laterScale);
  case MaskKind::fill_if_zero:
    return negligible(mask.fill, laterScale) && masked == 0.0 && kept != 0.0;
  case MaskKind::fill_if_nonzero:
    // NaN counts as nonzero, as `mask != 0`.
    return negligible(mask.fill, laterScale) && masked != 0.0 && kept == 0.0;
  case MaskKind::none:
    return false;
  }
  return false;
}

/// Whether the bool `c` is true exactly where k <= q on scores whose query
/// and key lengths are `sq` and `sk` (the causal half of `causal & padding`).
bool isCausalKeep(Value c, const SymbolicDim &sq, const SymbolicDim &sk, SymbolicShapes &dims) {
  auto type = cast<RankedTensorType>(c.getType());
  if (!type.getElementType().isInteger(1) || type.getRank() < 2 ||
      !dims.dim(c, -2).same(sq) || !dims.dim(c, -1).same(sk))
    return false;
  std::optional<MaskPattern> p = PatternEvaluator(dims).eval(c);
  // false where k - q >= 1, true below.
  return p && p->index == MaskPattern::Index::none && !p->splat() && p->t == 1 &&
         p->hi == 0.0 && p->lo != 0.0;
}

/// Whether a mask value does not depend on the query position.
bool independentOfQuery(Value v) {
  ArrayRef<int64_t> shape = shapeOf(v);
  return shape.size() < 2 || shape[shape.size() - 2] == 1;
}

/// Whether adding any realistic score x (|x| <= 2^64) to `f` gives `f` again,
/// in the element type and in the f32 the lowerings compute in: then
/// `s + f` at a masked position is `f` exactly (finfo.min is such a value).
bool absorbs(double f, Type et) {
  if (!std::isfinite(f))
    return false;
  const double big = 18446744073709551616.0; // 2^64
  for (Type t : {et, (Type)Float32Type::get(et.getContext())})
    if (roundTo(t, f + big) != f || roundTo(t, f - big) != f || roundTo(t, f) != f)
      return false;
  return true;
}

/// The causal half of a mask `causal & padding` becomes the flag: what is
/// left as the mask, and the score of the positions k > q.
struct CausalSplit {
  MaskEdit rest;
  double fill; // the masked value, before the scales after the mask
};

/// Splits `select(and(C, P), a, b)` added to the scores (Hugging Face's
/// `Where(causal & padding, 0, finfo.min)`), or a fill where `and(C, P)` is
/// false, into the causal flag and a mask on P alone, when C is exactly the
/// causal pattern and P does not depend on the query position. Positions
/// k > q then take the masked value itself, which is what the graph computes
/// when that value absorbs every score (finfo.min) or is -inf.
std::optional<CausalSplit> splitCausal(const MaskEdit &mask, const SymbolicDim &sq,
                                       const SymbolicDim &sk, SymbolicShapes &dims,
                                       ArrayRef<int64_t> scoresShape, Type et) {
  Value cond;
  SelectOp sel;
  if (mask.kind == MaskKind::additive) {
    sel = mask.mask.getDefiningOp<SelectOp>();
    if (!sel || !evalScalar(sel.getTrueValue()) || !evalScalar(sel.getFalseValue()))
      return std::nullopt;
    cond = peelBroadcasts(sel.getCondition(), scoresShape);
  } else if (mask.kind == MaskKind::fill_if_zero &&
             getElementTypeOrSelf(mask.mask.getType()).isInteger(1)) {
    cond = mask.mask;
  } else {
    return std::nullopt;
  }
  auto both = cond.getDefiningOp<AndOp>();
  if (!both)
    return std::nullopt;
  for (int i : {0, 1}) {
    Value c = peelBroadcasts(both->getOperand(i), scoresShape);
    Value pad = peelBroadcasts(both->getOperand(1 - i), scoresShape);
    if (!independentOfQuery(pad) || !isCausalKeep(c, sq, sk, dims))
      continue;
    CausalSplit split;
    if (!sel) {
      split.rest = MaskEdit{MaskKind::fill_if_zero, pad, mask.fill, {}};
      split.fill = mask.fill;
      return split;
    }
    double masked = *evalScalar(sel.getFalseValue());
    if (masked != -INFINITY && !absorbs(masked, et))
      return std::nullopt;
    SmallVector<int64_t> shape(shapeOf(pad));
    for (Value branch : {sel.getTrueValue(), sel.getFalseValue()}) {
      auto b = broadcastShapes(shape, shapeOf(branch));
      if (!b)
        return std::nullopt;
      shape = *b;
    }
    auto type = RankedTensorType::get(shape, getElementTypeOrSelf(sel.getType()));
    split.rest = MaskEdit{MaskKind::additive, Value(), 0.0,
                          NewSelect{pad, sel.getTrueValue(), sel.getFalseValue(), type, sel}};
    split.fill = masked;
    return split;
  }
  return std::nullopt;
}

} // namespace

namespace mlir::attn::fuse {

//--- Scale, mask and causal flag --------------------------------------------//

/// Turns the edits (and the scales peeled off Q and K) into the attributes of
/// attn.attention: one scale, at most one mask (before or after the scale),
/// and the causal flag for a constant causal mask. Two masks are fine when
/// one of them is the causal constant (GPT-2: causal Where, then + padding);
/// one mask `causal & padding` splits into the flag and the padding mask.
LogicalResult matchAttributes(AttentionMatch &m, const SymbolicDim &sq, const SymbolicDim &sk,
                              SymbolicShapes &dims, ArrayRef<int64_t> scoresShape,
                              Type et, Why &why) {
  // Program order: the Q/K scales, then the edits from the scores on.
  SmallVector<ScoreEdit> order;
  if (m.query.scaled || m.key.scaled)
    order.push_back(ScoreEdit{nullptr, m.query.scale * m.key.scale, {}});
  llvm::append_range(order, llvm::reverse(m.edits));

  auto scaleAfter = [&](size_t i) {
    double f = 1.0;
    for (size_t j = i + 1; j < order.size(); ++j)
      if (!order[j].mask)
        f *= order[j].factor;
    return f;
  };
  // Soft-capping applies to the scaled scores before any mask, with no
  // scale after it (attn.attention's `softcap`).
  std::optional<size_t> softcap;
  for (size_t i = 0; i < order.size(); ++i)
    if (order[i].softcap)
      softcap = i;
  if (softcap) {
    for (size_t i = 0; i < order.size(); ++i) {
      if (i < *softcap && order[i].mask)
        return why.fail("a mask before the soft-cap tanh (attn.attention caps before masking)");
      if (i > *softcap && !order[i].mask && order[i].factor != 1.0)
        return why.fail("the scores are scaled after the soft-cap tanh");
    }
    m.softcap = order[*softcap].softcap;
  }

  SmallVector<size_t> masks;
  for (size_t i = 0; i < order.size(); ++i)
    if (order[i].mask)
      masks.push_back(i);

  // A constant causal mask becomes the flag. A later mask must not put a
  // non-negligible value back where it masked.
  std::optional<size_t> causal;
  for (size_t i : masks) {
    bool laterOk = llvm::all_of(masks, [&](size_t j) {
      return j <= i || order[j].mask->kind == MaskKind::additive ||
             negligible(order[j].mask->fill, scaleAfter(j));
    });
    if (laterOk && isCausalMask(*order[i].mask, scaleAfter(i), sq, sk, dims)) {
      causal = i;
      break;
    }
  }
  if (masks.size() == 2 && !causal)
    return why.fail("two masks on the scores, neither a constant causal mask");

  std::optional<size_t> keep;
  for (size_t i : masks)
    if (i != causal)
      keep = i;
  if (!causal && masks.size() == 1) {
    if (std::optional<CausalSplit> split =
            splitCausal(*order[masks[0]].mask, sq, sk, dims, scoresShape, et)) {
      causal = masks[0];
      keep = masks[0];
      order[masks[0]].mask = split->rest;
      double fill = roundTo(et, split->fill * scaleAfter(masks[0]));
      if (fill != -INFINITY) {
        if (!std::isfinite(fill))
          return why.fail("the causal mask's fill value is not finite after the scale");
        m.causalFill = fill;
      }
    }
  }
  double before = 1.0, after = 1.0;
  bool scaledBefore = false, scaledAfter = false;
  for (size_t i = 0; i < order.size(); ++i) {
    if (order[i].mask)
      continue;
    if (keep && i > *keep) {
      after *= order[i].factor;
      scaledAfter = true;
    } else {
      before *= order[i].factor;
      scaledBefore = true;
    }
  }
  if (scaledBefore && scaledAfter && before != 1.0 && after != 1.0)
    return why.fail("the scores are scaled both before and after the mask");

  m.causal = causal.has_value();
  m.scale = before * after;
  if (!std::isfinite(m.scale))
    return why.fail("the combined scale is not finite");
  if (keep) {
    const MaskEdit &mask = *order[*keep].mask;
    m.maskKind = mask.kind;
    m.mask = mask.mask;
    m.maskBuild = mask.build;
    m.fillValue = mask.kind == MaskKind::additive ? 0.0 : mask.fill;
    m.maskFirst = scaledAfter && after != 1.0;
  }
  return success();
}

} // namespace mlir::attn::fuse
