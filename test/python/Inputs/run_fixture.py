#!/usr/bin/python3
"""attnc.compile / load / Model(...) on an e2e fixture, compared with PyTorch's outputs.

  run_fixture.py FIXTURE_DIR WORK_DIR

Compiles FIXTURE_DIR/model.onnx from its path (output= a file, and output=None) and from
bytes, runs every shape set (shapes/K/inputs -> shapes/K/expected) and compares with
test/e2e/compare.py's metric (max|got-ref| / max(1, max|ref|) <= case.json's tolerance).
Prints one line per check; exits 1 on the first failure.
"""
import json
import os
import sys

import numpy as np

import attnc

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "e2e"))
from compare import compare  # noqa: E402

fixture, work = sys.argv[1], sys.argv[2]
os.makedirs(work, exist_ok=True)
case = json.load(open(os.path.join(fixture, "case.json")))
tol = case.get("tolerance", 1e-4)
sets = sorted(os.listdir(os.path.join(fixture, "shapes")))


def load_dir(d):
    return {f[:-4]: np.load(os.path.join(d, f)) for f in sorted(os.listdir(d)) if f.endswith(".npy")}


def check(model, label):
    for k in sets:
        ins = load_dir(os.path.join(fixture, "shapes", k, "inputs"))
        exp = load_dir(os.path.join(fixture, "shapes", k, "expected"))
        got = model(**ins)
        assert sorted(got) == sorted(exp), (sorted(got), sorted(exp))
        for name, ref in exp.items():
            ok, err, detail = compare(got[name], ref, tol)
            print("%s set %s %s: %s err=%s %s" % (label, k, name, "PASS" if ok else "FAIL", err, detail))
            if not ok:
                sys.exit(1)
            # Handed over without a copy: numpy does not own the runtime's buffer.
            assert not got[name].flags.owndata and got[name].base is not None, label


lib = os.path.join(work, "model.so")
m = attnc.compile(os.path.join(fixture, "model.onnx"), output=lib)
assert isinstance(m, attnc.Model) and m.path == lib and os.path.exists(lib)
check(m, "path")
m2 = attnc.compile(open(os.path.join(fixture, "model.onnx"), "rb").read())
assert m2.path is None
check(m2, "bytes")


class FakeModelProto:  # what compile() uses of an onnx.ModelProto
    def SerializeToString(self):
        return open(os.path.join(fixture, "model.onnx"), "rb").read()


check(attnc.compile(FakeModelProto()), "modelproto")
loaded = attnc.load(lib)
check(loaded, "load")

sig = loaded.signature
print("signature inputs:", [(i["name"]) for i in sig["inputs"]], "target:", sig["target"])
print("inputs:", loaded.inputs)
print("outputs:", loaded.outputs)

# A non-contiguous input of the right dtype, and a list for the mask: converted.
ins = load_dir(os.path.join(fixture, "shapes", sets[-1], "inputs"))
exp = load_dir(os.path.join(fixture, "shapes", sets[-1], "expected"))
big = np.zeros(ins["values"].shape[:-1] + (2 * ins["values"].shape[-1],), np.float32)
big[..., ::2] = ins["values"]
ins2 = dict(ins, values=big[..., ::2], mask=ins["mask"].tolist())
assert not ins2["values"].flags.c_contiguous
ok, err, _ = compare(loaded(**ins2)["out"], exp["out"], tol)
print("strided/list inputs:", "PASS" if ok else "FAIL")

bench = loaded.benchmark(runs=3, warmup=1, **ins)
print("benchmark keys:", sorted(bench))
assert bench["runs"] == 3 and len(bench["times_ms"]) == 3
assert 0 < bench["min_ms"] <= bench["median_ms"] <= bench["max_ms"]
print("OK")
