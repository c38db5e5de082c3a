/* SPDX-License-Identifier: MIT */
/*
 * Shared helpers for the grant-table tests: a "guest" (grant table + memory
 * in calloc'ed or memfd memory) seen by a frontend and a backend view.
 */
#ifndef PVIO_TESTS_GT_TEST_H
#define PVIO_TESTS_GT_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grant-tables/gnttab.h"
#include "ring/pvio_atomic.h"

static int gt_failures;

#define CHECK(cond) do {                                                       \
	if (!(cond)) {                                                         \
		fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
		gt_failures++;                                                 \
	}                                                                      \
} while (0)

#define CHECK_EQ(a, b) do {                                                    \
	long long _a = (long long)(a), _b = (long long)(b);                    \
	if (_a != _b) {                                                        \
		fprintf(stderr, "%s:%d: CHECK failed: %s == %s (%lld != %lld)\n", \
			__FILE__, __LINE__, #a, #b, _a, _b);                   \
		gt_failures++;                                                 \
	}                                                                      \
} while (0)

/* Abort the test (setup failures only). */
#define REQUIRE(cond) do {                                                     \
	if (!(cond)) {                                                         \
		fprintf(stderr, "%s:%d: REQUIRE failed: %s\n", __FILE__, __LINE__, #cond); \
		exit(1);                                                       \
	}                                                                      \
} while (0)

#define GT_PAGE     4096u
#define GT_GUEST    5      /* granting domain */
#define GT_BACKEND  0      /* mapping domain */
#define GT_OTHER    7      /* some third domain */

struct gt_env {
	struct pvio_grant_entry_v1 *table;
	uint32_t nr_entries;
	uint8_t *mem;
	uint64_t nr_frames;
	struct pvio_gnttab_fe fe;
	struct pvio_gnttab_view view;
};

static inline void gt_env_init(struct gt_env *env, uint32_t nr_entries, uint64_t nr_frames)
{
	memset(env, 0, sizeof(*env));
	env->table = calloc(nr_entries, sizeof(*env->table));
	env->mem = calloc(nr_frames, GT_PAGE);
	REQUIRE(env->table && env->mem);
	env->nr_entries = nr_entries;
	env->nr_frames = nr_frames;
	REQUIRE(pvio_gnttab_fe_init(&env->fe, env->table, nr_entries) == 0);
	REQUIRE(pvio_gnttab_view_init(&env->view, env->table, nr_entries, env->mem, nr_frames,
				      GT_GUEST, GT_BACKEND) == 0);
}

static inline void gt_env_fini(struct gt_env *env)
{
	pvio_gnttab_view_fini(&env->view);
	pvio_gnttab_fe_fini(&env->fe);
	free(env->table);
	free(env->mem);
}

/* The entry's flags as the guest would read them. */
static inline uint16_t gt_flags(const struct gt_env *env, uint32_t ref)
{
	return pvio_load_acquire(&env->table[ref].flags);
}

/* Write an entry raw, as any (possibly hostile) guest could. */
static inline void gt_poke(struct gt_env *env, uint32_t ref, uint16_t flags, uint16_t domid,
			   uint32_t frame)
{
	env->table[ref].frame = frame;
	env->table[ref].domid = domid;
	pvio_store_release(&env->table[ref].flags, flags);
}

static inline int16_t gt_map1(struct gt_env *env, uint32_t ref, bool ro, void **addr)
{
	struct pvio_gnt_map_op op = { .ref = ref, .flags = ro ? PVIO_GNTMAP_readonly : 0 };

	pvio_gnttab_map(&env->view, &op, 1);
	if (addr)
		*addr = op.addr;
	return op.status;
}

static inline int16_t gt_unmap1(struct gt_env *env, uint32_t ref, bool ro, void *addr)
{
	struct pvio_gnt_map_op op = {
		.ref = ref, .flags = ro ? PVIO_GNTMAP_readonly : 0, .addr = addr,
	};

	pvio_gnttab_unmap(&env->view, &op, 1);
	return op.status;
}

/* A copy op between a foreign ref of GT_GUEST and a local buffer;
 * to_guest: local -> ref. */
static inline struct pvio_gnt_copy_op gt_copy_op(uint32_t ref, uint16_t off, void *local,
						 uint16_t len, bool to_guest)
{
	struct pvio_gnt_copy_op op = { .len = len };

	if (to_guest) {
		op.source.virt = local;
		op.dest.foreign.ref = ref;
		op.dest.foreign.offset = off;
		op.dest.foreign.domid = GT_GUEST;
		op.flags = PVIO_GNTCOPY_dest_gref;
	} else {
		op.source.foreign.ref = ref;
		op.source.foreign.offset = off;
		op.source.foreign.domid = GT_GUEST;
		op.dest.virt = local;
		op.flags = PVIO_GNTCOPY_source_gref;
	}
	return op;
}

/* Copy between a foreign ref and a local buffer; to_guest: local -> ref. */
static inline int16_t gt_copy1(struct gt_env *env, uint32_t ref, uint16_t off, void *local,
			       uint16_t len, bool to_guest)
{
	struct pvio_gnt_copy_op op = gt_copy_op(ref, off, local, len, to_guest);

	pvio_gnttab_copy(&env->view, &op, 1);
	return op.status;
}

static inline int gt_result(const char *name)
{
	if (gt_failures) {
		fprintf(stderr, "%s: %d check(s) failed\n", name, gt_failures);
		return 1;
	}
	printf("%s: ok\n", name);
	return 0;
}

#endif /* PVIO_TESTS_GT_TEST_H */
