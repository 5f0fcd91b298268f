#!/usr/bin/python3
"""Writes the fake cases of compare_real_positions.test under DIR (numpy only).

  DIR/llm/case.json          "compare": {"real_positions": {"mask_input": "attention_mask", "outputs": ["logits"]}}
  DIR/llm/shapes/0/{inputs,expected}/   attention_mask [2,5] (item 1: last 2 padded), logits [2,5,3], aux [2,5]
  DIR/static/...             the same case without shape sets (inputs/ expected/ beside case.json)
  DIR/plain/...              the same shape-set case without the "compare" field
  DIR/badmask/...            like llm, but the mask is [2,4] (not the logits' leading dims)
  DIR/got_pad/               logits off by 100 at the padded positions only (and NaN at one of them)
  DIR/got_real/              logits off by 1e-2 at one real position
  DIR/got_aux_pad/           aux (not listed in "outputs") off at a padded position
"""
import json
import os
import sys

import numpy as np


def save(path, arr):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    np.save(path, arr)


def main():
    root = sys.argv[1]
    rng = np.random.default_rng(0)
    mask = np.ones((2, 5), np.int64)
    mask[1, 3:] = 0
    logits = rng.standard_normal((2, 5, 3)).astype(np.float32) * 4
    aux = rng.standard_normal((2, 5)).astype(np.float32)
    compare = {"real_positions": {"mask_input": "attention_mask", "outputs": ["logits"]}}
    for name, spec, shapes, m in (("llm", compare, True, mask), ("static", compare, False, mask),
                                  ("plain", None, True, mask), ("badmask", compare, True, mask[:, :4])):
        case = {"case": name}
        if spec:
            case["compare"] = spec
        base = os.path.join(root, name)
        os.makedirs(base, exist_ok=True)
        with open(os.path.join(base, "case.json"), "w") as f:
            json.dump(case, f)
        d = os.path.join(base, "shapes", "0") if shapes else base
        save(os.path.join(d, "inputs", "attention_mask.npy"), m)
        save(os.path.join(d, "expected", "logits.npy"), logits)
        save(os.path.join(d, "expected", "aux.npy"), aux)
    g = logits.copy()
    g[1, 3:] += 100
    g[1, 4, 0] = np.nan
    save(os.path.join(root, "got_pad", "logits.npy"), g)
    save(os.path.join(root, "got_pad", "aux.npy"), aux)
    g = logits.copy()
    g[0, 2, 1] += 1e-2
    save(os.path.join(root, "got_real", "logits.npy"), g)
    save(os.path.join(root, "got_real", "aux.npy"), aux)
    a = aux.copy()
    a[1, 4] += 1
    save(os.path.join(root, "got_aux_pad", "logits.npy"), logits)
    save(os.path.join(root, "got_aux_pad", "aux.npy"), a)


if __name__ == "__main__":
    main()
