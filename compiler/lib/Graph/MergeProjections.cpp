//===- MergeProjections.cpp - one attn.linear per shared input ------------===//
//
// Q/K/V (and gate/up) projections read one input through separate Linear
// layers. Those with constant weights [K, N_i], the same activation and the
// same kind of bias (all constant, or none) merge into one attn.linear with
// weight [K, sum N_i] and bias [sum N_i] concatenated at compile time, whose
// results are the original outputs in order. The merged op stands where the
// first of them stood (its operands are the shared input and new constants,
// which dominate every original), so every original result's users still
// come after it.
//
//===----------------------------------------------------------------------===//
#include "attn/Compiler/Passes.h"
#include "attn/Compiler/Statistics.h"
#include "attn/Dialect/ConstantData.h"
#include "Graph/GraphUtils.h"

#include "mlir/IR/PatternMatch.h"

#include <cstring>

namespace mlir::attn {
#define GEN_PASS_DEF_MERGEPROJECTIONSPASS
#include "attn/Compiler/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;

namespace {

/// What must agree between linears that merge.
struct MergeKey {
  Value input;
  Block *block;
  Activation activation;
  bool hasBias;
  Type elementType;
  int64_t k;
  bool operator==(const MergeKey &o) const {
    return input == o.input && block == o.block && activation == o.activation &&
           hasBias == o.hasBias && elementType == o.elementType && k == o.k;
  }
};

std::optional<MergeKey> mergeKey(LinearOp op) {
  auto w = op.getWeight().getType();
  if (!w.hasStaticShape() || !getConstantBytes(op.getWeight()))
    return std::nullopt;
  if (op.getBias() && !getConstantBytes(op.getBias()))
    return std::nullopt;
  // Every result's width must be static to split the merged N.
  for (Type t : op.getResultTypes())
    if (cast<RankedTensorType>(t).isDynamicDim(cast<RankedTensorType>(t).getRank() - 1))
      return std::nullopt;
  return MergeKey{op.getInput(), op->getBlock(), op.getActivation(),
                  static_cast<bool>(op.getBias()), w.getElementType(), w.getDimSize(0)};
}

/// Concatenates the weights [K, N_i] along N into `out` [K, N].
void concatWeights(ArrayRef<LinearOp> ops, int64_t k, int64_t n, int64_t eb,
                   MutableArrayRef<char> out) {
  int64_t col = 0;
  for (LinearOp op : ops) {
    ConstantBytes w = *getConstantBytes(op.getWeight());
    int64_t ni = op.getWeight().getType().getDimSize(1);
    for (int64_t r = 0; r < k; ++r)
      for (int64_t c = 0; c < ni; ++c)
        std::memcpy(out.data() + (r * n + col + c) * eb, w.element(r * ni + c).data(), eb);
    col += ni;
  }
}

std::vector<char> concatBiases(ArrayRef<LinearOp> ops, int64_t n, int64_t eb) {
  std::vector<char> out(n * eb);
  int64_t col = 0;
  for (LinearOp op : ops) {
    ConstantBytes b = *getConstantBytes(op.getBias());
    int64_t ni = op.getWeight().getType().getDimSize(1);
    for (int64_t c = 0; c < ni; ++c)
      std::memcpy(out.data() + (col + c) * eb, b.element(c).data(), eb);
    col += ni;
  }
  return out;
}

/// Rooted at the first (in program order) of the linears that merge: the
/// others are the users of its input with the same key.
struct MergeLinears : OpRewritePattern<LinearOp> {
  MergeLinears(MLIRContext *ctx, PassStatistic &merged, BlobReleaser &releaser)
      : OpRewritePattern(ctx), merged(merged), releaser(releaser) {}

  LogicalResult matchAndRewrite(LinearOp first, PatternRewriter &rw) const override {
    std::optional<MergeKey> key = mergeKey(first);
    if (!key)
      return failure();
    SmallVector<LinearOp> ops;
    for (Operation *user : key->input.getUsers()) {
      auto op = dyn_cast<LinearOp>(user);
      if (op && !llvm::is_contained(ops, op) && op->getBlock() == key->block &&
          mergeKey(op) == key)
        ops.push_back(op);
    }
    if (ops.size() < 2)
      return failure();
    // Program order within the block: the merged op goes before the first.
    llvm::sort(ops, [](LinearOp a, LinearOp b) { return a->isBeforeInBlock(b); });
    if (ops.front() != first)
      return failure();
    int64_t n = 0;
    SmallVector<int64_t> splits;
    SmallVector<Location> locs;
    for (LinearOp op : ops) {
      n += op.getWeight().getType().getDimSize(1);
      for (Type t : op.getResultTypes())
        splits.push_back(cast<RankedTensorType>(t).getShape().back());
      locs.push_back(op.getLoc());
    }
    int64_t eb = key->elementType.getIntOrFloatBitWidth() / 8;
    rw.setInsertionPoint(first);
    Location loc = rw.getFusedLoc(locs);
    Value w = createConstantFilled(
        rw, loc, RankedTensorType::get({key->k, n}, key->elementType),
        constantBlobName(first.getWeight(), ".merged"),
        [&](MutableArrayRef<char> out) { concatWeights(ops, key->k, n, eb, out); });
    Value b;
    if (key->hasBias)
      b = createConstantFromBytes(rw, loc, RankedTensorType::get({n}, key->elementType),
                                  concatBiases(ops, n, eb),
                                  constantBlobName(first.getBias(), ".merged", "bias"));
    auto merged = LinearOp::create(rw, loc, key->input, w, b, key->activation, splits);
    // Keep the original result types (they may know more static dims).
    unsigned r = 0;
    for (LinearOp op : ops) {
      for (Value res : op.getResults()) {
        merged.getResult(r).setType(res.getType());
        ++r;
      }
    }
    SmallVector<Operation *> originals(ops.begin(), ops.end());
    SmallVector<Operation *> constants = operandConstants(originals);
    r = 0;
    for (LinearOp op : ops) {
      SmallVector<Value> repl(merged.getResults().slice(r, op.getNumResults()));
      r += op.getNumResults();
      rw.replaceOp(op, repl);
    }
    eraseDeadConstants(rw, constants, &releaser);
    this->merged += ops.size() - 1;
    return success();
  }

  PassStatistic &merged;
  BlobReleaser &releaser;
};

struct MergeProjectionsPass
    : attn::impl::MergeProjectionsPassBase<MergeProjectionsPass> {
  using Base::Base;
  PassStatistic numMerged{"attn-merge-projections", "merged", "Number of attn.linear ops merged into others"};
  PassStatistic numReleased{"attn-merge-projections", "released-weights",
                            "Original weight blobs freed once concatenated (release-weights)"};
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    // The originals' blobs are freed as each merged copy stands.
    BlobReleaser releaser(getOperation(), releaseWeights);
    patterns.add<MergeLinears>(&getContext(), numMerged, releaser);
    // One sweep in program order: each group merges when its first linear
    // is visited (the merged op is new, so never visited).
    (void)applyPatternsGreedily(getOperation(), std::move(patterns), oneSweepConfig());
    numReleased += releaser.releasedBlobs();
  }
};

} // namespace
