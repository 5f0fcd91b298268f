#!/usr/bin/python3
"""A tiny numpy interpreter for the attn-dialect subset used by the
attn-fuse-attention tests, to check that fusion preserves semantics.

Usage: attn_interp.py [--f32] BEFORE.mlir AFTER.mlir
Both files are `attn-opt -split-input-file -mlir-print-op-generic` output of
the same input, before and after the pass. Every function is run on the same
random inputs (dynamic dims = 3; a 1-D i64 argument used as a reshape target
gets the target's dims, `?` as 0 = copy) and the results must agree (NaN at
the same places). attn.attention is evaluated from its documented semantics
(AttnOps.td), the unfused graph op by op, everything in float64.

--f32 evaluates f32 tensors in float32, as compiled models do (masks such as
`scores + finfo(f32).min` then round to finfo.min, which fusions may rely
on), and gives bool arguments of shape [..., 1, Sk] (padding masks) left
padding: item 0 masks its first key, the last item masks every key.
"""
import re
import sys

import numpy as np

DYN = 3
F32 = False


def parse_type(t):
    t = t.strip()
    m = re.fullmatch(r"tensor<(.*)>", t)
    if not m:
        raise ValueError("unsupported type " + t)
    parts = m.group(1).split("x")
    elem = parts[-1]
    dims = [None if d == "?" else int(d) for d in parts[:-1]]
    return dims, elem


def np_dtype(elem):
    if elem == "f32" and F32:
        return np.float32
    if elem in ("f16", "bf16", "f32", "f64"):
        return np.float64
    if elem == "i1":
        return np.bool_
    return np.int64


def split_top(s, sep=","):
    out, depth, cur = [], 0, ""
    for ch in s:
        if ch in "<([{":
            depth += 1
        elif ch in ">)]}":
            depth -= 1
        if ch == sep and depth == 0:
            out.append(cur)
            cur = ""
        else:
            cur += ch
    if cur.strip():
        out.append(cur)
    return [x.strip() for x in out]


def parse_scalar(tok, elem):
    tok = tok.strip()
    if tok == "true":
        return 1
    if tok == "false":
        return 0
    if tok.startswith("0x"):
        bits = int(tok, 16)
        if elem == "f32":
            return float(np.array([bits], np.uint32).view(np.float32)[0])
        if elem == "f16":
            return float(np.array([bits], np.uint16).view(np.float16)[0])
        if elem == "f64":
            return float(np.array([bits], np.uint64).view(np.float64)[0])
        return bits
    return float(tok) if elem.startswith("f") or elem == "bf16" else int(tok)


def parse_dense(body, ty):
    dims, elem = parse_type(ty)
    body = body.strip()
    if body == "":
        return np.zeros(dims, dtype=np_dtype(elem))
    if not body.startswith("["):
        v = parse_scalar(body, elem)
        return np.full(dims, v, dtype=np_dtype(elem))
    toks = re.findall(r"\[|\]|[^\s,\[\]]+", body)
    vals = [parse_scalar(t, elem) for t in toks if t not in "[]"]
    return np.array(vals, dtype=np_dtype(elem)).reshape(dims)


RESOURCES = {}


def load_resources(text):
    """dense_resource blobs: `name: "0x<4-byte alignment><data>"`."""
    m = re.search(r"\{-#(.*)#-\}", text, re.S)
    if m:
        for name, blob in re.findall(r'([\w.]+): "0x([0-9A-Fa-f]*)"', m.group(1)):
            RESOURCES[name] = bytes.fromhex(blob)[4:]


def parse_resource(data, ty, name=""):
    dims, elem = parse_type(ty)
    if data is None:
        # Elided blob (e.g. an IR dump): any deterministic values will do to
        # compare two versions of the same graph.
        rng = np.random.default_rng(sum(name.encode()))
        if elem.startswith("f"):
            return (rng.standard_normal(dims) * 0.2).astype(np_dtype(elem))
        return rng.integers(0, 2, dims).astype(np_dtype(elem))
    np_t = {"f32": np.float32, "f64": np.float64, "f16": np.float16, "i64": np.int64,
            "i32": np.int32, "i8": np.int8, "ui8": np.uint8, "i1": np.bool_}[elem]
    return np.frombuffer(data, dtype=np_t).reshape(dims).astype(np_dtype(elem))


