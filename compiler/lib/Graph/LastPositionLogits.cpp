//===- LastPositionLogits.cpp - attnc --logits=last ------------------------===//
//
// A decoder's prefill computes logits [B, S, V] for every prompt position,
// but generation only reads the last one (prompts are left-padded, so the
// last column is always a real token). With --logits=last the hidden state
// is cut to its last position before the layers that make the logits, so
// the lm_head (hidden -> vocab, a third or more of a prefill) runs on B rows
// instead of B*S and the output `logits` is [B, 1, V]:
//
//   %h  = ...                                 [B, S, H]
//   %h1 = attn.slice %h[-1 : INT64_MAX, axes 1, steps 1]   [B, 1, H]
//   ... the chain up to `logits`, cloned on %h1 ...        [B, 1, V]
//
// (the types say `?` for dim 1, 1 at run time: see lastPositionType)
//
// Where to cut: walking up from `logits`, the chain may only contain ops
// known to be row-wise over the [batch, seq] dims (each output row depends
// on the same input row alone): attn.linear (one result) and attn.matmul
// with a rank-2 weight, attn.rms_norm / attn.layer_norm over the last axis,
// unary elementwise ops, and binary elementwise ops whose other operand has
// rank <= 1 (broadcast along the feature dim only, e.g. a logit soft-cap).
// The walk stops at the first other op (the cut goes before the op of the
// chain that reads it) or at a row-wise op with several row inputs (a norm
// with its residual: both are cut). So Llama-style models are cut before the
// final RMSNorm, GPT-2 (whose exported reshape between ln_f and lm_head is
// not known to be row-wise) right before the lm_head. A `logits` not made by
// such an op, or not [batch, seq, vocab], is refused.
//
// The module's attn.signature gets shape[1] = 1 for `logits` and the key
// "logits": "last". Runs after fusion (the graph the fusion passes see is
// the export's) and after attn-kv-cache (which resolves a merged decoder's
// If on use_cache_branch; otherwise the two are independent).
//
//===----------------------------------------------------------------------===//
#include "attn/Compiler/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/IRMapping.h"
#include "llvm/ADT/SetVector.h"
#include "llvm/Support/JSON.h"

#include <limits>

