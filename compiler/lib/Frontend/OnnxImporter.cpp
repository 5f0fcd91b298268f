//===- OnnxImporter.cpp - ONNX model -> attn dialect ----------------------===//
//
// Entry point of the frontend: reads a `.onnx` (binary protobuf, external data
// beside it) or `.onnxtext` model with libonnx, validates it, and imports its
// graph into `func.func @main_graph` (see ImporterImpl.h for the machinery,
// the Ops*.cpp files for the ops).
//
// libonnx and protobuf report errors with C++ exceptions; this library is
// built with -fexceptions and no exception leaves importOnnxFile().
//
//===----------------------------------------------------------------------===//
#include "Frontend/ImporterImpl.h"

#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/Verifier.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include "onnx/checker.h"
#include <google/protobuf/io/zero_copy_stream_impl.h>
#include "onnx/defs/parser.h"
#include "onnx/defs/schema.h"
#include "onnx/shape_inference/implementation.h"

#include <climits>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <cstdlib>
#include <exception>

#include <errno.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace mlir;
using namespace mlir::attn;
using namespace mlir::attn::onnx_import;

/// The newest IR version / default-domain opset libonnx 1.12's checker and
/// shape inference understand.
static constexpr int64_t kMaxCheckedIrVersion = 8;
static constexpr int64_t kMaxCheckedOpset = 17;

/// The IR versions attnc reads: 3 (the first with opset imports, ONNX 1.0)
/// to 12 (ONNX 1.20). Newer versions may add fields that change meaning.
static constexpr int64_t kMinIrVersion = 3;
static constexpr int64_t kMaxIrVersion = 12;
/// The default-domain opsets attnc accepts: 1 to 24 (ONNX 1.18). Each op is
/// still checked individually (its converter reads the opset's form).
static constexpr int64_t kMaxOpset = 24;
/// The runtime's limit on the rank of graph inputs and outputs
/// (ATTN_MAX_RANK in attn/runtime.h).
static constexpr int64_t kMaxSignatureRank = 8;

static bool isDefaultDomain(llvm::StringRef domain) {
  return domain.empty() || domain == "ai.onnx";
}

static std::string nodeDisplayName(const onnx::NodeProto &node, int index) {
  if (!node.name().empty())
    return node.name();
  return node.op_type() + "_" + std::to_string(index);
}

/// libonnx messages span lines ("...\n\n==> Context: ..."); diagnostics are
/// one line.
static std::string oneLine(llvm::StringRef text) {
  std::string msg;
  for (char c : text.trim()) {
    if (c == '\n' || c == '\r') {
      if (!msg.empty() && msg.back() != ' ')
        msg += ' ';
      continue;
    }
    msg += c;
  }
  return msg;
}

/// Calls `fn(node, displayName)` for every node of `graph` and, before each
/// node, of its subgraphs (recursively); unnamed subgraph nodes are named
/// "<node>/<attribute>/<OpType>_<index>".
static void forEachNode(
    const onnx::GraphProto &graph, const std::string &prefix,
    llvm::function_ref<void(const onnx::NodeProto &, const std::string &)> fn) {
  for (int i = 0; i < graph.node_size(); ++i) {
    const auto &node = graph.node(i);
    std::string name =
        node.name().empty() ? prefix + nodeDisplayName(node, i) : node.name();
    for (const auto &[attr, sub] : nodeSubgraphs(node))
      forEachNode(*sub, name + "/" + attr + "/", fn);
    fn(node, name);
  }
}

/// Calls `fn(graph)` for `graph` and every subgraph in it.
static void forEachGraph(const onnx::GraphProto &graph,
                         llvm::function_ref<void(const onnx::GraphProto &)> fn) {
  fn(graph);
  for (const auto &node : graph.node())
    for (const auto &[attr, sub] : nodeSubgraphs(node))
      forEachGraph(*sub, fn);
}

SmallVector<std::pair<std::string, const onnx::GraphProto *>>
onnx_import::nodeSubgraphs(const onnx::NodeProto &node) {
  SmallVector<std::pair<std::string, const onnx::GraphProto *>> out;
  for (const auto &a : node.attribute()) {
    if (a.has_g())
      out.push_back({a.name(), &a.g()});
    for (const auto &g : a.graphs())
      out.push_back({a.name(), &g});
  }
  return out;
}

/// Adds to `names` what `graph` reads from enclosing scopes.
static void graphImplicitInputs(const onnx::GraphProto &graph,
                                SmallVectorImpl<std::string> &names) {
  llvm::StringSet<> defined;
  for (const auto &vi : graph.input())
    defined.insert(vi.name());
  for (const auto &t : graph.initializer())
    defined.insert(t.name());
  for (const auto &node : graph.node())
    for (const auto &out : node.output())
      if (!out.empty())
        defined.insert(out);
  llvm::StringSet<> seen;
  auto add = [&](const std::string &name) {
    if (!name.empty() && !defined.contains(name) && seen.insert(name).second)
      names.push_back(name);
  };
  for (const auto &node : graph.node()) {
    for (const auto &in : node.input())
      add(in);
    SmallVector<std::string> inner;
    collectImplicitInputs(node, inner);
    for (const auto &in : inner)
      add(in);
  }
  for (const auto &out : graph.output())
    add(out.name());
}

void onnx_import::collectImplicitInputs(const onnx::NodeProto &node,
                                        SmallVectorImpl<std::string> &names) {
  for (const auto &[attr, sub] : nodeSubgraphs(node))
    graphImplicitInputs(*sub, names);
}

//===----------------------------------------------------------------------===//
// Loading
//===----------------------------------------------------------------------===//

