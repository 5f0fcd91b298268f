//===- GraphUtils.h - helpers shared by the graph passes ----*- C++ -*-===//
#ifndef ATTN_COMPILER_GRAPHUTILS_H
#define ATTN_COMPILER_GRAPHUTILS_H

#include "attn/Dialect/ConstantData.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"
#include "llvm/ADT/SmallPtrSet.h"

namespace mlir::attn {

/// The arith.constant ops defining operands of `ops`, to be erased with
/// eraseDeadConstants once `ops` are gone.
inline SmallVector<Operation *> operandConstants(ArrayRef<Operation *> ops) {
  SmallVector<Operation *> constants;
  for (Operation *op : ops)
    for (Value v : op->getOperands())
      if (auto c = v.getDefiningOp<arith::ConstantOp>(); c && !llvm::is_contained(constants, c))
        constants.push_back(c);
  return constants;
}

/// Erases the constants among `constants` that have no users left (a graph
/// pass removes what only the ops it replaced used, and nothing else).
/// A constant listed twice is erased once. With a releaser, their weight
/// blobs are freed now where that is safe (BlobReleaser).
inline void eraseDeadConstants(RewriterBase &rw, ArrayRef<Operation *> constants,
                               BlobReleaser *releaser = nullptr) {
  llvm::SmallPtrSet<Operation *, 8> erased;
  for (Operation *c : constants)
    if (!erased.contains(c) && c->use_empty()) {
      erased.insert(c);
      if (releaser)
        releaser->releaseErased(c);
      rw.eraseOp(c);
    }
}

/// The greedy driver as the fusion passes run it: one sweep over the ops that
/// exist when the pass starts, in program order (`topDown`) or in reverse
/// program order, each op matched once (plus the revisits the driver makes
/// after a rewrite touches it). Nothing else: no folding, no constant CSE, no
/// region simplification, no second sweep over the function, and ops a
/// pattern creates are not matched. (The driver also erases the trivially
/// dead ops it visits; canonicalize would erase them after the graph passes.)
/// A sweep that changed the IR reports "not converged": the passes ignore the
/// result.
inline GreedyRewriteConfig oneSweepConfig(bool topDown = true) {
  GreedyRewriteConfig config;
  config.setUseTopDownTraversal(topDown)
      .setMaxIterations(1)
      .setStrictness(GreedyRewriteStrictness::ExistingOps)
      .setRegionSimplificationLevel(GreedySimplifyRegionLevel::Disabled)
      .enableFolding(false)
      .enableConstantCSE(false);
  return config;
}

/// Erases the ops among `ops` that have no users, repeatedly (so that users
/// go before the ops they use, in any order of `ops`), each once. `skip`
/// holds ops already erased (only compared, never dereferenced).
inline void eraseDeadOps(RewriterBase &rw, ArrayRef<Operation *> ops,
                         llvm::SmallPtrSetImpl<Operation *> &skip) {
  for (bool changed = true; changed;) {
    changed = false;
    for (Operation *op : ops) {
      if (skip.contains(op) || !op->use_empty())
        continue;
      skip.insert(op);
      rw.eraseOp(op);
      changed = true;
    }
  }
}

} // namespace mlir::attn

#endif
