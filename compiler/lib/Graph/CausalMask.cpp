//===- CausalMask.cpp - mask patterns and the causal flag -----------------===//
//
// Evaluates masks whose value depends only on the (query, key) position
// (constants, Trilu of ConstantOfShape, Range/Less comparisons of positions)
// into `(k - q >= t) ? hi : lo` patterns; decides which mask is exactly
// top-left causal and becomes the `causal` flag, splits `causal & padding`
// into the flag and the padding mask, and folds the scales and the mask into
// the attributes of attn.attention (matchAttributes). Position vectors may
// carry a symbolic offset (a with-past export's query positions are
// `range(T) + P`, P the past length): a mask that keeps k <= q + (Sk - Sq) is
// causal with `causal_align = bottom_right` (queries after a KV cache).
// A sliding-window layer's `causal & window` (`k <= q + o` and `k > q + o -
// W`, the second from positions minus the constant W) becomes the flag and
// `window = W`, with or without the padding half.
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

/// A size as a sum of symbolic dims with integer coefficients plus a
/// constant (`past + seq`): what SymbolicDim cannot say for concatenated KV
/// caches.
struct LinearSize {
  int64_t c = 0;
  SmallVector<std::pair<SymbolicDim, int64_t>> terms;

  static LinearSize constant(int64_t v) {
    LinearSize r;
    r.c = v;
    return r;
  }
  /// A known dim (static or symbolic); nullopt when unknown.
  static std::optional<LinearSize> of(const SymbolicDim &d) {
    if (!d.known())
      return std::nullopt;
    if (d.isStatic())
      return constant(d.size);
    LinearSize r;
    r.terms.push_back({d, 1});
    return r;
  }
  LinearSize plus(const LinearSize &o, int64_t sign = 1) const {
    LinearSize r = *this;
    r.c += sign * o.c;
    for (const auto &[d, k] : o.terms) {
      auto it = llvm::find_if(r.terms, [&](const auto &t) { return t.first.same(d); });
      if (it == r.terms.end())
        r.terms.push_back({d, sign * k});
      else
        it->second += sign * k;
    }
    llvm::erase_if(r.terms, [](const auto &t) { return t.second == 0; });
    return r;
  }
  bool zero() const { return c == 0 && terms.empty(); }
  bool equals(const LinearSize &o) const { return plus(o, -1).zero(); }
};

/// Follows sizes as LinearSize: a dim of a tensor (through concatenation on
/// that axis, matmul, transpose, broadcasting elementwise ops and reshapes),
/// and the value of a scalar integer tensor (through Add/Sub and
/// `Gather(Shape(x), i)`), falling back on SymbolicShapes.
class LinearSizes {
public:
  explicit LinearSizes(SymbolicShapes &dims) : dims(dims) {}

