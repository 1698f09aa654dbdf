/* meta_int.h -- private to the meta module: what one implementation file needs from
 * another. meta_gate.c opens its own connection to the database meta_sqlite.c owns. */
#ifndef TG_META_INT_H
#define TG_META_INT_H

#include <stdbool.h>
#include <stdint.h>

struct meta;
/* The absolute path of meta.db. */
const char *meta_sqlite_path(const struct meta *m);
/* The metadata generation (DIR/keys.gen, memory-mapped by every process using DIR):
 * bumped after every change a running server caches (access keys, grant epochs).
 * 0 when the file could not be mapped (then nothing may be cached). */
uint64_t meta_gen_load(const struct meta *m);
void meta_gen_bump(struct meta *m);
bool meta_gen_enabled(const struct meta *m);

#endif
