#!/usr/bin/python3
"""Generate attnc's end-to-end conformance fixtures under test/e2e/ (and examples/selfattn/).

Interpreters and exporters (see /work/shared/CONTRACT.md, "Python"):
  /usr/bin/python3 scripts/gen_fixtures.py                 # --set skeleton (default)
      Debian's interpreter: python3-torch 1.13, python3-onnx 1.12. TorchScript exporter,
      torch.onnx.export(..., opset_version=17)  ->  ONNX IR 8, opset 17.
      Writes the walking-skeleton cases and examples/selfattn/.
  python3 scripts/gen_fixtures.py --set dynamo             # optional variants
      The pip interpreter: torch 2.x + onnxscript. torch.onnx.export(..., dynamo=True)
      ->  ONNX IR 10, opset 18+ (what current PyTorch emits).
  python3 scripts/verify_fixtures_ort.py                   # cross-check, pip interpreter
      Runs every model.onnx with onnxruntime on the stored inputs, compares with the stored
      PyTorch outputs, and records the error in case.json ("ort_check").

Every set requires its interpreter (it refuses to run under the other one) so that a
regeneration reproduces the committed bytes. Weights and inputs are random (torch.manual_seed,
one seed per case, independent of case order), inputs are never all zeros. Expected outputs are
PyTorch's, computed in fp32 on CPU under model.eval() + torch.no_grad() (dropout = identity);
onnxruntime is only a sanity check.

Layout of one case (names from the CONTRACT):
  test/e2e/<case>/model.onnx
  test/e2e/<case>/inputs/<onnx input name>.npy
  test/e2e/<case>/expected/<onnx output name, chars outside [A-Za-z0-9._-] -> _>.npy
  test/e2e/<case>/case.json                    # inputs/outputs/shapes/exporter/ops/notes
  test/e2e/<case>/shapes/<k>/{inputs,expected}/  # dynamic-shape cases: one set per k
                                                 # (no top-level inputs/ expected/ there)
test/e2e/MANIFEST.json lists every case with the interpreter/exporter that made it.
Only the cases of the chosen set are rewritten; the others are left alone.
"""
import argparse
import hashlib
import json
import os
import re
import shutil
import sys
import zlib
from collections import Counter, OrderedDict

import numpy as np
import torch
import onnx

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from seed_models import SelfAttention  # noqa: E402  (the seed's code, verbatim)

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
E2E = os.path.join(ROOT, "test", "e2e")
EXAMPLE = os.path.join(ROOT, "examples", "selfattn")

EMBED, HEADS = 256, 8
SA_INPUTS = ["values", "keys", "queries", "mask"]
SA_OUTPUTS = ["out"]
# (N, L) for each input set of the dynamic-shape cases: a degenerate one, the export shape,
# and one with an odd length (not a multiple of any tile size).
DYNAMIC_SETS = [(1, 1), (2, 16), (3, 37)]

DTYPE_NAMES = {np.dtype("float32"): "f32", np.dtype("float64"): "f64", np.dtype("float16"): "f16",
               np.dtype("int64"): "i64", np.dtype("int32"): "i32", np.dtype("int16"): "i16",
               np.dtype("int8"): "i8", np.dtype("uint8"): "u8", np.dtype("bool"): "bool"}


