/* SPDX-License-Identifier: MIT */
/*
 * Helpers shared by the store daemon (xsd*.c) and the client library (xs.c):
 * error names on the wire, permission strings, path checks.
 */
#ifndef PVIO_XS_INTERNAL_H
#define PVIO_XS_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ring/xs_wire.h"

/* Permission bits of one ACL entry (Xen's XS_PERM_*). OWNER is never stored,
 * only computed for a connection. */
#define XS_P_NONE   0u
#define XS_P_READ   1u
#define XS_P_WRITE  2u
#define XS_P_OWNER  4u

/* errno -> "ENOENT" (EINVAL for anything Xen has no name for). */
const char *pvio__xs_errname(int err);
/* "ENOENT" (len bytes, NUL optional) -> ENOENT; unknown names -> EINVAL. */
int pvio__xs_errno(const char *name, size_t len);

/* "b12" -> perms/domid. Returns 0 or -EINVAL. */
int pvio__xs_perm_parse(const char *s, uint8_t *perms, uint16_t *domid);
/* Formats "b12" into buf (>= 8 bytes); returns the length without NUL. */
int pvio__xs_perm_format(char *buf, uint8_t perms, uint16_t domid);

/* True if s (len bytes) contains only the characters Xen allows in paths. */
bool pvio__xs_valid_chars(const char *s, size_t len);

/* Is child a descendant of (or equal to) parent? "/" is everyone's parent. */
bool pvio__xs_is_child(const char *child, size_t clen, const char *parent, size_t plen);

/* Counts the NUL-terminated strings in buf[0..len) (trailing bytes without a
 * NUL are not counted), as Xen's get_strings(). */
unsigned pvio__xs_count_strings(const char *buf, size_t len);

/* Parses a decimal u32 with nothing after it; -EINVAL otherwise. */
int pvio__xs_parse_u32(const char *s, uint32_t *out);

#endif /* PVIO_XS_INTERNAL_H */
