#!/usr/bin/python3
"""attnc.Model.generate / Model.session on the fake with-past LMs of
test/runtime/generate (Inputs/fake_lm.c, built into LIBDIR) and on libraries
attnc compiled from test/runtime/generate/Inputs/tiny_lm.onnx.

  generate.py greedy LIBDIR IDS MASK REF REF_NOMASK REF_STOP REF_PAD
      greedy tokens of every fake variant equal generate_ref.py's lines
  generate.py session LIBDIR IDS MASK REF
      Session prefill/step/logits equal generate(); properties
  generate.py sample LIBDIR IDS MASK OUTDIR
      seeds: reproducible, plain == kv, another seed differs, top_k=1 is greedy;
      writes OUTDIR/sample_*.txt (token lines) for generate_ref.py check and
      OUTDIR/seed7.txt to compare with attn-run --seed 7
  generate.py compiled PLAIN.so KV.so IDS MASK ONE REF3 REF1
      the tiny LM: greedy equals tiny_lm_ref.py; context full on the kv library
  generate.py errors LIBDIR IDS MASK
      each error prints '<label>: <type>: <message>'
  generate.py threads LIBDIR IDS MASK REF
      4 threads with one session each give the reference tokens
  generate.py cudastate LIBDIR IDS MASK REF
      (under the fake CUDA driver) Model(**arrays) on the kv fake with target
      "cuda" writes the caller's cache arrays in place exactly as the CPU
      library does; generate() on it gives the reference tokens
  generate.py cudaload KV_CUDA.so
      (under the fake CUDA driver) a library attnc compiled for cuda loads in
      Python (its attn_cuda_* calls resolve to the runtime) and reports its
      caches; running it fails cleanly (the fake driver has no kernels)
"""
import os
import sys
import threading

import numpy as np

import attnc

VARIANTS = ["plain", "plain_pos", "plain_names", "plain_f16", "kv", "kv_pos", "kv_f16"]


def lib(libdir, variant):
    return attnc.load(os.path.join(libdir, "libattn_fake_lm_%s.so" % variant))


def read_ref(path):
    with open(path) as f:
        return np.array([[int(t) for t in line.split()] for line in f if line.strip()],
                        dtype=np.int64)


def check(label, got, want):
    ok = got.dtype == np.int64 and got.shape == want.shape and np.array_equal(got, want)
    print("%s: %s" % (label, "PASS" if ok else "FAIL\n got %s\nwant %s" % (got, want)))
    if not ok:
        sys.exit(1)


def greedy(libdir, ids, mask, ref, ref_nomask, ref_stop, ref_pad):
    ids, mask = np.load(ids), np.load(mask)
    ref, ref_nomask = read_ref(ref), read_ref(ref_nomask)
    ref_stop, ref_pad = read_ref(ref_stop), read_ref(ref_pad)
    for v in VARIANTS:
        m = lib(libdir, v)
        check(v + " greedy", m.generate(ids, mask, max_new_tokens=10), ref)
        check(v + " nomask", m.generate(ids, max_new_tokens=10), ref_nomask)
        # Lists work as well as arrays; a one-row prompt may be 1-D.
        check(v + " lists", m.generate(ids.tolist(), mask.tolist(), max_new_tokens=10), ref)
        check(v + " 1-D", m.generate(ids[0], max_new_tokens=10), ref_nomask[:1])
        toks, t = m.generate(ids, mask, max_new_tokens=12, stop_tokens=[22, 38],
                             return_timings=True)
        check(v + " stop", toks, ref_stop)
        print("%s counts %s kv_cache %s" % (v, t["counts"].tolist(), t["kv_cache"]))
        check(v + " pad", m.generate(ids, mask, max_new_tokens=12, stop_tokens=22,
                                     pad_token_id=0), ref_pad)
    toks, t = lib(libdir, "kv").generate(ids, mask, max_new_tokens=5, return_timings=True)
    print("timings keys:", sorted(t))
    print("timings >= 0:", all(t[k] >= 0 for k in ("prefill_ms", "decode_ms_per_token",
                                                     "tokens_per_s")),
          "steps", t["steps"], "threads", t["threads"] == attnc.get_num_threads())
    # max_new_tokens=0: nothing.
    print("zero tokens:", lib(libdir, "plain").generate(ids, mask, max_new_tokens=0).shape)


