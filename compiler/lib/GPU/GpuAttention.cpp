//===- GpuAttention.cpp - attn.attention -> a flash-attention GPU kernel --===//
//
// One thread block (128 threads) per (batch..., query tile of BQ rows):
//
//   Qs = Q tile (shared), O = 0, m = -inf, l = 0                 // shared
//   for key tile ks in [0, causal ? min(Sk, qs + tq) : Sk) step BK:
//     Ks, Vs = K/V tiles (shared)                      ; barrier
//     S[i][j] = edits(Qs[i] . Ks[j])  (scale, mask, causal; -inf outside)
//                                                      ; barrier
//     per row: m' = max(m, max_j S), alpha = exp(m - m'), S = exp(S - m'),
//              l = alpha l + sum_j S                   ; barrier
//     O[i][c] = alpha[i] O[i][c] + sum_j S[i][j] Vs[j][c] ; barrier
//   out[qs + i][c] = O[i][c] / l[i]
//
// The Sq x Sk score matrix never exists; the mask is read in place with
// broadcasting. Everything is staged in shared memory (static workgroup
// attributions sized from the static head dims), so a thread holds only a
// few scalars: the kernel cannot spill. f16/bf16 operands are widened to f32
// on load (f32 accumulation, no tensor cores yet). A row whose scores are all
// -inf gives NaN, as PyTorch does (0 with nan_to_zero); with causal_fill the
// positions causal/window hide score the fill value and no key tile is
// skipped.
//
// The kernel is built at tensor level as a gpu.launch on buffers
// (bufferization.to_buffer of the operands, a fresh output buffer wrapped by
// bufferization.to_tensor), so one-shot bufferization sees only the views.
//
//===----------------------------------------------------------------------===//
#include "Support/AttentionSemantics.h"
#include "Support/LoweringUtils.h"
#include "GPU/KernelBuilder.h"
#include "GPU/Mma.h"
#include "attn/Compiler/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

#include <cmath>

namespace mlir::attn {
#define GEN_PASS_DEF_GPULOWERATTENTIONPASS
#include "attn/Compiler/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;
using gpukernel::KernelBuilder;
using gpukernel::kernelName;

namespace {

constexpr int64_t kThreads = 128;
constexpr int64_t kSharedLimit = 48 * 1024;

/// Prefix of the placeholder functions standing for attention kernels
/// between the two runs of the pass.
constexpr StringLiteral kPlaceholder = "__attn_gpu_attention";

/// Phase 1 (tensors): attn.attention -> views of the operands, a fresh output
/// buffer and a call of a placeholder that will write it. The kernel itself
/// is built after bufferization and deallocation, which do not know the
/// memory effects of GPU ops (gpu.barrier).
/// `dims` of a stored tensor in the logical order of `perm` (logical dim i
/// is stored dim perm[i]).
SmallVector<Value> permuted(ArrayRef<Value> dims, std::optional<ArrayRef<int64_t>> perm) {
  if (!perm)
    return SmallVector<Value>(dims);
  SmallVector<Value> out;
  for (int64_t p : *perm)
    out.push_back(dims[p]);
  return out;
}

/// A logical-order view of stored memref `m` (memref.transpose: no copy).
Value logicalView(OpBuilder &b, Location loc, Value m, std::optional<ArrayRef<int64_t>> perm) {
  if (!perm)
    return m;
  return memref::TransposeOp::create(b,
      loc, m, AffineMapAttr::get(AffineMap::getPermutationMap(*perm, b.getContext())));
}

LogicalResult replaceWithPlaceholder(AttentionOp op, unsigned index) {
  OpBuilder b(op);
  Location loc = op.getLoc();
  Value Q = op.getQuery(), K = op.getKey(), V = op.getValue(), M = op.getMask();
  // Layout perms: the kernel reads and writes logical-order views of the
  // stored tensors (the head split/merge transposes cost no copy).
  auto qt = op.getLogicalQueryType(), kt = op.getLogicalKeyType(), vt = op.getLogicalValueType();
  auto storedType = cast<RankedTensorType>(op.getResult().getType());
  int64_t rank = qt.getRank(), nb = rank - 2;
  if (qt.isDynamicDim(rank - 1) || vt.isDynamicDim(rank - 1) || kt.isDynamicDim(rank - 1))
    return op.emitError("attn.attention with a dynamic head dimension cannot be lowered "
                        "for --target=cuda yet (the GPU kernel needs a static head size)");
  SmallVector<Value> qd = permuted(getDimValues(b, loc, Q), op.getQueryPerm()),
                     kd = permuted(getDimValues(b, loc, K), op.getKeyPerm()),
                     vd = permuted(getDimValues(b, loc, V), op.getValuePerm());
  SmallVector<Value> outDims(qd.begin(), qd.begin() + nb);
  outDims.push_back(qd[nb]);
  outDims.push_back(vd[nb + 1]);
  if (M) {
    SmallVector<Value> scoreDims(qd.begin(), qd.begin() + nb + 1);
    scoreDims.push_back(kd[nb]);
    M = materializeDynamicBroadcast(b, loc, M, scoreDims, /*what=*/"");
  }
  auto view = [&](Value t, std::optional<ArrayRef<int64_t>> perm) {
    return logicalView(b, loc, gpukernel::tensorView(b, loc, t), perm);
  };
  SmallVector<Value> args{view(Q, op.getQueryPerm()), view(K, op.getKeyPerm()),
                          view(V, op.getValuePerm())};
  if (M)
    args.push_back(view(M, std::nullopt));
  // The output buffer in the stored layout: stored dim i is logical dim
  // result_perm[i]; the kernel writes its logical view.
  std::optional<ArrayRef<int64_t>> rperm = op.getResultPerm();
  SmallVector<Value> dynOut;
  for (int64_t i = 0; i < rank; ++i)
    if (storedType.isDynamicDim(i))
      dynOut.push_back(outDims[rperm ? (*rperm)[i] : i]);
  auto outType = MemRefType::get(storedType.getShape(), storedType.getElementType());
  Value out = memref::AllocOp::create(b, loc, outType, dynOut);
  SmallVector<int64_t> inverse;
  if (rperm) {
    inverse.resize(rank);
    for (int64_t i = 0; i < rank; ++i)
      inverse[(*rperm)[i]] = i;
  }
  args.push_back(logicalView(b, loc, out, rperm ? std::optional<ArrayRef<int64_t>>(inverse)
                                                : std::nullopt));

  std::string name = (kPlaceholder + "_" + std::to_string(index)).str();
  auto call = gpukernel::createPlaceholderCall(b, loc, op->getParentOfType<ModuleOp>(), name, args);
  // The op's semantics travel on the call (the perms are in the views).
  // (causal_align only when not the default top_left.)
  for (NamedAttribute a : op->getAttrs())
    if (!a.getName().strref().ends_with("_perm") &&
        !(a.getName() == "causal_align" && op.getCausalAlign() == CausalAlign::top_left))
      call->setAttr(("attn." + a.getName().strref()).str(), a.getValue());
  call->setAttr("attn.has_mask", b.getBoolAttr(M != nullptr));
  Value result = bufferization::ToTensorOp::create(b, loc, storedType, out,
                                                     /*restrict=*/true, /*writable=*/true);
  op.getResult().replaceAllUsesWith(result);
  op.erase();
  return success();
}

/// What the attn.attention op asked for, read back from the placeholder call.
struct Semantics {
  double scale = 1.0, fill = 0.0;
  MaskKind kind = MaskKind::none;
  bool maskFirst = false, causal = false, nanToZero = false;
  /// causal_fill: the positions causal/window hide score this value (no key
  /// tile is skipped).
  std::optional<double> causalFill;
  /// Causal offset, window, softcap, GQA heads (Support/AttentionSemantics.h).
  AttentionRules rules;
  /// The causal offset o (index), set where the kernel is built.
  Value causalOff;

