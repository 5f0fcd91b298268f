"""elf_mutants.py: runs attn-run on mutated copies of a compiled model library.

  elf_mutants.py --attn-run ATTN_RUN --lib MODEL.so --work DIR
                 [--count N] [--seed S] [--jobs J] [--timeout SEC]
                 [--report-only]

MODEL.so is attnc's build of test/runtime/Inputs/tiny_model.onnxtext
(z = Softmax(x + y), x and y f32[B, 64]). The script makes N mutants
(seeded): single-bit flips and random bytes in the first 4 KiB up to the
first code or data section (ELF and program headers, notes, hash table,
dynamic symbols and strings, version tables, relocations), the same in the dynamic table and the relocation
tables wherever they are, truncations, and swapped or rewritten fields of the
program headers, the dynamic table, the dynamic symbols and the
relocations (except the names of two imported symbols exchanged with each
other: that makes a consistent library calling the wrong function, which only
a checksum of the file could catch). Each mutant runs under attn-run with a timeout. A mutant passes
if attn-run exits 0 and its output equals the unmutated library's, or exits 1
with one "attn-run: error: ..." line naming the library on stderr. Anything
else -- a signal, a hang, another exit code, exit 0 with a different output,
exit 1 without a message -- fails: the script prints each such mutant (kind,
offset, how it ended) and exits 1, after a summary line
    mutants: N, ran ok: A, refused: B, bad: C (signal: D, hang: E, ...)
With --report-only it prints the same and exits 0 (used to count the
failures of an older runtime).

Only /usr/bin/python3 and numpy are needed.
"""
import argparse
import concurrent.futures
import os
import random
import struct
import subprocess
import sys

import numpy as np


def u16(d, o):
    return struct.unpack_from("<H", d, o)[0]


def u32(d, o):
    return struct.unpack_from("<I", d, o)[0]


def u64(d, o):
    return struct.unpack_from("<Q", d, o)[0]


class Layout:
    """File regions of a 64-bit little-endian shared library."""

    def __init__(self, data):
        phoff, shoff = u64(data, 32), u64(data, 40)
        phnum, shnum = u16(data, 56), u16(data, 60)
        self.phdrs = [(phoff + 56 * i, 56) for i in range(phnum)]
        loads, dyn = [], None
        for off, _ in self.phdrs:
            p_type = u32(data, off)
            p_offset, p_vaddr = u64(data, off + 8), u64(data, off + 16)
            p_filesz = u64(data, off + 32)
            if p_type == 1:
                loads.append((p_vaddr, p_offset, p_filesz))
            elif p_type == 2:
                dyn = (p_offset, p_filesz)

        def file_off(vaddr):
            for va, fo, sz in loads:
                if va <= vaddr < va + sz:
                    return fo + vaddr - va
            return None

        self.dynamic = [dyn] if dyn else []
        self.dyn_entries = []
        tags = {}
        if dyn:
            for o in range(dyn[0], dyn[0] + dyn[1], 16):
                tag = u64(data, o)
                self.dyn_entries.append((o, 16))
                tags.setdefault(tag, u64(data, o + 8))
                if tag == 0:
                    break
        self.relocs, self.reloc_entries = [], []
        for table, size in ((7, 8), (23, 2)):  # DT_RELA/RELASZ, JMPREL/PLTRELSZ
            if table in tags and size in tags and file_off(tags[table]) is not None:
                start = file_off(tags[table])
                self.relocs.append((start, tags[size]))
                self.reloc_entries += [(start + i, 24)
                                       for i in range(0, tags[size], 24)]
        # The head: the first 4 KiB, up to the first section of code or
        # data (SHT_PROGBITS: .rodata, .text, ...). GNU ld puts only headers
        # and dynamic-linking tables there; LLVM's linker starts .rodata (the
        # model's constants) inside it, and a changed constant is a different
        # but well-formed library, which no check can tell from the original.
        self.head = min(4096, len(data))
        for i in range(shnum):
            sh = shoff + 64 * i
            if (sh + 64 <= len(data) and u32(data, sh + 4) == 1 and u64(data, sh + 8) & 2
                    and u64(data, sh + 32) > 0):  # SHT_PROGBITS, SHF_ALLOC, non-empty
                self.head = min(self.head, u64(data, sh + 24))
        self.syms, self.imports = [], set()
        for i in range(shnum):
            sh = shoff + 64 * i
            if sh + 64 <= len(data) and u32(data, sh + 4) == 11:  # SHT_DYNSYM
                start, size = u64(data, sh + 24), u64(data, sh + 32)
                self.syms = [(start + j, 24) for j in range(24, size, 24)]
                self.imports = {o for o, _ in self.syms
                                if u16(data, o + 6) == 0}  # st_shndx UNDEF


