# Writes OUT (a C header) with the project version and the git commit of SRC;
# run at every build, it rewrites OUT only when the text changes.
execute_process(COMMAND git -C "${SRC}" describe --always --dirty --abbrev=12
                OUTPUT_VARIABLE hash OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET
                RESULT_VARIABLE rc)
if(NOT rc EQUAL 0 OR hash STREQUAL "")
  set(hash "unknown")
endif()
set(text "#define ATTN_VERSION \"${VERSION}\"\n#define ATTN_GIT_COMMIT \"${hash}\"\n#define ATTN_LLVM_VERSION \"${LLVM_VERSION}\"\n")
if(EXISTS "${OUT}")
  file(READ "${OUT}" old)
else()
  set(old "")
endif()
if(NOT old STREQUAL text)
  file(WRITE "${OUT}" "${text}")
endif()
