/* SPDX-License-Identifier: MIT */
/*
 * A message into a caller's error buffer (char *err, size_t len; either
 * may be NULL/0: nothing written), for every layer: header-only, needs
 * nothing but libc.
 *
 *	pvio_errbuf(err, errlen, "%s: not a number", key);
 */
#ifndef PVIO_ERRBUF_H
#define PVIO_ERRBUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

static inline void pvio_verrbuf(char *err, size_t len, const char *fmt, va_list ap)
{
	if (err && len)
		vsnprintf(err, len, fmt, ap);
}

static inline void pvio_errbuf(char *err, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static inline void pvio_errbuf(char *err, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	pvio_verrbuf(err, len, fmt, ap);
	va_end(ap);
}

#endif
