//===- ImporterImpl.h - internals of the ONNX importer ----------*- C++ -*-===//
//
// Shared between the files of the AttnFrontend library; not installed.
//
// The importer walks the ONNX graph in topological order and turns each node
// into attn-dialect ops appended to the body of the model function. Beside the
// SSA values it keeps two side tables:
//
//  * dim symbols: every dynamic dim of a value may carry a symbol, a
//    SymbolicDim "dim i of value v" (Support/SymbolicShape.h, the facility the
//    graph passes use too); equal symbols mean equal runtime sizes. Graph
//    input dim_params give named symbols (the first input dim with the name),
//    other dynamic dims are their own symbol unless an op's rule says which
//    dim they equal. They let Reshape(x, concat(shape(x)[0], ...)) keep "the
//    same dim as x" and name output dims in the signature.
//  * shape values: for small integer tensors (rank <= 1), what is known about
//    each element, as a SymbolicDim: a constant, "equals dim symbol s", or
//    nothing. Shape subgraphs (Shape -> Gather -> Unsqueeze -> Concat ->
//    Reshape) are evaluated on these with SymbolicShape's rules (dimfold::,
//    broadcastDims, sliceLength); fully known results become constants.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_COMPILER_LIB_FRONTEND_IMPORTERIMPL_H
#define ATTN_COMPILER_LIB_FRONTEND_IMPORTERIMPL_H

#include "attn/Compiler/Frontend/OnnxImporter.h"
#include "Support/SymbolicShape.h"
#include "attn/Dialect/AttnDialect.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Diagnostics.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringSet.h"

#include "onnx/onnx_pb.h"

#include <optional>
#include <string>

namespace mlir::attn::onnx_import {

//===----------------------------------------------------------------------===//
// Element types and tensor data (TensorImport.cpp)
//===----------------------------------------------------------------------===//

/// The MLIR element type of an ONNX TensorProto::DataType, or null when the
/// compiler does not support it (string, complex, unsigned > 8 bit, fp8...).
Type convertDataType(MLIRContext *ctx, int32_t onnxType);

/// The ONNX enum name of a data type ("FLOAT", "STRING", ...).
std::string onnxDataTypeName(int32_t onnxType);

/// The signature/ABI dtype name of an element type ("f32", "bool", ...).
std::string dtypeName(Type type);

/// The largest static tensor (inputs, constants, intermediates, outputs), in
/// bytes: anything bigger is refused at import, naming the node.
constexpr int64_t kMaxStaticTensorBytes = int64_t(64) << 30;

/// ConstantOfShape results with at most this many elements become splat
/// constants; bigger ones are filled at run time (never materialized).
constexpr int64_t kMaxMaterializedSplatElements = int64_t(1) << 24;

/// The product of `dims`, or std::nullopt when it overflows int64 (or a dim
/// is negative).
std::optional<int64_t> checkedProduct(ArrayRef<int64_t> dims);

/// Empty when the static dims of `type` (dynamic dims ignored) multiply to at
/// most kMaxStaticTensorBytes bytes; otherwise a description of the problem
/// ("tensor<...> has N elements (M bytes), more than the 64 GiB ...").
std::string staticSizeError(RankedTensorType type);

/// Resolves an initializer's external data `location` against `modelDir`:
/// it must be relative and, after resolving symlinks of both, name a regular
/// file inside the model's directory. Sets `file` to the resolved path;
/// errors (at `loc`, naming `what` and the location) otherwise.
LogicalResult resolveExternalDataFile(Location loc, llvm::StringRef what,
                                      llvm::StringRef location,
                                      llvm::StringRef modelDir,
                                      std::string &file);

/// Tensors with at most this many elements become DenseElementsAttr; bigger
/// ones become DenseResourceElementsAttr blobs (except i1 and splats).
constexpr int64_t kMaxInlineElements = 16;

/// Shape values (see above) are tracked for integer tensors of rank <= 1 with
/// at most this many elements.
constexpr int64_t kMaxShapeValueElements = 16;

//===----------------------------------------------------------------------===//
// Shape values
//===----------------------------------------------------------------------===//

/// What is known about a dim, or about one element of a small integer
/// tensor, is a SymbolicDim (Support/SymbolicShape.h): a constant, "equals
/// dim `idx` of value `arg`" (a dim symbol), or nothing.
using ShapeValue = SmallVector<SymbolicDim, 4>;

/// Whether every element is a known constant.
bool isFullyKnown(ArrayRef<SymbolicDim> dims);

//===----------------------------------------------------------------------===//
// GraphImporter
//===----------------------------------------------------------------------===//

class GraphImporter {
public:
  GraphImporter(MLIRContext &ctx, const onnx::ModelProto &model,
                llvm::StringRef modelPath, const OnnxImportOptions &options);

