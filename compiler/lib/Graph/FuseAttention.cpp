//===- FuseAttention.cpp - fuse the attention chain into attn.attention ---===//
//
// Matches, around every `attn.softmax` on the last axis,
//
//   scores = attn.matmul(Q', K')     K' = transpose(K) on the last two dims,
//                                    through any chain of attn.transpose (and
//                                    dynamo's reshape-transpose-reshape over
//                                    flattened batch dims)
//   edits    scales: attn.mul / attn.div by a scalar constant (also on Q or K,
//            both as sqrt(scale) in SDPA exports); constant subexpressions
//            (`1 / sqrt(64)`) are evaluated here
//            masks: attn.add(scores, M) (additive) or attn.select with a
//            splat fill, cond looked through `cmp eq/ne (m, 0)`, `not` and
//            casts (fill_if_zero / fill_if_nonzero on m); attn.expand on a
//            mask is dropped (the op broadcasts its mask)
//   p      = attn.softmax(edited scores, last axis)
//            [ p = select(p != p, 0, p): SDPA's Where(IsNaN(p), 0, p) ]
//   out    = attn.matmul(p, V)       (identity attn.casts looked through)
//
// and replaces `out` with one `attn.attention`: all scales multiply into
// `scale`, a scale after the mask makes it `mask_first`, and a constant mask
// that is exactly top-left causal with negligible masked values becomes the
// `causal` flag (it may come with one other mask: GPT-2's causal Where plus
// the additive padding mask). One mask `select(and(causal, padding), a, b)`
// (transformers 5's masking_utils) splits into the flag and a new
// `select(padding, a, b)` mask when the padding does not depend on the query
// position: with b = -inf the flag alone is exact, with b absorbing every
// score (finfo.min) `causal_fill = b` keeps the fully masked rows exact. The
// IsNaN select sets `nan_to_zero`. Every intermediate must have one user; Q,
// K and V must not broadcast; the mask must not broadcast the scores.
//
// Matching fills an `AttentionMatch` through small matchers (matchScoreChain,
// matchScaleOp, matchOperand, analyzeCondition, isCausalMask, splitCausal,
// matchAttributes); a new form is a new case in one of them. Matching never
// changes the IR. The rewrite is a RewritePattern on attn.softmax; the pass
// drives it over a snapshot of the softmax ops (no folding and no unrelated
// DCE: what the pass does not fuse stays exactly as it was) and, with the
// `remarks` option, emits a remark saying why at each softmax left unfused.
//
//===----------------------------------------------------------------------===//
#include "attn/Compiler/Passes.h"
#include "attn/Compiler/Statistics.h"
#include "attn/Dialect/ShapeInference.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SmallPtrSet.h"
#include "llvm/ADT/TypeSwitch.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"

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
/// converted): a dense or dense_resource `arith.constant`, or attn.trilu,
/// attn.cast and attn.constant_of_shape of such constants (Trilu/Cast/
/// ConstantOfShape the exporter did not fold), with a static shape.
struct ConstantReader {
  int64_t numElements = 0;
  bool splat = false; // all elements equal
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
  return {(int64_t)values.size(), values.size() == 1,
          [values](int64_t i) { return static_cast<double>(values[i]); }};
}

double roundTo(Type t, double d);

