"""generate_ref.py: the reference of fake_lm.c's generation, in numpy.

  expect IDS.npy [MASK.npy|-] N [--stop ID ...] [--pad ID]
      Prints what `attn-run --generate N` prints before its timing lines for
      greedy decoding: one line of token ids per row.
  check OUT IDS.npy [MASK.npy|-] --temperature T --top-k K --top-p P
      Reads attn-run's token lines from OUT and checks that every sampled
      token lies in the candidate set Hugging Face's warpers leave (top-k,
      then top-p, from the fake's logits along that history). Prints
      "sampled N tokens, all allowed" or what is wrong.
  json OUT
      Checks attn-run's --json line (the last line of OUT): its keys and
      that its tokens equal the text lines above it.

fake_lm.c: V = 50; a new token x at position p stores c = (x, p, x % 5, 2);
target = (x + S0 + 3p + S1 + 5 S2 + S3) mod V over the visible context
(mask 1, positions up to its own); logits[v] = -0.5 * circular distance.
"""
import json
import sys

import numpy as np

V = 50


class Row:
    def __init__(self):
        self.mask, self.c, self.seen = [], [], 0

    def feed(self, x, m):
        """Appends token x with mask m; returns the logits at its position."""
        self.seen += m
        p = self.seen - 1 if m else 1
        self.mask.append(m)
        self.c.append((x, p, x % 5, 2))
        s = [0, 0, 0, 0]
        for mj, cj in zip(self.mask, self.c):
            if mj:
                for k in range(4):
                    s[k] += cj[k]
        target = (x + s[0] + 3 * p + s[1] + 5 * s[2] + s[3]) % V
        d = np.abs(np.arange(V) - target)
        d = np.minimum(d, V - d)
        return -0.5 * d.astype(np.float64)


def prompt(args):
    ids = np.load(args[0])
    mask = np.ones_like(ids) if args[1] == "-" else np.load(args[1])
    rows = []
    for b in range(ids.shape[0]):
        r = Row()
        logits = None
        for x, m in zip(ids[b], mask[b]):
            logits = r.feed(int(x), int(m))
        rows.append((r, logits))
    return rows


def expect(args):
    rows = prompt(args)
    n = int(args[2])
    stops, pad = [], None
    rest = args[3:]
    while rest:
        if rest[0] == "--stop":
            stops.append(int(rest[1]))
        elif rest[0] == "--pad":
            pad = int(rest[1])
        rest = rest[2:]
    if pad is None:
        pad = stops[0] if stops else 0
    out = [[] for _ in rows]
    finished = [False] * len(rows)
    logits = [lg for _, lg in rows]
    for step in range(n):
        if step > 0 and stops and all(finished):
            break
        for b, (r, _) in enumerate(rows):
            tok = pad if finished[b] else int(np.argmax(logits[b]))
            if not finished[b] and tok in stops:
                finished[b] = True
            out[b].append(tok)
        for b, (r, _) in enumerate(rows):
            logits[b] = r.feed(out[b][-1], 1)
    for toks in out:
        print(" ".join(str(t) for t in toks))


def allowed(logits, temperature, top_k, top_p):
    scores = logits / temperature
    if 0 < top_k < len(scores):
        kth = np.sort(scores)[::-1][top_k - 1]
        scores = np.where(scores < kth, -np.inf, scores)
    if top_p < 1:
        order = np.argsort(scores, kind="stable")
        e = np.exp(scores[order] - scores.max())
        cum = np.cumsum(e / e.sum())
        remove = cum <= 1 - top_p
        remove[-1] = False
        scores = scores.copy()
        scores[order[remove]] = -np.inf
    return set(np.nonzero(np.isfinite(scores))[0].tolist())


def token_lines(path):
    lines = open(path).read().splitlines()
    toks = []
    for line in lines:
        if line.startswith(("prefill", "decode", "{")):
            break
        toks.append([int(t) for t in line.split()])
    return toks


def check(args):
    out, rest = args[0], args[1:]
    rows = prompt(rest)
    opts = dict(zip(rest[2::2], rest[3::2]))
    t = float(opts["--temperature"])
    k = int(opts.get("--top-k", 0))
    p = float(opts.get("--top-p", 1))
    toks = token_lines(out)
    n, bad, sizes = 0, [], set()
    for b, (r, logits) in enumerate(rows):
        for i, tok in enumerate(toks[b]):
            ok = allowed(logits, t, k, p)
            sizes.add(len(ok))
            if tok not in ok:
                bad.append((b, i, tok, sorted(ok)))
            n += 1
            logits = r.feed(tok, 1)
    if bad:
        print("NOT ALLOWED:", bad)
    else:
        print("sampled %d tokens, all allowed (candidate sets of %s)"
              % (n, sorted(sizes)))


def check_json(args):
    lines = open(args[0]).read().splitlines()
    obj = json.loads(lines[-1])
    print("keys:", " ".join(sorted(obj)))
    print("tokens match lines:", obj["tokens"] == token_lines(args[0]))
    print("timings >= 0:", all(obj[k] >= 0 for k in
                               ("prefill_ms", "decode_ms_per_token", "tokens_per_s")))


if __name__ == "__main__":
    {"expect": expect, "check": check, "json": check_json}[sys.argv[1]](sys.argv[2:])