/// Parses a binary model from the file through a small read buffer: reading
/// it whole first (or mapping it) would hold the file's bytes and the
/// parsed copy of its weights at once (twice the weights at the peak).
static LogicalResult parseBinaryModel(Location loc, llvm::StringRef path,
                                      onnx::ModelProto &model) {
  uint64_t size = 0;
  if (std::error_code ec = llvm::sys::fs::file_size(path, size))
    return emitError(loc) << "cannot open ONNX model '" << path << "': " << ec.message();
  if (llvm::sys::fs::is_directory(path))
    return emitError(loc) << "cannot open ONNX model '" << path
                          << "': " << std::strerror(EISDIR);
  if (size > uint64_t(INT_MAX))
    return emitError(loc) << "failed to parse ONNX model '" << path
                          << "': protobuf files are limited to 2 GiB; store "
                             "the weights as external data";
  int fd = -1;
  if (std::error_code ec = llvm::sys::fs::openFileForRead(path, fd))
    return emitError(loc) << "cannot open ONNX model '" << path << "': " << ec.message();
  google::protobuf::io::FileInputStream in(fd, /*block_size=*/1 << 20);
  in.SetCloseOnDelete(true);
  bool parsed = model.ParseFromZeroCopyStream(&in);
  if (in.GetErrno() != 0)
    return emitError(loc) << "cannot read ONNX model '" << path
                          << "': " << std::strerror(in.GetErrno());
  if (!parsed)
    return emitError(loc) << "failed to parse ONNX model '" << path
                          << "': not a valid ONNX protobuf (corrupt or "
                             "truncated file?)";
  return success();
}

static LogicalResult loadModel(MLIRContext &ctx, llvm::StringRef path,
                               onnx::ModelProto &model) {
  Location loc = UnknownLoc::get(&ctx);
  bool isText = path.ends_with(".onnxtext");
  if (!isText) {
    if (failed(parseBinaryModel(loc, path, model)))
      return failure();
    // An empty or unrelated protobuf can parse as an empty ModelProto.
    if (model.ir_version() <= 0 || !model.has_graph())
      return emitError(loc) << "failed to parse ONNX model '" << path
                            << "': no ONNX graph in the file (ir_version "
                            << model.ir_version() << ")";
    return success();
  }
  auto buffer = llvm::MemoryBuffer::getFile(path, /*IsText=*/false,
                                            /*RequiresNullTerminator=*/true);
  if (!buffer)
    return emitError(loc) << "cannot open ONNX model '" << path
                          << "': " << buffer.getError().message();
  llvm::StringRef data = (*buffer)->getBuffer();
  {
    if (data.size() != strlen(data.data()))
      return emitError(loc) << "failed to parse ONNX text model '" << path
                            << "': the file contains a NUL byte";
    onnx::OnnxParser parser(data.data());
    onnx::Common::Status status = parser.Parse(model);
    if (!status.IsOK())
      return emitError(loc) << "failed to parse ONNX text model '" << path
                            << "': " << oneLine(status.ErrorMessage());
    if (!parser.EndOfInput())
      return emitError(loc) << "failed to parse ONNX text model '" << path
                            << "': unexpected text after the graph";
  }
  return success();
}

/// The version of the default-domain opset the model imports.
static FailureOr<int64_t> defaultOpsetVersion(MLIRContext &ctx, Location loc,
                                              const onnx::ModelProto &model) {
  std::optional<int64_t> version;
  for (const auto &imp : model.opset_import())
    if (isDefaultDomain(imp.domain()))
      version = version ? std::max(*version, int64_t(imp.version()))
                        : int64_t(imp.version());
  if (!version)
    return emitError(loc)
           << "ONNX model imports no opset for the default domain";
  if (*version < 1 || *version > kMaxOpset)
    return emitError(loc) << "ONNX model imports default-domain opset "
                          << *version << "; attnc supports opsets 1 to "
                          << kMaxOpset;
  return *version;
}

/// The model's IR version must be one attnc reads.
static LogicalResult checkIrVersion(Location loc, llvm::StringRef path,
                                    const onnx::ModelProto &model) {
  int64_t ir = model.ir_version();
  if (ir >= kMinIrVersion && ir <= kMaxIrVersion)
    return success();
  return emitError(loc) << "ONNX model '" << path << "' has IR version " << ir
                        << "; attnc supports IR versions " << kMinIrVersion
                        << " to " << kMaxIrVersion;
}

/// Writes all of `data` to `fd` (retrying short writes).
static bool writeAll(int fd, const char *data, size_t size) {
  while (size > 0) {
    ssize_t n = ::write(fd, data, size);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return false;
    data += n;
    size -= size_t(n);
  }
  return true;
}

/// The child's side of validateModel: runs libonnx's checker and shape
/// inference on its (copy-on-write) copy of the model and writes the result
/// to `fd`: one byte ('O' checked, 'C' checker failed), the message length
/// as 8 decimal digits and the checker's message, then a serialized
/// GraphProto holding the graph outputs as shape inference left them.
/// Never returns.
[[noreturn]] static void runCheckerChild(int fd, const std::string &path,
                                         onnx::ModelProto &model,
                                         bool pathChecker) {
  // A crash in libonnx must reach the parent as a signal, not as LLVM's
  // crash report, and must not leave a core file behind.
  for (int sig : {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT})
    std::signal(sig, SIG_DFL);
  struct rlimit noCore = {0, 0};
  setrlimit(RLIMIT_CORE, &noCore);

  // Unnamed nodes get the names our own messages use ("Add_0"), so that the
  // checker's messages name them too (this is the child's copy).
  for (int i = 0; i < model.graph().node_size(); ++i) {
    onnx::NodeProto *node = model.mutable_graph()->mutable_node(i);
    if (node->name().empty())
      node->set_name(nodeDisplayName(*node, i));
  }

  char status = 'O';
  std::string message;
  try {
    if (pathChecker)
      onnx::checker::check_model(path);
    else
      onnx::checker::check_model(model);
  } catch (const std::exception &e) {
    status = 'C';
    message = oneLine(e.what());
  } catch (...) {
    status = 'C';
    message = "unknown error";
  }
  std::string outputs;
  if (status == 'O') {
    // Test hook: a crash inside shape inference.
    if (const char *crash = std::getenv("ATTN_TEST_CRASH_SHAPE_INFERENCE");
        crash && llvm::StringRef(crash) == "1")
      std::raise(SIGSEGV);
    try {
      onnx::ShapeInferenceOptions opts(/*check_type=*/false, /*error_mode=*/0,
                                       /*data_prop=*/true);
      onnx::shape_inference::InferShapes(
          model, onnx::OpSchemaRegistry::Instance(), opts);
    } catch (...) {
      // Best effort only.
    }
    onnx::GraphProto g;
    for (const auto &out : model.graph().output())
      *g.add_output() = out;
    if (!g.SerializeToString(&outputs))
      outputs.clear();
  }
  char header[10];
  snprintf(header, sizeof(header), "%c%08zu", status,
           std::min<size_t>(message.size(), 99999999));
  bool ok = writeAll(fd, header, 9) &&
            writeAll(fd, message.data(), std::min<size_t>(message.size(),
                                                          99999999)) &&
            writeAll(fd, outputs.data(), outputs.size());
  ::close(fd);
  _exit(ok ? 0 : 3);
}

