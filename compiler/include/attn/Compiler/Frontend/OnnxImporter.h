//===- OnnxImporter.h - ONNX model -> attn dialect --------------*- C++ -*-===//
#ifndef ATTN_COMPILER_FRONTEND_ONNXIMPORTER_H
#define ATTN_COMPILER_FRONTEND_ONNXIMPORTER_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/OwningOpRef.h"
#include "llvm/ADT/StringRef.h"

namespace mlir::attn {

struct OnnxImportOptions {
  /// Name of the generated model function.
  std::string entryName = "main_graph";
  /// Graph inputs that also have an initializer (ONNX: the initializer is
  /// the input's default value) become inputs of the signature. Otherwise
  /// (the default) they are compiled as constants, with one warning naming
  /// them.
  bool inputsOverrideInitializers = false;
};

/// Imports an ONNX model (`.onnx` binary protobuf with external data beside
/// it, or `.onnxtext` ONNX text syntax) into a module holding one
/// `func.func @<entryName>` made of attn-dialect ops, `arith.constant`s
/// (weights as dense resource blobs) and a module attribute
/// `attn.signature` (a DictionaryAttr-free JSON string, see attn/abi.h) that
/// records input/output names, dtypes and symbolic dims.
///
/// Graph inputs keep their symbolic dims as `?`; each op's location is
/// `NameLoc(<onnx node name>)`. Errors (unreadable file, unsupported op,
/// bad attribute, ...) are emitted as diagnostics on the context naming the
/// ONNX node; the result is then null.
OwningOpRef<ModuleOp> importOnnxFile(MLIRContext &context, llvm::StringRef path,
                                     const OnnxImportOptions &options = {});

} // namespace mlir::attn

#endif
