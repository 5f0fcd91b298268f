//===- EmitModelEntryPoint.cpp - the runtime ABI of a compiled model ------===//
//
// After lowering to the LLVM dialect the model function takes each memref as
// its expanded descriptor fields and returns a struct of descriptors. This
// pass adds the two exported symbols of attn/abi.h:
//
//   int32_t attn_model_run(int64_t *const *inputs, int64_t *const *outputs)
//   int32_t attn_model_run_ex(int64_t *const *inputs, int64_t *const *outputs,
//                             int64_t *status)   // [code, check, a, b]
//
// (attn_model_run_ex itself is in ModelSupport.c, linked into every library:
// it guards allocations and calls the hidden __attn_model_run_body built
// here; finalize-memref-to-llvm uses its generic allocation functions.)
//   const char *attn_model_signature(void)
//
// The signature gains the model function's run-time check templates
// ("checks", see RuntimeChecks.h) when it has any.
//
// and makes every other symbol internal, so a model library exports nothing
// else. Descriptor ranks come from the module's `attn.signature` JSON.
//
//===----------------------------------------------------------------------===//
#include "attn/Compiler/Passes.h"
#include "attn/abi.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "llvm/Support/JSON.h"

namespace mlir::attn {
#define GEN_PASS_DEF_EMITMODELENTRYPOINTPASS
#include "attn/Compiler/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;

namespace {

/// Ranks of the "inputs" or "outputs" list of the signature.
static FailureOr<SmallVector<int64_t>> ranksOf(const llvm::json::Object &sig,
                                               StringRef key) {
  const llvm::json::Array *list = sig.getArray(key);
  if (!list)
    return failure();
  SmallVector<int64_t> ranks;
  for (const llvm::json::Value &v : *list) {
    const llvm::json::Object *o = v.getAsObject();
    const llvm::json::Array *shape = o ? o->getArray("shape") : nullptr;
    if (!shape)
      return failure();
    ranks.push_back(shape->size());
  }
  return ranks;
}

struct EmitModelEntryPointPass
    : attn::impl::EmitModelEntryPointPassBase<EmitModelEntryPointPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    MLIRContext *ctx = &getContext();
    auto sigAttr = module->getAttrOfType<StringAttr>("attn.signature");
    if (!sigAttr) {
      module.emitError("attn-emit-entry-point: module has no attn.signature");
      return signalPassFailure();
    }
    auto parsed = llvm::json::parse(sigAttr.getValue());
    if (!parsed || !parsed->getAsObject()) {
      if (!parsed)
        llvm::consumeError(parsed.takeError());
      module.emitError("attn-emit-entry-point: attn.signature is not a JSON object");
      return signalPassFailure();
    }
    auto inRanks = ranksOf(*parsed->getAsObject(), "inputs");
    auto outRanks = ranksOf(*parsed->getAsObject(), "outputs");
    if (failed(inRanks) || failed(outRanks)) {
      module.emitError("attn-emit-entry-point: attn.signature lacks inputs/outputs shapes");
      return signalPassFailure();
    }
    auto model = module.lookupSymbol<LLVM::LLVMFuncOp>(entryName);
    if (!model) {
      module.emitError("attn-emit-entry-point: no llvm.func @") << entryName;
      return signalPassFailure();
    }
    int64_t expectedArgs = 0;
    for (int64_t r : *inRanks)
      expectedArgs += 3 + 2 * r;
    if ((int64_t)model.getNumArguments() != expectedArgs) {
      model.emitError("model function takes ")
          << model.getNumArguments() << " values, the signature implies "
          << expectedArgs;
      return signalPassFailure();
    }

    // Everything but the ABI becomes internal.
    for (auto f : module.getOps<LLVM::LLVMFuncOp>())
      if (!f.isExternal())
        f.setLinkage(LLVM::Linkage::Internal);

    OpBuilder b = OpBuilder::atBlockEnd(module.getBody());
    Location loc = model.getLoc();
    auto ptrT = LLVM::LLVMPointerType::get(ctx);
    auto i64 = b.getI64Type(), i32 = b.getI32Type();

