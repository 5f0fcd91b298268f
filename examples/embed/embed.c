/* embed.c - the smallest complete user of the attnc runtime's C API.
 *
 *   embed MODEL.so [NAME=FILE.npy]...
 *
 * Loads a model library built by `attnc model.onnx -o MODEL.so`, prints its
 * inputs and outputs, makes one tensor per input (from NAME=FILE.npy, or all
 * ones; a dynamic dim of an all-ones input has size 4), runs the model, and
 * prints the first output's shape and first values. Every failure prints
 * attn_last_error() and exits with 1.
 *
 * Build (see README.md):
 *   cc embed.c -I<prefix>/include -L<prefix>/lib -lattn_runtime \
 *      -Wl,-rpath,<prefix>/lib -o embed
 */
#include <attn/runtime.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Size of a dynamic dim in an all-ones input. */
#define DYNAMIC_DIM_SIZE 4

static void print_info(const char *kind, const attn_tensor_info *info) {
  printf("%s %s: %s[", kind, info->name, attn_dtype_name(info->dtype));
  for (int32_t d = 0; d < info->rank; ++d) {
    if (d)
      printf(", ");
    if (info->shape[d] >= 0)
      printf("%lld", (long long)info->shape[d]);
    else
      printf("%s", info->dim_names[d]);
  }
  printf("]\n");
}

/* Sets every element of `t` to one. */
static void fill_ones(attn_tensor *t) {
  int64_t n = attn_tensor_numel(t);
  for (int64_t i = 0; i < n; ++i) {
    switch (t->dtype) {
    case ATTN_F32: ((float *)t->data)[i] = 1.0f; break;
    case ATTN_F64: ((double *)t->data)[i] = 1.0; break;
    case ATTN_F16: ((uint16_t *)t->data)[i] = attn_f32_to_f16(1.0f); break;
    case ATTN_BF16: ((uint16_t *)t->data)[i] = attn_f32_to_bf16(1.0f); break;
    case ATTN_I64: ((int64_t *)t->data)[i] = 1; break;
    case ATTN_I32: ((int32_t *)t->data)[i] = 1; break;
    case ATTN_I16: ((int16_t *)t->data)[i] = 1; break;
    case ATTN_I8: ((int8_t *)t->data)[i] = 1; break;
    case ATTN_U8:
    case ATTN_BOOL: ((uint8_t *)t->data)[i] = 1; break;
    }
  }
}

/* Element i of a tensor as a double, for printing. */
static double element(const attn_tensor *t, int64_t i) {
  switch (t->dtype) {
  case ATTN_F32: return ((const float *)t->data)[i];
  case ATTN_F64: return ((const double *)t->data)[i];
  case ATTN_F16: return attn_f16_to_f32(((const uint16_t *)t->data)[i]);
  case ATTN_BF16: return attn_bf16_to_f32(((const uint16_t *)t->data)[i]);
  case ATTN_I64: return (double)((const int64_t *)t->data)[i];
  case ATTN_I32: return ((const int32_t *)t->data)[i];
  case ATTN_I16: return ((const int16_t *)t->data)[i];
  case ATTN_I8: return ((const int8_t *)t->data)[i];
  case ATTN_U8:
  case ATTN_BOOL: return ((const uint8_t *)t->data)[i];
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s MODEL.so [NAME=FILE.npy]...\n", argv[0]);
    return 1;
  }
  int rc = 1;
  attn_model *model = NULL;
  attn_tensor *inputs = NULL, *outputs = NULL;
  size_t n_in = 0, n_out = 0;

  if (attn_model_load(argv[1], &model) != ATTN_OK) {
    fprintf(stderr, "embed: %s\n", attn_last_error());
    return 1;
  }
  n_in = attn_model_num_inputs(model);
  n_out = attn_model_num_outputs(model);
  printf("model %s: %zu input(s), %zu output(s), target %s\n", argv[1], n_in,
         n_out, attn_model_target(model));
  /* calloc: zeroed tensors are safe to attn_tensor_free on any exit path. */
  inputs = calloc(n_in ? n_in : 1, sizeof *inputs);
  outputs = calloc(n_out ? n_out : 1, sizeof *outputs);
  if (!inputs || !outputs) {
    fprintf(stderr, "embed: out of memory\n");
    goto done;
  }

  for (size_t i = 0; i < n_in; ++i) {
    attn_tensor_info info;
    if (attn_model_input_info(model, i, &info) != ATTN_OK) {
      fprintf(stderr, "embed: %s\n", attn_last_error());
      goto done;
    }
    print_info("input", &info);
    /* NAME=FILE.npy on the command line, else all ones. */
    const char *file = NULL;
    size_t len = strlen(info.name);
    for (int a = 2; a < argc; ++a)
      if (strncmp(argv[a], info.name, len) == 0 && argv[a][len] == '=')
        file = argv[a] + len + 1;
    attn_status st;
    if (file) {
      st = attn_npy_load_as(file, info.dtype, &inputs[i]);
    } else {
      int64_t shape[ATTN_MAX_RANK];
      for (int32_t d = 0; d < info.rank; ++d)
        shape[d] = info.shape[d] >= 0 ? info.shape[d] : DYNAMIC_DIM_SIZE;
      st = attn_tensor_alloc(info.dtype, info.rank, shape, &inputs[i]);
      if (st == ATTN_OK)
        fill_ones(&inputs[i]);
    }
    if (st != ATTN_OK) {
      fprintf(stderr, "embed: input %s: %s\n", info.name, attn_last_error());
      goto done;
    }
  }

  for (size_t i = 0; i < n_out; ++i) {
    attn_tensor_info info;
    if (attn_model_output_info(model, i, &info) != ATTN_OK) {
      fprintf(stderr, "embed: %s\n", attn_last_error());
      goto done;
    }
    print_info("output", &info);
  }
  /* Validates the inputs (dtype, rank, dims) and runs the model. */
  if (attn_model_execute(model, inputs, n_in, outputs, n_out) != ATTN_OK) {
    fprintf(stderr, "embed: %s\n", attn_last_error());
    goto done;
  }
  if (n_out > 0) {
    const attn_tensor *out = &outputs[0];
    printf("first output: %s[", attn_dtype_name(out->dtype));
    for (int32_t d = 0; d < out->rank; ++d)
      printf("%s%lld", d ? ", " : "", (long long)out->shape[d]);
    printf("]\nfirst values:");
    int64_t n = attn_tensor_numel(out);
    for (int64_t i = 0; i < n && i < 8; ++i)
      printf(" %g", element(out, i));
    printf("\n");
  }
  rc = 0;

done:
  for (size_t i = 0; inputs && i < n_in; ++i)
    attn_tensor_free(&inputs[i]);
  for (size_t i = 0; outputs && i < n_out; ++i)
    attn_tensor_free(&outputs[i]);
  free(inputs);
  free(outputs);
  attn_model_free(model);
  return rc;
}