/// Runs the ONNX checker and shape inference where libonnx 1.12 supports the
/// model's IR version and opset. Checker failures are errors; shape inference
/// is best effort (our dialect's inference is the source of truth, ONNX's only
/// names output dims).
///
/// libonnx can crash (not throw) on malformed models that pass its checker,
/// so both run in a forked child process; the parent gets the checker's
/// verdict and the graph outputs' inferred types through a pipe (no weights
/// are copied or serialized). A child killed by a signal means the model is
/// malformed: an error.
static LogicalResult validateModel(MLIRContext &ctx, Location loc,
                                   llvm::StringRef path,
                                   onnx::ModelProto &model) {
  if (model.ir_version() > kMaxCheckedIrVersion)
    return success();
  for (const auto &imp : model.opset_import())
    if (isDefaultDomain(imp.domain()) && imp.version() > kMaxCheckedOpset)
      return success();
  // The in-memory checker cannot resolve external data (it does not know the
  // model's directory); the path-based one re-reads the (then small) file.
  // External data locations were checked (inside the model's directory)
  // before this runs.
  bool hasExternalData = false;
  for (const auto &t : model.graph().initializer())
    hasExternalData |= t.has_data_location() &&
                       t.data_location() == onnx::TensorProto::EXTERNAL;
  bool pathChecker = hasExternalData && !path.ends_with(".onnxtext");

  // Register libonnx's op schemas here, once per process (no model input
  // involved), so that each child does not redo it.
  (void)onnx::OpSchemaRegistry::Schema("Relu", kMaxCheckedOpset, "");

  int fds[2];
  if (::pipe(fds) != 0)
    return emitError(loc) << "cannot check ONNX model '" << path
                          << "': pipe: " << strerror(errno);
  // Nothing buffered in this process may be written twice.
  fflush(nullptr);
  llvm::outs().flush();
  llvm::errs().flush();
  pid_t pid = ::fork();
  if (pid < 0) {
    int err = errno;
    ::close(fds[0]);
    ::close(fds[1]);
    return emitError(loc) << "cannot check ONNX model '" << path
                          << "': fork: " << strerror(err);
  }
  if (pid == 0) {
    ::close(fds[0]);
    runCheckerChild(fds[1], path.str(), model, pathChecker);
  }
  ::close(fds[1]);
  std::string reply;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fds[0], buf, sizeof(buf));
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    reply.append(buf, size_t(n));
  }
  ::close(fds[0]);
  int wstatus = 0;
  while (::waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {
  }
  if (WIFSIGNALED(wstatus))
    return emitError(loc) << "ONNX shape inference crashed on model '" << path
                          << "' (signal " << WTERMSIG(wstatus)
                          << "); the model is malformed";
  size_t msgLen = 0;
  bool wellFormed = WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0 &&
                    reply.size() >= 9 &&
                    (reply[0] == 'O' || reply[0] == 'C') &&
                    !llvm::StringRef(reply).substr(1, 8).getAsInteger(10,
                                                                      msgLen) &&
                    reply.size() >= 9 + msgLen;
  if (!wellFormed)
    // E.g. a sanitizer's report on a crash, which exits instead.
    return emitError(loc) << "ONNX shape inference failed on model '" << path
                          << "' (exit status "
                          << (WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1)
                          << "); the model is malformed";
  if (reply[0] == 'C')
    return emitError(loc) << "invalid ONNX model '" << path
                          << "': " << reply.substr(9, msgLen);
  onnx::GraphProto inferred;
  llvm::StringRef rest = llvm::StringRef(reply).drop_front(9 + msgLen);
  if (!rest.empty() &&
      inferred.ParseFromArray(rest.data(), static_cast<int>(rest.size())) &&
      inferred.output_size() == model.graph().output_size()) {
    for (int i = 0; i < inferred.output_size(); ++i)
      if (inferred.output(i).name() == model.graph().output(i).name())
        *model.mutable_graph()->mutable_output(i) = inferred.output(i);
  }
  return success();
}

OwningOpRef<ModuleOp>
mlir::attn::importOnnxFile(MLIRContext &context, llvm::StringRef path,
                           const OnnxImportOptions &options) {
  context.loadDialect<AttnDialect, func::FuncDialect, arith::ArithDialect,
                      tensor::TensorDialect, scf::SCFDialect>();
  Location loc = UnknownLoc::get(&context);
  try {
    onnx::ModelProto model;
    if (failed(loadModel(context, path, model)) ||
        failed(checkIrVersion(loc, path, model)))
      return nullptr;
    if (failed(GraphImporter::checkSupportedOps(context, loc, model.graph())))
      return nullptr;
    // Our own structural checks first (always, also where libonnx's checker
    // does not run): their messages name nodes and inputs more clearly than
    // the ONNX checker's, and they check external data locations before
    // anything reads an external file.
    GraphImporter importer(context, model, path, options);
    if (failed(importer.prepare()))
      return nullptr;
    if (failed(validateModel(context, loc, path, model)))
      return nullptr;
    return importer.import();
  } catch (const std::exception &e) {
    emitError(loc) << "failed to import ONNX model '" << path
                   << "': " << e.what();
  } catch (...) {
    emitError(loc) << "failed to import ONNX model '" << path
                   << "': unknown exception";
  }
  return nullptr;
}

//===----------------------------------------------------------------------===//
// GraphImporter
//===----------------------------------------------------------------------===//

GraphImporter::GraphImporter(MLIRContext &ctx, const onnx::ModelProto &model,
                             llvm::StringRef modelPath,
                             const OnnxImportOptions &options)
    : ctx(ctx), model(model), modelPath(modelPath.str()), options(options),
      builder(&ctx), nodeLoc(UnknownLoc::get(&ctx)) {
  llvm::SmallString<256> dir(modelPath);
  llvm::sys::path::remove_filename(dir);
  modelDir = dir.empty() ? std::string(".") : std::string(dir.str());
}

