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
and shuffles and mma only under uniform control flow (all lanes active), and
output elements never written stay NaN (buffers start as NaN).

What it cannot check: timing, memory-model races between warps that a
barrier would order (lockstep hides them), the hardware's own view of the
fragment layouts (it uses the documented one, as the kernel does).

Supported: the ops these kernels use (arith, math.exp, memref, vector 1-D,
scf.for/if, gpu ids/launch/barrier/shuffle, nvvm.mma.sync,
llvm.extractvalue). Anything else raises NotImplementedError naming the op.

Usage as a module: run_function(text, name, args) -> list of outputs.
"""
import re
import sys

import numpy as np

WARP = 32


def round_bf16(x):
    """float32 -> nearest bf16 (ties to even), kept in float32."""
    x = np.asarray(x, dtype=np.float32)
    u = x.view(np.uint32).astype(np.uint64)
    r = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16) << 16
    out = (r & 0xFFFFFFFF).astype(np.uint32).view(np.float32)
    return np.where(np.isnan(x), x, out).astype(np.float32)


def round_to(x, ty):
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
            raise EmulationError("a warp-level or block-level op under divergent control flow")

    def index_tuple(self, buf, idx, act, op):
        shape = buf.shape
        out = []
        for d, i in enumerate(idx):
            i = np.broadcast_to(np.asarray(i, dtype=np.int64), (self.T,))
            bad = act & ((i < 0) | (i >= shape[d]))
            if bad.any():
                lane = int(np.argmax(bad))
                raise EmulationError("out-of-bounds access: dim %d index %d of %s (lane %d) at: %s"
                                     % (d, int(i[lane]), shape, lane, op.line.strip()[:160]))
            out.append(np.where(act, i, 0))
        return tuple(out)

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
            set_(np.where(g(ins[0]), g(ins[1]), g(ins[2])))
        elif n in ("arith.index_cast", "arith.index_castui", "arith.extsi", "arith.trunci"):
            set_(np.asarray(g(ins[0])).astype(np.int64))
        elif n == "arith.extui":
            set_(np.asarray(g(ins[0])).astype(np.int64))
        elif n in ("arith.sitofp", "arith.uitofp"):
            set_(round_to(np.asarray(g(ins[0])).astype(np.float32), elem_type(result_type(op))))
        elif n == "arith.extf":
            set_(np.asarray(g(ins[0]), dtype=np.float32))
        elif n == "arith.truncf":
            set_(round_to(g(ins[0]), elem_type(result_type(op))))
        elif n == "math.exp":
            with np.errstate(over="ignore"):
                set_(np.exp(np.asarray(g(ins[0]), dtype=np.float32)))
        elif n == "memref.alloc":
            ty = result_type(op)
            set_(np.full(shape_of(ty), np.nan if elem_type(ty)[0] in "fb" else 0,
                         dtype=NP[elem_type(ty)]))
        elif n == "memref.dim":
            set_(np.int64(g(ins[0]).shape[int(self.uniform(g(ins[1]), "memref.dim index"))]))
        elif n == "memref.load":
            buf = g(ins[0])
            set_(buf[self.index_tuple(buf, [g(i) for i in ins[1:]], act, op)])
        elif n == "memref.store":
            buf = g(ins[1])
            idx = self.index_tuple(buf, [g(i) for i in ins[2:]], act, op)
            val = np.broadcast_to(np.asarray(g(ins[0])), (self.T,))
            sel = tuple(i[act] for i in idx)
            buf[sel] = val[act]
        elif n == "vector.load":
            buf = g(ins[0])
            ln = shape_of(result_type(op))[0]
            idx = [np.broadcast_to(np.asarray(g(i), dtype=np.int64), (self.T,)) for i in ins[1:]]
            cols = []
            for j in range(ln):
                ij = idx[:-1] + [idx[-1] + j]
                cols.append(buf[self.index_tuple(buf, ij, act, op)])
            set_(np.stack(cols, axis=-1))
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
            self.full(act)
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
                self.env[r] = np.where(cond, t, e)
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

    def merge(self, live, new, old):
        if isinstance(new, tuple) or isinstance(new, Packed):
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
        outer_T = self.T
        self.T = nthreads
        shared_types = re.findall(r"memref<([\dx]+x(?:f16|bf16|f32|i64|i32|i1)), "
                                  r"#gpu.address_space<workgroup>>", op.header)
        for bz in range(g[2]):
            for by in range(g[1]):
                for bx in range(g[0]):
                    ids = [np.int64(bx), np.int64(by), np.int64(bz),
                           np.arange(nthreads, dtype=np.int64), np.int64(0), np.int64(0)]
                    sizes = [np.int64(x) for x in g]
                    for name, val in zip(a[:12], ids + sizes):
                        self.env[name] = val
                    for name, ty in zip(a[12:], shared_types):
                        ty = "memref<%s>" % ty
                        self.env[name] = np.full(shape_of(ty), np.nan, dtype=NP[elem_type(ty)])
                    self.run_block(block, np.ones(nthreads, dtype=bool))
                    self.stats["blocks"] += 1
        self.T = outer_T


def run_function(text, name, args):
    """Runs func.func @name of generic-form MLIR `text` on numpy arrays."""
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
    block = f.regions[0][0]
    for a, v in zip(block.args, args):
        m.env[a] = v
    outs = m.run_block(block, np.ones(1, dtype=bool))
    return outs, m.stats


if __name__ == "__main__":
    sys.exit("import this module (see emulate_attention.py)")
