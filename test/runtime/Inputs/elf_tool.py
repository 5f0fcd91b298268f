"""elf_tool.py: makes broken copies of a shared library for the loader tests.

  truncate SRC DST SIZE
      Copies the first SIZE bytes of SRC; SIZE is a number, "half" or
      "minus1" (the size of SRC less one byte).
  patch SRC DST FIELD VALUE
      Copies SRC with one ELF header field changed: class (EI_CLASS, 1 =
      32-bit), data (EI_DATA, 2 = big endian), machine (e_machine, e.g. 183 =
      AArch64), type (e_type, e.g. 2 = executable, 1 = object file).
  dyn SRC DST TAG VALUE
      Copies SRC with the value of its first dynamic entry TAG (e.g. 5 =
      DT_STRTAB) set to VALUE.
  random DST N SEED [--elf-magic | --header-of SRC]
      Writes N pseudo-random bytes (seeded), optionally after an ELF
      identification for a 64-bit little-endian file, or after the 64-byte
      ELF header of SRC (so that the program headers are random).
Only /usr/bin/python3's standard library is needed.
"""
import random
import shutil
import struct
import sys


def truncate(src, dst, size):
    with open(src, "rb") as f:
        data = f.read()
    n = {"half": len(data) // 2, "minus1": len(data) - 1}.get(size)
    n = int(size) if n is None else n
    with open(dst, "wb") as f:
        f.write(data[:n])


def patch(src, dst, field, value):
    with open(src, "rb") as f:
        data = bytearray(f.read())
    value = int(value, 0)
    if field == "class":
        data[4] = value
    elif field == "data":
        data[5] = value
    elif field == "type":
        data[16:18] = struct.pack("<H", value)
    elif field == "machine":
        data[18:20] = struct.pack("<H", value)
    else:
        raise SystemExit("unknown field " + field)
    with open(dst, "wb") as f:
        f.write(data)


def dyn(src, dst, tag, value):
    with open(src, "rb") as f:
        data = bytearray(f.read())
    tag, value = int(tag, 0), int(value, 0)
    phoff, = struct.unpack_from("<Q", data, 32)
    phentsize, phnum = struct.unpack_from("<HH", data, 54)
    for i in range(phnum):
        p_type, _, p_offset, _, _, p_filesz = struct.unpack_from(
            "<IIQQQQ", data, phoff + i * phentsize)
        if p_type != 2:  # PT_DYNAMIC
            continue
        for off in range(p_offset, p_offset + p_filesz, 16):
            d_tag, = struct.unpack_from("<q", data, off)
            if d_tag == tag:
                struct.pack_into("<Q", data, off + 8, value)
                with open(dst, "wb") as f:
                    f.write(data)
                return
    raise SystemExit("no dynamic entry with tag %d" % tag)


def rand(dst, n, seed, *flags):
    rng = random.Random(int(seed))
    data = bytes(rng.randrange(256) for _ in range(int(n)))
    if "--elf-magic" in flags:
        data = b"\x7fELF\x02\x01\x01" + data[7:]
    if "--header-of" in flags:
        with open(flags[flags.index("--header-of") + 1], "rb") as f:
            data = f.read(64) + data[64:]
    with open(dst, "wb") as f:
        f.write(data)


if __name__ == "__main__":
    {"truncate": truncate, "patch": patch, "dyn": dyn,
     "random": rand}[sys.argv[1]](*sys.argv[2:])
