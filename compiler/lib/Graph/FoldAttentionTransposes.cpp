//===- FoldAttentionTransposes.cpp - head split/merge into the layout -----===//
//
// Exporters split heads with Reshape [B, S, H*D] -> [B, S, H, D] and
// Transpose(0, 2, 1, 3), and merge them back with the inverse transpose
// before the output projection. The reshapes are free (views); the
// transposes are copies of Q, K, V and the result. This pass absorbs
//
//   attn.attention(attn.transpose(x, p), ...)   -> query_perm / key_perm / value_perm
//   attn.transpose(attn.attention(...), p)      -> result_perm
//
// composing with perms already present, when the head dim stays the
// stored innermost dim. A transpose feeding the result is folded only when
// it is the result's one use. Transposes left without users are erased.
//
//===----------------------------------------------------------------------===//
#include "attn/Compiler/Passes.h"
#include "attn/Compiler/Statistics.h"
#include "Graph/GraphUtils.h"

#include "mlir/IR/PatternMatch.h"
#include "llvm/ADT/DenseSet.h"

namespace mlir::attn {
#define GEN_PASS_DEF_FOLDATTENTIONTRANSPOSESPASS
#include "attn/Compiler/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;

namespace {

SmallVector<int64_t> orIdentity(std::optional<ArrayRef<int64_t>> perm, int64_t rank) {
  if (perm)
    return SmallVector<int64_t>(perm->begin(), perm->end());
  return llvm::to_vector(llvm::seq<int64_t>(0, rank));
}

/// The attribute for `perm`, or null when it is the identity.
DenseI64ArrayAttr permAttr(MLIRContext *ctx, ArrayRef<int64_t> perm) {
  if (llvm::equal(perm, llvm::seq<int64_t>(0, perm.size())))
    return {};
  return DenseI64ArrayAttr::get(ctx, perm);
}

/// Folds one transpose into each operand and one into the result. Each
/// attention op is rewritten once: the driver revisits an op it modified,
/// and a second rewrite would also fold a transpose of a transpose.
struct FoldTransposes : OpRewritePattern<AttentionOp> {
  FoldTransposes(MLIRContext *ctx, PassStatistic &folded,
                 llvm::DenseSet<Operation *> &visited)
      : OpRewritePattern(ctx), folded(folded), visited(visited) {}

  LogicalResult matchAndRewrite(AttentionOp op, PatternRewriter &rw) const override {
    if (!visited.insert(op).second)
      return failure();
    MLIRContext *ctx = rw.getContext();
    int64_t r = op.getQuery().getType().getRank();
    SmallVector<Operation *> maybeDead;
    // Operands: logical = transpose(operand, xp) = transpose(y, p ∘ xp).
    auto foldOperand = [&](OpOperand &operand, std::optional<ArrayRef<int64_t>> cur,
                           function_ref<void(DenseI64ArrayAttr)> setPerm) {
      auto tr = operand.get().getDefiningOp<TransposeOp>();
      if (!tr)
        return;
      SmallVector<int64_t> xp = orIdentity(cur, r), np;
      for (int64_t i = 0; i < r; ++i)
        np.push_back(tr.getPerm()[xp[i]]);
      if (np.back() != r - 1)
        return;
      rw.modifyOpInPlace(op, [&] {
        operand.set(tr.getInput());
        setPerm(permAttr(ctx, np));
      });
      maybeDead.push_back(tr);
      ++folded;
    };
    foldOperand(op.getQueryMutable(), op.getQueryPerm(),
                [&](DenseI64ArrayAttr a) { op.setQueryPermAttr(a); });
    foldOperand(op.getKeyMutable(), op.getKeyPerm(),
                [&](DenseI64ArrayAttr a) { op.setKeyPermAttr(a); });
    foldOperand(op.getValueMutable(), op.getValuePerm(),
                [&](DenseI64ArrayAttr a) { op.setValuePermAttr(a); });
    // A transpose may feed several operands (Q and K of one input) or other
    // attention ops: erased once it has no users left.
    llvm::SmallPtrSet<Operation *, 4> erased;
    eraseDeadOps(rw, maybeDead, erased);
    bool changed = !maybeDead.empty();

    // Result: transpose(transpose(L, rp), p) = transpose(L, rp ∘ p).
    Value res = op.getResult();
    if (!res.hasOneUse())
      return success(changed);
    auto tr = dyn_cast<TransposeOp>(*res.getUsers().begin());
    if (!tr)
      return success(changed);
    SmallVector<int64_t> rp = orIdentity(op.getResultPerm(), r), np;
    for (int64_t i = 0; i < r; ++i)
      np.push_back(rp[tr.getPerm()[i]]);
    if (np.back() != r - 1)
      return success(changed);
    rw.modifyOpInPlace(op, [&] {
      op.setResultPermAttr(permAttr(ctx, np));
      res.setType(tr.getType());
    });
    rw.replaceOp(tr, res);
    ++folded;
    return success();
  }

  PassStatistic &folded;
  llvm::DenseSet<Operation *> &visited;
};

struct FoldAttentionTransposesPass
    : attn::impl::FoldAttentionTransposesPassBase<FoldAttentionTransposesPass> {
  PassStatistic numFolded{"attn-fold-attention-transposes", "folded", "Number of transposes folded into attn.attention"};
  void runOnOperation() override {
    // Attention ops are never erased here, so a pointer is never reused.
    llvm::DenseSet<Operation *> visited;
    RewritePatternSet patterns(&getContext());
    patterns.add<FoldTransposes>(&getContext(), numFolded, visited);
    (void)applyPatternsGreedily(getOperation(), std::move(patterns), oneSweepConfig());
  }
};

} // namespace