def f64(s):
    return float(s)


def softmax(x, axis):
    m = np.max(x, axis=axis, keepdims=True)
    e = np.exp(x - m)
    return e / np.sum(e, axis=axis, keepdims=True)


def layout_perm(props, name):
    m = re.search(name + r" = array<i64: ([^>]*)>", props)
    return None if not m else [int(x) for x in m.group(1).split(",")]


def attention(q, k, v, mask, props):
    # Layout perms: the logical operand is transpose(operand, perm); the op
    # returns transpose(result, result_perm).
    qp, kp, vp, rp = (layout_perm(props, n) for n in ("query_perm", "key_perm", "value_perm", "result_perm"))
    q = q if qp is None else np.transpose(q, qp)
    k = k if kp is None else np.transpose(k, kp)
    v = v if vp is None else np.transpose(v, vp)
    r = attention_logical(q, k, v, mask, props)
    return r if rp is None else np.transpose(r, rp)


def attention_logical(q, k, v, mask, props):
    scale = f64(re.search(r"scale = ([^ ,}]+) : f64", props).group(1))
    fm = re.search(r"fill_value = ([^ ,}]+) : f64", props)
    fill = 0.0 if not fm else (parse_scalar(fm.group(1), "f64"))
    cm = re.search(r"causal_fill = ([^ ,}]+) : f64", props)
    causal_fill = None if not cm else parse_scalar(cm.group(1), "f64")
    nan_to_zero = re.search(r"\bnan_to_zero\b", props) is not None
    kind = re.search(r"mask_kind = #attn.mask_kind<(\w+)>", props).group(1)
    mask_first = re.search(r"\bmask_first\b", props) is not None
    causal = re.search(r"\bcausal\b", props) is not None
    with np.errstate(all="ignore"):
        s = q @ np.swapaxes(k, -1, -2)
        if kind == "none":
            s = s * scale
        elif kind == "additive":
            s = (s + mask) * scale if mask_first else s * scale + mask
        else:
            cond = (mask == 0) if kind == "fill_if_zero" else (mask != 0)
            s = np.where(cond, fill, s) * scale if mask_first else np.where(
                cond, fill, s * scale)
        if causal:
            sq, sk = s.shape[-2], s.shape[-1]
            keep = np.arange(sk)[None, :] <= np.arange(sq)[:, None]
            s = np.where(keep, s, -np.inf if causal_fill is None else s.dtype.type(causal_fill))
        p = softmax(s, -1)
        if nan_to_zero:
            p = np.where(np.isnan(p), 0, p).astype(p.dtype)
        return p @ v


def reshape(x, shape, allowzero=False):
    shape = [int(d) for d in np.atleast_1d(shape)]
    if not allowzero:
        shape = [x.shape[i] if d == 0 else d for i, d in enumerate(shape)]
    return x.reshape(shape)


