#!/usr/bin/env python3
"""A lockstep SIMT emulator for attnc's GPU attention kernels, on the CPU.

CI has no GPU. This interprets the kernel IR that `attn-gpu-lower-attention`
builds (a func with a `gpu.launch`, printed in MLIR's generic form) thread
block by thread block: the threads of a block run in lockstep as numpy
vectors, with an active-lane mask for divergent `scf.if`/`scf.for`; shared
memory is per block; `gpu.shuffle xor` permutes lanes of a warp; and
`nvvm.mma.sync` m16n8k16 (f16/bf16 x f16/bf16 + f32) gathers and scatters its
fragments with the lane layouts of PTX's ISA ("Matrix Fragments for
mma.m16n8k16 with floating point type"), computed in f32.

What it checks besides the values: loads and stores inside the buffers for
every active lane (an out-of-bounds access is an error, not a wrap), barriers
under uniform control flow (all threads of the block active), shuffles and
mma under warp-uniform control flow (each warp all active or all inactive), and
output elements never written stay NaN (buffers start as NaN).

What it cannot check: timing, memory-model races between warps that a
barrier would order (lockstep hides them), the hardware's own view of the
fragment layouts (it uses the documented one, as the kernel does).

Supported: the ops these kernels use (arith, math.exp, memref, vector 1-D,
scf.for/if/parallel, gpu ids/launch/barrier/shuffle, nvvm.mma.sync,
llvm.extractvalue). Anything else raises NotImplementedError naming the op.

Usage as a module: run_function(text, name, args) -> list of outputs.
"""
import re
import sys

import numpy as np

WARP = 32


def round_bf16(x):
    """float32 -> nearest bf16 (ties to even), kept in float32."""
    x = np.atleast_1d(np.asarray(x, dtype=np.float32))
    u = x.view(np.uint32).astype(np.uint64)
    s16, one = np.uint64(16), np.uint64(1)
    r = ((u + np.uint64(0x7FFF) + ((u >> s16) & one)) >> s16) << s16
    out = (r & np.uint64(0xFFFFFFFF)).astype(np.uint32).view(np.float32)
    return np.where(np.isnan(x), x, out).astype(np.float32)


def round_to(x, ty):
    if ty == "f64":
        return np.asarray(x, dtype=np.float64)
    if ty == "f16":
        return np.asarray(x, dtype=np.float32).astype(np.float16).astype(np.float32)
    if ty == "bf16":
        return round_bf16(x)
    return np.asarray(x, dtype=np.float32)


# ----------------------------------------------------------------------------- parsing

class Op:
    def __init__(self, results, name, operands, text, line):
        self.results, self.name, self.operands, self.text = results, name, operands, text
        self.sig, self.regions, self.line, self.header = "", [], line, ""


class Block:
    def __init__(self, args):
        self.args, self.ops = args, []


OP_RE = re.compile(r'^\s*(?:(%[\w]+)(?::(\d+))?\s*=\s*)?"([\w.]+)"\((.*?)\)(.*)$')
BLOCK_RE = re.compile(r'^\s*\^bb\d+(?:\((.*)\))?:')


def split_operands(s):
    return [o.strip() for o in s.split(",") if o.strip()]


def parse(text):
    lines = text.splitlines()
    pos = [0]

    def parse_regions(op):
        # The op's line ended with "({": regions until "})".
        while True:
            region, block = [], None
            while True:
                line = lines[pos[0]]
                pos[0] += 1
                s = line.strip()
                if s.startswith("})") or s == "}, {":
                    if block is not None:
                        region.append(block)
                    op.regions.append(region)
                    if s == "}, {":
                        break
                    op.sig = s
                    return
                m = BLOCK_RE.match(line)
                if m:
                    if block is not None:
                        region.append(block)
                    args = [a.split(":")[0].strip() for a in split_operands(m.group(1) or "")
                            if a.strip().startswith("%")]
                    block = Block(args)
                    continue
                if block is None:
                    block = Block([])
                block.ops.append(parse_op(line))

    def parse_op(line):
        m = OP_RE.match(line)
        if not m:
            raise ValueError("cannot parse: " + line)
        res, n, name, operands, rest = m.groups()
        results = []
        if res:
            results = [res] if n is None else ["%s#%d" % (res, i) for i in range(int(n))]
        op = Op(results, name, split_operands(operands), rest, line)
        if rest.rstrip().endswith("({"):
            parse_regions(op)
        else:
            op.sig = rest
        return op

    top = []
    while pos[0] < len(lines):
        line = lines[pos[0]]
        pos[0] += 1
        if line.startswith("{-#"):
            break   # the resource blobs (parse_globals reads them)
        if line.strip() and not line.strip().startswith("//"):
            top.append(parse_op(line))
    return top


def result_type(op):
    return op.sig.rsplit("-> ", 1)[1].strip() if "-> " in op.sig else ""