  /// Reads the graph's inputs and initializers and orders its nodes; checks
  /// that every node input is defined. Emits diagnostics on failure.
  LogicalResult prepare();
  /// Imports the graph (after prepare()); null (with diagnostics emitted) on
  /// failure.
  OwningOpRef<ModuleOp> import();

  /// Emits one diagnostic per unsupported op type (or domain) listing every
  /// node that uses it. Fails if any was found. Runs before the ONNX checker
  /// so that unknown ops get our message, not the checker's.
  static LogicalResult checkSupportedOps(MLIRContext &ctx, Location loc,
                                         const onnx::GraphProto &graph);

  //===--------------------------------------------------------------------===//
  // Helpers for op converters (the current node)
  //===--------------------------------------------------------------------===//

  MLIRContext *getContext() { return &ctx; }
  OpBuilder &getBuilder() { return builder; }
  Location loc() const { return nodeLoc; }
  const onnx::NodeProto &node() const { return *curNode; }
  /// The node's name, or "<OpType>_<index>" when it has none.
  const std::string &nodeName() const { return curNodeName; }
  int64_t opset() const { return defaultOpset; }

  /// "ONNX node 'NAME' (OpType): " prefixed error at the node's location.
  InFlightDiagnostic nodeError();

  /// Number of node inputs (including empty optional ones).
  unsigned numInputs() const { return curOperands.size(); }
  /// Input #i, or null when absent or empty (optional input not given).
  Value input(unsigned i) const {
    return i < curOperands.size() ? curOperands[i] : Value();
  }
  /// Input #i; emits an error when it is missing.
  FailureOr<Value> requiredInput(unsigned i);
  /// Number of node outputs (including empty ones).
  unsigned numOutputs() const { return curNode->output_size(); }
  /// Whether output #i exists and is consumed by a node or a graph output.
  bool isOutputUsed(unsigned i) const;
  /// Binds output #i (ignored when the output name is empty).
  void setOutput(unsigned i, Value v);

  // Attributes.
  const onnx::AttributeProto *findAttr(llvm::StringRef name) const;
  FailureOr<int64_t> attrInt(llvm::StringRef name,
                             std::optional<int64_t> dflt = std::nullopt);
  FailureOr<float> attrFloat(llvm::StringRef name,
                             std::optional<float> dflt = std::nullopt);
  FailureOr<std::string> attrString(llvm::StringRef name,
                                    std::optional<std::string> dflt = std::nullopt);
  /// The ints attribute, or std::nullopt when absent. Failure on bad type.
  FailureOr<std::optional<SmallVector<int64_t>>> attrInts(llvm::StringRef name);

  //===--------------------------------------------------------------------===//
  // Op creation
  //===--------------------------------------------------------------------===//