def mutate(data, layout, rng, kind):
    """Returns (mutant bytes, description)."""
    d = bytearray(data)
    if kind == "flip-head" or kind == "flip-tables":
        if kind == "flip-head":
            off = rng.randrange(layout.head)
        else:
            regions = layout.dynamic + layout.relocs
            start, size = rng.choice(regions)
            off = start + rng.randrange(size)
        bit = rng.randrange(8)
        d[off] ^= 1 << bit
        return d, "%s: bit %d of byte 0x%x" % (kind, bit, off)
    if kind == "bytes-head" or kind == "bytes-tables":
        if kind == "bytes-head":
            start, size = 0, layout.head
        else:
            start, size = rng.choice(layout.dynamic + layout.relocs)
        n = rng.choice([1, 2, 4, 8])
        off = start + rng.randrange(max(1, size - n))
        new = bytes(rng.randrange(256) for _ in range(n))
        d[off:off + n] = new
        return d, "%s: %d random bytes at 0x%x" % (kind, n, off)
    if kind == "truncate":
        n = rng.choice([rng.randrange(len(d)), len(d) - rng.randrange(1, 512)])
        return d[:n], "truncate: first %d of %d bytes" % (n, len(d))
    if kind == "swap":
        # Two entries of one table exchanged, or one 8-byte field of an entry
        # given the value of the same field of another entry.
        table = rng.choice([t for t in (layout.phdrs, layout.dyn_entries,
                                        layout.reloc_entries, layout.syms)
                            if len(t) >= 2])
        (a, n), (b, _) = rng.sample(table, 2)
        if a in layout.imports and b in layout.imports:
            # Two imports exchanging names (and types, bindings) make a
            # consistent library that calls the other function: no
            # structural check can tell (it would take a checksum of the
            # file). Only their value or size fields are swapped.
            field = rng.choice([8, 16])
            d[a + field:a + field + 8] = data[b + field:b + field + 8]
            return d, "swap: field +%d of the import at 0x%x from 0x%x" % (
                field, a, b)
        if rng.random() < 0.5:
            d[a:a + n], d[b:b + n] = data[b:b + n], data[a:a + n]
            return d, "swap: entries at 0x%x and 0x%x" % (a, b)
        field = rng.randrange(0, n - 7, 8) if n >= 16 else 0
        d[a + field:a + field + 8] = data[b + field:b + field + 8]
        return d, "swap: field +%d of the entry at 0x%x from 0x%x" % (
            field, a, b)
    if kind == "field":
        # One field of a table entry set to a boundary value.
        table = rng.choice([t for t in (layout.phdrs, layout.dyn_entries,
                                        layout.reloc_entries, layout.syms)
                            if t])
        a, n = rng.choice(table)
        field = rng.randrange(0, n - 7, 8)
        old = u64(data, a + field)
        value = rng.choice([0, 1, 8, 0x1000, old + 1, old - 1, old + 0x1000,
                            old ^ (1 << 32), 2**63, 2**64 - 1, len(data)])
        struct.pack_into("<Q", d, a + field, value % 2**64)
        return d, "field: +%d of the entry at 0x%x = 0x%x" % (field, a,
                                                               value % 2**64)
    raise ValueError(kind)


