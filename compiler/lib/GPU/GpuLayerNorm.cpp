//===- GpuLayerNorm.cpp - attn.layer_norm -> one warp-per-row GPU kernel --===//
//
// The linalg lowering of attn.layer_norm is a chain of reductions and
// elementwise ops (11 kernels with a residual on the GPU, each reduction one
// thread per row, uncoalesced). Here it is one kernel: 256 threads, a warp
// per row of the [rows, n] view, lanes striding over the row (coalesced),
// f32 accumulation whatever the element type:
//
//   x[c] = input[row, c] (+ residual[row, c])
//   mean = warpSum(sum_c x[c]) / n                  // xor shuffles
//   d = x - mean: var = E[d^2] - E[d]^2, mean += E[d]  // second pass: no
//                                                      // cancellation
//   out[row, c] = (x[c] - mean) * rsqrt(var + eps) * scale[c] (+ bias[c])
//
// The rows are re-read per pass (L1/L2 hits). Built in two phases like the
// attention kernel (KernelBuilder.h): on tensors the operands are collapsed
// to [rows, n] (scale/bias to [n]) and passed as views to a placeholder
// call; after bufferization the call becomes the gpu.launch. Ops it does not
// take (axis 0, a dynamic normalized size, scale/bias that broadcast inside
// the normalized dims) keep the linalg lowering, which also runs on the GPU.
//
// attn.rms_norm gets the same kernel shape with one statistics pass:
// ss = warpSum(sum_c x[c]^2), rstd = rsqrt(ss / n + eps),
// out[row, c] = x[c] * rstd * scale[c], and the sum x (input + residual)
// stored as well when the op returns it.
//
//===----------------------------------------------------------------------===//
#include "CPU/LayerNormKernel.h"
#include "Support/LoweringUtils.h"
#include "GPU/KernelBuilder.h"
#include "attn/Compiler/Passes.h"
#include "attn/Dialect/ShapeInference.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

