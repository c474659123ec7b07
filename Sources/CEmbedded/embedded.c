/* The files of embedded_files.h, compiled in with the assembler's .incbin, which finds them through
 * the package root on the include path (Package.swift). A plain byte array would be the portable way,
 * but as generated source the 2.6 MB of catalogs take the Swift compiler minutes (SwiftPM's
 * embedInCode: 9 minutes, measured) and a C array tens of MB of source; .incbin reads the files as
 * they are, in milliseconds. */
#include "dsd_embedded.h"

#define EMBED(id, name, path, sha)                                  \
    __asm__(".section .rodata\n"                                      \
            ".balign 16\n"                                            \
            ".hidden dsd_embedded_" #id "_start\n"                    \
            ".hidden dsd_embedded_" #id "_end\n"                      \
            ".globl dsd_embedded_" #id "_start\n"                     \
            ".globl dsd_embedded_" #id "_end\n"                       \
            "dsd_embedded_" #id "_start:\n"                           \
            ".incbin \"" path "\"\n"                                  \
            "dsd_embedded_" #id "_end:\n"                             \
            ".previous\n");                                           \
    extern const unsigned char dsd_embedded_##id##_start[], dsd_embedded_##id##_end[];
#include "embedded_files.h"
#undef EMBED

/* The bounds are link-time constants (their difference is not, to the C compiler: the reader takes it). */
#define EMBED(id, name, path, sha) \
    {name, dsd_embedded_##id##_start, dsd_embedded_##id##_end},
static const dsd_embedded_file files[] = {
#include "embedded_files.h"
};
#undef EMBED

const dsd_embedded_file *dsd_embedded_files(size_t *count) {
    *count = sizeof files / sizeof files[0];
    return files;
}
