"""Compiles and runs a model with the attnc package found on PYTHONPATH (install-python.test).

Usage: installed_python.py MODEL SHAPES_DIR OUT_DIR [compile-only]
Prints the package's file, writes the outputs of SHAPES_DIR/inputs as OUT_DIR/<name>.npy.
"""
import os
import sys

import numpy as np

import attnc

model, shapes, out_dir = sys.argv[1:4]
print(attnc.__file__)
m = attnc.compile(model, output=os.path.join(out_dir, "model.so"))
if len(sys.argv) > 4:
    sys.exit(0)
inputs = {f[:-4]: np.load(os.path.join(shapes, "inputs", f))
          for f in os.listdir(os.path.join(shapes, "inputs"))}
for name, value in m(**inputs).items():
    np.save(os.path.join(out_dir, name + ".npy"), value)
