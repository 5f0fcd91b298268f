//===- AttnOps.td - attn dialect operations ----------------*- tablegen -*-===//
//
// The attn dialect: a tensor-level graph dialect for transformer inference.
// Every op works on ranked tensors whose dims may be dynamic (`?`): batch and
// sequence lengths stay symbolic from the ONNX graph inputs to the runtime ABI.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_OPS_TD
#define ATTN_OPS_TD

include "mlir/IR/OpBase.td"
include "mlir/IR/AttrTypeBase.td"
include "mlir/IR/EnumAttr.td"
include "mlir/IR/BuiltinAttributeInterfaces.td"
include "mlir/Interfaces/SideEffectInterfaces.td"
include "mlir/Interfaces/InferTypeOpInterface.td"

//===----------------------------------------------------------------------===//
// Dialect
//===----------------------------------------------------------------------===//

def Attn_Dialect : Dialect {
  let name = "attn";
  let cppNamespace = "::mlir::attn";
  let summary = "Graph-level dialect of the attnc transformer compiler";
  let description = [{
    Tensor operations with ONNX/numpy semantics (broadcasting elementwise ops,
    batched matmul, reshape with 0/-1, ...) plus the fused `attn.attention`
    operation produced by the `attn-fuse-attention` pass.
  }];
  let useDefaultAttributePrinterParser = 1;
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::tensor::TensorDialect"];
}

//===----------------------------------------------------------------------===//
// Enums
//===----------------------------------------------------------------------===//

def Attn_MaskKind : I32EnumAttr<"MaskKind", "how the mask operand edits the scores", [
    I32EnumAttrCase<"none", 0>,
    I32EnumAttrCase<"additive", 1>,
    I32EnumAttrCase<"fill_if_zero", 2>,
    I32EnumAttrCase<"fill_if_nonzero", 3>]> {
  let cppNamespace = "::mlir::attn";
  let genSpecializedAttr = 0;
}
def Attn_MaskKindAttr : EnumAttr<Attn_Dialect, Attn_MaskKind, "mask_kind"> {
  let assemblyFormat = "`<` $value `>`";
}

def Attn_CmpPredicate : I32EnumAttr<"CmpPredicate", "comparison predicate", [
    I32EnumAttrCase<"eq", 0>, I32EnumAttrCase<"ne", 1>,
    I32EnumAttrCase<"lt", 2>, I32EnumAttrCase<"le", 3>,
    I32EnumAttrCase<"gt", 4>, I32EnumAttrCase<"ge", 5>]> {
  let cppNamespace = "::mlir::attn";
  let genSpecializedAttr = 0;
}
def Attn_CmpPredicateAttr : EnumAttr<Attn_Dialect, Attn_CmpPredicate, "predicate"> {
  let assemblyFormat = "$value";
}

def Attn_ReduceKind : I32EnumAttr<"ReduceKind", "reduction combiner", [
    I32EnumAttrCase<"sum", 0>, I32EnumAttrCase<"mean", 1>,
    I32EnumAttrCase<"max", 2>, I32EnumAttrCase<"min", 3>,
    I32EnumAttrCase<"prod", 4>]> {
  let cppNamespace = "::mlir::attn";
  let genSpecializedAttr = 0;
}
def Attn_ReduceKindAttr : EnumAttr<Attn_Dialect, Attn_ReduceKind, "reduce_kind"> {
  let assemblyFormat = "$value";
}

def Attn_Activation : I32EnumAttr<"Activation", "activation applied in a linear layer's epilogue", [
    I32EnumAttrCase<"none", 0>,
    I32EnumAttrCase<"relu", 1>,
    I32EnumAttrCase<"gelu", 2>,
    I32EnumAttrCase<"gelu_tanh", 3>,
    I32EnumAttrCase<"silu", 4>]> {
  let cppNamespace = "::mlir::attn";
  let genSpecializedAttr = 0;
}
def Attn_ActivationAttr : EnumAttr<Attn_Dialect, Attn_Activation, "activation"> {
  let assemblyFormat = "`<` $value `>`";
}

