//===- FuseAttention.cpp - fuse the attention chain into attn.attention ---===//
//
// Matches, around every `attn.softmax` on the last axis,
//
//   scores = attn.matmul(Q', K')           K' = K with its last two dims swapped
//   [scale]  attn.mul / attn.div by a scalar constant (on Q, K or the scores)
//   [mask]   attn.add(scores, M) or attn.select(cond, fill, scores) / (cond, scores, fill)
//   [scale]  (a scale after the mask makes the chain `mask_first`)
//   p      = attn.softmax(scores, last axis)
//   out    = attn.matmul(p, V)
//
// and replaces `out` with one `attn.attention`. The matching is split into
// small matchers that fill an `AttentionMatch`; adding a new form means adding
// a case to one matcher. The rewrite is a RewritePattern on attn.softmax; the
// pass drives it over a snapshot of the softmax ops (no folding, no unrelated
// DCE: IR the pass does not fuse stays exactly as it was) and, with
// `remarks`, reports each softmax left unfused.
//
//===----------------------------------------------------------------------===//
#include "attn/Compiler/Passes.h"
#include "attn/Dialect/ShapeInference.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SetVector.h"
#include "llvm/ADT/SmallPtrSet.h"
#include "llvm/ADT/TypeSwitch.h"
#include "llvm/Support/FormatVariadic.h"

#include <cmath>
#include <functional>