  std::optional<LinearSize> dim(Value v, int64_t i, int depth = 0) {
    auto type = dyn_cast<RankedTensorType>(v.getType());
    if (!type || depth > 32)
      return std::nullopt;
    int64_t rank = type.getRank();
    if (i < 0)
      i += rank;
    if (i < 0 || i >= rank)
      return std::nullopt;
    if (!type.isDynamicDim(i))
      return LinearSize::constant(type.getDimSize(i));
    Operation *def = v.getDefiningOp();
    // Concatenation along the dim first: SymbolicShapes names such a dim by
    // the value itself, which would hide `past + seq`.
    // Likewise a range's length: `limit - start` may be a size SymbolicShapes
    // has no name for (range(P, P + T) has T elements).
    if (auto r = dyn_cast_or_null<RangeOp>(def))
      if (auto d = rangeLength(r, depth))
        return d;
    auto concat = dyn_cast_or_null<ConcatOp>(def);
    if (!concat || (i != (int64_t)concat.getAxis() && i != (int64_t)concat.getAxis() + rank))
      if (auto d = fromSymbolic(dims.dim(v, i), depth))
        return d;
    if (!def)
      return std::nullopt;
    if (auto c = dyn_cast<ConcatOp>(def)) {
      if (i != (int64_t)c.getAxis() && i != (int64_t)c.getAxis() + rank)
        return dim(c.getInputs()[0], i, depth + 1);
      LinearSize sum;
      for (Value in : c.getInputs()) {
        auto d = dim(in, i, depth + 1);
        if (!d)
          return std::nullopt;
        sum = sum.plus(*d);
      }
      return sum;
    }
    if (auto t = dyn_cast<TransposeOp>(def))
      return dim(t.getInput(), t.getPerm()[i], depth + 1);
    if (auto mm = dyn_cast<MatmulOp>(def)) {
      if (i == rank - 2)
        return dim(mm.getLhs(), -2, depth + 1);
      if (i == rank - 1)
        return dim(mm.getRhs(), -1, depth + 1);
      return std::nullopt;
    }
    if (isa<CmpOp, AndOp, OrOp, SelectOp, AddOp, SubOp, MulOp, DivOp, NotOp, CastOp,
            ExpandOp>(def)) {
      // Broadcasting: the one size among the operands that is not 1.
      std::optional<LinearSize> r;
      ValueRange operands = def->getOperands();
      if (auto e = dyn_cast<ExpandOp>(def))
        operands = e->getOperands().take_front(1);
      for (Value operand : operands) {
        auto ot = dyn_cast<RankedTensorType>(operand.getType());
        if (!ot)
          return std::nullopt;
        int64_t j = i - (rank - ot.getRank());
        if (j < 0 || ot.getDimSize(j) == 1)
          continue;
        auto d = dim(operand, j, depth + 1);
        if (!d || (r && !r->equals(*d)))
          return std::nullopt;
        r = d;
      }
      return r;
    }
    if (auto r = dyn_cast<ReshapeOp>(def)) {
      // A -1 among static 1s over an input with one non-1 dim.
      auto in = cast<RankedTensorType>(r.getInput().getType());
      ConstantReader shape = readConstant(r.getShape());
      if (!shape || shape.numElements != rank || shape.at(i) != -1)
        return std::nullopt;
      for (int64_t j = 0; j < rank; ++j)
        if (j != i && shape.at(j) != 1)
          return std::nullopt;
      std::optional<int64_t> only;
      for (int64_t j = 0; j < in.getRank(); ++j) {
        if (in.getDimSize(j) == 1)
          continue;
        if (only)
          return std::nullopt;
        only = j;
      }
      return only ? dim(r.getInput(), *only, depth + 1) : LinearSize::constant(1);
    }
    return std::nullopt;
  }

  /// The value of a one-element integer tensor as a size.
  std::optional<LinearSize> scalar(Value v, int depth = 0) {
    auto type = dyn_cast<RankedTensorType>(v.getType());
    if (!type || depth > 32 || !isa<IntegerType>(type.getElementType()) ||
        type.getNumElements() != 1)
      return std::nullopt;
    Operation *def = v.getDefiningOp();
    auto g = dyn_cast_or_null<GatherOp>(def);
    if (!g || !g.getData().getDefiningOp<ShapeOp>())
      if (auto d = fromSymbolic(dims.elem(v, 0), depth))
        return d;
    if (!def)
      return std::nullopt;
    if (isa<AddOp, SubOp>(def)) {
      auto a = scalar(def->getOperand(0), depth + 1), b = scalar(def->getOperand(1), depth + 1);
      if (!a || !b)
        return std::nullopt;
      return a->plus(*b, isa<AddOp>(def) ? 1 : -1);
    }
    if (isa<ReshapeOp, CastOp>(def))
      return scalar(def->getOperand(0), depth + 1);
    if (auto g = dyn_cast<GatherOp>(def)) {
      auto shape = g.getData().getDefiningOp<ShapeOp>();
      ConstantReader idx = readConstant(g.getIndices());
      if (!shape || !idx || idx.numElements != 1)
        return std::nullopt;
      int64_t rank = cast<RankedTensorType>(shape.getInput().getType()).getRank();
      int64_t start = (int64_t)shape.getStart();
      if (start < 0)
        start += rank;
      int64_t n = cast<RankedTensorType>(shape.getType()).getDimSize(0);
      int64_t k = (int64_t)idx.at(0);
      if (k < 0)
        k += n;
      if (k < 0 || k >= n)
        return std::nullopt;
      return dim(shape.getInput(), start + k, depth + 1);
    }
    return std::nullopt;
  }

private:
  SymbolicShapes &dims;