  static Semantics of(func::CallOp call, int64_t kvGroup) {
    auto attrF = [&](StringRef n) {
      return call->getAttrOfType<FloatAttr>(n).getValueAsDouble();
    };
    Semantics s;
    s.scale = attrF("attn.scale");
    s.fill = call->hasAttr("attn.fill_value") ? attrF("attn.fill_value") : 0.0;
    s.kind = call->getAttrOfType<MaskKindAttr>("attn.mask_kind").getValue();
    s.maskFirst = call->hasAttr("attn.mask_first");
    s.causal = call->hasAttr("attn.causal");
    if (call->hasAttr("attn.causal_fill"))
      s.causalFill = attrF("attn.causal_fill");
    s.nanToZero = call->hasAttr("attn.nan_to_zero");
    s.rules = AttentionRules::fromAttrs(call, "attn.", kvGroup);
    return s;
  }
};

/// The score of query qi and key kj after the op's edits, in the op's order
/// (scale, mask, causal); `s` is q.k in f32. The mask (rank <= Q's `rank`,
/// size-1 dims broadcast) is read at (bIdx..., qi, kj): both must be in range.
Value editScore(KernelBuilder &h, const Semantics &sem, Value s, Value qi, Value kj, Value mBuf,
                ArrayRef<Value> bIdx, int64_t rank) {
  OpBuilder &b = h.b;
  Location loc = h.loc;
  int64_t nb = rank - 2;
  Value c0 = h.idx(0), sc = h.f(sem.scale);
  auto applyMask = [&](Value x) -> Value {
    auto mt = cast<MemRefType>(mBuf.getType());
    int64_t mr = mt.getRank(), off = rank - mr;
    SmallVector<Value> ix;
    for (int64_t jj = 0; jj < mr; ++jj) {
      int64_t ii = jj + off;
      if (mt.getDimSize(jj) == 1)
        ix.push_back(c0);
      else if (ii < nb)
        ix.push_back(bIdx[ii]);
      else
        ix.push_back(ii == nb ? qi : kj);
    }
    Value mv = h.load(mBuf, ix);
    if (sem.kind == MaskKind::additive)
      return h.fadd(x, h.toF32(mv));
    Value isZero;
    Type mty = mv.getType();
    if (isa<FloatType>(mty))
      isZero = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OEQ, mv,
                                       createScalarConstant(b, loc, mty, 0));
    else
      isZero = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, mv,
                                       arith::ConstantOp::create(b, loc, b.getIntegerAttr(mty, 0)));
    Value fv = h.f(sem.fill);
    return sem.kind == MaskKind::fill_if_zero ? h.sel(isZero, fv, x) : h.sel(isZero, x, fv);
  };
  Value v = s;
  if (sem.kind != MaskKind::none && sem.maskFirst) {
    v = h.fmul(applyMask(v), sc);
  } else {
    v = h.fmul(v, sc);
    v = sem.rules.applySoftcap(b, loc, v); // before the mask
    if (sem.kind != MaskKind::none)
      v = applyMask(v);
  }
  if (sem.causal) {
    // causal_fill fills every hidden key: future ones and (window) those
    // before the window.
    Value hidden = sem.rules.hidden(b, loc, kj, h.add(qi, sem.causalOff));
    v = h.sel(hidden, sem.causalFill ? h.f(*sem.causalFill) : h.f(-INFINITY), v);
  }
  return v;
}

