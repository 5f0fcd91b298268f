//===- FuseGatedMlp.cpp - gated MLPs into a gated attn.linear -------------===//
//
// A gated MLP (SwiGLU, GeGLU: Llama, Qwen2, Mistral, Gemma, Phi-3) computes
// act(x · W_gate + b_gate) * (x · W_up + b_up). After attn-fuse-linear it is
//
//   two projections of one input                 (Llama, Qwen2, Mistral, Gemma)
//     %g = attn.linear %x, %Wg {activation = silu}    [K, N']
//     %u = attn.linear %x, %Wu                        [K, N']
//     %y = attn.mul %g, %u                            (either order)
//
//   one packed projection cut in halves              (Phi-3's gate_up_proj)
//     %gu = attn.linear %x, %W                        [K, 2N']
//     %g = attn.slice %gu [0 : N'],  %u = attn.slice %gu [N' : 2N'] (last dim)
//     %y = attn.mul act(%g), %u      act: x*sigmoid(x), x/(1+exp(-x)), gelu, relu
//
// and becomes one `attn.linear %x, %W {gated, activation = act}` with W =
// [W_gate | W_up] ([K, 2N']; for two projections a new constant, the two
// originals go when nothing else reads them: the weights are copied once at
// compile time) and the bias likewise (zeros for a missing half). Every
// intermediate value must have no other user. The gating then runs in the
// matmul kernel's epilogue: the [.., 2N'] product is never stored.
//
//===----------------------------------------------------------------------===//
#include "attn/Compiler/Passes.h"
#include "attn/Compiler/Statistics.h"
#include "attn/Dialect/ConstantData.h"
#include "Graph/GraphUtils.h"

#include "mlir/IR/Matchers.h"
#include "mlir/IR/PatternMatch.h"

#include <cstring>