def attr(op, key):
    m = re.search(r"\b%s = ([^,}>]+(?:<[^>]*>)?)" % re.escape(key), op.text)
    return m.group(1).strip() if m else None


def elem_type(ty):
    m = re.search(r"x?(f16|bf16|f32|f64|i1|i32|i64|index)>?\s*$", ty.split(",")[0].strip()) or \
        re.search(r"(f16|bf16|f32|f64|i1|i32|i64|index)", ty)
    return m.group(1)


def shape_of(ty):
    m = re.match(r"(?:memref|vector|tensor)<([\dx]*?)x?(?:f16|bf16|f32|f64|i1|i32|i64|index)", ty)
    dims = m.group(1)
    return tuple(int(d) for d in dims.split("x") if d) if dims else ()


def shape_of_dyn(ty):
    """Shape with DYN for '?' dims."""
    m = re.match(r"(?:memref|vector|tensor)<((?:[\d?]+x)*)", ty)
    return tuple(DYN if d == "?" else int(d) for d in m.group(1).split("x") if d)


def attr_block(op, key):
    """The bracketed value of attribute `key` (nested [...])."""
    i = op.text.index(key + " = ") + len(key) + 3
    depth, j = 0, i
    while True:
        c = op.text[j]
        depth += c == "["
        depth -= c == "]"
        j += 1
        if depth == 0:
            return op.text[i:j]


NP = {"f16": np.float32, "bf16": np.float32, "f32": np.float32, "f64": np.float64,
      "i1": np.bool_, "i32": np.int64, "i64": np.int64, "index": np.int64}


def constant_from_hex(v):
    """An f64 hex literal (0x...) as a float."""
    return float(np.array([int(v, 16)], dtype=np.uint64).view(np.float64)[0])


def constant(op):
    ty = result_type(op)
    v = attr(op, "value")
    v = v.rsplit(" : ", 1)[0] if " : " in v else v
    if v in ("true", "false"):
        return np.bool_(v == "true")
    if v.startswith("0x"):
        bits = int(v, 16)
        if ty == "f32":
            return np.array([bits], dtype=np.uint32).view(np.float32)[0]
        if ty == "f16":
            return np.float32(np.array([bits], dtype=np.uint16).view(np.float16)[0])
        if ty == "bf16":
            return np.array([bits << 16], dtype=np.uint32).view(np.float32)[0]
        if ty == "f64":
            return np.float64(constant_from_hex(v))
        raise NotImplementedError("hex constant of " + ty)
    if ty in ("f16", "bf16", "f32"):
        return np.float32(round_to(np.float32(float(v)), ty))
    if ty == "f64":
        return np.float64(constant_from_hex(v) if v.startswith("0x") else float(v))
    return np.int64(int(v))


# ----------------------------------------------------------------------------- execution

class Packed:
    """A vector<2xf16/bf16> bit-cast to an integer register (bf16 mma operands)."""
    def __init__(self, v):
        self.v = v


class EmulationError(Exception):
    pass


DYN = -9223372036854775808


def contiguous_strides(shape):
    st, acc = [], 1
    for d in reversed(shape):
        st.append(acc)
        acc *= d
    return tuple(reversed(st))


class MemRef:
    """A strided view (offset, sizes, strides in elements) of a flat buffer.
    kind: "device" (memref.alloc, function arguments), "host" (alloca),
    "shared" (workgroup attributions), "global" (memref.global)."""
    bases = {}          # address >> 32 -> flat numpy buffer

    def __init__(self, base, offset, shape, strides, kind):
        self.base, self.offset, self.kind = base, int(offset), kind
        self.shape, self.strides = tuple(int(x) for x in shape), tuple(int(x) for x in strides)

    @staticmethod
    def register(base):
        key = len(MemRef.bases) + 1
        MemRef.bases[key] = base
        return key

    @staticmethod
    def new(shape, dtype, kind, fill=None):
        n = int(np.prod(shape)) if shape else 1
        if fill is None:
            fill = np.nan if np.dtype(dtype).kind == "f" else 0
        base = np.full(max(n, 1), fill, dtype=dtype)
        m = MemRef(base, 0, shape, contiguous_strides(shape), kind)
        m.addr = MemRef.register(base) << 32
        return m

    @staticmethod
    def of(arr, kind="device"):
        a = np.ascontiguousarray(arr)
        m = MemRef.new(a.shape, a.dtype, kind)
        m.base[:a.size] = a.reshape(-1)
        return m

    def view(self, offset, shape, strides):
        m = MemRef(self.base, offset, shape, strides, self.kind)
        m.addr = self.addr
        return m

    def to_numpy(self):
        out = np.empty(self.shape, dtype=self.base.dtype)
        if out.size:
            idx = np.indices(self.shape).reshape(len(self.shape), -1) if self.shape else np.zeros((0, 1), int)
            flat = self.offset + sum(i * s for i, s in zip(idx, self.strides))
            out.reshape(-1)[:] = self.base[flat]
        return out