/// Row-major indices of the flattened batch id `flat` over dims `qd[0, nb)`.
SmallVector<Value> batchIndices(KernelBuilder &h, Value flat, ArrayRef<Value> qd, int64_t nb) {
  SmallVector<Value> bIdx(nb);
  Value r = flat;
  for (int64_t i = nb - 1; i >= 0; --i) {
    bIdx[i] = h.rem(r, qd[i]);
    r = h.div(r, qd[i]);
  }
  return bIdx;
}

/// The batch indices of the key/value heads: head h / G under GQA.
SmallVector<Value> kvIndices(KernelBuilder &h, const Semantics &sem, ArrayRef<Value> bIdx) {
  SmallVector<Value> kv(bIdx);
  if (!kv.empty())
    kv.back() = sem.rules.kvHead(h.b, h.loc, kv.back());
  return kv;
}

/// buf[bIdx..., row, col] where buf's size-1 batch dims broadcast.
Value loadAt(KernelBuilder &h, Value buf, ArrayRef<Value> bIdx, Value row, Value col) {
  auto t = cast<MemRefType>(buf.getType());
  int64_t nb = bIdx.size(), off = nb + 2 - t.getRank();
  SmallVector<Value> ix;
  for (int64_t i = off; i < nb; ++i)
    ix.push_back(t.getDimSize(i - off) == 1 ? h.idx(0) : bIdx[i]);
  ix.push_back(row);
  ix.push_back(col);
  return h.load(buf, ix);
}

/// The placeholder call's operands: Q, K, V, [mask], the output buffer.
struct Operands {
  Value qBuf, kBuf, vBuf, mBuf, out;
  MemRefType qt, kt, vt;
  Type et;                 // the output's element type
  int64_t rank, nb, D, Dv; // nb batch dims; head dims of Q/K and V
  bool hasMask;

  static Operands of(func::CallOp call) {
    Operands o;
    o.hasMask = call->getAttrOfType<BoolAttr>("attn.has_mask").getValue();
    o.qBuf = call.getOperand(0), o.kBuf = call.getOperand(1), o.vBuf = call.getOperand(2);
    o.mBuf = o.hasMask ? call.getOperand(3) : Value();
    o.out = call.getOperands().back();
    o.qt = cast<MemRefType>(o.qBuf.getType());
    o.kt = cast<MemRefType>(o.kBuf.getType());
    o.vt = cast<MemRefType>(o.vBuf.getType());
    o.et = cast<MemRefType>(o.out.getType()).getElementType();
    o.rank = o.qt.getRank(), o.nb = o.rank - 2;
    o.D = o.qt.getDimSize(o.rank - 1), o.Dv = o.vt.getDimSize(o.rank - 1);
    return o;
  }
};

/// The dims of a buffer.
SmallVector<Value> bufferDims(OpBuilder &b, Location loc, Value m) {
  SmallVector<Value> d;
  for (int64_t i = 0, e = cast<MemRefType>(m.getType()).getRank(); i < e; ++i)
    d.push_back(memref::DimOp::create(b, loc, m, i));
  return d;
}

/// The product of the batch dims qd[0, nb) (grid y of both kernels).
Value batchCount(KernelBuilder &h, ArrayRef<Value> qd, int64_t nb) {
  Value batch = h.idx(1);
  for (int64_t i = 0; i < nb; ++i)
    batch = h.mul(batch, qd[i]);
  return batch;
}

/// Phase 2 (buffers): the placeholder call -> the flash-attention gpu.launch.
struct GpuAttentionLowering {
  func::CallOp call;
  unsigned index;
  bool tensorCores;