def sanitize(name):
    """Output file name rule of attn-run (CONTRACT): chars outside [A-Za-z0-9._-] -> '_'."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)


def case_seed(name):
    return zlib.crc32(name.encode()) & 0x7FFFFFFF


def rel(path):
    return os.path.relpath(path, ROOT)


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


# ----------------------------------------------------------------------------- masks

def causal_mask(n, lq, lk):
    m = torch.tril(torch.ones(lq, lk, dtype=torch.int64))
    return m.expand(n, 1, lq, lk).contiguous()


def padding_mask(lengths, lk):
    """[N,1,1,Lk] int64: 1 for the first lengths[i] keys of item i, 0 after."""
    m = torch.zeros(len(lengths), 1, 1, lk, dtype=torch.int64)
    for i, n in enumerate(lengths):
        m[i, 0, 0, :n] = 1
    return m


# ----------------------------------------------------------------------------- cases
# A case builder returns a dict: inputs (OrderedDict name -> tensor, in forward() order),
# notes, and for dynamic cases dynamic_axes + shape_sets (list of such input dicts).

def sa_inputs(gen, n, lq, lk, mask):
    values = torch.randn(n, lk, EMBED, generator=gen)
    keys = torch.randn(n, lk, EMBED, generator=gen)
    queries = torch.randn(n, lq, EMBED, generator=gen)
    return OrderedDict([("values", values), ("keys", keys), ("queries", queries), ("mask", mask)])


def case_selfattn_causal(gen):
    n, l = 2, 16
    return dict(inputs=sa_inputs(gen, n, l, l, causal_mask(n, l, l)),
                notes=["causal mask tril(ones(L,L)) as int64 [N,1,L,L], given as a runtime input",
                       "values/keys/queries are three different random tensors (catches swapped inputs)"])


def case_selfattn_padding(gen):
    n, l = 2, 12
    return dict(inputs=sa_inputs(gen, n, l, l, padding_mask([l, 9], l)),
                notes=["padding mask [N,1,1,L] int64 broadcast over heads and query rows; "
                       "item 0 has no padding, item 1 masks its last 3 keys"])


def case_selfattn_cross(gen):
    n, lq, lk = 2, 8, 20
    return dict(inputs=sa_inputs(gen, n, lq, lk, padding_mask([17, 13], lk)),
                notes=["cross attention: query length 8, key/value length 20",
                       "mask [N,1,1,20]: item 0 masks its last 3 keys, item 1 its last 7"])


def case_selfattn_fully_masked(gen):
    n, l = 2, 8
    mask = causal_mask(n, l, l)
    mask[0, 0, 3, :] = 0   # one query row of item 0 sees no key at all
    mask[1] = 0            # every row of item 1 is fully masked
    return dict(inputs=sa_inputs(gen, n, l, l, mask),
                notes=["fully masked rows: item 0 query row 3, and all of item 1",
                       "the seed fills masked energies with -1e20 BEFORE dividing by sqrt(256)=16, so a "
                       "fully masked row is constant (-6.25e18) and PyTorch's softmax gives uniform weights "
                       "1/L: the output row is fc_out(mean over keys of values). Finite, no NaN. An "
                       "implementation that uses -inf or skips masked keys gets NaN/0 here and fails.",
                       "checked at generation: those rows equal fc_out(values.mean(1)) within 1e-5"],
                check=check_fully_masked)


def case_selfattn_mask_values(gen):
    n, lq, lk = 2, 10, 10
    g = torch.Generator().manual_seed(1234)
    mask = torch.randint(-2, 3, (n, 1, lq, lk), generator=g, dtype=torch.int64)
    mask[:, :, :, 0] = 1  # keep at least one key per row
    return dict(inputs=sa_inputs(gen, n, lq, lk, mask),
                notes=["mask holds arbitrary int64 values in [-2, 2]: only == 0 masks (seed: mask == 0); "
                       "-2, -1, 1, 2 all keep. Catches lowering the mask as an additive (1-mask)*big "
                       "or as a bool cast of the low bit"])


def case_selfattn_dynamic(gen):
    sets = []
    for n, l in DYNAMIC_SETS:
        mask = causal_mask(n, l, l)
        if n > 1:
            mask[n - 1, :, :, l - min(3, l - 1):] = 0   # pad the last item's tail keys too
        sets.append(sa_inputs(gen, n, l, l, mask))
    axes = {"values": {0: "N", 1: "L"}, "keys": {0: "N", 1: "L"}, "queries": {0: "N", 1: "L"},
            "mask": {0: "N", 2: "L", 3: "L"}, "out": {0: "N", 1: "L"}}
    return dict(inputs=sets[1], dynamic_axes=axes, shape_sets=sets,
                notes=["exported with dynamic_axes N (batch) and L (sequence) on values/keys/queries/mask/out",
                       "mask [N,1,L,L] int64 = causal, plus the last batch item's final keys padded",
                       "input sets (N, L): %s under shapes/<k>/; no top-level inputs/expected" % DYNAMIC_SETS])


def check_fully_masked(model, inputs, outputs):
    v = inputs["values"]
    with torch.no_grad():
        uniform = model.fc_out(v.mean(dim=1))          # [N, EMBED]
    out = outputs[0]
    assert torch.isfinite(out).all(), "fully masked case produced non-finite values"
    err0 = (out[0, 3] - uniform[0]).abs().max().item()
    err1 = (out[1] - uniform[1].unsqueeze(0)).abs().max().item()
    assert max(err0, err1) < 1e-5, (err0, err1)
    return {"fully_masked_rows_vs_uniform_max_abs_err": max(err0, err1)}


SKELETON_CASES = OrderedDict([
    ("selfattn_causal", case_selfattn_causal),
    ("selfattn_padding", case_selfattn_padding),
    ("selfattn_cross", case_selfattn_cross),
    ("selfattn_fully_masked", case_selfattn_fully_masked),
    ("selfattn_mask_values", case_selfattn_mask_values),
    ("selfattn_dynamic", case_selfattn_dynamic),
])

# dynamo variants: (variant case name, builder it reuses)
DYNAMO_CASES = OrderedDict([
    ("selfattn_causal_dynamo", case_selfattn_causal),
    ("selfattn_dynamic_dynamo", case_selfattn_dynamic),
])


# ----------------------------------------------------------------------------- export

def export_torchscript(model, args, path, dynamic_axes):
    torch.onnx.export(model, tuple(args), path, opset_version=17,
                      input_names=SA_INPUTS, output_names=SA_OUTPUTS,
                      dynamic_axes=dynamic_axes, do_constant_folding=True)
    return {"exporter": "torch.onnx.export (TorchScript)", "opset_requested": 17,
            "dynamic_axes": dynamic_axes}


def export_dynamo(model, args, path, dynamic_axes):
    import logging
    logging.getLogger("torch.onnx").setLevel(logging.ERROR)
    ds = None
    if dynamic_axes:
        dims = {}
        ds = {}
        for name in SA_INPUTS:
            ds[name] = {ax: dims.setdefault(sym, torch.export.Dim(sym, min=1, max=8192))
                        for ax, sym in dynamic_axes.get(name, {}).items()} or None
    prog = torch.onnx.export(model, tuple(args), None, dynamo=True, input_names=SA_INPUTS,
                             output_names=SA_OUTPUTS, dynamic_shapes=ds, verbose=False)
    prog.save(path)
    return {"exporter": "torch.onnx.export(dynamo=True) + onnxscript", "dynamic_shapes": dynamic_axes}


# ----------------------------------------------------------------------------- writing

def save_npy(path, arr):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    arr = np.ascontiguousarray(arr)
    np.save(path, arr, allow_pickle=False)


def tensor_info(name, arr, file):
    return OrderedDict([("name", name), ("file", file), ("dtype", DTYPE_NAMES[arr.dtype]),
                        ("shape", list(arr.shape))])


def onnx_np_dtype(elem_type):
    if hasattr(onnx.helper, "tensor_dtype_to_np_dtype"):       # onnx >= 1.13
        return np.dtype(onnx.helper.tensor_dtype_to_np_dtype(elem_type))
    return np.dtype(onnx.mapping.TENSOR_TYPE_TO_NP_TYPE[elem_type])  # Debian's onnx 1.12


def graph_signature(mp):
    def vi(v):
        tt = v.type.tensor_type
        dims = [d.dim_param if d.HasField("dim_param") else (d.dim_value if d.HasField("dim_value") else "?")
                for d in tt.shape.dim]
        return OrderedDict([("name", v.name),
                            ("dtype", DTYPE_NAMES[onnx_np_dtype(tt.elem_type)]),
                            ("shape", dims)])
    inits = {i.name for i in mp.graph.initializer}
    return ([vi(v) for v in mp.graph.input if v.name not in inits], [vi(v) for v in mp.graph.output])


def run_pytorch(model, inputs):
    with torch.no_grad():
        out = model(*inputs.values())
    return [out] if isinstance(out, torch.Tensor) else list(out)


def write_set(dirpath, inputs, outputs):
    """Writes inputs/ and expected/ under dirpath; returns (inputs info, outputs info)."""
    for sub in ("inputs", "expected"):
        shutil.rmtree(os.path.join(dirpath, sub), ignore_errors=True)
    ins, outs = [], []
    for name, t in inputs.items():
        assert re.fullmatch(r"[A-Za-z0-9._-]+", name), name
        arr = t.numpy()
        assert not (arr == 0).all(), "input %s is all zeros" % name
        f = os.path.join(dirpath, "inputs", name + ".npy")
        save_npy(f, arr)
        ins.append(tensor_info(name, arr, rel(f)))
    for name, t in zip(SA_OUTPUTS, outputs):
        arr = t.numpy()
        f = os.path.join(dirpath, "expected", sanitize(name) + ".npy")
        save_npy(f, arr)
        info = tensor_info(name, arr, rel(f))
        info["finite"] = bool(np.isfinite(arr).all())
        info["max_abs"] = float(np.abs(arr[np.isfinite(arr)]).max()) if arr.size else 0.0
        outs.append(info)
    return ins, outs


def build_case(name, builder, exporter):
    seed = case_seed(name.replace("_dynamo", ""))   # the dynamo variants reuse the skeleton seeds
    torch.manual_seed(seed)
    model = SelfAttention(EMBED, HEADS).eval()
    gen = torch.Generator().manual_seed(seed + 1)
    spec = builder(gen)
    case_dir = os.path.join(E2E, name)
    shutil.rmtree(case_dir, ignore_errors=True)
    os.makedirs(case_dir)
    model_path = os.path.join(case_dir, "model.onnx")

    dyn = spec.get("dynamic_axes")
    export_args = list(spec["inputs"].values())
    exp_info = exporter(model, export_args, model_path, dyn)
    mp = onnx.load(model_path)
    onnx.checker.check_model(mp)   # each interpreter's onnx knows the IR/opset its torch emits
    sig_in, sig_out = graph_signature(mp)
    assert [s["name"] for s in sig_in] == SA_INPUTS, [s["name"] for s in sig_in]
    assert [s["name"] for s in sig_out] == SA_OUTPUTS, [s["name"] for s in sig_out]

    case = OrderedDict()
    case["case"] = name
    case["model"] = "SelfAttention(embed_size=%d, heads=%d) from the seed (scripts/seed_models.py)" % (EMBED, HEADS)
    case["model_file"] = rel(model_path)
    case["tolerance"] = 1e-4
    case["metric"] = "max|got-ref| / max(1, max|ref|) over all elements (CONTRACT numerics)"
    case["seed"] = seed
    case["generator"] = OrderedDict([
        ("script", "scripts/gen_fixtures.py"),
        ("interpreter", sys.executable),
        ("python", sys.version.split()[0]),
        ("torch", torch.__version__),
        ("onnx", onnx.__version__),
        ("numpy", np.__version__),
    ])
    case["generator"].update(exp_info)
    case["onnx"] = OrderedDict([
        ("ir_version", mp.ir_version),
        ("opset", {o.domain or "ai.onnx": o.version for o in mp.opset_import}),
        ("producer", "%s %s" % (mp.producer_name, mp.producer_version)),
        ("inputs", sig_in),
        ("outputs", sig_out),
        ("initializers", [OrderedDict([("name", i.name), ("shape", list(i.dims))]) for i in mp.graph.initializer]),
        ("op_types", sorted(set(n.op_type for n in mp.graph.node))),
        ("op_counts", OrderedDict(sorted(Counter(n.op_type for n in mp.graph.node).items()))),
        ("nodes", ["%s %s" % (n.op_type, n.name) for n in mp.graph.node]),
    ])

    checks = OrderedDict()
    if "shape_sets" in spec:
        sets = []
        for k, inputs in enumerate(spec["shape_sets"]):
            outputs = run_pytorch(model, inputs)
            set_dir = os.path.join(case_dir, "shapes", str(k))
            ins, outs = write_set(set_dir, inputs, outputs)
            sets.append(OrderedDict([("set", k), ("dir", rel(set_dir)), ("inputs", ins), ("outputs", outs)]))
        case["shape_sets"] = sets
    else:
        outputs = run_pytorch(model, spec["inputs"])
        if spec.get("check"):
            checks.update(spec["check"](model, spec["inputs"], outputs))
        ins, outs = write_set(case_dir, spec["inputs"], outputs)
        case["inputs"] = ins
        case["outputs"] = outs
    case["checks"] = checks
    case["notes"] = spec["notes"]
    dump_json(case, os.path.join(case_dir, "case.json"))
    return case


def dump_json(obj, path):
    """json with lists of scalars kept on one line (readable case.json diffs)."""
    text = json.dumps(obj, indent=2)
    text = re.sub(r"\[\s*([^\[\]{}]*?)\s*\]",
                  lambda m: "[" + re.sub(r"\s*\n\s*", " ", m.group(1)) + "]", text)
    with open(path, "w") as f:
        f.write(text + "\n")


def dir_size(path):
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(path) for f in fs)


def update_manifest(cases):
    path = os.path.join(E2E, "MANIFEST.json")
    manifest = OrderedDict([("about", "attnc e2e conformance fixtures; regenerate with scripts/gen_fixtures.py "
                                      "(see its docstring), cross-check with scripts/verify_fixtures_ort.py"),
                            ("cases", OrderedDict())])
    if os.path.exists(path):
        with open(path) as f:
            manifest = json.load(f, object_pairs_hook=OrderedDict)
    for c in cases:
        d = os.path.join(ROOT, os.path.dirname(c["model_file"]))
        manifest["cases"][c["case"]] = OrderedDict([
            ("dir", rel(d)),
            ("interpreter", c["generator"]["interpreter"]),
            ("torch", c["generator"]["torch"]),
            ("exporter", c["generator"]["exporter"]),
            ("ir_version", c["onnx"]["ir_version"]),
            ("opset", c["onnx"]["opset"]),
            ("dynamic", "shape_sets" in c),
            ("shape_sets", len(c.get("shape_sets", []))),
            ("bytes", dir_size(d)),
            ("model_sha256", sha256(os.path.join(ROOT, c["model_file"]))),
        ])
    manifest["cases"] = OrderedDict(sorted(manifest["cases"].items()))
    dump_json(manifest, path)


def write_example(case):
    """examples/selfattn/: the README's demo, a copy of selfattn_causal."""
    src = os.path.join(E2E, case["case"])
    shutil.rmtree(EXAMPLE, ignore_errors=True)
    os.makedirs(EXAMPLE)
    for sub in ("model.onnx", "inputs", "expected"):
        s = os.path.join(src, sub)
        (shutil.copytree if os.path.isdir(s) else shutil.copyfile)(s, os.path.join(EXAMPLE, sub))
    ex = json.loads(json.dumps(case, indent=1).replace(rel(src) + "/", rel(EXAMPLE) + "/"),
                    object_pairs_hook=OrderedDict)
    ex["notes"] = ["demo copy of test/e2e/%s (same files)" % case["case"]] + ex["notes"]
    dump_json(ex, os.path.join(EXAMPLE, "case.json"))
    with open(os.path.join(EXAMPLE, "README.md"), "w") as f:
        f.write("""# Demo: the seed's SelfAttention

`model.onnx` is the seed's `SelfAttention(embed_size=256, heads=8)` with random weights, exported by
PyTorch 1.13 (opset 17); `inputs/` holds a batch of 2 sequences of 16 tokens with a causal mask
(int64, `[2,1,16,16]`) and `expected/out.npy` is PyTorch's output. It is a copy of
`test/e2e/selfattn_causal/` made by `scripts/gen_fixtures.py`; `case.json` describes it.

```sh
build/bin/attnc examples/selfattn/model.onnx -o /tmp/selfattn.so
build/bin/attn-run /tmp/selfattn.so \\
    --input values=examples/selfattn/inputs/values.npy \\
    --input keys=examples/selfattn/inputs/keys.npy \\
    --input queries=examples/selfattn/inputs/queries.npy \\
    --input mask=examples/selfattn/inputs/mask.npy \\
    --output-dir /tmp/selfattn.out
/usr/bin/python3 test/e2e/compare.py /tmp/selfattn.out examples/selfattn/expected
```
""")