LogicalResult GraphImporter::checkSupportedOps(MLIRContext &ctx, Location loc,
                                               const onnx::GraphProto &graph) {
  struct Uses {
    std::string domain;
    SmallVector<std::string> nodes;
  };
  llvm::StringMap<Uses> unsupported;
  SmallVector<std::string> keys; // first-use order
  // Subgraphs (If branches) included: their nodes go through the same table.
  forEachNode(graph, "", [&](const onnx::NodeProto &node,
                             const std::string &name) {
    if (lookupConverter(node.domain(), node.op_type()))
      return;
    std::string key = isDefaultDomain(node.domain())
                          ? node.op_type()
                          : node.domain() + "::" + node.op_type();
    if (!unsupported.count(key))
      keys.push_back(key);
    Uses &u = unsupported[key];
    u.domain = isDefaultDomain(node.domain()) ? "" : node.domain();
    u.nodes.push_back(name);
  });
  for (const std::string &key : keys) {
    const Uses &uses = unsupported[key];
    auto diag = emitError(UnknownLoc::get(&ctx))
                << "unsupported ONNX op '" << key << "' (";
    if (!uses.domain.empty())
      diag << "operator domain '" << uses.domain << "' is not supported; ";
    diag << "nodes: ";
    llvm::interleave(
        uses.nodes, [&](const std::string &n) { diag << n; },
        [&] { diag << ", "; });
    diag << ")";
  }
  return success(unsupported.empty());
}

FailureOr<RankedTensorType>
GraphImporter::importValueType(const onnx::ValueInfoProto &vi,
                               llvm::StringRef what) {
  Location loc = UnknownLoc::get(&ctx);
  if (!vi.has_type() ||
      vi.type().value_case() != onnx::TypeProto::kTensorType)
    return emitError(loc) << what
                          << " is not a tensor (sequences, maps, optionals "
                             "and sparse tensors are not supported)";
  const auto &tt = vi.type().tensor_type();
  Type elt = convertDataType(&ctx, tt.elem_type());
  if (!elt)
    return emitError(loc) << what << " has unsupported element type "
                          << onnxDataTypeName(tt.elem_type());
  if (!tt.has_shape())
    return emitError(loc) << what
                          << " has no shape (unknown rank); attnc needs the "
                             "rank of every graph input";
  if (tt.shape().dim_size() > kMaxSignatureRank)
    return emitError(loc) << what << " has rank " << tt.shape().dim_size()
                          << "; attnc supports graph inputs of rank at most "
                          << kMaxSignatureRank;
  for (auto [i, d] : llvm::enumerate(tt.shape().dim()))
    if (d.has_dim_value() && d.dim_value() < 0)
      return emitError(loc) << what << " has a negative size "
                            << d.dim_value() << " in dim " << i;
  // Dim symbols (named by dim_param) are given to the block argument in
  // import().
  SmallVector<int64_t> shape;
  for (const auto &d : tt.shape().dim())
    shape.push_back(d.has_dim_value() ? d.dim_value() : ShapedType::kDynamic);
  RankedTensorType type = RankedTensorType::get(shape, elt);
  std::string sizeError = staticSizeError(type);
  if (!sizeError.empty())
    return emitError(loc) << what << ": " << sizeError;
  return type;
}

LogicalResult GraphImporter::importInitializerTable() {
  const auto &graph = model.graph();
  for (const auto &t : graph.initializer()) {
    Location loc = UnknownLoc::get(&ctx);
    if (t.name().empty())
      return emitError(loc) << "ONNX graph has an initializer without a name";
    if (!initializers.try_emplace(t.name(), &t).second)
      return emitError(loc) << "ONNX initializer '" << t.name()
                            << "' is defined twice";
  }
  if (graph.sparse_initializer_size() > 0)
    return emitError(UnknownLoc::get(&ctx))
           << "sparse initializer '"
           << graph.sparse_initializer(0).values().name()
           << "' is not supported";
  return success();
}

LogicalResult GraphImporter::importInputs() {
  llvm::StringSet<> seen;
  SmallVector<std::string> constantInputs;
  for (const auto &vi : model.graph().input()) {
    Location loc = UnknownLoc::get(&ctx);
    if (vi.name().empty())
      return emitError(loc) << "ONNX graph has an input without a name";
    if (!seen.insert(vi.name()).second)
      return emitError(loc) << "graph input '" << vi.name()
                            << "' is declared twice";
    // ONNX: an initializer is the default value of the graph input of its
    // name, which the caller may override. By default attnc compiles it as
    // a constant (and says so); --inputs-override-initializers makes it an
    // input of the signature.
    if (auto init = initializers.find(vi.name()); init != initializers.end()) {
      // The declared type must be the initializer's.
      const onnx::TensorProto &t = *init->second;
      if (vi.has_type() && vi.type().has_tensor_type()) {
        const auto &tt = vi.type().tensor_type();
        bool typeOk = tt.elem_type() == 0 || tt.elem_type() == t.data_type();
        bool shapeOk = !tt.has_shape() || tt.shape().dim_size() == t.dims_size();
        for (int i = 0; shapeOk && tt.has_shape() && i < t.dims_size(); ++i)
          shapeOk = !tt.shape().dim(i).has_dim_value() ||
                    tt.shape().dim(i).dim_value() == t.dims(i);
        if (!typeOk || !shapeOk) {
          auto diag = emitError(loc) << "graph input '" << vi.name()
                                     << "' is declared as "
                                     << onnxDataTypeName(tt.elem_type());
          if (tt.has_shape()) {
            diag << " [";
            llvm::interleaveComma(tt.shape().dim(), diag, [&](const auto &d) {
              if (d.has_dim_value())
                diag << d.dim_value();
              else
                diag << (d.dim_param().empty() ? "?" : d.dim_param());
            });
            diag << "]";
          }
          diag << " but its initializer is " << onnxDataTypeName(t.data_type())
               << " [";
          llvm::interleaveComma(t.dims(), diag);
          diag << "]";
          return diag;
        }
      }
      if (!options.inputsOverrideInitializers) {
        constantInputs.push_back(vi.name());
        continue;
      }
      initializers.erase(vi.name());
    }
    graphInputNames.insert(vi.name());
    auto type = importValueType(vi, "graph input '" + vi.name() + "'");
    if (failed(type))
      return failure();
    InputInfo info{vi.name(), *type, {}};
    const auto &shape = vi.type().tensor_type().shape();
    for (const auto &d : shape.dim()) {
      if (d.has_dim_value() && d.dim_value() >= 0)
        info.dimNames.push_back("");
      else if (d.has_dim_param() && !d.dim_param().empty())
        info.dimNames.push_back(d.dim_param());
      else
        info.dimNames.push_back("?");
    }
    inputInfos.push_back(std::move(info));
  }
  // Before IR 4 every initializer had to be listed as a graph input: no
  // intent to override, no warning.
  if (!constantInputs.empty() && model.ir_version() >= 4) {
    auto diag = emitWarning(UnknownLoc::get(&ctx))
                << (constantInputs.size() == 1 ? "graph input " : "graph inputs ");
    constexpr size_t kNamed = 5;
    for (size_t i = 0; i < std::min(kNamed, constantInputs.size()); ++i)
      diag << (i ? ", '" : "'") << constantInputs[i] << "'";
    if (constantInputs.size() > kNamed)
      diag << " and " << constantInputs.size() - kNamed << " more";
    diag << (constantInputs.size() == 1 ? " has an initializer" : " have initializers")
         << " (a default value); compiled as "
         << (constantInputs.size() == 1 ? "a constant" : "constants")
         << " (--inputs-override-initializers makes "
         << (constantInputs.size() == 1 ? "it an input" : "them inputs") << ")";
  }
  return success();
}

