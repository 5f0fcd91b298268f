//===- Elf.cpp - checks a model library's ELF structure before dlopen -----===//
//
// dlopen() trusts the file it maps: a truncated library (a copy that was cut
// short, a download in progress) has program headers describing segments
// beyond the end of the file, and the first touch of such a page kills the
// process with SIGBUS; a 32-bit or foreign-architecture library only gets an
// obscure dlerror(). This file reads the headers with plain reads (nothing is
// mapped) and refuses anything the dynamic loader could not map safely, with
// a message naming the file:
//
//  - ELF magic, ELFCLASS64, little endian, ELF version 1, the host's
//    e_machine, ET_DYN (a shared library);
//  - the program header table inside the file, every PT_LOAD and PT_DYNAMIC
//    segment's file bytes [p_offset, p_offset + p_filesz) inside the file,
//    p_filesz <= p_memsz for PT_LOAD, the dynamic segment inside a loaded
//    segment, and the dynamic table's pointers (string and symbol tables,
//    hash tables, relocations, init/fini arrays) inside loaded segments;
//  - the section header table and every section's file bytes (except
//    SHT_NOBITS) inside the file.
//
//===----------------------------------------------------------------------===//

#include "Internal.h"

#include <cerrno>
#include <cstring>
#include <elf.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

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

/// Dynamic-table tags whose value is an address in the loaded image that the
/// dynamic loader reads while loading or resolving symbols.
bool isAddressTag(int64_t tag) {
  switch (tag) {
  case DT_PLTGOT:
  case DT_HASH:
  case DT_GNU_HASH:
  case DT_STRTAB:
  case DT_SYMTAB:
  case DT_RELA:
  case DT_REL:
#ifdef DT_RELR
  case DT_RELR:
#endif
  case DT_JMPREL:
  case DT_INIT:
  case DT_FINI:
  case DT_INIT_ARRAY:
  case DT_FINI_ARRAY:
  case DT_PREINIT_ARRAY:
  case DT_VERSYM:
  case DT_VERDEF:
  case DT_VERNEED:
    return true;
  default:
    return false;
  }
}

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
  case DT_REL:
    return "DT_REL";
#ifdef DT_RELR
  case DT_RELR:
    return "DT_RELR";