def Attn_CausalAlign : I32EnumAttr<"CausalAlign", "which corner the causal diagonal starts from", [
    I32EnumAttrCase<"top_left", 0>,
    I32EnumAttrCase<"bottom_right", 1>]> {
  let cppNamespace = "::mlir::attn";
  let genSpecializedAttr = 0;
}
def Attn_CausalAlignAttr : EnumAttr<Attn_Dialect, Attn_CausalAlign, "causal_align"> {
  let assemblyFormat = "`<` $value `>`";
}

//===----------------------------------------------------------------------===//
// Base classes
//===----------------------------------------------------------------------===//

class Attn_Op<string mnemonic, list<Trait> traits = []>
    : Op<Attn_Dialect, mnemonic, traits>;

def Attn_Tensor : RankedTensorOf<[AnyType]>;
def Attn_FloatTensor : RankedTensorOf<[AnyFloat]>;
def Attn_IndexTensor : RankedTensorOf<[I64, I32]>;
def Attn_BoolTensor : RankedTensorOf<[I1]>;

// Elementwise binary op with numpy broadcasting; result element type equals
// the operands' element type.
class Attn_BinaryOp<string mnemonic, list<Trait> traits = []>
    : Attn_Op<mnemonic, traits # [Pure, InferTypeOpAdaptorWithIsCompatible]> {
  let arguments = (ins Attn_Tensor:$lhs, Attn_Tensor:$rhs);
  let results = (outs Attn_Tensor:$result);
  let assemblyFormat = [{
    $lhs `,` $rhs attr-dict `:` type($lhs) `,` type($rhs) `->` type($result)
  }];
  let hasVerifier = 1;
  let extraClassDefinition = [{
    ::llvm::LogicalResult $cppClass::verify() {
      return ::mlir::attn::verifyBroadcastBinary(getOperation());
    }
  }];
}

// Elementwise unary op; result type equals operand type.
class Attn_UnaryOp<string mnemonic, Type operandType = Attn_Tensor,
                   list<Trait> traits = []>
    : Attn_Op<mnemonic, traits # [Pure, SameOperandsAndResultType]> {
  let arguments = (ins operandType:$input);
  let results = (outs operandType:$result);
  let assemblyFormat = "$input attr-dict `:` type($result)";
}

//===----------------------------------------------------------------------===//
// Elementwise
//===----------------------------------------------------------------------===//

def Attn_AddOp : Attn_BinaryOp<"add", [Commutative]> { let summary = "broadcasting addition"; }
def Attn_SubOp : Attn_BinaryOp<"sub"> { let summary = "broadcasting subtraction"; }
def Attn_MulOp : Attn_BinaryOp<"mul", [Commutative]> { let summary = "broadcasting multiplication"; }
def Attn_DivOp : Attn_BinaryOp<"div"> {
  let summary = "broadcasting division (integer division truncates, as ONNX)";
}
def Attn_PowOp : Attn_BinaryOp<"pow"> { let summary = "broadcasting power"; }
def Attn_MaxOp : Attn_BinaryOp<"max", [Commutative]> { let summary = "broadcasting maximum"; }
def Attn_MinOp : Attn_BinaryOp<"min", [Commutative]> { let summary = "broadcasting minimum"; }
def Attn_AndOp : Attn_BinaryOp<"and", [Commutative]> { let summary = "broadcasting logical and"; }
def Attn_OrOp : Attn_BinaryOp<"or", [Commutative]> { let summary = "broadcasting logical or"; }
def Attn_XorOp : Attn_BinaryOp<"xor", [Commutative]> { let summary = "broadcasting logical xor"; }

def Attn_CmpOp : Attn_Op<"cmp", [Pure, InferTypeOpAdaptorWithIsCompatible]> {
  let summary = "broadcasting comparison producing i1";
  let arguments = (ins Attn_CmpPredicateAttr:$predicate, Attn_Tensor:$lhs,
                   Attn_Tensor:$rhs);
  let results = (outs Attn_BoolTensor:$result);
  let assemblyFormat = [{
    $predicate `,` $lhs `,` $rhs attr-dict `:` type($lhs) `,` type($rhs) `->` type($result)
  }];
  let hasVerifier = 1;
}