namespace mlir::attn {
#define GEN_PASS_DEF_FUSEATTENTIONPASS
#include "attn/Compiler/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;

namespace {

/// A masked entry turns into the causal flag only if its (scaled) score is
/// -inf or at most this: exp(x - rowmax) is then 0 in every float type for any
/// realistic score range (f32 underflows below -104, f16 below -17).
constexpr double kCausalMaskThreshold = -1.0e4;

/// Why a match failed; becomes the remark text.
struct Why {
  std::string text;
  LogicalResult fail(const Twine &t) {
    text = t.str();
    return failure();
  }
};

std::string shapeStr(ArrayRef<int64_t> shape) {
  std::string s = "[";
  llvm::raw_string_ostream os(s);
  llvm::interleave(
      shape, os,
      [&](int64_t d) {
        if (ShapedType::isDynamic(d))
          os << "?";
        else
          os << d;
      },
      ", ");
  os << "]";
  return s;
}

std::string opName(Operation *op) {
  return ("'" + op->getName().getStringRef() + "'").str();
}

ArrayRef<int64_t> shapeOf(Value v) {
  return cast<RankedTensorType>(v.getType()).getShape();
}

//===----------------------------------------------------------------------===//
// Shape rules
//===----------------------------------------------------------------------===//

/// Whether broadcasting `from` against `to` (numpy rules) leaves `to`
/// unchanged, i.e. `from` only ever gets broadcast. A dynamic dim in `to` is
/// assumed to equal a static `from` dim > 1 (the program would be invalid or
/// would broadcast `to` otherwise, and a dynamic `to` dim of 1 broadcasting is
/// not something shape-polymorphic attention graphs do); a static 1 in `to`
/// against anything but a static 1 is a real broadcast and is rejected.
bool fitsInto(ArrayRef<int64_t> from, ArrayRef<int64_t> to) {
  if (from.size() > to.size())
    return false;
  size_t off = to.size() - from.size();
  for (size_t i = 0; i < from.size(); ++i) {
    int64_t f = from[i], t = to[off + i];
    if (f == 1)
      continue;
    if (t == 1)
      return false;
    if (!ShapedType::isDynamic(f) && !ShapedType::isDynamic(t) && f != t)
      return false;
  }
  return true;
}

/// Batch dims of Q, K and V must be the same (attn.attention does not
/// broadcast them). Static dims must be equal; a static 1 against a dynamic dim
/// is a broadcast in disguise and is rejected.
bool sameDims(ArrayRef<int64_t> a, ArrayRef<int64_t> b) {
  if (a.size() != b.size())
    return false;
  for (auto [x, y] : llvm::zip(a, b)) {
    bool dx = ShapedType::isDynamic(x), dy = ShapedType::isDynamic(y);
    if (!dx && !dy) {
      if (x != y)
        return false;
    } else if (x == 1 || y == 1) {
      return false;
    }
  }
  return true;
}

bool compatibleDim(int64_t a, int64_t b) {
  return ShapedType::isDynamic(a) || ShapedType::isDynamic(b) || a == b;
}

SmallVector<int64_t> identityPerm(int64_t rank) {
  return llvm::to_vector(llvm::seq<int64_t>(0, rank));
}

SmallVector<int64_t> swapLastTwo(ArrayRef<int64_t> perm) {
  SmallVector<int64_t> p(perm);
  std::swap(p[p.size() - 1], p[p.size() - 2]);
  return p;
}

SmallVector<int64_t> permuteShape(ArrayRef<int64_t> shape,
                                  ArrayRef<int64_t> perm) {
  return llvm::map_to_vector(perm, [&](int64_t p) { return shape[p]; });
}

//===----------------------------------------------------------------------===//
// Constants
//===----------------------------------------------------------------------===//

/// Reads the elements of a constant tensor as doubles (integers and bools
/// converted), from a dense or dense_resource `arith.constant`.
struct ConstantReader {
  int64_t numElements = 0;
  std::function<double(int64_t)> at;
  explicit operator bool() const { return static_cast<bool>(at); }
};

template <typename T>
ConstantReader readResource(DenseResourceElementsAttr attr) {
  auto typed = dyn_cast<::mlir::detail::DenseResourceElementsAttrBase<T>>(attr);
  if (!typed)
    return {};
  std::optional<ArrayRef<T>> data = typed.tryGetAsArrayRef();
  if (!data || (int64_t)data->size() != attr.getType().getNumElements())
    return {};
  ArrayRef<T> values = *data;
  return {(int64_t)values.size(),
          [values](int64_t i) { return static_cast<double>(values[i]); }};
}

ConstantReader readConstant(Value v) {
  auto cst = v.getDefiningOp<arith::ConstantOp>();
  if (!cst)
    return {};
  if (auto dense = dyn_cast<DenseElementsAttr>(cst.getValue())) {
    Type et = dense.getElementType();
    int64_t n = dense.getNumElements();
    if (isa<FloatType>(et)) {
      if (dense.isSplat()) {
        double d = dense.getSplatValue<APFloat>().convertToDouble();
        return {n, [d](int64_t) { return d; }};
      }
      auto values = dense.getValues<APFloat>();
      return {n, [values](int64_t i) { return values[i].convertToDouble(); }};
    }
    if (auto it = dyn_cast<IntegerType>(et)) {
      bool isUnsigned = it.isUnsigned() || it.getWidth() == 1;
      auto toDouble = [isUnsigned](const APInt &a) {
        return isUnsigned ? (double)a.getZExtValue() : (double)a.getSExtValue();
      };
      if (dense.isSplat()) {
        double d = toDouble(dense.getSplatValue<APInt>());
        return {n, [d](int64_t) { return d; }};
      }
      auto values = dense.getValues<APInt>();
      return {n, [values, toDouble](int64_t i) { return toDouble(values[i]); }};
    }
    return {};
  }
  if (auto res = dyn_cast<DenseResourceElementsAttr>(cst.getValue())) {
    Type et = res.getType().getElementType();
    if (et.isF32())
      return readResource<float>(res);
    if (et.isF64())
      return readResource<double>(res);
    if (et.isInteger(1))
      return readResource<bool>(res);
    if (et.isSignlessInteger(64) || et.isSignedInteger(64))
      return readResource<int64_t>(res);
    if (et.isSignlessInteger(32) || et.isSignedInteger(32))
      return readResource<int32_t>(res);
    if (et.isSignlessInteger(8) || et.isSignedInteger(8))
      return readResource<int8_t>(res);
    if (et.isUnsignedInteger(8))
      return readResource<uint8_t>(res);
    return {};
  }
  return {};
}

/// Rounds `d` to the float type `t`, as the graph computes in `t`.
double roundTo(Type t, double d) {
  auto ft = dyn_cast<FloatType>(t);
  if (!ft)
    return d;
  APFloat a(d);
  bool lost = false;
  a.convert(ft.getFloatSemantics(), APFloat::rmNearestTiesToEven, &lost);
  return a.convertToDouble();
}

/// The value of a tensor all of whose elements are one number computed from
/// constants: a splat (or one-element) constant, or attn elementwise ops on
/// such values (`attn.sqrt(64.0)`, `1 / sqrt(d)`, a cast, ...). Evaluated in
/// double and rounded to the element type after every op, as the graph would.
std::optional<double> evalScalar(Value v, int depth = 0) {
  if (depth > 8)
    return std::nullopt;
  Type et = getElementTypeOrSelf(v.getType());
  if (auto reader = readConstant(v)) {
    if (reader.numElements < 1)
      return std::nullopt;
    double first = reader.at(0);
    // A non-splat constant is scalar only if it has one element: dense
    // attributes store equal elements as a splat.
    if (reader.numElements != 1) {
      auto cst = v.getDefiningOp<arith::ConstantOp>();
      auto dense = dyn_cast<DenseElementsAttr>(cst.getValue());
      if (!dense || !dense.isSplat())
        return std::nullopt;
    }
    return first;
  }
  Operation *def = v.getDefiningOp();
  if (!def)
    return std::nullopt;
  if (!isa<FloatType>(et) && !isa<CastOp>(def))
    return std::nullopt; // integer arithmetic (truncating division, ...) is not folded
  auto unary = [&](auto fn) -> std::optional<double> {
    auto x = evalScalar(def->getOperand(0), depth + 1);
    if (!x)
      return std::nullopt;
    return roundTo(et, fn(*x));
  };
  auto binary = [&](auto fn) -> std::optional<double> {
    auto x = evalScalar(def->getOperand(0), depth + 1);
    auto y = evalScalar(def->getOperand(1), depth + 1);
    if (!x || !y)
      return std::nullopt;
    return roundTo(et, fn(*x, *y));
  };
  return llvm::TypeSwitch<Operation *, std::optional<double>>(def)
      .Case<SqrtOp>([&](auto) { return unary([](double x) { return std::sqrt(x); }); })
      .Case<NegOp>([&](auto) { return unary([](double x) { return -x; }); })
      .Case<ReciprocalOp>([&](auto) { return unary([](double x) { return 1.0 / x; }); })
      .Case<AbsOp>([&](auto) { return unary([](double x) { return std::fabs(x); }); })
      .Case<ExpOp>([&](auto) { return unary([](double x) { return std::exp(x); }); })
      .Case<LogOp>([&](auto) { return unary([](double x) { return std::log(x); }); })
      .Case<CastOp>([&](CastOp c) -> std::optional<double> {
        if (!isa<FloatType>(et))
          return std::nullopt;
        return unary([](double x) { return x; });
      })
      .Case<MulOp>([&](auto) { return binary([](double x, double y) { return x * y; }); })
      .Case<DivOp>([&](auto) { return binary([](double x, double y) { return x / y; }); })
      .Case<AddOp>([&](auto) { return binary([](double x, double y) { return x + y; }); })
      .Case<SubOp>([&](auto) { return binary([](double x, double y) { return x - y; }); })
      .Case<PowOp>([&](auto) { return binary([](double x, double y) { return std::pow(x, y); }); })
      .Default([](Operation *) { return std::nullopt; });
}

//===----------------------------------------------------------------------===//
// The match
//===----------------------------------------------------------------------===//

/// How to obtain the query or key operand of attn.attention.
struct OperandPlan {
  /// The value to use, or the input of a new attn.transpose when `perm` is set.
  Value base;
  SmallVector<int64_t> perm;
  /// Product of the scalar scales peeled off the operand.
  double scale = 1.0;
  bool scaled = false;
  /// Locations of the transposes the new attn.transpose replaces.
  SmallVector<Location> locs;