namespace mlir::attn {
#define GEN_PASS_DEF_GPULOWERLAYERNORMPASS
#include "attn/Compiler/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;
using gpukernel::KernelBuilder;

namespace {

constexpr int64_t kThreads = 256, kWarps = kThreads / 32;
constexpr StringLiteral kPlaceholder = "__attn_gpu_layer_norm";
constexpr StringLiteral kRmsPlaceholder = "__attn_gpu_rms_norm";

/// Does the kernel take `op`? axis >= 1, a static nonzero normalized size,
/// scale/bias with exactly that many elements.
bool kernelTakes(LayerNormOp op) {
  auto axis = normalizeAxis(op.getAxis(), cast<RankedTensorType>(op.getInput().getType()).getRank());
  if (!axis || *axis == 0 || !staticRowSize(op))
    return false;
  for (Value v : {op.getScale(), op.getBias()})
    if (v && cast<RankedTensorType>(v.getType()).getRank() == 0)
      return false;
  return true;
}

/// The same for attn.rms_norm.
bool kernelTakes(RmsNormOp op) {
  auto axis = normalizeAxis(op.getAxis(), cast<RankedTensorType>(op.getInput().getType()).getRank());
  return axis && *axis != 0 && staticRowSize(op) &&
         cast<RankedTensorType>(op.getScale().getType()).getRank() != 0;
}

/// `v` collapsed so that dims [0, split) and [split, rank) become one dim each
/// (split = 0: all dims into one).
Value collapse(OpBuilder &b, Location loc, Value v, int64_t split) {
  auto t = cast<RankedTensorType>(v.getType());
  int64_t rank = t.getRank();
  SmallVector<ReassociationIndices> re;
  if (split > 0) {
    re.emplace_back();
    for (int64_t i = 0; i < split; ++i)
      re.back().push_back(i);
  }
  re.emplace_back();
  for (int64_t i = split; i < rank; ++i)
    re.back().push_back(i);
  if (static_cast<int64_t>(re.size()) == rank)
    return v;
  return tensor::CollapseShapeOp::create(b, loc, v, re);
}

/// Phase 1 (tensors): the op -> [rows, n] views, a fresh output buffer of the
/// result's shape, and the placeholder call (x, [residual], scale, [bias],
/// out).
void replaceWithPlaceholder(LayerNormOp op, unsigned index) {
  OpBuilder b(op);
  Location loc = op.getLoc();
  auto resultType = cast<RankedTensorType>(op.getResult().getType());
  int64_t rank = resultType.getRank();
  int64_t axis = *normalizeAxis(op.getAxis(), rank);
  SmallVector<Value> operands{op.getInput()};
  if (op.getResidual())
    operands.push_back(op.getResidual());
  SmallVector<Value> dims = broadcastResultDims(b, loc, resultType, operands);

  SmallVector<Value> args;
  for (Value v : operands)
    args.push_back(gpukernel::tensorView(
        b, loc, collapse(b, loc, materializeDynamicBroadcast(b, loc, v, dims, /*what=*/""), axis)));
  args.push_back(gpukernel::tensorView(b, loc, collapse(b, loc, op.getScale(), 0)));
  if (op.getBias())
    args.push_back(gpukernel::tensorView(b, loc, collapse(b, loc, op.getBias(), 0)));
  SmallVector<Value> dynOut;
  for (int64_t i = 0; i < rank; ++i)
    if (resultType.isDynamicDim(i))
      dynOut.push_back(dims[i]);
  auto outType = MemRefType::get(resultType.getShape(), resultType.getElementType());
  Value out = memref::AllocOp::create(b, loc, outType, dynOut);
  args.push_back(out);

  std::string name = (kPlaceholder + "_" + std::to_string(index)).str();
  auto call = gpukernel::createPlaceholderCall(b, loc, op->getParentOfType<ModuleOp>(), name, args);
  call->setAttr("attn.epsilon", op.getEpsilonAttr());
  call->setAttr("attn.axis", b.getI64IntegerAttr(axis));
  call->setAttr("attn.has_residual", b.getBoolAttr(op.getResidual() != nullptr));
  call->setAttr("attn.has_bias", b.getBoolAttr(op.getBias() != nullptr));
  Value result = bufferization::ToTensorOp::create(b, loc, resultType, out,
                                                     /*restrict=*/true, /*writable=*/true);
  op.getResult().replaceAllUsesWith(result);
  op.erase();
}

/// Phase 2 (buffers): the placeholder call -> the warp-per-row gpu.launch.
void buildKernel(func::CallOp call, unsigned index) {
  OpBuilder b(call);
  Location loc = call.getLoc();
  KernelBuilder h(b, loc);
  bool hasResidual = call->getAttrOfType<BoolAttr>("attn.has_residual").getValue();
  bool hasBias = call->getAttrOfType<BoolAttr>("attn.has_bias").getValue();
  double eps = call->getAttrOfType<FloatAttr>("attn.epsilon").getValueAsDouble();
  int64_t axis = call->getAttrOfType<IntegerAttr>("attn.axis").getInt();
  unsigned k = 0;
  Value x = call.getOperand(k++);
  Value res = hasResidual ? call.getOperand(k++) : Value();
  Value scale = call.getOperand(k++);
  Value bias = hasBias ? call.getOperand(k++) : Value();
  Value outFull = call.getOperand(k++);

  // The output (a fresh identity-layout buffer) as [rows, n].
  auto outFullType = cast<MemRefType>(outFull.getType());
  Value out = outFull;
  if (outFullType.getRank() != 2) {
    SmallVector<ReassociationIndices> re(2);
    for (int64_t i = 0; i < outFullType.getRank(); ++i)
      re[i < axis ? 0 : 1].push_back(i);
    out = memref::CollapseShapeOp::create(b, loc, outFull, re);
  }
  Type et = outFullType.getElementType();
  Value rows = memref::DimOp::create(b, loc, x, 0);
  Value n = memref::DimOp::create(b, loc, x, 1);
  Value blocks = arith::CeilDivUIOp::create(b, loc, rows, h.idx(kWarps));
  auto launch = gpukernel::createKernelLaunch(b, loc, blocks, h.idx(1), kThreads, TypeRange{},
                                              gpukernel::kernelName(loc, "layernorm", index));
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(&launch.getBody().front());
    Value tid = launch.getThreadIds().x;
    Value lane = h.rem(tid, h.idx(32));
    Value row = h.add(h.mul(launch.getBlockIds().x, h.idx(kWarps)), h.div(tid, h.idx(32)));
    Value c32 = h.idx(32);
    // Whole warps take the branch or not: the shuffles stay warp-uniform.
    h.ifThen(h.ult(row, rows), [&] {
      auto value = [&](Value c) {
        Value v = h.toF32(h.load(x, {row, c}));
        return hasResidual ? h.fadd(v, h.toF32(h.load(res, {row, c}))) : v;
      };
      Value nf = h.indexToF32(n);
      Value sum = h.reduceStep(lane, n, c32, h.f(0.0),
                               [&](Value c, Value acc) { return h.fadd(acc, value(c)); });
      Value mean = arith::DivFOp::create(b, loc, h.warpSum(sum), nf);
      // Second pass: d = x - mean; var = E[d^2] - E[d]^2 and mean += E[d]
      // (the first mean's rounding corrected, as the CPU kernel does).
      auto second = scf::ForOp::create(b, loc, lane, n, c32, ValueRange{h.f(0.0), h.f(0.0)});
      {
        OpBuilder::InsertionGuard g(b);
        b.setInsertionPointToStart(second.getBody());
        Value d = h.fsub(value(second.getInductionVar()), mean);
        Value sd = h.fadd(second.getRegionIterArgs()[0], d);
        Value sq = math::FmaOp::create(b, loc, d, d, second.getRegionIterArgs()[1]);
        scf::YieldOp::create(b, loc, ValueRange{sd, sq});
      }
      Value ed = arith::DivFOp::create(b, loc, h.warpSum(second.getResult(0)), nf);
      Value ed2 = arith::DivFOp::create(b, loc, h.warpSum(second.getResult(1)), nf);
      Value var = h.fsub(ed2, h.fmul(ed, ed));
      var = h.fmax(var, h.f(0.0));
      mean = h.fadd(mean, ed);
      Value rstd = h.rsqrt(h.fadd(var, h.f(eps)));
      h.loop(lane, n, c32, [&](Value c) {
        Value y = h.fmul(h.fmul(h.fsub(value(c), mean), rstd), h.toF32(h.load(scale, {c})));
        if (hasBias)
          y = h.fadd(y, h.toF32(h.load(bias, {c})));
        h.store(h.fromF32(y, et), out, {row, c});
      });
    });
    gpu::TerminatorOp::create(b, loc);
  }
  gpukernel::erasePlaceholderCall(call);
}

/// Phase 1 for attn.rms_norm: (x, [residual], scale, out, [sum out]).
void replaceWithPlaceholder(RmsNormOp op, unsigned index) {
  OpBuilder b(op);
  Location loc = op.getLoc();
  auto resultType = cast<RankedTensorType>(op.getInput().getType());
  int64_t rank = resultType.getRank();
  int64_t axis = *normalizeAxis(op.getAxis(), rank);
  SmallVector<Value> operands{op.getInput()};
  if (op.getResidual())
    operands.push_back(op.getResidual());
  SmallVector<Value> dims = broadcastResultDims(b, loc, resultType, operands);

  SmallVector<Value> args;
  for (Value v : operands)
    args.push_back(gpukernel::tensorView(
        b, loc, collapse(b, loc, materializeDynamicBroadcast(b, loc, v, dims, /*what=*/""), axis)));
  args.push_back(gpukernel::tensorView(b, loc, collapse(b, loc, op.getScale(), 0)));
  SmallVector<Value> dynOut;
  for (int64_t i = 0; i < rank; ++i)
    if (resultType.isDynamicDim(i))
      dynOut.push_back(dims[i]);
  auto outType = MemRefType::get(resultType.getShape(), resultType.getElementType());
  SmallVector<Value> outs{memref::AllocOp::create(b, loc, outType, dynOut)};
  if (op.getSum())
    outs.push_back(memref::AllocOp::create(b, loc, outType, dynOut));
  args.append(outs.begin(), outs.end());

  std::string name = (kRmsPlaceholder + "_" + std::to_string(index)).str();
  auto call = gpukernel::createPlaceholderCall(b, loc, op->getParentOfType<ModuleOp>(), name, args);
  call->setAttr("attn.epsilon", op.getEpsilonAttr());
  call->setAttr("attn.axis", b.getI64IntegerAttr(axis));
  call->setAttr("attn.has_residual", b.getBoolAttr(op.getResidual() != nullptr));
  call->setAttr("attn.has_sum", b.getBoolAttr(op.getSum() != nullptr));
  for (auto [res, buf] : llvm::zip(op.getResults(), outs)) {
    Value t = bufferization::ToTensorOp::create(b, loc, resultType, buf,
                                                /*restrict=*/true, /*writable=*/true);
    if (t.getType() != res.getType())
      t = tensor::CastOp::create(b, loc, res.getType(), t);
    res.replaceAllUsesWith(t);
  }
  op.erase();
}

/// `buf` (a fresh identity-layout buffer) as [rows, n].
Value asRowsView(OpBuilder &b, Location loc, Value buf, int64_t axis) {
  auto t = cast<MemRefType>(buf.getType());
  if (t.getRank() == 2)
    return buf;
  SmallVector<ReassociationIndices> re(2);
  for (int64_t i = 0; i < t.getRank(); ++i)
    re[i < axis ? 0 : 1].push_back(i);
  return memref::CollapseShapeOp::create(b, loc, buf, re);
}

/// Phase 2 for attn.rms_norm: a warp per row, one statistics pass.
void buildRmsKernel(func::CallOp call, unsigned index) {
  OpBuilder b(call);
  Location loc = call.getLoc();
  KernelBuilder h(b, loc);
  bool hasResidual = call->getAttrOfType<BoolAttr>("attn.has_residual").getValue();
  bool hasSum = call->getAttrOfType<BoolAttr>("attn.has_sum").getValue();
  double eps = call->getAttrOfType<FloatAttr>("attn.epsilon").getValueAsDouble();
  int64_t axis = call->getAttrOfType<IntegerAttr>("attn.axis").getInt();
  unsigned k = 0;
  Value x = call.getOperand(k++);
  Value res = hasResidual ? call.getOperand(k++) : Value();
  Value scale = call.getOperand(k++);
  Value outFull = call.getOperand(k++);
  Value out = asRowsView(b, loc, outFull, axis);
  Value sum = hasSum ? asRowsView(b, loc, call.getOperand(k++), axis) : Value();
  Type et = cast<MemRefType>(outFull.getType()).getElementType();
  Value rows = memref::DimOp::create(b, loc, x, 0);
  Value n = memref::DimOp::create(b, loc, x, 1);
  Value blocks = arith::CeilDivUIOp::create(b, loc, rows, h.idx(kWarps));
  auto launch = gpukernel::createKernelLaunch(b, loc, blocks, h.idx(1), kThreads, TypeRange{},
                                              gpukernel::kernelName(loc, "rmsnorm", index));
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(&launch.getBody().front());
    Value tid = launch.getThreadIds().x;
    Value lane = h.rem(tid, h.idx(32));
    Value row = h.add(h.mul(launch.getBlockIds().x, h.idx(kWarps)), h.div(tid, h.idx(32)));
    Value c32 = h.idx(32);
    // Whole warps take the branch or not: the shuffles stay warp-uniform.
    h.ifThen(h.ult(row, rows), [&] {
      auto value = [&](Value c) {
        Value v = h.toF32(h.load(x, {row, c}));
        return hasResidual ? h.fadd(v, h.toF32(h.load(res, {row, c}))) : v;
      };
      Value ss = h.reduceStep(lane, n, c32, h.f(0.0), [&](Value c, Value acc) -> Value {
        Value v = value(c);
        return math::FmaOp::create(b, loc, v, v, acc);
      });
      Value ms = arith::DivFOp::create(b, loc, h.warpSum(ss), h.indexToF32(n));
      Value rstd = h.rsqrt(h.fadd(ms, h.f(eps)));
      h.loop(lane, n, c32, [&](Value c) {
        Value v = value(c);
        if (sum)
          h.store(h.fromF32(v, et), sum, {row, c});
        Value y = h.fmul(h.fmul(v, rstd), h.toF32(h.load(scale, {c})));
        h.store(h.fromF32(y, et), out, {row, c});
      });
    });
    gpu::TerminatorOp::create(b, loc);
  }
  gpukernel::erasePlaceholderCall(call);
}