namespace mlir::attn {
#define GEN_PASS_DEF_LASTPOSITIONLOGITSPASS
#include "attn/Compiler/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;

namespace {

constexpr llvm::StringLiteral kLogitsName = "logits";

/// A rank-3 ranked tensor ([batch, seq, features]).
bool isRows(Value v) {
  auto t = dyn_cast<RankedTensorType>(v.getType());
  return t && t.getRank() == 3;
}

bool hasRank(Value v, int64_t rank) {
  auto t = dyn_cast<RankedTensorType>(v.getType());
  return t && t.getRank() == rank;
}

bool hasRankAtMost(Value v, int64_t rank) {
  auto t = dyn_cast<RankedTensorType>(v.getType());
  return t && t.getRank() <= rank;
}

/// When `op` is row-wise over dims [0, 2) of its rank-3 result, the indices
/// of its operands that carry the rows (the rest are weights); nullopt when
/// it is not (or not known to be).
std::optional<SmallVector<unsigned>> rowOperands(Operation *op) {
  if (!op || op->getNumResults() == 0 || !llvm::all_of(op->getResults(), isRows))
    return std::nullopt;
  if (auto l = dyn_cast<LinearOp>(op)) {
    if (l->getNumResults() != 1 || !isRows(l.getInput()) || !hasRank(l.getWeight(), 2) ||
        (l.getBias() && !hasRankAtMost(l.getBias(), 1)))
      return std::nullopt;
    return SmallVector<unsigned>{0};
  }
  if (auto m = dyn_cast<MatmulOp>(op)) {
    if (!isRows(m->getOperand(0)) || !hasRank(m->getOperand(1), 2))
      return std::nullopt;
    return SmallVector<unsigned>{0};
  }
  auto normRows = [&](int64_t axis, Value input, Value residual, ValueRange weights)
      -> std::optional<SmallVector<unsigned>> {
    if (axis != 2 || !isRows(input) || (residual && !isRows(residual)) ||
        !llvm::all_of(weights, [](Value w) { return !w || hasRankAtMost(w, 1); }))
      return std::nullopt;
    SmallVector<unsigned> rows;
    for (OpOperand &o : op->getOpOperands())
      if (o.get() == input || (residual && o.get() == residual))
        rows.push_back(o.getOperandNumber());
    return rows;
  };
  if (auto n = dyn_cast<RmsNormOp>(op))
    return normRows(n.getAxis(), n.getInput(), n.getResidual(), {n.getScale()});
  if (auto n = dyn_cast<LayerNormOp>(op))
    return normRows(n.getAxis(), n.getInput(), n.getResidual(), {n.getScale(), n.getBias()});
  // Elementwise, same shape in and out.
  if (isa<NegOp, AbsOp, ExpOp, LogOp, SqrtOp, ReciprocalOp, TanhOp, CosOp, SinOp, ErfOp,
          SigmoidOp, ReluOp, FloorOp, CeilOp, GeluOp>(op)) {
    if (op->getNumOperands() != 1 || !isRows(op->getOperand(0)))
      return std::nullopt;
    return SmallVector<unsigned>{0};
  }
  if (isa<AddOp, SubOp, MulOp, DivOp, PowOp, MaxOp, MinOp>(op)) {
    Value lhs = op->getOperand(0), rhs = op->getOperand(1);
    auto resultType = cast<RankedTensorType>(op->getResult(0).getType());
    auto sameRows = [&](Value v) {
      auto t = cast<RankedTensorType>(v.getType());
      return t.getShape() == resultType.getShape() ||
             (t.getDimSize(2) == resultType.getDimSize(2) && !t.isDynamicDim(2));
    };
    if (isRows(lhs) && hasRankAtMost(rhs, 1) && sameRows(lhs))
      return SmallVector<unsigned>{0};
    if (isRows(rhs) && hasRankAtMost(lhs, 1) && sameRows(rhs))
      return SmallVector<unsigned>{1};
    return std::nullopt;
  }
  return std::nullopt;
}

/// `t` with dim 1 dynamic: at run time it is 1 (the signature says so), but
/// the types keep it `?`, as every sequence dim of a decoder step is (the
/// CPU row kernels are written for dynamic row counts: a static 1 next to a
/// dynamic batch dim failed in the RMSNorm kernel's allocation).
RankedTensorType lastPositionType(RankedTensorType t) {
  SmallVector<int64_t> shape(t.getShape());
  shape[1] = ShapedType::kDynamic;
  return t.clone(shape);
}

struct LastPositionLogitsPass
    : attn::impl::LastPositionLogitsPassBase<LastPositionLogitsPass> {
  using Base::Base;

  InFlightDiagnostic error(Location loc, const Twine &msg) {
    return emitError(loc) << "--logits=last: " << msg;
  }

  void runOnOperation() override {
    if (failed(run()))
      signalPassFailure();
  }

  LogicalResult run() {
    ModuleOp module = getOperation();
    Location unknown = UnknownLoc::get(&getContext());
    func::FuncOp fn = module.lookupSymbol<func::FuncOp>("main_graph");
    if (!fn) {
      for (auto f : module.getOps<func::FuncOp>())
        if (f.isPublic() && !f.isExternal()) {
          if (fn)
            return error(unknown, "the module has several public functions; expected @main_graph");
          fn = f;
        }
    }
    if (!fn || fn.isExternal())
      return error(unknown, "the module has no model function");
    auto sigAttr = module->getAttrOfType<StringAttr>("attn.signature");
    if (!sigAttr)
      return error(unknown, "the module has no attn.signature (output names)");
    auto parsed = llvm::json::parse(sigAttr.getValue());
    if (!parsed || !parsed->getAsObject()) {
      if (!parsed)
        llvm::consumeError(parsed.takeError());
      return error(unknown, "attn.signature is not a JSON object");
    }
    llvm::json::Object sig = std::move(*parsed->getAsObject());
    llvm::json::Array *outs = sig.getArray("outputs");
    if (!outs || outs->size() != fn.getNumResults())
      return error(unknown, "attn.signature does not match the model function's outputs");
    std::optional<unsigned> index;
    std::string names;
    for (auto [i, v] : llvm::enumerate(*outs)) {
      std::string name;
      if (auto *o = v.getAsObject())
        if (auto n = o->getString("name"))
          name = n->str();
      names += (names.empty() ? "" : ", ") + name;
      if (name == kLogitsName)
        index = i;
    }
    if (sig.getString("logits"))
      return error(unknown, "the model already computes the last position's logits only");
    if (!index)
      return error(unknown, "the model has no output 'logits' (its outputs: " + names +
                                "); only a decoder language model's logits can be cut");

    auto ret = cast<func::ReturnOp>(fn.getBody().back().getTerminator());
    Value logits = ret.getOperand(*index);
    Location loc = logits.getLoc();
    if (!isRows(logits))
      return error(loc, "output 'logits' is not a rank-3 tensor [batch, seq, vocab]");

    // Walk up the row-wise chain that makes the logits.
    SmallVector<Operation *> chain; // the op making `logits` first
    llvm::SetVector<Value> cut;
    for (Value cur = logits;;) {
      Operation *op = cur.getDefiningOp();
      std::optional<SmallVector<unsigned>> rows = rowOperands(op);
      if (!rows || rows->empty()) {
        if (chain.empty())
          return error(loc, "output 'logits' is not made by a linear layer (or matmul) over "
                            "[batch, seq, hidden] rows; cannot compute it for the last "
                            "position only");
        // `cur` comes from an op not known to be row-wise: cut it.
        cut.insert(cur);
        break;
      }
      chain.push_back(op);
      if (rows->size() != 1) {
        for (unsigned i : *rows)
          cut.insert(op->getOperand(i));
        break;
      }
      cur = op->getOperand(rows->front());
    }

    // Slice each cut value to its last position, clone the chain on it.
    OpBuilder b(ret);
    IRMapping map;
    auto i64Vector = [&](int64_t v) -> Value {
      auto type = RankedTensorType::get({1}, b.getI64Type());
      return arith::ConstantOp::create(b, loc, DenseElementsAttr::get(type, b.getI64IntegerAttr(v).getValue()));
    };
    Value starts = i64Vector(-1), ends = i64Vector(std::numeric_limits<int64_t>::max()),
          axes = i64Vector(1), steps = i64Vector(1);
    for (Value v : cut) {
      auto type = lastPositionType(cast<RankedTensorType>(v.getType()));
      Value s = SliceOp::create(b, v.getLoc(), type, v, starts, ends, axes, steps);
      map.map(v, s);
    }
    for (Operation *op : llvm::reverse(chain)) {
      Operation *clone = b.clone(*op, map);
      for (OpResult r : clone->getResults())
        r.setType(lastPositionType(cast<RankedTensorType>(r.getType())));
    }
    ret.setOperand(*index, map.lookup(logits));
    fn.setType(FunctionType::get(&getContext(), fn.getArgumentTypes(), ret.getOperandTypes()));
    for (Operation *op : chain)
      if (op->use_empty())
        op->erase();

    // The signature: logits [.., 1, ..].
    if (auto *o = (*outs)[*index].getAsObject())
      if (auto *shape = o->getArray("shape"); shape && shape->size() == 3)
        (*shape)[1] = 1;
    sig["logits"] = "last";
    std::string text;
    llvm::raw_string_ostream os(text);
    os << llvm::json::Value(std::move(sig));
    module->setAttr("attn.signature", StringAttr::get(&getContext(), text));
    return success();
  }
};

} // namespace
