/* dsd_embedded: files compiled into the binary, so that a copied dsdeploy carries its flag catalogs
 * and stock backends (embedded.c; the list is scripts/gen-embedded.py's embedded_files.h). */
#ifndef DSD_EMBEDDED_H
#define DSD_EMBEDDED_H
#include <stddef.h>

typedef struct {
    const char *name;            /* "catalogs/index.json", "templates/vllm.yaml" */
    const unsigned char *data;   /* the file's bytes (not NUL-terminated) */
    const unsigned char *end;    /* just past them */
} dsd_embedded_file;

/* All embedded files, sorted by name; *count receives how many. */
const dsd_embedded_file *dsd_embedded_files(size_t *count);

#endif