  SmallVector<int64_t> shape() const {
    return perm.empty() ? SmallVector<int64_t>(shapeOf(base))
                        : permuteShape(shapeOf(base), perm);
  }
};

struct AttentionMatch {
  SoftmaxOp softmax;
  MatmulOp scores; // matmul(Q', K')
  MatmulOp output; // matmul(softmax, V)
  OperandPlan query, key;
  Value value;

  // Score edits between `scores` and `softmax`, softmax first.
  SmallVector<Operation *> edits;
  double scaleBeforeMask = 1.0, scaleAfterMask = 1.0;
  bool scaledBeforeMask = false, scaledAfterMask = false;

  Operation *maskOp = nullptr;
  MaskKind maskKind = MaskKind::none;
  Value mask;
  double fillValue = 0.0;

  // Final attributes.
  double scale = 1.0;
  bool maskFirst = false;
  bool causal = false;
};

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
LogicalResult matchOperand(Value operand, bool isKey, OperandPlan &plan,
                           Why &why) {
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

//--- Masks ------------------------------------------------------------------//

/// What a bool condition tests: true <=> (mask == 0) or true <=> (mask != 0).
struct Condition {
  Value mask;
  bool trueWhenZero = false;
};

bool isZero(Value v) {
  auto c = evalScalar(v);
  return c && *c == 0.0;
}

/// Looks through `cmp eq/ne (m, 0)`, `not` and casts to i1 so that the mask
/// operand is the user's mask, as long as it still fits the scores.
Condition analyzeCondition(Value cond, ArrayRef<int64_t> scoresShape) {
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
    // Cast to bool is `x != 0`.
    inner = Condition{c.getInput(), false};
  }
  if (inner && fitsInto(shapeOf(inner->mask), scoresShape))
    return *inner;
  return direct;
}

//--- The score chain --------------------------------------------------------//

bool isChainOp(Value v) {
  Operation *def = v.getDefiningOp();
  return def && isa<MatmulOp, MulOp, DivOp, AddOp, SelectOp>(def);
}

/// Matches the edits between the scores matmul and the softmax, from the
/// softmax upwards, ending at the scores matmul.
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