  /// The length of range(start, limit, 1): limit - start, when both are
  /// sizes this class follows and the difference is provably >= 0 (a sum
  /// of sizes: then it is max(0, limit - start) too).
  std::optional<LinearSize> rangeLength(RangeOp r, int depth) {
    auto delta = evalScalar(r.getDelta());
    if (!delta || *delta != 1.0)
      return std::nullopt;
    std::optional<LinearSize> start;
    if (auto c = evalScalar(r.getStart()))
      start = LinearSize::constant((int64_t)*c);
    else
      start = scalar(r.getStart(), depth + 1);
    std::optional<LinearSize> limit = scalar(r.getLimit(), depth + 1);
    if (!start || !limit)
      return std::nullopt;
    LinearSize n = limit->plus(*start, -1);
    if (n.c < 0 || llvm::any_of(n.terms, [](const auto &t) { return t.second < 0; }))
      return std::nullopt;
    return n;
  }

  /// A SymbolicDim as LinearSize: SymbolicShapes' interned sums (a
  /// concatenated dim, `past + seq` sizes) give their terms back.
  std::optional<LinearSize> fromSymbolic(const SymbolicDim &d, int depth) {
    std::optional<SymbolicSum> s = dims.sum(d);
    if (!s)
      return std::nullopt;
    LinearSize r;
    r.c = s->c;
    // A term that is the length of a range(start, limit, 1) is limit - start
    // (which may cancel against another term: P + len(range(P, P + T)) is
    // P + T).
    for (const auto &[d, k] : s->terms) {
      auto range = d.arg && d.idx == 0 && d.clamp == ShapedType::kDynamic
                       ? d.arg.getDefiningOp<RangeOp>()
                       : RangeOp();
      std::optional<LinearSize> n = range && depth < 32 ? rangeLength(range, depth + 1) : std::nullopt;
      LinearSize t;
      if (n) {
        t = *n;
        t.c *= k;
        for (auto &term : t.terms)
          term.second *= k;
      } else {
        t.terms.push_back({d, k});
      }
      r = r.plus(t);
    }
    return r;
  }
};

/// `v` without the slices that keep all of their input: `x[..., 0:end]`
/// (steps 1) where every sliced dim of x has exactly `end` elements (as far
/// as LinearSizes can tell: `end` the key length of K, x's dim `past + seq`)
/// or `end` is a constant >= 2^31 - 1. Hugging Face's sdpa attention cuts
/// the mask to the key length (`mask[:, :, :, :key_states.shape[-2]]`,
/// transformers 4.x as Optimum exports it), which hid the causal half.
Value peelIdentitySlices(Value v, LinearSizes &lin) {
  while (auto s = v.getDefiningOp<SliceOp>()) {
    ConstantReader starts = readConstant(s.getStarts()), ends = readConstant(s.getEnds()),
                   axes = readConstant(s.getAxes()), steps = readConstant(s.getSteps());
    if (!starts || !axes || !steps || axes.numElements != starts.numElements ||
        steps.numElements != starts.numElements)
      break;
    int64_t rank = cast<RankedTensorType>(s.getInput().getType()).getRank();
    bool identity = true;
    for (int64_t k = 0; k < starts.numElements && identity; ++k) {
      int64_t axis = (int64_t)axes.at(k);
      if (axis < 0)
        axis += rank;
      if (starts.at(k) != 0.0 || steps.at(k) != 1.0 || axis < 0 || axis >= rank) {
        identity = false;
      } else if (ends && ends.at(k) >= 2147483647.0) {
        // to the end
      } else if (starts.numElements == 1) {
        std::optional<LinearSize> end = lin.scalar(s.getEnds());
        std::optional<LinearSize> size = lin.dim(s.getInput(), axis);
        identity = end && size && end->equals(*size);
      } else {
        identity = false;
      }
    }
    if (!identity)
      break;
    v = s.getInput();
  }
  return v;
}

