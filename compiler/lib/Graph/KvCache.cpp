//===- KvCache.cpp - attnc --kv-cache: the in-place KV cache ---------------===//
//
// A with-past export reads per layer past K/V [B, kvh, P, D] and returns
// present = Concat(past, new, axis 2) [B, kvh, P+T, D]. With --kv-cache=N
// (the ABI: /work/notes/tasks15/KVCACHE-ABI.md, docs) each past input becomes
// a cache buffer [B, kvh, N, D] the caller owns, and the model writes the new
// tokens' rows into it in place:
//
//   %p     = tensor.extract %past_sequence_length[]          (new last input)
//   %past  = tensor.extract_slice %cache[0,0,0,0] [B,kvh,P,D]     (old uses)
//   %new'  = tensor.extract_slice %new[0,0,0,0] [B,kvh,T,D]
//   %ins   = tensor.insert_slice %new' into %cache[0,0,P,0] [B,kvh,T,D]
//   %pres  = tensor.extract_slice %ins[0,0,0,0] [B,kvh,P+T,D]  (concat's uses)
//
// and the present outputs are dropped. one-shot-bufferize turns the insert
// into a copy of T rows into a subview of the argument's buffer (function
// arguments are writable; the other inputs are marked read-only here) and the
// slices into subviews: the attention reads K/V through a view whose row
// stride is N*D. A run-time check says "context full: {a} of {b} tokens"
// when P < 0 or P + T > N; then nothing is written and the views are clamped
// into the cache (the model fails; nothing is read or written outside it).
//
// The pass also rewrites the module's attn.signature JSON: the caches keep
// their names with shape [batch, kvh, N, D] and "kv_cache": true, the input
// "past_sequence_length" (i64, rank 0) is appended, the present outputs are
// removed and the top-level "kv_cache" object lists the pairs.
//
// An Optimum merged decoder (decoder_model_merged.onnx: a bool input
// `use_cache_branch` choosing, through an ONNX If = scf.if, between the
// with-past graph (then) and the no-past graph (else)) is compiled with
// `use_cache_branch` fixed to true: the in-place cache always holds a past
// (of P >= 0 positions, empty on the first call), which is what the with-past
// branch reads. The input is removed, every scf.if on it is replaced by its
// then branch, and the result is the plain with-past graph above. This is
// exactly the merged model at use_cache_branch = true; it equals the no-past
// branch at P = 0 only as far as the export's with-past graph handles an
// empty past (Optimum's and ours do: test/e2e/merged_decoder_kv_cache.test
// checks P = 0 against the no-past branch). An If that stays between a
// present output and its past (another condition) is refused.
//
// It runs last in the graph pipeline, after fusion (the attention then sees
// exactly the plain with-past graph) and after the last canonicalization, so
// that the run-time check marker survives until attn-lower-to-linalg folds
// it into the status result.
//
//===----------------------------------------------------------------------===//
#include "Support/LoweringUtils.h"
#include "Support/RuntimeChecks.h"
#include "attn/Compiler/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/Regex.h"
#include "mlir/IR/Matchers.h"

