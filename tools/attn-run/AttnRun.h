/*===- AttnRun.h - attn-run's command line as a function --------*- C -*-===*
 *
 * attn-run's whole behaviour (tools/attn-run/attn-run.cpp), callable from two
 * mains: attn-run's own (main.cpp: the model is a library named on the
 * command line) and the one `attnc --emit=exe` links into every executable
 * (exe_main.c: the model is linked into the program).
 *
 *===----------------------------------------------------------------------===*/
#ifndef ATTN_TOOLS_ATTN_RUN_H
#define ATTN_TOOLS_ATTN_RUN_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A model linked into the program: the functions of attn/abi.h. */
typedef struct attn_run_linked_model {
  const char *(*signature)(void);
  int32_t (*run)(int64_t *const *inputs, int64_t *const *outputs);
  /* NULL when the model has none. */
  int32_t (*run_ex)(int64_t *const *inputs, int64_t *const *outputs,
                    int64_t *status);
} attn_run_linked_model;

/* Runs attn-run's command line and returns the exit code. With linked ==
 * NULL it is attn-run (`attn-run LIB [options]`); otherwise the program runs
 * `linked`, takes the same options without LIB, and names itself after
 * argv[0] in messages. */
int attn_run_main(int argc, char **argv, const attn_run_linked_model *linked);

#ifdef __cplusplus
}
#endif

#endif
