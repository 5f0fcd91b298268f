#!/usr/bin/python3
"""Run `attn-run LIB --generate N --json` on a generation golden and compare the tokens exactly.

  check_generate.py ATTN_RUN LIB GOLDEN_DIR [EXTRA ATTN-RUN ARGS...]

GOLDEN_DIR (test/e2e/past/<family>_gen/<set>, scripts/gen_past_fixtures.py) holds input_ids.npy,
attention_mask.npy (0 at left pads) and tokens.npy [B, N]: Hugging Face generate(do_sample=False,
max_new_tokens=N) with every top-2 logit gap > 1e-3, so greedy decoding has no near tie. The last
stdout line of attn-run must be one JSON object whose "tokens" equal tokens.npy (numpy only).
"""
import json
import os
import subprocess
import sys

import numpy as np


def main():
    if len(sys.argv) < 4:
        print(__doc__)
        return 2
    attn_run, lib, d = sys.argv[1:4]
    want = np.load(os.path.join(d, "tokens.npy"), allow_pickle=False)
    cmd = [attn_run, lib, "--generate", str(want.shape[1]), "--json",
           "--input", "input_ids=" + os.path.join(d, "input_ids.npy"),
           "--input", "attention_mask=" + os.path.join(d, "attention_mask.npy")] + sys.argv[4:]
    print("check_generate.py: " + " ".join(cmd), flush=True)
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
    sys.stderr.write(r.stderr)
    if r.returncode:
        print("check_generate.py: FAIL attn-run exited %d" % r.returncode)
        return 1
    lines = r.stdout.strip().splitlines()
    try:
        got = np.array(json.loads(lines[-1])["tokens"], dtype=np.int64)
    except (IndexError, ValueError, KeyError, TypeError) as e:
        print("check_generate.py: FAIL no JSON tokens on the last line (%s): %r" % (e, lines[-1:]))
        return 1
    if got.shape != want.shape:
        print("check_generate.py: FAIL tokens shape %s, expected %s" % (list(got.shape), list(want.shape)))
        return 1
    bad = np.argwhere(got != want)
    for b in range(want.shape[0]):
        print("row %d: %s" % (b, "ok" if (got[b] == want[b]).all() else
                              "differs from step %d: got %s, expected %s" % (
                                  int(np.argmax(got[b] != want[b])), got[b].tolist(), want[b].tolist())))
    print("check_generate.py: %s (%d of %d tokens differ)" % ("FAIL" if len(bad) else "PASS", len(bad), want.size))
    return 1 if len(bad) else 0


if __name__ == "__main__":
    sys.exit(main())
