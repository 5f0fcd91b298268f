//===- Elf.cpp - checks a model library's ELF structure before dlopen -----===//
//
// dlopen() trusts the file it maps: a truncated library (a copy that was cut
// short, a download in progress) has program headers describing segments
// beyond the end of the file, and the first touch of such a page kills the
// process with SIGBUS; a flipped bit in a relocation, a symbol or the dynamic
// table makes the loader write or jump through a wild pointer (SIGSEGV), stop
// on one of its own assertions (exit 127), or hang in a library it called
// wrongly. This file reads the headers and tables with plain reads (nothing is
// mapped or run) and refuses, with a message naming the file, anything that is
// not what the linker makes of an attnc model library:
//
//  - ELF header: magic, ELFCLASS64, little endian, version 1, OS ABI SYSV or
//    GNU, the host's e_machine, ET_DYN, header and entry sizes;
//  - program headers: only the types a shared library has (no PT_INTERP);
//    PT_LOAD file bytes inside the file, p_filesz <= p_memsz, alignment a
//    power of two >= the page size with p_offset = p_vaddr modulo it, in
//    ascending non-overlapping order, never writable and executable, the
//    first at offset 0 holding the headers; the other segments (dynamic,
//    notes, TLS, eh_frame_hdr, RELRO) inside a PT_LOAD at the matching file
//    offset; the dynamic segment in a writable one; notes well formed; TLS
//    and alignment sizes bounded; no executable stack; RELRO not covering
//    data the code writes;
//  - sections: the table and every section's bytes inside the file, every
//    allocated section inside a loaded segment at its file offset;
//  - the dynamic table: known tags only (no DT_TEXTREL, no filters, no REL
//    or RELR tables), no duplicates, the required ones present; strings
//    (needed libraries, soname, search paths) printable and NUL-terminated
//    inside the string table; the GNU (or SysV) hash table consistent with
//    the symbols it indexes (so lookups end); every dynamic symbol's name,
//    type, binding, section and value (functions inside an executable
//    segment, TLS symbols inside the TLS block) and, when the file has a
//    .symtab, the same symbol there; symbol versions and version needs
//    (each naming a DT_NEEDED library) well formed;
//  - relocations: RELA entries of the allowed x86-64 types (RELATIVE,
//    GLOB_DAT, JUMP_SLOT, 64, DTPMOD64, DTPOFF64, TPOFF64; no IRELATIVE,
//    which runs code of the library while loading), each patching 8 bytes
//    of a writable segment, no place patched twice, the first DT_RELACOUNT
//    ones RELATIVE, RELATIVE targets inside the image, symbol indices in
//    range, JUMP_SLOTs on their own GOT slots, one per symbol, every
//    imported symbol referenced;
//  - code the loader runs: DT_INIT, DT_FINI and every DT_INIT_ARRAY /
//    DT_FINI_ARRAY entry (through its relocation) at the start of a function
//    (a .symtab function when the file has one) in an executable segment.
//
// A library that passes can still compute the wrong thing if it was changed
// consistently (two imports swapped with each other, a different but valid
// instruction): these checks keep the loader safe, they are not a checksum.
//
//===----------------------------------------------------------------------===//

#include "Internal.h"

#include <algorithm>
#include <cerrno>
#include <dlfcn.h>
#include <link.h>
#include <cstring>
#include <elf.h>
#include <fcntl.h>
#include <map>
#include <set>
#include <sys/stat.h>
#include <unistd.h>
#include <unordered_map>

using namespace attn::rt;

namespace {

/// Reads exactly `n` bytes at `offset`; false on a short read or error.
bool readAt(int fd, uint64_t offset, void *buffer, size_t n) {
  char *out = static_cast<char *>(buffer);
  while (n > 0) {
    ssize_t got = pread(fd, out, n, static_cast<off_t>(offset));
    if (got < 0 && errno == EINTR)
      continue;
    if (got <= 0)
      return false;
    out += got;
    offset += static_cast<uint64_t>(got);
    n -= static_cast<size_t>(got);
  }
  return true;
}

/// True if [offset, offset + size) lies inside [0, fileSize), overflow-safe.
bool inside(uint64_t offset, uint64_t size, uint64_t fileSize) {
  return offset <= fileSize && size <= fileSize - offset;
}

bool isPowerOfTwo(uint64_t v) { return v != 0 && (v & (v - 1)) == 0; }

const char *machineName(uint16_t machine) {
  switch (machine) {
  case EM_386:
    return "x86 (32-bit)";
  case EM_X86_64:
    return "x86-64";
  case EM_AARCH64:
    return "AArch64";
  case EM_ARM:
    return "ARM";
  case EM_RISCV:
    return "RISC-V";
  case EM_PPC64:
    return "PowerPC 64";
  case EM_S390:
    return "s390";
  case EM_CUDA:
    return "CUDA";
  default:
    return nullptr;
  }
}

constexpr uint16_t kHostMachine =
#if defined(__x86_64__)
    EM_X86_64;
#elif defined(__aarch64__)
    EM_AARCH64;
#elif defined(__riscv) && __riscv_xlen == 64
    EM_RISCV;
#elif defined(__powerpc64__)
    EM_PPC64;
#else
    EM_NONE; // unknown host: the machine check is skipped
#endif

const char *tagName(int64_t tag) {
  switch (tag) {
  case DT_PLTGOT:
    return "DT_PLTGOT";
  case DT_HASH:
    return "DT_HASH";
  case DT_GNU_HASH:
    return "DT_GNU_HASH";
  case DT_STRTAB:
    return "DT_STRTAB";
  case DT_SYMTAB:
    return "DT_SYMTAB";
  case DT_RELA:
    return "DT_RELA";
  case DT_JMPREL:
    return "DT_JMPREL";
  case DT_INIT:
    return "DT_INIT";
  case DT_FINI:
    return "DT_FINI";
  case DT_INIT_ARRAY:
    return "DT_INIT_ARRAY";
  case DT_FINI_ARRAY:
    return "DT_FINI_ARRAY";
  case DT_VERSYM:
    return "DT_VERSYM";
  case DT_VERDEF:
    return "DT_VERDEF";
  case DT_VERNEED:
    return "DT_VERNEED";
  default:
    return "a dynamic entry";
  }
}

/// Dynamic tags a model library may have (what GNU ld and lld write for a
/// shared library of C code). Anything else -- DT_TEXTREL, filters,
/// DT_PREINIT_ARRAY, REL/RELR tables -- is refused.
bool isAllowedTag(int64_t tag) {
  switch (tag) {
  case DT_NEEDED:
  case DT_PLTRELSZ:
  case DT_PLTGOT:
  case DT_HASH:
  case DT_STRTAB:
  case DT_SYMTAB:
  case DT_RELA:
  case DT_RELASZ:
  case DT_RELAENT:
  case DT_STRSZ:
  case DT_SYMENT:
  case DT_INIT:
  case DT_FINI:
  case DT_SONAME:
  case DT_RPATH:
  case DT_PLTREL:
  case DT_DEBUG:
  case DT_JMPREL:
  case DT_BIND_NOW:
  case DT_INIT_ARRAY:
  case DT_FINI_ARRAY:
  case DT_INIT_ARRAYSZ:
  case DT_FINI_ARRAYSZ:
  case DT_RUNPATH:
  case DT_FLAGS:
  case DT_GNU_HASH:
  case DT_VERSYM:
  case DT_RELACOUNT:
  case DT_FLAGS_1:
  case DT_VERDEF:
  case DT_VERDEFNUM:
  case DT_VERNEED:
  case DT_VERNEEDNUM:
    return true;
  default:
    return false;
  }
}

uint32_t gnuHash(const std::string &name) {
  uint32_t h = 5381;
  for (unsigned char c : name)
    h = h * 33 + c;
  return h;
}

uint32_t elfHash(const std::string &name) {
  uint32_t h = 0;
  for (unsigned char c : name) {
    h = (h << 4) + c;
    uint32_t g = h & 0xf0000000u;
    if (g)
      h ^= g >> 24;
    h &= ~g;
  }
  return h;
}

bool isSymbolChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '$';
}

