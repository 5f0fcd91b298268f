//===- Passes.td - attnc passes ---------------------------*- tablegen -*-===//
#ifndef ATTN_COMPILER_PASSES_TD
#define ATTN_COMPILER_PASSES_TD

include "mlir/Pass/PassBase.td"

//===----------------------------------------------------------------------===//
// Graph passes (compiler/lib/Graph): attn dialect -> attn dialect, target independent
//===----------------------------------------------------------------------===//

def SimplifyMasksPass : Pass<"attn-simplify-masks", "func::FuncOp"> {
  let summary = "Fold always-true comparisons in mask subgraphs and move broadcasts towards their users";
  let description = [{
    Masks that exports build in the graph (transformers 5's masking_utils,
    PyTorch's SDPA export) compare `range(0, n)` with 0, `And` with constant
    true and `Expand` to `[B, 1, Sq, Sk]` before a `Where`. This pass rewrites
    a comparison that the operand's values decide into `expand(true|false,
    shape(x))`, `and(expand(true, s), y)` into `expand(y, s)` (also
    `or(false, ...)` and splat constants), and `select(expand(c, s), a, b)`
    with scalar-like branches into `expand(select(c, a, b), s)`, so that
    attn-fuse-attention finds the small mask under the broadcasts. Every
    rewrite keeps result types and values.
  }];
  let dependentDialects = ["::mlir::attn::AttnDialect", "::mlir::arith::ArithDialect"];
}

def FuseAttentionPass : Pass<"attn-fuse-attention", "func::FuncOp"> {
  let summary = "Fuse matmul -> scale -> mask -> softmax -> matmul into attn.attention";
  let description = [{
    Matches the score chain `matmul(Q, transpose(K))`, an optional scale (Mul
    or Div by a scalar, on Q, K or the scores), an optional mask (additive,
    or select with a fill value, before or after the scale), `attn.softmax`
    on the last axis and the final `matmul` with V, and replaces it with one
    `attn.attention` whose attributes record the exact semantics. Causal masks
    become the `causal` flag, also when combined with a padding mask in one
    `Where(causal & padding, 0, min)` (then `causal_fill` where `min` is finite);
    PyTorch's SDPA `Where(IsNaN(p), 0, p)` becomes `nan_to_zero`. Chains whose
    intermediates have other users, whose softmax is not on the last axis, or
    whose scale is not a scalar are left alone, with a remark saying why.
  }];
  let dependentDialects = ["::mlir::attn::AttnDialect"];
  let options = [
    Option<"remarks", "remarks", "bool", /*default=*/"true",
           "Emit a remark at every softmax left unfused, saying why">
  ];
}

def FuseGeluPass : Pass<"attn-fuse-gelu", "func::FuncOp"> {
  let summary = "Recognize decomposed GELU (erf or tanh form) as attn.gelu";
  let description = [{
    Exporters decompose GELU below opset 20: `x * 0.5 * (1 + erf(x / sqrt(2)))`
    (nn.GELU, BERT) or `0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3)))`
    (GPT-2's gelu_new), with the products in any order and the scalar
    factors as Mul or Div by constants. Each becomes one `attn.gelu` (with
    `tanh_approximation` for the second), which `attn-fuse-linear` can then
    move into a matmul epilogue.
  }];
  let dependentDialects = ["::mlir::attn::AttnDialect"];
}

def FuseLinearPass : Pass<"attn-fuse-linear", "func::FuncOp"> {
  let summary = "Fold bias add and activation into matmul: attn.linear";
  let description = [{
    `attn.matmul(x [.., K], W [K, N])`, optionally followed by `attn.add` of a
    bias that broadcasts only along N and by `attn.relu` / `attn.gelu`, becomes
    one `attn.linear`: the CPU kernel adds the bias and applies the activation
    to its register tiles before storing them, so the [.., N] result is
    written once and never re-read for the epilogue. Intermediates with other
    users stay where they are (no fusion across them).
  }];
  let dependentDialects = ["::mlir::attn::AttnDialect"];
}

def MergeProjectionsPass : Pass<"attn-merge-projections", "func::FuncOp"> {
  let summary = "Merge attn.linear ops sharing one input into one multi-result attn.linear";
  let description = [{
    Q/K/V projections (and any other Linear layers) that read the same input
    with constant weights, the same activation and constant (or no) biases
    become one `attn.linear` whose weight and bias are the concatenations
    (built once at compile time) and whose results split N back into the
    original outputs: the input is read once and the kernel has N/W times
    more column blocks to share between threads.
  }];
  let options = [
    Option<"releaseWeights", "release-weights", "bool", /*default=*/"false",
           "Free the original weights' blobs as soon as their copies stand (only for a module the caller owns, with one function: attnc sets it)">
  ];
  let dependentDialects = ["::mlir::attn::AttnDialect"];
}

def SplitLinearResultsPass : Pass<"attn-split-linear-results", "func::FuncOp"> {
  let summary = "Turn column slices of an attn.linear's result into separate results";
  let description = [{
    nn.MultiheadAttention's packed in-projection computes [Q | K | V] with one
    matmul and cuts it apart: Slice along the last axis (PyTorch 1.13) or
    unflatten + transpose + Gather (PyTorch 2.x), both copies. When every use
    of the result provably reads a column range of it (through slices,
    row-major reshapes, transposes and constant gathers that keep "element =
    y[row][column]"), the linear returns one result per range and those
    values are replaced by the results (reshaped when their static shape
    differs): no transpose, no gather, no copy.
  }];
  let dependentDialects = ["::mlir::attn::AttnDialect", "::mlir::arith::ArithDialect",
                           "::mlir::tensor::TensorDialect"];
}

def FoldAttentionTransposesPass : Pass<"attn-fold-attention-transposes", "func::FuncOp"> {
  let summary = "Absorb the head split/merge transposes into attn.attention's layout perms";
  let description = [{
    The Transpose(0, 2, 1, 3) that exporters put between the head-split
    Reshape and attention (and its inverse after) copies Q, K, V and the
    output. Each transpose feeding attn.attention becomes its query_perm /
    key_perm / value_perm, and a transpose of its result (its only use)
    becomes result_perm, composing with perms already there, as long as the
    head dim stays the innermost stored dim. The kernels then read and write
    the model's [B, S, H, D] tensors in place.
  }];
  let dependentDialects = ["::mlir::attn::AttnDialect"];
}

def FoldShapeArithmeticPass : Pass<"attn-fold-shape-arithmetic", "func::FuncOp"> {
  let summary = "Replace shape tensors computed by attn ops with scalar arithmetic";
  let description = [{
    Small integer tensors (rank <= 1, at most 16 elements) whose elements
    follow from constants and tensor dims (attn.shape, gather with constant
    indices, concat, reshape, slice with constant parameters, integer
    add/sub/mul/div/max/min, cmp, select, integer casts) become constants or
    `tensor.from_elements` of scalars computed from `tensor.dim`. Their
    consumers (reshape, expand, range, ...) read them with tensor.extract,
    which folds: no loops or GPU kernels for shape arithmetic, no device
    reads by the host.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect", "::mlir::tensor::TensorDialect"];
}

def FuseResidualLayerNormPass : Pass<"attn-fuse-residual-layernorm", "func::FuncOp"> {
  let summary = "Fold the residual add before a LayerNorm into attn.layer_norm";
  let description = [{
    `attn.layer_norm(attn.add(a, b))` with `a`, `b` and the sum of one type and
    the sum used only by the LayerNorm becomes `attn.layer_norm(a) residual(b)`:
    the sum is formed while the row is normalized, never stored separately.
  }];
  let dependentDialects = ["::mlir::attn::AttnDialect"];
}

def FuseRmsNormPass : Pass<"attn-fuse-rms-norm", "func::FuncOp"> {
  let summary = "Recognize decomposed RMSNorm (with its residual add) as attn.rms_norm";
  let description = [{
    `x * (1/sqrt(mean(x^2) + eps)) * w` as exporters spell it (Pow or Mul for
    the square, ReduceMean over trailing axes, Reciprocal or Div(1, .) or
    Div(x, .), operands in any order, optionally in f32 between Casts from and
    back to a narrower type) becomes `attn.rms_norm` with scale `w`: Gemma's
    constant `1 + w` is folded into a new constant, no weight gives ones.
    When `x = a + b` (one type) the add becomes the residual operand; if the
    sum has other users (the pre-norm residual stream) they read the op's
    second result.
  }];
  let dependentDialects = ["::mlir::attn::AttnDialect"];
}

def FuseRotaryPass : Pass<"attn-fuse-rotary", "func::FuncOp"> {
  let summary = "Recognize rotary position embeddings as attn.rotary";
  let description = [{
    `x * cos + rotate(x) * sin` becomes `attn.rotary(x, cos, sin)`: rotate is
    Hugging Face's `rotate_half` (`concat(-x[..., R/2:], x[..., :R/2])`) or,
    with `interleaved`, GPT-J's `rotate_every_two` (pairs of channels);
    partial rotary (`concat(rotary(x[..., :R]), x[..., R:])`) becomes one
    op on the whole `x`. A rotary op on a head transpose that keeps the last
    dim is then moved above it (cos/sin transposed instead), so that the
    transpose can still fold into attn.attention.
  }];
  let dependentDialects = ["::mlir::attn::AttnDialect"];
}

def FuseGatedMlpPass : Pass<"attn-fuse-gated-mlp", "func::FuncOp"> {
  let summary = "Gated MLPs (SwiGLU, GeGLU) into one gated attn.linear";
  let description = [{
    `act(x·W_gate + b_gate) * (x·W_up + b_up)` becomes one
    `attn.linear {gated}` on `[W_gate | W_up]`: from two linears of the same
    input (Llama, Qwen2, Mistral, Gemma; the weights are concatenated into a
    new constant, or an attn.concat when they are not constants) or from the
    two column halves of one packed linear (Phi-3's gate_up_proj, the
    activation still unfused on the gate half: SiLU in either form, GELU,
    ReLU). The gating then runs in the matmul's epilogue.
  }];
  let options = [
    Option<"releaseWeights", "release-weights", "bool", /*default=*/"false",
           "Free the original weights' blobs as soon as their copies stand (only for a module the caller owns, with one function: attnc sets it)">
  ];
  let dependentDialects = ["::mlir::attn::AttnDialect"];
}

def LastPositionLogitsPass : Pass<"attn-last-position-logits", "ModuleOp"> {
  let summary = "attnc --logits=last: compute the output 'logits' for the last sequence position only";
  let description = [{
    Cuts the hidden state [B, S, H] that feeds the row-wise chain making the
    output `logits` (attn.linear / attn.matmul with a rank-2 weight, RMSNorm
    / LayerNorm over the last axis, elementwise ops with a rank <= 1 other
    operand) to its last position with an attn.slice, so `logits` is
    [B, 1, V]: the lm_head runs on B rows instead of B*S. Cut before the
    final norm when the chain allows, else right before the final linear.
    Sets the signature's logits shape[1] to 1 and "logits": "last". A model
    without an output `logits`, or whose logits are not made by such a
    chain, is refused with an error.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect"];
}

def KvCachePass : Pass<"attn-kv-cache", "ModuleOp"> {
  let summary = "attnc --kv-cache=N: past K/V inputs become in-place cache buffers of N positions";
  let description = [{
    For a with-past export (inputs `past_key_values.{i}.key|value` or
    `past_key_{i}` / `past_value_{i}`, outputs `present...` =
    Concat(past, new, axis 2)): each past input becomes a cache
    [B, kvh, N, D] the model writes the new rows into (positions [P, P+T)),
    the input `past_sequence_length` (i64, rank 0: P) is appended, the
    present outputs are removed and their readers read the view [0, P+T) of
    the cache. A run-time check reports "context full" when P < 0 or
    P + T > N. Rewrites the module's attn.signature accordingly (the
    "kv_cache" key). Anything else (a present that is not a Concat of its
    past, unpaired names, a static past length) is refused with an error.
  }];
  let options = [
    Option<"maxLen", "max-len", "int64_t", /*default=*/"0", "Positions in each cache (N)">
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect", "::mlir::tensor::TensorDialect",
                           "::mlir::bufferization::BufferizationDialect"];
}

//===----------------------------------------------------------------------===//
// attn -> linalg (compiler/lib/ToLinalg), both targets
//===----------------------------------------------------------------------===//

def LowerAttnToLinalgPass : Pass<"attn-lower-to-linalg", "func::FuncOp"> {
  let summary = "Lower attn tensor ops (all but attn.attention) to linalg/tensor/arith";
  let description = [{
    Elementwise ops become broadcasting `linalg.generic`s, matmul becomes a
    batched `linalg.generic` contraction, layout ops become `linalg.transpose`
    / `tensor.reshape`, reductions and softmax become reduction generics.
    Dynamic dims are read with `tensor.dim`; nothing assumes static shapes.
    With `vector-width` set, f32 Linear layers ([.., K] x [K, N], static K
    and N) use a register-blocked vector kernel instead of linalg.matmul.
  }];
  let options = [
    Option<"vectorWidth", "vector-width", "int64_t", /*default=*/"0",
           "f32 lanes of the matmul kernel (8: AVX2, 16: AVX-512); 0 keeps linalg.matmul">,
    Option<"releaseWeights", "release-weights", "bool", /*default=*/"false",
           "Free a constant weight's blob once the kernel's packed copy stands and nothing else reads it (only for a module the caller owns, with one function: attnc sets it)">
  ];
  let dependentDialects = ["::mlir::linalg::LinalgDialect",
                           "::mlir::tensor::TensorDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::cf::ControlFlowDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::vector::VectorDialect",
                           "::mlir::bufferization::BufferizationDialect"];
}

//===----------------------------------------------------------------------===//
// CPU kernels and CPU-only lowerings (compiler/lib/CPU)
//===----------------------------------------------------------------------===//

def LowerAttentionToLoopsPass : Pass<"attn-lower-attention", "func::FuncOp"> {
  let summary = "Lower attn.attention to a tiled flash-attention loop nest";
  let description = [{
    Each (batch, query tile) iterates over key tiles, keeping a running max,
    a running sum and an unnormalized output accumulator (online softmax);
    the Sq x Sk score matrix is never materialized, only one query-tile x
    key-tile block at a time. Causal attention stops at the diagonal tile.
  }];
  let options = [
    Option<"queryTile", "query-tile", "int64_t", /*default=*/"48", "Query rows per tile">,
    Option<"keyTile", "key-tile", "int64_t", /*default=*/"64", "Key rows per tile">,
    Option<"vectorWidth", "vector-width", "int64_t", /*default=*/"0",
           "f32 lanes of the register-blocked kernel (8: AVX2, 16: AVX-512); 0 keeps the generic tensor lowering">
  ];
  let dependentDialects = ["::mlir::linalg::LinalgDialect",
                           "::mlir::tensor::TensorDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::vector::VectorDialect",
                           "::mlir::bufferization::BufferizationDialect"];
}

def VectorizeElementwisePass : Pass<"attn-vectorize-elementwise", "func::FuncOp"> {
  let summary = "Write all-parallel elementwise linalg.generic ops as parallel vector loops";
  let description = [{
    What the fused kernels leave (residual adds of pre-LN blocks, embedding
    sums, casts, unfused softmax/normalization steps) would otherwise become
    scalar single-threaded loops. Each all-parallel generic whose operands
    are full-shape, per-column (bias), per-row or single-element and whose
    body is arith/math ops becomes a loop over rows (an scf.forall over row
    chunks when large) with a vector loop over the columns and a masked
    tail. Others are left to convert-linalg-to-loops.
  }];
  let options = [
    Option<"vectorWidth", "vector-width", "int64_t", /*default=*/"0",
           "f32 lanes of a vector register (8: AVX2, 16: AVX-512); 0 disables the pass">
  ];
  let dependentDialects = ["::mlir::vector::VectorDialect", "::mlir::scf::SCFDialect",
                           "::mlir::memref::MemRefDialect", "::mlir::tensor::TensorDialect",
                           "::mlir::bufferization::BufferizationDialect",
                           "::mlir::arith::ArithDialect"];
}

def ApproximateMathPass : Pass<"attn-approximate-math"> {
  let summary = "Rewrite math.exp/erf/tanh/... into vectorizable polynomial approximations";
  let description = [{
    `convert-math-to-llvm` turns `math.exp` on vectors into scalar libm calls;
    MLIR's polynomial approximations give FMA-only code that vectorizes and
    needs no libm. Ops without an approximation are left for libm.
    Also expands f32 <-> bf16 `arith.extf`/`arith.truncf` into integer
    arithmetic (round to nearest even), so that no compiler-rt call
    (`__truncsfbf2`) is left for the model library's link.
  }];
  let dependentDialects = ["::mlir::math::MathDialect", "::mlir::arith::ArithDialect",
                           "::mlir::vector::VectorDialect"];
}

def OutlineKernelsPass : Pass<"attn-outline-kernels", "ModuleOp"> {
  let summary = "Outline the CPU kernels' regions into functions and share identical ones";
  let description = [{
    The CPU kernel builders (matmul, attention, layer/RMS norm, rotary) and
    the slow-path copies of run-time size checks (conform) write each kernel
    inside an `scf.execute_region {attn.kernel = ...}`
    (compiler/lib/Support/KernelRegion.h). After bufferization this pass turns
    every such region into a private function whose arguments are the
    buffers and values the region reads from outside (constants are cloned
    in), replaces the region by a call, and then merges functions whose
    bodies are identical. The layers of a model differ only in their
    weights, which are arguments: their kernels become one function each,
    compiled once instead of once per layer. It also removes the module's
    `attn.kernel_regions` mark (set by the CPU pipeline before lowering).
  }];
  let dependentDialects = ["::mlir::func::FuncDialect"];
}

def ShareKernelRegionsPass : Pass<"attn-share-kernel-regions", "ModuleOp"> {
  let summary = "Before bufferization: process each distinct kernel region once";
  let description = [{
    Right after attn -> linalg, every kernel region (KernelRegion.h) becomes a
    private function of the tensors and values it reads from outside
    (constants, casts and index values that fold to constants are cloned in;
    weights are arguments), and regions with identical bodies call one
    function. The passes before bufferization (canonicalization, CSE,
    elementwise fusion and vectorization) then see one copy of each kernel
    instead of one per layer, one function per thread.
    `attn-inline-kernel-regions` puts a copy back at every call before
    bufferization, which sees the same regions as without this pass;
    `attn-outline-kernels` outlines them again at the buffer level.
  }];
  let dependentDialects = ["::mlir::func::FuncDialect", "::mlir::arith::ArithDialect"];
}

def InlineKernelRegionsPass : Pass<"attn-inline-kernel-regions", "ModuleOp"> {
  let summary = "Turn the calls attn-share-kernel-regions made back into kernel regions";
  let description = [{
    Replaces every call of a function made by `attn-share-kernel-regions` by a
    kernel region (an `scf.execute_region no_inline` with the call's location,
    which names the kernel) holding a copy of the function's body, and erases
    the functions.
  }];
  let dependentDialects = ["::mlir::scf::SCFDialect"];
}

def LowerAllocaScopesPass : Pass<"attn-lower-alloca-scopes"> {
  let summary = "Replace memref.alloca_scope by llvm.intr.stacksave/stackrestore";
  let description = [{
    `convert-scf-to-openmp` wraps every parallel loop body in a
    memref.alloca_scope, which must keep a single block; `convert-scf-to-cf`
    later turns the loops inside it into several blocks. Inlining the scope
    between a stack save and restore keeps its meaning (allocas inside are
    freed per iteration) and lets the control-flow lowering proceed.
  }];
  let dependentDialects = ["::mlir::LLVM::LLVMDialect"];
}

//===----------------------------------------------------------------------===//
// Buffer-level rewrites after bufferization (compiler/lib/MemRef), both targets
//===----------------------------------------------------------------------===//

def LowerMemrefCopyPass : Pass<"attn-lower-memref-copy", "func::FuncOp"> {
  let summary = "Rewrite memref.copy as linalg.copy so that it becomes loops";
  let description = [{
    `finalize-memref-to-llvm` turns a memref.copy between non-contiguous
    buffers into a call to `memrefCopy` from MLIR's runner-utils library,
    which compiled models must not depend on. As a linalg.copy the copy
    becomes an ordinary (vectorizable) loop nest.
  }];
  let dependentDialects = ["::mlir::linalg::LinalgDialect"];
}

def ExpandDynamicReshapesPass : Pass<"attn-expand-dynamic-reshapes", "func::FuncOp"> {
  let summary = "Rewrite memref.expand_shape groups with several dynamic dims as reinterpret_cast";
  let description = [{
    `expand-strided-metadata` of MLIR 22 crashes on a memref.expand_shape
    whose reassociation group holds more than one dynamic dim (e.g. `[?]`
    into `[?, ?, 8, 32]`, what a reshape with symbolic batch and sequence
    produces). For a contiguous source such an expansion is a
    reinterpret_cast with row-major strides computed from the output shape.
  }];
  let dependentDialects = ["::mlir::memref::MemRefDialect", "::mlir::arith::ArithDialect"];
}

//===----------------------------------------------------------------------===//
// The model ABI (compiler/lib/ABI): the entry point the runtime calls
//===----------------------------------------------------------------------===//

def EmitModelEntryPointPass : Pass<"attn-emit-entry-point", "ModuleOp"> {
  let summary = "Emit the runtime ABI: attn_model_run wrapper and signature";
  let description = [{
    Runs on the LLVM-dialect module. Adds `attn_model_run(ptr inputs, ptr
    outputs) -> i32`, which unpacks memref descriptors (int64 arrays
    [allocated, aligned, offset, sizes..., strides...]) and calls the model
    function, and `attn_model_signature() -> ptr` returning the JSON signature
    stored in the module attribute `attn.signature`.
  }];
  let options = [
    Option<"entryName", "entry", "std::string", /*default=*/"\"main_graph\"", "Model function">
  ];
  let dependentDialects = ["::mlir::LLVM::LLVMDialect"];
}

//===----------------------------------------------------------------------===//
// GPU (--target=cuda) kernels and host code (compiler/lib/GPU)
//===----------------------------------------------------------------------===//

def GpuLowerAttentionPass : Pass<"attn-gpu-lower-attention", "ModuleOp"> {
  let summary = "Lower attn.attention to a flash-attention gpu.launch";
  let description = [{
    One thread block per (batch..., query tile): Q, K and V tiles staged in
    shared memory, online softmax, causal key-tile skipping, masks read in
    place with broadcasting (no Sq x Sk tensor). Built at tensor level as a
    Two phases, because bufferization and buffer deallocation do not know
    the memory effects of GPU ops: on tensors, each attn.attention becomes
    `bufferization.to_buffer` views, a fresh output buffer (wrapped by
    `bufferization.to_tensor`) and a call of a private placeholder
    `@__attn_gpu_attention_N` carrying the op's attributes; a second run
    after bufferization turns every placeholder call into the gpu.launch.
    Needs static head dims.
  }];
  let dependentDialects = ["::mlir::gpu::GPUDialect", "::mlir::func::FuncDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::tensor::TensorDialect",
                           "::mlir::vector::VectorDialect",
                           "::mlir::NVVM::NVVMDialect", "::mlir::LLVM::LLVMDialect",
                           "::mlir::bufferization::BufferizationDialect"];
  let options = [
    Option<"tensorCores", "tensor-cores", "bool", /*default=*/"true",
           "f16/bf16 attention on tensor cores (mma.sync); false: the SIMT kernel">
  ];
}

def GpuLowerLayerNormPass : Pass<"attn-gpu-lower-layer-norm", "ModuleOp"> {
  let summary = "Lower attn.layer_norm to one warp-per-row gpu.launch";
  let description = [{
    One kernel per layer norm instead of the linalg chain of reductions and
    elementwise ops: a warp per row of the [rows, n] view (256 threads per
    block), lanes striding over the row, residual added on load, mean and
    variance (two passes) in f32 by xor shuffles, then scale and bias. Two
    phases like attn-gpu-lower-attention: on tensors each taken op becomes
    views collapsed to [rows, n] (scale/bias [n]), a fresh output buffer and
    a call of `@__attn_gpu_layer_norm_N`; the run after bufferization builds
    the kernels. Takes ops with axis >= 1, a static normalized size and
    scale/bias of that many elements; the others keep the linalg lowering.
  }];
  let dependentDialects = ["::mlir::gpu::GPUDialect", "::mlir::func::FuncDialect",
                           "::mlir::memref::MemRefDialect", "::mlir::scf::SCFDialect",
                           "::mlir::arith::ArithDialect", "::mlir::math::MathDialect",
                           "::mlir::tensor::TensorDialect",
                           "::mlir::bufferization::BufferizationDialect"];
}

def GpuFuseElementwisePass : Pass<"attn-gpu-fuse-elementwise", "func::FuncOp"> {
  let summary = "Fuse producer/consumer elementwise linalg.generic ops (tensors), no reshape propagation";
  let description = [{
    MLIR's elementwise fusion patterns with a control that fuses an
    all-parallel generic producer with a single use into its consumer, so a
    chain of elementwise ops is one GPU kernel. Unlike
    linalg-fuse-elementwise-ops it does not propagate reshapes (which would
    turn linalg.matmul into contraction generics).
  }];
  let dependentDialects = ["::mlir::linalg::LinalgDialect"];
}

def GpuTileMatmulPass : Pass<"attn-gpu-tile-matmul", "func::FuncOp"> {
  let summary = "linalg.matmul on buffers -> a shared-memory tiled gpu.launch";
  let description = [{
    C += A B with 64 x 64 tiles of C per block of 256 threads (4 x 4 outputs
    per thread, strided by 16), 16-deep A and B tiles staged in shared
    memory as f32 (zero outside the operands), f32 accumulation; f16/bf16
    operands are widened on load and the result truncated on store; with
    tensor-cores, A and B both f16 (or both bf16) run mma.sync m16n8k16
    instead (4 warps of 32 x 32, 32-deep tiles). Other matmul forms (transposed indexing maps, batch) are left to the
    one-thread-per-element path.
  }];
  let dependentDialects = ["::mlir::gpu::GPUDialect", "::mlir::arith::ArithDialect",
                           "::mlir::math::MathDialect", "::mlir::memref::MemRefDialect",
                           "::mlir::scf::SCFDialect", "::mlir::vector::VectorDialect",
                           "::mlir::NVVM::NVVMDialect", "::mlir::LLVM::LLVMDialect"];
  let options = [
    Option<"tensorCores", "tensor-cores", "bool", /*default=*/"true",
           "f16/bf16 matmuls on tensor cores (mma.sync); false: the f32 SIMT tiles">
  ];
}

def GpuParallelFlagReductionsPass : Pass<"attn-gpu-parallel-flag-reductions", "func::FuncOp"> {
  let summary = "OR-reductions into a 0-d i1 buffer (index checks) -> parallel loops";
  let description = [{
    A linalg.generic on buffers that reduces over all its loops into a 0-d
    i1 output as `flag |= x` (the index checks of the gathers) becomes an
    scf.parallel that stores `true` where x holds: one GPU thread per element
    instead of a one-thread kernel walking every index. Concurrent stores of
    the same value are a benign race. Run before
    convert-linalg-to-parallel-loops.
  }];
  let dependentDialects = ["::mlir::scf::SCFDialect", "::mlir::arith::ArithDialect",
                           "::mlir::memref::MemRefDialect"];
}

def GpuMapParallelLoopsPass : Pass<"attn-gpu-map-parallel-loops", "func::FuncOp"> {
  let summary = "Turn host scf.parallel loops on buffers into gpu.launch kernels";
  let description = [{
    Each outermost scf.parallel becomes a gpu.launch over its linearized
    iteration space (256 threads per block); sequential loop nests touching
    tensor data become single-thread kernels; any other host op reading or
    writing tensor data is reported as an error naming the op (a CUDA model
    never computes on the CPU).
  }];
  let dependentDialects = ["::mlir::gpu::GPUDialect", "::mlir::arith::ArithDialect",
                           "::mlir::scf::SCFDialect"];
}

def GpuSerializePass : Pass<"attn-gpu-serialize", "ModuleOp"> {
  let summary = "Serialize each gpu.module to a gpu.binary holding a cubin and PTX";
  let description = [{
    Like gpu-module-to-binary, but produces two objects per module with its
    NVVM target: the cubin for the target's chip (ptxas) and the PTX (for the
    driver's JIT on newer devices).
  }];
  let options = [
    Option<"toolkitPath", "toolkit", "std::string", /*default=*/"\"/usr/local/cuda\"",
           "CUDA toolkit (ptxas, libdevice)">,
    Option<"ptxasOptions", "opts", "std::string", /*default=*/"\"\"",
           "Extra options for the serializer (e.g. ptxas flags)">
  ];
  let dependentDialects = ["::mlir::gpu::GPUDialect"];
}

def GpuLowerHostPass : Pass<"attn-gpu-lower-host", "ModuleOp"> {
  let summary = "Lower the host side of a CUDA model to calls into the attn runtime";
  let description = [{
    On the LLVM-dialect host module: gpu.binary becomes constant cubin/PTX
    globals, gpu.launch_func becomes `attn_cuda_launch` with its parameters
    packed on the stack, malloc/free become `attn_cuda_malloc`/`attn_cuda_free`
    (device memory) and tensor constants are passed through
    `attn_cuda_constant` (uploaded once). See runtime/include/attn/abi.h.
  }];
  let dependentDialects = ["::mlir::LLVM::LLVMDialect"];
}

#endif // ATTN_COMPILER_PASSES_TD
