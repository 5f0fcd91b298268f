//===- Version.h - the version line every attnc tool prints -----*- C++ -*-===//
#ifndef ATTN_TOOLS_VERSION_H
#define ATTN_TOOLS_VERSION_H

#include "attn_version_info.h"

/// "<tool> <version> (git <commit>, LLVM <version>)", printed by --version.
#define ATTN_VERSION_LINE(tool)                                                          \
  tool " " ATTN_VERSION " (git " ATTN_GIT_COMMIT ", LLVM " ATTN_LLVM_VERSION ")"

#endif
