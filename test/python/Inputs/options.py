#!/usr/bin/python3
"""compile() options and warnings: a graph input with an initializer is compiled as a
constant with a warning (attnc.CompileWarning, attnc's text); inputs_override_initializers=True
makes it an input. Lists are converted to the input's dtype."""
import sys
import warnings

import numpy as np

import attnc

model = sys.argv[1]
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    m = attnc.compile(model)
for w in caught:
    print("%s: %s" % (w.category.__name__, w.message))
print("inputs:", [i["name"] for i in m.inputs], m(x=np.ones(4, np.float32))["y"].tolist())
m2 = attnc.compile(model, inputs_override_initializers=True, opt_level=1)
print("override inputs:", [i["name"] for i in m2.inputs],
      m2(x=np.ones(4, np.float32), w=[1, 1, 1, 1])["y"].tolist())
