/* meta_int.h -- private to the meta module: what one implementation file needs from
 * another. meta_gate.c opens its own connection to the database meta_sqlite.c owns. */
#ifndef TG_META_INT_H
#define TG_META_INT_H

struct meta;
/* The absolute path of meta.db. */
const char *meta_sqlite_path(const struct meta *m);

#endif