def write_negative_inputs():
    """Bad inputs for test/e2e/attn_run_errors.test (run against the compiled selfattn_causal)."""
    d = os.path.join(E2E, "negative")
    shutil.rmtree(d, ignore_errors=True)
    rng = np.random.default_rng(7)
    mask = np.tril(np.ones((16, 16), np.int64))[None, None].repeat(2, axis=0)
    save_npy(os.path.join(d, "mask_f32.npy"), mask.astype(np.float32))       # wrong dtype (expects i64)
    save_npy(os.path.join(d, "mask_i32.npy"), mask.astype(np.int32))         # wrong dtype (expects i64)
    save_npy(os.path.join(d, "values_rank2.npy"), rng.standard_normal((32, 256)).astype(np.float32))
    save_npy(os.path.join(d, "values_dim.npy"), rng.standard_normal((2, 16, 128)).astype(np.float32))
    save_npy(os.path.join(d, "values_f64.npy"), rng.standard_normal((2, 16, 256)))
    with open(os.path.join(d, "README.md"), "w") as f:
        f.write("Deliberately wrong inputs for `selfattn_causal/model.onnx` (values f32[2,16,256], "
                "mask i64[2,1,16,16]),\nused by `../attn_run_errors.test`. Written by scripts/gen_fixtures.py.\n"
                "- mask_f32.npy, mask_i32.npy: right shape, wrong dtype\n"
                "- values_rank2.npy: f32[32,256] (wrong rank)\n"
                "- values_dim.npy: f32[2,16,128] (wrong last dim)\n"
                "- values_f64.npy: f64[2,16,256] (wrong dtype)\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--set", choices=["skeleton", "dynamo"], default="skeleton")
    ap.add_argument("--cases", nargs="*", help="only these cases of the set")
    ap.add_argument("--force", action="store_true", help="skip the interpreter/version check")
    args = ap.parse_args()

    major = int(torch.__version__.split(".")[0])
    if args.set == "skeleton":
        table, exporter = SKELETON_CASES, export_torchscript
        if not args.force and not torch.__version__.startswith("1.13"):
            sys.exit("gen_fixtures: the skeleton set is made by Debian's /usr/bin/python3 (torch 1.13); "
                     "this is torch %s (use --force to override)" % torch.__version__)
    else:
        table, exporter = DYNAMO_CASES, export_dynamo
        if major < 2:
            sys.exit("gen_fixtures: --set dynamo needs the pip python3 (torch 2.x + onnxscript)")
    torch.set_num_threads(1)   # deterministic reductions
    names = args.cases or list(table)
    done = []
    for name in names:
        case = build_case(name, table[name], exporter)
        done.append(case)
        print("%-26s %8d bytes  ops: %s" % (name, dir_size(os.path.join(E2E, name)), " ".join(case["onnx"]["op_types"])))
    if args.set == "skeleton" and not args.cases:
        write_example(done[0])
        write_negative_inputs()
    update_manifest(done)


if __name__ == "__main__":
    main()
