//===- FuzzSupport.h - shared helpers of the libFuzzer targets -*- C++ -*-===//
//
// The entry points under test read files (importOnnxFile, attn_npy_load have
// no in-memory variant), so every input is written to a private directory in
// /dev/shm (memory-backed; /tmp when /dev/shm is missing) made once per
// process and removed at exit.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_FUZZ_FUZZSUPPORT_H
#define ATTN_FUZZ_FUZZSUPPORT_H

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

// allow_user_poisoning=0: LLVM's headers poison BumpPtrAllocator slabs when
// the including file is built with ASan and unpoison each allocation from
// them; Debian's libLLVM/libMLIR are built without ASan, so their inlined
// copies of Allocate never unpoison, and memory allocated there from a slab
// our code started reads as "use-after-poison" (a false positive). Only
// this manual poisoning is turned off; heap, stack and global checks stay.
// (Included by exactly one file per fuzzer executable.)
extern "C" const char *__asan_default_options() {
  return "allow_user_poisoning=0";
}

namespace attn_fuzz {

inline std::string &scratchDir() {
  static std::string dir;
  return dir;
}

inline void removeScratchDir() {
  const std::string &dir = scratchDir();
  if (dir.empty())
    return;
  if (DIR *d = opendir(dir.c_str())) {
    while (dirent *e = readdir(d)) {
      std::string name = e->d_name;
      if (name != "." && name != "..")
        unlink((dir + "/" + name).c_str());
    }
    closedir(d);
  }
  rmdir(dir.c_str());
}

/// Creates the scratch directory (once) and returns it.
inline const std::string &ensureScratchDir() {
  std::string &dir = scratchDir();
  if (!dir.empty())
    return dir;
  for (const char *base : {"/dev/shm", "/tmp"}) {
    std::string tmpl = std::string(base) + "/attn-fuzz-XXXXXX";
    if (mkdtemp(tmpl.data())) {
      dir = tmpl;
      atexit(removeScratchDir);
      return dir;
    }
  }
  perror("attn-fuzz: cannot create a scratch directory");
  abort();
}

/// Writes `data` to `<scratch>/<name>` and returns the path.
inline std::string writeScratchFile(const char *name, const uint8_t *data,
                                    size_t size) {
  std::string path = ensureScratchDir() + "/" + name;
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) {
    perror(path.c_str());
    abort();
  }
  size_t done = 0;
  while (done < size) {
    ssize_t n = write(fd, data + done, size - done);
    if (n <= 0) {
      perror(path.c_str());
      abort();
    }
    done += size_t(n);
  }
  close(fd);
  return path;
}

} // namespace attn_fuzz

#endif