LogicalResult GraphImporter::sortNodes(SmallVectorImpl<int> &order) {
  return sortGraph(
      model.graph(),
      [&](llvm::StringRef name) {
        return graphInputNames.count(name) || initializers.count(name);
      },
      /*outerMayBeRedefined=*/false, "", order);
}

LogicalResult
GraphImporter::sortGraph(const onnx::GraphProto &graph,
                         llvm::function_ref<bool(llvm::StringRef)> isOuter,
                         bool outerMayBeRedefined, llvm::StringRef prefix,
                         SmallVectorImpl<int> &order) {
  int n = graph.node_size();
  llvm::StringMap<int> producer;
  bool ok = true;
  auto nameOf = [&](int i) {
    const auto &node = graph.node(i);
    return node.name().empty() ? prefix.str() + nodeDisplayName(node, i)
                               : node.name();
  };
  auto nodeLocOf = [&](int i) {
    return NameLoc::get(StringAttr::get(&ctx, nameOf(i)));
  };
  // Subgraph inputs and initializers are defined before any node.
  llvm::StringSet<> graphDefined;
  for (const auto &vi : graph.input())
    graphDefined.insert(vi.name());
  for (const auto &t : graph.initializer())
    graphDefined.insert(t.name());
  for (int i = 0; i < n; ++i) {
    for (const auto &out : graph.node(i).output()) {
      if (out.empty())
        continue;
      if ((!outerMayBeRedefined && isOuter(out)) || graphDefined.count(out)) {
        emitError(nodeLocOf(i))
            << "ONNX node '" << nameOf(i) << "' ("
            << graph.node(i).op_type() << "): output '" << out
            << "' redefines a graph input or initializer";
        ok = false;
        continue;
      }
      auto [it, inserted] = producer.try_emplace(out, i);
      if (!inserted) {
        emitError(nodeLocOf(i))
            << "ONNX node '" << nameOf(i) << "' ("
            << graph.node(i).op_type() << "): output '" << out
            << "' is also produced by node '" << nameOf(it->second) << "'";
        ok = false;
      }
    }
  }
  // What each node reads: its inputs, then what its subgraphs read from
  // enclosing scopes (an If must come after the values its branches use).
  SmallVector<SmallVector<std::string>> reads(n);
  for (int i = 0; i < n; ++i) {
    const auto &node = graph.node(i);
    reads[i].assign(node.input().begin(), node.input().end());
    size_t explicitCount = reads[i].size();
    collectImplicitInputs(node, reads[i]);
    for (size_t k = 0; k < reads[i].size(); ++k) {
      const std::string &in = reads[i][k];
      if (in.empty() || graphDefined.count(in) || producer.count(in) ||
          isOuter(in))
        continue;
      if (k < explicitCount)
        emitError(nodeLocOf(i))
            << "ONNX node '" << nameOf(i) << "' (" << node.op_type()
            << "): input '" << in
            << "' is not produced by any node and is not a graph input or "
               "initializer";
      else
        emitError(nodeLocOf(i))
            << "ONNX node '" << nameOf(i) << "' (" << node.op_type()
            << "): a subgraph reads '" << in
            << "', which is not produced by any node and is not a graph "
               "input or initializer";
      ok = false;
    }
  }
  if (!ok)
    return failure();

  // Depth-first post-order, visiting roots and inputs in their given order,
  // so an already sorted graph keeps its order.
  SmallVector<char> state(n, 0); // 0 new, 1 on stack, 2 done
  for (int root = 0; root < n; ++root) {
    if (state[root])
      continue;
    SmallVector<std::pair<int, int>> stack{{root, 0}};
    state[root] = 1;
    while (!stack.empty()) {
      auto &[node, next] = stack.back();
      if (next < (int)reads[node].size()) {
        const std::string &in = reads[node][next++];
        auto it = producer.find(in);
        if (in.empty() || it == producer.end())
          continue;
        int p = it->second;
        if (state[p] == 1)
          return emitError(nodeLocOf(p))
                 << "ONNX graph has a cycle through node '" << nameOf(p)
                 << "'";
        if (state[p] == 0) {
          state[p] = 1;
          stack.push_back({p, 0});
        }
        continue;
      }
      state[node] = 2;
      order.push_back(node);
      stack.pop_back();
    }
  }
  return success();
}

