"""tiny_lm_ref.py WEIGHTS.npz IDS.npy MASK.npy|- N: greedy generation of
make_tiny_lm.py's model in numpy (float64), recomputing the whole context
every step as a model without a cache would; prints one line of token ids
per row, as attn-run --generate does, and on stderr the smallest gap
between the best and the second-best logit (ties would make the test
fragile)."""
import sys

import numpy as np

w = np.load(sys.argv[1])
E, Wq, Wk, Wv, Wo = (w[k].astype(np.float64) for k in ("E", "Wq", "Wk", "Wv", "Wo"))
ids = np.load(sys.argv[2])
mask = np.ones_like(ids) if sys.argv[3] == "-" else np.load(sys.argv[3])
n = int(sys.argv[4])
gap = np.inf
for b in range(ids.shape[0]):
    ctx, m, out = list(ids[b]), list(mask[b]), []
    for _ in range(n):
        emb = E[ctx]
        q, k, v = emb[-1] @ Wq, emb @ Wk, emb @ Wv
        s = k @ q / np.sqrt(E.shape[1])
        s = np.where(np.array(m) == 1, s, -1e9)
        p = np.exp(s - s.max())
        p /= p.sum()
        logits = (p @ v + emb[-1]) @ Wo
        top = np.sort(logits)[::-1]
        gap = min(gap, top[0] - top[1])
        tok = int(np.argmax(logits))
        out.append(tok)
        ctx.append(tok)
        m.append(1)
    print(" ".join(str(t) for t in out))
print("smallest top-2 logit gap: %.4f" % gap, file=sys.stderr)
