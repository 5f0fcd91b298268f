"""Builds a fake model library whose signature claims +avx512fp16 and checks
how attn-run treats it on this CPU."""
import subprocess
import sys

tmp, attn_run = sys.argv[1], sys.argv[2]
open(tmp + ".c", "w").write(r'''
#include <stdint.h>
const char *attn_model_signature(void) {
  return "{\"abi\":1,\"target\":\"cpu\",\"features\":\"+sse2,+avx2,+avx512fp16\","
         "\"inputs\":[],\"outputs\":[]}";
}
int32_t attn_model_run(int64_t *const *i, int64_t *const *o) { return 0; }
''')
subprocess.check_call(["cc", "-shared", "-fPIC", tmp + ".c", "-o", tmp + ".so"])
has = "avx512_fp16" in open("/proc/cpuinfo").read()
r = subprocess.run([attn_run, tmp + ".so"], capture_output=True, text=True)
print(r.stdout + r.stderr)
if has:
    sys.exit(0 if r.returncode == 0 else 1)
ok = (r.returncode == 1 and
      "compiled for CPU feature 'avx512fp16', which this CPU lacks" in r.stderr)
sys.exit(0 if ok else 1)