namespace mlir::attn {
#define GEN_PASS_DEF_FUSEGATEDMLPPASS
#include "attn/Compiler/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;

namespace {

/// A plain one-result linear (not gated) whose result has one user.
LinearOp plainLinear(Value v) {
  auto l = v.getDefiningOp<LinearOp>();
  if (!l || l.getGated() || l->getNumResults() != 1 || !v.hasOneUse())
    return {};
  return l;
}

std::optional<SmallVector<int64_t>> constantInts(Value v) {
  DenseIntElementsAttr attr;
  if (!matchPattern(v, m_Constant(&attr)))
    return std::nullopt;
  SmallVector<int64_t> out;
  for (const APInt &a : attr.getValues<APInt>())
    out.push_back(a.getSExtValue());
  return out;
}

/// The column range [begin, end) that `s` takes of its input's last dim
/// (static size n), when it slices only that dim with step 1.
std::optional<std::pair<int64_t, int64_t>> columnRange(SliceOp s) {
  auto t = cast<RankedTensorType>(s.getInput().getType());
  int64_t rank = t.getRank(), n = t.getShape().back();
  auto starts = constantInts(s.getStarts()), ends = constantInts(s.getEnds());
  auto axes = constantInts(s.getAxes()), steps = constantInts(s.getSteps());
  if (!starts || !ends || !axes || !steps || ShapedType::isDynamic(n) || starts->size() != 1 ||
      ends->size() != 1 || axes->size() != 1 || steps->size() != 1 || (*steps)[0] != 1)
    return std::nullopt;
  if ((*axes)[0] != -1 && (*axes)[0] != rank - 1)
    return std::nullopt;
  auto clampIdx = [&](int64_t i) {
    if (i < 0)
      i += n;
    return std::clamp<int64_t>(i, 0, n);
  };
  int64_t b = clampIdx((*starts)[0]), e = clampIdx((*ends)[0]);
  if (b >= e)
    return std::nullopt;
  return std::pair{b, e};
}

/// The activation that `v` is of a value (returned with the ops computing
/// it, in order), when those ops have no other users: attn.gelu,
/// attn.relu, x * sigmoid(x), x / (1 + exp(-x)).
struct ActMatch {
  Activation act = Activation::none;
  Value input;
  SmallVector<Operation *> ops;
};
std::optional<ActMatch> matchActivation(Value v) {
  Operation *def = v.getDefiningOp();
  if (!def)
    return std::nullopt;
  Type t = v.getType();
  auto same = [&](Value x) { return x.getType() == t; };
  if (auto g = dyn_cast<GeluOp>(def); g && same(g.getInput()))
    return ActMatch{g.getTanhApproximation() ? Activation::gelu_tanh : Activation::gelu,
                    g.getInput(), {g}};
  if (auto r = dyn_cast<ReluOp>(def); r && same(r.getInput()))
    return ActMatch{Activation::relu, r.getInput(), {r}};
  // x * sigmoid(x): x has exactly these two users.
  if (auto m = dyn_cast<MulOp>(def)) {
    for (auto [x, s] : {std::pair{m.getLhs(), m.getRhs()}, std::pair{m.getRhs(), m.getLhs()}}) {
      auto sig = s.getDefiningOp<SigmoidOp>();
      if (sig && sig.getInput() == x && same(x) && same(s) && s.hasOneUse() &&
          llvm::range_size(x.getUses()) == 2)
        return ActMatch{Activation::silu, x, {sig, m}};
    }
  }
  // x / (1 + exp(-x))
  if (auto d = dyn_cast<DivOp>(def)) {
    Value x = d.getLhs();
    auto a = d.getRhs().getDefiningOp<AddOp>();
    if (!a || !same(x) || !same(a.getResult()) || !a->hasOneUse() ||
        llvm::range_size(x.getUses()) != 2)
      return std::nullopt;
    for (auto [e, one] : {std::pair{a.getLhs(), a.getRhs()}, std::pair{a.getRhs(), a.getLhs()}}) {
      auto exp = e.getDefiningOp<ExpOp>();
      if (!exp || !e.hasOneUse() || !same(e) || !matchPattern(one, m_OneFloat()))
        continue;
      auto neg = exp.getInput().getDefiningOp<NegOp>();
      if (neg && neg.getInput() == x && neg->hasOneUse() && same(neg.getResult()))
        return ActMatch{Activation::silu, x, {neg, exp, a, d}};
    }
  }
  return std::nullopt;
}

/// [a | b] along the last dim: a new constant when both are constants, else
/// attn.concat.
Value concatLast(OpBuilder &b, Location loc, Value x, Value y, StringRef suffix) {
  auto xt = cast<RankedTensorType>(x.getType()), yt = cast<RankedTensorType>(y.getType());
  SmallVector<int64_t> shape(xt.getShape());
  shape.back() += yt.getShape().back();
  auto type = RankedTensorType::get(shape, xt.getElementType());
  std::optional<ConstantBytes> xb = getConstantBytes(x), yb = getConstantBytes(y);
  if (xb && yb && xb->elementBytes == yb->elementBytes) {
    int64_t eb = xb->elementBytes, nx = xt.getShape().back(), ny = yt.getShape().back();
    int64_t rows = xt.getNumElements() / nx;
    return createConstantFilled(b, loc, type, constantBlobName(x, suffix),
                                [&](MutableArrayRef<char> data) {
                                  char *out = data.data();
                                  for (int64_t r = 0; r < rows; ++r) {
                                    for (int64_t j = 0; j < nx; ++j, out += eb)
                                      std::memcpy(out, xb->element(r * nx + j).data(), eb);
                                    for (int64_t j = 0; j < ny; ++j, out += eb)
                                      std::memcpy(out, yb->element(r * ny + j).data(), eb);
                                  }
                                });
  }
  return ConcatOp::create(b, loc, type, ValueRange{x, y}, b.getI64IntegerAttr(xt.getRank() - 1));
}

/// A zero [n] vector of element type `et`.
Value zeros(OpBuilder &b, Location loc, int64_t n, Type et) {
  auto t = RankedTensorType::get({n}, et);
  return arith::ConstantOp::create(b, loc, DenseElementsAttr::get(t, b.getZeroAttr(et)));
}

struct FuseGatedMlpPass : attn::impl::FuseGatedMlpPassBase<FuseGatedMlpPass> {
  using Base::Base;
  PassStatistic numPair{"attn-fuse-gated-mlp", "pairs",
                        "Gate and up projections merged into one gated attn.linear"};
  PassStatistic numPacked{"attn-fuse-gated-mlp", "packed",
                          "Packed gate_up projections turned into a gated attn.linear"};
  PassStatistic numReleased{"attn-fuse-gated-mlp", "released-weights",
                            "Original weight blobs freed once concatenated (release-weights)"};
  /// Frees the gate and up weights' blobs once concatenated.
  BlobReleaser *releaser = nullptr;