CMPI = {0: np.equal, 1: np.not_equal, 2: np.less, 3: np.less_equal, 4: np.greater,
        5: np.greater_equal, 6: np.less, 7: np.less_equal, 8: np.greater, 9: np.greater_equal}


def cmpf(pred, a, b):
    nan = np.isnan(a) | np.isnan(b)
    ordered = {1: np.equal, 2: np.greater, 3: np.greater_equal, 4: np.less, 5: np.less_equal,
               6: np.not_equal}
    if pred in ordered:
        return ordered[pred](a, b) & ~nan
    unordered = {8: np.equal, 9: np.greater, 10: np.greater_equal, 11: np.less, 12: np.less_equal,
                 13: np.not_equal}
    if pred in unordered:
        return unordered[pred](a, b) | nan
    if pred == 7:
        return ~nan
    if pred == 14:
        return nan
    return np.full(np.broadcast(a, b).shape, pred == 15)


class Machine:
    def __init__(self, nthreads=1):
        self.T = nthreads
        self.host = False   # True while running host code of a whole model
        self.globals = {}
        self.env = {}
        self.stats = {"blocks": 0, "mma": 0, "shuffles": 0, "barriers": 0}

    def v(self, name):
        try:
            return self.env[name]
        except KeyError:
            raise EmulationError("undefined value " + name)

    def uniform(self, x, what):
        a = np.asarray(x)
        if a.ndim and not (a == a.flat[0]).all():
            raise EmulationError("%s is not uniform across the block" % what)
        return a.flat[0] if a.ndim else a[()]

    def full(self, act):
        if not np.all(act):
            raise EmulationError("a block-level op under divergent control flow")

    def warp_full(self, act):
        """Warp-level ops (shfl.sync and mma.sync with a full mask): every
        warp takes part with all its lanes or not at all."""
        a = np.asarray(act, dtype=bool).reshape(-1, WARP) if self.T % WARP == 0 else None
        if a is None:
            self.full(act)
        elif not (a.all(axis=1) | ~a.any(axis=1)).all():
            raise EmulationError("a warp-level op under divergent control flow within a warp")

    def flat_index(self, buf, idx, act, op):
        """Flat element indices of buf[idx] per lane; inactive lanes read 0."""
        if not isinstance(buf, MemRef):
            raise EmulationError("not a memref at: " + op.line.strip()[:120])
        if self.host and buf.kind == "device":
            raise EmulationError("host code touches device memory at: " + op.line.strip()[:160])
        flat = np.full(self.T, buf.offset, dtype=np.int64)
        for d, i in enumerate(idx):
            i = np.broadcast_to(np.asarray(i, dtype=np.int64), (self.T,))
            bad = act & ((i < 0) | (i >= buf.shape[d]))
            if bad.any():
                lane = int(np.argmax(bad))
                raise EmulationError("out-of-bounds access: dim %d index %d of %s (lane %d) at: %s"
                                     % (d, int(i[lane]), buf.shape, lane, op.line.strip()[:160]))
            flat = flat + i * buf.strides[d]
        bad = act & ((flat < 0) | (flat >= buf.base.size))
        if bad.any():
            raise EmulationError("access outside the buffer at: " + op.line.strip()[:160])
        return np.where(act, flat, 0)

    def run_block(self, block, act):
        for op in block.ops:
            r = self.exec(op, act)
            if r is not None and r[0] == "yield":
                return r[1]
        return []

    def exec(self, op, act):
        n = op.name
        ins = op.operands
        g = self.v
        set_ = lambda val: self.env.__setitem__(op.results[0], val)
        if n == "arith.constant":
            set_(constant(op))
        elif n in ("arith.addi", "arith.addf"):
            set_(g(ins[0]) + g(ins[1]))
        elif n in ("arith.subi", "arith.subf"):
            set_(g(ins[0]) - g(ins[1]))
        elif n in ("arith.muli", "arith.mulf"):
            set_(g(ins[0]) * g(ins[1]))
        elif n == "arith.divf":
            with np.errstate(divide="ignore", invalid="ignore"):
                set_(np.float32(1) * g(ins[0]) / g(ins[1]))
        elif n in ("arith.divui", "arith.divsi", "arith.floordivsi"):
            b = g(ins[1])
            set_(g(ins[0]) // np.where(np.asarray(b) == 0, 1, b))
        elif n in ("arith.remui", "arith.remsi"):
            b = g(ins[1])
            set_(g(ins[0]) % np.where(np.asarray(b) == 0, 1, b))
        elif n in ("arith.ceildivui", "arith.ceildivsi"):
            set_(-(-g(ins[0]) // g(ins[1])))
        elif n in ("arith.minui", "arith.minsi"):
            set_(np.minimum(g(ins[0]), g(ins[1])))
        elif n in ("arith.maxui", "arith.maxsi"):
            set_(np.maximum(g(ins[0]), g(ins[1])))
        elif n == "math.fma":   # one rounding
            set_((np.asarray(g(ins[0]), np.float64) * g(ins[1]) + g(ins[2])).astype(np.float32))
        elif n == "arith.maximumf":
            set_(np.maximum(g(ins[0]), g(ins[1])))
        elif n == "arith.minimumf":
            set_(np.minimum(g(ins[0]), g(ins[1])))
        elif n == "arith.negf":
            set_(-g(ins[0]))
        elif n == "arith.andi":
            set_(g(ins[0]) & g(ins[1]))
        elif n == "arith.ori":
            set_(g(ins[0]) | g(ins[1]))
        elif n == "arith.xori":
            set_(g(ins[0]) ^ g(ins[1]))
        elif n == "arith.cmpi":
            set_(CMPI[int(attr(op, "predicate").split(":")[0])](g(ins[0]), g(ins[1])))
        elif n == "arith.cmpf":
            set_(cmpf(int(attr(op, "predicate").split(":")[0]), g(ins[0]), g(ins[1])))
        elif n == "arith.select":
            set_(self.select(g(ins[0]), g(ins[1]), g(ins[2])))
        elif n in ("arith.index_cast", "arith.index_castui", "arith.extsi", "arith.trunci"):
            set_(np.asarray(g(ins[0])).astype(np.int64))
        elif n == "arith.extui":
            set_(np.asarray(g(ins[0])).astype(np.int64))
        elif n in ("arith.sitofp", "arith.uitofp"):
            set_(round_to(np.asarray(g(ins[0])).astype(np.float64), elem_type(result_type(op))))
        elif n in ("arith.fptosi", "arith.fptoui"):
            set_(np.asarray(g(ins[0]), dtype=np.float64).astype(np.int64))
        elif n == "arith.extf":
            set_(np.asarray(g(ins[0]), dtype=np.float32))
        elif n == "arith.truncf":
            set_(round_to(g(ins[0]), elem_type(result_type(op))))
        elif n == "math.exp":
            with np.errstate(over="ignore"):
                set_(np.exp(np.asarray(g(ins[0]), dtype=np.float32)))
        elif n in ("memref.alloc", "memref.alloca"):
            ty = result_type(op)
            shape = list(shape_of_dyn(ty))
            dyn = iter(ins)
            shape = [int(self.uniform(g(next(dyn)), "alloc size")) if d == DYN else d for d in shape]
            set_(MemRef.new(tuple(shape), NP[elem_type(ty)], "device" if n == "memref.alloc" else "host"))
        elif n == "memref.dealloc":
            pass
        elif n == "memref.get_global":
            set_(self.globals[re.search(r"name = @([\w.$-]+)", op.text).group(1)])
        elif n == "memref.dim":
            set_(np.int64(g(ins[0]).shape[int(self.uniform(g(ins[1]), "memref.dim index"))]))
        elif n == "memref.cast":
            set_(g(ins[0]))
        elif n in ("memref.subview", "memref.reinterpret_cast"):
            set_(self.view_op(op, n))
        elif n == "memref.transpose":
            src = g(ins[0])
            m = re.search(r"permutation = affine_map<\(([^)]*)\) -> \(([^)]*)\)>", op.text)
            if not m:
                raise NotImplementedError("memref.transpose without an inline permutation map "
                                          "(print with --mlir-print-local-scope)")
            dims = [d.strip() for d in m.group(1).split(",")]
            perm = [dims.index(d.strip()) for d in m.group(2).split(",")]
            set_(src.view(src.offset, [src.shape[p] for p in perm], [src.strides[p] for p in perm]))
        elif n == "memref.collapse_shape":
            src = g(ins[0])
            groups = [[int(x) for x in re.findall(r"\d+", grp)]
                      for grp in re.findall(r"\[([\d, ]*)\]", attr_block(op, "reassociation"))]
            shape = [int(np.prod([src.shape[d] for d in grp])) for grp in groups]
            strides = [src.strides[grp[-1]] if grp else 1 for grp in groups]
            set_(src.view(src.offset, shape, strides))
        elif n == "memref.expand_shape":
            src = g(ins[0])
            groups = [[int(x) for x in re.findall(r"\d+", grp)]
                      for grp in re.findall(r"\[([\d, ]*)\]", attr_block(op, "reassociation"))]
            out = [int(x) for x in re.search(r"static_output_shape = array<i64: ([-\d, ]+)>",
                                             op.text).group(1).split(",")]
            dyn = iter(ins[1:])
            out = [int(self.uniform(g(next(dyn)), "expand size")) if d == DYN else d for d in out]
            strides = [0] * len(out)
            for sd, grp in enumerate(groups):
                st = src.strides[sd]
                for d in reversed(grp):
                    strides[d] = st
                    st *= out[d]
            set_(src.view(src.offset, out, strides))
        elif n == "memref.extract_strided_metadata":
            src = g(ins[0])
            vals = [src.view(0, (), ()), np.int64(src.offset)] + [np.int64(x) for x in src.shape] + \
                   [np.int64(x) for x in src.strides]
            for r, v_ in zip(op.results, vals):
                self.env[r] = v_
        elif n == "memref.extract_aligned_pointer_as_index":
            set_(np.int64(g(ins[0]).addr))
        elif n == "memref.load":
            buf = g(ins[0])
            set_(buf.base[self.flat_index(buf, [g(i) for i in ins[1:]], act, op)])
        elif n == "memref.store":
            buf = g(ins[1])
            flat = self.flat_index(buf, [g(i) for i in ins[2:]], act, op)
            val = np.broadcast_to(np.asarray(g(ins[0])), (self.T,))
            buf.base[flat[act]] = val[act]
        elif n == "vector.load":
            buf = g(ins[0])
            ln = shape_of(result_type(op))[0]
            flat = self.flat_index(buf, [g(i) for i in ins[1:]], act, op)
            last = buf.strides[-1]
            if (act & (flat + (ln - 1) * last >= buf.base.size)).any():
                raise EmulationError("vector.load outside the buffer at: " + op.line.strip()[:120])
            set_(np.stack([buf.base[np.where(act, flat + j * last, 0)] for j in range(ln)], axis=-1))
        elif n == "func.call":
            callee = re.search(r"callee = @(\w+)", op.text).group(1)
            if callee != "attn_cuda_read":
                raise NotImplementedError("call of @" + callee)
            dst, src, nbytes = (int(self.uniform(g(i), "attn_cuda_read argument")) for i in ins)
            mem = lambda a: MemRef.bases[a >> 32].view(np.uint8)
            d, s_ = mem(dst), mem(src)
            d[dst & 0xFFFFFFFF:(dst & 0xFFFFFFFF) + nbytes] = s_[src & 0xFFFFFFFF:(src & 0xFFFFFFFF) + nbytes]
        elif n in ("math.rsqrt", "math.sqrt", "math.tanh", "math.erf", "math.log", "math.absf",
                   "math.powf", "math.fpowi", "math.ipowi", "math.cos", "math.sin"):
            x = np.asarray(g(ins[0]), dtype=np.float32)
            with np.errstate(all="ignore"):
                if n == "math.rsqrt":
                    r = np.float32(1) / np.sqrt(x)
                elif n == "math.sqrt":
                    r = np.sqrt(x)
                elif n == "math.tanh":
                    r = np.tanh(x)
                elif n == "math.cos":
                    r = np.cos(x)
                elif n == "math.sin":
                    r = np.sin(x)
                elif n == "math.erf":
                    import math
                    r = np.vectorize(math.erf, otypes=[np.float64])(x).astype(np.float32)
                elif n == "math.log":
                    r = np.log(x)
                elif n == "math.absf":
                    r = np.abs(x)
                else:
                    r = np.power(x, np.asarray(g(ins[1]), dtype=np.float32))
            set_(r.astype(np.float32))
        elif n == "vector.from_elements":
            set_(np.stack([np.broadcast_to(np.asarray(g(i), dtype=np.float32), (self.T,))
                           for i in ins], axis=-1))
        elif n == "vector.bitcast":
            set_(Packed(g(ins[0])))
        elif n == "vector.extract":
            x = g(ins[0])
            if isinstance(x, Packed):
                set_(x)
            else:
                pos = [int(p) for p in re.search(r"static_position = array<i64: ([\d, ]+)>",
                                                 op.text).group(1).split(",")]
                set_(x[..., pos[0]])
        elif n == "llvm.extractvalue":
            pos = int(re.search(r"position = array<i64: (\d+)>", op.text).group(1))
            set_(g(ins[0])[pos])
        elif n == "gpu.barrier":
            self.full(act)
            self.stats["barriers"] += 1
        elif n == "gpu.shuffle":
            self.warp_full(act)
            mode = re.search(r"mode = #gpu<shuffle_mode (\w+)>", op.text).group(1)
            if mode != "xor":
                raise NotImplementedError("gpu.shuffle " + mode)
            val = np.broadcast_to(np.asarray(g(ins[0])), (self.T,))
            off = int(self.uniform(g(ins[1]), "shuffle offset"))
            width = int(self.uniform(g(ins[2]), "shuffle width"))
            if width != WARP:
                raise NotImplementedError("shuffle width %d" % width)
            lanes = np.arange(self.T)
            self.env[op.results[0]] = val[lanes ^ off]
            self.env[op.results[1]] = np.ones(self.T, dtype=bool)
            self.stats["shuffles"] += 1
        elif n == "nvvm.mma.sync":
            self.full(act)
            set_(self.mma(op))
        elif n == "scf.if":
            cond = np.broadcast_to(np.asarray(g(ins[0]), dtype=bool), (self.T,))
            then_act, else_act = act & cond, act & ~cond
            outs_t = self.run_region(op.regions[0], then_act, []) if then_act.any() else None
            outs_e = (self.run_region(op.regions[1], else_act, [])
                      if len(op.regions) > 1 and op.regions[1] and else_act.any() else None)
            for i, r in enumerate(op.results):
                t = outs_t[i] if outs_t else (outs_e[i] if outs_e else np.float32(np.nan))
                e = outs_e[i] if outs_e else t
                self.env[r] = self.select(cond, t, e)
        elif n == "scf.for":
            lb, ub, step = (np.broadcast_to(np.asarray(g(i), dtype=np.int64), (self.T,))
                            for i in ins[:3])
            carried = [g(i) for i in ins[3:]]
            block = op.regions[0][0]
            iv = lb.copy()
            while True:
                live = act & (iv < ub)
                if not live.any():
                    break
                self.env[block.args[0]] = iv
                for a, c in zip(block.args[1:], carried):
                    self.env[a] = c
                new = self.run_block(block, live)
                carried = [self.merge(live, nv, c) for nv, c in zip(new, carried)]
                iv = np.where(live, iv + step, iv)
            for r, c in zip(op.results, carried):
                self.env[r] = c
        elif n == "scf.parallel":
            # Left inside a kernel by attn-gpu-map-parallel-loops (an inner loop of a
            # thread's work, e.g. a reduction's row): scf-to-cf lowers it to sequential
            # loops on the device, so it runs here as nested scf.for loops.
            block = op.regions[0][0]
            rank = len(block.args)
            if len(ins) != 3 * rank or op.results:
                raise NotImplementedError("scf.parallel with init values (%s)"
                                          % op.line.strip()[:120])
            bounds = [np.broadcast_to(np.asarray(g(i), dtype=np.int64), (self.T,)) for i in ins]

            def nest(d, live_outer):
                lb, ub, step = bounds[d], bounds[rank + d], bounds[2 * rank + d]
                iv = lb.copy()
                while True:
                    live = live_outer & (iv < ub)
                    if not live.any():
                        return
                    self.env[block.args[d]] = iv
                    if d + 1 < rank:
                        nest(d + 1, live)
                        self.env[block.args[d]] = iv
                    else:
                        self.run_block(block, live)
                    iv = np.where(live, iv + step, iv)

            nest(0, act)
        elif n == "scf.reduce":
            return ("yield", [])
        elif n == "scf.yield":
            return ("yield", [g(i) for i in ins])
        elif n == "gpu.terminator":
            return ("yield", [])
        elif n == "gpu.launch":
            self.launch(op)
        elif n == "func.return":
            return ("yield", [g(i) for i in ins])
        else:
            raise NotImplementedError("op %s (%s)" % (n, op.line.strip()[:120]))
        return None

    def view_op(self, op, n):
        src = self.v(op.operands[0])
        seg = [int(x) for x in re.search(r"operandSegmentSizes = array<i32: ([\d, ]+)>",
                                         op.text).group(1).split(",")]
        dyn = iter(op.operands[1:])

        def fill(key, count):
            vals = [int(x) for x in re.search(r"%s = array<i64:? ?([-\d, ]*)>" % key,
                                              op.text).group(1).split(",") if x.strip()]
            return [int(self.uniform(self.v(next(dyn)), key)) if v_ == DYN else v_ for v_ in vals]
        offs = fill("static_offsets", seg[1])
        sizes = fill("static_sizes", seg[2])
        strides = fill("static_strides", seg[3])
        if n == "memref.reinterpret_cast":
            return src.view(offs[0], sizes, strides)
        off = src.offset + sum(o * st for o, st in zip(offs, src.strides))
        st = [a * b for a, b in zip(src.strides, strides)]
        want = shape_of_dyn(result_type(op))
        while len(sizes) > len(want):   # rank-reducing: a unit dim's stride never matters
            d = sizes.index(1)
            del sizes[d], st[d]
        return src.view(off, sizes, st)

    def select(self, cond, a, b):
        if isinstance(a, MemRef) or isinstance(b, MemRef):
            return a if self.uniform(cond, "a memref choice") else b
        return np.where(cond, a, b)

    def merge(self, live, new, old):
        if isinstance(new, (tuple, Packed, MemRef)):
            return new
        new, old = np.asarray(new), np.asarray(old)
        if new.ndim == 0 and old.ndim == 0:
            return new
        lv = live if np.broadcast(new, old).ndim == 1 else live[:, None]
        return np.where(lv, new, old)

    def run_region(self, region, act, args):
        block = region[0]
        for a, v in zip(block.args, args):
            self.env[a] = v
        return self.run_block(block, act)

    def mma(self, op):
        # operands: 4 A registers, 2 B registers, 4 C f32 (m16n8k16 row.col).
        regs = [self.v(i) for i in op.operands]
        a = [r.v if isinstance(r, Packed) else r for r in regs[:4]]
        b = [r.v if isinstance(r, Packed) else r for r in regs[4:6]]
        c = [np.broadcast_to(np.asarray(r, dtype=np.float32), (self.T,)) for r in regs[6:10]]
        if len(regs) != 10:
            raise NotImplementedError("mma.sync with %d operands" % len(regs))
        d = [np.zeros(self.T, dtype=np.float32) for _ in range(4)]
        for w in range(self.T // WARP):
            lanes = np.arange(w * WARP, (w + 1) * WARP)
            gid, t4 = (lanes % WARP) // 4, (lanes % WARP) % 4
            A = np.zeros((16, 16), dtype=np.float64)
            B = np.zeros((16, 8), dtype=np.float64)
            C = np.zeros((16, 8), dtype=np.float64)
            for j in range(2):
                A[gid, 2 * t4 + j] = a[0][lanes, j]
                A[gid + 8, 2 * t4 + j] = a[1][lanes, j]
                A[gid, 8 + 2 * t4 + j] = a[2][lanes, j]
                A[gid + 8, 8 + 2 * t4 + j] = a[3][lanes, j]
                B[2 * t4 + j, gid] = b[0][lanes, j]
                B[8 + 2 * t4 + j, gid] = b[1][lanes, j]
                C[gid, 2 * t4 + j] = c[j][lanes]
                C[gid + 8, 2 * t4 + j] = c[2 + j][lanes]
            D = (A @ B + C).astype(np.float32)
            for j in range(2):
                d[j][lanes] = D[gid, 2 * t4 + j]
                d[2 + j][lanes] = D[gid + 8, 2 * t4 + j]
        self.stats["mma"] += 1
        return tuple(d)

    def launch(self, op):
        g = [int(self.uniform(self.v(i), "grid size")) for i in op.operands[:6]]
        if g[4] != 1 or g[5] != 1:
            raise NotImplementedError("2-D/3-D thread blocks")
        block = op.regions[0][0]
        a = block.args
        nthreads = g[3]
        outer_T, outer_host = self.T, self.host
        self.host = False
        shared_types = re.findall(r"memref<([\dx]+x(?:f16|bf16|f32|i64|i32|i1)), "
                                  r"#gpu.address_space<workgroup>>", op.header)
        sizes = [np.int64(x) for x in g]
        if not shared_types and not uses_sync(block):
            # No shared memory, barriers or warp ops: all blocks at once.
            nb = g[0] * g[1] * g[2]
            self.T = nb * nthreads
            t = np.arange(self.T, dtype=np.int64)
            blk = t // nthreads
            ids = [blk % g[0], (blk // g[0]) % g[1], blk // (g[0] * g[1]), t % nthreads,
                   np.int64(0), np.int64(0)]
            for name, val in zip(a[:12], ids + sizes):
                self.env[name] = val
            if self.T:
                self.run_block(block, np.ones(self.T, dtype=bool))
            self.stats["blocks"] += nb
        else:
            self.T = nthreads
            for bz in range(g[2]):
                for by in range(g[1]):
                    for bx in range(g[0]):
                        ids = [np.int64(bx), np.int64(by), np.int64(bz),
                               np.arange(nthreads, dtype=np.int64), np.int64(0), np.int64(0)]
                        for name, val in zip(a[:12], ids + sizes):
                            self.env[name] = val
                        for name, ty in zip(a[12:], shared_types):
                            ty = "memref<%s>" % ty
                            self.env[name] = MemRef.new(shape_of(ty), NP[elem_type(ty)], "shared")
                        self.run_block(block, np.ones(nthreads, dtype=bool))
                        self.stats["blocks"] += 1
        self.stats["launches"] = self.stats.get("launches", 0) + 1
        self.T, self.host = outer_T, outer_host


def uses_sync(block):
    for o in block.ops:
        if o.name in ("gpu.barrier", "gpu.shuffle", "nvvm.mma.sync"):
            return True
        for r in o.regions:
            for b in r:
                if uses_sync(b):
                    return True
    return False


def parse_globals(text, ops):
    """memref.global constants: splats, lists and dense_resource blobs."""
    blobs = {}
    m = re.search(r"\{-#\s*dialect_resources:(.*)#-\}", text, re.S)
    if m:
        for name, hexdata in re.findall(r'([\w.$-]+|"[^"]+"): "0x([0-9A-Fa-f]+)"', m.group(1)):
            blobs[name.strip('"')] = bytes.fromhex(hexdata)[4:]   # 4 bytes of alignment first
    out = {}
    for o in ops:
        if o.name != "memref.global":
            continue
        name = re.search(r'sym_name = "([^"]+)"', o.text).group(1)
        ty = re.search(r"type = (memref<[^>]*>)", o.text).group(1)
        shape, et = shape_of(ty), elem_type(ty)
        dt = NP[et]
        init = re.search(r"initial_value = (dense_resource<[^>]+>|dense<.*?>) : tensor", o.text)
        if init is None:
            out[name] = MemRef.new(shape, dt, "global")
            continue
        iv = init.group(1)
        if iv.startswith("dense_resource"):
            raw = blobs[iv[len("dense_resource<"):-1]]
            src = {"f32": np.float32, "f64": np.float64, "i64": np.int64, "i32": np.int32,
                   "i1": np.bool_, "f16": np.float16}[et]
            arr = np.frombuffer(raw, dtype=src).astype(dt)
            if arr.size == 1 and int(np.prod(shape)) > 1:
                arr = np.full(int(np.prod(shape)), arr[0], dtype=dt)
        else:
            body = iv[len("dense<"):-1]
            if body.startswith('"0x'):
                src = {"f32": np.float32, "f64": np.float64, "i64": np.int64, "i32": np.int32,
                       "i1": np.bool_, "f16": np.float16}[et]
                arr = np.frombuffer(bytes.fromhex(body[3:-1]), dtype=src).astype(dt)
                if arr.size == 1:
                    arr = np.full(max(1, int(np.prod(shape))), arr[0], dtype=dt)
            else:
                vals = [v_ for v_ in re.findall(r"[-+\w.]+", body)]
                def conv(x):
                    if et == "i1":
                        return x == "true"
                    if x.startswith("0x"):   # the bits of one element
                        bits = {"f32": np.uint32, "f16": np.uint16, "f64": np.uint64}.get(et)
                        if bits is None:
                            return int(x, 16)
                        src = {"f32": np.float32, "f16": np.float16, "f64": np.float64}[et]
                        return float(np.array([int(x, 16)], dtype=bits).view(src)[0])
                    return float(x) if np.dtype(dt).kind == "f" else int(x)
                arr = np.array([conv(v_) for v_ in vals], dtype=dt)
                if arr.size == 1:
                    arr = np.full(max(1, int(np.prod(shape))), arr[0], dtype=dt)
        mr = MemRef.new(shape, dt, "global")
        mr.base[:] = arr.reshape(-1)[:mr.base.size]
        out[name] = mr
    return out


def run_function(text, name, args):
    """Runs func.func @name of generic-form MLIR `text` on numpy arrays."""
    # Affine map aliases (#map = affine_map<...>) are inlined.
    aliases = dict(re.findall(r"^(#[\w$.-]+) = (affine_map<.*>)$", text, flags=re.M))
    if aliases:
        text = re.sub(r"^#[\w$.-]+ = affine_map<.*>$\n?", "", text, flags=re.M)
        text = re.sub(r"#[\w$.-]+\b", lambda m: aliases.get(m.group(0), m.group(0)), text)
    # Each gpu.launch's block header line has the workgroup attribution types.
    headers = {}
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if '"gpu.launch"' in line:
            headers[line] = lines[i + 1]
    ops = parse(text)
    funcs = {}

    def collect(oplist):
        for o in oplist:
            if o.name == "func.func":
                funcs[re.search(r'sym_name = "([^"]+)"', o.text).group(1)] = o
            for reg in o.regions:
                for blk in reg:
                    for inner in blk.ops:
                        if inner.name == "gpu.launch":
                            inner.header = headers.get(inner.line, "")
                    collect(blk.ops)
    collect(ops)
    f = funcs[name]
    m = Machine(1)
    m.host = True
    m.globals = parse_globals(text, ops[0].regions[0][0].ops if ops and ops[0].regions else ops)
    block = f.regions[0][0]
    for a, v in zip(block.args, args):
        m.env[a] = v if isinstance(v, MemRef) else MemRef.of(v)
    outs = m.run_block(block, np.ones(1, dtype=bool))
    return [o.to_numpy() if isinstance(o, MemRef) else o for o in outs], m.stats


if __name__ == "__main__":
    sys.exit("import this module (see emulate_attention.py)")


def run_cases(cases, run):
    """Runs `run(name, spec, tmpdir) -> bool` for the cases named on the
    command line after the tool path (all of `cases` when none); an
    EmulationError is that case's FAIL. Exits 0 when every case passed."""
    import sys
    import tempfile
    names = sys.argv[2:] or list(cases)
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        for n in names:
            try:
                ok &= run(n, cases[n], tmp)
            except EmulationError as e:
                print("FAIL %s: %s" % (n, e))
                ok = False
    sys.exit(0 if ok else 1)