// x86-64 relocation types the linker writes into attnc libraries.
bool isAllowedRelocType(uint32_t type) {
  switch (type) {
  case R_X86_64_64:
  case R_X86_64_GLOB_DAT:
  case R_X86_64_JUMP_SLOT:
  case R_X86_64_RELATIVE:
  case R_X86_64_DTPMOD64:
  case R_X86_64_DTPOFF64:
  case R_X86_64_TPOFF64:
    return true;
  default:
    return false;
  }
}

/// The checks, on one open file. Each returns false after setting `error`.
class Checker {
public:
  Checker(int fd, uint64_t size) : fd(fd), size(size) {}
  bool run();
  std::string error;

private:
  int fd;
  uint64_t size;
  Elf64_Ehdr eh{};
  std::vector<Elf64_Phdr> phdrs;
  std::vector<const Elf64_Phdr *> loads;
  const Elf64_Phdr *dynamicPh = nullptr, *tlsPh = nullptr, *relroPh = nullptr;
  std::vector<Elf64_Shdr> shdrs;
  std::vector<char> shstrtab;
  // Dynamic table values (0 = absent, see `has`).
  std::map<int64_t, uint64_t> tags;
  std::vector<uint64_t> needed; // string table offsets of DT_NEEDED
  std::vector<char> strtab;     // the dynamic string table
  std::vector<Elf64_Sym> syms;  // the dynamic symbols, [0] included
  std::vector<uint16_t> versym;
  std::map<uint16_t, std::string> versionNames; // index -> name
  std::set<uint64_t> funcStarts;                // from .symtab
  bool haveSymtab = false;
  std::unordered_multimap<std::string, Elf64_Sym> staticSyms;
  std::vector<uint32_t> hashBuckets, hashChains; // DT_GNU_HASH
  uint64_t gnuSymoffset = 0;
  bool staticVersions = false; // .symtab names carry @VERSION

  bool bad(const std::string &why) {
    error = why;
    return false;
  }
  bool truncated(const std::string &what) {
    return bad(format("the file is truncated or corrupt: %s lies beyond its "
                      "end (%llu bytes)",
                      what.c_str(), static_cast<unsigned long long>(size)));
  }
  bool has(int64_t tag) const { return tags.count(tag) != 0; }
  uint64_t tag(int64_t t) const {
    auto it = tags.find(t);
    return it == tags.end() ? 0 : it->second;
  }

  /// The PT_LOAD holding [vaddr, vaddr + n): in its file bytes when
  /// `fileBacked`, else in its memory image; null if none.
  const Elf64_Phdr *loadOf(uint64_t vaddr, uint64_t n, bool fileBacked) const {
    for (const Elf64_Phdr *ph : loads) {
      uint64_t extent = fileBacked ? ph->p_filesz : ph->p_memsz;
      if (vaddr >= ph->p_vaddr && vaddr - ph->p_vaddr <= extent &&
          n <= extent - (vaddr - ph->p_vaddr))
        return ph;
    }
    return nullptr;
  }
  /// Reads `n` bytes of the image at `vaddr` (file-backed only).
  bool readImage(uint64_t vaddr, void *out, uint64_t n) const {
    const Elf64_Phdr *ph = loadOf(vaddr, n, true);
    return ph && readAt(fd, ph->p_offset + (vaddr - ph->p_vaddr), out, n);
  }
  template <typename T>
  bool readTable(uint64_t vaddr, uint64_t count, std::vector<T> &out) const {
    if (count > size / sizeof(T))
      return false;
    out.resize(count);
    return count == 0 || readImage(vaddr, out.data(), count * sizeof(T));
  }
  /// The NUL-terminated string at `offset` of the dynamic string table.
  bool string(uint64_t offset, std::string &out) const {
    if (offset >= strtab.size())
      return false;
    const char *s = strtab.data() + offset;
    out.assign(s, strnlen(s, strtab.size() - offset));
    return true;
  }
  bool isFunctionStart(uint64_t vaddr) const {
    const Elf64_Phdr *ph = loadOf(vaddr, 1, true);
    if (!ph || !(ph->p_flags & PF_X))
      return false;
    return !haveSymtab || funcStarts.count(vaddr);
  }

  bool checkHeader();
  bool checkProgramHeaders();
  bool checkSections();
  bool checkNotes(const Elf64_Phdr &ph, size_t index);
  bool checkDynamic();
  bool checkHash();
  bool checkSymbols();
  bool checkVersions();
  bool checkRelocations();
  bool checkRelro();
};

bool Checker::checkHeader() {
  unsigned char ident[EI_NIDENT] = {};
  if (size < EI_NIDENT || !readAt(fd, 0, ident, EI_NIDENT) ||
      std::memcmp(ident, ELFMAG, SELFMAG) != 0)
    return bad(format("invalid ELF header: not a shared library (%s)",
                      size < SELFMAG ? "the file is too short"
                                     : "no ELF magic number"));
  if (ident[EI_CLASS] != ELFCLASS64)
    return bad(ident[EI_CLASS] == ELFCLASS32
                   ? "a 32-bit ELF file; model libraries are 64-bit"
                   : format("unknown ELF class %u", ident[EI_CLASS]));
  if (ident[EI_DATA] != ELFDATA2LSB)
    return bad(ident[EI_DATA] == ELFDATA2MSB
                   ? "a big-endian ELF file; this host is little-endian"
                   : format("unknown ELF data encoding %u", ident[EI_DATA]));
  if (ident[EI_VERSION] != EV_CURRENT)
    return bad(format("unknown ELF version %u", ident[EI_VERSION]));

  if (size < sizeof(eh) || !readAt(fd, 0, &eh, sizeof(eh)))
    return truncated("the ELF header");
  if (kHostMachine != EM_NONE && eh.e_machine != kHostMachine) {
    const char *name = machineName(eh.e_machine);
    return bad(format("built for %s (ELF machine %u), not for this %s host",
                      name ? name : "another architecture", eh.e_machine,
                      machineName(kHostMachine)));
  }
  if (eh.e_type != ET_DYN)
    return bad(eh.e_type == ET_EXEC  ? "an executable, not a shared library"
               : eh.e_type == ET_REL ? "an object file (.o), not a shared "
                                       "library"
                                     : format("ELF type %u, not a shared "
                                              "library",
                                              eh.e_type));
  if (ident[EI_OSABI] != ELFOSABI_SYSV && ident[EI_OSABI] != ELFOSABI_GNU)
    return bad(format("unknown ELF OS ABI %u", ident[EI_OSABI]));
  if (ident[EI_ABIVERSION] != 0 || eh.e_version != EV_CURRENT)
    return bad("unknown ELF ABI or file version");
  if (eh.e_ehsize != sizeof(Elf64_Ehdr))
    return bad(format("unexpected ELF header size %u", eh.e_ehsize));
  return true;
}

