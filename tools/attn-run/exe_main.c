/*===- exe_main.c - main of the executables of `attnc --emit=exe` ---------===*
 *
 * attnc links this file (as the archive libattn_exe_main.a) with the model's
 * object, the model support code, attn-run's logic and the static runtime:
 * the program is attn-run with its model built in (same options without the
 * library path, same messages, exit codes and outputs).
 *
 *===----------------------------------------------------------------------===*/
#include "AttnRun.h"

/* The model's exports (attn/abi.h), from the object attnc links in. */
extern const char *attn_model_signature(void);
extern int32_t attn_model_run(int64_t *const *inputs, int64_t *const *outputs);
/* From the model support code; attnc links with -u attn_model_run_ex. */
extern int32_t attn_model_run_ex(int64_t *const *inputs, int64_t *const *outputs,
                                 int64_t *status) __attribute__((weak));

int main(int argc, char **argv) {
  attn_run_linked_model model;
  model.signature = attn_model_signature;
  model.run = attn_model_run;
  model.run_ex = attn_model_run_ex; /* NULL if absent */
  return attn_run_main(argc, argv, &model);
}