ConstantReader readConstant(Value v, int depth = 0) {
  auto type = dyn_cast<RankedTensorType>(v.getType());
  if (!type || !type.hasStaticShape() || depth > 8)
    return {};
  Operation *def = v.getDefiningOp();
  if (auto trilu = dyn_cast_or_null<TriluOp>(def)) {
    ConstantReader in = readConstant(trilu.getInput(), depth + 1);
    if (!in || type.getRank() < 2)
      return {};
    int64_t rows = type.getDimSize(type.getRank() - 2);
    int64_t cols = type.getShape().back();
    int64_t k = trilu.getK();
    bool upper = trilu.getUpper();
    if (rows * cols == 0)
      return {};
    return {in.numElements, false, [in, rows, cols, k, upper](int64_t i) {
              int64_t c = i % cols, r = (i / cols) % rows;
              bool keep = upper ? c - r >= k : c - r <= k;
              return keep ? in.at(i) : 0.0;
            }};
  }
  if (auto cast = dyn_cast_or_null<CastOp>(def)) {
    ConstantReader in = readConstant(cast.getInput(), depth + 1);
    if (!in)
      return {};
    Type et = type.getElementType();
    std::function<double(double)> convert;
    if (et.isInteger(1))
      convert = [](double x) { return x != 0.0 ? 1.0 : 0.0; };
    else if (isa<FloatType>(et))
      convert = [et](double x) { return roundTo(et, x); };
    else if (isa<IntegerType>(et))
      convert = [](double x) { return std::trunc(x); };
    else
      return {};
    return {in.numElements, in.splat,
            [in, convert](int64_t i) { return convert(in.at(i)); }};
  }
  if (auto cos = dyn_cast_or_null<ConstantOfShapeOp>(def)) {
    double d;
    if (auto f = dyn_cast<FloatAttr>(cos.getValue()))
      d = f.getValueAsDouble();
    else if (auto n = dyn_cast<IntegerAttr>(cos.getValue()))
      d = n.getType().isInteger(1) || n.getType().isUnsignedInteger()
              ? (double)n.getValue().getZExtValue()
              : (double)n.getValue().getSExtValue();
    else
      return {};
    return {type.getNumElements(), true, [d](int64_t) { return d; }};
  }
  auto cst = dyn_cast_or_null<arith::ConstantOp>(def);
  if (!cst)
    return {};
  if (auto dense = dyn_cast<DenseElementsAttr>(cst.getValue())) {
    Type et = dense.getElementType();
    int64_t n = dense.getNumElements();
    if (isa<FloatType>(et)) {
      if (dense.isSplat()) {
        double d = dense.getSplatValue<APFloat>().convertToDouble();
        return {n, true, [d](int64_t) { return d; }};
      }
      auto values = dense.getValues<APFloat>();
      return {n, false,
              [values](int64_t i) { return values[i].convertToDouble(); }};
    }
    if (auto it = dyn_cast<IntegerType>(et)) {
      bool isUnsigned = it.isUnsigned() || it.getWidth() == 1;
      auto toDouble = [isUnsigned](const APInt &a) {
        return isUnsigned ? (double)a.getZExtValue() : (double)a.getSExtValue();
      };
      if (dense.isSplat()) {
        double d = toDouble(dense.getSplatValue<APInt>());
        return {n, true, [d](int64_t) { return d; }};
      }
      auto values = dense.getValues<APInt>();
      return {n, false,
              [values, toDouble](int64_t i) { return toDouble(values[i]); }};
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
    // Dense attributes store equal elements as a splat.
    if (reader.numElements != 1 && !reader.splat)
      return std::nullopt;
    return reader.at(0);
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

/// A mask operand the rewrite creates: attn.select(cond, trueValue,
/// falseValue) of type `type` (the padding half of `Where(causal & padding,
/// 0, min)` once the causal half became the flag).
struct NewSelect {
  Value cond, trueValue, falseValue;
  RankedTensorType type;
  Operation *from; // the select it replaces in the mask
};

/// One mask applied to the scores.
struct MaskEdit {
  MaskKind kind = MaskKind::none;
  Value mask; // null when `build` says how to make it
  double fill = 0.0; // for fill_if_zero / fill_if_nonzero
  std::optional<NewSelect> build;

  ArrayRef<int64_t> shape() const {
    return build ? build->type.getShape() : shapeOf(mask);
  }
  Type elementType() const {
    return build ? build->type.getElementType() : getElementTypeOrSelf(mask.getType());
  }
};

/// A scale or a mask applied to the scores.
struct ScoreEdit {
  Operation *op = nullptr; // null for the scales peeled off Q and K
  double factor = 1.0;     // a scale when `mask` is empty
  std::optional<MaskEdit> mask;
};

struct AttentionMatch {
  SoftmaxOp softmax;
  MatmulOp scores; // matmul(Q', K')
  MatmulOp output; // matmul(softmax, V)
  OperandPlan query, key;
  Value value;

  /// Scales and masks between `scores` and `softmax`, softmax first.
  SmallVector<ScoreEdit> edits;
  /// Ops looked through (identity casts); fused away with the chain.
  SmallVector<Operation *> passthrough;

  // The attributes of attn.attention.
  double scale = 1.0;
  MaskKind maskKind = MaskKind::none;
  Value mask;
  std::optional<NewSelect> maskBuild; // instead of `mask`
  double fillValue = 0.0;
  bool maskFirst = false;
  bool causal = false;
  std::optional<double> causalFill;
  bool nanToZero = false;
};

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

class SymbolicDims;
/// `reshape(transpose(reshape(x, [N, S, D]), [0, 2, 1]), [B, H, D, S])` with x
/// `[B, H, S, D]` (dynamo's SDPA decomposition of K^T): x, whose last two dims
/// that chain transposes, or null. Defined with SymbolicDims below.
Value matchRegroupedTranspose(ReshapeOp outer, SymbolicDims &dims,
                              SmallVectorImpl<Location> &locs);

/// Walks up from a matmul operand through attn.transpose and scalar scales.
/// `wanted` is the permutation the attention operand must have relative to
/// the matmul operand: identity for Q; for K the operand is K^T, so K is the
/// operand transposed by the last-two-dims swap. Reuses an existing value when
/// one has exactly that layout, otherwise plans a new attn.transpose of the
/// topmost value. For K, that transpose must keep the base value's innermost
/// dim innermost (the K' chain really transposes the key's last two dims).
LogicalResult matchOperand(Value operand, bool isKey, SymbolicDims &dims,
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

/// attn.attention broadcasts its mask to the scores, so a broadcast on the
/// mask (`attn.expand`, as attn-simplify-masks leaves the exporters' Expand to
/// [B, 1, Sq, Sk]) is dropped as long as the value under it fits the scores.
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
/// scores.
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

//--- The score chain --------------------------------------------------------//

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

  if (isIdentityCast(def)) {
    m.passthrough.push_back(def);
    return matchScoreChain(def->getOperand(0), m, why);
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

//--- Symbolic dims ----------------------------------------------------------//

/// A dim size known statically, or as "dim `idx` of block argument `arg`"
/// (the model's symbolic input dims), or unknown.
struct Sym {
  int64_t size = ShapedType::kDynamic;
  Value arg;
  int64_t idx = -1;
  /// With `arg`: the size is min(that dim, clamp) (a slice [0, n) of a static
  /// table: BERT's position ids, `position_ids[:, :seq]`).
  int64_t clamp = ShapedType::kDynamic;

  static Sym fixed(int64_t s) {
    Sym r;
    r.size = s;
    return r;
  }
  static Sym of(Value a, int64_t i) {
    Sym r;
    r.arg = a;
    r.idx = i;
    return r;
  }
  bool isStatic() const { return !ShapedType::isDynamic(size); }
  bool isOne() const { return isStatic() && size == 1; }
  bool known() const { return isStatic() || arg; }
  /// Provably the same size.
  bool same(const Sym &o) const {
    if (!known() || !o.known())
      return false;
    if (isStatic() || o.isStatic())
      return isStatic() && o.isStatic() && size == o.size;
    return arg == o.arg && idx == o.idx && clamp == o.clamp;
  }
  bool clamped() const { return !ShapedType::isDynamic(clamp); }
};

/// Numpy broadcast of two dims: a 1 gives the other; a static dim > 1 wins
/// (the other is it or 1); two symbols only when they are the same.
Sym broadcastSym(const Sym &a, const Sym &b) {
  if (a.isOne())
    return b;
  if (b.isOne() || a.same(b))
    return a;
  // n against min(n, c): n when n <= c; otherwise c and n > c differ, which
  // is a broadcast error unless c = 1, and then n again.
  if (a.arg && b.arg && a.arg == b.arg && a.idx == b.idx && a.clamped() != b.clamped())
    return a.clamped() ? b : a;
  if (a.isStatic())
    return a;
  if (b.isStatic())
    return b;
  return Sym();
}

/// The model's named symbolic dims: dims of different inputs with the same
/// ONNX dim_param (`seq` of input_ids and of attention_mask) are equal, because
/// the runtime rejects inputs whose named dims disagree. Read from the
/// module's `attn.signature` when it describes `func` (same number of inputs,
/// same ranks); empty otherwise.
class DimNames {
public:
  explicit DimNames(func::FuncOp func) {
    auto module = func->getParentOfType<ModuleOp>();
    auto attr = module ? module->getAttrOfType<StringAttr>("attn.signature") : StringAttr();
    if (!attr)
      return;
    llvm::Expected<llvm::json::Value> parsed = llvm::json::parse(attr.getValue());
    if (!parsed) {
      llvm::consumeError(parsed.takeError());
      return;
    }
    const llvm::json::Object *sig = parsed->getAsObject();
    const llvm::json::Array *inputs = sig ? sig->getArray("inputs") : nullptr;
    if (!inputs || inputs->size() != func.getNumArguments())
      return;
    llvm::StringMap<std::pair<Value, int64_t>> first;
    for (auto [i, in] : llvm::enumerate(*inputs)) {
      const llvm::json::Object *o = in.getAsObject();
      const llvm::json::Array *shape = o ? o->getArray("shape") : nullptr;
      Value arg = func.getArgument(i);
      auto type = dyn_cast<RankedTensorType>(arg.getType());
      if (!shape || !type || (int64_t)shape->size() != type.getRank())
        return;
      for (auto [d, dim] : llvm::enumerate(*shape)) {
        std::optional<llvm::StringRef> name = dim.getAsString();
        if (!name || *name == "?" || !type.isDynamicDim(d))
          continue;
        auto it = first.try_emplace(*name, arg, (int64_t)d).first;
        canonicalDim[{arg, (int64_t)d}] = it->second;
      }
    }
  }

  /// The first input dim with the same name as dim `idx` of argument `arg`.
  std::pair<Value, int64_t> canonical(Value arg, int64_t idx) const {
    auto it = canonicalDim.find({arg, idx});
    return it == canonicalDim.end() ? std::make_pair(arg, idx) : it->second;
  }

private:
  DenseMap<std::pair<Value, int64_t>, std::pair<Value, int64_t>> canonicalDim;
};

/// Follows dims through the graph back to the function arguments, and the
/// values of small integer tensors built from them (attn.shape, gather,
/// concat, ...: the shape computations of ONNX exports). Just enough to prove
/// that a mask built from `Shape(x)` has exactly the scores' dims.
class SymbolicDims {
public:
  explicit SymbolicDims(const DimNames *names = nullptr) : names(names) {}

  /// Dim `i` (negative counts from the back) of a ranked tensor value.
  Sym dim(Value v, int64_t i, int depth = 0) {
    auto type = dyn_cast<RankedTensorType>(v.getType());
    if (!type || depth > kMaxDepth)
      return Sym();
    auto axis = normalizeAxis(i, type.getRank());
    if (!axis)
      return Sym();
    if (!type.isDynamicDim(*axis))
      return Sym::fixed(type.getDimSize(*axis));
    if (isa<BlockArgument>(v)) {
      auto [arg, idx] = names ? names->canonical(v, *axis) : std::make_pair(v, *axis);
      return Sym::of(arg, idx);
    }
    auto key = std::make_pair(v, *axis);
    if (auto it = dimCache.find(key); it != dimCache.end())
      return it->second;
    Sym s = computeDim(v.getDefiningOp(), v, *axis, depth + 1);
    dimCache[key] = s;
    return s;
  }

  /// The value of element `j` of an integer tensor of rank <= 1, as a size.
  Sym elem(Value v, int64_t j, int depth = 0) {
    if (depth > kMaxDepth)
      return Sym();
    auto key = std::make_pair(v, j);
    if (auto it = elemCache.find(key); it != elemCache.end())
      return it->second;
    Sym s = computeElem(v, j, depth + 1);
    elemCache[key] = s;
    return s;
  }

private:
  static constexpr int kMaxDepth = 64;
  const DimNames *names;
  DenseMap<std::pair<Value, int64_t>, Sym> dimCache, elemCache;

  int64_t rankOf(Value v) { return cast<RankedTensorType>(v.getType()).getRank(); }

  /// Dim `i` of an operand broadcast (right-aligned) to `rank` dims; a missing
  /// dim is 1.
  Sym alignedDim(Value operand, int64_t rank, int64_t i, int depth) {
    int64_t off = rank - rankOf(operand);
    if (i < off)
      return Sym::fixed(1);
    return dim(operand, i - off, depth);
  }

  Sym computeDim(Operation *def, Value v, int64_t i, int depth) {
    if (!def)
      return Sym();
    int64_t rank = rankOf(v);
    // Same shape as the (first) input.
    if (def->hasTrait<OpTrait::SameOperandsAndResultType>() ||
        isa<CastOp, SoftmaxOp, LayerNormOp, TriluOp>(def))
      return dim(def->getOperand(0), i, depth);
    // Numpy broadcasting of all operands.
    if (isa<AddOp, SubOp, MulOp, DivOp, PowOp, MaxOp, MinOp, AndOp, OrOp, XorOp,
            CmpOp, SelectOp>(def)) {
      Sym s = Sym::fixed(1);
      for (Value operand : def->getOperands())
        s = broadcastSym(s, alignedDim(operand, rank, i, depth));
      return s;
    }
    if (auto mm = dyn_cast<MatmulOp>(def)) {
      int64_t lr = rankOf(mm.getLhs()), rr = rankOf(mm.getRhs());
      if (lr < 2 || rr < 2)
        return Sym();
      if (i == rank - 2)
        return dim(mm.getLhs(), -2, depth);
      if (i == rank - 1)
        return dim(mm.getRhs(), -1, depth);
      // Batch dims broadcast.
      int64_t batch = rank - 2;
      auto batchDim = [&](Value operand, int64_t r) {
        int64_t off = batch - (r - 2);
        return i < off ? Sym::fixed(1) : dim(operand, i - off, depth);
      };
      return broadcastSym(batchDim(mm.getLhs(), lr), batchDim(mm.getRhs(), rr));
    }
    if (auto t = dyn_cast<TransposeOp>(def))
      return dim(t.getInput(), t.getPerm()[i], depth);
    if (auto r = dyn_cast<ReshapeOp>(def)) {
      Sym e = elem(r.getShape(), i, depth);
      if (e.isStatic() && e.size == 0 && !r.getAllowzero())
        return dim(r.getInput(), i, depth);
      if (e.isStatic() && e.size == -1)
        return inferredDim(r, i, depth);
      if (e.isStatic() && e.size < 0)
        return Sym();
      return e;
    }
    if (auto e = dyn_cast<ExpandOp>(def))
      return broadcastSym(alignedDim(e.getInput(), rank, i, depth),
                          elem(e.getShape(), i, depth));
    if (auto c = dyn_cast<ConstantOfShapeOp>(def))
      return elem(c.getShape(), i, depth);
    if (auto g = dyn_cast<GatherOp>(def)) {
      int64_t axis = *normalizeAxis((int64_t)g.getAxis(), rankOf(g.getData()));
      int64_t ir = rankOf(g.getIndices());
      if (i < axis)
        return dim(g.getData(), i, depth);
      if (i < axis + ir)
        return dim(g.getIndices(), i - axis, depth);
      return dim(g.getData(), i - ir + 1, depth);
    }
    if (auto s = dyn_cast<SliceOp>(def)) {
      ConstantReader axes = readConstant(s.getAxes());
      if (!axes)
        return Sym();
      for (int64_t a = 0; a < axes.numElements; ++a) {
        auto ax = normalizeAxis((int64_t)axes.at(a), rank);
        if (!ax)
          return Sym();
        if (*ax != i)
          continue;
        // [0, n) with step 1 of a static dim d: min(n, d) (n is a size).
        ConstantReader st = readConstant(s.getStarts()), sp = readConstant(s.getSteps());
        auto in = cast<RankedTensorType>(s.getInput().getType());
        if (!st || !sp || st.numElements != axes.numElements ||
            sp.numElements != axes.numElements || st.at(a) != 0 || sp.at(a) != 1 ||
            in.isDynamicDim(i))
          return Sym();
        Sym n = elem(s.getEnds(), a, depth);
        if (n.isStatic())
          return n.size >= 0 ? Sym::fixed(std::min(n.size, in.getDimSize(i))) : Sym();
        if (!n.arg || n.clamped())
          return Sym();
        n.clamp = in.getDimSize(i);
        return n;
      }
      return dim(s.getInput(), i, depth);
    }
    if (auto c = dyn_cast<ConcatOp>(def)) {
      if (i == *normalizeAxis((int64_t)c.getAxis(), rank))
        return Sym();
      return dim(c.getInputs()[0], i, depth);
    }
    if (auto r = dyn_cast<RangeOp>(def)) {
      // range(0, n, 1) has n elements.
      auto start = evalScalar(r.getStart()), delta = evalScalar(r.getDelta());
      if (start && delta && *start == 0.0 && *delta == 1.0)
        return elem(r.getLimit(), 0, depth);
      return Sym();
    }
    if (auto a = dyn_cast<AttentionOp>(def)) {
      if (i == rank - 1)
        return dim(a.getValue(), -1, depth);
      return dim(a.getQuery(), i, depth);
    }
    return Sym();
  }

  /// The -1 entry of a reshape: the element count over the other entries.
  /// Symbolic entries cancel against equal input dims (x[B, S] -> [B, -1]);
  /// what is left must be static on the output side and at most one dim on
  /// the input side (range(n) -> [1, -1] or [-1, 1]).
  Sym inferredDim(ReshapeOp r, int64_t i, int depth) {
    int64_t rank = rankOf(r.getResult());
    auto inTy = cast<RankedTensorType>(r.getInput().getType());
    SmallVector<Sym> ins;
    for (int64_t j = 0; j < inTy.getRank(); ++j)
      ins.push_back(dim(r.getInput(), j, depth));
    int64_t outProduct = 1;
    for (int64_t j = 0; j < rank; ++j) {
      if (j == i)
        continue;
      Sym e = elem(r.getShape(), j, depth);
      if (e.isStatic() && e.size == 0 && !r.getAllowzero())
        e = dim(r.getInput(), j, depth);
      if (e.isStatic()) {
        if (e.size <= 0)
          return Sym();
        outProduct *= e.size;
        continue;
      }
      auto match = llvm::find_if(ins, [&](const Sym &d) { return !d.isStatic() && d.same(e); });
      if (match == ins.end())
        return Sym();
      ins.erase(match);
    }
    int64_t inProduct = 1;
    std::optional<Sym> dynamicDim;
    for (const Sym &d : ins) {
      if (d.isStatic()) {
        inProduct *= d.size;
        continue;
      }
      if (dynamicDim)
        return Sym();
      dynamicDim = d;
    }
    if (!dynamicDim)
      return outProduct && inProduct % outProduct == 0
                 ? Sym::fixed(inProduct / outProduct)
                 : Sym();
    if (inProduct != outProduct)
      return Sym();
    return *dynamicDim;
  }

  Sym computeElem(Value v, int64_t j, int depth) {
    auto type = dyn_cast<RankedTensorType>(v.getType());
    if (!type || type.getRank() > 1 || !isa<IntegerType>(type.getElementType()))
      return Sym();
    if (ConstantReader c = readConstant(v)) {
      if (j < 0 || j >= c.numElements)
        return Sym();
      return Sym::fixed((int64_t)c.at(j));
    }
    Operation *def = v.getDefiningOp();
    if (!def)
      return Sym();
    if (auto s = dyn_cast<ShapeOp>(def)) {
      int64_t rank = rankOf(s.getInput());
      int64_t start = (int64_t)s.getStart();
      if (start < 0)
        start += rank;
      start = std::clamp<int64_t>(start, 0, rank);
      return dim(s.getInput(), start + j, depth);
    }
    if (auto g = dyn_cast<GatherOp>(def)) {
      ConstantReader idx = readConstant(g.getIndices());
      auto data = cast<RankedTensorType>(g.getData().getType());
      if (!idx || data.getRank() != 1 || data.isDynamicDim(0) || j >= idx.numElements)
        return Sym();
      int64_t k = (int64_t)idx.at(j);
      if (k < 0)
        k += data.getDimSize(0);
      return elem(g.getData(), k, depth);
    }
    if (auto r = dyn_cast<ReshapeOp>(def))
      return elem(r.getInput(), j, depth);
    if (auto c = dyn_cast<CastOp>(def))
      return elem(c.getInput(), j, depth);
    if (auto sl = dyn_cast<SliceOp>(def)) {
      // shape(x)[a:b] (dynamo's shape computations).
      auto data = cast<RankedTensorType>(sl.getInput().getType());
      ConstantReader st = readConstant(sl.getStarts()), sp = readConstant(sl.getSteps());
      if (data.getRank() != 1 || data.isDynamicDim(0) || !st || !sp ||
          st.numElements != 1 || sp.numElements != 1 || sp.at(0) <= 0)
        return Sym();
      int64_t n = data.getDimSize(0), start = (int64_t)st.at(0);
      if (start < 0)
        start += n;
      start = std::clamp<int64_t>(start, 0, n);
      int64_t k = start + j * (int64_t)sp.at(0);
      return k < n ? elem(sl.getInput(), k, depth) : Sym();
    }
    if (auto c = dyn_cast<ConcatOp>(def)) {
      int64_t off = 0;
      for (Value in : c.getInputs()) {
        auto t = cast<RankedTensorType>(in.getType());
        int64_t n = t.getRank() == 0 ? 1 : t.getDimSize(0);
        if (ShapedType::isDynamic(n))
          return Sym();
        if (j < off + n)
          return elem(in, j - off, depth);
        off += n;
      }
      return Sym();
    }
    if (isa<MulOp, DivOp>(def)) {
      // Size arithmetic of the exporters: (a * b) / a is b (dynamo's
      // `(batch*seq)//batch` key length). Sizes are not 0 here: a model
      // with an empty batch divides by zero.
      auto operand = [&](Value x) {
        auto t = cast<RankedTensorType>(x.getType());
        return elem(x, t.getRank() == 0 || t.getDimSize(0) == 1 ? 0 : j, depth);
      };
      Sym a = operand(def->getOperand(0)), b = operand(def->getOperand(1));
      if (isa<MulOp>(def)) {
        if (a.isStatic() && b.isStatic())
          return Sym::fixed(a.size * b.size);
        if (a.isOne())
          return b;
        if (b.isOne())
          return a;
        return Sym();
      }
      if (b.isStatic() && b.size == 0)
        return Sym();
      if (a.isStatic() && b.isStatic())
        return a.size >= 0 && b.size > 0 ? Sym::fixed(a.size / b.size) : Sym();
      if (b.isOne())
        return a;
      if (auto mul = def->getOperand(0).getDefiningOp<MulOp>()) {
        Sym x = operand(mul.getLhs()), y = operand(mul.getRhs());
        if (x.same(b) && y.known())
          return y;
        if (y.same(b) && x.known())
          return x;
      }
      return Sym();
    }
    if (auto sel = dyn_cast<SelectOp>(def)) {
      // The exporters' `where(shape == -1, 1, shape)`: a size is never
      // negative, so the comparison with a negative constant is false.
      auto cmp = sel.getCondition().getDefiningOp<CmpOp>();
      if (cmp && cmp.getPredicate() == CmpPredicate::eq &&
          rankOf(sel.getCondition()) <= 1 && rankOf(sel.getFalseValue()) <= 1) {
        Sym x = elem(cmp.getLhs(), j, depth), c = elem(cmp.getRhs(), j, depth);
        if (x.known() && (!x.isStatic() || x.size >= 0) && c.isStatic() &&
            c.size < 0)
          return elem(sel.getFalseValue(), j, depth);
      }
      return Sym();
    }
    return Sym();
  }
};

Value matchRegroupedTranspose(ReshapeOp outer, SymbolicDims &dims,
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

//--- Mask patterns ----------------------------------------------------------//

/// A mask whose value depends only on the position (q, k) in its last two
/// dims: `value = (k - q >= t) ? hi : lo`. A splat has hi == lo. `index`
/// instead describes an index tensor holding k (the key position: a
/// `range(0, n)` laid along the last dim) or q (along the second to last).
struct MaskPattern {
  int64_t t = 0;
  double hi = 0.0, lo = 0.0;
  enum class Index { none, key, query, vector } index = Index::none;
  bool splat() const { return index == Index::none && hi == lo; }
};

class PatternEvaluator {
public:
  explicit PatternEvaluator(SymbolicDims &dims) : dims(dims) {}

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
  SymbolicDims &dims;

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
      Sym n = dims.dim(in, along);
      if (rank < 2)
        return std::nullopt;
      for (int64_t i = 0; i < rank - 2; ++i)
        if (outTy.getDimSize(i) != 1)
          return std::nullopt;
      Sym rows = dims.dim(v, -2), cols = dims.dim(v, -1);
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
bool isCausalMask(const MaskEdit &mask, double laterScale, const Sym &sq,
                  const Sym &sk, SymbolicDims &dims) {
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
bool isCausalKeep(Value c, const Sym &sq, const Sym &sk, SymbolicDims &dims) {
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
std::optional<CausalSplit> splitCausal(const MaskEdit &mask, const Sym &sq,
                                       const Sym &sk, SymbolicDims &dims,
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

//--- Scale, mask and causal flag --------------------------------------------//

/// Turns the edits (and the scales peeled off Q and K) into the attributes of
/// attn.attention: one scale, at most one mask (before or after the scale),
/// and the causal flag for a constant causal mask. Two masks are fine when
/// one of them is the causal constant (GPT-2: causal Where, then + padding);
/// one mask `causal & padding` splits into the flag and the padding mask.
LogicalResult matchAttributes(AttentionMatch &m, const Sym &sq, const Sym &sk,
                              SymbolicDims &dims, ArrayRef<int64_t> scoresShape,
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

//--- Top level --------------------------------------------------------------//

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

LogicalResult matchAttention(SoftmaxOp softmax, const DimNames *names,
                             AttentionMatch &m, Why &why) {
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

  // out = matmul(softmax, V), possibly through identity casts.
  Value p = softmax.getResult();
  Operation *user = nullptr;
  while (true) {
    if (!m.nanToZero && !p.hasOneUse()) {
      if (SelectOp sel = matchNanToZero(p)) {
        m.nanToZero = true;
        m.passthrough.push_back(sel.getCondition().getDefiningOp());
        m.passthrough.push_back(sel);
        p = sel.getResult();
        continue;
      }
    }
    if (!p.hasOneUse())
      return why.fail(llvm::formatv("the softmax result has {0} users",
                                    std::distance(p.use_begin(), p.use_end())));
    user = *p.getUsers().begin();
    if (!isIdentityCast(user))
      break;
    m.passthrough.push_back(user);
    p = user->getResult(0);
  }
  auto out = dyn_cast<MatmulOp>(user);
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
  SymbolicDims dims(names);
  if (failed(matchOperand(m.scores.getLhs(), /*isKey=*/false, dims, m.query, why)) ||
      failed(matchOperand(m.scores.getRhs(), /*isKey=*/true, dims, m.key, why)))
    return failure();

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
  SmallVector<int64_t> scores(q.begin(), q.end() - 1);
  scores.push_back(k[rank - 2]);

  Sym sq = dims.dim(m.scores.getResult(), -2);
  Sym sk = dims.dim(m.scores.getResult(), -1);
  if (failed(matchAttributes(m, sq, sk, dims, shapeOf(m.scores.getResult()),
                             inTy.getElementType(), why)))
    return failure();
  // The mask must not broadcast the scores (checked per edit) and must
  // broadcast to the scores of the fused op.
  if (m.mask || m.maskBuild) {
    ArrayRef<int64_t> maskShape =
        m.maskBuild ? m.maskBuild->type.getShape() : shapeOf(m.mask);
    Type maskType = m.maskBuild ? m.maskBuild->type.getElementType()
                                : getElementTypeOrSelf(m.mask.getType());
    if (!fitsInto(maskShape, scores))
      return why.fail(llvm::formatv(
          "the mask shape {0} does not fit the scores shape {1}",
          shapeStr(maskShape), shapeStr(scores)));
    if (m.maskKind == MaskKind::additive && maskType != inTy.getElementType())
      return why.fail("the additive mask's element type differs");
  }
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
  FuseAttentionPattern(MLIRContext *ctx, const DimNames *names,
                       FuseAttentionStats *stats = nullptr)
      : OpRewritePattern(ctx), names(names), stats(stats) {}

  LogicalResult matchAndRewrite(SoftmaxOp softmax,
                                PatternRewriter &rewriter) const override {
    AttentionMatch m;
    Why why;
    if (failed(matchAttention(softmax, names, m, why)))
      return rewriter.notifyMatchFailure(softmax, why.text);

    // The fused op's location: every op it replaces, in program order.
    SmallVector<Location> locs{m.scores.getLoc()};
    for (const ScoreEdit &e : llvm::reverse(m.edits))
      locs.push_back(e.op->getLoc());
    locs.push_back(softmax.getLoc());
    for (Operation *op : m.passthrough)
      locs.push_back(op->getLoc());
    locs.push_back(m.output.getLoc());
    Location loc = FusedLoc::get(rewriter.getContext(), locs);

    rewriter.setInsertionPoint(m.output);
    Value q = materialize(m.query, loc, rewriter);
    Value k = materialize(m.key, loc, rewriter);
    Value mask = m.mask;
    if (m.maskBuild) {
      // The padding half of a causal & padding mask; it keeps the location
      // of the select it comes from (CSE merges those of several layers).
      mask = SelectOp::create(rewriter, m.maskBuild->from->getLoc(), m.maskBuild->type,
                              m.maskBuild->cond, m.maskBuild->trueValue,
                              m.maskBuild->falseValue);
    }
    FloatAttr causalFill =
        m.causalFill ? rewriter.getF64FloatAttr(*m.causalFill) : FloatAttr();
    auto attention = AttentionOp::create(
        rewriter, loc, m.output.getType(), q, k, m.value, mask,
        APFloat(m.scale), m.maskKind, APFloat(m.fillValue), m.maskFirst,
        m.causal, causalFill, m.nanToZero);
    rewriter.replaceOp(m.output, attention.getResult());
    // Erase the chain (identity casts after the softmax first) and whatever
    // only it used.
    SmallVector<Operation *> roots{softmax.getOperation()};
    llvm::append_range(roots, m.passthrough);
    eraseDeadChain(roots, rewriter);
    if (stats) {
      ++stats->fused;
      stats->causal += m.causal;
    }
    return success();
  }

  const DimNames *names;
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
  PassStatistic numFused{"attn-fuse-attention", "fused-chains", "Number of attention chains fused"};
  PassStatistic numCausal{"attn-fuse-attention", "causal-masks", "Number of masks turned into the causal flag"};
  PassStatistic numUnfused{"attn-fuse-attention", "unfused-softmax", "Number of softmax ops left unfused"};
  using Base::Base;

  void runOnOperation() override {
    SmallVector<SoftmaxOp> softmaxes;
    getOperation().walk([&](SoftmaxOp op) { softmaxes.push_back(op); });

    FuseAttentionStats stats;
    DimNames names(getOperation());
    FuseAttentionPattern pattern(&getContext(), &names, &stats);
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