def session(libdir, ids, mask, ref):
    ids, mask, ref = np.load(ids), np.load(mask), read_ref(ref)
    for v in ("plain", "kv_f16"):
        m = lib(libdir, v)
        s = m.session(ids.shape[0])
        print(v, repr(s))
        for attempt in range(2):  # prefill starts over
            s.prefill(ids, mask)
            steps = []
            for k in range(10):
                tok = s.step()
                logits = s.logits
                assert logits.dtype == np.float32 and logits.shape == (3, 50), logits.shape
                # Greedy: each token is the argmax of the logits it came from.
                assert np.array_equal(np.argmax(logits, axis=1), tok), (k, tok)
                steps.append(tok)
            check("%s session %d" % (v, attempt), np.stack(steps, axis=1), ref)
        print(v, "context_length", s.context_length, "max_length", s.max_length,
              "kv_cache", s.kv_cache, "done", s.done, "batch", s.batch)
        # Session.generate uses the session's max_new_tokens.
        check(v + " session.generate",
              m.session(3, max_new_tokens=10).generate(ids, mask), ref)
    # Stop tokens: done when every row has stopped.
    s = lib(libdir, "kv").session(1, stop_tokens=[36])
    s.prefill(ids[:1], mask[:1])
    print("done:", s.step().tolist(), s.done, s.step().tolist(), s.done)


def sample(libdir, ids, mask, outdir):
    ids, mask = np.load(ids), np.load(mask)
    plain, kv = lib(libdir, "plain"), lib(libdir, "kv")
    a = plain.generate(ids, mask, max_new_tokens=16, temperature=1.5, seed=7)
    b = kv.generate(ids, mask, max_new_tokens=16, temperature=1.5, seed=7)
    c = kv.generate(ids, mask, max_new_tokens=16, temperature=1.5, seed=8)
    check("seed 7 plain == kv", a, b)
    print("seed 8 differs:", not np.array_equal(b, c))
    np.savetxt(os.path.join(outdir, "seed7.txt"), a, fmt="%d")
    # seed=None: a fresh random seed per call (two 48-token draws at T=1.5 differ).
    d = kv.generate(ids, mask, max_new_tokens=16, temperature=1.5)
    e = kv.generate(ids, mask, max_new_tokens=16, temperature=1.5)
    print("no seed differs:", not np.array_equal(d, e))
    greedy_ref = kv.generate(ids, mask, max_new_tokens=10)
    check("top_k=1", kv.generate(ids, mask, max_new_tokens=10, temperature=3, top_k=1, seed=9),
          greedy_ref)
    check("temperature=0", kv.generate(ids, mask, max_new_tokens=10, temperature=0, seed=9),
          greedy_ref)
    # A session re-seeds at each prefill: the same tokens twice.
    s = kv.session(3, temperature=1.5, seed=7)
    runs = []
    for _ in range(2):
        s.prefill(ids, mask)
        runs.append(np.stack([s.step() for _ in range(16)], axis=1))
    check("session reseeds", runs[0], runs[1])
    check("session == generate", runs[0], b)
    for name, kw in (("k3", dict(temperature=1, top_k=3)),
                     ("p08", dict(temperature=0.7, top_p=0.8)),
                     ("k10p09", dict(temperature=2, top_k=10, top_p=0.9)),
                     ("k5", dict(top_k=5))):  # top_k alone samples at temperature 1
        toks = kv.generate(ids, mask, max_new_tokens=16, seed=5, **kw)
        np.savetxt(os.path.join(outdir, "sample_%s.txt" % name), toks, fmt="%d")


def compiled(plain, kv, ids, mask, one, ref3, ref1):
    ids, mask, one = np.load(ids), np.load(mask), np.load(one)
    ref3, ref1 = read_ref(ref3), read_ref(ref1)
    for name, path in (("plain", plain), ("kv", kv)):
        m = attnc.load(path)
        check(name + " batch 3", m.generate(ids, mask, max_new_tokens=12), ref3)
        check(name + " batch 1", m.generate(one, max_new_tokens=20), ref1)
    m = attnc.load(kv)
    print("kv fits:", m.generate(one, max_new_tokens=27).shape)
    try:
        m.generate(one, max_new_tokens=28)
    except attnc.RunError as e:
        print("kv full: RunError: %s" % e)
    s = m.session(1, max_length=8)
    s.prefill(one)
    try:
        for _ in range(4):
            s.step()
    except attnc.RunError as e:
        print("session full: RunError: %s (context %d)" % (e, s.context_length))