bool Checker::checkProgramHeaders() {
  if (eh.e_phnum == 0 || eh.e_phnum == PN_XNUM)
    return bad("no program headers");
  if (eh.e_phentsize != sizeof(Elf64_Phdr))
    return bad(format("unexpected program header size %u", eh.e_phentsize));
  const uint64_t phSize = uint64_t(eh.e_phnum) * sizeof(Elf64_Phdr);
  if (!inside(eh.e_phoff, phSize, size))
    return truncated("the program header table");
  phdrs.resize(eh.e_phnum);
  if (!readAt(fd, eh.e_phoff, phdrs.data(), phSize))
    return truncated("the program header table");

  // File bytes first: a truncated file says so before anything else.
  for (size_t i = 0; i < phdrs.size(); ++i) {
    const Elf64_Phdr &ph = phdrs[i];
    if (ph.p_type != PT_LOAD && ph.p_type != PT_DYNAMIC)
      continue;
    const char *kind = ph.p_type == PT_LOAD ? "PT_LOAD" : "PT_DYNAMIC";
    if (ph.p_filesz != 0 && !inside(ph.p_offset, ph.p_filesz, size))
      return truncated(format("segment %zu (%s, file bytes [%llu, %llu))", i,
                              kind, (unsigned long long)ph.p_offset,
                              (unsigned long long)(ph.p_offset + ph.p_filesz)));
  }

  const uint64_t page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  std::set<uint32_t> seen;
  const Elf64_Phdr *previous = nullptr;
  bool executable = false;
  for (size_t i = 0; i < phdrs.size(); ++i) {
    const Elf64_Phdr &ph = phdrs[i];
    switch (ph.p_type) {
    case PT_LOAD:
    case PT_NOTE:
      break;
    case PT_DYNAMIC:
    case PT_TLS:
    case PT_GNU_EH_FRAME:
    case PT_GNU_STACK:
    case PT_GNU_RELRO:
    case PT_GNU_PROPERTY:
    case PT_PHDR:
      if (!seen.insert(ph.p_type).second)
        return bad(format("program header %zu repeats a segment type (0x%x) "
                          "that occurs once",
                          i, ph.p_type));
      break;
    case PT_INTERP:
      return bad(format("program header %zu is a PT_INTERP (an interpreter "
                        "request); a model library has none",
                        i));
    default:
      return bad(format("program header %zu has type 0x%x, which a model "
                        "library does not have",
                        i, ph.p_type));
    }
    if (ph.p_flags & ~uint32_t(PF_R | PF_W | PF_X))
      return bad(format("program header %zu has unknown flags 0x%x", i,
                        ph.p_flags));
    if (ph.p_filesz > ph.p_memsz)
      return bad(format("segment %zu has more file bytes than memory bytes",
                        i));
    if (ph.p_vaddr + ph.p_memsz < ph.p_vaddr ||
        ph.p_offset + ph.p_filesz < ph.p_offset || ph.p_memsz > (1ull << 40))
      return bad(format("segment %zu has inconsistent sizes", i));
    if (ph.p_type != PT_LOAD)
      continue;
    if (!isPowerOfTwo(ph.p_align) || ph.p_align < page ||
        ph.p_align > (1ull << 30) ||
        (ph.p_vaddr - ph.p_offset) % ph.p_align != 0)
      return bad(format("segment %zu (PT_LOAD) is not page-aligned "
                        "(alignment %llu)",
                        i, (unsigned long long)ph.p_align));
    if (ph.p_memsz == 0)
      return bad(format("segment %zu (PT_LOAD) is empty", i));
    if ((ph.p_flags & PF_W) && (ph.p_flags & PF_X))
      return bad(format("segment %zu (PT_LOAD) is writable and executable",
                        i));
    if (!(ph.p_flags & PF_R))
      return bad(format("segment %zu (PT_LOAD) is not readable", i));
    if (previous && ph.p_vaddr < previous->p_vaddr + previous->p_memsz)
      return bad(format("segment %zu (PT_LOAD) overlaps or precedes the "
                        "segment before it",
                        i));
    executable |= (ph.p_flags & PF_X) != 0;
    previous = &ph;
    loads.push_back(&ph);
  }
  if (loads.empty())
    return bad("no loadable segment");
  if (!executable)
    return bad("no executable segment");
  const Elf64_Phdr &first = *loads.front();
  if (first.p_offset != 0 || first.p_filesz < eh.e_phoff + phSize)
    return bad("the first loadable segment does not hold the ELF and program "
               "headers");

  for (size_t i = 0; i < phdrs.size(); ++i) {
    const Elf64_Phdr &ph = phdrs[i];
    if (ph.p_type == PT_LOAD || ph.p_type == PT_GNU_STACK)
      continue;
    // Inside a PT_LOAD, at the file offset that segment maps. Of the
    // thread-local segment the loader reads only the initialization image
    // (p_filesz bytes, copied into each thread's block); its zero-filled
    // rest (.tbss) has no place in the image, and LLVM's linker puts it
    // between the loaded segments.
    const uint64_t extent = ph.p_type == PT_TLS ? ph.p_filesz : ph.p_memsz;
    const Elf64_Phdr *load = loadOf(ph.p_vaddr, extent, false);
    if (ph.p_type == PT_TLS && ph.p_filesz == 0)
      load = nullptr;
    else if (!load || (ph.p_filesz &&
                  (!loadOf(ph.p_vaddr, ph.p_filesz, true) ||
                   ph.p_offset - load->p_offset != ph.p_vaddr - load->p_vaddr)))
      return bad(format("segment %zu (type 0x%x) lies outside the loaded "
                        "segments",
                        i, ph.p_type));
    switch (ph.p_type) {
    case PT_DYNAMIC:
      if (!(load->p_flags & PF_W))
        return bad("the dynamic segment is not in a writable segment");
      if (ph.p_filesz % sizeof(Elf64_Dyn) != 0 || ph.p_filesz > (64u << 20) ||
          ph.p_filesz == 0)
        return bad("malformed dynamic segment");
      dynamicPh = &ph;
      break;
    case PT_TLS:
      if (ph.p_memsz > (1u << 20) || ph.p_align > page ||
          (ph.p_align > 1 && !isPowerOfTwo(ph.p_align)))
        return bad("the thread-local storage segment (PT_TLS) has an "
                   "unreasonable size or alignment");
      tlsPh = &ph;
      break;
    case PT_GNU_RELRO:
      if (!(load->p_flags & PF_W) || ph.p_vaddr != load->p_vaddr)
        return bad("the read-only-after-relocation segment (PT_GNU_RELRO) "
                   "is not at the start of a writable segment");
      relroPh = &ph;
      break;
    case PT_NOTE:
    case PT_GNU_PROPERTY:
      if (!checkNotes(ph, i))
        return false;
      break;
    case PT_PHDR:
      if (ph.p_offset != eh.e_phoff || ph.p_filesz != phSize)
        return bad("PT_PHDR does not describe the program header table");
      break;
    default:
      break;
    }
    if (ph.p_type == PT_GNU_EH_FRAME && (load->p_flags & PF_W))
      return bad("the unwind table (PT_GNU_EH_FRAME) is in a writable "
                 "segment");
  }
  for (const Elf64_Phdr &ph : phdrs)
    if (ph.p_type == PT_GNU_STACK && (ph.p_flags & PF_X))
      return bad("it asks for an executable stack (PT_GNU_STACK)");
  if (!dynamicPh)
    return bad("no dynamic segment (PT_DYNAMIC)");
  return true;
}