  /// Creates an op whose result type is inferred by its InferTypeOpInterface;
  /// null (with the inference error at the node location) when the operands
  /// are incompatible. Unlike the generated inferring builders this never
  /// aborts on bad input.
  template <typename OpTy, typename... Args>
  Value createInferred(Args &&...args) {
    OpTy op = OpTy::create(builder, nodeLoc, NoneType::get(&ctx),
                           std::forward<Args>(args)...);
    return finishInferred(op.getOperation());
  }
  /// Creates a single-result op with an explicit result type.
  template <typename OpTy, typename... Args>
  Value createTyped(Type resultType, Args &&...args) {
    return OpTy::create(builder, nodeLoc, resultType,
                        std::forward<Args>(args)...)
        .getResult();
  }

  /// A broadcasting binary op (dims recorded); null on inference failure.
  template <typename OpTy>
  Value binary(Value lhs, Value rhs) {
    Value r = createInferred<OpTy>(lhs, rhs);
    if (r)
      setDims(r, broadcastDims({lhs, rhs}));
    return r;
  }
  /// A same-type unary op.
  template <typename OpTy>
  Value unary(Value x) {
    Value r = createTyped<OpTy>(x.getType(), x);
    copyDims(r, x);
    return r;
  }
  /// attn.reduce over sorted, normalized `axes`; null on failure.
  Value reduce(ReduceKind kind, Value x, ArrayRef<int64_t> axes, bool keepdims);
  /// attn.cmp (dims recorded); null on inference failure.
  Value compare(CmpPredicate pred, Value lhs, Value rhs);

  /// arith.constant of `attr` at the current location.
  Value constant(TypedAttr attr);
  /// A constant integer tensor of the given type (rank <= 1 or any shape)
  /// holding `values`; records it as a shape value.
  Value intConstant(RankedTensorType type, ArrayRef<int64_t> values);
  /// 1-D i64 constant.
  Value i64Vector(ArrayRef<int64_t> values);
  /// 0-d constant of element type `elementType` with value `v`.
  Value scalarConstant(Type elementType, double v);

  //===--------------------------------------------------------------------===//
  // Dim symbols and shape values
  //===--------------------------------------------------------------------===//

  /// The dim symbol of ONNX dim_param `name`: the first graph input dim with
  /// that name (`dim` when there is none yet).
  SymbolicDim namedSymbol(llvm::StringRef name, SymbolicDim dim);
  /// The ONNX name of a dim symbol ("" for anonymous ones).
  llvm::StringRef symbolName(const SymbolicDim &sym) const;
  /// The symbol of dynamic dim `i` of `v` (dim `i` of `v` itself unless
  /// recorded otherwise); unknown for a static dim.
  SymbolicDim dimSymbol(Value v, int64_t i);
  /// Every dim of `v` as a SymbolicDim (static dims as constants).
  ShapeValue dimsOf(Value v);
  /// Records the symbols of `v`'s dynamic dims from `dims`.
  void setDims(Value v, ArrayRef<SymbolicDim> dims);
  /// The ranked tensor type with `dims` (non-constant dims dynamic).
  static RankedTensorType tensorType(ArrayRef<SymbolicDim> dims, Type elt);
  /// Copies dim symbols from `from` to `to` (same rank).
  void copyDims(Value to, Value from);
  /// Result dims of numpy broadcasting of `operands`, symbols included.
  ShapeValue broadcastDims(ArrayRef<Value> operands);

  /// The shape value of `v` when `v` is a small integer tensor we track.
  std::optional<ShapeValue> shapeValue(Value v);
  /// Records a shape value for `v` (ignored when `v` is not trackable).
  void setShapeValue(Value v, ArrayRef<SymbolicDim> elems);
  /// Whether `type` is a tensor whose shape value we track.
  static bool isShapeValueType(Type type);
  /// The value as int64 when it is a fully known integer tensor (any size).
  std::optional<SmallVector<int64_t>> constantInts(Value v);
  /// The value as doubles when it is a constant float or int tensor.
  std::optional<SmallVector<double>> constantFloats(Value v);