namespace mlir::attn {
#define GEN_PASS_DEF_KVCACHEPASS
#include "attn/Compiler/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;

namespace {

constexpr llvm::StringLiteral kPastLengthName = "past_sequence_length";
constexpr llvm::StringLiteral kUseCacheName = "use_cache_branch";

/// Replaces `op` by the ops of one of its branches (the yielded values take
/// the place of its results).
void inlineBranch(scf::IfOp op, bool thenBranch) {
  Region &region = thenBranch ? op.getThenRegion() : op.getElseRegion();
  if (region.empty()) { // no else region: the op has no results
    op->erase();
    return;
  }
  Block &block = region.front();
  auto yield = cast<scf::YieldOp>(block.getTerminator());
  SmallVector<Value> values(yield.getOperands());
  op->getBlock()->getOperations().splice(Block::iterator(op), block.getOperations(),
                                         block.begin(), Block::iterator(yield));
  op->replaceAllUsesWith(values);
  op->erase();
}

/// The present output name paired with a past input name, or "" when the
/// name is not a past K/V name of the ABI.
std::string presentNameFor(StringRef past) {
  llvm::SmallVector<StringRef> m;
  if (llvm::Regex("^past_key_values\\.([0-9]+)\\.(key|value)$").match(past, &m))
    return ("present." + m[1] + "." + m[2]).str();
  if (llvm::Regex("^past_(key|value)_([0-9]+)$").match(past, &m))
    return ("present_" + m[1] + "_" + m[2]).str();
  return "";
}

bool isPresentName(StringRef name) {
  return llvm::Regex("^present\\.[0-9]+\\.(key|value)$").match(name) ||
         llvm::Regex("^present_(key|value)_[0-9]+$").match(name);
}

/// Follows one-operand concats (identities some exports insert) upwards.
Value skipIdentityConcats(Value v) {
  while (auto c = v.getDefiningOp<ConcatOp>()) {
    if (c.getInputs().size() != 1)
      break;
    v = c.getInputs()[0];
  }
  return v;
}

struct Cache {
  unsigned arg;      // function argument index
  unsigned result;   // function result index of the present output
  std::string input, output;
  ConcatOp concat;
};

struct KvCachePass : attn::impl::KvCachePassBase<KvCachePass> {
  using Base::Base;

  InFlightDiagnostic error(const Twine &msg) {
    return emitError(UnknownLoc::get(&getContext())) << "--kv-cache=" << (int64_t)maxLen << ": " << msg;
  }

  void runOnOperation() override {
    if (failed(run()))
      signalPassFailure();
  }

  /// Optimum's merged decoder: fixes the input `use_cache_branch` to true
  /// (see the file comment), inlines the then branch of every scf.if on it
  /// and removes the input.
  template <typename NameOf>
  LogicalResult resolveMergedDecoder(func::FuncOp fn, llvm::json::Array &ins, NameOf nameOf) {
    std::optional<unsigned> idx;
    for (auto [i, v] : llvm::enumerate(ins))
      if (nameOf(v) == kUseCacheName)
        idx = i;
    if (!idx)
      return success();
    BlockArgument arg = fn.getArgument(*idx);
    auto type = dyn_cast<RankedTensorType>(arg.getType());
    if (!type || !type.getElementType().isInteger(1) || !type.hasStaticShape() ||
        type.getNumElements() != 1)
      return error("input '" + Twine(kUseCacheName) + "' (a merged decoder's branch flag) must be " +
                   "one bool");
    OpBuilder b(&getContext());
    Block &entry = fn.getBody().front();
    b.setInsertionPointToStart(&entry);
    Location loc = fn.getLoc();
    Value yes = arith::ConstantIntOp::create(b, loc, b.getI1Type(), 1);
    Value yesTensor;
    for (OpOperand &use : llvm::make_early_inc_range(arg.getUses())) {
      if (auto ex = dyn_cast<tensor::ExtractOp>(use.getOwner())) {
        ex.getResult().replaceAllUsesWith(yes);
        ex->erase();
        continue;
      }
      if (!yesTensor)
        yesTensor = arith::ConstantOp::create(b, loc, DenseElementsAttr::get(type, true));
      use.set(yesTensor);
    }
    // Every If on the (now constant) flag takes its then branch; nested
    // ones are reached after their parent is inlined.
    for (bool changed = true; changed;) {
      changed = false;
      scf::IfOp found;
      fn.walk([&](scf::IfOp op) {
        if (matchPattern(op.getCondition(), m_One())) {
          found = op;
          return WalkResult::interrupt();
        }
        return WalkResult::advance();
      });
      if (found) {
        inlineBranch(found, /*thenBranch=*/true);
        changed = true;
      }
    }
    // What only the dropped branches read.
    for (Operation *op = entry.getTerminator()->getPrevNode(); op;) {
      Operation *prev = op->getPrevNode();
      if (isOpTriviallyDead(op))
        op->erase();
      op = prev;
    }
    if (failed(fn.eraseArgument(*idx)))
      return error("cannot remove the input '" + Twine(kUseCacheName) + "'");
    ins.erase(ins.begin() + *idx);
    return success();
  }