Value GraphImporter::lookup(const std::string &name) {
  auto it = values.find(name);
  if (it != values.end())
    return it->second;
  bool local = localInitializers.contains(name);
  if (!local) {
    auto cached = initializerValues.find(name);
    if (cached != initializerValues.end())
      return cached->second;
  }
  auto init = initializers.find(name);
  if (init == initializers.end())
    return {};
  Location loc = NameLoc::get(StringAttr::get(&ctx, name));
  // A main-graph initializer is imported once (cached below), and nothing
  // reads its bytes afterwards: its blob takes the protobuf's buffer over.
  // importOnnxFile owns the (non-const) model, so the const_cast is sound.
  std::string *take = nullptr;
  if (!local && init->second->has_raw_data())
    take = const_cast<onnx::TensorProto *>(init->second)->mutable_raw_data();
  auto attr = importTensor(*init->second, "initializer '" + name + "'", name,
                           UnknownLoc::get(&ctx), take);
  if (failed(attr))
    return {};
  if (local) {
    // A subgraph's own initializer: in scope only there.
    Value v = arith::ConstantOp::create(builder, loc, cast<TypedAttr>(*attr));
    values[name] = v;
    return v;
  }
  // A main-graph initializer first read inside a subgraph is placed in the
  // function body, before the op holding the subgraph, so that it dominates
  // every later use (and is imported once).
  OpBuilder::InsertionGuard guard(builder);
  Block *block = builder.getInsertionBlock();
  Operation *parent = block ? block->getParentOp() : nullptr;
  Operation *ancestor = nullptr;
  while (parent && !isa<func::FuncOp>(parent)) {
    ancestor = parent;
    parent = parent->getBlock() ? parent->getBlock()->getParentOp() : nullptr;
  }
  if (ancestor)
    builder.setInsertionPoint(ancestor);
  Value v = arith::ConstantOp::create(builder, loc, cast<TypedAttr>(*attr));
  initializerValues[name] = v;
  return v;
}

LogicalResult GraphImporter::convertNode(int index) {
  const onnx::NodeProto &n = model.graph().node(index);
  return convertNode(n, nodeDisplayName(n, index));
}

LogicalResult GraphImporter::convertNode(const onnx::NodeProto &n,
                                         const std::string &displayName) {
  curNode = &n;
  curNodeName = displayName;
  nodeLoc = NameLoc::get(StringAttr::get(&ctx, curNodeName));

  // Diagnostics from op inference and verification name the node in a note.
  ScopedDiagnosticHandler handler(&ctx, [&](Diagnostic &diag) {
    if (diag.getSeverity() == DiagnosticSeverity::Error &&
        !llvm::StringRef(diag.str()).starts_with("ONNX node '"))
      diag.attachNote() << "while importing ONNX node '" << curNodeName
                        << "' (" << n.op_type() << ")";
    return failure(); // let the next handler report it
  });

  curOperands.clear();
  for (const std::string &in : n.input()) {
    if (in.empty()) {
      curOperands.push_back({});
      continue;
    }
    Value v = lookup(in);
    if (!v)
      return failure(); // initializer import failed (diagnosed)
    curOperands.push_back(v);
  }

  Block *block = builder.getInsertionBlock();
  Operation *last = block->empty() ? nullptr : &block->back();
  OpConverter convert = lookupConverter(n.domain(), n.op_type());
  if (!convert)
    return nodeError() << "unsupported op"; // filtered earlier
  if (failed(convert(*this)))
    return failure();
  auto begin = last ? std::next(last->getIterator()) : block->begin();
  for (Operation &op : llvm::make_range(begin, block->end())) {
    for (auto [i, r] : llvm::enumerate(op.getResults())) {
      auto type = dyn_cast<RankedTensorType>(r.getType());
      if (!type)
        continue;
      std::string sizeError = staticSizeError(type);
      if (!sizeError.empty())
        return nodeError() << "result " << sizeError;
    }
    if (failed(verify(&op, /*verifyRecursively=*/false)))
      return failure();
  }
  for (int i = 0; i < n.output_size(); ++i)
    if (isOutputUsed(i) && !values.count(n.output(i)))
      return nodeError() << "output #" << i << " ('" << n.output(i)
                         << "') is not supported by the importer";
  return success();
}

std::string GraphImporter::buildSignature(func::FuncOp func) {
  // ONNX-declared output dims that name an input's dim (after ONNX shape
  // inference) back up our own symbols.
  auto declaredDimName = [&](int outIdx, int64_t dim) -> std::string {
    const auto &vi = model.graph().output(outIdx);
    if (!vi.has_type() || !vi.type().has_tensor_type() ||
        !vi.type().tensor_type().has_shape())
      return "";
    const auto &shape = vi.type().tensor_type().shape();
    if (dim >= shape.dim_size())
      return "";
    const auto &d = shape.dim(dim);
    if (d.has_dim_param() && namedSymbols.count(d.dim_param()))
      return d.dim_param();
    return "";
  };
  auto fixUTF8 = [](const std::string &s) {
    return llvm::json::isUTF8(s) ? s : llvm::json::fixUTF8(s);
  };

  std::string out;
  llvm::raw_string_ostream os(out);
  llvm::json::OStream j(os);
  j.object([&] {
    j.attributeArray("inputs", [&] {
      for (const InputInfo &in : inputInfos) {
        j.object([&] {
          j.attribute("name", fixUTF8(in.name));
          j.attribute("dtype", dtypeName(in.type.getElementType()));
          j.attributeArray("shape", [&] {
            for (int64_t i = 0; i < in.type.getRank(); ++i) {
              if (in.type.isDynamicDim(i))
                j.value(fixUTF8(in.dimNames[i]));
              else
                j.value(in.type.getDimSize(i));
            }
          });
        });
      }
    });
    j.attributeArray("outputs", [&] {
      Operation *ret = func.getBody().front().getTerminator();
      for (auto [idx, v] : llvm::enumerate(ret->getOperands())) {
        auto type = cast<RankedTensorType>(v.getType());
        j.object([&] {
          j.attribute("name", fixUTF8(model.graph().output(idx).name()));
          j.attribute("dtype", dtypeName(type.getElementType()));
          j.attributeArray("shape", [&] {
            for (int64_t i = 0; i < type.getRank(); ++i) {
              if (!type.isDynamicDim(i)) {
                j.value(type.getDimSize(i));
                continue;
              }
              std::string name = symbolName(dimSymbol(v, i)).str();
              if (name.empty())
                name = declaredDimName(idx, i);
              j.value(fixUTF8(name.empty() ? "?" : name));
            }
          });
        });
      }
    });
  });
  os.flush();
  return out;
}