  /// Materializes a fully known shape value as a constant of `type`, or
  /// returns null when `elems` is not fully known.
  Value materializeIfKnown(RankedTensorType type, ArrayRef<SymbolicDim> elems);

  /// One dim of a shape to build: a constant, or the product of dims
  /// [begin, end) of the importer's `src` value.
  struct DimSource {
    int64_t constant = -1; ///< >= 0: a constant dim
    int64_t begin = 0, end = 0;
    static DimSource cst(int64_t c) { return {c, 0, 0}; }
    static DimSource dims(int64_t b, int64_t e) { return {-1, b, e}; }
  };
  /// Builds a 1-D i64 tensor for attn.reshape holding the dims described by
  /// `dims` (constants where static, -1 for a single unknown dim, otherwise
  /// attn.shape/attn.reduce/attn.concat computing it from `src`).
  Value buildShapeTensor(Value src, ArrayRef<DimSource> dims);
  /// The result dims described by `dims` as SymbolicDims.
  ShapeValue dimsFromSources(Value src, ArrayRef<DimSource> dims);
  /// attn.reshape of `src` to the dims described by `dims`.
  Value reshapeTo(Value src, ArrayRef<DimSource> dims);

  /// Imports the nodes of a subgraph (an If branch) at the builder's current
  /// insertion point, with the enclosing scopes' values visible by name (ONNX
  /// outer-scope references); returns the values of its outputs. `attrName`
  /// ("then_branch") names the subgraph in diagnostics. The current node's
  /// state (operands, name, location) is the same afterwards, and the
  /// subgraph's own names are out of scope again.
  FailureOr<SmallVector<Value>> importSubgraph(const onnx::GraphProto &graph,
                                               llvm::StringRef attrName);

  /// Casts `v` to `elementType` (no-op when equal).
  Value castTo(Value v, Type elementType);

  /// Checks that all values have the same element type; error otherwise.
  LogicalResult checkSameElementType(ArrayRef<Value> values,
                                     llvm::StringRef what = "inputs");

private:
  friend struct ImportTables;

  Value finishInferred(Operation *op);

  LogicalResult importInitializerTable();
  LogicalResult importInputs();
  FailureOr<RankedTensorType> importValueType(const onnx::ValueInfoProto &vi,
                                              llvm::StringRef what);
  LogicalResult sortNodes(SmallVectorImpl<int> &order);
  /// Every attribute's declared type matches the one field it sets.
  LogicalResult checkAttributes();
  LogicalResult checkAttributes(
      ArrayRef<std::pair<const onnx::NodeProto *, std::string>> nodes);
  /// The graph has outputs, each named once and defined.
  LogicalResult checkGraphOutputs();
  /// Every external data location (initializers, Constant values) lies inside
  /// the model's directory. Runs before anything reads an external file.
  LogicalResult checkExternalData();
  LogicalResult convertNode(int index);
  LogicalResult convertNode(const onnx::NodeProto &n,
                            const std::string &displayName);
  /// Orders the nodes of `graph` topologically (implicit inputs of nodes'
  /// subgraphs count as inputs); `isOuter` says whether a name is defined
  /// outside the graph; `prefix` goes before unnamed nodes' names.
  LogicalResult sortGraph(const onnx::GraphProto &graph,
                          llvm::function_ref<bool(llvm::StringRef)> isOuter,
                          bool outerMayBeRedefined, llvm::StringRef prefix,
                          SmallVectorImpl<int> &order);
  /// Resolves a value name (materializing initializers on demand).
  Value lookup(const std::string &name);
  std::string buildSignature(func::FuncOp func);

public:
  /// Converts a TensorProto to an elements attribute (resource blob when
  /// large). `what` names the tensor in diagnostics (at `loc`); `blobName`
  /// is the resource key hint. With `takeRawData` (the tensor's own
  /// raw_data, which nothing reads again), a blob takes that buffer over
  /// instead of copying it: the weights then exist once while importing.
  FailureOr<ElementsAttr> importTensor(const onnx::TensorProto &tensor,
                                       llvm::StringRef what,
                                       llvm::StringRef blobName, Location loc,
                                       std::string *takeRawData = nullptr);

private:
  MLIRContext &ctx;
  const onnx::ModelProto &model;
  std::string modelPath;
  std::string modelDir;
  OnnxImportOptions options;
  OpBuilder builder;
  int64_t defaultOpset = 1;