def run(func_lines, args):
    env = {}
    header = func_lines[0]
    names = re.findall(r"(%arg\d+):", header)
    for n, a in zip(names, args):
        env[n] = a
    for line in func_lines[1:]:
        line = line.strip()
        m = re.match(r'(?:(%\w+) = )?"([\w.]+)"\((.*?)\)(.*)$', line)
        if not m:
            continue
        res, op, operands, rest = m.groups()
        ops = [env[o.strip()] for o in operands.split(",") if o.strip()]
        sig = rest[rest.rfind(" : (") + 3:]
        props = rest[: rest.rfind(" : (")]
        rtype = sig[sig.rfind("->") + 2:].strip()
        with np.errstate(all="ignore"):
            if op == "func.return":
                return ops
            if op == "arith.constant":
                rm = re.search(r"value = dense_resource<([^>]*)> : (tensor<[^>]*>)", props)
                if rm:
                    val = parse_resource(RESOURCES.get(rm.group(1)), rm.group(2), rm.group(1))
                else:
                    dm = re.search(r"value = dense<(.*)> : (tensor<[^>]*>)", props)
                    val = parse_dense(dm.group(1), dm.group(2))
            elif op == "attn.reshape":
                val = reshape(ops[0], ops[1], "allowzero" in props)
            elif op == "attn.transpose":
                perm = [int(p) for p in re.search(r"array<i64: ([^>]*)>", props).group(1).split(",")]
                val = np.transpose(ops[0], perm)
            elif op == "attn.matmul":
                val = ops[0] @ ops[1]
            elif op in ("attn.add", "attn.sub", "attn.mul", "attn.div"):
                fn = {"attn.add": np.add, "attn.sub": np.subtract,
                      "attn.mul": np.multiply, "attn.div": np.divide}[op]
                val = fn(ops[0], ops[1])
            elif op == "attn.cmp":
                pred = re.search(r"predicate (\w+)", props).group(1)
                fn = {"eq": np.equal, "ne": np.not_equal, "lt": np.less,
                      "le": np.less_equal, "gt": np.greater, "ge": np.greater_equal}[pred]
                val = fn(ops[0], ops[1])
            elif op == "attn.select":
                val = np.where(ops[0], ops[1], ops[2])
            elif op == "attn.not":
                val = np.logical_not(ops[0])
            elif op in ("attn.and", "attn.or", "attn.xor"):
                fn = {"attn.and": np.logical_and, "attn.or": np.logical_or,
                      "attn.xor": np.logical_xor}[op]
                val = fn(ops[0], ops[1])
            elif op == "attn.sqrt":
                val = np.sqrt(ops[0])
            elif op == "attn.tanh":
                val = np.tanh(ops[0])
            elif op == "attn.cast":
                _, elem = parse_type(rtype)
                val = ops[0].astype(np_dtype(elem))
            elif op == "attn.trilu":
                k = int(re.search(r"k = (-?\d+)", props).group(1))
                upper = "upper = true" in props
                val = np.triu(ops[0], k) if upper else np.tril(ops[0], k)
            elif op == "attn.constant_of_shape":
                dims, elem = parse_type(rtype)
                tok = re.search(r"value = ([^ }]+)", props).group(1)
                shape = [int(d) for d in ops[0]]
                val = np.full(shape, parse_scalar(tok, elem), dtype=np_dtype(elem))
            elif op == "attn.gather":
                axis = int(re.search(r"axis = (-?\d+)", props).group(1))
                val = np.take(ops[0], ops[1].astype(np.int64), axis=axis)
            elif op == "attn.slice":
                x, starts, ends, axes, steps = ops
                idx = [slice(None)] * x.ndim
                for st, en, ax, sp in zip(starts, ends, axes, steps):
                    idx[int(ax)] = slice(int(st), int(en), int(sp))
                val = x[tuple(idx)]
            elif op == "attn.concat":
                axis = int(re.search(r"axis = (-?\d+)", props).group(1))
                val = np.concatenate(ops, axis=axis)
            elif op == "attn.shape":
                st = int(re.search(r"start = (-?\d+)", props).group(1))
                en = int(re.search(r"end = (-?\d+)", props).group(1))
                val = np.array(ops[0].shape[st:en], np.int64)
            elif op == "attn.expand":
                shape = np.broadcast_shapes(ops[0].shape, tuple(int(d) for d in ops[1]))
                val = np.broadcast_to(ops[0], shape).copy()
            elif op == "attn.range":
                val = np.arange(ops[0], ops[1], ops[2])
            elif op == "attn.relu":
                val = np.maximum(ops[0], 0)
            elif op == "attn.exp":
                val = np.exp(ops[0])
            elif op == "attn.neg":
                val = -ops[0]
            elif op == "attn.layer_norm":
                seg = [int(x) for x in re.search(r"operandSegmentSizes = array<i32: ([^>]*)>", props).group(1).split(",")]
                it = iter(ops)
                x = next(it)
                residual = next(it) if seg[1] else None
                g = next(it)
                bias = next(it) if seg[3] else None
                axis = int(re.search(r"axis = (-?\d+)", props).group(1))
                eps = float(re.search(r"epsilon = ([^ ,}]+)", props).group(1))
                if residual is not None:
                    x = x + residual
                axes = tuple(range(axis % x.ndim, x.ndim))
                mu = x.mean(axis=axes, keepdims=True)
                var = ((x - mu) ** 2).mean(axis=axes, keepdims=True)
                val = (x - mu) / np.sqrt(var + eps) * g
                if bias is not None:
                    val = val + bias
            elif op == "attn.softmax":
                axis = int(re.search(r"axis = (-?\d+)", props).group(1))
                val = softmax(ops[0], axis)
            elif op == "attn.attention":
                mask = ops[3] if len(ops) > 3 else None
                val = attention(ops[0], ops[1], ops[2], mask, props)
            else:
                raise ValueError("unsupported op " + op)
        env[res] = np.asarray(val)
    raise ValueError("no return")