  if (isa<MulOp, DivOp>(def)) {
    Value in;
    double f;
    if (failed(matchScaleOp(def, in, f, why)))
      return failure();
    if (m.maskOp) {
      m.scaleBeforeMask *= f;
      m.scaledBeforeMask = true;
    } else {
      m.scaleAfterMask *= f;
      m.scaledAfterMask = true;
    }
    m.edits.push_back(def);
    return matchScoreChain(in, m, why);
  }

  if (auto add = dyn_cast<AddOp>(def)) {
    if (m.maskOp)
      return why.fail("more than one mask between the scores and the softmax");
    // Either operand may be the scores; try the likelier one first.
    int first = (!isChainOp(add.getLhs()) && isChainOp(add.getRhs())) ? 1 : 0;
    std::optional<Why> firstWhy;
    for (int i : {first, 1 - first}) {
      Value chain = add->getOperand(i), mask = add->getOperand(1 - i);
      Why attempt;
      AttentionMatch saved = m;
      if (!fitsInto(shapeOf(mask), shapeOf(chain))) {
        (void)attempt.fail(llvm::formatv("the additive mask shape {0} does not fit "
                                   "the scores shape {1}",
                                   shapeStr(shapeOf(mask)),
                                   shapeStr(shapeOf(chain))));
      } else {
        m.maskOp = add;
        m.maskKind = MaskKind::additive;
        m.mask = mask;
        m.edits.push_back(add);
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
    if (m.maskOp)
      return why.fail("more than one mask between the scores and the softmax");
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
    m.maskKind = fillWhenTrue == cond.trueWhenZero ? MaskKind::fill_if_zero
                                                   : MaskKind::fill_if_nonzero;
    m.mask = cond.mask;
    m.fillValue = fillWhenTrue ? *t : *f;
    m.maskOp = sel;
    m.edits.push_back(sel);
    return matchScoreChain(chain, m, why);
  }

  return why.fail(opName(def) +
                  " between the scores matmul and the softmax is not a "
                  "scale or a mask");
}

//--- Causal -----------------------------------------------------------------//

/// Whether the mask is a constant top-left causal pattern (keep key k <= query
/// q, in every broadcast slice) whose masked entries get exp() = 0.
bool isCausalMask(const AttentionMatch &m, ArrayRef<int64_t> ss) {
  if (m.maskKind == MaskKind::none)
    return false;
  ConstantReader reader = readConstant(m.mask);
  if (!reader)
    return false;
  ArrayRef<int64_t> ms = shapeOf(m.mask);
  if (ms.size() < 2 || ss.size() < 2)
    return false;
  int64_t mq = ms[ms.size() - 2], mk = ms.back();
  if (ShapedType::isDynamic(mq) || ShapedType::isDynamic(mk) ||
      mq != ss[ss.size() - 2] || mk != ss.back() || mq * mk == 0)
    return false;
  // The effective masked score must be -inf or hugely negative.
  if (m.maskFirst && !(m.scale > 0.0))
    return false;
  double effScale = m.maskFirst ? m.scale : 1.0;
  auto negligible = [&](double x) {
    double eff = x * effScale;
    return eff == -INFINITY || eff <= kCausalMaskThreshold;
  };
  if (m.maskKind != MaskKind::additive && !negligible(m.fillValue))
    return false;
  for (int64_t i = 0; i < reader.numElements; ++i) {
    int64_t k = i % mk, q = (i / mk) % mq;
    bool wantMasked = k > q;
    double x = reader.at(i);
    bool masked = false;
    switch (m.maskKind) {
    case MaskKind::additive:
      if (x == 0.0)
        masked = false;
      else if (negligible(x))
        masked = true;
      else
        return false;
      break;
    case MaskKind::fill_if_zero:
      masked = x == 0.0;
      break;
    case MaskKind::fill_if_nonzero:
      masked = x != 0.0; // NaN counts as nonzero, as `mask != 0`
      break;
    case MaskKind::none:
      return false;
    }
    if (masked != wantMasked)
      return false;
  }
  return true;
}

//--- Top level --------------------------------------------------------------//

LogicalResult matchAttention(SoftmaxOp softmax, AttentionMatch &m, Why &why) {
  m = AttentionMatch();
  m.softmax = softmax;
  auto inTy = softmax.getInput().getType();
  int64_t rank = inTy.getRank();
  std::optional<int64_t> axis =
      normalizeAxis(static_cast<int64_t>(softmax.getAxis()), rank);
  if (!axis || *axis != rank - 1)
    return why.fail("the softmax is not on the last axis");
  if (rank < 2)
    return why.fail("the softmax input has rank < 2");

  // out = matmul(softmax, V)
  Value p = softmax.getResult();
  if (!p.hasOneUse())
    return why.fail(llvm::formatv("the softmax result has {0} users",
                                  std::distance(p.use_begin(), p.use_end())));
  auto out = dyn_cast<MatmulOp>(*p.getUsers().begin());
  if (!out || out.getLhs() != p)
    return why.fail("the softmax result is not the left operand of a matmul");
  m.output = out;
  m.value = out.getRhs();

  if (failed(matchScoreChain(softmax.getInput(), m, why)))
    return failure();
  if ((int64_t)shapeOf(m.scores.getLhs()).size() != rank ||
      (int64_t)shapeOf(m.scores.getRhs()).size() != rank)
    return why.fail("the scores matmul's operands do not have the rank of the "
                    "scores");
  if (failed(matchOperand(m.scores.getLhs(), /*isKey=*/false, m.query, why)) ||
      failed(matchOperand(m.scores.getRhs(), /*isKey=*/true, m.key, why)))
    return failure();

  // Scale and its position relative to the mask.
  bool scaledBefore = m.scaledBeforeMask || m.query.scaled || m.key.scaled;
  double before = m.scaleBeforeMask * m.query.scale * m.key.scale;
  double after = m.scaleAfterMask;
  if (m.maskOp && scaledBefore && m.scaledAfterMask && before != 1.0 &&
      after != 1.0)
    return why.fail("the scores are scaled both before and after the mask");
  m.maskFirst = m.maskOp && m.scaledAfterMask && after != 1.0;
  m.scale = before * after;
  if (!std::isfinite(m.scale))
    return why.fail("the combined scale is not finite");

  // Shapes: same rank, same batch dims, matching head dim and key length.
  SmallVector<int64_t> q = m.query.shape(), k = m.key.shape();
  ArrayRef<int64_t> v = shapeOf(m.value);
  if ((int64_t)q.size() != rank || (int64_t)k.size() != rank ||
      (int64_t)v.size() != rank)
    return why.fail("query, key and value do not all have the rank of the "
                    "scores");
  auto batch = [&](ArrayRef<int64_t> s) { return s.drop_back(2); };
  if (!sameDims(batch(q), batch(k)) || !sameDims(batch(q), batch(v)))
    return why.fail(llvm::formatv(
        "the batch dims of query {0}, key {1} and value {2} differ (they would "
        "broadcast)",
        shapeStr(q), shapeStr(k), shapeStr(v)));
  if (!compatibleDim(q[rank - 1], k[rank - 1]) ||
      !compatibleDim(k[rank - 2], v[rank - 2]))
    return why.fail("query/key head dims or key/value lengths differ");
  // The fused op's type (query shape, value head dim) must agree with the
  // output matmul's.
  SmallVector<int64_t> fused(q);
  fused.back() = v.back();
  if (failed(verifyCompatibleShape(fused, shapeOf(out.getResult()))))
    return why.fail("the output matmul's shape differs from the fused one");
  // The mask must not broadcast the scores (checked per edit) and must
  // broadcast to the scores of the fused op.
  SmallVector<int64_t> scores(q.begin(), q.end() - 1);
  scores.push_back(k[rank - 2]);
  if (m.mask) {
    if (!fitsInto(shapeOf(m.mask), scores))
      return why.fail(llvm::formatv(
          "the mask shape {0} does not fit the scores shape {1}",
          shapeStr(shapeOf(m.mask)), shapeStr(scores)));
    if (m.maskKind == MaskKind::additive &&
        getElementTypeOrSelf(m.mask.getType()) != inTy.getElementType())
      return why.fail("the additive mask's element type differs");
  }

  m.causal = isCausalMask(m, scores);
  return success();
}

//===----------------------------------------------------------------------===//
// The rewrite
//===----------------------------------------------------------------------===//

Value materialize(const OperandPlan &plan, Location fallback,
                  RewriterBase &rewriter) {
  if (plan.perm.empty())
    return plan.base;
  Location loc = plan.locs.empty()
                     ? fallback
                     : FusedLoc::get(rewriter.getContext(), plan.locs);
  return TransposeOp::create(rewriter, loc, plan.base, plan.perm);
}

/// Erases `roots` and every op that becomes dead because of it.
void eraseDeadChain(ArrayRef<Operation *> roots, RewriterBase &rewriter) {
  SmallVector<Operation *> worklist(roots.begin(), roots.end());
  llvm::SmallPtrSet<Operation *, 16> erased;
  while (!worklist.empty()) {
    Operation *op = worklist.pop_back_val();
    if (erased.contains(op) || !isOpTriviallyDead(op))
      continue;
    for (Value operand : op->getOperands())
      if (Operation *def = operand.getDefiningOp())
        worklist.push_back(def);
    erased.insert(op);
    rewriter.eraseOp(op);
  }
}

struct FuseAttentionStats {
  uint64_t fused = 0, causal = 0;
};

struct FuseAttentionPattern : OpRewritePattern<SoftmaxOp> {
  FuseAttentionPattern(MLIRContext *ctx, FuseAttentionStats *stats = nullptr)
      : OpRewritePattern(ctx), stats(stats) {}

  LogicalResult matchAndRewrite(SoftmaxOp softmax,
                                PatternRewriter &rewriter) const override {
    AttentionMatch m;
    Why why;
    if (failed(matchAttention(softmax, m, why)))
      return rewriter.notifyMatchFailure(softmax, why.text);

    SmallVector<Location> locs{m.scores.getLoc()};
    for (Operation *op : llvm::reverse(m.edits))
      locs.push_back(op->getLoc());
    locs.push_back(softmax.getLoc());
    locs.push_back(m.output.getLoc());
    Location loc = FusedLoc::get(rewriter.getContext(), locs);

    rewriter.setInsertionPoint(m.output);
    Value q = materialize(m.query, loc, rewriter);
    Value k = materialize(m.key, loc, rewriter);
    Value mask = m.causal ? Value() : m.mask;
    MaskKind kind = m.causal ? MaskKind::none : m.maskKind;
    bool maskFirst = !m.causal && m.maskFirst;
    double fill = kind == MaskKind::fill_if_zero || kind == MaskKind::fill_if_nonzero
                      ? m.fillValue
                      : 0.0;
    auto attention = AttentionOp::create(
        rewriter, loc, m.output.getType(), q, k, m.value, mask,
        APFloat(m.scale), kind, APFloat(fill), maskFirst, m.causal);
    rewriter.replaceOp(m.output, attention.getResult());
    eraseDeadChain({softmax.getOperation()}, rewriter);
    if (stats) {
      ++stats->fused;
      stats->causal += m.causal;
    }
    return success();
  }

  FuseAttentionStats *stats;
};

/// Records the reason of the last match failure.
struct FailureRecorder : RewriterBase::Listener {
  std::string reason;
  void notifyMatchFailure(
      Location, function_ref<void(Diagnostic &)> reasonCallback) override {
    Diagnostic diag(UnknownLoc(), DiagnosticSeverity::Remark);
    reasonCallback(diag);
    reason = diag.str();
  }
};

struct FuseAttentionPass
    : attn::impl::FuseAttentionPassBase<FuseAttentionPass> {
  using Base::Base;

  void runOnOperation() override {
    SmallVector<SoftmaxOp> softmaxes;
    getOperation().walk([&](SoftmaxOp op) { softmaxes.push_back(op); });

    FuseAttentionStats stats;
    FuseAttentionPattern pattern(&getContext(), &stats);
    FailureRecorder recorder;
    PatternRewriter rewriter(&getContext());
    rewriter.setListener(&recorder);
    SmallVector<std::pair<SoftmaxOp, std::string>> unfused;
    for (SoftmaxOp softmax : softmaxes) {
      recorder.reason.clear();
      rewriter.setInsertionPoint(softmax);
      if (failed(pattern.matchAndRewrite(softmax, rewriter)))
        unfused.emplace_back(softmax, recorder.reason);
    }

    numFused += stats.fused;
    numCausal += stats.causal;
    numUnfused += unfused.size();
    if (remarks)
      for (auto &[softmax, reason] : unfused)
        softmax->emitRemark("softmax not fused into attn.attention: ")
            << reason;
  }
};

} // namespace