  /// Tensor cores need f16/bf16 Q/K/V (f32 accumulation) and head dims that
  /// tile by the mma shape; larger heads than 128 would spill the register
  /// accumulators, they take the SIMT kernel.
  bool useTensorCores(const Operands &o) {
    Type e = o.qt.getElementType();
    return tensorCores && (e.isF16() || e.isBF16()) && o.kt.getElementType() == e &&
           o.vt.getElementType() == e && o.D % 16 == 0 && o.Dv % 8 == 0 && o.D <= 128 &&
           o.Dv <= 128;
  }

  /// FlashAttention-2 on tensor cores (nvvm.mma.sync m16n8k16 row.col,
  /// f16 or bf16 multiplicands, f32 accumulators).
  /// A block of 4 warps owns 64 query rows, 16 per warp; a thread owns rows
  /// g and g + 8 of its warp's 16 (g = lane / 4) and, in each 8-column tile
  /// of an accumulator, columns 2 (lane % 4) and 2 (lane % 4) + 1: the
  /// m16n8k16 fragment layouts of PTX's ISA.
  ///   Q fragments: registers, loaded once from global memory;
  ///   per key tile of 64: K [64, D] and V^T [Dv, 64] staged in shared
  ///   memory (rows padded by 8 elements: fragment loads without bank
  ///   conflicts); S = Q K^T in registers (D/16 mma per 8 keys), the op's
  ///   edits, row max/sum over the 4 threads of a row (2 xor shuffles),
  ///   online rescaling of O; P (f16/bf16) is the A operand of P V as it
  ///   lies in registers (the C layout of two 8-column tiles is the A layout
  ///   of one 16-deep step), O += P V (Dv/8 mma per 16 keys).
  ///   out = O / l, l summed over the row's 4 threads at the end.
  /// Causal blocks skip key tiles past their last row; rows/keys outside the
  /// tensors read clamped (valid) addresses and are masked or not stored.
  LogicalResult runTensorCore(const Operands &o, Semantics sem) {
    OpBuilder ob(call);
    Location loc = call.getLoc();
    KernelBuilder h(ob, loc);
    OpBuilder &b = ob;
    const bool hasMask = o.hasMask;
    Value qBuf = o.qBuf, kBuf = o.kBuf, vBuf = o.vBuf, mBuf = o.mBuf, out = o.out;
    Type et = o.et, ht = o.qt.getElementType(); // f16 or bf16
    const int64_t rank = o.rank, nb = o.nb, D = o.D, Dv = o.Dv;
    // 64 query rows (4 warps x 16); 64 keys per tile, fewer for heads > 64
    // or with a mask (registers: a thread holds Dv/2 O, BK/2 S values, D/4 Q
    // registers, and BK/2 mask values in flight): no spills (ptxas -v).
    constexpr int64_t BQ = 64, kPad = 8;
    const bool bigHead = D > 64 || Dv > 64;
    const int64_t BK = bigHead && hasMask ? 16 : (bigHead || hasMask) ? 32 : 64;

    SmallVector<Value> qd = bufferDims(b, loc, qBuf), kd = bufferDims(b, loc, kBuf);
    Value Sq = qd[nb], Sk = kd[nb];
    Value numQT = arith::CeilDivUIOp::create(b, loc, Sq, h.idx(BQ));
    Value batch = batchCount(h, qd, nb);

    auto wg = gpu::AddressSpaceAttr::get(b.getContext(), gpu::AddressSpace::Workgroup);
    SmallVector<Type> attributions{
        MemRefType::get({BK, D + kPad}, ht, MemRefLayoutAttrInterface(), wg),   // K tile
        MemRefType::get({Dv, BK + kPad}, ht, MemRefLayoutAttrInterface(), wg)}; // V^T tile
    std::string name = kernelName(loc, "attention_tc", index);
    auto launch = gpukernel::createKernelLaunch(b, loc, numQT, batch, kThreads, attributions, name);
    {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(&launch.getBody().front());
      Value Ks = launch.getWorkgroupAttributions()[0], Vt = launch.getWorkgroupAttributions()[1];
      Value tid = launch.getThreadIds().x;
      Value qtile = launch.getBlockIds().x, bflat = launch.getBlockIds().y;
      Value c0 = h.idx(0), c1 = h.idx(1);
      Value ninf = h.f(-INFINITY), zero = h.f(0.0);
      SmallVector<Value> bIdx = batchIndices(h, bflat, qd, nb);
      SmallVector<Value> kvIdx = kvIndices(h, sem, bIdx);
      sem.causalOff = sem.rules.offset(b, loc, Sq, Sk);

      Value warp = h.div(tid, h.idx(32)), lane = h.rem(tid, h.idx(32));
      Value g = h.div(lane, h.idx(4)), t2 = h.mul(h.rem(lane, h.idx(4)), h.idx(2));
      Value qs = h.mul(qtile, h.idx(BQ));
      Value tq = h.minu(h.idx(BQ), h.sub(Sq, qs));
      Value rowBase = h.add(qs, h.mul(warp, h.idx(16)));
      Value rows[2] = {h.add(rowBase, g), h.add(rowBase, h.add(g, h.idx(8)))};
      Value sqLast = h.sub(Sq, c1), skLast = h.sub(Sk, c1);
      Value rowsC[2] = {h.minu(rows[0], sqLast), h.minu(rows[1], sqLast)};

      // Fragments and mma: Mma.h (the m16n8k16 layouts).
      using Acc = mma::Acc;
      auto pack = [&](Value lo, Value hi) { return mma::pack(b, loc, lo, hi, ht); };
      auto mmaOp = [&](ArrayRef<Value> a, ArrayRef<Value> bb, const Acc &c) {
        return mma::mma(b, loc, a, bb, c, ht);
      };
      auto shuffleXor = [&](Value v, int32_t m) -> Value {
        return gpu::ShuffleOp::create(b, loc, v, m, 32, gpu::ShuffleMode::XOR).getShuffleResult();
      };
      // B fragment from a [n][k] shared tile: (n, k0 + t2 + {0, 1}) and
      // (n, k0 + 8 + t2 + {0, 1}).
      auto pair = [&](Value tile, Value n, Value k) { return mma::loadPair(b, loc, tile, n, k, ht); };
      auto bFragment = [&](Value tile, Value n, int64_t k0) -> SmallVector<Value> {
        Value k = h.add(t2, h.idx(k0));
        return {pair(tile, n, k), pair(tile, n, h.add(k, h.idx(8)))};
      };

      // Q fragments (A operands of S = Q K^T), one per 16 columns of D.
      SmallVector<SmallVector<Value>> qFrag;
      for (int64_t kk = 0; kk < D / 16; ++kk) {
        Value c = h.add(t2, h.idx(kk * 16));
        auto q = [&](int r, Value col) { return loadAt(h, qBuf, bIdx, rowsC[r], col); };
        Value c8 = h.add(c, h.idx(8));
        qFrag.push_back({pack(q(0, c), q(0, h.add(c, c1))), pack(q(1, c), q(1, h.add(c, c1))),
                         pack(q(0, c8), q(0, h.add(c8, c1))), pack(q(1, c8), q(1, h.add(c8, c1)))});
      }

      // Causal: key tiles past the block's last query row (and, with a
      // window, before its first row's window) are skipped.
      Value kEnd = Sk, kBegin = c0;
      if (sem.causal && !sem.causalFill) {
        kEnd = sem.rules.keyEnd(b, loc, h.add(h.sub(h.add(qs, tq), c1), sem.causalOff), Sk);
        if (sem.rules.window)
          kBegin = arith::MinSIOp::create(
              b, loc, sem.rules.keyBegin(b, loc, h.add(qs, sem.causalOff)), kEnd);
      }

      const int64_t nO = Dv / 8;
      const Acc accZero{zero, zero, zero, zero};
      SmallVector<Value> init(4 * nO, zero);  // O, 4 per 8 columns
      init.append({ninf, ninf, zero, zero}); // m[2], l[2] (l: this thread's part)
      auto loop = scf::ForOp::create(b, loc, kBegin, kEnd, h.idx(BK), init);
      {
        OpBuilder::InsertionGuard g2(b);
        b.setInsertionPointToStart(loop.getBody());
        Value ks = loop.getInductionVar();
        auto iter = loop.getRegionIterArgs();
        SmallVector<Acc> O(nO);
        for (int64_t i = 0; i < 4 * nO; ++i)
          O[i / 4][i % 4] = iter[i];
        const int64_t ml = 4 * nO;
        Value m[2] = {iter[ml], iter[ml + 1]}, l[2] = {iter[ml + 2], iter[ml + 3]};

        // Stage K and V^T (the previous tile's readers are done).
        h.barrier();
        auto stage = [&](Value src, Value dst, int64_t width, bool transpose) {
          Value cW = h.idx(width);
          h.loop(tid, h.idx(BK * width), h.idx(kThreads), [&](Value e) {
            Value j = h.div(e, cW), c = h.rem(e, cW);
            Value v = loadAt(h, src, kvIdx, h.minu(h.add(ks, j), skLast), c);
            if (transpose)
              h.store(v, dst, {c, j});
            else
              h.store(v, dst, {j, c});
          });
        };
        stage(kBuf, Ks, D, false);
        stage(vBuf, Vt, Dv, true);
        h.barrier();

        // S = Q K^T, edited; per 8 keys one accumulator.
        SmallVector<std::array<Value, 4>> S; // [tile][r * 2 + c]
        for (int64_t nt = 0; nt < BK / 8; ++nt) {
          Acc acc = accZero;
          Value n = h.add(g, h.idx(nt * 8));
          for (int64_t kk = 0; kk < D / 16; ++kk)
            acc = mmaOp(qFrag[kk], bFragment(Ks, n, kk * 16), acc);
          std::array<Value, 4> e;
          for (int r = 0; r < 2; ++r)
            for (int c = 0; c < 2; ++c) {
              Value kj = h.add(ks, h.add(t2, h.idx(nt * 8 + c)));
              Value v = editScore(h, sem, acc[r * 2 + c], rowsC[r], h.minu(kj, skLast),
                                  mBuf, bIdx, rank);
              e[r * 2 + c] = h.sel(h.ult(kj, kEnd), v, ninf);
            }
          S.push_back(e);
        }

        // Online softmax over the row's 4 threads.
        Value alpha[2], mNew[2];
        for (int r = 0; r < 2; ++r) {
          Value mx = ninf;
          for (auto &e : S)
            mx = h.fmax(mx, h.fmax(e[r * 2], e[r * 2 + 1]));
          mx = h.fmax(mx, shuffleXor(mx, 1));
          mx = h.fmax(mx, shuffleXor(mx, 2));
          mNew[r] = h.fmax(m[r], mx);
          // 0 where m' = -inf: a fully masked prefix gives exp(-inf) = 0.
          Value isNinf = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OEQ, mNew[r], ninf);
          Value mSafe = h.sel(isNinf, zero, mNew[r]);
          alpha[r] = h.exp(h.fsub(m[r], mSafe));
          Value sum = zero;
          for (auto &e : S)
            for (int c = 0; c < 2; ++c) {
              e[r * 2 + c] = h.exp(h.fsub(e[r * 2 + c], mSafe));
              sum = h.fadd(sum, e[r * 2 + c]);
            }
          l[r] = h.fadd(h.fmul(l[r], alpha[r]), sum);
        }
        for (Acc &o : O)
          for (int i = 0; i < 4; ++i)
            o[i] = h.fmul(o[i], alpha[i / 2]);

        // O += P V, 16 keys per step.
        auto half = [&](Value v) { return h.fromF32(v, ht); };
        for (int64_t kk = 0; kk < BK / 16; ++kk) {
          auto &lo = S[2 * kk], &hi = S[2 * kk + 1];
          SmallVector<Value> a{pack(half(lo[0]), half(lo[1])), pack(half(lo[2]), half(lo[3])),
                               pack(half(hi[0]), half(hi[1])), pack(half(hi[2]), half(hi[3]))};
          for (int64_t nv = 0; nv < nO; ++nv)
            O[nv] = mmaOp(a, bFragment(Vt, h.add(g, h.idx(nv * 8)), kk * 16), O[nv]);
        }
        SmallVector<Value> yield;
        for (Acc &o : O)
          yield.append(o.begin(), o.end());
        yield.append({mNew[0], mNew[1], l[0], l[1]});
        scf::YieldOp::create(b, loc, yield);
      }

      // out = O / l (l summed over the row's threads; 0 gives NaN as PyTorch).
      for (int r = 0; r < 2; ++r) {
        Value l = loop.getResult(4 * nO + 2 + r);
        l = h.fadd(l, shuffleXor(l, 1));
        l = h.fadd(l, shuffleXor(l, 2));
        h.ifThen(h.ult(rows[r], Sq), [&] {
          for (int64_t nv = 0; nv < nO; ++nv)
            for (int c = 0; c < 2; ++c) {
              Value v = arith::DivFOp::create(b, loc, loop.getResult(4 * nv + 2 * r + c), l);
              if (sem.nanToZero)
                v = h.sel(arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGT, l, zero), v,
                          zero);
              SmallVector<Value> ix(bIdx.begin(), bIdx.end());
              ix.push_back(rows[r]);
              ix.push_back(h.add(t2, h.idx(nv * 8 + c)));
              h.store(h.fromF32(v, et), out, ix);
            }
        });
      }
      gpu::TerminatorOp::create(b, loc);
    }
    return eraseCall();
  }

  LogicalResult eraseCall() {
    gpukernel::erasePlaceholderCall(call);
    return success();
  }

  LogicalResult run() {
    const Operands o = Operands::of(call);
    int64_t G = 1;
    if (o.nb >= 1) {
      int64_t hq = o.qt.getDimSize(o.nb - 1), hk = o.kt.getDimSize(o.nb - 1);
      if (!ShapedType::isDynamic(hq) && !ShapedType::isDynamic(hk) && hk > 0 && hq != hk)
        G = hq / hk;
    }
    Semantics sem = Semantics::of(call, G);
    if (useTensorCores(o))
      return runTensorCore(o, sem);

    OpBuilder ob(call);
    Location loc = call.getLoc();
    KernelBuilder h(ob, loc);
    OpBuilder &b = ob;
    Value qBuf = o.qBuf, kBuf = o.kBuf, vBuf = o.vBuf, mBuf = o.mBuf, out = o.out;
    MemRefType qt = o.qt, kt = o.kt, vt = o.vt;
    Type et = o.et;
    const int64_t rank = o.rank, nb = o.nb, D = o.D, Dv = o.Dv;

    // Largest tile whose shared-memory working set fits the static limit.
    int64_t tile = 0;
    for (int64_t t : {32, 16, 8}) {
      int64_t bytes = 4 * (t * D + t * D + t * Dv + t * t + t * Dv + 3 * t);
      if (bytes <= kSharedLimit) {
        tile = t;
        break;
      }
    }
    if (!tile)
      return call.emitError("attn.attention head dims ")
             << D << "/" << Dv << " are too large for the GPU kernel's shared memory";
    const int64_t BQ = tile, BK = tile;

    SmallVector<Value> qd = bufferDims(b, loc, qBuf), kd = bufferDims(b, loc, kBuf);
    Value Sq = qd[nb], Sk = kd[nb];

    // Grid: x = query tiles, y = flattened batch dims.
    Value numQT = arith::CeilDivUIOp::create(b, loc, Sq, h.idx(BQ));
    Value batch = batchCount(h, qd, nb);

    auto wg = gpu::AddressSpaceAttr::get(b.getContext(), gpu::AddressSpace::Workgroup);
    auto shared = [&](ArrayRef<int64_t> shape) {
      return MemRefType::get(shape, h.f32, MemRefLayoutAttrInterface(), wg);
    };
    SmallVector<Type> attributions{shared({BQ, D}),  shared({BK, D}),  shared({BK, Dv}),
                                   shared({BQ, BK}), shared({BQ, Dv}), shared({BQ}),
                                   shared({BQ}),     shared({BQ})};
    std::string name = kernelName(loc, "attention", index);
    auto launch = gpukernel::createKernelLaunch(b, loc, numQT, batch, kThreads, attributions, name);
    {
      OpBuilder::InsertionGuard g(b);
      Block &body = launch.getBody().front();
      b.setInsertionPointToStart(&body);
      ArrayRef<BlockArgument> wgArgs = launch.getWorkgroupAttributions();
      Value Qs = wgArgs[0], Ks = wgArgs[1], Vs = wgArgs[2], S = wgArgs[3], O = wgArgs[4],
            mS = wgArgs[5], lS = wgArgs[6], aS = wgArgs[7];
      Value tid = launch.getThreadIds().x;
      Value qtile = launch.getBlockIds().x, bflat = launch.getBlockIds().y;
      Value c0 = h.idx(0), c1 = h.idx(1), cNT = h.idx(kThreads);
      Value cD = h.idx(D), cDv = h.idx(Dv), cBQ = h.idx(BQ), cBK = h.idx(BK);
      Value ninf = h.f(-INFINITY), zero = h.f(0.0);

      SmallVector<Value> bIdx = batchIndices(h, bflat, qd, nb);
      SmallVector<Value> kvIdx = kvIndices(h, sem, bIdx);
      sem.causalOff = sem.rules.offset(b, loc, Sq, Sk);
      auto at = [&](Value buf, MemRefType, Value row, Value col) {
        return loadAt(h, buf, buf == qBuf ? bIdx : kvIdx, row, col);
      };

      Value qs = h.mul(qtile, cBQ);
      Value tq = h.minu(cBQ, h.sub(Sq, qs));

      // Q tile, accumulators.
      h.loop(tid, h.idx(BQ * D), cNT, [&](Value e) {
        Value i = h.div(e, cD), c = h.rem(e, cD);
        auto ifOp = scf::IfOp::create(b, loc, TypeRange{h.f32}, h.ult(i, tq), true);
        {
          OpBuilder::InsertionGuard g2(b);
          b.setInsertionPointToStart(&ifOp.getThenRegion().front());
          scf::YieldOp::create(b, loc, h.toF32(at(qBuf, qt, h.add(qs, i), c)));
          b.setInsertionPointToStart(&ifOp.getElseRegion().front());
          scf::YieldOp::create(b, loc, zero);
        }
        h.store(ifOp.getResult(0), Qs, {i, c});
      });
      h.loop(tid, h.idx(BQ * Dv), cNT, [&](Value e) {
        h.store(zero, O, {h.div(e, cDv), h.rem(e, cDv)});
      });
      h.loop(tid, cBQ, cNT, [&](Value i) {
        h.store(ninf, mS, {i});
        h.store(zero, lS, {i});
      });
      h.barrier();

      // Causal: key tiles past the tile's last query row (and, with a
      // window, before its first row's window) are skipped.
      Value kEnd = Sk, kBegin = c0;
      if (sem.causal && !sem.causalFill) {
        kEnd = sem.rules.keyEnd(b, loc, h.add(h.sub(h.add(qs, tq), c1), sem.causalOff), Sk);
        if (sem.rules.window)
          kBegin = arith::MinSIOp::create(
              b, loc, sem.rules.keyBegin(b, loc, h.add(qs, sem.causalOff)), kEnd);
      }

      h.loop(kBegin, kEnd, cBK, [&](Value ks) {
        Value tk = h.minu(cBK, h.sub(kEnd, ks));
        auto loadTile = [&](Value src, MemRefType t, Value dst, int64_t width) {
          Value cW = h.idx(width);
          h.loop(tid, h.idx(BK * width), cNT, [&](Value e) {
            Value j = h.div(e, cW), c = h.rem(e, cW);
            auto ifOp = scf::IfOp::create(b, loc, TypeRange{h.f32}, h.ult(j, tk), true);
            {
              OpBuilder::InsertionGuard g2(b);
              b.setInsertionPointToStart(&ifOp.getThenRegion().front());
              scf::YieldOp::create(b, loc, h.toF32(at(src, t, h.add(ks, j), c)));
              b.setInsertionPointToStart(&ifOp.getElseRegion().front());
              scf::YieldOp::create(b, loc, zero);
            }
            h.store(ifOp.getResult(0), dst, {j, c});
          });
        };
        loadTile(kBuf, kt, Ks, D);
        loadTile(vBuf, vt, Vs, Dv);
        h.barrier();

        // Scores with the op's exact edits.
        h.loop(tid, h.idx(BQ * BK), cNT, [&](Value e) {
          Value i = h.div(e, cBK), j = h.rem(e, cBK);
          Value s = h.reduce(c0, cD, zero, [&](Value c, Value acc) {
            return h.fadd(acc, h.fmul(h.load(Qs, {i, c}), h.load(Ks, {j, c})));
          });
          Value qi = h.add(qs, i), kj = h.add(ks, j);
          Value inside = arith::AndIOp::create(b, loc, h.ult(i, tq), h.ult(j, tk));
          // Masked-out positions outside the tile are never read.
          auto ifOp = scf::IfOp::create(b, loc, TypeRange{h.f32}, inside, true);
          {
            OpBuilder::InsertionGuard g2(b);
            b.setInsertionPointToStart(&ifOp.getThenRegion().front());
            Value v = editScore(h, sem, s, qi, kj, mBuf, bIdx, rank);
            scf::YieldOp::create(b, loc, v);
            b.setInsertionPointToStart(&ifOp.getElseRegion().front());
            scf::YieldOp::create(b, loc, ninf);
          }
          h.store(ifOp.getResult(0), S, {i, j});
        });
        h.barrier();

        // Online softmax, one thread per row.
        h.loop(tid, cBQ, cNT, [&](Value i) {
          Value mOld = h.load(mS, {i});
          Value rowMax = h.reduce(c0, cBK, ninf, [&](Value j, Value acc) {
            return h.fmax(acc, h.load(S, {i, j}));
          });
          Value mNew = h.fmax(mOld, rowMax);
          // 0 where m' = -inf, so that fully masked prefixes give exp(-inf) = 0.
          Value isNinf = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OEQ, mNew, ninf);
          Value mSafe = h.sel(isNinf, zero, mNew);
          Value alpha = h.exp(h.fsub(mOld, mSafe));
          Value sum = h.reduce(c0, cBK, zero, [&](Value j, Value acc) {
            Value p = h.exp(h.fsub(h.load(S, {i, j}), mSafe));
            h.store(p, S, {i, j});
            return h.fadd(acc, p);
          });
          h.store(h.fadd(h.fmul(h.load(lS, {i}), alpha), sum), lS, {i});
          h.store(mNew, mS, {i});
          h.store(alpha, aS, {i});
        });
        h.barrier();

        // O = alpha O + P . V
        h.loop(tid, h.idx(BQ * Dv), cNT, [&](Value e) {
          Value i = h.div(e, cDv), c = h.rem(e, cDv);
          Value init = h.fmul(h.load(O, {i, c}), h.load(aS, {i}));
          Value acc = h.reduce(c0, cBK, init, [&](Value j, Value a) {
            return h.fadd(a, h.fmul(h.load(S, {i, j}), h.load(Vs, {j, c})));
          });
          h.store(acc, O, {i, c});
        });
        h.barrier();
      });

      // out = O / l (deferred normalization; l = 0 gives NaN as PyTorch).
      h.loop(tid, h.idx(BQ * Dv), cNT, [&](Value e) {
        Value i = h.div(e, cDv), c = h.rem(e, cDv);
        h.ifThen(h.ult(i, tq), [&] {
          Value l = h.load(lS, {i});
          Value v = arith::DivFOp::create(b, loc, h.load(O, {i, c}), l);
          if (sem.nanToZero)
            v = h.sel(arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGT, l, zero), v, zero);
          SmallVector<Value> ix(bIdx.begin(), bIdx.end());
          ix.push_back(h.add(qs, i));
          ix.push_back(c);
          h.store(h.fromF32(v, et), out, ix);
        });
      });
      gpu::TerminatorOp::create(b, loc);
    }
    return eraseCall();
  }
};

struct GpuLowerAttentionPass
    : attn::impl::GpuLowerAttentionPassBase<GpuLowerAttentionPass> {
  using Base::Base;
  void runOnOperation() override {
    // Attention ops first become placeholder calls (tensor phase); a later
    // run of the pass turns placeholder calls into kernels (buffer phase).
    ModuleOp module = getOperation();
    SmallVector<AttentionOp> ops;
    module.walk([&](AttentionOp op) { ops.push_back(op); });
    unsigned index = 0;
    for (AttentionOp op : ops)
      if (failed(replaceWithPlaceholder(op, index++)))
        return signalPassFailure();
    if (!ops.empty())
      return;
    SmallVector<func::CallOp> calls = gpukernel::placeholderCalls(module, kPlaceholder);
    index = 0;
    for (func::CallOp c : calls)
      if (failed(GpuAttentionLowering{c, index++, tensorCores}.run()))
        return signalPassFailure();
  }
};

} // namespace
