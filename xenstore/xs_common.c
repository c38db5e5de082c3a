/* SPDX-License-Identifier: MIT */
/* Helpers shared by the store daemon and the client library. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "xenstore/xs_internal.h"

/* EQUOTA is listed in ring/xs_wire.h but is no Linux errno (and not in Xen's
 * own table): a client maps it to EDQUOT. The store never sends it (it
 * answers over-quota requests with ENOSPC/E2BIG exactly as xenstored does). */
#ifndef EQUOTA
#define EQUOTA EDQUOT
#endif

static const struct {
	int err;
	const char *name;
} xs_errors[] = {
#define X(e) { e, #e },
	PVIO_XS_ERRORS(X)
#undef X
};

const char *pvio__xs_errname(int err)
{
	if (err < 0)
		err = -err;
	for (size_t i = 0; i < sizeof(xs_errors) / sizeof(xs_errors[0]); i++)
		if (xs_errors[i].err == err)
			return xs_errors[i].name;
	return "EINVAL";
}

int pvio__xs_errno(const char *name, size_t len)
{
	if (len && name[len - 1] == '\0')
		len--;
	for (size_t i = 0; i < sizeof(xs_errors) / sizeof(xs_errors[0]); i++)
		if (strlen(xs_errors[i].name) == len && !memcmp(xs_errors[i].name, name, len))
			return xs_errors[i].err;
	return EINVAL;
}

int pvio__xs_perm_parse(const char *s, uint8_t *perms, uint16_t *domid)
{
	uint32_t id;

	switch (s[0]) {
	case 'n': *perms = XS_P_NONE; break;
	case 'r': *perms = XS_P_READ; break;
	case 'w': *perms = XS_P_WRITE; break;
	case 'b': *perms = XS_P_READ | XS_P_WRITE; break;
	default: return -EINVAL;
	}
	if (pvio__xs_parse_u32(s + 1, &id) || id > 0xffff)
		return -EINVAL;
	*domid = (uint16_t)id;
	return 0;
}

int pvio__xs_perm_format(char *buf, uint8_t perms, uint16_t domid)
{
	static const char letters[4] = { 'n', 'r', 'w', 'b' };

	return sprintf(buf, "%c%u", letters[perms & 3], (unsigned)domid);
}

bool pvio__xs_valid_chars(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '/' || c == '_' || c == '@'))
			return false;
	}
	return true;
}

bool pvio__xs_is_child(const char *child, size_t clen, const char *parent, size_t plen)
{
	if (plen == 1 && parent[0] == '/')
		return child[0] == '/';
	if (clen < plen || memcmp(child, parent, plen))
		return false;
	return clen == plen || child[plen] == '/';
}

unsigned pvio__xs_count_strings(const char *buf, size_t len)
{
	unsigned n = 0;

	for (size_t i = 0; i < len; i++)
		if (buf[i] == '\0')
			n++;
	return n;
}

int pvio__xs_parse_u32(const char *s, uint32_t *out)
{
	uint64_t v = 0;

	if (!*s)
		return -EINVAL;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -EINVAL;
		v = v * 10 + (uint64_t)(*s - '0');
		if (v > UINT32_MAX)
			return -EINVAL;
	}
	*out = (uint32_t)v;
	return 0;
}
