//===- main.cpp - attn-run: run a compiled model library ------------------===//
//
// The command line itself is attn_run_main (attn-run.cpp), shared with the
// executables of `attnc --emit=exe`.
//
//===----------------------------------------------------------------------===//
#include "AttnRun.h"

int main(int argc, char **argv) { return attn_run_main(argc, argv, nullptr); }
