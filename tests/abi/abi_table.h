/* SPDX-License-Identifier: MIT */
/*
 * Interface between the three parts of the ABI conformance test. Neither
 * xen_side.c nor pvio_side.c sees the other's headers: each builds tables
 * keyed by the same strings (tests/abi/abi_list.h), and test_abi.c compares
 * them.
 */
#ifndef PVIO_TESTS_ABI_TABLE_H
#define PVIO_TESTS_ABI_TABLE_H

#include <stddef.h>
#include <stdint.h>

struct abi_row {
	const char *key;
	long long value;
};

struct abi_str {
	const char *key;
	const char *value;
};

/* xen_side.c: 0 if Xen's public headers were not found at build time. */
int xen_headers_present(void);
/* Native (x86_64-abi) sizes, offsets, constants, ring sizes. */
size_t xen_rows(const struct abi_row **rows);
/* x86_32-abi reference (Xen's headers compiled with -m32): blkif layouts
 * and rings, plus the layouts every ABI shares. NULL *why when available. */
size_t xen32_rows(const struct abi_row **rows, const char **why);
/* Protocol strings, xsd_errors[] names, GNTTABOP_error_msgs. */
size_t xen_strings(const struct abi_str **strs);
/* Xen's own xen_netif_toeplitz_hash(). */
uint32_t xen_toeplitz(const uint8_t *key, unsigned int keylen,
		      const uint8_t *buf, unsigned int buflen);

/* pvio_side.c: the same tables from pvio's headers. */
size_t pvio_rows(const struct abi_row **rows);
size_t pvio32_rows(const struct abi_row **rows);
size_t pvio_strings(const struct abi_str **strs);
uint32_t pvio_toeplitz(const uint8_t *key, unsigned int keylen,
		       const uint8_t *buf, unsigned int buflen);
/* Checks of pvio helpers that have no Xen counterpart; returns failures,
 * adds the number of checks to *checks. */
int pvio_selfcheck(unsigned int *checks);

#endif /* PVIO_TESTS_ABI_TABLE_H */
