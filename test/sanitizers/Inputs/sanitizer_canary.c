/* sanitizer_canary.c - proves that the sanitizer build catches what it should.
 *
 *   attn-sanitizer-canary heap|ubsan|ok
 *
 * heap: reads one element past a malloc'd array (ASan: heap-buffer-overflow);
 * ubsan: overflows a signed int (UBSan: signed integer overflow, fatal with
 * -fno-sanitize-recover=undefined); ok: does neither. Built only in a
 * sanitizer build (ATTN_SANITIZE). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
  const char *mode = argc > 1 ? argv[1] : "ok";
  volatile int n = argc + 4; /* not a compile-time constant */
  if (strcmp(mode, "heap") == 0) {
    int *a = malloc(sizeof(int) * (size_t)n);
    for (int i = 0; i < n; ++i)
      a[i] = i;
    printf("%d\n", a[n]);
    free(a);
  } else if (strcmp(mode, "ubsan") == 0) {
    volatile int big = 2147483647 - 2;
    int sum = big + n;
    printf("%d\n", sum);
  }
  printf("canary: %s done\n", mode);
  return 0;
}