bool Checker::checkNotes(const Elf64_Phdr &ph, size_t index) {
  if ((ph.p_align != 4 && ph.p_align != 8) || ph.p_filesz != ph.p_memsz ||
      ph.p_filesz > (64u << 10) || ph.p_offset % ph.p_align != 0)
    return bad(format("note segment %zu is malformed", index));
  std::vector<char> notes(ph.p_filesz);
  if (!notes.empty() && !readAt(fd, ph.p_offset, notes.data(), notes.size()))
    return truncated("a note segment");
  const uint64_t align = ph.p_align;
  auto pad = [&](uint64_t n) { return (n + align - 1) / align * align; };
  uint64_t at = 0;
  while (at < notes.size()) {
    uint32_t header[3];
    if (notes.size() - at < sizeof(header))
      return bad(format("note segment %zu is malformed", index));
    std::memcpy(header, notes.data() + at, sizeof(header));
    // As glibc reads them: the descriptor starts at the alignment after
    // header + name, the next note at the alignment after the descriptor.
    uint64_t descAt = pad(at + sizeof(header) + uint64_t(header[0]));
    if (descAt > notes.size() || header[1] > notes.size() - descAt)
      return bad(format("note segment %zu is malformed", index));
    at = std::min<uint64_t>(pad(descAt + header[1]), notes.size());
  }
  return true;
}

bool Checker::checkSections() {
  // Unused by the loader, but a cut-off or garbled table means the file is
  // not what the linker wrote, and .symtab tells where functions start.
  if (eh.e_shoff == 0 && eh.e_shnum == 0)
    return true;
  if (eh.e_shentsize != sizeof(Elf64_Shdr))
    return bad(format("unexpected section header size %u", eh.e_shentsize));
  const uint64_t shSize = uint64_t(eh.e_shnum) * sizeof(Elf64_Shdr);
  if (!inside(eh.e_shoff, shSize, size))
    return truncated("the section header table");
  shdrs.resize(eh.e_shnum);
  if (!shdrs.empty() && !readAt(fd, eh.e_shoff, shdrs.data(), shSize))
    return truncated("the section header table");
  if (eh.e_shstrndx != SHN_UNDEF && eh.e_shstrndx >= eh.e_shnum)
    return bad("the section name table index is out of range");
  for (size_t i = 0; i < shdrs.size(); ++i) {
    const Elf64_Shdr &sh = shdrs[i];
    if (sh.sh_type == SHT_NULL || sh.sh_size == 0)
      continue;
    bool nobits = sh.sh_type == SHT_NOBITS;
    if (!nobits && !inside(sh.sh_offset, sh.sh_size, size))
      return truncated(format("section %zu (file bytes [%llu, %llu))", i,
                              (unsigned long long)sh.sh_offset,
                              (unsigned long long)(sh.sh_offset + sh.sh_size)));
    if (sh.sh_link >= shdrs.size())
      return bad(format("section %zu links to a section that does not exist",
                        i));
    // Thread-local sections lie inside the TLS segment the loader
    // allocates per thread.
    if ((sh.sh_flags & SHF_TLS) &&
        (!tlsPh || sh.sh_addr < tlsPh->p_vaddr ||
         sh.sh_addr - tlsPh->p_vaddr > tlsPh->p_memsz ||
         sh.sh_size > tlsPh->p_memsz - (sh.sh_addr - tlsPh->p_vaddr)))
      return bad(format("thread-local section %zu lies outside the TLS "
                        "segment",
                        i));
    // A section of the image must be inside a loaded segment, at the file
    // offset the segment maps (else the program headers were altered).
    if (!(sh.sh_flags & SHF_ALLOC) || (nobits && (sh.sh_flags & SHF_TLS)))
      continue;
    bool covered = false;
    for (const Elf64_Phdr *ph : loads) {
      if (sh.sh_addr < ph->p_vaddr)
        continue;
      uint64_t rel = sh.sh_addr - ph->p_vaddr;
      uint64_t extent = nobits ? ph->p_memsz : ph->p_filesz;
      if (rel > extent || sh.sh_size > extent - rel)
        continue;
      covered = nobits || sh.sh_offset - ph->p_offset == rel;
      if (covered)
        break;
    }
    if (!covered)
      return bad(format("section %zu lies outside the loaded segments (the "
                        "program headers are corrupt)",
                        i));
  }
  if (eh.e_shstrndx != SHN_UNDEF) {
    const Elf64_Shdr &sh = shdrs[eh.e_shstrndx];
    if (sh.sh_type != SHT_STRTAB || sh.sh_size > (16u << 20))
      return bad("the section name table is malformed");
    shstrtab.resize(sh.sh_size + 1, '\0');
    if (sh.sh_size && !readAt(fd, sh.sh_offset, shstrtab.data(), sh.sh_size))
      return truncated("the section name table");
  }
  // The static symbol table: where functions start, and what each dynamic
  // symbol must agree with.
  for (const Elf64_Shdr &sh : shdrs) {
    if (sh.sh_type != SHT_SYMTAB)
      continue;
    const Elf64_Shdr &names = shdrs[sh.sh_link];
    if (sh.sh_entsize != sizeof(Elf64_Sym) || sh.sh_size % sizeof(Elf64_Sym) ||
        names.sh_type != SHT_STRTAB || sh.sh_size > (256u << 20) ||
        names.sh_size > (256u << 20))
      return bad("the symbol table (.symtab) is malformed");
    std::vector<Elf64_Sym> table(sh.sh_size / sizeof(Elf64_Sym));
    std::vector<char> text(names.sh_size + 1, '\0');
    if ((!table.empty() &&
         !readAt(fd, sh.sh_offset, table.data(), sh.sh_size)) ||
        (names.sh_size &&
         !readAt(fd, names.sh_offset, text.data(), names.sh_size)))
      return truncated("the symbol table (.symtab)");
    haveSymtab = true;
    for (const Elf64_Sym &s : table) {
      if (s.st_name >= names.sh_size)
        continue;
      if (ELF64_ST_TYPE(s.st_info) == STT_FUNC && s.st_shndx != SHN_UNDEF)
        funcStarts.insert(s.st_value);
      if (ELF64_ST_TYPE(s.st_info) == STT_TLS && s.st_shndx != SHN_UNDEF &&
          (!tlsPh || s.st_value > tlsPh->p_memsz ||
           s.st_size > tlsPh->p_memsz - s.st_value))
        return bad("a thread-local symbol of .symtab lies outside the TLS "
                   "segment");
      std::string name = text.data() + s.st_name;
      staticVersions |= name.find('@') != std::string::npos;
      staticSyms.emplace(std::move(name), s);
    }
    break;
  }
  return true;
}

