//===- Passes.h - attnc passes ----------------------------------*- C++ -*-===//
#ifndef ATTN_COMPILER_PASSES_H
#define ATTN_COMPILER_PASSES_H

#include "attn/Dialect/AttnDialect.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlow.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Pass/Pass.h"

namespace mlir::attn {

#define GEN_PASS_DECL
#include "attn/Compiler/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "attn/Compiler/Passes.h.inc"

} // namespace mlir::attn

#endif