    // attn_model_signature (with the run-time checks' message templates)
    {
      if (auto checks = model->getAttrOfType<ArrayAttr>("attn.checks")) {
        llvm::json::Array list;
        for (Attribute a : checks)
          if (auto str = dyn_cast<StringAttr>(a))
            list.push_back(str.getValue().str());
        parsed->getAsObject()->try_emplace("checks", std::move(list));
      }
      std::string text;
      {
        llvm::raw_string_ostream os(text);
        os << *parsed;
      }
      text.push_back('\0');
      auto arrT = LLVM::LLVMArrayType::get(b.getI8Type(), text.size());
      LLVM::GlobalOp::create(b, loc, arrT, /*isConstant=*/true,
                               LLVM::Linkage::Internal, "__attn_signature",
                               b.getStringAttr(text));
      auto fn = LLVM::LLVMFuncOp::create(b, loc, "attn_model_signature",
                                           LLVM::LLVMFunctionType::get(ptrT, {}));
      OpBuilder fb = OpBuilder::atBlockBegin(fn.addEntryBlock(b));
      Value addr = LLVM::AddressOfOp::create(fb, loc, ptrT, "__attn_signature");
      LLVM::ReturnOp::create(fb, loc, addr);
    }

    // attn_model_run(in, out) = attn_model_run_ex(in, out, NULL)
    auto exType = LLVM::LLVMFunctionType::get(i32, {ptrT, ptrT, ptrT});
    // The body of attn_model_run_ex, which ModelSupport.c defines around it
    // (allocation failures become ATTN_MODEL_ERR_OUT_OF_MEMORY).
    auto fn = LLVM::LLVMFuncOp::create(b, loc, "__attn_model_run_body", exType);
    fn.setVisibility_(LLVM::Visibility::Hidden);
    auto exDecl = LLVM::LLVMFuncOp::create(b, loc, "attn_model_run_ex", exType);
    {
      auto plain = LLVM::LLVMFuncOp::create(b,
          loc, "attn_model_run", LLVM::LLVMFunctionType::get(i32, {ptrT, ptrT}));
      OpBuilder pb = OpBuilder::atBlockBegin(plain.addEntryBlock(b));
      Value null = LLVM::ZeroOp::create(pb, loc, ptrT);
      auto c = LLVM::CallOp::create(pb,
          loc, exDecl, ValueRange{plain.getArgument(0), plain.getArgument(1), null});
      LLVM::ReturnOp::create(pb, loc, c.getResult());
    }
    OpBuilder fb = OpBuilder::atBlockBegin(fn.addEntryBlock(b));
    Value inArr = fn.getArgument(0), outArr = fn.getArgument(1), statusArr = fn.getArgument(2);
    auto gep = [&](Value base, Type elem, int64_t i) -> Value {
      return LLVM::GEPOp::create(fb, loc, ptrT, elem, base,
                                    ArrayRef<LLVM::GEPArg>{static_cast<int32_t>(i)});
    };
    SmallVector<Value> args;
    for (auto [i, r] : llvm::enumerate(*inRanks)) {
      Value desc = LLVM::LoadOp::create(fb, loc, ptrT, gep(inArr, ptrT, i));
      args.push_back(LLVM::LoadOp::create(fb, loc, ptrT, gep(desc, i64, 0)));
      args.push_back(LLVM::LoadOp::create(fb, loc, ptrT, gep(desc, i64, 1)));
      for (int64_t k = 2; k < 3 + 2 * r; ++k)
        args.push_back(LLVM::LoadOp::create(fb, loc, i64, gep(desc, i64, k)));
    }
    auto call = LLVM::CallOp::create(fb, loc, model, args);
    // A trailing tensor<4xi64> result (attn.status_result, RuntimeChecks.h)
    // reports the first failed run-time check; it is read, freed and turned
    // into the return code (and the status words of attn_model_run_ex).
    bool hasStatus = model->hasAttr("attn.status_result");
    size_t numOut = outRanks->size() + (hasStatus ? 1 : 0);
    for (auto [j, r] : llvm::enumerate(*outRanks)) {
      Value res = call.getResult();
      Value d = numOut == 1 ? res
                            : LLVM::ExtractValueOp::create(fb, loc, res, ArrayRef<int64_t>{(int64_t)j})
                                  .getResult();
      Value desc = LLVM::LoadOp::create(fb, loc, ptrT, gep(outArr, ptrT, j));
      auto field = [&](ArrayRef<int64_t> pos) -> Value {
        return LLVM::ExtractValueOp::create(fb, loc, d, pos);
      };
      LLVM::StoreOp::create(fb, loc, field({0}), gep(desc, i64, 0));
      LLVM::StoreOp::create(fb, loc, field({1}), gep(desc, i64, 1));
      LLVM::StoreOp::create(fb, loc, field({2}), gep(desc, i64, 2));
      for (int64_t k = 0; k < r; ++k) {
        LLVM::StoreOp::create(fb, loc, field({3, k}), gep(desc, i64, 3 + k));
        LLVM::StoreOp::create(fb, loc, field({4, k}), gep(desc, i64, 3 + r + k));
      }
    }
    Value zero = LLVM::ConstantOp::create(fb, loc, i32, fb.getI32IntegerAttr(0));
    if (!hasStatus) {
      LLVM::ReturnOp::create(fb, loc, zero);
      return;
    }
    Value d = numOut == 1 ? call.getResult()
                          : LLVM::ExtractValueOp::create(fb,
                                loc, call.getResult(), ArrayRef<int64_t>{(int64_t)outRanks->size()})
                                .getResult();
    Value allocated = LLVM::ExtractValueOp::create(fb, loc, d, ArrayRef<int64_t>{0});
    Value aligned = LLVM::ExtractValueOp::create(fb, loc, d, ArrayRef<int64_t>{1});
    Value offset = LLVM::ExtractValueOp::create(fb, loc, d, ArrayRef<int64_t>{2});
    Value addr = LLVM::GEPOp::create(fb, loc, ptrT, i64, aligned, ValueRange{offset});
    // A CUDA model's flag is in device memory: read through the runtime and
    // freed with the device allocator (attn/abi.h).
    bool cuda = false;
    if (const llvm::json::Value *t = parsed->getAsObject()->get("target"))
      cuda = t->getAsString() && *t->getAsString() == "cuda";
    auto voidT = LLVM::LLVMVoidType::get(ctx);
    auto declare = [&](StringRef name, LLVM::LLVMFunctionType type) {
      auto f = module.lookupSymbol<LLVM::LLVMFuncOp>(name);
      if (!f) {
        OpBuilder mb = OpBuilder::atBlockEnd(module.getBody());
        f = LLVM::LLVMFuncOp::create(mb, loc, name, type);
      }
      return f;
    };
    // The status: 4 x i64 [code, check index, a, b] (RuntimeChecks.h).
    Value four = LLVM::ConstantOp::create(fb, loc, i64, fb.getI64IntegerAttr(4));
    Value host = addr;
    if (cuda) {
      host = LLVM::AllocaOp::create(fb, loc, ptrT, i64, four);
      // Pointers as i64: attn-gpu-map-parallel-loops declares the function
      // with index (i64) parameters for the reads of host code.
      auto readFn = declare(ATTN_CUDA_READ_SYMBOL, LLVM::LLVMFunctionType::get(voidT, {i64, i64, i64}));
      LLVM::CallOp::create(fb, loc, readFn,
                              ValueRange{LLVM::PtrToIntOp::create(fb, loc, i64, host),
                                         LLVM::PtrToIntOp::create(fb, loc, i64, addr),
                                         LLVM::ConstantOp::create(fb, loc, i64, fb.getI64IntegerAttr(32))});
    }
    SmallVector<Value> words;
    for (int64_t k = 0; k < 4; ++k)
      words.push_back(LLVM::LoadOp::create(fb, loc, i64, gep(host, i64, k)));
    auto freeFn = declare(cuda ? ATTN_CUDA_FREE_SYMBOL : "free",
                          LLVM::LLVMFunctionType::get(voidT, {ptrT}));
    LLVM::CallOp::create(fb, loc, freeFn, ValueRange{allocated});
    // status may be NULL (attn_model_run).
    Block *store = fn.addBlock(), *done = fn.addBlock();
    Value null = LLVM::ZeroOp::create(fb, loc, ptrT);
    Value given = LLVM::ICmpOp::create(fb, loc, LLVM::ICmpPredicate::ne, statusArr, null);
    LLVM::CondBrOp::create(fb, loc, given, store, done);
    fb.setInsertionPointToStart(store);
    for (int64_t k = 0; k < 4; ++k)
      LLVM::StoreOp::create(fb, loc, words[k], gep(statusArr, i64, k));
    LLVM::BrOp::create(fb, loc, ValueRange{}, done);
    fb.setInsertionPointToStart(done);
    LLVM::ReturnOp::create(fb, loc, ValueRange{LLVM::TruncOp::create(fb, loc, i32, words[0]).getResult()});
  }
};
} // namespace