bool Checker::checkDynamic() {
  const Elf64_Phdr &dyn = *dynamicPh;
  std::vector<Elf64_Dyn> dyns(dyn.p_filesz / sizeof(Elf64_Dyn));
  if (!readAt(fd, dyn.p_offset, dyns.data(), dyn.p_filesz))
    return truncated("the dynamic segment");
  bool terminated = false;
  for (const Elf64_Dyn &d : dyns) {
    if (d.d_tag == DT_NULL) {
      terminated = true;
      break;
    }
    if (!isAllowedTag(d.d_tag))
      return bad(d.d_tag == DT_TEXTREL
                     ? std::string("it has text relocations (DT_TEXTREL)")
                     : format("unexpected dynamic entry (tag 0x%llx)",
                              (unsigned long long)d.d_tag));
    if (d.d_tag == DT_NEEDED) {
      needed.push_back(d.d_un.d_val);
      continue;
    }
    if (!tags.emplace(d.d_tag, d.d_un.d_val).second)
      return bad(format("the dynamic table has tag %lld twice",
                        (long long)d.d_tag));
  }
  if (!terminated)
    return bad("the dynamic table has no DT_NULL end");
  for (int64_t t : {DT_STRTAB, DT_STRSZ, DT_SYMTAB, DT_SYMENT})
    if (!has(t))
      return bad(format("the dynamic table lacks a required entry (tag %lld)",
                        (long long)t));
  if (!has(DT_GNU_HASH) && !has(DT_HASH))
    return bad("the dynamic table has no symbol hash table");
  if (tag(DT_SYMENT) != sizeof(Elf64_Sym))
    return bad("unexpected dynamic symbol size");
  if (has(DT_RELA) != has(DT_RELASZ) ||
      (has(DT_RELA) && tag(DT_RELAENT) != sizeof(Elf64_Rela)))
    return bad("unexpected relocation entry size");
  if (has(DT_JMPREL) != has(DT_PLTRELSZ) ||
      (has(DT_JMPREL) && tag(DT_PLTREL) != DT_RELA))
    return bad("unexpected PLT relocation kind");
  if (has(DT_INIT_ARRAY) != has(DT_INIT_ARRAYSZ) ||
      has(DT_FINI_ARRAY) != has(DT_FINI_ARRAYSZ) ||
      has(DT_VERDEF) != has(DT_VERDEFNUM) ||
      has(DT_VERNEED) != has(DT_VERNEEDNUM))
    return bad("the dynamic table has an address without its size or count");
  if (tag(DT_FLAGS) & ~uint64_t(DF_BIND_NOW | DF_STATIC_TLS))
    return bad(format("unexpected dynamic flags 0x%llx",
                      (unsigned long long)tag(DT_FLAGS)));
  if (tag(DT_FLAGS_1) & ~uint64_t(DF_1_NOW | DF_1_NODELETE))
    return bad(format("unexpected dynamic flags 0x%llx (DT_FLAGS_1)",
                      (unsigned long long)tag(DT_FLAGS_1)));
  // Addresses the loader reads from must be in the file-backed image.
  for (int64_t t : {DT_STRTAB, DT_SYMTAB, DT_HASH, DT_GNU_HASH, DT_RELA,
                    DT_JMPREL, DT_VERSYM, DT_VERDEF, DT_VERNEED})
    if (has(t) && !loadOf(tag(t), 1, true))
      return bad(format("%s points outside the loaded segments", tagName(t)));
  for (int64_t t : {DT_PLTGOT, DT_INIT_ARRAY, DT_FINI_ARRAY}) {
    const Elf64_Phdr *ph = has(t) ? loadOf(tag(t), 8, false) : nullptr;
    if (has(t) && (!ph || !(ph->p_flags & PF_W)))
      return bad(format("%s points outside the writable segments",
                        tagName(t)));
  }
  for (int64_t t : {DT_INIT, DT_FINI})
    if (has(t) && !isFunctionStart(tag(t)))
      return bad(format("%s does not point to the start of a function",
                        tagName(t)));
  // With section headers: the code and arrays the loader runs are the
  // sections the linker made for them (a valid but different function
  // called at load time would run with garbage arguments).
  if (!shstrtab.empty()) {
    const std::pair<int64_t, const char *> named[] = {
        {DT_INIT, ".init"},
        {DT_FINI, ".fini"},
        {DT_INIT_ARRAY, ".init_array"},
        {DT_FINI_ARRAY, ".fini_array"}};
    for (auto [t, section] : named) {
      if (!has(t))
        continue;
      bool ok = false;
      for (const Elf64_Shdr &sh : shdrs)
        if (sh.sh_name < shstrtab.size() &&
            std::strcmp(shstrtab.data() + sh.sh_name, section) == 0)
          ok = sh.sh_addr == tag(t) &&
               (t == DT_INIT || t == DT_FINI ||
                sh.sh_size == tag(t == DT_INIT_ARRAY ? DT_INIT_ARRAYSZ
                                                     : DT_FINI_ARRAYSZ));
      if (!ok)
        return bad(format("%s is not the file's %s section", tagName(t),
                          section));
    }
  }

  // The string table and the strings the loader reads by name.
  uint64_t strsz = tag(DT_STRSZ);
  if (strsz == 0 || strsz > size || !loadOf(tag(DT_STRTAB), strsz, true))
    return bad("the dynamic string table lies outside the loaded segments");
  strtab.resize(strsz);
  if (!readImage(tag(DT_STRTAB), strtab.data(), strsz))
    return truncated("the dynamic string table");
  if (strtab.back() != '\0')
    return bad("the dynamic string table is not NUL-terminated");
  std::vector<uint64_t> names = needed;
  for (int64_t t : {DT_SONAME, DT_RPATH, DT_RUNPATH})
    if (has(t))
      names.push_back(tag(t));
  for (uint64_t n : names) {
    std::string s;
    if (!string(n, s))
      return bad("a dynamic entry names a string outside the string table");
    if (s.empty() || std::any_of(s.begin(), s.end(), [](char c) {
          return c < 0x20 || c > 0x7e;
        }))
      return bad("a dynamic entry names a library or path that is empty or "
                 "not printable");
  }
  return true;
}

bool Checker::checkHash() {
  // How many dynamic symbols there are: the .dynsym section says, else the
  // hash table.
  uint64_t numSyms = 0;
  bool known = false;
  for (const Elf64_Shdr &sh : shdrs)
    if (sh.sh_type == SHT_DYNSYM) {
      if (known || sh.sh_addr != tag(DT_SYMTAB) ||
          sh.sh_entsize != sizeof(Elf64_Sym) ||
          sh.sh_size % sizeof(Elf64_Sym) != 0)
        return bad("the dynamic symbol section disagrees with DT_SYMTAB");
      numSyms = sh.sh_size / sizeof(Elf64_Sym), known = true;
    }
  if (has(DT_HASH)) {
    uint32_t header[2];
    if (!readImage(tag(DT_HASH), header, sizeof(header)))
      return bad("DT_HASH points outside the loaded segments");
    uint64_t nbucket = header[0], nchain = header[1];
    if (known && nchain != numSyms)
      return bad("the symbol hash table (DT_HASH) disagrees with the symbol "
                 "table");
    numSyms = nchain, known = true;
    std::vector<uint32_t> words;
    if (nbucket == 0 ||
        !readTable(tag(DT_HASH), 2 + nbucket + nchain, words))
      return bad("the symbol hash table (DT_HASH) lies outside the loaded "
                 "segments");
    // Every bucket and chain link in range, and every chain ends.
    for (uint64_t b = 0; b < nbucket; ++b) {
      uint64_t steps = 0;
      for (uint64_t i = words[2 + b]; i != 0; i = words[2 + nbucket + i])
        if (i >= nchain || ++steps > nchain)
          return bad("the symbol hash table (DT_HASH) is corrupt");
    }
  }
  if (has(DT_GNU_HASH)) {
    uint32_t header[4];
    if (!readImage(tag(DT_GNU_HASH), header, sizeof(header)))
      return bad("DT_GNU_HASH points outside the loaded segments");
    uint64_t nbuckets = header[0], symoffset = header[1];
    uint64_t bloomSize = header[2], bloomShift = header[3];
    if (nbuckets == 0 || nbuckets > size / 4 || !isPowerOfTwo(bloomSize) ||
        bloomSize > size / 8 || bloomShift >= 64 || symoffset == 0)
      return bad("the GNU symbol hash table (DT_GNU_HASH) is corrupt");
    uint64_t bucketsAt = tag(DT_GNU_HASH) + 16 + 8 * bloomSize;
    uint64_t chainsAt = bucketsAt + 4 * nbuckets;
    std::vector<uint32_t> buckets;
    if (!readTable(bucketsAt, nbuckets, buckets))
      return bad("the GNU symbol hash table (DT_GNU_HASH) lies outside the "
                 "loaded segments");
    if (!known) {
      // The last chain that ends: after the highest bucket's symbols.
      uint64_t top = 0;
      for (uint32_t b : buckets)
        top = std::max<uint64_t>(top, b);
      numSyms = symoffset;
      if (top) {
        for (uint64_t i = top;; ++i) {
          uint32_t word;
          if (i - symoffset > size / 4 ||
              !readImage(chainsAt + 4 * (i - symoffset), &word, 4))
            return bad("the GNU symbol hash table (DT_GNU_HASH) is corrupt");
          if (word & 1) {
            numSyms = i + 1;
            break;
          }
        }
      }
      known = true;
    }
    if (symoffset > numSyms)
      return bad("the GNU symbol hash table (DT_GNU_HASH) is corrupt");
    std::vector<uint32_t> chains;
    if (!readTable(chainsAt, numSyms - symoffset, chains))
      return bad("the GNU symbol hash table (DT_GNU_HASH) lies outside the "
                 "loaded segments");
    hashChains = std::move(chains);
    hashBuckets = std::move(buckets);
    gnuSymoffset = symoffset;
  }
  if (!known)
    return bad("the number of dynamic symbols is unknown");
  if (numSyms == 0 || numSyms > size / sizeof(Elf64_Sym) ||
      !readTable(tag(DT_SYMTAB), numSyms, syms))
    return bad("the dynamic symbol table lies outside the loaded segments");
  return true;
}

