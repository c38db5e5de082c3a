/* SPDX-License-Identifier: MIT */
/*
 * xl's domain configuration file syntax (xl.cfg(5), libxlu's role): a
 * series of KEY=VALUE settings separated by newlines or ';', '#' comments,
 * and values that are
 *   "STRING" or 'STRING'   (C-like escapes: \n \t \\ \" \' \xHH \ooo ...)
 *   NUMBER                 (kept as its text: 512, 0x200, 0755)
 *   [ VALUE, VALUE, ... ]  (lists, possibly nested, over several lines,
 *                           a trailing comma allowed)
 * `KEY += VALUE` appends to an earlier string or list of that key (which
 * gives its value up to the new setting: it is shadowed anyway, and a file
 * of `KEY += ...` lines must not cost memory quadratic in its size). A key
 * set twice keeps its last value (xl's rule).
 *
 * The parser takes hostile input: bounded size, depth and counts; every
 * error names the source and line.
 */
#ifndef PVIO_XLCFG_H
#define PVIO_XLCFG_H

#include <stdbool.h>
#include <stddef.h>

#define PVIO_XLCFG_MAX_BYTES   (1u << 20)   /* a config file larger is refused */
#define PVIO_XLCFG_MAX_DEPTH   8            /* nested lists */
#define PVIO_XLCFG_MAX_ITEMS   4096         /* values in one list */
#define PVIO_XLCFG_MAX_SETTINGS 4096        /* KEY=VALUE lines in one config */

enum pvio_xlcfg_type {
	PVIO_XLCFG_STRING,     /* quoted string or bare number (see .quoted) */
	PVIO_XLCFG_LIST,
};

struct pvio_xlcfg_value {
	enum pvio_xlcfg_type type;
	unsigned line;                    /* where the value starts */
	bool quoted;                      /* a "STRING", not a NUMBER */
	char *str;                        /* STRING */
	struct pvio_xlcfg_value **items;  /* LIST */
	unsigned n;
};

struct pvio_xlcfg_setting {
	char *key;
	unsigned line;
	struct pvio_xlcfg_value *val;
};

struct pvio_xlcfg {
	struct pvio_xlcfg_setting *set;   /* in file order; a key may repeat */
	unsigned n, cap;
};

/* Parse text (len bytes; NULs refused) named source in messages, adding its
 * settings to *cfg (which starts zeroed or holds earlier settings: a command
 * line's overrides are parsed into the file's config). On a syntax error (or
 * more than PVIO_XLCFG_MAX_SETTINGS settings in cfg) returns -EINVAL with
 * "source:line: what" in err; -ENOMEM, -EFBIG. */
int pvio_xlcfg_parse(struct pvio_xlcfg *cfg, const char *text, size_t len, const char *source,
		     char *err, size_t errlen);
/* Read path and parse it. -errno of open/read with "path: why" in err. */
int pvio_xlcfg_load(struct pvio_xlcfg *cfg, const char *path, char *err, size_t errlen);
/* The setting in force for key (the last one), or NULL. */
const struct pvio_xlcfg_setting *pvio_xlcfg_get(const struct pvio_xlcfg *cfg, const char *key);
void pvio_xlcfg_free(struct pvio_xlcfg *cfg);

/* Does xl(1) know this key (xl.cfg(5))? For telling a typo from an option
 * that pvio has no use for. */
bool pvio_xlcfg_xl_knows(const char *key);

#endif /* PVIO_XLCFG_H */
