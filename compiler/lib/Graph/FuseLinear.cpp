//===- FuseLinear.cpp - matmul + bias + activation -> attn.linear ---------===//
//
//   y = attn.matmul(x [.., K], W [K, N])
//   y = attn.add(y, b)          b broadcasts only along N: [N] or [1.., N]
//   y = attn.relu(y) | attn.gelu(y)   (also after an attn.reshape of y,
//                                      which then moves after the linear)
//   y = y * attn.sigmoid(y) | y / (1 + exp(-y))       (SiLU)
//
// becomes one `attn.linear %x, %W bias(%b) {activation = ...}`. The add and
// the activation are taken only when the value before them has no other
// user, so nothing is computed twice. A bias of shape [1.., N] is reshaped
// to [N] (a constant is rewritten, anything else goes through attn.reshape).
// Matching never changes the IR; the replaced chain is erased.
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
#define GEN_PASS_DEF_FUSELINEARPASS
#include "attn/Compiler/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;

namespace {

/// The user of `v` if it has exactly one use, else null.
Operation *soleUser(Value v) {
  return v.hasOneUse() ? *v.getUsers().begin() : nullptr;
}

/// Whether `bias` broadcasts only along the last dim of `y` and leaves the
/// sum's type equal to y's.
bool isBias(Value bias, AddOp add, Value y) {
  auto bt = dyn_cast<RankedTensorType>(bias.getType());
  auto yt = cast<RankedTensorType>(y.getType());
  if (!bt || bt.getElementType() != yt.getElementType() || add.getType() != yt)
    return false;
  if (bt.getRank() < 1 || bt.getRank() > yt.getRank())
    return false;
  ArrayRef<int64_t> bs = bt.getShape();
  if (bs.back() != yt.getShape().back() || ShapedType::isDynamic(bs.back()))
    return false;
  return llvm::all_of(bs.drop_back(), [](int64_t d) { return d == 1; });
}

/// `bias` as a rank-1 [N] tensor.
Value asVector(OpBuilder &b, Location loc, Value bias) {
  auto bt = cast<RankedTensorType>(bias.getType());
  if (bt.getRank() == 1)
    return bias;
  auto vt = RankedTensorType::get({bt.getShape().back()}, bt.getElementType());
  if (std::optional<ConstantBytes> bytes = getConstantBytes(bias)) {
    int64_t eb = bytes->elementBytes;
    std::vector<char> data(bt.getNumElements() * eb);
    for (int64_t i = 0; i < bt.getNumElements(); ++i)
      std::memcpy(data.data() + i * eb, bytes->element(i).data(), eb);
    return createConstantFromBytes(b, loc, vt, data, constantBlobName(bias, ".vec", "bias"));
  }
  auto shapeT = RankedTensorType::get({1}, b.getI64Type());
  Value shape = arith::ConstantOp::create(b,
      loc, DenseElementsAttr::get(shapeT, ArrayRef<int64_t>{bt.getShape().back()}));
  return ReshapeOp::create(b, loc, vt, bias, shape, UnitAttr());
}

/// The ops computing SiLU of `y` when they are all of y's users, the op
/// giving the value last: `y * sigmoid(y)` (either operand order) or
/// `y / (1 + exp(-y))`; empty when `y` is not used that way.
SmallVector<Operation *> matchSilu(Value y) {
  SmallVector<Operation *> users(y.getUsers());
  if (users.size() != 2 || users[0] == users[1])
    return {};
  Type t = y.getType();
  auto same = [&](Operation *op) { return op->getNumResults() == 1 && op->getResult(0).getType() == t; };
  for (int i = 0; i < 2; ++i) {
    Operation *first = users[i], *second = users[1 - i];
    // y * sigmoid(y)
    if (auto s = dyn_cast<SigmoidOp>(first)) {
      auto m = dyn_cast<MulOp>(second);
      if (m && same(s) && same(m) && soleUser(s.getResult()) == m &&
          ((m.getLhs() == y && m.getRhs() == s.getResult()) ||
           (m.getRhs() == y && m.getLhs() == s.getResult())))
        return {s, m};
    }
    // y / (1 + exp(-y))
    if (auto n = dyn_cast<NegOp>(first)) {
      auto d = dyn_cast<DivOp>(second);
      if (!d || d.getLhs() != y || !same(n) || !same(d))
        continue;
      auto e = dyn_cast_or_null<ExpOp>(soleUser(n.getResult()));
      if (!e || !same(e))
        continue;
      auto a = dyn_cast_or_null<AddOp>(soleUser(e.getResult()));
      if (!a || !same(a) || d.getRhs() != a.getResult())
        continue;
      Value one = a.getLhs() == e.getResult() ? a.getRhs() : a.getLhs();
      if (one != e.getResult() && matchPattern(one, m_OneFloat()))
        return {n, e, a, d};
    }
  }
  return {};
}

struct FuseLinearStats {
  PassStatistic linear{"attn-fuse-linear", "linear", "Number of matmuls turned into attn.linear"};
  PassStatistic bias{"attn-fuse-linear", "bias", "Number of bias adds folded into attn.linear"};
  PassStatistic activation{"attn-fuse-linear", "activation", "Number of activations folded into attn.linear"};
};

struct FuseMatmulChain : OpRewritePattern<MatmulOp> {
  FuseMatmulChain(MLIRContext *ctx, FuseLinearStats &stats)
      : OpRewritePattern(ctx), stats(stats) {}

