/* SPDX-License-Identifier: MIT */
/*
 * ABI conformance: pvio's wire headers (ring/blkif.h, netif.h, grant_abi.h,
 * xenbus_abi.h, xs_wire.h, ring.h) against Xen's own public headers.
 * xen_side.c and pvio_side.c are compiled separately and export tables of
 * sizes, offsets, field signedness, constants and ring sizes under the same
 * keys (tests/abi/abi_list.h); this program compares them and prints every
 * mismatch. The x86_32-abi reference comes from Xen's headers compiled with
 * -m32 (xen_side32.c).
 *
 * Exit 0 all equal, 1 a mismatch, 77 Xen headers absent at build time.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "tests/abi/abi_table.h"

static unsigned int checks, fails;

static const struct abi_row *find_row(const struct abi_row *t, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(t[i].key, key) == 0)
			return &t[i];
	return NULL;
}

static const struct abi_str *find_str(const struct abi_str *t, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(t[i].key, key) == 0)
			return &t[i];
	return NULL;
}

static void fail(void)
{
	fails++;
}

/* Every Xen row must exist on pvio's side with the same value, and the
 * other way round; keys must be unique. */
static void compare_rows(const char *abi, const struct abi_row *x, size_t nx,
			 const struct abi_row *p, size_t np)
{
	unsigned int before = fails;

	for (size_t i = 0; i < nx; i++) {
		const struct abi_row *q = find_row(p, np, x[i].key);

		checks++;
		if (find_row(x, i, x[i].key)) {
			printf("FAIL  [%s] duplicate key in the Xen table: %s\n", abi, x[i].key);
			fail();
		} else if (!q) {
			printf("FAIL  [%s] %s: missing on pvio's side (Xen: %lld)\n", abi,
			       x[i].key, x[i].value);
			fail();
		} else if (q->value != x[i].value) {
			printf("FAIL  [%s] %s: Xen %lld, pvio %lld\n", abi, x[i].key,
			       x[i].value, q->value);
			fail();
		}
	}
	for (size_t i = 0; i < np; i++) {
		if (!find_row(x, nx, p[i].key)) {
			checks++;
			printf("FAIL  [%s] %s: only on pvio's side\n", abi, p[i].key);
			fail();
		}
	}
	printf("%-6s[%s] %zu values compared\n", fails == before ? "ok" : "FAIL", abi, nx);
}

static void compare_strings(void)
{
	const struct abi_str *x, *p;
	size_t nx = xen_strings(&x), np = pvio_strings(&p);
	unsigned int before = fails;

	for (size_t i = 0; i < nx; i++) {
		const struct abi_str *q = find_str(p, np, x[i].key);

		checks++;
		if (!q) {
			printf("FAIL  [strings] %s: missing on pvio's side (Xen: \"%s\")\n",
			       x[i].key, x[i].value);
			fail();
		} else if (strcmp(q->value, x[i].value) != 0) {
			printf("FAIL  [strings] %s: Xen \"%s\", pvio \"%s\"\n", x[i].key,
			       x[i].value, q->value);
			fail();
		}
	}
	for (size_t i = 0; i < np; i++) {
		if (find_str(x, nx, p[i].key))
			continue;
		/* pvio's store adds EQUOTA after Xen 4.17's 16 xsd_errors (newer
		 * xenstored versions send it too); anything else is a mistake. */
		if (strcmp(p[i].key, "xsd_errors[16]") == 0 && strcmp(p[i].value, "EQUOTA") == 0 &&
		    !find_str(x, nx, "xsd_errors[17]") && find_str(x, nx, "xsd_errors[15]")) {
			printf("note  [strings] %s = \"%s\": pvio extension, not in Xen 4.17\n",
			       p[i].key, p[i].value);
			continue;
		}
		checks++;
		printf("FAIL  [strings] %s = \"%s\": only on pvio's side\n", p[i].key, p[i].value);
		fail();
	}
	printf("%-6s[strings] %zu strings compared\n", fails == before ? "ok" : "FAIL", nx);
}

static uint32_t rnd_state = 0x2545f491;

static uint32_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 17;
	rnd_state ^= rnd_state << 5;
	return rnd_state;
}