def errors(libdir, ids, mask):
    ids, mask = np.load(ids), np.load(mask)
    kv = lib(libdir, "kv")

    def expect(label, fn, kind=attnc.RunError):
        try:
            fn()
        except kind as e:
            print("%s: %s: %s" % (label, type(e).__name__, e))
            return
        except Exception as e:  # noqa: BLE001
            print("%s: unexpected %s: %s" % (label, type(e).__name__, e))
            sys.exit(1)
        print("%s: no error" % label)
        sys.exit(1)

    expect("notlm", lambda: attnc.load(os.path.join(libdir, "libattn_fake_add.so")).generate(ids))
    expect("nologits", lambda: lib(libdir, "bad1").generate(ids))
    expect("badcache", lambda: lib(libdir, "bad4").generate(ids))
    expect("full", lambda: kv.generate(ids, mask, max_new_tokens=22))
    expect("maxlen", lambda: kv.generate(ids, max_new_tokens=2, max_length=25))
    expect("maxlen0", lambda: kv.generate(ids, max_new_tokens=2, max_length=0))
    expect("rightpad", lambda: kv.generate(ids, mask[:, ::-1]))
    expect("maskvalue", lambda: kv.generate(ids, mask * 2))
    expect("maskshape", lambda: kv.generate(ids, mask[:, 1:]))
    expect("float ids", lambda: kv.generate(ids.astype(np.float32)))
    expect("rank3", lambda: kv.generate(ids[None]))
    expect("empty", lambda: kv.generate(np.zeros((1, 0), np.int64)))
    expect("temperature", lambda: kv.generate(ids, temperature=-1))
    expect("nan", lambda: kv.generate(ids, temperature=float("nan")))
    expect("top_p", lambda: kv.generate(ids, top_p=1.5))
    expect("top_k", lambda: kv.generate(ids, top_k=-2))
    expect("max_new_tokens", lambda: kv.generate(ids, max_new_tokens=-1))
    expect("stop", lambda: kv.generate(ids, stop_tokens=[-3]))
    expect("type", lambda: kv.generate(ids, max_new_tokens=2.5), TypeError)
    s = kv.session(3)
    expect("step first", s.step)
    expect("logits first", lambda: s.logits)
    expect("batch", lambda: s.prefill(ids[:2]))
    expect("batch0", lambda: kv.session(0))
    # The session still works after its errors.
    s.prefill(ids, mask)
    print("after errors:", s.step().tolist())


def threads(libdir, ids, mask, ref):
    ids, mask, ref = np.load(ids), np.load(mask), read_ref(ref)
    m = lib(libdir, "kv_pos")
    results, errs = {}, []

    def work(i):
        try:
            s = m.session(3, max_new_tokens=10)
            for _ in range(50):
                results[i] = s.generate(ids, mask)
        except Exception as e:  # noqa: BLE001
            errs.append(e)

    ts = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    if errs:
        print("FAIL:", errs)
        sys.exit(1)
    for i in range(4):
        check("thread %d" % i, results[i], ref)


def cudastate(libdir, ids, mask, ref):
    ids, mask, ref = np.load(ids), np.load(mask), read_ref(ref)
    cpu, cuda = lib(libdir, "kv"), lib(libdir, "kv_cuda")
    print("targets:", cpu.target, cuda.target)
    caches = [i["name"] for i in cuda.inputs if i["name"].startswith("past_key_values")]
    flagged = [i["name"] for i in cuda.signature["inputs"] if i.get("kv_cache")]
    print("state inputs:", flagged == caches, len(caches))
    states = {}
    for name, m in (("cpu", cpu), ("cuda", cuda)):
        st = {c: np.zeros((3, 1, 24, 2), np.float32) for c in caches}
        # Prompt at P = 0, then one token at P = 4, as a generation loop does.
        out0 = m(input_ids=ids, attention_mask=mask, past_sequence_length=np.int64(0), **st)
        snap = {c: st[c].copy() for c in caches}
        out1 = m(input_ids=ids[:, -1:], attention_mask=np.concatenate(
            [mask, np.ones((3, 1), np.int64)], axis=1), past_sequence_length=np.int64(4), **st)
        states[name] = (out0["logits"], out1["logits"], snap, st)
    c0, c1, csnap, cst = states["cpu"]
    g0, g1, gsnap, gst = states["cuda"]
    print("logits equal:", np.array_equal(c0, g0) and np.array_equal(c1, g1))
    print("caches equal:", all(np.array_equal(csnap[c], gsnap[c]) and
                               np.array_equal(cst[c], gst[c]) for c in caches))
    print("written after call 1: [0,4) nonzero %s, [4,24) zero %s" % (
        all(np.abs(gsnap[c][:, :, :4]).sum(axis=(1, 3)).all() for c in caches),
        all(not gsnap[c][:, :, 4:].any() for c in caches)))
    print("written after call 2: [4,5) nonzero %s, [0,4) kept %s, [5,24) zero %s" % (
        all(np.abs(gst[c][:, :, 4:5]).sum(axis=(1, 3)).all() for c in caches),
        all(np.array_equal(gst[c][:, :, :4], gsnap[c][:, :, :4]) for c in caches),
        all(not gst[c][:, :, 5:].any() for c in caches)))
    check("cuda generate", cuda.generate(ids, mask, max_new_tokens=10), ref)


def cudaload(path):
    m = attnc.load(path)
    sig = m.signature
    print("target:", m.target, "kv_cache:", sig["kv_cache"]["max_len"],
          [i["name"] for i in sig["inputs"] if i.get("kv_cache")])
    try:
        m.generate([[1, 2, 3]], max_new_tokens=3)
    except attnc.RunError as e:
        print("run: RunError: %s" % e)


if __name__ == "__main__":
    {"greedy": greedy, "session": session, "sample": sample, "compiled": compiled,
     "errors": errors, "threads": threads, "cudastate": cudastate,
     "cudaload": cudaload}[sys.argv[1]](*sys.argv[2:])
    print("OK")
