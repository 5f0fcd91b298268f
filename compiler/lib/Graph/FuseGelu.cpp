//===- FuseGelu.cpp - recognize decomposed GELU as attn.gelu --------------===//
//
// Below opset 20 exporters spell GELU out:
//
//   erf form   x * 0.5 * (1 + erf(x / sqrt(2)))                 (nn.GELU, BERT)
//   tanh form  0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 * x^3)))  (GPT-2)
//
// with the products grouped in any order and each scalar factor a Mul or
// Div by a constant. A product is flattened into its factors (through
// attn.mul, and attn.div by a constant), the constant factors are multiplied
// together, and the rest must be exactly `x` and `1 + erf(..)` (or
// `1 + tanh(..)`) whose argument is again a product of `x` (and for tanh of
// `x + c * x^3`) with the right constant. Matching never changes the IR;
// a match replaces the outermost product with one attn.gelu and erases the
// ops that became dead.
//
//===----------------------------------------------------------------------===//
#include "attn/Compiler/Passes.h"
#include "attn/Compiler/Statistics.h"
#include "attn/Dialect/ConstantData.h"
#include "Graph/GraphUtils.h"

#include "mlir/IR/PatternMatch.h"

#include <cmath>

namespace mlir::attn {
#define GEN_PASS_DEF_FUSEGELUPASS
#include "attn/Compiler/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;

namespace {

bool near(double a, double b, double rel) { return std::fabs(a - b) <= rel * std::fabs(b); }

/// A product: the constant factor and the non-constant factors.
struct Product {
  double scale = 1.0;
  SmallVector<Value> factors;
};

/// Flattens `v` into its factors. Interior products must have one use
/// (except the root), so that no shared subexpression is absorbed.
void flatten(Value v, bool root, Product &p, SmallVectorImpl<Operation *> &ops) {
  if (auto c = getSplatValue(v)) {
    p.scale *= *c;
    return;
  }
  Operation *def = v.getDefiningOp();
  if (def && (root || v.hasOneUse())) {
    if (auto mul = dyn_cast<MulOp>(def)) {
      ops.push_back(def);
      flatten(mul.getLhs(), false, p, ops);
      flatten(mul.getRhs(), false, p, ops);
      return;
    }
    if (auto div = dyn_cast<DivOp>(def)) {
      if (auto c = getSplatValue(div.getRhs()); c && *c != 0.0) {
        ops.push_back(def);
        flatten(div.getLhs(), false, p, ops);
        p.scale /= *c;
        return;
      }
    }
  }
  p.factors.push_back(v);
}

/// `1 + f(arg)` (either operand order) with f = OpTy: returns arg.
template <typename OpTy>
Value matchOnePlus(Value v, SmallVectorImpl<Operation *> &ops) {
  auto add = v.getDefiningOp<AddOp>();
  if (!add)
    return {};
  for (auto [one, other] : {std::pair{add.getLhs(), add.getRhs()},
                            std::pair{add.getRhs(), add.getLhs()}}) {
    auto c = getSplatValue(one);
    auto f = other.template getDefiningOp<OpTy>();
    if (c && *c == 1.0 && f) {
      ops.push_back(add);
      ops.push_back(f);
      return f.getInput();
    }
  }
  return {};
}

/// Whether `v` is `scale * x` for the given constant.
bool isScaledX(Value v, Value x, double scale, SmallVectorImpl<Operation *> &ops) {
  Product p;
  flatten(v, true, p, ops);
  return p.factors.size() == 1 && p.factors[0] == x && near(p.scale, scale, 1e-5);
}

/// Whether `v` is x^3: pow(x, 3) or a product x * x * x.
bool isCube(Value v, Value x, double &scale, SmallVectorImpl<Operation *> &ops) {
  Product p;
  flatten(v, true, p, ops);
  scale = p.scale;
  if (p.factors.size() == 3 && llvm::all_of(p.factors, [&](Value f) { return f == x; }))
    return true;
  if (p.factors.size() != 1)
    return false;
  auto pow = p.factors[0].getDefiningOp<PowOp>();
  auto e = pow ? getSplatValue(pow.getRhs()) : std::nullopt;
  if (!pow || pow.getLhs() != x || !e || *e != 3.0)
    return false;
  ops.push_back(pow);
  return true;
}

/// `x + 0.044715 * x^3` (either operand order).
bool isTanhInner(Value v, Value x, SmallVectorImpl<Operation *> &ops) {
  auto add = v.getDefiningOp<AddOp>();
  if (!add)
    return false;
  for (auto [a, c] : {std::pair{add.getLhs(), add.getRhs()},
                      std::pair{add.getRhs(), add.getLhs()}}) {
    double scale;
    SmallVector<Operation *> sub;
    if (a == x && isCube(c, x, scale, sub) && near(scale, 0.044715, 1e-4)) {
      ops.push_back(add);
      ops.append(sub.begin(), sub.end());
      return true;
    }
  }
  return false;
}

struct GeluMatch {
  Value x;
  bool tanh = false;
  SmallVector<Operation *> ops; // every op of the expression (root first)
};

std::optional<GeluMatch> matchGelu(MulOp root) {
  GeluMatch m;
  Product p;
  flatten(root.getResult(), true, p, m.ops);
  if (p.factors.size() != 2 || !near(p.scale, 0.5, 1e-6))
    return std::nullopt;
  for (int xi = 0; xi < 2; ++xi) {
    Value x = p.factors[xi], other = p.factors[1 - xi];
    if (x.getType() != root.getType())
      continue;
    SmallVector<Operation *> ops;
    if (Value arg = matchOnePlus<ErfOp>(other, ops); arg && isScaledX(arg, x, M_SQRT1_2, ops)) {
      m.x = x;
    } else if (ops.clear(); Value arg = matchOnePlus<TanhOp>(other, ops)) {
      Product inner;
      flatten(arg, true, inner, ops);
      if (inner.factors.size() == 1 && near(inner.scale, std::sqrt(2.0 / M_PI), 1e-5) &&
          isTanhInner(inner.factors[0], x, ops)) {
        m.x = x;
        m.tanh = true;
      }
    }
    if (m.x) {
      m.ops.append(ops.begin(), ops.end());
      return m;
    }
  }
  return std::nullopt;
}

struct FuseGeluPattern : OpRewritePattern<MulOp> {
  FuseGeluPattern(MLIRContext *ctx, PassStatistic &count)
      : OpRewritePattern(ctx), count(count) {}