  LogicalResult matchAndRewrite(MatmulOp mm, PatternRewriter &rw) const override {
    auto lt = cast<RankedTensorType>(mm.getLhs().getType());
    auto rt = cast<RankedTensorType>(mm.getRhs().getType());
    if (lt.getRank() < 2 || rt.getRank() != 2 || !isa<FloatType>(lt.getElementType()))
      return failure();
    // The chain mm -> [add] -> [activation]; every link but the last has
    // exactly one user, the next link.
    SmallVector<Operation *> chain{mm};
    Value y = mm.getResult();
    Value bias;
    if (auto add = dyn_cast_or_null<AddOp>(soleUser(y))) {
      Value other = add.getLhs() == y ? add.getRhs() : add.getLhs();
      if (other != y && isBias(other, add, y)) {
        bias = other;
        y = add.getResult();
        chain.push_back(add);
      }
    }
    // The activation, also across a reshape (GPT-2's Conv1D flattens the
    // rows for its Gemm and reshapes them back before the GELU): an
    // elementwise op commutes with it, the reshape moves after the linear.
    auto activationOf = [](Operation *op) {
      if (isa_and_nonnull<ReluOp>(op))
        return Activation::relu;
      if (auto g = dyn_cast_or_null<GeluOp>(op))
        return g.getTanhApproximation() ? Activation::gelu_tanh : Activation::gelu;
      return Activation::none;
    };
    Activation act = activationOf(soleUser(y));
    SmallVector<Operation *> silu;
    if (act == Activation::none && !(silu = matchSilu(y)).empty())
      act = Activation::silu;
    ReshapeOp reshape;
    if (act == Activation::none)
      if ((reshape = dyn_cast_or_null<ReshapeOp>(soleUser(y))))
        act = activationOf(soleUser(reshape.getResult()));
    if (act == Activation::none)
      reshape = {};
    if (!silu.empty()) {
      chain.append(silu);
      y = silu.back()->getResult(0);
    } else if (act != Activation::none) {
      if (reshape)
        chain.push_back(reshape);
      Operation *user = soleUser(chain.back()->getResult(0));
      y = user->getResult(0);
      chain.push_back(user);
    }
    Operation *last = chain.back();
    rw.setInsertionPoint(last);
    Value b = bias ? asVector(rw, mm.getLoc(), bias) : Value();
    SmallVector<Location> locs;
    for (Operation *op : chain)
      locs.push_back(op->getLoc());
    Type linearType = reshape ? reshape.getInput().getType() : y.getType();
    auto linear = LinearOp::create(rw, rw.getFusedLoc(locs), TypeRange{linearType}, mm.getLhs(),
                                      mm.getRhs(), b, ActivationAttr::get(rw.getContext(), act));
    Value result = linear.getResult(0);
    if (reshape)
      result = ReshapeOp::create(rw, reshape.getLoc(), y.getType(), result, reshape.getShape(),
                                    reshape.getAllowzeroAttr());
    SmallVector<Operation *> constants = operandConstants(chain);
    rw.replaceOp(last, result);
    chain.pop_back();
    for (Operation *op : llvm::reverse(chain))
      rw.eraseOp(op);
    eraseDeadConstants(rw, constants);
    ++stats.linear;
    if (bias)
      ++stats.bias;
    if (act != Activation::none)
      ++stats.activation;
    return success();
  }

  FuseLinearStats &stats;
};

struct FuseLinearPass : attn::impl::FuseLinearPassBase<FuseLinearPass> {
  FuseLinearStats stats;
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<FuseMatmulChain>(&getContext(), stats);
    // One sweep in program order (the pattern only erases ops of its own
    // chain, after the matmul).
    (void)applyPatternsGreedily(getOperation(), std::move(patterns), oneSweepConfig());
  }
};

} // namespace
