//===- FuseRotary.cpp - rotary embedding patterns into attn.rotary ---===//
//
// Exporters spell rotary position embeddings out. With `x` the rotated
// channels (the whole head, or `x_full[..., :R]`), `cos`/`sin` full width:
//
//   half split (Hugging Face rotate_half, TorchScript and dynamo exports):
//     x * cos + concat(-x[..., R/2:], x[..., :R/2]) * sin
//   interleaved pairs (GPT-J rotate_every_two):
//     x * cos + reshape(concat(unsqueeze(-x[..., 1::2]), unsqueeze(x[..., ::2]), -1), [..., R]) * sin
//   partial rotary (Phi, GPT-NeoX rotary_pct): the above on
//     x_full[..., :R], then concat(that, x_full[..., R:]).
//
// Slices may give their ends as INT64_MAX or negative; Split outputs are
// slices too (the importer). Products and the sum may list their operands in
// either order. A match becomes one attn.rotary; the ops that became dead
// are erased.
//
// Then attn.rotary is commuted above a head transpose whose last dim stays
// in place: rotary(transpose(x, p), cos, sin) = transpose(rotary(x, cos',
// sin'), p) with cos' = transpose(cos, p^-1) (cos/sin are small: [1, S, D]
// positions x channels), so that Q and K keep the projection's [B, S, H, D]
// layout and attn-fold-attention-transposes still sees transpose -> attention.
//
//===----------------------------------------------------------------------===//
#include "attn/Compiler/Passes.h"
#include "attn/Dialect/ConstantData.h"
#include "Graph/GraphUtils.h"

#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/PatternMatch.h"

#include <limits>