#endif
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
  case DT_PREINIT_ARRAY:
    return "DT_PREINIT_ARRAY";
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
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  auto bad = [&](const std::string &why) {
    return fail(ATTN_ERR_LOAD,
                format("cannot load model library '%s': %s", p, why.c_str()));
  };
  auto truncated = [&](const std::string &what) {
    return bad(format("the file is truncated or corrupt: %s lies beyond its "
                      "end (%llu bytes)",
                      what.c_str(), static_cast<unsigned long long>(size)));
  };

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

  Elf64_Ehdr eh;
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
  if (eh.e_ehsize != sizeof(Elf64_Ehdr))
    return bad(format("unexpected ELF header size %u", eh.e_ehsize));

  // Program headers: what dlopen maps.
  if (eh.e_phnum == 0 || eh.e_phnum == PN_XNUM)
    return bad("no program headers");
  if (eh.e_phentsize != sizeof(Elf64_Phdr))
    return bad(format("unexpected program header size %u", eh.e_phentsize));
  const uint64_t phSize = uint64_t(eh.e_phnum) * sizeof(Elf64_Phdr);
  if (!inside(eh.e_phoff, phSize, size))
    return truncated("the program header table");
  std::vector<Elf64_Phdr> phdrs(eh.e_phnum);
  if (!readAt(fd, eh.e_phoff, phdrs.data(), phSize))
    return truncated("the program header table");
  const Elf64_Phdr *dynamic = nullptr;
  size_t numLoads = 0;
  for (size_t i = 0; i < phdrs.size(); ++i) {
    const Elf64_Phdr &ph = phdrs[i];
    if (ph.p_type != PT_LOAD && ph.p_type != PT_DYNAMIC)
      continue;
    const char *kind = ph.p_type == PT_LOAD ? "PT_LOAD" : "PT_DYNAMIC";
    if (ph.p_filesz != 0 && !inside(ph.p_offset, ph.p_filesz, size))
      return truncated(format("segment %zu (%s, file bytes [%llu, %llu))", i,
                              kind, (unsigned long long)ph.p_offset,
                              (unsigned long long)(ph.p_offset + ph.p_filesz)));
    if (ph.p_type == PT_LOAD) {
      ++numLoads;
      if (ph.p_filesz > ph.p_memsz || ph.p_vaddr + ph.p_memsz < ph.p_vaddr)
        return bad(format("segment %zu (PT_LOAD) has inconsistent sizes", i));
    } else {
      if (dynamic)
        return bad("two PT_DYNAMIC segments");
      dynamic = &ph;
    }
  }
  if (numLoads == 0)
    return bad("no loadable segment");

  // The loader reads the dynamic table and the tables it points to from the
  // mapped image: they must lie in the file-backed part of a PT_LOAD.
  auto mapped = [&](uint64_t vaddr, uint64_t bytes, bool fileBacked) {
    for (const Elf64_Phdr &ph : phdrs) {
      if (ph.p_type != PT_LOAD)
        continue;
      uint64_t extent = fileBacked ? ph.p_filesz : ph.p_memsz;
      if (vaddr >= ph.p_vaddr && vaddr - ph.p_vaddr <= extent &&
          bytes <= extent - (vaddr - ph.p_vaddr))
        return true;
    }
    return false;
  };
  // Section headers: unused by the loader, but a cut-off or garbled table
  // means the file is not what the compiler wrote, and the sections the
  // loader's tables live in tell how many dynamic symbols there are.
  std::vector<Elf64_Shdr> shdrs;
  if (eh.e_shoff != 0 || eh.e_shnum != 0) {
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
                                (unsigned long long)(sh.sh_offset +
                                                     sh.sh_size)));
      // A section of the image must be inside a loaded segment, at the file
      // offset the segment maps (else the program headers were altered).
      if (!(sh.sh_flags & SHF_ALLOC) || (nobits && (sh.sh_flags & SHF_TLS)))
        continue;
      bool covered = false;
      for (const Elf64_Phdr &ph : phdrs) {
        if (ph.p_type != PT_LOAD || sh.sh_addr < ph.p_vaddr)
          continue;
        uint64_t rel = sh.sh_addr - ph.p_vaddr;
        uint64_t extent = nobits ? ph.p_memsz : ph.p_filesz;
        if (rel > extent || sh.sh_size > extent - rel)
          continue;
        covered = nobits || sh.sh_offset - ph.p_offset == rel;
        if (covered)
          break;
      }
      if (!covered)
        return bad(format("section %zu lies outside the loaded segments (the "
                          "program headers are corrupt)",
                          i));
    }
  }

  if (dynamic) {
    if (dynamic->p_filesz % sizeof(Elf64_Dyn) != 0 ||
        dynamic->p_filesz > (64u << 20))
      return bad("malformed dynamic segment");
    if (!mapped(dynamic->p_vaddr, dynamic->p_filesz, /*fileBacked=*/true))
      return bad("the dynamic segment lies outside the loaded segments");
    std::vector<Elf64_Dyn> dyns(dynamic->p_filesz / sizeof(Elf64_Dyn));
    if (!dyns.empty() &&
        !readAt(fd, dynamic->p_offset, dyns.data(), dynamic->p_filesz))
      return truncated("the dynamic segment");
    uint64_t strtab = 0, strsz = 0, symtab = 0, hash = 0;
    uint64_t rela = 0, relasz = 0, jmprel = 0, pltrelsz = 0;
    bool haveStrtab = false, haveSymtab = false, haveHash = false;
    std::vector<uint64_t> names; // offsets into the string table
    for (const Elf64_Dyn &d : dyns) {
      if (d.d_tag == DT_NULL)
        break;
      // DT_INIT/DT_FINI and the arrays may point into memory-only parts
      // (.bss is zero-filled, not read from the file); the tables the
      // loader parses must come from the file.
      if (isAddressTag(d.d_tag) &&
          !mapped(d.d_un.d_ptr, 1,
                  /*fileBacked=*/d.d_tag != DT_PLTGOT &&
                      d.d_tag != DT_INIT_ARRAY && d.d_tag != DT_FINI_ARRAY &&
                      d.d_tag != DT_PREINIT_ARRAY))
        return bad(format("%s points outside the loaded segments",
                          tagName(d.d_tag)));
      uint64_t v = d.d_un.d_val;
      switch (d.d_tag) {
      case DT_STRTAB:
        strtab = v, haveStrtab = true;
        break;
      case DT_STRSZ:
        strsz = v;
        break;
      case DT_SYMTAB:
        symtab = v, haveSymtab = true;
        break;
      case DT_HASH:
        hash = v, haveHash = true;
        break;
      case DT_SYMENT:
        if (v != sizeof(Elf64_Sym))
          return bad("unexpected dynamic symbol size");
        break;
      case DT_RELA:
        rela = v;
        break;
      case DT_RELASZ:
        relasz = v;
        break;
      case DT_RELAENT:
        if (v != sizeof(Elf64_Rela))
          return bad("unexpected relocation entry size");
        break;
      case DT_JMPREL:
        jmprel = v;
        break;
      case DT_PLTRELSZ:
        pltrelsz = v;
        break;
      case DT_PLTREL:
        if (v != DT_RELA)
          return bad("unexpected PLT relocation kind");
        break;
      case DT_NEEDED:
      case DT_SONAME:
      case DT_RPATH:
      case DT_RUNPATH:
        names.push_back(v);
        break;
      default:
        break;
      }
    }
    // Names of needed libraries, the soname and search paths: NUL-ended
    // strings inside the string table.
    if (!haveStrtab && !names.empty())
      return bad("dynamic entries name strings but there is no DT_STRTAB");
    if (haveStrtab) {
      if (strsz == 0 || strsz > size || !mapped(strtab, strsz, true))
        return bad("the dynamic string table lies outside the loaded "
                   "segments");
      char last = 1;
      uint64_t strOffset = 0;
      for (const Elf64_Phdr &ph : phdrs)
        if (ph.p_type == PT_LOAD && strtab >= ph.p_vaddr &&
            strtab - ph.p_vaddr < ph.p_filesz) {
          strOffset = ph.p_offset + (strtab - ph.p_vaddr);
          break;
        }
      if (!readAt(fd, strOffset + strsz - 1, &last, 1) || last != '\0')
        return bad("the dynamic string table is not NUL-terminated");
      for (uint64_t n : names)
        if (n >= strsz)
          return bad("a dynamic entry names a string outside the string "
                     "table");
    }
    // How many dynamic symbols there are: DT_HASH says, else the .dynsym
    // section.
    uint64_t numSyms = 0;
    bool knowSyms = false;
    if (haveHash) {
      uint32_t header[2];
      uint64_t off = 0;
      if (!mapped(hash, sizeof(header), true))
        return bad("DT_HASH points outside the loaded segments");
      for (const Elf64_Phdr &ph : phdrs)
        if (ph.p_type == PT_LOAD && hash >= ph.p_vaddr &&
            hash - ph.p_vaddr < ph.p_filesz) {
          off = ph.p_offset + (hash - ph.p_vaddr);
          break;
        }
      if (!readAt(fd, off, header, sizeof(header)))
        return truncated("the symbol hash table");
      numSyms = header[1], knowSyms = true;
    } else {
      for (const Elf64_Shdr &sh : shdrs)
        if (sh.sh_type == SHT_DYNSYM && haveSymtab && sh.sh_addr == symtab) {
          numSyms = sh.sh_size / sizeof(Elf64_Sym), knowSyms = true;
          break;
        }
    }
    if (knowSyms && haveSymtab &&
        (numSyms > size / sizeof(Elf64_Sym) ||
         !mapped(symtab, numSyms * sizeof(Elf64_Sym), true)))
      return bad("the dynamic symbol table lies outside the loaded segments");
    // Relocations: inside the file, each patching a place in the image and
    // naming an existing symbol.
    auto fileOffset = [&](uint64_t vaddr) -> uint64_t {
      for (const Elf64_Phdr &ph : phdrs)
        if (ph.p_type == PT_LOAD && vaddr >= ph.p_vaddr &&
            vaddr - ph.p_vaddr < ph.p_filesz)
          return ph.p_offset + (vaddr - ph.p_vaddr);
      return 0;
    };
    const std::pair<uint64_t, uint64_t> tables[] = {{rela, relasz},
                                                    {jmprel, pltrelsz}};
    for (const auto &[table, bytes] : tables) {
      if (bytes == 0)
        continue;
      if (bytes % sizeof(Elf64_Rela) != 0 || bytes > size ||
          !mapped(table, bytes, true))
        return bad("a relocation table lies outside the loaded segments");
      std::vector<Elf64_Rela> relocs(bytes / sizeof(Elf64_Rela));
      if (!readAt(fd, fileOffset(table), relocs.data(), bytes))
        return truncated("a relocation table");
      for (const Elf64_Rela &r : relocs) {
        if (!mapped(r.r_offset, sizeof(uint64_t), /*fileBacked=*/false))
          return bad("a relocation patches a place outside the loaded "
                     "segments");
        if (knowSyms && ELF64_R_SYM(r.r_info) >= numSyms)
          return bad("a relocation names a symbol outside the symbol table");
      }
    }
  }
  return ATTN_OK;
}