  LogicalResult run() {
    ModuleOp module = getOperation();
    if (maxLen <= 0)
      return error("the cache length must be at least 1");
    func::FuncOp fn = module.lookupSymbol<func::FuncOp>("main_graph");
    if (!fn) {
      for (auto f : module.getOps<func::FuncOp>())
        if (f.isPublic() && !f.isExternal()) {
          if (fn)
            return error("the module has several public functions; expected @main_graph");
          fn = f;
        }
    }
    if (!fn || fn.isExternal())
      return error("the module has no model function");
    auto sigAttr = module->getAttrOfType<StringAttr>("attn.signature");
    if (!sigAttr)
      return error("the module has no attn.signature (input and output names)");
    auto parsed = llvm::json::parse(sigAttr.getValue());
    if (!parsed || !parsed->getAsObject()) {
      if (!parsed)
        llvm::consumeError(parsed.takeError());
      return error("attn.signature is not a JSON object");
    }
    llvm::json::Object sig = std::move(*parsed->getAsObject());
    llvm::json::Array *ins = sig.getArray("inputs");
    llvm::json::Array *outs = sig.getArray("outputs");
    if (!ins || !outs || ins->size() != fn.getNumArguments() ||
        outs->size() != fn.getNumResults())
      return error("attn.signature does not match the model function's inputs and outputs");
    auto nameOf = [](const llvm::json::Value &v) -> std::string {
      if (auto *o = v.getAsObject())
        if (auto n = o->getString("name"))
          return n->str();
      return "";
    };
    if (sig.getObject("kv_cache"))
      return error("the model already has an in-place KV cache");
    if (failed(resolveMergedDecoder(fn, *ins, nameOf)))
      return failure();

    // Pair the past inputs with the present outputs by name.
    llvm::StringMap<unsigned> outputIndex;
    for (auto [i, v] : llvm::enumerate(*outs))
      outputIndex[nameOf(v)] = i;
    SmallVector<Cache> caches;
    llvm::StringSet<> paired;
    for (auto [i, v] : llvm::enumerate(*ins)) {
      std::string name = nameOf(v);
      if (name == kPastLengthName)
        return error("the model already has an input named '" + name + "'");
      std::string present = presentNameFor(name);
      if (present.empty())
        continue;
      auto it = outputIndex.find(present);
      if (it == outputIndex.end())
        return error("input '" + name + "' has no present output '" + present + "'");
      caches.push_back({(unsigned)i, it->second, name, present, nullptr});
      paired.insert(present);
    }
    for (auto &v : *outs) {
      std::string name = nameOf(v);
      if (isPresentName(name) && !paired.count(name))
        return error("output '" + name + "' has no past input");
    }
    if (caches.empty())
      return error("the model has no past K/V inputs (past_key_values.{i}.key|value or "
                   "past_key_{i} / past_value_{i}); export it with its past");

    auto ret = cast<func::ReturnOp>(fn.getBody().back().getTerminator());
    // A present still chosen by an If (one this pass does not resolve).
    for (Cache &c : caches)
      if (auto r = dyn_cast<OpResult>(ret.getOperand(c.result)); r && isa<scf::IfOp>(r.getOwner()))
        return error("output '" + c.output + "' is chosen by an ONNX If at run time (a merged " +
                     "decoder whose condition is not the input '" + kUseCacheName +
                     "'); compile the with-past export instead");
    // Check the shapes and find each present's concat.
    for (Cache &c : caches) {
      BlockArgument arg = fn.getArgument(c.arg);
      auto type = dyn_cast<RankedTensorType>(arg.getType());
      if (!type || type.getRank() != 4)
        return error("input '" + c.input + "' is not a rank-4 tensor [batch, kv_heads, past, head_dim]");
      if (!type.isDynamicDim(2))
        return error("input '" + c.input + "' has a static past length (" +
                     Twine(type.getDimSize(2)) + "); export it with a dynamic past dim");
      Value present = ret.getOperand(c.result);
      auto concat = present.getDefiningOp<ConcatOp>();
      if (!concat || concat.getAxis() != 2 || concat.getInputs().size() != 2 ||
          skipIdentityConcats(concat.getInputs()[0]) != arg)
        return error("output '" + c.output + "' is not Concat(" + c.input +
                     ", new, axis=2); cannot keep it in place");
      auto newType = cast<RankedTensorType>(concat.getInputs()[1].getType());
      if (newType.getRank() != 4 || newType.getElementType() != type.getElementType())
        return error("output '" + c.output +
                     "': the new K/V is not a rank-4 tensor of the past's element type");
      for (int64_t d : {0, 1, 3})
        if (!type.isDynamicDim(d) && !newType.isDynamicDim(d) &&
            type.getDimSize(d) != newType.getDimSize(d))
          return error("output '" + c.output + "': dimension " + Twine(d) + " of the new K/V is " +
                       Twine(newType.getDimSize(d)) + " but the past's is " +
                       Twine(type.getDimSize(d)));
      if (!newType.isDynamicDim(2) && newType.getDimSize(2) > maxLen)
        return error("output '" + c.output + "' appends " + Twine(newType.getDimSize(2)) +
                     " positions, more than the cache holds");
      c.concat = concat;
    }
    for (auto [i, a] : llvm::enumerate(caches))
      for (auto &b : ArrayRef(caches).drop_front(i + 1))
        if (a.concat == b.concat)
          return error("outputs '" + a.output + "' and '" + b.output + "' are the same value");

    // Inputs whose signature names a dim like the presents' sequence dim
    // (e.g. attention_mask [batch, total] and present [batch, kvh, total,
    // D]): the signature promises that size is P + T, and without the
    // presents no other input carries it, so it is checked at run time.
    SmallVector<std::pair<unsigned, int64_t>> totalDims; // (input, dim)
    {
      std::string totalName;
      if (auto *o = (*outs)[caches.front().result].getAsObject())
        if (auto *shape = o->getArray("shape"); shape && shape->size() == 4)
          if (auto n = (*shape)[2].getAsString())
            totalName = n->str();
      if (!totalName.empty() && totalName != "?")
        for (auto [idx, v] : llvm::enumerate(*ins)) {
          unsigned i = idx;
          if (llvm::any_of(caches, [&](const Cache &c) { return c.arg == i; }))
            continue;
          if (auto *o = v.getAsObject())
            if (auto *shape = o->getArray("shape"))
              for (auto [d, dim] : llvm::enumerate(*shape))
                if (auto n = dim.getAsString(); n && *n == totalName)
                  totalDims.push_back({(unsigned)i, (int64_t)d});
        }
    }

    OpBuilder b(&getContext());
    Location loc = fn.getLoc();
    Block &entry = fn.getBody().front();

    // The new scalar input P.
    auto pType = RankedTensorType::get({}, b.getI64Type());
    if (failed(fn.insertArgument(fn.getNumArguments(), pType, b.getDictionaryAttr({}), loc)))
      return error("cannot add the input '" + Twine(kPastLengthName) + "'");
    BlockArgument pArg = fn.getArgument(fn.getNumArguments() - 1);
    b.setInsertionPointToStart(&entry);
    Value p = tensor::ExtractOp::create(b, loc, pArg, ValueRange{});
    Value n64 = arith::ConstantIntOp::create(b, loc, b.getI64Type(), maxLen);
    Value zero64 = arith::ConstantIntOp::create(b, loc, b.getI64Type(), 0);
    // Pc = clamp(P, 0, N): equal to P whenever the check holds.
    Value pc = arith::MaxSIOp::create(b, loc, zero64, arith::MinSIOp::create(b, loc, p, n64));
    Value pcIdx = arith::IndexCastOp::create(b, loc, b.getIndexType(), pc);
    Value c0Idx = arith::ConstantIndexOp::create(b, loc, 0);

    // Caches become [B, kvh, N, D]; every reader of the past reads [0, Pc).
    for (Cache &c : caches) {
      BlockArgument arg = fn.getArgument(c.arg);
      auto oldType = cast<RankedTensorType>(arg.getType());
      SmallVector<OpOperand *> readers;
      for (OpOperand &use : arg.getUses())
        readers.push_back(&use);
      SmallVector<int64_t> shape(oldType.getShape());
      shape[2] = maxLen;
      arg.setType(RankedTensorType::get(shape, oldType.getElementType()));
      SmallVector<OpFoldResult> sizes;
      for (int64_t d = 0; d < 4; ++d)
        sizes.push_back(d == 2 ? OpFoldResult(pcIdx)
                               : (oldType.isDynamicDim(d)
                                      ? OpFoldResult(tensor::DimOp::create(b, loc, arg, d).getResult())
                                      : OpFoldResult(b.getIndexAttr(oldType.getDimSize(d)))));
      SmallVector<OpFoldResult> zeros(4, b.getIndexAttr(0)), ones(4, b.getIndexAttr(1));
      auto past = tensor::ExtractSliceOp::create(b, loc, oldType, arg, zeros, sizes, ones);
      for (OpOperand *use : readers)
        use->set(past.getResult());
    }

    fn.setType(FunctionType::get(&getContext(), entry.getArgumentTypes(), fn.getResultTypes()));

    // One-operand concats of a past (identities) are dropped.
    SmallVector<ConcatOp> identities;
    fn.walk([&](ConcatOp op) {
      if (op.getInputs().size() == 1 && op.getResult().getType() == op.getInputs()[0].getType())
        if (auto slice = op.getInputs()[0].getDefiningOp<tensor::ExtractSliceOp>())
          if (auto src = dyn_cast<BlockArgument>(slice.getSource()); src && src.getOwner() == &entry)
            identities.push_back(op);
    });
    for (ConcatOp op : identities) {
      op.getResult().replaceAllUsesWith(op.getInputs()[0]);
      op->erase();
    }

    // The concats become writes into the cache at Pc.
    for (Cache &c : caches) {
      BlockArgument arg = fn.getArgument(c.arg);
      auto cacheType = cast<RankedTensorType>(arg.getType());
      ConcatOp concat = c.concat;
      Value fresh = concat.getInputs()[1];
      auto freshType = cast<RankedTensorType>(fresh.getType());
      b.setInsertionPoint(concat);
      Location l = concat.getLoc();
      auto dimOf = [&](Value v, RankedTensorType t, int64_t d) -> Value {
        if (!t.isDynamicDim(d))
          return arith::ConstantIndexOp::create(b, l, t.getDimSize(d));
        return tensor::DimOp::create(b, l, v, d);
      };
      Value t = dimOf(fresh, freshType, 2);
      Value t64 = toI64(b, l, t);
      // P < 0 or P > N - T: the context is full, and nothing is written.
      Value neg = arith::CmpIOp::create(b, l, arith::CmpIPredicate::slt, p, zero64);
      Value room = arith::SubIOp::create(b, l, n64, t64);
      Value over = arith::CmpIOp::create(b, l, arith::CmpIPredicate::sgt, p, room);
      Value full = arith::OrIOp::create(b, l, neg, over);
      recordRuntimeCheck(b, l, full, arith::AddIOp::create(b, l, p, t64), n64,
                         "context full: {a} of {b} tokens");
      if (&c == &caches.front()) {
        for (auto [i, d] : totalDims) {
          Value size = toI64(b, l, tensor::DimOp::create(b, l, fn.getArgument(i), d));
          Value want = arith::AddIOp::create(b, l, p, t64);
          Value differs = arith::CmpIOp::create(b, l, arith::CmpIPredicate::ne, size, want);
          recordRuntimeCheck(b, l, differs, size, want,
                             "input '" + nameOf((*ins)[i]) + "': dimension " + std::to_string(d) +
                                 " is {a} but past_sequence_length + the new tokens are {b}");
        }
      }
      SmallVector<OpFoldResult> writeSizes, viewSizes;
      SmallVector<int64_t> writeShape;
      Value bad = full;
      for (int64_t d = 0; d < 4; ++d) {
        if (d == 2) {
          writeSizes.push_back(OpFoldResult()); // Tw, below
          writeShape.push_back(ShapedType::kDynamic);
          continue;
        }
        if (!cacheType.isDynamicDim(d) && !freshType.isDynamicDim(d)) {
          writeSizes.push_back(b.getIndexAttr(cacheType.getDimSize(d)));
          writeShape.push_back(cacheType.getDimSize(d));
          continue;
        }
        // A dim the types leave open must agree at run time (else nothing
        // is written, and the check reports it).
        Value have = dimOf(arg, cacheType, d), got = dimOf(fresh, freshType, d);
        Value differs = arith::CmpIOp::create(b, l, arith::CmpIPredicate::ne, have, got);
        recordRuntimeCheck(b, l, differs, got, have,
                           "input '" + c.input + "': dimension " + std::to_string(d) +
                               " has size {b} but the new tokens' K/V have {a}");
        bad = arith::OrIOp::create(b, l, bad, differs);
        writeSizes.push_back(arith::MinSIOp::create(b, l, have, got).getResult());
        writeShape.push_back(ShapedType::kDynamic);
      }
      // Written rows: T, or none when a check fails (then the views stay
      // inside [0, N) too: Pc <= N).
      Value tw = arith::SelectOp::create(b, l, bad, c0Idx, t);
      writeSizes[2] = tw;
      SmallVector<OpFoldResult> zeros(4, b.getIndexAttr(0)), ones(4, b.getIndexAttr(1));
      auto src = tensor::ExtractSliceOp::create(
          b, l, RankedTensorType::get(writeShape, freshType.getElementType()), fresh, zeros,
          writeSizes, ones);
      SmallVector<OpFoldResult> at{b.getIndexAttr(0), b.getIndexAttr(0), pcIdx, b.getIndexAttr(0)};
      auto inserted = tensor::InsertSliceOp::create(b, l, src.getResult(), arg, at, writeSizes, ones);
      for (int64_t d = 0; d < 4; ++d)
        viewSizes.push_back(d == 2 ? OpFoldResult(arith::AddIOp::create(b, l, pcIdx, tw).getResult())
                                   : (cacheType.isDynamicDim(d)
                                          ? OpFoldResult(tensor::DimOp::create(b, l, arg, d).getResult())
                                          : OpFoldResult(b.getIndexAttr(cacheType.getDimSize(d)))));
      Value view = tensor::ExtractSliceOp::create(b, l, inserted.getResult(), zeros, viewSizes, ones);
      if (view.getType() != concat.getType())
        view = tensor::CastOp::create(b, l, concat.getType(), view);
      concat.getResult().replaceUsesWithIf(view, [&](OpOperand &use) {
        return use.getOwner() != ret.getOperation();
      });
    }

    // Drop the present outputs.
    llvm::BitVector drop(fn.getNumResults());
    for (Cache &c : caches)
      drop.set(c.result);
    SmallVector<Value> kept;
    for (auto [i, v] : llvm::enumerate(ret.getOperands()))
      if (!drop.test(i))
        kept.push_back(v);
    ret->setOperands(kept);
    if (failed(fn.eraseResults(drop)))
      return error("cannot remove the present outputs");
    for (Cache &c : caches)
      if (c.concat->use_empty())
        c.concat->erase();

    // Only the caches may be written: the other inputs are borrowed.
    for (unsigned i = 0; i < fn.getNumArguments(); ++i) {
      bool isCache = llvm::any_of(caches, [&](const Cache &c) { return c.arg == i; });
      fn.setArgAttr(i, "bufferization.writable", b.getBoolAttr(isCache));
    }

    // The signature.
    llvm::json::Array cacheList;
    for (Cache &c : caches) {
      auto *o = (*ins)[c.arg].getAsObject();
      if (auto *shape = o ? o->getArray("shape") : nullptr; shape && shape->size() == 4)
        (*shape)[2] = (int64_t)maxLen;
      if (o)
        (*o)["kv_cache"] = true;
      cacheList.push_back(llvm::json::Object{{"input", c.input}, {"output", c.output}});
    }
    ins->push_back(llvm::json::Object{
        {"name", kPastLengthName}, {"dtype", "i64"}, {"shape", llvm::json::Array{}}});
    llvm::json::Array keptOuts;
    for (auto [i, v] : llvm::enumerate(*outs))
      if (!drop.test(i))
        keptOuts.push_back(std::move(v));
    *outs = std::move(keptOuts);
    sig["kv_cache"] = llvm::json::Object{{"max_len", (int64_t)maxLen},
                                         {"past_length_input", kPastLengthName},
                                         {"caches", std::move(cacheList)}};
    std::string text;
    llvm::raw_string_ostream os(text);
    os << llvm::json::Value(std::move(sig));
    module->setAttr("attn.signature", StringAttr::get(&getContext(), text));
    return success();
  }
};

} // namespace
