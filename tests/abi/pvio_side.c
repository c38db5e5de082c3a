/* SPDX-License-Identifier: MIT */
/*
 * pvio's side of the ABI conformance test: pvio's headers only (never
 * Xen's), expanded from the same lists as xen_side.c.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ring/blkif.h"
#include "ring/grant_abi.h"
#include "ring/netif.h"
#include "ring/ring.h"
#include "ring/xenbus_abi.h"
#include "ring/xs_wire.h"
#include "tests/abi/abi_list.h"
#include "tests/abi/abi_table.h"

#define MAX_ROWS 1024

struct table {
	struct abi_row rows[MAX_ROWS];
	size_t n;
};

static void push(struct table *t, const char *key, long long value)
{
	if (t->n == MAX_ROWS) {
		fprintf(stderr, "pvio_side: more than %d rows\n", MAX_ROWS);
		exit(1);
	}
	t->rows[t->n].key = key;
	t->rows[t->n].value = value;
	t->n++;
}

/* Xen names on the left (they make the keys), pvio's types on the right. */
#define P_S(kind, tag)            ABI_EMIT_STRUCT(#tag, kind pvio_##tag)
#define P_F(kind, tag, f)         ABI_EMIT_FIELD(#tag, kind pvio_##tag, f, f)
#define P_FX(kind, tag, xf, pf)   ABI_EMIT_FIELD(#tag, kind pvio_##tag, xf, pf)
#define P_T(xt, pt)               ABI_EMIT_TYPE(#xt, pt)
#define P_BS(sfx)                 ABI_EMIT_STRUCT("blkif_" #sfx, struct pvio_blkif_##sfx)
#define P_BF(sfx, f)              ABI_EMIT_FIELD("blkif_" #sfx, struct pvio_blkif_##sfx, f, f)
#define P32_BS(sfx)               ABI_EMIT_STRUCT("blkif_" #sfx, struct pvio_blkif_x86_32_##sfx)
#define P32_BF(sfx, f)                                                            \
	ABI_EMIT_FIELD("blkif_" #sfx, struct pvio_blkif_x86_32_##sfx, f, f)
#define P_C(n)                    ABI_EMIT_CONST(#n, PVIO_##n)
#define P_CX(n, p)                ABI_EMIT_CONST(#n, p)
#define P_CE(k, x, p)             ABI_EMIT_VALUE(#k, p)
#define P_HDR_OFF(type, xf, pf)   offsetof(struct pvio_sring, pf)
#define P_NR_ENTS(name, bytes)    name##_ring_nr_ents(bytes)
#define P_R(x, p)                                                                 \
	ABI_EMIT_RING(#x, sizeof(union p##_slot), struct pvio_sring, P_HDR_OFF, p, P_NR_ENTS)

size_t pvio_rows(const struct abi_row **out)
{
	static struct table t;

#define ABI_ROW(k, v) push(&t, (k), (long long)(v))
	if (t.n == 0) {
		ABI_COMMON_LAYOUT(P_S, P_F, P_FX, P_T)
		ABI_BLKIF_LAYOUT(P_BS, P_BF)
		P_R(blkif, pvio_blkif)
		ABI_NET_RINGS(P_R)
		ABI_CONSTANTS(P_C, P_CX, P_CE)
	}
	*out = t.rows;
	return t.n;
}

size_t pvio32_rows(const struct abi_row **out)
{
	static struct table t;

	if (t.n == 0) {
		ABI_COMMON_LAYOUT(P_S, P_F, P_FX, P_T)
		ABI_BLKIF_LAYOUT(P32_BS, P32_BF)
		ABI_BLKIF_X86_32_ONLY(P32_BS, P32_BF)
		P_R(blkif, pvio_blkif_x86_32)
		ABI_NET_RINGS(P_R)
	}
#undef ABI_ROW
	*out = t.rows;
	return t.n;
}

#define MAX_STRS 64
static struct abi_str strs[MAX_STRS];
static char keybuf[MAX_STRS][48];
static size_t nstrs;

static void push_str(const char *key, const char *value)
{
	if (nstrs == MAX_STRS) {
		fprintf(stderr, "pvio_side: more than %d strings\n", MAX_STRS);
		exit(1);
	}
	snprintf(keybuf[nstrs], sizeof(keybuf[nstrs]), "%s", key);
	strs[nstrs].key = keybuf[nstrs];
	strs[nstrs].value = value;
	nstrs++;
}

size_t pvio_strings(const struct abi_str **out)
{
#define P_XS_NAME(e) #e,
	static const char *const xs_errors[] = { PVIO_XS_ERRORS(P_XS_NAME) };
#undef P_XS_NAME
	static const char *const gnttab_msgs[] = PVIO_GNTTABOP_ERROR_MSGS;
	char key[48];
	size_t i;

	if (nstrs == 0) {
#define P_STR(n) push_str(#n, PVIO_##n);
		ABI_STRINGS(P_STR)
#undef P_STR
		for (i = 0; i < sizeof(xs_errors) / sizeof(xs_errors[0]); i++) {
			snprintf(key, sizeof(key), "xsd_errors[%zu]", i);
			push_str(key, xs_errors[i]);
		}
		/* Through the helper, so that it is checked too. */
		for (i = 0; i < sizeof(gnttab_msgs) / sizeof(gnttab_msgs[0]); i++) {
			snprintf(key, sizeof(key), "GNTTABOP_error_msgs[%zu]", i);
			push_str(key, pvio_gntst_strerror(-(int)i));
		}
	}
	*out = strs;
	return nstrs;
}

uint32_t pvio_toeplitz(const uint8_t *key, unsigned int keylen,
		       const uint8_t *buf, unsigned int buflen)
{
	return pvio_netif_toeplitz_hash(key, keylen, buf, buflen);
}

static int check(unsigned int *checks, int ok, const char *what)
{
	(*checks)++;
	if (!ok)
		printf("FAIL  %s\n", what);
	return !ok;
}

int pvio_selfcheck(unsigned int *checks)
{
	static const char *const names[] = {
		"Unknown", "Initialising", "InitWait", "Initialised", "Connected",
		"Closing", "Closed", "Reconfiguring", "Reconfigured",
	};
	int fails = 0, s;

	for (s = 0; s <= PVIO_XENBUS_STATE_MAX; s++)
		fails += check(checks, strcmp(pvio_xenbus_state_name(s), names[s]) == 0,
			       "pvio_xenbus_state_name");
	fails += check(checks, strcmp(pvio_xenbus_state_name(-1), "Invalid") == 0 &&
			       strcmp(pvio_xenbus_state_name(9), "Invalid") == 0,
		       "pvio_xenbus_state_name out of range");
	fails += check(checks, strcmp(pvio_gntst_strerror(-14), "unknown grant status") == 0 &&
			       strcmp(pvio_gntst_strerror(1), "unknown grant status") == 0,
		       "pvio_gntst_strerror out of range");
	fails += check(checks, pvio_blkif_abi_from_protocol(NULL) == PVIO_BLKIF_ABI_NATIVE &&
			       pvio_blkif_abi_from_protocol("x86_64-abi") == PVIO_BLKIF_ABI_NATIVE &&
			       pvio_blkif_abi_from_protocol("arm-abi") == PVIO_BLKIF_ABI_NATIVE &&
			       pvio_blkif_abi_from_protocol("x86_32-abi") == PVIO_BLKIF_ABI_X86_32 &&
			       pvio_blkif_abi_from_protocol("x86_32") == -EINVAL &&
			       pvio_blkif_abi_from_protocol("") == -EINVAL,
		       "pvio_blkif_abi_from_protocol");
	return fails;
}