KINDS = ["flip-head"] * 30 + ["flip-tables"] * 20 + ["bytes-head"] * 12 + \
    ["bytes-tables"] * 8 + ["truncate"] * 8 + ["swap"] * 12 + ["field"] * 10


def run(attn_run, lib, inputs, outdir, timeout):
    cmd = [attn_run, lib] + sum((["--input", i] for i in inputs), []) + \
        ["--output-dir", outdir]
    env = dict(os.environ, ATTN_NUM_THREADS="1")
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return "hang", b""
    return p.returncode, p.stderr


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--attn-run", required=True)
    ap.add_argument("--lib", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--count", type=int, default=300)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=20)
    ap.add_argument("--report-only", action="store_true")
    args = ap.parse_args()
    os.makedirs(args.work, exist_ok=True)
    with open(args.lib, "rb") as f:
        data = f.read()
    layout = Layout(data)

    rs = np.random.RandomState(0)
    x = rs.uniform(-4, 4, (3, 64)).astype(np.float32)
    y = rs.uniform(-4, 4, (3, 64)).astype(np.float32)
    np.save(os.path.join(args.work, "x.npy"), x)
    np.save(os.path.join(args.work, "y.npy"), y)
    inputs = ["x=" + os.path.join(args.work, "x.npy"),
              "y=" + os.path.join(args.work, "y.npy")]
    s = (x + y).astype(np.float64)
    e = np.exp(s - s.max(-1, keepdims=True))
    ref = e / e.sum(-1, keepdims=True)

    def output_of(outdir):
        try:
            return np.load(os.path.join(outdir, "z.npy"))
        except Exception:
            return None

    def matches(z):
        return (z is not None and z.shape == ref.shape and
                float(np.abs(z - ref).max()) <= 1e-5)

    base_out = os.path.join(args.work, "base")
    rc, err = run(args.attn_run, args.lib, inputs, base_out, args.timeout)
    if rc != 0 or not matches(output_of(base_out)):
        print("the unmutated library fails: exit %s\n%s" % (rc, err.decode(
            errors="replace")))
        return 1

    rng = random.Random(args.seed)
    mutants = []
    for i in range(args.count):
        kind = rng.choice(KINDS)
        mutant, what = mutate(data, layout, rng, kind)
        path = os.path.join(args.work, "m%03d.so" % i)
        with open(path, "wb") as f:
            f.write(mutant)
        mutants.append((i, path, what, bytes(mutant) == data))

    def check(m):
        i, path, what, same = m
        outdir = os.path.join(args.work, "out%03d" % i)
        rc, err = run(args.attn_run, path, inputs, outdir, args.timeout)
        text = err.decode(errors="replace")
        if rc == "hang":
            return "hang", i, what, ""
        if rc < 0:
            return "signal %d" % -rc, i, what, text
        if rc == 0:
            return ("ok" if matches(output_of(outdir)) else "wrong output",
                    i, what, text)
        lines = text.strip().splitlines()
        if rc == 1 and len(lines) == 1 and lines[0].startswith(
                "attn-run: error: ") and os.path.basename(path) in lines[0]:
            return "refused", i, what, text
        return "exit %d" % rc, i, what, text

    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        results = list(pool.map(check, mutants))
    counts = {}
    for r in results:
        key = r[0].split()[0] if r[0].startswith("signal") else r[0]
        counts[key] = counts.get(key, 0) + 1
    bad = [r for r in results if r[0] not in ("ok", "refused")]
    for how, i, what, text in bad:
        print("BAD m%03d (%s): %s\n    %s" % (i, what, how,
                                             text.strip()[-300:].replace(
                                                 "\n", "\n    ")))
    detail = ", ".join("%s: %d" % (k, v) for k, v in sorted(counts.items())
                       if k not in ("ok", "refused"))
    print("mutants: %d, ran ok: %d, refused: %d, bad: %d%s" % (
        len(results), counts.get("ok", 0), counts.get("refused", 0), len(bad),
        " (%s)" % detail if detail else ""))
    return 0 if args.report_only or not bad else 1


if __name__ == "__main__":
    sys.exit(main())
