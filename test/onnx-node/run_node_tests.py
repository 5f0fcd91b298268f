#!/usr/bin/python3
"""Run ONNX backend node tests (Debian's libonnx-testdata) through attnc and attn-run.

  run_node_tests.py --list passing.txt --attnc ATTNC --attn-run ATTN_RUN --tmp DIR
  run_node_tests.py --discover --attnc ATTNC --attn-run ATTN_RUN --tmp DIR [--write-list FILE]

Each test is DATA/<test>/model.onnx with DATA/<test>/test_data_set_*/input_*.pb and output_*.pb
(TensorProto). A test: `attnc model.onnx -o TMP/<test>/model.so`, then attn-run with every input
as a .npy, then every output compared as the ONNX project does:
|got - ref| <= 1e-5 + 1e-3*|ref| (NaN must match NaN), integer/bool outputs exactly, shapes and
dtypes must match. Prints one line per test (PASS/FAIL/CRASH/TIMEOUT/ERROR with the first error
line; CRASH: a tool exited other than 0/1, a bug; ERROR: a tool could not be started).
With --list, exits non-zero if any listed test does not pass. With --discover, runs every node
test, prints a summary and (with --write-list) writes the names of the passing tests.

Only the standard library and numpy: the TensorProto files are decoded by a small protobuf
wire-format reader below, not by the onnx package.
"""
import argparse
import concurrent.futures
import glob
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import time

import numpy as np

DATA = "/usr/share/libonnx-testdata/data/node"
# Expected outputs regenerated from onnx.reference where the packaged data is wrong
# (corrected/gen_corrected.py says which and why): corrected/<test>/<data set>/output_<i>.npy.
CORRECTED = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corrected")
ATOL = 1e-5
RTOL = 1e-3


# ---------------------------------------------------------------------------------------------
# Protobuf wire format / TensorProto
# ---------------------------------------------------------------------------------------------

class ParseError(Exception):
    pass


