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

#define EMBED(id, name, path, sha) \
    {name, dsd_embedded_##id##_start, 0},
static dsd_embedded_file files[] = {
#include "embedded_files.h"
};
#undef EMBED

#define EMBED(id, name, path, sha) \
    files[id].size = (size_t)(dsd_embedded_##id##_end - dsd_embedded_##id##_start);
static void measure(void) {
#include "embedded_files.h"
}
#undef EMBED

const dsd_embedded_file *dsd_embedded_files(size_t *count) {
    /* Sizes are label differences across an .incbin, which the C compiler cannot fold into a
     * constant initialiser; they are filled in on first use (idempotent, so a race is harmless). */
    static int measured;
    if (!__atomic_load_n(&measured, __ATOMIC_ACQUIRE)) {
        measure();
        __atomic_store_n(&measured, 1, __ATOMIC_RELEASE);
    }
    *count = sizeof files / sizeof files[0];
    return files;
}