def Attn_SelectOp : Attn_Op<"select", [Pure, InferTypeOpAdaptorWithIsCompatible]> {
  let summary = "broadcasting select (ONNX Where)";
  let arguments = (ins Attn_BoolTensor:$condition, Attn_Tensor:$true_value,
                   Attn_Tensor:$false_value);
  let results = (outs Attn_Tensor:$result);
  let assemblyFormat = [{
    $condition `,` $true_value `,` $false_value attr-dict `:`
    type($condition) `,` type($true_value) `,` type($false_value) `->` type($result)
  }];
  let hasVerifier = 1;
}

def Attn_NegOp : Attn_UnaryOp<"neg"> { let summary = "negation"; }
def Attn_AbsOp : Attn_UnaryOp<"abs"> { let summary = "absolute value"; }
def Attn_ExpOp : Attn_UnaryOp<"exp", Attn_FloatTensor> { let summary = "e^x"; }
def Attn_LogOp : Attn_UnaryOp<"log", Attn_FloatTensor> { let summary = "natural logarithm"; }
def Attn_SqrtOp : Attn_UnaryOp<"sqrt", Attn_FloatTensor> { let summary = "square root"; }
def Attn_ReciprocalOp : Attn_UnaryOp<"reciprocal", Attn_FloatTensor> { let summary = "1/x"; }
def Attn_TanhOp : Attn_UnaryOp<"tanh", Attn_FloatTensor> { let summary = "hyperbolic tangent"; }
def Attn_CosOp : Attn_UnaryOp<"cos", Attn_FloatTensor> { let summary = "cosine"; }
def Attn_SinOp : Attn_UnaryOp<"sin", Attn_FloatTensor> { let summary = "sine"; }
def Attn_ErfOp : Attn_UnaryOp<"erf", Attn_FloatTensor> { let summary = "error function"; }
def Attn_SigmoidOp : Attn_UnaryOp<"sigmoid", Attn_FloatTensor> { let summary = "1/(1+e^-x)"; }
def Attn_ReluOp : Attn_UnaryOp<"relu"> { let summary = "max(x, 0)"; }
def Attn_FloorOp : Attn_UnaryOp<"floor", Attn_FloatTensor> { let summary = "floor"; }
def Attn_CeilOp : Attn_UnaryOp<"ceil", Attn_FloatTensor> { let summary = "ceil"; }
def Attn_NotOp : Attn_UnaryOp<"not", Attn_BoolTensor> { let summary = "logical not"; }
def Attn_GeluOp : Attn_Op<"gelu", [Pure, SameOperandsAndResultType]> {
  let summary = "GELU, exact (erf) or tanh approximation";
  let arguments = (ins Attn_FloatTensor:$input, UnitAttr:$tanh_approximation);
  let results = (outs Attn_FloatTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($result)";
}

def Attn_CastOp : Attn_Op<"cast", [Pure]> {
  let summary = "element type conversion (ONNX Cast semantics)";
  let arguments = (ins Attn_Tensor:$input);
  let results = (outs Attn_Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `to` type($result)";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Linear algebra and layout
//===----------------------------------------------------------------------===//

def Attn_MatmulOp : Attn_Op<"matmul", [Pure, InferTypeOpAdaptorWithIsCompatible]> {
  let summary = "numpy matmul: batched, with broadcasting batch dims";
  let description = [{
    `lhs` is `[batch..., M, K]` (or `[K]`), `rhs` is `[batch..., K, N]` (or `[K]`);
    batch dims broadcast as in numpy. 1-D operands get the numpy treatment
    (a dim is prepended/appended and removed from the result).
  }];
  let arguments = (ins Attn_Tensor:$lhs, Attn_Tensor:$rhs);
  let results = (outs Attn_Tensor:$result);
  let assemblyFormat = [{
    $lhs `,` $rhs attr-dict `:` type($lhs) `,` type($rhs) `->` type($result)
  }];
  let hasVerifier = 1;
}

def Attn_TransposeOp : Attn_Op<"transpose", [Pure, InferTypeOpAdaptorWithIsCompatible]> {
  let summary = "permutes dims: result dim i is input dim perm[i]";
  let arguments = (ins Attn_Tensor:$input, DenseI64ArrayAttr:$perm);
  let results = (outs Attn_Tensor:$result);
  let assemblyFormat = "$input `,` $perm attr-dict `:` type($input) `->` type($result)";
  let hasFolder = 1;
  let hasCanonicalizer = 1;
}

def Attn_ReshapeOp : Attn_Op<"reshape", [Pure]> {
  let summary = "ONNX Reshape: shape entries 0 (copy input dim) and -1 (infer)";
  let description = [{
    `shape` is a 1-D i64 tensor. With `allowzero` unset, an entry 0 copies the
    input's dim at that position; one entry may be -1 and is inferred from the
    element count. The result type carries whatever is known statically.
  }];
  let arguments = (ins Attn_Tensor:$input, RankedTensorOf<[I64]>:$shape,
                   UnitAttr:$allowzero);
  let results = (outs Attn_Tensor:$result);
  let assemblyFormat = [{
    $input `,` $shape attr-dict `:` type($input) `,` type($shape) `->` type($result)
  }];
  let hasVerifier = 1;
}

def Attn_ExpandOp : Attn_Op<"expand", [Pure]> {
  let summary = "ONNX Expand: broadcast to a shape given as a 1-D i64 tensor";
  let arguments = (ins Attn_Tensor:$input, RankedTensorOf<[I64]>:$shape);
  let results = (outs Attn_Tensor:$result);
  let assemblyFormat = [{
    $input `,` $shape attr-dict `:` type($input) `,` type($shape) `->` type($result)
  }];
  let hasVerifier = 1;
}

def Attn_ConcatOp : Attn_Op<"concat", [Pure, InferTypeOpAdaptorWithIsCompatible]> {
  let summary = "concatenation along a dim";
  let arguments = (ins Variadic<Attn_Tensor>:$inputs, I64Attr:$axis);
  let results = (outs Attn_Tensor:$result);
  let assemblyFormat = "$inputs attr-dict `:` type($inputs) `->` type($result)";
}

def Attn_SliceOp : Attn_Op<"slice", [Pure]> {
  let summary = "ONNX Slice with starts/ends/axes/steps as 1-D i64 tensors";
  let arguments = (ins Attn_Tensor:$input, RankedTensorOf<[I64]>:$starts,
                   RankedTensorOf<[I64]>:$ends, RankedTensorOf<[I64]>:$axes,
                   RankedTensorOf<[I64]>:$steps);
  let results = (outs Attn_Tensor:$result);
  let assemblyFormat = [{
    $input `[` $starts `:` $ends `,` `axes` $axes `,` `steps` $steps `]` attr-dict
    `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Attn_GatherOp : Attn_Op<"gather", [Pure, InferTypeOpAdaptorWithIsCompatible]> {
  let summary = "ONNX Gather (negative indices wrap; out-of-range is a runtime error)";
  let arguments = (ins Attn_Tensor:$data, Attn_IndexTensor:$indices, I64Attr:$axis);
  let results = (outs Attn_Tensor:$result);
  let assemblyFormat = [{
    $data `[` $indices `]` attr-dict `:` type($data) `,` type($indices) `->` type($result)
  }];
  let hasVerifier = 1;
}

def Attn_GatherElementsOp : Attn_Op<"gather_elements", [Pure]> {
  let summary = "ONNX GatherElements: result[i] = data[i with i[axis] = indices[i]]";
  let description = [{
    `indices` has the rank of `data` and the shape of the result; along every
    dim but `axis` it may not be larger than `data`. Negative indices wrap;
    an index outside `[-d, d)` is a runtime error (clamped, never read
    outside `data`).
  }];
  let arguments = (ins Attn_Tensor:$data, Attn_IndexTensor:$indices, I64Attr:$axis);
  let results = (outs Attn_Tensor:$result);
  let assemblyFormat = [{
    $data `[` $indices `]` attr-dict `:` type($data) `,` type($indices) `->` type($result)
  }];
  let hasVerifier = 1;
}

def Attn_ShapeOp : Attn_Op<"shape", [Pure, InferTypeOpAdaptorWithIsCompatible]> {
  let summary = "the dims [start, end) of a tensor as a 1-D i64 tensor";
  let arguments = (ins Attn_Tensor:$input, I64Attr:$start, I64Attr:$end);
  let results = (outs RankedTensorOf<[I64]>:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
}

def Attn_ConstantOfShapeOp : Attn_Op<"constant_of_shape", [Pure]> {
  let summary = "a tensor of the given shape filled with one value";
  let arguments = (ins RankedTensorOf<[I64]>:$shape, TypedAttrInterface:$value);
  let results = (outs Attn_Tensor:$result);
  let assemblyFormat = "$shape `,` $value attr-dict `:` type($shape) `->` type($result)";
  let hasVerifier = 1;
}

def Attn_RangeOp : Attn_Op<"range", [Pure, AllTypesMatch<["start", "limit", "delta"]>]> {
  let summary = "ONNX Range: 0-d start, limit, delta; 1-D result";
  let arguments = (ins Attn_Tensor:$start, Attn_Tensor:$limit, Attn_Tensor:$delta);
  let results = (outs Attn_Tensor:$result);
  let assemblyFormat = [{
    $start `,` $limit `,` $delta attr-dict `:` type($start) `->` type($result)
  }];
  let hasVerifier = 1;
}

def Attn_TriluOp : Attn_Op<"trilu", [Pure]> {
  let summary = "keeps the upper (or lower) triangle of the last two dims";
  let arguments = (ins Attn_Tensor:$input, I64Attr:$k, BoolAttr:$upper);
  let results = (outs Attn_Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
  let hasVerifier = 1;
}


def Attn_LinearOp : Attn_Op<"linear", [Pure]> {
  let summary = "dense layer: activation(input · weight + bias), split along the last dim";
  let description = [{
    `input` is `[batch..., K]` (at least one batch dim), `weight` is `[K, N]`, the optional `bias` is
    `[N]`. Computes `y = activation(input · weight + bias)` (`[batch..., N]`)
    and returns it as one result, or as several results that split the last
    dim in order: result `i` is `y[..., n_i : n_i + N_i]` where `N_i` is its
    last dim (`sum N_i = N`; static when there is more than one result).

    Produced by the graph passes: `attn-fuse-linear` folds the bias add and
    the activation of a Linear layer into its matmul (they run in the
    kernel's epilogue, on registers), `attn-merge-projections` merges
    projections of one input (Q/K/V) into one op with several results.
    `gelu` is the exact (erf) GELU, `gelu_tanh` the tanh approximation,
    `silu` is `x * sigmoid(x)`.

    `gated` (a gated MLP: SwiGLU, GeGLU): the weight's N columns are two
    halves, gate `[0, N/2)` and up `[N/2, N)` (bias likewise), and the op
    computes `y = activation(x·W_gate + b_gate) * (x·W_up + b_up)`, which is
    `[batch..., N/2]` (then split into results as above). The gating runs in
    the epilogue: the `[batch..., N]` product is never stored.
  }];
  let arguments = (ins Attn_FloatTensor:$input, Attn_FloatTensor:$weight,
                   Optional<Attn_FloatTensor>:$bias,
                   DefaultValuedAttr<Attn_ActivationAttr, "::mlir::attn::Activation::none">:$activation,
                   UnitAttr:$gated);
  let results = (outs Variadic<Attn_FloatTensor>:$results);
  let assemblyFormat = [{
    $input `,` $weight (`bias` `(` $bias^ `:` type($bias) `)`)? attr-dict
    `:` type($input) `,` type($weight) `->` type($results)
  }];
  let builders = [
    // One result per entry of `splits` (all of N when empty).
    OpBuilder<(ins "::mlir::Value":$input, "::mlir::Value":$weight, "::mlir::Value":$bias,
                   "::mlir::attn::Activation":$activation,
                   CArg<"::llvm::ArrayRef<int64_t>", "{}">:$splits,
                   CArg<"bool", "false">:$gated)>
  ];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Reductions and normalization
//===----------------------------------------------------------------------===//

def Attn_ReduceOp : Attn_Op<"reduce", [Pure, InferTypeOpAdaptorWithIsCompatible]> {
  let summary = "reduction over a set of dims";
  let arguments = (ins Attn_ReduceKindAttr:$kind, Attn_Tensor:$input,
                   DenseI64ArrayAttr:$axes, BoolAttr:$keepdims);
  let results = (outs Attn_Tensor:$result);
  let assemblyFormat = "$kind $input attr-dict `:` type($input) `->` type($result)";
}

def Attn_SoftmaxOp : Attn_Op<"softmax", [Pure, InferTypeOpAdaptorWithIsCompatible]> {
  let summary = "softmax along one axis";
  let arguments = (ins Attn_FloatTensor:$input, I64Attr:$axis);
  let results = (outs Attn_FloatTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
}

def Attn_LayerNormOp : Attn_Op<"layer_norm", [Pure, InferTypeOpAdaptorWithIsCompatible,
                                              AttrSizedOperandSegments]> {
  let summary = "layer normalization over dims [axis, rank), optional residual input";
  let description = [{
    `result = ((x + residual) - mean) / sqrt(var + epsilon) * scale + bias`,
    with mean and (biased) variance over dims `[axis, rank)`; `scale` and
    `bias` broadcast against those dims. `residual` lets the graph passes fold
    the residual addition that precedes LayerNorm in every transformer block.
  }];
  let arguments = (ins Attn_FloatTensor:$input, Optional<Attn_FloatTensor>:$residual,
                   Attn_FloatTensor:$scale, Optional<Attn_FloatTensor>:$bias,
                   I64Attr:$axis, F64Attr:$epsilon);
  let results = (outs Attn_FloatTensor:$result);
  let assemblyFormat = [{
    $input (`residual` `(` $residual^ `:` type($residual) `)`)? `,` $scale
    (`,` $bias^ `:` type($bias))? attr-dict `:` type($input) `,` type($scale) `->` type($result)
  }];
  let hasVerifier = 1;
}

def Attn_RmsNormOp : Attn_Op<"rms_norm", [Pure]> {
  let summary = "RMS normalization over dims [axis, rank), optional residual input";
  let description = [{
    With `h = input + residual` (`input` alone without a residual):
    `result = h / sqrt(mean(h², dims [axis, rank)) + epsilon) * scale`;
    `scale` broadcasts against the normalized dims (Llama's RMSNorm,
    ONNX `RMSNormalization`, ORT's `SimplifiedLayerNormalization`; Gemma's
    `(1 + w)` weight is folded into `scale` by the graph passes).

    Results: the normalized tensor, and, when a second result is declared
    (needs `residual`), `h` itself: the residual stream of a pre-norm decoder
    continues from the sum, so the row kernel writes both in one pass (ORT's
    `SkipSimplifiedLayerNormalization`).
  }];
  let arguments = (ins Attn_FloatTensor:$input, Optional<Attn_FloatTensor>:$residual,
                   Attn_FloatTensor:$scale, I64Attr:$axis, F64Attr:$epsilon);
  let results = (outs Variadic<Attn_FloatTensor>:$results);
  let assemblyFormat = [{
    $input (`residual` `(` $residual^ `:` type($residual) `)`)? `,` $scale attr-dict
    `:` type($input) `,` type($scale) `->` type($results)
  }];
  let builders = [
    // One result, or two (normalized, sum) with `withSum` (needs a residual).
    OpBuilder<(ins "::mlir::Value":$input, "::mlir::Value":$residual,
                   "::mlir::Value":$scale, "int64_t":$axis, "double":$epsilon,
                   CArg<"bool", "false">:$withSum)>
  ];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    ::mlir::Value getResult() { return getResults().front(); }
    /// The residual sum `input + residual`, when the op returns it.
    ::mlir::Value getSum() {
      return getResults().size() > 1 ? getResults()[1] : ::mlir::Value();
    }
  }];
}

//===----------------------------------------------------------------------===//
// Rotary position embedding
//===----------------------------------------------------------------------===//

def Attn_RotaryOp : Attn_Op<"rotary", [Pure]> {
  let summary = "rotary position embedding: x * cos + rotate(x) * sin on the first R channels";
  let description = [{
    `input` is `[..., D]`; `cos` and `sin` have the same shape, whose last dim
    `R` (static, even, `R <= D`) is the rotary width, and broadcast (numpy
    rules) against `input[..., :R]`. With `y = input[..., :R]`:

    `result[..., :R] = y * cos + rotate(y) * sin`, `result[..., R:] = input[..., R:]`

    where `rotate(y) = concat(-y[..., R/2:], y[..., :R/2])` (the half-split
    form, Hugging Face's `rotate_half`), or with `interleaved` the pairs
    `(y[2i], y[2i+1])` rotate: `rotate(y)[2i] = -y[2i+1]`,
    `rotate(y)[2i+1] = y[2i]`. `cos`/`sin` are full width: their element `j`
    multiplies channel `j` (the exporters' `cat(freqs, freqs).cos()`; ONNX's
    half-width caches are widened by the importer). The result has the
    input's type.
  }];
  let arguments = (ins Attn_FloatTensor:$input, Attn_FloatTensor:$cos,
                   Attn_FloatTensor:$sin, UnitAttr:$interleaved);
  let results = (outs Attn_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $cos `,` $sin attr-dict `:` type($input) `,` type($cos) `,` type($sin) `->` type($result)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Fused attention
//===----------------------------------------------------------------------===//

def Attn_AttentionOp : Attn_Op<"attention", [Pure, InferTypeOpAdaptorWithIsCompatible]> {
  let summary = "fused scaled dot-product attention";
  let description = [{
    `query` is `[batch..., Sq, D]`, `key` is `[batch..., Sk, D]`, `value` is
    `[batch..., Sk, Dv]` (same batch dims); the result is `[batch..., Sq, Dv]`.
    With `s = query · keyᵀ`:

    * `mask_kind = additive`: `s' = s * scale + mask` (or `(s + mask) * scale`
      with `mask_first`);
    * `fill_if_zero` / `fill_if_nonzero`: `s' = select(mask ==/!= 0, fill_value, s * scale)`
      (or `select(mask ==/!= 0, fill_value, s) * scale` with `mask_first`, the
      seed's `masked_fill(mask == 0, -1e20)` before `/ sqrt(E)`);
    * `none`: `s' = s * scale`, no mask operand.

    `causal` additionally removes every key position `k > q + o` as if its
    score were -inf; such positions are never computed. The offset `o` is 0
    with `causal_align = top_left` (the default) and `Sk - Sq` with
    `bottom_right` (the queries are the last `Sq` positions of the keys, as
    with a KV cache or chunked prefill). `window = W` (needs `causal`; a
    sliding-window layer) also removes the keys `k <= q + o - W`: each query
    sees at most `W` keys, itself included.

    `softcap = c` (logit soft-capping, Gemma 2): the scaled scores become
    `c * tanh(s * scale / c)` before the mask is applied (not with
    `mask_first`).

    Grouped-query attention: the last batch dim of `key` and `value` (the
    heads) may be a divisor `Hkv` of the query's `Hq` (both static): query
    head `h` reads key/value head `h / (Hq / Hkv)`. Every other batch dim
    matches the query's. Multi-query attention is `Hkv = 1`. The mask
    broadcasts against the query's batch dims.
    `result = softmax(s', last dim) · value`. The mask broadcasts (numpy rules)
    to `[batch..., Sq, Sk]` and is never expanded.

    Two optional attributes record what exported graphs do with rows that have
    no unmasked key:

    * `causal_fill = F` (finite; needs `causal`): the positions `causal` and
      `window` hide (`k > q + o`, and with `window = W` also `k <= q + o - W`)
      are not removed but their score is `s' = F` (the mask is not applied
      there). Hugging Face's `Where(causal & padding, 0, finfo.min)` (or
      `Where(causal & window & padding, 0, finfo.min)` on a sliding-window
      layer) added to the scores is this with `F = finfo.min`
      (`x + finfo.min` rounds to `finfo.min` for every realistic score `x`): a
      row whose visible keys are all padded then has every score equal to `F`
      and averages `value` over all `Sk` keys, as PyTorch does. A row whose other scores reach above
      `F + 128` gives those positions a weight below `e^-128` of the largest
      one (0 in f32), so lowerings still skip them for such rows and add them
      exactly (they all score `F`) to the others.
    * `nan_to_zero`: weights that are NaN become 0, PyTorch's SDPA export
      `Where(IsNaN(p), 0, p)` before `p · value`. NaN weights come in whole
      rows (a row whose scores are all -inf, or that holds a NaN or +inf
      score), so such a row of the result is 0 instead of NaN.

    Layouts: the operands may be stored with their dims permuted, as the
    exporters' head split leaves them (`[batch, S, heads, D]` before the
    `Transpose(0, 2, 1, 3)`). With `query_perm = p` the query of the
    semantics above is `transpose(query, p)` (its dim `i` is the operand's dim
    `p[i]`); likewise `key_perm` and `value_perm`. With `result_perm = p` the
    op returns `transpose(result, p)`. The last entry of every perm is the
    last dim (head dims stay innermost). The mask is always given in the
    logical `[batch..., Sq, Sk]` order. `attn-fold-attention-transposes`
    absorbs the transposes around the op into these attributes, so the
    kernels read and write the model's own layouts (no copies).
  }];
  let arguments = (ins Attn_FloatTensor:$query, Attn_FloatTensor:$key,
                   Attn_FloatTensor:$value, Optional<Attn_Tensor>:$mask,
                   F64Attr:$scale, Attn_MaskKindAttr:$mask_kind,
                   DefaultValuedAttr<F64Attr, "0.0">:$fill_value,
                   UnitAttr:$mask_first, UnitAttr:$causal,
                   OptionalAttr<F64Attr>:$causal_fill, UnitAttr:$nan_to_zero,
                   DefaultValuedAttr<Attn_CausalAlignAttr, "::mlir::attn::CausalAlign::top_left">:$causal_align,
                   OptionalAttr<I64Attr>:$window, OptionalAttr<F64Attr>:$softcap,
                   OptionalAttr<DenseI64ArrayAttr>:$query_perm,
                   OptionalAttr<DenseI64ArrayAttr>:$key_perm,
                   OptionalAttr<DenseI64ArrayAttr>:$value_perm,
                   OptionalAttr<DenseI64ArrayAttr>:$result_perm);
  let results = (outs Attn_FloatTensor:$result);
  let builders = [
    // Canonical layouts (no perms).
    OpBuilder<(ins "::mlir::Type":$result, "::mlir::Value":$query,
                   "::mlir::Value":$key, "::mlir::Value":$value,
                   "::mlir::Value":$mask, "::llvm::APFloat":$scale,
                   "::mlir::attn::MaskKind":$mask_kind,
                   "::llvm::APFloat":$fill_value, "bool":$mask_first,
                   "bool":$causal, "::mlir::FloatAttr":$causal_fill,
                   "bool":$nan_to_zero), [{
      build($_builder, $_state, result, query, key, value, mask, scale,
            mask_kind, fill_value, mask_first, causal, causal_fill, nan_to_zero,
            ::mlir::attn::CausalAlign::top_left, ::mlir::IntegerAttr(), ::mlir::FloatAttr(),
            ::mlir::DenseI64ArrayAttr(), ::mlir::DenseI64ArrayAttr(),
            ::mlir::DenseI64ArrayAttr(), ::mlir::DenseI64ArrayAttr());
    }]>
  ];
  let assemblyFormat = [{
    $query `,` $key `,` $value (`mask` `(` $mask^ `:` type($mask) `)`)? attr-dict
    `:` type($query) `,` type($key) `,` type($value) `->` type($result)
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// The query/key/value as the semantics sees them (operand types with
    /// the perms applied), and the result before `result_perm`.
    ::mlir::RankedTensorType getLogicalQueryType();
    ::mlir::RankedTensorType getLogicalKeyType();
    ::mlir::RankedTensorType getLogicalValueType();
    ::mlir::RankedTensorType getLogicalResultType();
    /// Whether any of the four perms is set.
    bool hasLayoutPerms() {
      return getQueryPerm() || getKeyPerm() || getValuePerm() || getResultPerm();
    }
    /// Query heads per key/value head (1 unless grouped-query attention):
    /// the logical query's last batch dim over the key's.
    int64_t getKvGroupSize();
  }];
}

#endif // ATTN_OPS_TD