static bool isExternal(const onnx::TensorProto &t) {
  return t.has_data_location() &&
         t.data_location() == onnx::TensorProto::EXTERNAL;
}

LogicalResult GraphImporter::checkExternalData() {
  bool ok = true;
  auto check = [&](const onnx::TensorProto &t, const std::string &what) {
    if (!isExternal(t))
      return;
    std::string location, file;
    for (const auto &kv : t.external_data())
      if (kv.key() == "location")
        location = kv.value();
    if (location.empty()) {
      emitError(UnknownLoc::get(&ctx))
          << what << " has external data without a 'location'";
      ok = false;
      return;
    }
    // One message is enough: stop at the first bad location.
    ok = succeeded(resolveExternalDataFile(UnknownLoc::get(&ctx), what,
                                           location, modelDir, file));
  };
  forEachGraph(model.graph(), [&](const onnx::GraphProto &graph) {
    for (const auto &t : graph.initializer())
      if (ok)
        check(t, "initializer '" + t.name() + "'");
  });
  forEachNode(model.graph(), "",
              [&](const onnx::NodeProto &node, const std::string &name) {
                for (const auto &a : node.attribute()) {
                  std::string what = "ONNX node '" + name + "' (" +
                                     node.op_type() + "): attribute '" +
                                     a.name() + "'";
                  if (ok && a.has_t())
                    check(a.t(), what);
                  for (const auto &t : a.tensors())
                    if (ok)
                      check(t, what);
                }
              });
  return success(ok);
}

LogicalResult GraphImporter::checkAttributes() {
  // Every node, those of subgraphs (If branches) included.
  SmallVector<std::pair<const onnx::NodeProto *, std::string>> nodes;
  forEachNode(model.graph(), "",
              [&](const onnx::NodeProto &node, const std::string &name) {
                nodes.push_back({&node, name});
              });
  return checkAttributes(nodes);
}

LogicalResult GraphImporter::checkAttributes(
    ArrayRef<std::pair<const onnx::NodeProto *, std::string>> nodes) {
  using AP = onnx::AttributeProto;
  for (const auto &[nodePtr, displayName] : nodes) {
    const auto &node = *nodePtr;
    Location loc = NameLoc::get(StringAttr::get(&ctx, displayName));
    auto error = [&]() {
      return emitError(loc) << "ONNX node '" << displayName << "' ("
                            << node.op_type() << "): ";
    };
    llvm::StringSet<> names;
    for (const auto &a : node.attribute()) {
      if (a.name().empty())
        return error() << "attribute without a name";
      if (!names.insert(a.name()).second)
        return error() << "attribute '" << a.name() << "' is given twice";
      if (!a.ref_attr_name().empty())
        return error() << "attribute '" << a.name()
                       << "' refers to function attribute '"
                       << a.ref_attr_name()
                       << "' outside a function";
      // The fields the attribute sets, by the type they belong to.
      SmallVector<AP::AttributeType> set;
      if (a.has_f()) set.push_back(AP::FLOAT);
      if (a.has_i()) set.push_back(AP::INT);
      if (a.has_s()) set.push_back(AP::STRING);
      if (a.has_t()) set.push_back(AP::TENSOR);
      if (a.has_g()) set.push_back(AP::GRAPH);
      if (a.has_sparse_tensor()) set.push_back(AP::SPARSE_TENSOR);
      if (a.has_tp()) set.push_back(AP::TYPE_PROTO);
      if (a.floats_size()) set.push_back(AP::FLOATS);
      if (a.ints_size()) set.push_back(AP::INTS);
      if (a.strings_size()) set.push_back(AP::STRINGS);
      if (a.tensors_size()) set.push_back(AP::TENSORS);
      if (a.graphs_size()) set.push_back(AP::GRAPHS);
      if (a.sparse_tensors_size()) set.push_back(AP::SPARSE_TENSORS);
      if (a.type_protos_size()) set.push_back(AP::TYPE_PROTOS);
      AP::AttributeType type = a.type();
      auto typeName = [](int t) -> std::string {
        if (AP::AttributeType_IsValid(t))
          return AP::AttributeType_Name(static_cast<AP::AttributeType>(t));
        return "<attribute type " + std::to_string(t) + ">";
      };
      if (type == AP::UNDEFINED) {
        // An empty list (ONNX text `axes = []`) carries no type.
        if (set.empty())
          continue;
        return error() << "attribute '" << a.name() << "' has no type (it holds "
                       << typeName(set.front()) << ")";
      }
      if (!AP::AttributeType_IsValid(type))
        return error() << "attribute '" << a.name() << "' has unknown type "
                       << int(type);
      bool isList = type == AP::FLOATS || type == AP::INTS ||
                    type == AP::STRINGS || type == AP::TENSORS ||
                    type == AP::GRAPHS || type == AP::SPARSE_TENSORS ||
                    type == AP::TYPE_PROTOS;
      for (AP::AttributeType t : set)
        if (t != type)
          return error() << "attribute '" << a.name() << "' is declared "
                         << typeName(type) << " but holds a "
                         << typeName(t) << " value";
      if (!isList && set.empty())
        return error() << "attribute '" << a.name() << "' is declared "
                       << typeName(type) << " but holds no value";
    }
  }
  return success();
}

