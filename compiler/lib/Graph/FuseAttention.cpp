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
// K and V must not broadcast; the mask must not broadcast the scores. K and V
// expanded by GQA's repeat_kv (matchRepeatKv) enter the op un-expanded: it
// reads key/value head h / G for query head h.
//
// Matching fills an `AttentionMatch` (AttentionMatch.h) through small
// matchers: matchAttention (AttentionMatch.cpp); matchScoreChain,
// matchScaleOp, matchOperand, analyzeCondition (ChainMatch.cpp);
// isCausalMask, splitCausal, matchAttributes (CausalMask.cpp); a new form is
// a new case in one of them. Constants are read by Support/ConstantEval.h,
// symbolic dims proven equal by Support/SymbolicShape.h. Matching never
// changes the IR. This file holds the rewrite and the pass: the rewrite is a
// RewritePattern on attn.softmax; the pass drives it over a snapshot of the
// softmax ops (no folding and no unrelated DCE: what the pass does not fuse
// stays exactly as it was) and, with the `remarks` option, emits a remark
// saying why at each softmax left unfused.
//
//===----------------------------------------------------------------------===//
#include "Graph/AttentionMatch.h"
#include "attn/Compiler/Passes.h"
#include "attn/Compiler/Statistics.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SmallPtrSet.h"

namespace mlir::attn {
#define GEN_PASS_DEF_FUSEATTENTIONPASS
#include "attn/Compiler/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;
using namespace mlir::attn::fuse;

namespace {

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

/// GQA's repeat_kv: `reshape(expand(reshape(src, [..., Hkv, 1, S, D]),
/// [..., Hkv, G, S, D]), [..., Hkv*G, S, D])` (transformers' `repeat_kv`,
/// both exporters). Returns `src` and G when every other dim provably stays
/// in place (so query head h reads src head h / G); torch's `repeat` layout
/// (`[..., G, Hkv, ...]`) does not match.
std::optional<std::pair<Value, int64_t>> matchRepeatKv(Value v, SymbolicShapes &dims) {
  auto r2 = v.getDefiningOp<ReshapeOp>();
  auto ex = r2 ? r2.getInput().getDefiningOp<ExpandOp>() : ExpandOp();
  auto r1 = ex ? ex.getInput().getDefiningOp<ReshapeOp>() : ReshapeOp();
  if (!r1)
    return std::nullopt;
  Value src = r1.getInput();
  auto rankOf = [](Value x) { return cast<RankedTensorType>(x.getType()).getRank(); };
  int64_t r = rankOf(src);
  if (r < 3 || rankOf(r1.getResult()) != r + 1 || rankOf(ex.getResult()) != r + 1 ||
      rankOf(v) != r)
    return std::nullopt;
  int64_t h = r - 3;
  SymbolicDim hkv = dims.dim(src, h), one = dims.dim(r1.getResult(), h + 1),
              g = dims.dim(ex.getResult(), h + 1), hq = dims.dim(v, h);
  if (!hkv.isStatic() || !one.isOne() || !g.isStatic() || g.size < 2 || !hq.isStatic() ||
      hq.size != hkv.size * g.size)
    return std::nullopt;
  for (int64_t i = 0; i < r; ++i) {
    if (!dims.dim(r1.getResult(), i <= h ? i : i + 1).same(dims.dim(src, i)))
      return std::nullopt;
    if (i != h && !dims.dim(v, i).same(dims.dim(src, i)))
      return std::nullopt;
  }
  return std::make_pair(src, g.size);
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

    // GQA: key and value repeated by the same repeat_kv become the op's
    // un-expanded K/V (the op reads head h / G); the key's transposes must
    // keep the batch and head dims in place.
    SmallVector<Operation *> repeats;
    {
      SymbolicShapes dims(names);
      auto rk = matchRepeatKv(m.key.base, dims), rv = matchRepeatKv(m.value, dims);
      int64_t r = cast<RankedTensorType>(m.value.getType()).getRank();
      bool headsKept = true;
      for (int64_t i = 0; i < static_cast<int64_t>(m.key.perm.size()) && i <= r - 3; ++i)
        headsKept &= m.key.perm[i] == i;
      if (rk && rv && rk->second == rv->second && headsKept) {
        repeats = {m.key.base.getDefiningOp(), m.value.getDefiningOp()};
        m.key.base = rk->first;
        m.value = rv->first;
      }
    }

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
    if (m.softcap)
      attention.setSoftcapAttr(rewriter.getF64FloatAttr(*m.softcap));
    if (m.causal && m.causalAlign != CausalAlign::top_left)
      attention.setCausalAlign(m.causalAlign);
    if (m.causal && m.window)
      attention.setWindowAttr(rewriter.getI64IntegerAttr(*m.window));
    rewriter.replaceOp(m.output, attention.getResult());
    // Erase the chain (identity casts after the softmax first) and whatever
    // only it used.
    SmallVector<Operation *> roots{softmax.getOperation()};
    llvm::append_range(roots, m.passthrough);
    llvm::append_range(roots, repeats);
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
