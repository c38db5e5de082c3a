/* SPDX-License-Identifier: MIT */
/*
 * Xen's side of the ABI conformance test: Xen's public headers only (never
 * pvio's), with __XEN_TOOLS__ so that the latest interface version (v2
 * grant entries, grant_entry_v1 under that name) is visible.
 */
#include <errno.h>     /* xs_wire.h defines xsd_errors[] only if EINVAL is */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/abi/abi_table.h"

#if defined(__has_include)
#if __has_include(<xen/io/ring.h>) && __has_include(<xen/io/blkif.h>) && \
    __has_include(<xen/io/netif.h>) && __has_include(<xen/grant_table.h>) && \
    __has_include(<xen/io/xs_wire.h>) && __has_include(<xen/io/xenbus.h>) && \
    __has_include(<xen/io/protocols.h>)
#define HAVE_XEN_HEADERS 1
#endif
#endif

#ifdef HAVE_XEN_HEADERS

#ifndef __XEN_TOOLS__
#error "build with -D__XEN_TOOLS__ (tests/abi/module.mk)"
#endif

/* ring.h uses these but never defines them (XEN-ABI-NOTES §1). */
#define xen_mb()  __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define xen_rmb() __atomic_thread_fence(__ATOMIC_ACQUIRE)
#define xen_wmb() __atomic_thread_fence(__ATOMIC_RELEASE)
#define XEN_NETIF_DEFINE_TOEPLITZ 1

#include <xen/io/ring.h>
#include <xen/io/blkif.h>
#include <xen/io/netif.h>
#include <xen/grant_table.h>
#include <xen/io/xs_wire.h>
#include <xen/io/xenbus.h>
#include <xen/io/protocols.h>

#include "tests/abi/xen_expand.h"

#define MAX_ROWS 1024
static struct abi_row rows[MAX_ROWS];
static size_t nrows;

static void push(const char *key, long long value)
{
	if (nrows == MAX_ROWS) {
		fprintf(stderr, "xen_side: more than %d rows\n", MAX_ROWS);
		exit(1);
	}
	rows[nrows].key = key;
	rows[nrows].value = value;
	nrows++;
}

int xen_headers_present(void)
{
	return 1;
}

size_t xen_rows(const struct abi_row **out)
{
#define ABI_ROW(k, v) push((k), (long long)(v))
	if (nrows == 0) {
		ABI_COMMON_LAYOUT(XEN_S, XEN_F, XEN_FX, XEN_T)
		ABI_BLKIF_LAYOUT(XEN_BS, XEN_BF)
		XEN_R(blkif, pvio_blkif)
		ABI_NET_RINGS(XEN_R)
		ABI_CONSTANTS(XEN_C, XEN_CX, XEN_CE)
	}
#undef ABI_ROW
	*out = rows;
	return nrows;
}

/* Generated from xen_side32.c compiled with -m32 (tests/abi/module.mk):
 * ABI32_ROW("key", value) lines, or XEN_ABI32_UNAVAILABLE "reason". */
static const struct abi_row rows32[] = {
#define ABI32_ROW(k, v) { k, v },
#include "xen_abi32.inc"
#undef ABI32_ROW
	{ NULL, 0 }
};

size_t xen32_rows(const struct abi_row **out, const char **why)
{
	*out = rows32;
#ifdef XEN_ABI32_UNAVAILABLE
	*why = XEN_ABI32_UNAVAILABLE;
#else
	*why = NULL;
#endif
	return sizeof(rows32) / sizeof(rows32[0]) - 1;
}

#define MAX_STRS 64
static struct abi_str strs[MAX_STRS];
static char keybuf[MAX_STRS][48];
static size_t nstrs;

static void push_str(const char *key, const char *value)
{
	if (nstrs == MAX_STRS) {
		fprintf(stderr, "xen_side: more than %d strings\n", MAX_STRS);
		exit(1);
	}
	snprintf(keybuf[nstrs], sizeof(keybuf[nstrs]), "%s", key);
	strs[nstrs].key = keybuf[nstrs];
	strs[nstrs].value = value;
	nstrs++;
}

size_t xen_strings(const struct abi_str **out)
{
	static const char *const gnttab_msgs[] = GNTTABOP_error_msgs;
	char key[48];
	size_t i;

	if (nstrs == 0) {
#define XEN_STR(n) push_str(#n, n);
		ABI_STRINGS(XEN_STR)
#undef XEN_STR
		for (i = 0; i < sizeof(xsd_errors) / sizeof(xsd_errors[0]); i++) {
			snprintf(key, sizeof(key), "xsd_errors[%zu]", i);
			push_str(key, xsd_errors[i].errstring);
		}
		for (i = 0; i < sizeof(gnttab_msgs) / sizeof(gnttab_msgs[0]); i++) {
			snprintf(key, sizeof(key), "GNTTABOP_error_msgs[%zu]", i);
			push_str(key, gnttab_msgs[i]);
		}
	}
	*out = strs;
	return nstrs;
}

uint32_t xen_toeplitz(const uint8_t *key, unsigned int keylen,
		      const uint8_t *buf, unsigned int buflen)
{
	return xen_netif_toeplitz_hash(key, keylen, buf, buflen);
}

#else /* !HAVE_XEN_HEADERS */

int xen_headers_present(void)
{
	return 0;
}

size_t xen_rows(const struct abi_row **out)
{
	*out = NULL;
	return 0;
}

size_t xen32_rows(const struct abi_row **out, const char **why)
{
	*out = NULL;
	*why = "Xen headers not installed";
	return 0;
}

size_t xen_strings(const struct abi_str **out)
{
	*out = NULL;
	return 0;
}

uint32_t xen_toeplitz(const uint8_t *key, unsigned int keylen,
		      const uint8_t *buf, unsigned int buflen)
{
	(void)key, (void)keylen, (void)buf, (void)buflen;
	return 0;
}

#endif /* HAVE_XEN_HEADERS */
