//===- GraphUtils.h - helpers shared by the graph passes ----*- C++ -*-===//
#ifndef ATTN_COMPILER_GRAPHUTILS_H
#define ATTN_COMPILER_GRAPHUTILS_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/PatternMatch.h"
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
/// A constant listed twice is erased once.
inline void eraseDeadConstants(RewriterBase &rw, ArrayRef<Operation *> constants) {
  llvm::SmallPtrSet<Operation *, 8> erased;
  for (Operation *c : constants)
    if (!erased.contains(c) && c->use_empty()) {
      erased.insert(c);
      rw.eraseOp(c);
    }
}

} // namespace mlir::attn

#endif