def functions(text):
    funcs, cur, name = {}, None, None
    for line in text.splitlines():
        m = re.search(r'sym_name = "(\w+)"', line)
        if m and '"func.func"' in line:
            name = m.group(1)
            cur = []
            continue
        if cur is not None:
            if line.strip().startswith("^bb0"):
                cur.append(line)
                continue
            cur.append(line)
            if '"func.return"' in line:
                funcs[name] = cur
                cur = None
    return funcs


def make_args(lines, rng):
    header = lines[0]
    args = []
    for n, t in re.findall(r"(%arg\d+): (tensor<[^>]*>)", header):
        dims, elem = parse_type(t)
        shape = [DYN if d is None else d for d in dims]
        if elem.startswith("f"):
            a = rng.standard_normal(shape).astype(np_dtype(elem))
        else:
            a = rng.random(shape) < 0.7
            # Masks: one row all false, one all true (fully masked rows
            # whichever the polarity).
            if len(shape) >= 2 and shape[-2] > 1:
                a[..., 0, :] = False
                a[..., 1, :] = True
            if F32 and elem == "i1" and len(shape) >= 2 and shape[-2] == 1:
                a[0, ..., 0] = False
                a[-1, ...] = False
            if elem != "i1":
                a = a.astype(np.int64)
            # A reshape target: the result type's dims, `?` as 0 (copy).
            # An expand or constant_of_shape shape: the result dims, `?` as
            # the dynamic size.
            for line in lines:
                m = re.search(r'"attn.reshape"\(%\w+, ' + n + r"\).*-> (tensor<[^>]*>)", line)
                if m:
                    rd, _ = parse_type(m.group(1))
                    a = np.array([0 if d is None else d for d in rd], np.int64)
                m = re.search(r'"attn.(?:expand"\(%\w+, |constant_of_shape"\()' + n +
                              r"\).*-> (tensor<[^>]*>)", line)
                if m:
                    rd, _ = parse_type(m.group(1))
                    a = np.array([DYN if d is None else d for d in rd], np.int64)
        args.append(a)
    return args


def main():
    global F32
    argv = sys.argv[1:]
    if argv and argv[0] == "--f32":
        F32 = True
        argv = argv[1:]
    before_text, after_text = open(argv[0]).read(), open(argv[1]).read()
    load_resources(before_text)
    load_resources(after_text)
    before = functions(before_text)
    after = functions(after_text)
    assert before.keys() == after.keys(), "function sets differ"
    bad = 0
    for name in before:
        rng = np.random.default_rng(0)
        args = make_args(before[name], rng)
        ra = run(before[name], args)
        rb = run(after[name], args)
        ok = len(ra) == len(rb)
        for x, y in zip(ra, rb):
            ok = ok and x.shape == y.shape and np.array_equal(np.isnan(x), np.isnan(y))
            if ok and x.dtype != np.bool_:
                fin = ~np.isnan(x)
                tol = 1e-5 if F32 else 1e-6
                ok = np.allclose(x[fin], y[fin], rtol=tol, atol=tol)
        print(("OK " if ok else "MISMATCH ") + name)
        bad += not ok
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