  llvm::StringMap<Value> values;
  llvm::StringMap<const onnx::TensorProto *> initializers;
  // Main-graph initializers once materialized (hoisted to the function body,
  // visible in every subgraph).
  llvm::StringMap<Value> initializerValues;
  // Initializers of the subgraphs being imported (materialized where used).
  llvm::StringSet<> localInitializers;
  llvm::StringSet<> usedNames;
  llvm::StringSet<> graphInputNames; // excluding initializers
  SmallVector<int> nodeOrder;        // topological

  // Dim symbols: SymbolicDim::of(value, dim). Named ones (graph input
  // dim_params) are the first input dim with the name.
  llvm::StringMap<SymbolicDim> namedSymbols;
  llvm::DenseMap<std::pair<Value, int64_t>, std::string> symbolNames;
  llvm::DenseMap<Value, SmallVector<SymbolicDim, 4>> dimSymbols;
  llvm::DenseMap<Value, ShapeValue> shapeValues;

  // Graph input dims (for the signature).
  struct InputInfo {
    std::string name;
    RankedTensorType type;
    SmallVector<std::string> dimNames; // "" for static, "?" for unnamed
  };
  SmallVector<InputInfo> inputInfos;

  // Current node.
  const onnx::NodeProto *curNode = nullptr;
  std::string curNodeName;
  Location nodeLoc;
  SmallVector<Value> curOperands;
};

/// A converter for one ONNX op type.
using OpConverter = LogicalResult (*)(GraphImporter &);

/// The converter for `opType` of `domain` ("" or "ai.onnx": the default
/// domain; "com.microsoft": ONNX Runtime's contrib ops, registered as
/// "com.microsoft::<op>"), or null when unsupported.
OpConverter lookupConverter(llvm::StringRef domain, llvm::StringRef opType);

/// Converter tables, one per op family (Ops<Family>.cpp); lookupConverter
/// (OpsMisc.cpp) holds them all.
void registerElementwiseConverters(llvm::StringMap<OpConverter> &table);
void registerMatmulConverters(llvm::StringMap<OpConverter> &table);
void registerNormalizationConverters(llvm::StringMap<OpConverter> &table);
void registerMiscConverters(llvm::StringMap<OpConverter> &table);
void registerShapeConverters(llvm::StringMap<OpConverter> &table);
void registerDecomposedConverters(llvm::StringMap<OpConverter> &table);
void registerAttentionConverters(llvm::StringMap<OpConverter> &table);
void registerRotaryConverters(llvm::StringMap<OpConverter> &table);
void registerControlFlowConverters(llvm::StringMap<OpConverter> &table);

/// The graph-valued attributes of `node` (If's then_branch/else_branch...).
SmallVector<std::pair<std::string, const onnx::GraphProto *>>
nodeSubgraphs(const onnx::NodeProto &node);
/// The names a node's subgraphs (recursively) read from enclosing scopes.
void collectImplicitInputs(const onnx::NodeProto &node,
                           SmallVectorImpl<std::string> &names);

/// The reduction axes of a Reduce* node (attribute or input, by opset),
/// normalized and sorted; `noop` is set when the node is an identity
/// (noop_with_empty_axes with no axes). Emits errors on the node.
LogicalResult getReduceAxes(GraphImporter &g, int64_t rank,
                            SmallVectorImpl<int64_t> &axes, bool &noop);

} // namespace mlir::attn::onnx_import

#endif // ATTN_COMPILER_LIB_FRONTEND_IMPORTERIMPL_H