  /// act(x·Wg) * (x·Wu) as two linears.
  bool fusePair(IRRewriter &rw, MulOp mul) {
    for (auto [gv, uv] : {std::pair{mul.getLhs(), mul.getRhs()}, std::pair{mul.getRhs(), mul.getLhs()}}) {
      LinearOp g = plainLinear(gv), u = plainLinear(uv);
      if (!g || !u || g == u || u.getActivation() != Activation::none)
        continue;
      if (g.getInput() != u.getInput() || gv.getType() != uv.getType() ||
          mul.getType() != gv.getType())
        continue;
      auto wg = g.getWeight().getType(), wu = u.getWeight().getType();
      if (wg != wu || !wg.hasStaticShape())
        continue;
      int64_t n = wg.getDimSize(1);
      Type et = wg.getElementType();
      // Both linears must be defined before the mul; the new one goes just
      // before the mul, where the input and both weights are available.
      rw.setInsertionPoint(mul);
      Location loc = rw.getFusedLoc({g.getLoc(), u.getLoc(), mul.getLoc()});
      Value w = concatLast(rw, loc, g.getWeight(), u.getWeight(), ".gate_up");
      Value bias;
      if (g.getBias() || u.getBias()) {
        Value bg = g.getBias() ? g.getBias() : zeros(rw, loc, n, et);
        Value bu = u.getBias() ? u.getBias() : zeros(rw, loc, n, et);
        bias = concatLast(rw, loc, bg, bu, ".gate_up");
        // A zero half copied into a new constant is dead.
        for (Value z : {bg, bu})
          if (z != g.getBias() && z != u.getBias() && z.use_empty())
            rw.eraseOp(z.getDefiningOp());
      }
      auto linear = LinearOp::create(rw, loc, TypeRange{mul.getType()}, g.getInput(), w, bias,
                                     ActivationAttr::get(&getContext(), g.getActivation()),
                                     rw.getUnitAttr());
      SmallVector<Operation *> constants = operandConstants({g, u});
      rw.replaceOp(mul, linear.getResults());
      rw.eraseOp(g);
      rw.eraseOp(u);
      eraseDeadConstants(rw, constants, releaser);
      ++numPair;
      return true;
    }
    return false;
  }

  /// act(slice0(x·W)) * slice1(x·W) with the halves of one linear.
  bool fusePacked(IRRewriter &rw, MulOp mul) {
    for (auto [gv, uv] : {std::pair{mul.getLhs(), mul.getRhs()}, std::pair{mul.getRhs(), mul.getLhs()}}) {
      std::optional<ActMatch> act = matchActivation(gv);
      if (!act || !act->ops.back()->getResult(0).hasOneUse())
        continue;
      auto gs = act->input.getDefiningOp<SliceOp>();
      auto us = uv.getDefiningOp<SliceOp>();
      if (!gs || !us || !uv.hasOneUse() || gs.getInput() != us.getInput() ||
          !llvm::all_of(gs->getUsers(),
                        [&](Operation *op) { return llvm::is_contained(act->ops, op); }) ||
          gv.getType() != uv.getType() || mul.getType() != uv.getType())
        continue;
      Value y = gs.getInput();
      auto l = y.getDefiningOp<LinearOp>();
      if (!l || l.getGated() || l->getNumResults() != 1 ||
          l.getActivation() != Activation::none || llvm::range_size(y.getUses()) != 2)
        continue;
      auto wt = l.getWeight().getType();
      if (ShapedType::isDynamic(wt.getDimSize(1)) || wt.getDimSize(1) % 2)
        continue;
      int64_t half = wt.getDimSize(1) / 2;
      auto gr = columnRange(gs), ur = columnRange(us);
      if (!gr || !ur || *gr != std::pair<int64_t, int64_t>{0, half} ||
          *ur != std::pair<int64_t, int64_t>{half, 2 * half})
        continue;
      rw.setInsertionPoint(mul);
      SmallVector<Location> locs{l.getLoc()};
      for (Operation *op : act->ops)
        locs.push_back(op->getLoc());
      locs.push_back(mul.getLoc());
      auto linear = LinearOp::create(rw, rw.getFusedLoc(locs), TypeRange{mul.getType()},
                                     l.getInput(), l.getWeight(), l.getBias(),
                                     ActivationAttr::get(&getContext(), act->act),
                                     rw.getUnitAttr());
      SmallVector<Operation *> dead(act->ops.rbegin(), act->ops.rend());
      dead.append({gs, us, l});
      SmallVector<Operation *> constants = operandConstants(dead);
      rw.replaceOp(mul, linear.getResults());
      for (Operation *op : dead)
        rw.eraseOp(op);
      eraseDeadConstants(rw, constants, releaser);
      ++numPacked;
      return true;
    }
    return false;
  }

  void runOnOperation() override {
    SmallVector<MulOp> muls;
    getOperation().walk([&](MulOp op) { muls.push_back(op); });
    IRRewriter rw(&getContext());
    BlobReleaser release(getOperation(), releaseWeights);
    releaser = &release;
    // A match erases only ops before its mul (a SiLU's x * sigmoid(x)
    // included), which were visited already: the list stays valid.
    for (MulOp mul : muls) {
      if (!isa<FloatType>(getElementTypeOrSelf(mul.getType())))
        continue;
      if (!fusePair(rw, mul))
        fusePacked(rw, mul);
    }
    numReleased += release.releasedBlobs();
    releaser = nullptr;
  }
};

} // namespace