/* Microsoft's RSS verification suite ("Verifying the RSS Hash Calculation"). */
static const uint8_t rss_key[40] = {
	0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67,
	0x25, 0x3d, 0x43, 0xa3, 0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb,
	0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30,
	0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
};
static const struct {
	uint8_t src[4], dst[4];
	uint16_t sport, dport;
	uint32_t ipv4, ipv4_tcp;
} rss_vec[] = {
	{ {66, 9, 149, 187}, {161, 142, 100, 80}, 2794, 1766, 0x323e8fc2, 0x51ccc178 },
	{ {199, 92, 111, 2}, {65, 69, 140, 83}, 14230, 4739, 0xd718262a, 0xc626b0ea },
	{ {24, 19, 198, 95}, {12, 22, 207, 184}, 12898, 38024, 0xd2d0a5de, 0x5c2b394a },
	{ {38, 27, 205, 30}, {209, 142, 163, 6}, 48228, 2217, 0x82989176, 0xafc7327f },
	{ {153, 39, 163, 191}, {202, 188, 127, 2}, 44251, 1303, 0x5d1809c5, 0x10e828a2 },
};

static void check_hash(const char *what, const uint8_t *key, unsigned int keylen,
		       const uint8_t *buf, unsigned int buflen, int have_expect,
		       uint32_t expect)
{
	uint32_t x = xen_toeplitz(key, keylen, buf, buflen);
	uint32_t p = pvio_toeplitz(key, keylen, buf, buflen);

	checks++;
	if (x != p || (have_expect && p != expect)) {
		printf("FAIL  [toeplitz] %s (keylen %u, buflen %u): Xen %08x, pvio %08x",
		       what, keylen, buflen, x, p);
		if (have_expect)
			printf(", expected %08x", expect);
		printf("\n");
		fail();
	}
}

static void compare_toeplitz(void)
{
	unsigned int before = fails, n = 0;
	uint8_t key[64], buf[64];

	for (size_t i = 0; i < sizeof(rss_vec) / sizeof(rss_vec[0]); i++) {
		memcpy(buf, rss_vec[i].src, 4);
		memcpy(buf + 4, rss_vec[i].dst, 4);
		buf[8] = rss_vec[i].sport >> 8;
		buf[9] = rss_vec[i].sport & 0xff;
		buf[10] = rss_vec[i].dport >> 8;
		buf[11] = rss_vec[i].dport & 0xff;
		check_hash("RSS IPv4", rss_key, sizeof(rss_key), buf, 8, 1, rss_vec[i].ipv4);
		check_hash("RSS IPv4+TCP", rss_key, sizeof(rss_key), buf, 12, 1,
			   rss_vec[i].ipv4_tcp);
		n += 2;
	}
	for (int i = 0; i < 2000; i++, n++) {
		unsigned int keylen = rnd() % 49, buflen = rnd() % 41;

		for (unsigned int j = 0; j < sizeof(key); j++)
			key[j] = (uint8_t)rnd();
		for (unsigned int j = 0; j < sizeof(buf); j++)
			buf[j] = (uint8_t)rnd();
		check_hash("random", key, keylen, buf, buflen, 0, 0);
	}
	printf("%-6s[toeplitz] %u hashes compared\n", fails == before ? "ok" : "FAIL", n);
}

int main(void)
{
	const struct abi_row *x, *p;
	const char *why;
	size_t nx, np;
	int sf;

	if (!xen_headers_present()) {
		printf("Xen public headers (libxen-dev) were not found at build time\n");
		return 77;
	}

	nx = xen_rows(&x);
	np = pvio_rows(&p);
	compare_rows("x86_64-abi", x, nx, p, np);

	nx = xen32_rows(&x, &why);
	np = pvio32_rows(&p);
	if (why) {
		printf("note  [x86_32-abi] no i386 reference (%s): %zu checks not run\n", why, np);
	} else if (nx == 0) {
		printf("FAIL  [x86_32-abi] the -m32 reference has no rows\n");
		fail();
	} else {
		compare_rows("x86_32-abi", x, nx, p, np);
	}

	compare_strings();
	compare_toeplitz();

	sf = pvio_selfcheck(&checks);
	fails += sf;
	printf("%-6s[helpers] pvio name/parse helpers\n", sf ? "FAIL" : "ok");

	printf("%u checks, %u failed\n", checks, fails);
	return fails ? 1 : 0;
}