struct MaskPattern {
  int64_t t = 0;
  double hi = 0.0, lo = 0.0;
  enum class Index { none, key, query, vector } index = Index::none;
  /// A position vector's value is its index + `offset`; a 2-D pattern's
  /// threshold is `t + offset` (query positions after a cache).
  LinearSize offset;
  /// A pattern of positions (index none, not splat) made by comparing
  /// position vectors: their lengths, [query, key].
  std::optional<LinearSize> rows, cols;
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
      if (!delta || *delta != 1.0)
        return std::nullopt;
      MaskPattern p;
      p.index = MaskPattern::Index::vector;
      LinearSizes lin(dims);
      if (!start || *start != 0.0) {
        // range(P, P + T): positions from a symbolic offset P (transformers
        // 4.x's cache_position), T of them.
        std::optional<LinearSize> off = lin.scalar(r.getStart());
        if (!off)
          return std::nullopt;
        p.offset = *off;
        if (std::optional<LinearSize> n = lin.dim(r.getResult(), 0))
          p.rows = n;
        return p;
      }
      std::optional<LinearSize> n = lin.scalar(r.getLimit());
      if (n)
        p.rows = n; // the vector's length
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
    if (isa<AddOp, SubOp>(def)) {
      // position vector +/- a scalar size: positions from an offset (a
      // window's `q - W`).
      bool sub = isa<SubOp>(def);
      for (int i : {0, 1}) {
        if (sub && i == 1)
          break;
        Value x = def->getOperand(i), y = def->getOperand(1 - i);
        auto yt = cast<RankedTensorType>(y.getType());
        if (yt.getRank() > 1 || yt.getNumElements() != 1)
          continue;
        auto p = eval(x, depth + 1);
        if (!p || p->index == MaskPattern::Index::none)
          continue;
        auto off = LinearSizes(dims).scalar(y);
        if (!off && isa<IntegerType>(yt.getElementType()))
          if (std::optional<double> c = evalScalar(y))
            off = LinearSize::constant(static_cast<int64_t>(*c));
        if (!off)
          return std::nullopt;
        if (cast<RankedTensorType>(v.getType()).getShape() !=
            cast<RankedTensorType>(x.getType()).getShape())
          return std::nullopt;
        p->offset = p->offset.plus(*off, sub ? -1 : 1);
        return p;
      }
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
    const MaskPattern *first = nullptr;
    bool lengthsDiffer = false;
    for (const MaskPattern &p : in) {
      if (p.index != MaskPattern::Index::none)
        return std::nullopt;
      if (p.splat())
        continue;
      if (first && (first->t != p.t || !first->offset.equals(p.offset)))
        return std::nullopt;
      // A symbolic threshold only from comparisons of positions of the same
      // (known) lengths, never mixed with a constant's.
      if (!p.offset.zero() && first &&
          (!first->rows || !p.rows || !first->rows->equals(*p.rows) ||
           !first->cols->equals(*p.cols)))
        return std::nullopt;
      if (first && first->rows && (!p.rows || !first->rows->equals(*p.rows) ||
                                   !first->cols->equals(*p.cols)))
        lengthsDiffer = true;
      first = &p;
    }
    SmallVector<double> hi, lo;
    for (const MaskPattern &p : in) {
      hi.push_back(p.hi);
      lo.push_back(p.lo);
    }
    MaskPattern r = pattern(first ? first->t : 0, fn(hi), fn(lo));
    if (first) {
      r.offset = first->offset;
      if (!lengthsDiffer) {
        r.rows = first->rows;
        r.cols = first->cols;
      }
    }
    return r;
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
      // Sizes SymbolicDim cannot name (past + seq) compare as LinearSize.
      LinearSizes lin(dims);
      auto sameLen = [&](const SymbolicDim &d, int64_t outDim) {
        if (d.same(n))
          return true;
        auto a = lin.dim(v, outDim), b = lin.dim(in, along);
        return a && b && a->equals(*b);
      };
      MaskPattern r = *p;
      if (rows.isOne() && sameLen(cols, -1))
        r.index = MaskPattern::Index::key;
      else if (cols.isOne() && sameLen(rows, -2))
        r.index = MaskPattern::Index::query;
      else
        return std::nullopt;
      return r;
    }
    if (p->index == MaskPattern::Index::vector)
      return std::nullopt;
    if (p->splat())
      return p;
    if (inTy.getRank() < 2 || rank < 2)
      return std::nullopt;
    if (!dims.dim(v, -1).same(dims.dim(in, -1)) || !dims.dim(v, -2).same(dims.dim(in, -2))) {
      LinearSizes lin(dims);
      auto a = lin.dim(v, -1), b = lin.dim(in, -1), c = lin.dim(v, -2), d = lin.dim(in, -2);
      if (!a || !b || !c || !d || !a->equals(*b) || !c->equals(*d))
        return std::nullopt;
    }
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
    // Compare k + ka with q + qa in terms of d = k - q against qa - ka.
    MaskPattern r;
    switch (pred) {
    case CmpPredicate::gt: r = pattern(1, 1.0, 0.0); break; // d >= 1
    case CmpPredicate::ge: r = pattern(0, 1.0, 0.0); break; // d >= 0
    case CmpPredicate::lt: r = pattern(0, 0.0, 1.0); break; // not d >= 0
    case CmpPredicate::le: r = pattern(1, 0.0, 1.0); break; // not d >= 1
    default: return std::nullopt;
    }
    r.offset = b->offset.plus(a->offset, -1);
    if (b->rows && a->rows) {
      r.rows = b->rows;
      r.cols = a->rows;
    } else if (!r.offset.zero()) {
      return std::nullopt;
    }
    return r;
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

/// The scores' query and key lengths, as SymbolicShapes and as LinearSize
/// (the latter knows `past + seq`).
struct ScoreLengths {
  SymbolicDim sq, sk;
  std::optional<LinearSize> lsq, lsk;
};

/// Which causal alignment a pattern masked exactly where k - q >= 1 +
/// `offset` (p.t == 1) is, on the scores `len`: top-left when the offset is 0
/// and the mask `v` provably has the scores' last two dims; bottom-right when
/// the offset is Sk - Sq and the pattern compares positions of exactly the
/// scores' lengths (Sq query positions P..P+Sq-1 against Sk key positions,
/// P = Sk - Sq: a with-past export's `kv_idx <= cache_position`).
std::optional<CausalAlign> causalAlignOf(const MaskPattern &p, Value v, const ScoreLengths &len,
                                         SymbolicShapes &dims) {
  if (p.index != MaskPattern::Index::none || p.splat() || p.t != 1)
    return std::nullopt;
  auto type = cast<RankedTensorType>(v.getType());
  if (type.getRank() < 2)
    return std::nullopt;
  bool lengthsMatch = p.rows && p.cols && len.lsq && len.lsk && p.rows->equals(*len.lsq) &&
                      p.cols->equals(*len.lsk);
  if (p.offset.zero()) {
    if ((dims.dim(v, -2).same(len.sq) && dims.dim(v, -1).same(len.sk)) || lengthsMatch)
      return CausalAlign::top_left;
    return std::nullopt;
  }
  if (lengthsMatch && p.offset.equals(len.lsk->plus(*len.lsq, -1)))
    return CausalAlign::bottom_right;
  return std::nullopt;
}

/// The causal flag's alignment and window (AttentionSemantics.h).
struct CausalRule {
  CausalAlign align = CausalAlign::top_left;
  std::optional<int64_t> window;
};

/// Whether the bool `c` (broadcasting to `scoresShape`) is true exactly where
/// k <= q + o and k > q + o - W: `and(causal keep, window keep)` in either
/// order, the window keep a pattern true where k - q >= t (+ an offset that
/// differs from the causal one's by a constant) over the scores' positions.
/// Returns the causal half's alignment and W (>= 1).
std::optional<CausalRule> isBandKeep(Value c, const ScoreLengths &len, SymbolicShapes &dims,
                                     ArrayRef<int64_t> scoresShape) {
  auto both = c.getDefiningOp<AndOp>();
  if (!both || !getElementTypeOrSelf(c.getType()).isInteger(1))
    return std::nullopt;
  for (int i : {0, 1}) {
    Value cv = peelBroadcasts(both->getOperand(i), scoresShape);
    Value wv = peelBroadcasts(both->getOperand(1 - i), scoresShape);
    std::optional<MaskPattern> pc = PatternEvaluator(dims).eval(cv);
    // The causal keep: false where k - q >= 1 + o, true below.
    if (!pc || pc->hi != 0.0 || pc->lo == 0.0)
      continue;
    std::optional<CausalAlign> align = causalAlignOf(*pc, cv, len, dims);
    if (!align)
      continue;
    // The window keep: true where k - q >= t + ow, false below.
    std::optional<MaskPattern> pw = PatternEvaluator(dims).eval(wv);
    if (!pw || pw->index != MaskPattern::Index::none || pw->splat() || pw->hi == 0.0 ||
        pw->lo != 0.0 || cast<RankedTensorType>(wv.getType()).getRank() < 2)
      continue;
    bool lengthsMatch = pw->rows && pw->cols && len.lsq && len.lsk &&
                        pw->rows->equals(*len.lsq) && pw->cols->equals(*len.lsk);
    if (!lengthsMatch && !(dims.dim(wv, -2).same(len.sq) && dims.dim(wv, -1).same(len.sk)))
      continue;
    LinearSize d = pw->offset.plus(pc->offset, -1);
    if (!d.terms.empty())
      continue;
    // k > q + o - W  <=>  k - q >= 1 - W + o, so t + ow = 1 - W + o.
    int64_t w = 1 - pw->t - d.c;
    if (w < 1)
      continue;
    return CausalRule{*align, w};
  }
  return std::nullopt;
}

/// Whether the mask is exactly causal on the scores `len` (top-left, or
/// bottom-right for queries after a cache): its value depends only on the
/// position (a constant, or a Trilu of a ConstantOfShape, or a comparison of
/// range() key and query positions, ...), key k is masked exactly when
/// k > q (+ Sk - Sq), and a masked score gets exp() = 0. Or causal with a
/// sliding window: `Where(causal & window, 0, m)` added, or the bool
/// `causal & window` filled where false.
std::optional<CausalRule> isCausalMask(const MaskEdit &mask, double laterScale,
                                       const ScoreLengths &len, SymbolicShapes &dims,
                                       ArrayRef<int64_t> scoresShape) {
  if (!mask.mask)
    return std::nullopt;
  std::optional<MaskPattern> p = PatternEvaluator(dims).eval(mask.mask);
  if (!p) {
    // The band forms.
    std::optional<CausalRule> band;
    if (mask.kind == MaskKind::additive) {
      auto sel = mask.mask.getDefiningOp<SelectOp>();
      std::optional<double> kept, masked;
      if (sel) {
        kept = evalScalar(sel.getTrueValue());
        masked = evalScalar(sel.getFalseValue());
      }
      if (kept && masked && *kept == 0.0 && negligible(*masked, laterScale))
        band = isBandKeep(peelBroadcasts(sel.getCondition(), scoresShape), len, dims,
                          scoresShape);
    } else if (mask.kind == MaskKind::fill_if_zero && negligible(mask.fill, laterScale)) {
      band = isBandKeep(mask.mask, len, dims, scoresShape);
    }
    return band;
  }
  std::optional<CausalAlign> align = causalAlignOf(*p, mask.mask, len, dims);
  if (!align)
    return std::nullopt;
  double masked = p->hi, kept = p->lo; // masked where k - q >= 1
  bool ok = false;
  switch (mask.kind) {
  case MaskKind::additive:
    ok = kept == 0.0 && negligible(masked, laterScale);
    break;
  case MaskKind::fill_if_zero:
    ok = negligible(mask.fill, laterScale) && masked == 0.0 && kept != 0.0;
    break;
  case MaskKind::fill_if_nonzero:
    // NaN counts as nonzero, as `mask != 0`.
    ok = negligible(mask.fill, laterScale) && masked != 0.0 && kept == 0.0;
    break;
  case MaskKind::none:
    break;
  }
  if (!ok)
    return std::nullopt;
  return CausalRule{*align, std::nullopt};
}

/// Whether the bool `c` is true exactly where k <= q (+ Sk - Sq) on the
/// scores `len` (the causal half of `causal & padding`), or exactly in a
/// sliding window's band (`causal & window`), and its alignment and window.
std::optional<CausalRule> isCausalKeep(Value c, const ScoreLengths &len, SymbolicShapes &dims,
                                       ArrayRef<int64_t> scoresShape) {
  auto type = cast<RankedTensorType>(c.getType());
  if (!type.getElementType().isInteger(1))
    return std::nullopt;
  std::optional<MaskPattern> p = PatternEvaluator(dims).eval(c);
  if (!p)
    return isBandKeep(c, len, dims, scoresShape);
  // false where k - q >= 1, true below.
  if (p->hi != 0.0 || p->lo == 0.0)
    return std::nullopt;
  std::optional<CausalAlign> align = causalAlignOf(*p, c, len, dims);
  if (!align)
    return std::nullopt;
  return CausalRule{*align, std::nullopt};
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
  CausalRule rule;
};

/// Splits `select(and(C, P), a, b)` added to the scores (Hugging Face's
/// `Where(causal & padding, 0, finfo.min)`), or a fill where `and(C, P)` is
/// false, into the causal flag and a mask on P alone, when C is exactly the
/// causal pattern and P does not depend on the query position. Positions
/// k > q then take the masked value itself, which is what the graph computes
/// when that value absorbs every score (finfo.min) or is -inf.
std::optional<CausalSplit> splitCausal(const MaskEdit &mask, const ScoreLengths &len,
                                       SymbolicShapes &dims,
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
  LinearSizes lin(dims);
  cond = peelBroadcasts(peelIdentitySlices(cond, lin), scoresShape);
  auto both = cond.getDefiningOp<AndOp>();
  if (!both)
    return std::nullopt;
  for (int i : {0, 1}) {
    Value c = peelBroadcasts(both->getOperand(i), scoresShape);
    Value pad = peelBroadcasts(both->getOperand(1 - i), scoresShape);
    std::optional<CausalRule> rule;
    if (!independentOfQuery(pad) || !(rule = isCausalKeep(c, len, dims, scoresShape)))
      continue;
    CausalSplit split;
    split.rule = *rule;
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

  LinearSizes lin(dims);
  ScoreLengths len{sq, sk, lin.dim(m.scores.getResult(), -2), lin.dim(m.scores.getResult(), -1)};

  // A constant causal mask becomes the flag. A later mask must not put a
  // non-negligible value back where it masked.
  std::optional<size_t> causal;
  for (size_t i : masks) {
    bool laterOk = llvm::all_of(masks, [&](size_t j) {
      return j <= i || order[j].mask->kind == MaskKind::additive ||
             negligible(order[j].mask->fill, scaleAfter(j));
    });
    if (!laterOk)
      continue;
    if (std::optional<CausalRule> rule =
            isCausalMask(*order[i].mask, scaleAfter(i), len, dims, scoresShape)) {
      causal = i;
      m.causalAlign = rule->align;
      m.window = rule->window;
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
            splitCausal(*order[masks[0]].mask, len, dims, scoresShape, et)) {
      causal = masks[0];
      m.causalAlign = split->rule.align;
      m.window = split->rule.window;
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