bool Checker::checkVersions() {
  versionNames[0] = "", versionNames[1] = "";
  auto versionName = [&](uint64_t offset, std::string &out) {
    return string(offset, out) && !out.empty() &&
           std::all_of(out.begin(), out.end(), isSymbolChar);
  };
  if (has(DT_VERNEED)) {
    std::set<std::string> neededNames;
    for (uint64_t n : needed) {
      std::string s;
      string(n, s);
      neededNames.insert(s);
    }
    uint64_t at = tag(DT_VERNEED), count = tag(DT_VERNEEDNUM);
    if (count == 0 || count > 4096)
      return bad("malformed version needs (DT_VERNEED)");
    for (uint64_t k = 0; k < count; ++k) {
      Elf64_Verneed vn;
      std::string file;
      if (!readImage(at, &vn, sizeof(vn)) || vn.vn_version != 1 ||
          vn.vn_cnt == 0 || !string(vn.vn_file, file) ||
          !neededNames.count(file) || (k + 1 == count) != (vn.vn_next == 0))
        return bad("malformed version needs (DT_VERNEED): each must name a "
                   "needed library");
      uint64_t aux = at + vn.vn_aux;
      for (uint64_t j = 0; j < vn.vn_cnt; ++j) {
        Elf64_Vernaux va;
        std::string name;
        if (!readImage(aux, &va, sizeof(va)) ||
            !versionName(va.vna_name, name) || va.vna_hash != elfHash(name) ||
            va.vna_other < 2 || va.vna_other > 0x7fff ||
            (j + 1 == vn.vn_cnt) != (va.vna_next == 0) ||
            !versionNames.emplace(va.vna_other, name).second)
          return bad("malformed version needs (DT_VERNEED)");
        aux += va.vna_next;
      }
      at += vn.vn_next;
    }
  }
  if (has(DT_VERDEF)) {
    uint64_t at = tag(DT_VERDEF), count = tag(DT_VERDEFNUM);
    if (count == 0 || count > 4096)
      return bad("malformed version definitions (DT_VERDEF)");
    for (uint64_t k = 0; k < count; ++k) {
      Elf64_Verdef vd;
      Elf64_Verdaux va;
      std::string name;
      if (!readImage(at, &vd, sizeof(vd)) || vd.vd_version != 1 ||
          vd.vd_cnt == 0 || vd.vd_ndx == 0 || vd.vd_ndx > 0x7fff ||
          !readImage(at + vd.vd_aux, &va, sizeof(va)) ||
          !versionName(va.vda_name, name) ||
          (k + 1 == count) != (vd.vd_next == 0) ||
          (vd.vd_ndx != 1 && !versionNames.emplace(vd.vd_ndx, name).second))
        return bad("malformed version definitions (DT_VERDEF)");
      at += vd.vd_next;
    }
  }
  if (has(DT_VERSYM)) {
    if (!readTable(tag(DT_VERSYM), syms.size(), versym))
      return bad("DT_VERSYM points outside the loaded segments");
    for (size_t i = 0; i < versym.size(); ++i)
      if (!versionNames.count(versym[i] & 0x7fff) || (i == 0 && versym[i]))
        return bad(format("dynamic symbol %zu has an unknown version index %u",
                          i, versym[i]));
  }
  return true;
}

