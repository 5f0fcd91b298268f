#!/usr/bin/env python3
"""Regenerates the committed seed corpora in fuzz/corpus/ (run from anywhere).

  onnxtext/  test/Frontend/*.onnxtext with the lit comment lines removed
  onnx/      the same models as binary protobufs (onnx.parser), plus the small
             e2e fixtures named in E2E (< 200 KB each)
  npy/       small .npy files of every dtype the runtime reads, v1/v2/v3 headers

Needs the pip interpreter's onnx (python3 on PATH) and numpy; the test run
only reads the files.
"""
import glob
import os
import shutil

import numpy as np
import onnx
import onnx.parser

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "fuzz", "corpus")
E2E = ["transformer_block_causal", "decoder_block"]


def main():
    for sub in ("onnxtext", "onnx", "npy"):
        d = os.path.join(OUT, sub)
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)

    for path in sorted(glob.glob(os.path.join(ROOT, "test", "Frontend", "*.onnxtext"))):
        name = os.path.splitext(os.path.basename(path))[0]
        text = "".join(l for l in open(path) if not l.lstrip().startswith("#")).strip() + "\n"
        open(os.path.join(OUT, "onnxtext", name + ".onnxtext"), "w").write(text)
        try:
            model = onnx.parser.parse_model(text)
        except Exception as e:  # a text model only libonnx 1.12 accepts
            print("skip binary %s: %s" % (name, e))
            continue
        open(os.path.join(OUT, "onnx", name + ".onnx"), "wb").write(model.SerializeToString())
    for case in E2E:
        src = os.path.join(ROOT, "test", "e2e", case, "model.onnx")
        assert os.path.getsize(src) < 200 * 1024, src
        shutil.copy(src, os.path.join(OUT, "onnx", "e2e_" + case + ".onnx"))

    npy = os.path.join(OUT, "npy")
    arrays = {
        "f32": np.arange(6, dtype=np.float32).reshape(2, 3) - 2.5,
        "f64": np.array([[1.0, -2.5], [np.inf, np.nan]]),
        "f16": np.array([1.0, 65504.0, -0.5], np.float16),
        "i64": np.array([9007199254740993, -1], np.int64),
        "i32": np.array([[[-2147483648]], [[7]]], np.int32),
        "i16": np.array([-32768, 32767], np.int16),
        "i8": np.array([-128, 127], np.int8),
        "u8": np.array([0, 255], np.uint8),
        "bool": np.array([[True, False], [False, True]]),
        "scalar": np.array(2.5, np.float32),
        "empty": np.zeros((0, 3), np.int64),
        "rank8": np.ones((1, 2, 1, 2, 1, 1, 2, 1), np.float32),
    }
    for name, a in arrays.items():
        np.save(os.path.join(npy, name + ".npy"), a)
    for version in ((2, 0), (3, 0)):
        with open(os.path.join(npy, "v%d.npy" % version[0]), "wb") as f:
            np.lib.format.write_array(f, np.array([1.0, 2.0], np.float32), version=version)


if __name__ == "__main__":
    main()