def _varint(buf, pos):
    result = 0
    shift = 0
    while True:
        if pos >= len(buf):
            raise ParseError("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift > 70:
            raise ParseError("varint too long")


def _fields(buf):
    """Yields (field number, wire type, value); value is an int (varint/fixed) or bytes."""
    pos = 0
    n = len(buf)
    while pos < n:
        key, pos = _varint(buf, pos)
        field, wt = key >> 3, key & 7
        if wt == 0:
            v, pos = _varint(buf, pos)
        elif wt == 1:
            if pos + 8 > n:
                raise ParseError("truncated fixed64")
            v = buf[pos:pos + 8]
            pos += 8
        elif wt == 2:
            ln, pos = _varint(buf, pos)
            if pos + ln > n:
                raise ParseError("truncated length-delimited field")
            v = buf[pos:pos + ln]
            pos += ln
        elif wt == 5:
            if pos + 4 > n:
                raise ParseError("truncated fixed32")
            v = buf[pos:pos + 4]
            pos += 4
        else:
            raise ParseError("unsupported wire type %d" % wt)
        yield field, wt, v


def _packed_varints(data):
    out = []
    pos = 0
    while pos < len(data):
        v, pos = _varint(data, pos)
        out.append(v)
    return out


def _signed64(v):
    v &= (1 << 64) - 1
    return v - (1 << 64) if v >= (1 << 63) else v


# ONNX data type -> (name, numpy dtype of the decoded array)
FLOAT, UINT8, INT8, UINT16, INT16, INT32, INT64, STRING, BOOL, FLOAT16, DOUBLE, UINT32, UINT64 = \
    1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13
BFLOAT16 = 16
DTYPES = {
    FLOAT: np.float32, UINT8: np.uint8, INT8: np.int8, UINT16: np.uint16, INT16: np.int16,
    INT32: np.int32, INT64: np.int64, BOOL: np.bool_, FLOAT16: np.float16, DOUBLE: np.float64,
    UINT32: np.uint32, UINT64: np.uint64,
}


def _bf16_to_f32(bits):
    return (np.asarray(bits, dtype=np.uint32) << 16).view(np.float32)


def read_tensor(path):
    """Decodes a TensorProto file. Returns (name, onnx data type, numpy array); bfloat16 data
    is returned as float32."""
    with open(path, "rb") as f:
        buf = f.read()
    dims, dtype, name, raw = [], None, "", None
    floats, int32s, int64s, doubles, uint64s = [], [], [], [], []
    has_data = False
    for field, wt, v in _fields(buf):
        if field == 1:
            if wt == 0:
                dims.append(_signed64(v))
            elif wt == 2:
                dims.extend(_signed64(x) for x in _packed_varints(v))
            else:
                raise ParseError("bad wire type for dims")
        elif field == 2 and wt == 0:
            dtype = v
        elif field == 4:
            has_data = True
            if wt == 2:
                if len(v) % 4:
                    raise ParseError("bad packed float_data")
                floats.extend(struct.unpack("<%df" % (len(v) // 4), v))
            elif wt == 5:
                floats.append(struct.unpack("<f", v)[0])
            else:
                raise ParseError("bad wire type for float_data")
        elif field == 5:
            has_data = True
            vals = _packed_varints(v) if wt == 2 else [v]
            int32s.extend(_signed64(x) for x in vals)
        elif field == 6:
            raise ParseError("string tensors are not supported")
        elif field == 7:
            has_data = True
            vals = _packed_varints(v) if wt == 2 else [v]
            int64s.extend(_signed64(x) for x in vals)
        elif field == 8 and wt == 2:
            name = v.decode("utf-8", errors="replace")
        elif field == 9 and wt == 2:
            has_data = True
            raw = bytes(v)
        elif field == 10:
            has_data = True
            if wt == 2:
                if len(v) % 8:
                    raise ParseError("bad packed double_data")
                doubles.extend(struct.unpack("<%dd" % (len(v) // 8), v))
            elif wt == 1:
                doubles.append(struct.unpack("<d", v)[0])
            else:
                raise ParseError("bad wire type for double_data")
        elif field == 11:
            has_data = True
            uint64s.extend(_packed_varints(v) if wt == 2 else [v])
        elif field == 13 or field == 14:
            raise ParseError("external data is not supported")
        # 3 segment, 12 doc_string, 16 metadata_props ...: ignored
    if dtype is None:
        raise ParseError("no data_type (not a TensorProto?)")
    if dtype == STRING:
        raise ParseError("string tensors are not supported")
    if dtype != BFLOAT16 and dtype not in DTYPES:
        raise ParseError("unsupported data_type %d" % dtype)
    if any(d < 0 for d in dims):
        raise ParseError("negative dim")
    count = 1
    for d in dims:
        count *= d

    if dtype == BFLOAT16:
        if raw is not None:
            bits = np.frombuffer(raw, dtype="<u2")
        else:
            bits = np.array(int32s, dtype=np.int64).astype(np.uint16)
        arr = _bf16_to_f32(bits)
    elif raw is not None:
        dt = np.dtype(DTYPES[dtype]).newbyteorder("<")
        arr = np.frombuffer(raw, dtype=dt).astype(DTYPES[dtype])
    elif dtype == FLOAT:
        arr = np.array(floats, dtype=np.float32)
    elif dtype == DOUBLE:
        arr = np.array(doubles, dtype=np.float64)
    elif dtype == FLOAT16:
        arr = np.array(int32s, dtype=np.int64).astype(np.uint16).view(np.float16)
    elif dtype == BOOL:
        arr = np.array(int32s, dtype=np.int64) != 0
    elif dtype in (UINT8, INT8, UINT16, INT16, INT32):
        arr = np.array(int32s, dtype=np.int64).astype(DTYPES[dtype])
    elif dtype == INT64:
        arr = np.array(int64s, dtype=np.int64)
    elif dtype in (UINT32, UINT64):
        arr = np.array([x & ((1 << 64) - 1) for x in uint64s], dtype=np.uint64).astype(DTYPES[dtype])
    else:
        raise ParseError("unsupported data_type %d" % dtype)
    if arr.size != count:
        if arr.size == 0 and count != 0 and not has_data:
            raise ParseError("tensor has no data")
        raise ParseError("%d elements for dims %s" % (arr.size, dims))
    return name, dtype, arr.reshape(dims)


# ---------------------------------------------------------------------------------------------
# Running one test
# ---------------------------------------------------------------------------------------------

def sanitize(name):
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)


class Result:
    def __init__(self, name, status, message="", seconds=0.0):
        self.name, self.status, self.message, self.seconds = name, status, message, seconds


def _first_error_line(text):
    lines = [l.strip() for l in text.splitlines() if l.strip()]
    for l in lines:
        if "error" in l.lower():
            return l
    return lines[0] if lines else ""


def _crashed(rc):
    """attnc and attn-run exit 0 (success) or 1 (a reported error); anything else is a bug --
    except 126/127, the shell's and the loader's "cannot execute" (a missing or half-written
    binary or library), which is reported as ERROR, not as a crash of the tool."""
    return rc not in (0, 1, 126, 127)


def _rc_text(rc):
    if rc < 0:
        return "signal %d" % -rc
    return "exit %d" % rc


def compare(got, ref, ref_dtype, what):
    """Returns an error string, or None when `got` matches `ref` as the ONNX project compares."""
    want_dtype = np.dtype(np.float32) if ref_dtype == BFLOAT16 else ref.dtype
    if got.dtype != want_dtype:
        return "%s: dtype %s, expected %s" % (what, got.dtype, want_dtype)
    if got.shape != ref.shape:
        return "%s: shape %s, expected %s" % (what, got.shape, ref.shape)
    if ref.size == 0:
        return None
    if np.issubdtype(ref.dtype, np.floating):
        g = got.astype(np.float64)
        r = ref.astype(np.float64)
        gnan, rnan = np.isnan(g), np.isnan(r)
        if (gnan != rnan).any():
            i = np.argwhere(gnan != rnan)[0]
            return "%s: NaN mismatch at %s: got %r, expected %r" % (
                what, tuple(i.tolist()), g[tuple(i)], r[tuple(i)])
        ok = gnan | (g == r)  # equal infinities
        with np.errstate(invalid="ignore", over="ignore"):
            ok |= np.abs(g - r) <= ATOL + RTOL * np.abs(r)
        if not ok.all():
            bad = np.argwhere(~ok)
            i = tuple(bad[0].tolist())
            with np.errstate(invalid="ignore", over="ignore"):
                err = np.where(ok, 0.0, np.abs(g - r))
            return "%s: %d/%d elements differ; first at %s: got %r, expected %r (max abs err %g)" % (
                what, len(bad), ref.size, i, g[i], r[i], np.nanmax(err))
        return None
    if not np.array_equal(got, ref):
        bad = np.argwhere(got != ref)
        i = tuple(bad[0].tolist())
        return "%s: %d/%d elements differ; first at %s: got %r, expected %r" % (
            what, len(bad), ref.size, i, got[i], ref[i])
    return None


def run_test(name, args):
    start = time.time()
    tdir = os.path.join(args.data, name)
    work = os.path.join(args.tmp, name)

    def result(status, message=""):
        return Result(name, status, message, time.time() - start)

    def call(cmd, timeout):
        try:
            p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               timeout=timeout, env=args.env)
            return p.returncode, p.stdout.decode("utf-8", errors="replace")
        except subprocess.TimeoutExpired:
            return None, ""
        except OSError as e:  # the tool itself could not be started
            return 127, "cannot execute %s: %s" % (cmd[0], e)

    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    lib = os.path.join(work, "model.so")
    model = os.path.join(tdir, "model.onnx")
    if not os.path.exists(model):
        return result("FAIL", "no such test: %s" % model)

    # Decode the test data first: a data set the reader cannot decode (sequence/optional/string
    # values) is a harness limitation, reported as such.
    sets = sorted(glob.glob(os.path.join(tdir, "test_data_set_*")))
    if not sets:
        return result("FAIL", "no test_data_set_*")
    datasets = []
    try:
        for s in sets:
            def load(kind):
                files = glob.glob(os.path.join(s, kind + "_*.pb"))
                files.sort(key=lambda p: int(re.search(r"_(\d+)\.pb$", p).group(1)))
                return [read_tensor(p) for p in files]
            datasets.append((s, load("input"), load("output")))
    except (ParseError, ValueError, struct.error) as e:
        return result("FAIL", "harness: cannot decode test data: %s" % e)

    rc, out = call([args.attnc, model, "-o", lib], args.timeout)
    if rc is None:
        return result("TIMEOUT", "attnc timed out after %d s" % args.timeout)
    if rc in (126, 127):
        return result("ERROR", "attnc %s: %s" % (_rc_text(rc), _first_error_line(out)))
    if _crashed(rc):
        return result("CRASH", "attnc %s: %s" % (_rc_text(rc), _first_error_line(out)))
    if rc != 0:
        return result("FAIL", "attnc: " + _first_error_line(out))

    rc, out = call([args.attn_run, lib, "--signature", "--json"], args.timeout)
    if rc is None:
        return result("TIMEOUT", "attn-run --signature timed out")
    if rc in (126, 127):
        return result("ERROR", "attn-run %s: %s" % (_rc_text(rc), _first_error_line(out)))
    if _crashed(rc):
        return result("CRASH", "attn-run --signature %s: %s" % (_rc_text(rc), _first_error_line(out)))
    if rc != 0:
        return result("FAIL", "attn-run --signature: " + _first_error_line(out))
    try:
        sig = json.loads(out.strip().splitlines()[-1])
        sig_in = [i["name"] for i in sig["inputs"]]
        sig_out = [o["name"] for o in sig["outputs"]]
        sig_dtype = {("in", i["name"]): i["dtype"] for i in sig["inputs"]}
        sig_dtype.update({("out", o["name"]): o["dtype"] for o in sig["outputs"]})
    except (ValueError, KeyError, IndexError) as e:
        return result("FAIL", "attn-run --signature: bad JSON (%s)" % e)

    for k, (sdir, inputs, outputs) in enumerate(datasets):
        tag = "" if len(datasets) == 1 else "[%s] " % os.path.basename(sdir)
        if len(inputs) != len(sig_in):
            return result("FAIL", "%s%d inputs in the test data, %d in the signature" % (
                tag, len(inputs), len(sig_in)))
        if len(outputs) != len(sig_out):
            return result("FAIL", "%s%d outputs in the test data, %d in the signature" % (
                tag, len(outputs), len(sig_out)))
        idir = os.path.join(work, "in%d" % k)
        odir = os.path.join(work, "out%d" % k)
        os.makedirs(idir)
        os.makedirs(odir)
        cmd = [args.attn_run, lib]
        for i, (iname, idtype, arr) in enumerate(inputs):
            if not iname:
                iname = sig_in[i]
            if sig_dtype.get(("in", iname)) == "bf16" and idtype == UINT16:
                arr = _bf16_to_f32(arr)  # ONNX < 1.13 stored bfloat16 test data as UINT16 bits
            f = os.path.join(idir, "%d.npy" % i)
            np.save(f, arr)  # bfloat16 was decoded to float32, which attn-run converts
            cmd += ["--input", "%s=%s" % (iname, f)]
        cmd += ["--output-dir", odir, "--threads", str(args.threads)]
        rc, out = call(cmd, args.timeout)
        if rc is None:
            return result("TIMEOUT", "%sattn-run timed out after %d s" % (tag, args.timeout))
        if rc in (126, 127):
            return result("ERROR", "%sattn-run %s: %s" % (tag, _rc_text(rc), _first_error_line(out)))
        if _crashed(rc):
            return result("CRASH", "%sattn-run %s: %s" % (tag, _rc_text(rc), _first_error_line(out)))
        if rc != 0:
            return result("FAIL", "%sattn-run: %s" % (tag, _first_error_line(out)))
        for i, (oname, odtype, ref) in enumerate(outputs):
            if not oname:
                oname = sig_out[i]
            if sig_dtype.get(("out", oname)) == "bf16" and odtype == UINT16:
                ref, odtype = _bf16_to_f32(ref), BFLOAT16  # as for the inputs above
            fixed = os.path.join(CORRECTED, name, os.path.basename(sdir), "output_%d.npy" % i)
            if os.path.exists(fixed):
                ref = np.load(fixed)
            f = os.path.join(odir, sanitize(oname) + ".npy")
            if not os.path.exists(f):
                return result("FAIL", "%soutput %s: attn-run wrote no %s" % (tag, oname, f))
            try:
                got = np.load(f)
            except Exception as e:  # noqa: BLE001 - any unreadable file is a failure
                return result("FAIL", "%soutput %s: cannot read %s: %s" % (tag, oname, f, e))
            err = compare(got, ref, odtype, "%soutput %s" % (tag, oname))
            if err:
                return result("FAIL", err)
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return result("PASS")


# ---------------------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--list", help="file with one test name a line (# comments allowed)")
    g.add_argument("--discover", action="store_true", help="run every node test in --data")
    ap.add_argument("tests", nargs="*", help="with --discover: only these tests")
    ap.add_argument("--attnc", required=True)
    ap.add_argument("--attn-run", required=True, dest="attn_run")
    ap.add_argument("--tmp", required=True, help="scratch directory")
    ap.add_argument("--data", default=DATA)
    ap.add_argument("-j", "--jobs", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1, help="attn-run --threads")
    ap.add_argument("--timeout", type=int, default=120, help="seconds per tool call")
    ap.add_argument("--keep", action="store_true", help="keep the scratch files of passing tests")
    ap.add_argument("--write-list", help="with --discover: write the passing tests here")
    ap.add_argument("--max-seconds", type=float, default=10.0,
                    help="with --write-list: leave out passing tests slower than this")
    args = ap.parse_args()
    args.attnc = shutil.which(args.attnc) or args.attnc
    args.attn_run = shutil.which(args.attn_run) or args.attn_run
    args.env = dict(os.environ, ATTN_NUM_THREADS=str(args.threads))

    if args.list:
        with open(args.list) as f:
            names = [l.split("#")[0].strip() for l in f]
        names = [n for n in names if n]
    else:
        names = args.tests or sorted(
            d for d in os.listdir(args.data) if os.path.isdir(os.path.join(args.data, d)))
    os.makedirs(args.tmp, exist_ok=True)

    results = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
        futures = [pool.submit(run_test, n, args) for n in names]
        for fut in futures:  # in list order, for a stable log
            try:
                r = fut.result()
            except Exception as e:  # noqa: BLE001 - a harness bug fails the one test
                r = Result(names[futures.index(fut)], "FAIL", "harness: %r" % e)
            results.append(r)
            line = "%-7s %s (%.1fs)" % (r.status, r.name, r.seconds)
            if r.message:
                line += ": " + r.message
            print(line, flush=True)

    counts = {}
    for r in results:
        counts[r.status] = counts.get(r.status, 0) + 1
    print("summary: %d tests; %s" % (len(results), ", ".join(
        "%s %d" % (k, counts[k]) for k in sorted(counts))), flush=True)

    if args.discover:
        if args.write_list:
            keep = [r.name for r in results
                    if r.status == "PASS" and r.seconds <= args.max_seconds]
            with open(args.write_list, "w") as f:
                f.write("# ONNX backend node tests (libonnx-testdata) that pass through attnc and\n")
                f.write("# attn-run. Generated by: run_node_tests.py --discover --write-list ...\n")
                for n in keep:
                    f.write(n + "\n")
            print("wrote %d tests to %s" % (len(keep), args.write_list))
        return 0
    return 0 if all(r.status == "PASS" for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