bool Checker::checkSymbols() {
  const Elf64_Sym &null = syms[0];
  if (null.st_name || null.st_info || null.st_shndx || null.st_value ||
      null.st_size)
    return bad("dynamic symbol 0 is not the null symbol");
  std::set<std::string> seenNames;
  for (size_t i = 1; i < syms.size(); ++i) {
    const Elf64_Sym &s = syms[i];
    std::string name;
    unsigned type = ELF64_ST_TYPE(s.st_info), bind = ELF64_ST_BIND(s.st_info);
    auto symbolBad = [&](const char *why) {
      return bad(format("dynamic symbol %zu%s%s%s %s", i,
                        name.empty() ? "" : " ('", name.c_str(),
                        name.empty() ? "" : "')", why));
    };
    if (!string(s.st_name, name) || name.empty() ||
        !std::all_of(name.begin(), name.end(), isSymbolChar)) {
      name.clear();
      return symbolBad("has a name outside the string table or with "
                       "characters no symbol has");
    }
    if (!seenNames.insert(name).second)
      return symbolBad("has the name of another dynamic symbol");
    if ((type != STT_NOTYPE && type != STT_OBJECT && type != STT_FUNC &&
         type != STT_TLS) ||
        (bind != STB_GLOBAL && bind != STB_WEAK && bind != STB_GNU_UNIQUE) ||
        // Protected or hidden only when defined: the linker exports an
        // instrumented build's __start_/__stop_asan_globals as GLOBAL HIDDEN.
        (s.st_other != STV_DEFAULT &&
         ((s.st_other != STV_PROTECTED && s.st_other != STV_HIDDEN) ||
          s.st_shndx == SHN_UNDEF)))
      return symbolBad("has an unexpected type, binding or visibility");
    if (s.st_shndx == SHN_UNDEF) {
      if (s.st_value || s.st_size)
        return symbolBad("is undefined but has a value");
    } else {
      if (s.st_shndx >= SHN_LORESERVE ||
          (!shdrs.empty() && s.st_shndx >= shdrs.size()))
        return symbolBad("is in a section that does not exist");
      bool ok;
      if (type == STT_TLS) {
        ok = tlsPh && s.st_value <= tlsPh->p_memsz &&
             s.st_size <= tlsPh->p_memsz - s.st_value;
      } else if (type == STT_FUNC) {
        const Elf64_Phdr *ph = loadOf(s.st_value, s.st_size, true);
        ok = ph && (ph->p_flags & PF_X) && isFunctionStart(s.st_value);
      } else {
        ok = loadOf(s.st_value, s.st_size, false) != nullptr;
      }
      if (!ok)
        return symbolBad("lies outside the part of the image its type needs "
                         "(functions: the start of one in executable code)");
    }
    // The static symbol table has the same symbol (name, name@version or
    // name@@version), with the same type, binding, section, value and size.
    if (haveSymtab) {
      std::string version;
      if (!versym.empty() && (versym[i] & 0x7fff) >= 2)
        version = versionNames[versym[i] & 0x7fff];
      // GNU ld writes the version into .symtab names, lld does not.
      std::vector<std::string> keys;
      if (!staticVersions || version.empty())
        keys.push_back(name);
      if (staticVersions && !version.empty()) {
        keys.push_back(name + "@" + version);
        keys.push_back(name + "@@" + version);
      }
      bool found = false;
      for (const std::string &key : keys) {
        auto range = staticSyms.equal_range(key);
        for (auto it = range.first; it != range.second && !found; ++it) {
          const Elf64_Sym &t = it->second;
          found = t.st_info == s.st_info && t.st_other == s.st_other &&
                  t.st_shndx == s.st_shndx &&
                  t.st_value == s.st_value && t.st_size == s.st_size;
        }
      }
      if (!found)
        return symbolBad("disagrees with the file's symbol table (.symtab)");
    }
  }
  // The GNU hash table: the symbols from symoffset on are ordered by bucket,
  // each bucket points to its first symbol, each chain word is the symbol's
  // hash with bit 0 set on the last symbol of its bucket -- so every lookup
  // walks one bucket's symbols and stops.
  if (has(DT_GNU_HASH)) {
    const uint64_t n = hashBuckets.size();
    uint64_t previousBucket = 0;
    for (uint64_t b = 0; b < n; ++b)
      if (hashBuckets[b] != 0 &&
          (hashBuckets[b] < gnuSymoffset || hashBuckets[b] >= syms.size()))
        return bad("the GNU symbol hash table (DT_GNU_HASH) is corrupt");
    for (uint64_t i = gnuSymoffset; i < syms.size(); ++i) {
      std::string name;
      string(syms[i].st_name, name);
      uint32_t h = gnuHash(name);
      uint64_t b = h % n;
      bool firstOfBucket = i == gnuSymoffset || b != previousBucket;
      bool last = i + 1 == syms.size() ||
                  gnuHash([&] {
                    std::string next;
                    string(syms[i + 1].st_name, next);
                    return next;
                  }()) % n != b;
      uint32_t word = hashChains[i - gnuSymoffset];
      if ((i > gnuSymoffset && b < previousBucket) ||
          (firstOfBucket && hashBuckets[b] != i) ||
          (word | 1) != (h | 1) || ((word & 1) != 0) != last)
        return bad("the GNU symbol hash table (DT_GNU_HASH) is corrupt");
      previousBucket = b;
    }
  }
  return true;
}

/// Whether `address` lies in an executable segment of an object loaded in
/// this process (false when no loaded object holds it).
static bool isProcessCode(const void *address) {
  struct Query {
    uintptr_t address;
    bool code = false;
  } q{reinterpret_cast<uintptr_t>(address)};
  dl_iterate_phdr(
      [](dl_phdr_info *info, size_t, void *data) -> int {
        auto *q = static_cast<Query *>(data);
        for (int i = 0; i < info->dlpi_phnum; ++i) {
          const ElfW(Phdr) &ph = info->dlpi_phdr[i];
          uintptr_t start = info->dlpi_addr + ph.p_vaddr;
          if (ph.p_type == PT_LOAD && q->address >= start && q->address - start < ph.p_memsz) {
            q->code = (ph.p_flags & PF_X) != 0;
            return 1;
          }
        }
        return 0;
      },
      &q);
  return q.code;
}