namespace mlir::attn {
#define GEN_PASS_DEF_FUSEROTARYPASS
#include "attn/Compiler/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;

namespace {

RankedTensorType rtypeOf(Value v) { return dyn_cast<RankedTensorType>(v.getType()); }

/// A slice of one axis with constant bounds, normalized to [start, end)
/// with end clamped to the dim (ONNX rules for positive steps).
struct AxisSlice {
  Value src;
  int64_t axis, start, end, step;
};

std::optional<AxisSlice> matchSlice(Value v) {
  auto s = v.getDefiningOp<SliceOp>();
  if (!s)
    return std::nullopt;
  auto st = readConstantElements(s.getStarts()), en = readConstantElements(s.getEnds()),
       ax = readConstantElements(s.getAxes()), sp = readConstantElements(s.getSteps());
  if (!st || !en || !ax || !sp || st->size() != 1 || en->size() != 1 || ax->size() != 1 ||
      sp->size() != 1)
    return std::nullopt;
  auto t = rtypeOf(s.getInput());
  if (!t)
    return std::nullopt;
  int64_t rank = t.getRank(), axis = ax->getInt(0);
  if (axis < 0)
    axis += rank;
  if (axis < 0 || axis >= rank || t.isDynamicDim(axis))
    return std::nullopt;
  int64_t d = t.getDimSize(axis), start = st->getInt(0), end = en->getInt(0), step = sp->getInt(0);
  if (step <= 0)
    return std::nullopt;
  auto norm = [&](int64_t i) {
    if (i < 0)
      i = i < -d ? 0 : i + d;
    return std::min(i, d);
  };
  return AxisSlice{s.getInput(), axis, norm(start), norm(end), step};
}

/// `v` = slice of `src` along its last axis with exactly these bounds.
bool isLastSlice(Value v, Value src, int64_t start, int64_t end, int64_t step,
                 SmallVectorImpl<Operation *> &ops) {
  auto s = matchSlice(v);
  if (!s || s->src != src || s->axis != rtypeOf(src).getRank() - 1 || s->start != start ||
      s->end != end || s->step != step)
    return false;
  ops.push_back(v.getDefiningOp());
  return true;
}

int64_t lastAxis(ConcatOp c) {
  int64_t rank = rtypeOf(c.getResult()).getRank(), a = c.getAxis();
  return a < 0 ? a + rank : a;
}

/// `rot` = concat(-x[..., R/2:], x[..., :R/2]) along the last axis.
bool matchRotateHalf(Value rot, Value x, SmallVectorImpl<Operation *> &ops) {
  auto t = rtypeOf(x);
  int64_t r = t.getShape().back();
  auto cat = rot.getDefiningOp<ConcatOp>();
  if (!cat || cat.getInputs().size() != 2 || lastAxis(cat) != t.getRank() - 1 || rot.getType() != x.getType())
    return false;
  auto neg = cat.getInputs()[0].getDefiningOp<NegOp>();
  if (!neg)
    return false;
  SmallVector<Operation *> sub{cat, neg};
  if (!isLastSlice(neg.getInput(), x, r / 2, r, 1, sub) ||
      !isLastSlice(cat.getInputs()[1], x, 0, r / 2, 1, sub))
    return false;
  ops.append(sub.begin(), sub.end());
  return true;
}

/// `v` = reshape(s) adding a trailing unit dim: returns s.
Value unsqueezedLast(Value v, SmallVectorImpl<Operation *> &ops) {
  auto r = v.getDefiningOp<ReshapeOp>();
  if (!r)
    return {};
  auto in = rtypeOf(r.getInput()), out = rtypeOf(r.getResult());
  if (!in || !out || out.getRank() != in.getRank() + 1 || out.getShape().back() != 1 ||
      failed(verifyCompatibleShape(out.getShape().drop_back(), in.getShape())))
    return {};
  ops.push_back(r);
  return r.getInput();
}

/// `rot` = reshape(concat(unsqueeze(-x[..., 1::2]), unsqueeze(x[..., ::2]), -1), x.shape).
bool matchRotateEveryTwo(Value rot, Value x, SmallVectorImpl<Operation *> &ops) {
  auto t = rtypeOf(x);
  int64_t r = t.getShape().back();
  auto flat = rot.getDefiningOp<ReshapeOp>();
  if (!flat || rot.getType() != x.getType())
    return false;
  auto cat = flat.getInput().getDefiningOp<ConcatOp>();
  if (!cat || cat.getInputs().size() != 2 || lastAxis(cat) != t.getRank())
    return false;
  auto ct = rtypeOf(cat.getResult());
  if (ct.getShape().back() != 2 || ct.getShape()[t.getRank() - 1] != r / 2)
    return false;
  SmallVector<Operation *> sub{flat, cat};
  Value a = unsqueezedLast(cat.getInputs()[0], sub), b = unsqueezedLast(cat.getInputs()[1], sub);
  if (!a || !b)
    return false;
  auto neg = a.getDefiningOp<NegOp>();
  if (!neg)
    return false;
  sub.push_back(neg);
  if (!isLastSlice(neg.getInput(), x, 1, r, 2, sub) || !isLastSlice(b, x, 0, r, 2, sub))
    return false;
  ops.append(sub.begin(), sub.end());
  return true;
}

struct RotaryMatch {
  Value x, cos, sin;
  bool interleaved = false;
  SmallVector<Operation *> ops; // root first
};

/// root = x * cos + rotate(x) * sin.
std::optional<RotaryMatch> matchRotary(AddOp root) {
  auto t = rtypeOf(root.getResult());
  if (!t || !isa<FloatType>(t.getElementType()) || t.getRank() < 1 ||
      ShapedType::isDynamic(t.getShape().back()) || t.getShape().back() % 2 != 0)
    return std::nullopt;
  for (auto [p, q] : {std::pair{root.getLhs(), root.getRhs()}, std::pair{root.getRhs(), root.getLhs()}}) {
    auto m1 = p.getDefiningOp<MulOp>(), m2 = q.getDefiningOp<MulOp>();
    if (!m1 || !m2 || !m1->hasOneUse() || !m2->hasOneUse())
      continue;
    for (auto [x, c] : {std::pair{m1.getLhs(), m1.getRhs()}, std::pair{m1.getRhs(), m1.getLhs()}}) {
      if (x.getType() != t)
        continue;
      for (auto [rot, s] : {std::pair{m2.getLhs(), m2.getRhs()}, std::pair{m2.getRhs(), m2.getLhs()}}) {
        auto ct = rtypeOf(c), st = rtypeOf(s);
        if (!ct || !st || ct.getShape() != st.getShape() || ct.getRank() > t.getRank() ||
            ct.getRank() < 1 || ct.getShape().back() != t.getShape().back() ||
            ct.getElementType() != t.getElementType() || st.getElementType() != t.getElementType())
          continue;
        RotaryMatch m;
        m.ops = {root, m1, m2};
        if (matchRotateHalf(rot, x, m.ops)) {
          m.interleaved = false;
        } else if (matchRotateEveryTwo(rot, x, m.ops)) {
          m.interleaved = true;
        } else {
          continue;
        }
        m.x = x;
        m.cos = c;
        m.sin = s;
        return m;
      }
    }
  }
  return std::nullopt;
}

/// Erases the ops of `ops` that have no uses left, users before producers.
void eraseDead(RewriterBase &rw, ArrayRef<Operation *> ops, llvm::SmallPtrSetImpl<Operation *> &erased) {
  bool changed = true;
  while (changed) {
    changed = false;
    for (Operation *op : ops) {
      if (erased.contains(op) || !op->use_empty())
        continue;
      erased.insert(op);
      rw.eraseOp(op);
      changed = true;
    }
  }
}

/// rotary(transpose(x, p)) -> transpose(rotary(x, cos', sin'), p).
void commuteAboveTranspose(RewriterBase &rw, RotaryOp op) {
  auto tr = op.getInput().getDefiningOp<TransposeOp>();
  if (!tr || !tr->hasOneUse())
    return;
  ArrayRef<int64_t> perm = tr.getPerm();
  int64_t rank = perm.size();
  auto ct = rtypeOf(op.getCos());
  if (rank < 2 || perm.back() != rank - 1 || ct.getRank() != rank)
    return;
  SmallVector<int64_t> inv(rank);
  for (int64_t i = 0; i < rank; ++i)
    inv[perm[i]] = i;
  Location loc = op.getLoc();
  rw.setInsertionPoint(op);
  auto permute = [&](Value v) -> Value {
    bool identity = llvm::all_of(llvm::enumerate(inv), [](auto e) { return (int64_t)e.index() == e.value(); });
    if (identity)
      return v;
    return TransposeOp::create(rw, loc, v, rw.getDenseI64ArrayAttr(inv)).getResult();
  };
  Value c = permute(op.getCos()), s = permute(op.getSin());
  Value x = tr.getInput();
  auto rot = RotaryOp::create(rw, loc, x.getType(), x, c, s, op.getInterleavedAttr());
  auto back = TransposeOp::create(rw, tr.getLoc(), rot.getResult(), tr.getPermAttr());
  Value r = back.getResult();
  if (r.getType() != op.getType())
    return rw.eraseOp(back), rw.eraseOp(rot), void();
  rw.replaceOp(op, r);
  rw.eraseOp(tr);
  // Shape reads of the transposed result read the rotary's dims instead, so
  // that the transpose stays foldable into attention (one data user).
  for (Operation *user : llvm::make_early_inc_range(r.getUsers())) {
    auto dim = dyn_cast<tensor::DimOp>(user);
    std::optional<int64_t> i = dim ? dim.getConstantIndex() : std::nullopt;
    if (!i || *i < 0 || *i >= rank)
      continue;
    rw.setInsertionPoint(dim);
    rw.replaceOpWithNewOp<tensor::DimOp>(dim, rot.getResult(), perm[*i]);
  }
}

struct FuseRotaryPass : attn::impl::FuseRotaryPassBase<FuseRotaryPass> {
  void runOnOperation() override {
    SmallVector<AddOp> roots;
    getOperation().walk([&](AddOp op) { roots.push_back(op); });
    IRRewriter rw(&getContext());
    llvm::SmallPtrSet<Operation *, 32> erased;
    SmallVector<RotaryOp> created;
    for (AddOp root : roots) {
      if (erased.contains(root))
        continue;
      std::optional<RotaryMatch> m = matchRotary(root);
      if (!m)
        continue;
      Value x = m->x;
      Operation *replaced = root;
      // Partial rotary: concat(rotary(x_full[..., :R]), x_full[..., R:]).
      if (auto inner = matchSlice(x); inner && root->hasOneUse() && inner->start == 0 &&
                                      inner->step == 1 &&
                                      inner->axis == rtypeOf(x).getRank() - 1) {
        auto cat = dyn_cast<ConcatOp>(*root->user_begin());
        auto full = rtypeOf(inner->src);
        int64_t d = full.getShape().back();
        SmallVector<Operation *> sub{x.getDefiningOp()};
        if (cat && cat.getInputs().size() == 2 && cat.getInputs()[0] == root.getResult() &&
            lastAxis(cat) == full.getRank() - 1 && cat.getType() == full &&
            isLastSlice(cat.getInputs()[1], inner->src, inner->end, d, 1, sub)) {
          x = inner->src;
          replaced = cat;
          m->ops.insert(m->ops.begin(), cat);
          m->ops.append(sub.begin(), sub.end());
        }
      }
      SmallVector<Operation *> constants = operandConstants(m->ops);
      rw.setInsertionPoint(replaced);
      auto rot = RotaryOp::create(rw, root.getLoc(), x.getType(), x, m->cos, m->sin,
                                  m->interleaved ? rw.getUnitAttr() : UnitAttr());
      rw.replaceOp(replaced, rot.getResult());
      erased.insert(replaced);
      eraseDead(rw, m->ops, erased);
      eraseDeadConstants(rw, constants);
      created.push_back(rot);
    }
    for (RotaryOp op : created)
      commuteAboveTranspose(rw, op);
  }
};
} // namespace
