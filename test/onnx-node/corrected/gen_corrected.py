"""gen_corrected.py: regenerates the corrected expected outputs in this directory.

Debian's libonnx-testdata is ONNX 1.12's node test data. Its FLOAT -> BFLOAT16 Cast expected
outputs were made by truncating the float32 bits (ONNX < 1.13's test generator), but the Cast
spec (and onnx.reference, ONNX >= 1.14's data) rounds to the nearest even bfloat16: 0.48033667
is 0.48046875, not 0.478515625. run_node_tests.py compares against
corrected/<test>/<data set>/output_<i>.npy (float32 values) where such a file exists.

Run with a Python that has onnx >= 1.14 (not needed by the tests):
    python3 test/onnx-node/corrected/gen_corrected.py
"""
import os

import numpy as np
import onnx
from onnx import numpy_helper
from onnx.reference import ReferenceEvaluator

DATA = "/usr/share/libonnx-testdata/data/node"
HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = ["test_cast_FLOAT_to_BFLOAT16"]

for test in TESTS:
    tdir = os.path.join(DATA, test)
    model = onnx.load(os.path.join(tdir, "model.onnx"))
    ref = ReferenceEvaluator(model)
    for s in sorted(d for d in os.listdir(tdir) if d.startswith("test_data_set_")):
        feeds = {}
        for i, inp in enumerate(model.graph.input):
            t = onnx.load_tensor(os.path.join(tdir, s, "input_%d.pb" % i))
            feeds[inp.name] = numpy_helper.to_array(t)
        outs = ref.run(None, feeds)
        os.makedirs(os.path.join(HERE, test, s), exist_ok=True)
        for i, out in enumerate(outs):
            np.save(os.path.join(HERE, test, s, "output_%d.npy" % i), out.astype(np.float32))
