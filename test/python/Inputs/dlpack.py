#!/usr/bin/python3
"""Model(**inputs) with DLPack objects (anything with __dlpack__, as torch tensors, JAX or
CuPy arrays have): CPU memory is read without a copy, another device is refused naming the
input; outputs are numpy arrays that export DLPack themselves.

  dlpack.py MODEL.onnxtext WORK_DIR
Prints one line per check; exits 1 on the first failure."""
import os
import sys

import numpy as np

import attnc

model_path, work = sys.argv[1], sys.argv[2]
os.makedirs(work, exist_ok=True)


class DL:
    """A DLPack producer that is not a numpy array (exports `a`'s memory; `device` as
    __dlpack_device__ returns it; `fail`: __dlpack__ raises it)."""

    def __init__(self, a, device=(1, 0), fail=None):
        self.a, self.device, self.fail = a, device, fail

    def __dlpack__(self, *args, **kwargs):
        if self.fail is not None:
            raise self.fail
        return self.a.__dlpack__(*args, **kwargs)

    def __dlpack_device__(self):
        return self.device


def expect_error(label, fn):
    try:
        fn()
    except attnc.RunError as e:
        print("%s: RunError: %s" % (label, e))
        return
    except Exception as e:  # noqa: BLE001
        print("%s: unexpected %s: %s" % (label, type(e).__name__, e))
        sys.exit(1)
    print("%s: no error" % label)
    sys.exit(1)


def close(got, ref):
    err = float(np.max(np.abs(got - ref))) / max(1.0, float(np.max(np.abs(ref))))
    return err <= 1e-4, err


m = attnc.compile(model_path)
rng = np.random.default_rng(7)
for n in (1, 3, 8):
    x = rng.standard_normal((n, 16), dtype=np.float32)
    ids = rng.integers(-1000, 1000, size=(n,), dtype=np.int64)
    # Read in place: the arrays handed to the runtime share the producer's memory.
    arrays = m._arrays({"x": DL(x), "ids": DL(ids)})
    assert all(type(a) is np.ndarray for a in arrays)
    assert np.shares_memory(arrays[0], x) and np.shares_memory(arrays[1], ids), n
    out = m(x=DL(x), ids=DL(ids))
    ok, err = close(out["y"], x * x + x)
    print("n=%d y: %s err=%g" % (n, "PASS" if ok else "FAIL", err))
    print("n=%d j: %s" % (n, "PASS" if np.array_equal(out["j"], ids + ids) else "FAIL"))
    if not ok or not np.array_equal(out["j"], ids + ids):
        sys.exit(1)

# A strided producer (not C-contiguous): copied into C order, same values.
big = rng.standard_normal((4, 32), dtype=np.float32)
out = m(x=DL(big[:, ::2]), ids=DL(np.arange(4, dtype=np.int64)))
ok, err = close(out["y"], big[:, ::2] * big[:, ::2] + big[:, ::2])
print("strided: %s" % ("PASS" if ok else "FAIL"))

# Outputs: numpy arrays over the runtime's buffers that export DLPack (no copy).
y = out["y"]
back = np.from_dlpack(y)
print("output dlpack: device %s shares %s" % (tuple(y.__dlpack_device__()),
                                             np.shares_memory(back, y)))

x = rng.standard_normal((2, 16), dtype=np.float32)
ids = np.zeros(2, dtype=np.int64)
expect_error("cuda", lambda: m(x=DL(x, device=(2, 0)), ids=ids))
expect_error("rocm", lambda: m(x=x, ids=DL(ids, device=(10, 1))))
expect_error("odd device", lambda: m(x=DL(x, device=(99, 0)), ids=ids))
expect_error("dtype", lambda: m(x=DL(x.astype(np.float64)), ids=ids))
expect_error("export", lambda: m(x=DL(x, fail=BufferError("cannot export")), ids=ids))
expect_error("shape", lambda: m(x=DL(x[:, :15].copy()), ids=ids))

# Token ids for generate()/Session.prefill through DLPack are read in place too.
tok = np.array([[5, 6, 7]], dtype=np.int64)
p_ids, p_mask = attnc._prompt(DL(tok), DL(np.ones_like(tok)), None)
print("prompt: %s mask %s" % (np.shares_memory(p_ids, tok), p_mask.tolist()[0]))
expect_error("prompt device", lambda: attnc._prompt(DL(tok, device=(2, 0)), None, None))
print("OK")