struct GpuLowerLayerNormPass : attn::impl::GpuLowerLayerNormPassBase<GpuLowerLayerNormPass> {
  using Base::Base;
  void runOnOperation() override {
    ModuleOp module = getOperation();
    // Like attn-gpu-lower-attention: the first run (tensors) makes
    // placeholder calls, the run after bufferization the kernels.
    SmallVector<LayerNormOp> ops;
    SmallVector<RmsNormOp> rmsOps;
    module.walk([&](Operation *op) {
      if (auto ln = dyn_cast<LayerNormOp>(op); ln && kernelTakes(ln))
        ops.push_back(ln);
      if (auto rms = dyn_cast<RmsNormOp>(op); rms && kernelTakes(rms))
        rmsOps.push_back(rms);
    });
    unsigned index = 0;
    for (LayerNormOp op : ops)
      replaceWithPlaceholder(op, index++);
    index = 0;
    for (RmsNormOp op : rmsOps)
      replaceWithPlaceholder(op, index++);
    if (!ops.empty() || !rmsOps.empty())
      return;
    index = 0;
    for (func::CallOp c : gpukernel::placeholderCalls(module, kPlaceholder))
      buildKernel(c, index++);
    index = 0;
    for (func::CallOp c : gpukernel::placeholderCalls(module, kRmsPlaceholder))
      buildRmsKernel(c, index++);
  }
};

} // namespace