LogicalResult GraphImporter::checkGraphOutputs() {
  const auto &graph = model.graph();
  Location loc = UnknownLoc::get(&ctx);
  if (graph.output_size() == 0)
    return emitError(loc) << "ONNX graph"
                          << (graph.name().empty() ? "" : " '" + graph.name() + "'")
                          << " has no outputs";
  llvm::StringSet<> produced;
  for (const auto &node : graph.node())
    for (const auto &out : node.output())
      if (!out.empty())
        produced.insert(out);
  llvm::StringSet<> seen;
  for (const auto &vi : graph.output()) {
    if (vi.name().empty())
      return emitError(loc) << "ONNX graph has an output without a name";
    if (!seen.insert(vi.name()).second)
      return emitError(loc) << "graph output '" << vi.name()
                            << "' is listed twice";
    if (!produced.contains(vi.name()) && !graphInputNames.contains(vi.name()) &&
        !initializers.count(vi.name()))
      return emitError(loc) << "graph output '" << vi.name()
                            << "' is not produced by any node and is not a "
                               "graph input or initializer";
    if (vi.has_type() && vi.type().has_tensor_type() &&
        vi.type().tensor_type().has_shape()) {
      const auto &shape = vi.type().tensor_type().shape();
      if (shape.dim_size() > kMaxSignatureRank)
        return emitError(loc) << "graph output '" << vi.name()
                              << "' is declared with rank " << shape.dim_size()
                              << "; attnc supports graph outputs of rank at "
                                 "most "
                              << kMaxSignatureRank;
      for (auto [i, d] : llvm::enumerate(shape.dim()))
        if (d.has_dim_value() && d.dim_value() < 0)
          return emitError(loc) << "graph output '" << vi.name()
                                << "' is declared with a negative size "
                                << d.dim_value() << " in dim " << i;
    }
  }
  return success();
}

LogicalResult GraphImporter::prepare() {
  const auto &graph = model.graph();
  auto opsetOr = defaultOpsetVersion(ctx, UnknownLoc::get(&ctx), model);
  if (failed(opsetOr))
    return failure();
  defaultOpset = *opsetOr;
  if (failed(importInitializerTable()) || failed(importInputs()) ||
      failed(checkGraphOutputs()) || failed(checkAttributes()) ||
      failed(checkExternalData()))
    return failure();
  // Names read by subgraphs (If branches) count as used too.
  forEachGraph(graph, [&](const onnx::GraphProto &g) {
    for (const auto &node : g.node())
      for (const auto &in : node.input())
        if (!in.empty())
          usedNames.insert(in);
    for (const auto &out : g.output())
      usedNames.insert(out.name());
  });
  return sortNodes(nodeOrder);
}

OwningOpRef<ModuleOp> GraphImporter::import() {
  const auto &graph = model.graph();
  Location fileLoc = FileLineColLoc::get(&ctx, modelPath, 0, 0);
  SmallVector<Type> argTypes;
  SmallVector<Location> argLocs;
  for (const InputInfo &in : inputInfos) {
    argTypes.push_back(in.type);
    argLocs.push_back(NameLoc::get(StringAttr::get(&ctx, in.name)));
  }

  OwningOpRef<ModuleOp> module = ModuleOp::create(fileLoc);
  builder.setInsertionPointToEnd(module->getBody());
  Location funcLoc =
      graph.name().empty()
          ? fileLoc
          : Location(NameLoc::get(StringAttr::get(&ctx, graph.name()), fileLoc));
  auto func = func::FuncOp::create(builder, funcLoc, options.entryName,
                                   builder.getFunctionType(argTypes, {}));
  Block *entry = new Block();
  func.getBody().push_back(entry);
  for (auto [i, t] : llvm::enumerate(argTypes)) {
    BlockArgument arg = entry->addArgument(t, argLocs[i]);
    values[inputInfos[i].name] = arg;
    // Equally named dims (ONNX dim_params) are one symbol: the first.
    ShapeValue dims = dimsOf(arg);
    for (auto [d, name] : llvm::enumerate(inputInfos[i].dimNames))
      if (!name.empty() && name != "?" && !dims[d].isStatic())
        dims[d] = namedSymbol(name, dims[d]);
    setDims(arg, dims);
  }
  builder.setInsertionPointToEnd(entry);

  for (int index : nodeOrder)
    if (failed(convertNode(index)))
      return nullptr;

  // Results.
  SmallVector<Value> results;
  for (const auto &vi : graph.output()) {
    Location loc = UnknownLoc::get(&ctx);
    nodeLoc = loc;
    Value v = lookup(vi.name());
    if (!v) {
      emitError(loc) << "graph output '" << vi.name()
                     << "' is not produced by any node and is not a graph "
                        "input or initializer";
      return nullptr;
    }
    auto type = cast<RankedTensorType>(v.getType());
    if (type.getRank() > kMaxSignatureRank) {
      emitError(loc) << "graph output '" << vi.name() << "' has rank "
                     << type.getRank()
                     << "; attnc supports graph outputs of rank at most "
                     << kMaxSignatureRank;
      return nullptr;
    }
    if (vi.has_type() && vi.type().has_tensor_type() &&
        vi.type().tensor_type().elem_type() != 0) {
      int32_t declared = vi.type().tensor_type().elem_type();
      Type declaredType = convertDataType(&ctx, declared);
      if (!declaredType) {
        emitError(loc) << "graph output '" << vi.name()
                       << "' has unsupported element type "
                       << onnxDataTypeName(declared);
        return nullptr;
      }
      if (declaredType != type.getElementType()) {
        emitError(loc) << "graph output '" << vi.name() << "' is declared as "
                       << declaredType << " but computed as "
                       << type.getElementType();
        return nullptr;
      }
      if (vi.type().tensor_type().has_shape()) {
        const auto &shape = vi.type().tensor_type().shape();
        bool rankOk = shape.dim_size() == type.getRank();
        bool dimsOk = rankOk;
        for (int64_t i = 0; dimsOk && i < type.getRank(); ++i) {
          const auto &d = shape.dim(i);
          if (d.has_dim_value() && d.dim_value() >= 0 &&
              !type.isDynamicDim(i) && d.dim_value() != type.getDimSize(i))
            dimsOk = false;
        }
        if (!dimsOk) {
          auto diag = emitError(loc) << "graph output '" << vi.name()
                                     << "' is declared with shape [";
          llvm::interleaveComma(shape.dim(), diag, [&](const auto &d) {
            if (d.has_dim_value())
              diag << d.dim_value();
            else
              diag << (d.dim_param().empty() ? "?" : d.dim_param());
          });
          diag << "] but computed as " << type;
          return nullptr;
        }
      }
    }
    results.push_back(v);
  }
  func::ReturnOp::create(builder, fileLoc, results);
  func.setFunctionType(
      builder.getFunctionType(argTypes, ValueRange(results).getTypes()));

  (*module)->setAttr("attn.signature",
                     builder.getStringAttr(buildSignature(func)));

  if (failed(verify(*module)))
    return nullptr;
  return module;
}
