/* meta.h -- the metadata interface: the server secret, S3 access keys and the admin
 * key (later: tokens, grant state, link horizons, analytics). SQLite (DIR/meta.db,
 * WAL) now; PostgreSQL later behind the same functions.
 *
 * Secrets on disk: DIR/secret (32 random bytes, 0600) is the only secret kept in the
 * clear, as DESIGN.md says. S3 secret access keys are derived from it
 * (HMAC(secret, "s3key|" id)), so meta.db holds only ids, labels and states; the
 * admin key is stored as its SHA-256. Deleting a key takes effect on the next
 * request of every process using DIR (no cache outlives a database change). */
#ifndef TG_META_H
#define TG_META_H

#include <stdbool.h>
#include <stdint.h>

#include "util/util.h"

#define META_SECRET_LEN 32
#define META_AKID_LEN 20       /* "TG" + 18 characters of [A-Z0-9] */
#define META_SECRET_KEY_LEN 40 /* like AWS secret access keys */
#define META_ADMIN_KEY_LEN 36  /* "tga_" + 32 base64url characters */
#define META_LABEL_MAX 128

/* DIR/secret: create (refuses to overwrite) / load (refuses a file readable by
 * group or others, or of the wrong size). */
int meta_secret_create(const char *data_dir);
int meta_secret_load(const char *data_dir, uint8_t out[META_SECRET_LEN], char **err);

struct meta;
/* Opens DIR/meta.db (creating its tables). The secret is copied and wiped on close. */
int meta_open(const char *data_dir, const uint8_t secret[META_SECRET_LEN], struct meta **out);
void meta_close(struct meta *m); /* NULL-safe */

/* Access keys. kind: "s3" (full S3 access) or "portal" (used to sign member links). */
struct meta_key {
    char akid[META_AKID_LEN + 1];
    char kind[16];
    char label[META_LABEL_MAX];
    int64_t created_us;
};
int meta_key_create(struct meta *m, const char *kind, const char *label, struct meta_key *out,
                    char secret[META_SECRET_KEY_LEN + 1]);
/* The derived secret of a live key; -ERR_INVALID_ACCESS_KEY when unknown or deleted. */
int meta_key_secret(struct meta *m, struct str akid, char *secret, size_t cap);
int meta_key_delete(struct meta *m, struct str akid); /* -ERR_NOT_FOUND */
int meta_key_list(struct meta *m, int (*fn)(void *ctx, const struct meta_key *k), void *ctx);

/* Admin key: a new one replaces the old (printed once, stored hashed). */
int meta_admin_key_create(struct meta *m, char out[META_ADMIN_KEY_LEN + 1]);
bool meta_admin_key_check(struct meta *m, struct str key);

#endif
