#!/usr/bin/python3
"""Errors of the attnc package: each prints '<label>: <exception type>: <message>'."""
import os
import sys

import numpy as np

import attnc

fixture, work = sys.argv[1], sys.argv[2]
os.makedirs(work, exist_ok=True)


def expect(label, fn, kind):
    try:
        fn()
    except kind as e:
        assert isinstance(e, attnc.Error)
        print("%s: %s: %s" % (label, type(e).__name__, e))
        return
    except Exception as e:  # noqa: BLE001
        print("%s: unexpected %s: %s" % (label, type(e).__name__, e))
        sys.exit(1)
    print("%s: no error" % label)
    sys.exit(1)


# Compile errors: the compiler's diagnostics, as attnc prints them.
bad = os.path.join(work, "bad.onnxtext")
with open(bad, "w") as f:
    f.write('<ir_version: 8, opset_import: ["" : 17]>\n'
            'g (float[4] x) => (float[4] y)\n{\n  y = Add(x, nowhere)\n}\n')
expect("node", lambda: attnc.compile(bad), attnc.CompileError)
unsupported = os.path.join(work, "unsupported.onnxtext")
with open(unsupported, "w") as f:
    f.write('<ir_version: 8, opset_import: ["" : 17]>\n'
            'g (float[4] x) => (float[4] y)\n{\n  y = FooBar(x)\n}\n')
expect("unsupported", lambda: attnc.compile(unsupported), attnc.CompileError)
expect("bytes", lambda: attnc.compile(b"not a protobuf"), attnc.CompileError)
expect("nofile", lambda: attnc.compile(os.path.join(work, "missing.onnx")), attnc.CompileError)
expect("target", lambda: attnc.compile(bad, target="tpu"), attnc.CompileError)
expect("mcpu", lambda: attnc.compile(bad, mcpu="nonsense"), attnc.CompileError)
# LLVM would end the process with a fatal error on these: refused up front.
expect("mcpu32", lambda: attnc.compile(bad, mcpu="i686"), attnc.CompileError)
expect("mattr64", lambda: attnc.compile(bad, mcpu="x86-64-v3", mattr="-64bit"), attnc.CompileError)
expect("mattr", lambda: attnc.compile(bad, mattr="+nonsense"), attnc.CompileError)
expect("mattrsign", lambda: attnc.compile(bad, mattr="avx2"), attnc.CompileError)
expect("output", lambda: attnc.compile(os.path.join(fixture, "model.onnx"),
                                       output=os.path.join(work, "nodir", "m.so")),
       attnc.CompileError)
try:
    attnc.compile(bad, no_such_option=1)
except TypeError as e:
    print("option: TypeError: %s" % e)

# Run errors: the runtime's message, naming the input.
m = attnc.compile(os.path.join(fixture, "model.onnx"))
d = os.path.join(fixture, "shapes", "1", "inputs")
ins = {f[:-4]: np.load(os.path.join(d, f)) for f in os.listdir(d)}
expect("name", lambda: m(bogus=ins["values"], **ins), attnc.RunError)
expect("missing", lambda: m(**{k: v for k, v in ins.items() if k != "mask"}), attnc.RunError)
expect("dtype", lambda: m(**dict(ins, values=ins["values"].astype(np.float64))), attnc.RunError)
expect("dtype2", lambda: m(**dict(ins, values=ins["values"].astype(np.complex64))), attnc.RunError)
expect("shape", lambda: m(**dict(ins, values=ins["values"][:, :, :255])), attnc.RunError)
expect("rank", lambda: m(**dict(ins, values=ins["values"][0])), attnc.RunError)
expect("dims", lambda: m(**dict(ins, keys=ins["keys"][:, :15])), attnc.RunError)
expect("bench", lambda: m.benchmark(runs=0, **ins), attnc.RunError)
expect("load", lambda: attnc.load(bad), attnc.RunError)
expect("loadmissing", lambda: attnc.load(os.path.join(work, "missing.so")), attnc.RunError)
# The model still runs after all that.
print("after errors:", m(**ins)["out"].shape)