bool Checker::checkRelocations() {
  struct Table {
    uint64_t at, bytes;
    bool plt;
  };
  std::vector<Table> tables;
  if (has(DT_RELA))
    tables.push_back({tag(DT_RELA), tag(DT_RELASZ), false});
  if (has(DT_JMPREL))
    tables.push_back({tag(DT_JMPREL), tag(DT_PLTRELSZ), true});
  std::map<uint64_t, std::pair<uint32_t, int64_t>> patched; // offset -> type
  std::set<uint64_t> jumpSyms, globSyms, referenced;
  const bool x86 = eh.e_machine == EM_X86_64;
  for (const Table &t : tables) {
    std::vector<Elf64_Rela> relocs;
    if (t.bytes % sizeof(Elf64_Rela) != 0 || t.bytes > size ||
        !loadOf(t.at, t.bytes, true) ||
        !readTable(t.at, t.bytes / sizeof(Elf64_Rela), relocs))
      return bad("a relocation table lies outside the loaded segments");
    if (!t.plt && tag(DT_RELACOUNT) > relocs.size())
      return bad("DT_RELACOUNT exceeds the number of relocations");
    for (size_t k = 0; k < relocs.size(); ++k) {
      const Elf64_Rela &r = relocs[k];
      uint32_t type = ELF64_R_TYPE(r.r_info);
      uint64_t sym = ELF64_R_SYM(r.r_info);
      auto relocBad = [&](const char *why) {
        return bad(format("relocation %zu of %s %s", k,
                          t.plt ? "DT_JMPREL" : "DT_RELA", why));
      };
      const Elf64_Phdr *ph = loadOf(r.r_offset, 8, false);
      if (!ph || !(ph->p_flags & PF_W))
        return bad("a relocation patches a place outside the loaded "
                   "segments");
      if (r.r_offset % 8 != 0)
        return relocBad("patches a misaligned place");
      if (r.r_offset + 8 > dynamicPh->p_vaddr &&
          r.r_offset < dynamicPh->p_vaddr + dynamicPh->p_memsz)
        return relocBad("patches the dynamic table");
      // The PLT's GOT: three words the loader owns, then the JUMP_SLOTs.
      if (has(DT_PLTGOT) && r.r_offset >= tag(DT_PLTGOT) &&
          r.r_offset - tag(DT_PLTGOT) < 24 + tag(DT_PLTRELSZ) / 3 &&
          (!t.plt || r.r_offset - tag(DT_PLTGOT) < 24))
        return relocBad("patches the PLT's GOT outside its own slot");
      if (sym >= syms.size())
        return bad("a relocation names a symbol outside the symbol table");
      if (!patched.emplace(r.r_offset, std::make_pair(type, r.r_addend))
               .second)
        return relocBad("patches a place another relocation patches");
      if (sym)
        referenced.insert(sym);
      if (!x86)
        continue;
      if (!isAllowedRelocType(type))
        return relocBad(type == R_X86_64_IRELATIVE
                            ? "is an IRELATIVE relocation (it would run code "
                              "of the library while loading)"
                            : "has a type the linker does not write into "
                              "model libraries");
      if (!t.plt && k < tag(DT_RELACOUNT) && type != R_X86_64_RELATIVE)
        return relocBad("is not RELATIVE but DT_RELACOUNT says it is");
      if (t.plt != (type == R_X86_64_JUMP_SLOT))
        return relocBad(t.plt ? "is not a JUMP_SLOT relocation"
                              : "is a JUMP_SLOT outside DT_JMPREL");
      const Elf64_Sym &s = syms[sym];
      unsigned symType = ELF64_ST_TYPE(s.st_info);
      switch (type) {
      case R_X86_64_RELATIVE:
        if (sym != 0 || r.r_addend < 0 ||
            !loadOf(static_cast<uint64_t>(r.r_addend), 0, false))
          return relocBad("points outside the image");
        break;
      case R_X86_64_JUMP_SLOT: {
        if (sym == 0 || (symType != STT_FUNC && symType != STT_NOTYPE) ||
            r.r_addend != 0 || !has(DT_PLTGOT) ||
            r.r_offset != tag(DT_PLTGOT) + 24 + 8 * k ||
            !jumpSyms.insert(sym).second)
          return relocBad("is not a JUMP_SLOT of its own function on its own "
                          "GOT slot");
        // A call through the slot: what this process already defines under
        // the name must be code. (A changed symbol index can make an import's
        // type NOTYPE name data: the sanitizer runtimes' imports, exempt from
        // the unused-import rule below, would not reveal it.)
        std::string callee;
        string(s.st_name, callee);
        if (void *target = dlsym(RTLD_DEFAULT, callee.c_str());
            target && !isProcessCode(target))
          return relocBad(format("calls '%s', which this process defines as "
                                 "data", callee.c_str()).c_str());
        break;
      }
      case R_X86_64_GLOB_DAT:
        if (sym == 0 || symType == STT_TLS || r.r_addend != 0 ||
            !globSyms.insert(sym).second)
          return relocBad("is not a GLOB_DAT of one symbol");
        break;
      case R_X86_64_64:
        if (sym == 0 || symType == STT_TLS)
          return relocBad("is an absolute relocation without a symbol");
        break;
      case R_X86_64_DTPMOD64:
        if (!tlsPh && sym == 0)
          return relocBad("names the thread-local block of a library without "
                          "one");
        if (r.r_addend != 0 || (sym && symType != STT_TLS))
          return relocBad("is a malformed DTPMOD64 relocation");
        break;
      default: // DTPOFF64, TPOFF64
        if (sym ? symType != STT_TLS
                : !tlsPh || r.r_addend < 0 ||
                      static_cast<uint64_t>(r.r_addend) >= tlsPh->p_memsz)
          return relocBad("points outside the thread-local block");
        break;
      }
    }
  }
  // Code reaches its thread-local block through a DTPMOD64 relocation.
  if (x86 && tlsPh && tlsPh->p_memsz &&
      std::none_of(patched.begin(), patched.end(), [](const auto &p) {
        return p.second.first == R_X86_64_DTPMOD64 ||
               p.second.first == R_X86_64_TPOFF64;
      }))
    return bad("it has a thread-local block (PT_TLS) but no relocation "
               "for it");
  // Every imported symbol is there because a relocation uses it (a symbol
  // index changed in a relocation leaves its own symbol unused), except weak
  // imports and the sanitizer runtimes' (an instrumented build links
  // __sanitizer_internal_memcpy and the like with no relocation).
  static const char *const kSanitizerPrefixes[] = {"__sanitizer_", "__asan_",
                                                    "__ubsan_", "__lsan_"};
  for (size_t i = 1; i < syms.size(); ++i)
    if (syms[i].st_shndx == SHN_UNDEF && !referenced.count(i)) {
      std::string name;
      string(syms[i].st_name, name);
      if (ELF64_ST_BIND(syms[i].st_info) == STB_WEAK)
        continue;
      if (std::any_of(std::begin(kSanitizerPrefixes), std::end(kSanitizerPrefixes),
                      [&](const char *p) { return name.rfind(p, 0) == 0; }))
        continue;
      return bad(format("imported symbol %zu ('%s') is used by no "
                        "relocation",
                        i, name.c_str()));
    }
  // The code the loader runs: init/fini arrays hold (after relocation) the
  // addresses of functions.
  for (auto [array, bytes] : {std::make_pair(DT_INIT_ARRAY, DT_INIT_ARRAYSZ),
                              std::make_pair(DT_FINI_ARRAY, DT_FINI_ARRAYSZ)}) {
    if (!has(array))
      continue;
    uint64_t at = tag(array), n = tag(bytes);
    if (n % 8 != 0 || n > (1u << 20) || !loadOf(at, n, true))
      return bad(format("%s lies outside the loaded segments",
                        tagName(array)));
    for (uint64_t slot = at; slot < at + n; slot += 8) {
      auto it = patched.find(slot);
      bool ok = false;
      if (it != patched.end() && x86) {
        auto [type, addend] = it->second;
        ok = type == R_X86_64_RELATIVE && addend >= 0 &&
             isFunctionStart(static_cast<uint64_t>(addend));
      } else if (it != patched.end()) {
        ok = true;
      }
      if (!ok)
        return bad(format("an entry of %s is not the address of a function",
                          tagName(array)));
    }
  }
  return true;
}

bool Checker::checkRelro() {
  if (!relroPh || shstrtab.empty())
    return true;
  // After relocation the loader makes [start, end) read-only, whole pages:
  // no data the code writes may be in there.
  const uint64_t page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  uint64_t start = relroPh->p_vaddr & ~(page - 1);
  uint64_t end = (relroPh->p_vaddr + relroPh->p_memsz) & ~(page - 1);
  for (const Elf64_Shdr &sh : shdrs) {
    if ((sh.sh_flags & (SHF_ALLOC | SHF_WRITE)) != (SHF_ALLOC | SHF_WRITE) ||
        (sh.sh_flags & SHF_TLS) || sh.sh_size == 0 ||
        sh.sh_name >= shstrtab.size())
      continue;
    std::string name = shstrtab.data() + sh.sh_name;
    // .relro_padding: LLVM's linker fills RELRO's last page with it (no data).
    if (name == ".init_array" || name == ".fini_array" || name == ".dynamic" ||
        name == ".got" || name.rfind(".data.rel.ro", 0) == 0 ||
        (name == ".relro_padding" && sh.sh_type == SHT_NOBITS))
      continue;
    if (name == ".got.plt") {
      // The reserved words may share RELRO's last page; the slots written
      // by the loader come after RELRO.
      if (sh.sh_addr + std::min<uint64_t>(24, sh.sh_size) < end &&
          sh.sh_addr + sh.sh_size > start)
        return bad("the read-only-after-relocation segment (PT_GNU_RELRO) "
                   "covers the PLT's GOT");
      continue;
    }
    if (sh.sh_addr < end && sh.sh_addr + sh.sh_size > start)
      return bad("the read-only-after-relocation segment (PT_GNU_RELRO) "
                 "covers writable data");
  }
  return true;
}

bool Checker::run() {
  return checkHeader() && checkProgramHeaders() && checkSections() &&
         checkDynamic() && checkHash() && checkVersions() && checkSymbols() &&
         checkRelocations() && checkRelro();
}

} // namespace

attn_status attn::rt::checkModelElf(const std::string &path) {
  const char *p = path.c_str();
  int fd = open(p, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return fail(ATTN_ERR_IO, format("cannot open model library '%s': %s", p,
                                    std::strerror(errno)));
  struct Closer {
    int fd;
    ~Closer() { close(fd); }
  } closer{fd};
  struct stat st;
  if (fstat(fd, &st) != 0)
    return fail(ATTN_ERR_IO, format("cannot open model library '%s': %s", p,
                                    std::strerror(errno)));
  if (!S_ISREG(st.st_mode))
    return fail(ATTN_ERR_LOAD,
                format("cannot load model library '%s': not a regular file",
                       p));
  Checker checker(fd, static_cast<uint64_t>(st.st_size));
  if (!checker.run())
    return fail(ATTN_ERR_LOAD, format("cannot load model library '%s': %s", p,
                                      checker.error.c_str()));
  return ATTN_OK;
}
