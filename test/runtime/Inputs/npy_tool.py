"""npy_tool.py: numpy-side helper for the runtime and attn-run lit tests.

  save PATH DTYPE VALUES [--fortran] [--big-endian] [--version V]
      Writes np.array(VALUES, DTYPE) (VALUES is a Python expression, e.g.
      "[[1, 2], [3, 4]]", "2.5" or "[i * 2 for i in range(9)]"; np is numpy;
      "empty:R,C" gives np.zeros((R, C))).
  show PATH...
      Prints "<dtype> <shape>" and "values: v0 v1 ..." (flattened in C order,
      so FileCheck patterns need no brackets) for each file.
  lying PATH
      Writes a .npy whose header claims shape (10**9, 1000) float32 but that
      holds 16 data bytes.
  words PATH DESCR VALUES
      Writes the 16-bit words VALUES (a Python expression, a flat list of
      ints) little-endian under the header descr DESCR (e.g. '<u2', '<V2' as
      np.save writes for ml_dtypes.bfloat16, 'bfloat16'), shape (len,).
  raw PATH HEADER NBYTES [--header-len N] [--version V]
      Writes a .npy with the header text HEADER (a Python string literal's
      contents: escapes such as \\xff work), its length field set to N (default:
      the real length) and NBYTES zero data bytes.
  same A B
      Prints "same" if the two files hold identical dtype, shape and bytes.
  bench FILE
      Checks that the last line of FILE is attn-run's benchmark JSON object
      and prints its keys and whether min <= median <= max.
"""
import json
import sys

import numpy as np


def save(args):
    path, dtype, values = args[0], args[1], args[2]
    flags = args[3:]
    if values.startswith("empty:"):
        shape = tuple(int(d) for d in values[len("empty:"):].split(","))
        arr = np.zeros(shape, dtype=dtype)
    else:
        arr = np.array(eval(values, {"np": np}), dtype=dtype)
    if "--big-endian" in flags:
        arr = arr.astype(arr.dtype.newbyteorder(">"))
    if "--fortran" in flags:
        arr = np.asfortranarray(arr)
    version = None
    if "--version" in flags:
        version = (int(flags[flags.index("--version") + 1]), 0)
    with open(path, "wb") as f:
        np.lib.format.write_array(f, arr, version=version)


def show(args):
    for path in args:
        arr = np.load(path)
        print(arr.dtype, tuple(arr.shape))
        print(" ".join(["values:"] + [str(v) for v in arr.ravel().tolist()]))


def lying(args):
    header = "{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000, 1000), }"
    header += " " * (63 - (10 + len(header)) % 64) + "\n"
    with open(args[0], "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little"))
        f.write(header.encode("latin1") + bytes(16))


def words(args):
    path, descr, values = args[0], args[1], eval(args[2], {"np": np})
    header = "{'descr': '%s', 'fortran_order': False, 'shape': (%d,), }" % (
        descr, len(values))
    header += " " * (63 - (10 + len(header)) % 64) + "\n"
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little"))
        f.write(header.encode("latin1"))
        f.write(np.array(values, dtype="<u2").tobytes())


def raw(args):
    path, nbytes = args[0], int(args[2])
    header = eval("'''" + args[1] + "'''").encode("latin1")
    flags = args[3:]
    length = len(header)
    if "--header-len" in flags:
        length = int(flags[flags.index("--header-len") + 1])
    version = 1
    if "--version" in flags:
        version = int(flags[flags.index("--version") + 1])
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY" + bytes([version, 0]))
        f.write(length.to_bytes(2 if version == 1 else 4, "little"))
        f.write(header + bytes(nbytes))


def same(args):
    a, b = np.load(args[0]), np.load(args[1])
    ok = a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()
    print("same" if ok else "different: %s %s vs %s %s" %
          (a.dtype, a.shape, b.dtype, b.shape))


def bench(args):
    with open(args[0]) as f:
        lines = [line for line in f.read().splitlines() if line.strip()]
    obj = json.loads(lines[-1])
    print("keys:", " ".join(sorted(obj)))
    print("runs:", obj["runs"])
    ordered = 0 <= obj["min_ms"] <= obj["median_ms"] <= obj["max_ms"]
    print("ordered" if ordered else "not ordered: %r" % obj)


if __name__ == "__main__":
    {"save": save, "show": show, "lying": lying, "same": same,
     "bench": bench, "words": words, "raw": raw}[sys.argv[1]](
        sys.argv[2:])