  LogicalResult matchAndRewrite(MulOp root, PatternRewriter &rw) const override {
    std::optional<GeluMatch> m = matchGelu(root);
    if (!m)
      return failure();
    // The constants only the expression uses, collected while every
    // matched op (the root included) is still alive.
    SmallVector<Operation *> constants = operandConstants(m->ops);
    rw.setInsertionPoint(root);
    auto gelu = GeluOp::create(rw, root.getLoc(), root.getType(), m->x,
                               m->tanh ? rw.getUnitAttr() : UnitAttr());
    rw.replaceOp(root, gelu.getResult());
    // Erase what became dead (users before producers), and the constants
    // only the expression used. The root is gone: `erased` holds it, so it
    // is only compared, never dereferenced.
    llvm::SmallPtrSet<Operation *, 16> erased{root.getOperation()};
    eraseDeadOps(rw, m->ops, erased);
    eraseDeadConstants(rw, constants);
    ++count;
    return success();
  }

  PassStatistic &count;
};

struct FuseGeluPass : attn::impl::FuseGeluPassBase<FuseGeluPass> {
  PassStatistic numGelu{"attn-fuse-gelu", "gelu", "Number of decomposed GELUs recognized"};
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<FuseGeluPattern>(&getContext(), numGelu);
    // Outermost products first: one sweep in reverse program order (users
    // before operands); an inner product absorbed by an earlier match is
    // erased, so never visited.
    (void)applyPatternsGreedily(getOperation(), std::move(patterns),
                                oneSweepConfig(/*topDown=*/false));
  }
};

} // namespace
