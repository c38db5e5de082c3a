/* SPDX-License-Identifier: MIT */
/*
 * Persistent-grant cache: the bound, LRU order, entries in use never
 * reclaimed, read-only -> writable upgrade, timeout purge, failures holding
 * nothing, release-all leaving no pin (XSA-371), and a randomized run
 * against a reference model at the default bound of 1056.
 *
 * Each cached ref is mapped exactly once by the cache, so the grant
 * entry's GTF_reading bit tells whether a ref is cached.
 */
#include <errno.h>

#include "grant-tables/pgrant.h"
#include "tests/grant/gt_test.h"

#define NR_FRAMES 64

static bool cached(struct gt_env *env, uint32_t ref)
{
	return gt_flags(env, ref) & PVIO_GTF_reading;
}

static uint32_t grant(struct gt_env *env, uint64_t gfn, bool ro)
{
	int ref = pvio_gnttab_grant(&env->fe, GT_BACKEND, gfn, ro);

	REQUIRE(ref >= 0);
	return (uint32_t)ref;
}

static void *insert(struct pvio_pgrant_cache *c, uint32_t ref, bool write)
{
	void *addr = NULL;
	int16_t st = 1;

	CHECK_EQ(pvio_pgrant_insert(c, ref, write, &addr, &st), 0);
	CHECK_EQ(st, PVIO_GNTST_okay);
	return addr;
}

static void test_bound_lru_inuse(void)
{
	struct gt_env env;
	struct pvio_pgrant_cache c;
	uint32_t r[8];
	void *addr;
	int16_t st;

	gt_env_init(&env, 64, NR_FRAMES);
	CHECK_EQ(pvio_pgrant_init(&c, &env.view, 4), 0);
	for (int i = 0; i < 8; i++)
		r[i] = grant(&env, (uint64_t)i, false);

	/* Fill: A B C D, put in order A B C D. */
	for (int i = 0; i < 4; i++)
		CHECK(insert(&c, r[i], true) == env.mem + (size_t)i * GT_PAGE);
	CHECK_EQ(c.nr, 4);
	for (int i = 0; i < 4; i++)
		CHECK_EQ(pvio_pgrant_put(&c, r[i]), 0);
	/* Touch A: order is now B C D A. */
	CHECK(pvio_pgrant_lookup(&c, r[0], true) == env.mem);
	CHECK_EQ(pvio_pgrant_put(&c, r[0]), 0);
	/* E evicts B, F evicts C. */
	insert(&c, r[4], true);
	CHECK(!cached(&env, r[1]) && cached(&env, r[0]) && cached(&env, r[2]));
	insert(&c, r[5], false);
	CHECK(!cached(&env, r[2]) && cached(&env, r[3]));
	CHECK_EQ(c.nr, 4);
	/* An evicted ref is fully released: the frontend can revoke it. */
	CHECK_EQ(pvio_gnttab_revoke(&env.fe, r[1]), 0);
	CHECK_EQ(pvio_gnttab_revoke(&env.fe, r[0]), -EBUSY);
	r[1] = grant(&env, 1, false);

	/* In use: E and F (held since insert), D and A idle. Take D and A too:
	 * now nothing is reclaimable. */
	CHECK(pvio_pgrant_lookup(&c, r[3], false) != NULL);   /* rw entry serves reads */
	CHECK(pvio_pgrant_lookup(&c, r[0], true) != NULL);
	CHECK_EQ(pvio_pgrant_insert(&c, r[6], true, &addr, &st), -ENOSPC);
	CHECK(!cached(&env, r[6]));
	CHECK_EQ(pvio_pgrant_reclaim(&c, 10), 0);
	CHECK_EQ(pvio_pgrant_purge(&c, UINT64_MAX), 0);
	CHECK_EQ(c.nr, 4);
	CHECK_EQ(c.stats.full, 1);
	/* Two uses of A need two puts before it may go. */
	CHECK(pvio_pgrant_lookup(&c, r[0], true) != NULL);
	CHECK_EQ(pvio_pgrant_put(&c, r[0]), 0);
	CHECK_EQ(pvio_pgrant_reclaim(&c, 10), 0);
	CHECK_EQ(pvio_pgrant_put(&c, r[0]), 0);
	CHECK_EQ(pvio_pgrant_put(&c, r[0]), -EINVAL);         /* not in use */
	CHECK_EQ(pvio_pgrant_reclaim(&c, 10), 1);
	CHECK(!cached(&env, r[0]));
	CHECK_EQ(pvio_pgrant_put(&c, r[0]), -EINVAL);         /* not cached */
	CHECK_EQ(pvio_pgrant_put(&c, 9999), -EINVAL);
	CHECK(pvio_pgrant_lookup(&c, 9999, false) == NULL);

	/* Release-all with entries in use (D, E, F). */
	CHECK_EQ(pvio_pgrant_release_all(&c), 3);
	CHECK_EQ(c.nr, 0);
	for (uint32_t i = 0; i < 64; i++)
		CHECK_EQ(gt_flags(&env, i) & (PVIO_GTF_reading | PVIO_GTF_writing), 0);
	CHECK_EQ(pvio_gnttab_revoke_all(&env.fe), 0);
	CHECK_EQ(pvio_gnttab_nr_free(&env.fe), 64 - PVIO_GNTTAB_NR_RESERVED_ENTRIES);
	/* Usable again afterwards. */
	r[0] = grant(&env, 0, false);
	CHECK(pvio_pgrant_lookup(&c, r[0], false) == NULL);
	insert(&c, r[0], false);
	pvio_pgrant_fini(&c);
	pvio_pgrant_fini(&c);                                  /* idempotent */
	CHECK(!cached(&env, r[0]));
	gt_env_fini(&env);
}

static void test_upgrade_and_failures(void)
{
	struct gt_env env;
	struct pvio_pgrant_cache c;
	uint32_t rw, ro;
	void *a1, *a2 = NULL;
	int16_t st;

	gt_env_init(&env, 64, NR_FRAMES);
	CHECK_EQ(pvio_pgrant_init(&c, &env.view, 0), 0);
	CHECK_EQ(c.max, PVIO_PGRANT_DEFAULT_MAX);
	rw = grant(&env, 3, false);
	ro = grant(&env, 4, true);

	/* Read-only entry, then a write use: upgraded in place. */
	a1 = insert(&c, rw, false);
	CHECK_EQ(gt_flags(&env, rw), PVIO_GTF_permit_access | PVIO_GTF_reading);
	CHECK(pvio_pgrant_lookup(&c, rw, true) == NULL);
	CHECK_EQ(pvio_pgrant_insert(&c, rw, true, &a2, &st), 0);
	CHECK(a1 == a2);
	CHECK_EQ(gt_flags(&env, rw), PVIO_GTF_permit_access | PVIO_GTF_reading | PVIO_GTF_writing);
	CHECK_EQ(c.nr, 1);
	CHECK(pvio_pgrant_lookup(&c, rw, true) == a1);
	/* Three uses now (insert, insert, lookup). */
	for (int i = 0; i < 3; i++)
		CHECK_EQ(pvio_pgrant_put(&c, rw), 0);
	CHECK_EQ(pvio_pgrant_put(&c, rw), -EINVAL);

	/* Write use of a read-only grant: refused, nothing held, and an
	 * existing read-only entry survives the failed upgrade. */
	CHECK_EQ(pvio_pgrant_insert(&c, ro, true, &a2, &st), -EIO);
	CHECK_EQ(st, PVIO_GNTST_permission_denied);
	CHECK_EQ(gt_flags(&env, ro), PVIO_GTF_permit_access | PVIO_GTF_readonly);
	a1 = insert(&c, ro, false);
	CHECK_EQ(pvio_pgrant_insert(&c, ro, true, &a2, &st), -EIO);
	CHECK_EQ(st, PVIO_GNTST_permission_denied);
	CHECK(pvio_pgrant_lookup(&c, ro, false) == a1);
	CHECK_EQ(gt_flags(&env, ro), PVIO_GTF_permit_access | PVIO_GTF_readonly | PVIO_GTF_reading);
	CHECK_EQ(pvio_pgrant_put(&c, ro), 0);
	CHECK_EQ(pvio_pgrant_put(&c, ro), 0);

	/* Refs that are not granted, or past the table. */
	CHECK_EQ(pvio_pgrant_insert(&c, 50, false, &a2, &st), -EIO);
	CHECK_EQ(st, PVIO_GNTST_bad_gntref);
	CHECK_EQ(pvio_pgrant_insert(&c, 64, false, &a2, &st), -EIO);
	CHECK_EQ(st, PVIO_GNTST_bad_gntref);
	CHECK_EQ(pvio_pgrant_insert(&c, UINT32_MAX, false, &a2, NULL), -EIO);
	CHECK_EQ(c.nr, 2);

	/* Timeout purge: stamps come from c->now at put. */
	{
		uint32_t t[3];

		for (int i = 0; i < 3; i++) {
			t[i] = grant(&env, 10 + (uint64_t)i, false);
			insert(&c, t[i], true);
		}
		for (int i = 0; i < 3; i++) {
			c.now = 100 + 10 * (uint64_t)i;
			CHECK_EQ(pvio_pgrant_put(&c, t[i]), 0);
		}
		/* rw and ro were put at now == 0: oldest. */
		CHECK_EQ(pvio_pgrant_purge(&c, 100), 2);
		CHECK(!cached(&env, rw) && !cached(&env, ro));
		CHECK_EQ(pvio_pgrant_purge(&c, 115), 2);
		CHECK(!cached(&env, t[0]) && !cached(&env, t[1]) && cached(&env, t[2]));
		CHECK_EQ(pvio_pgrant_purge(&c, 115), 0);
		CHECK_EQ(c.nr, 1);
	}
	CHECK_EQ(pvio_pgrant_release_all(&c), 0);
	CHECK_EQ(pvio_gnttab_revoke_all(&env.fe), 0);

	/* Bad init. */
	{
		struct pvio_pgrant_cache c2;

		CHECK_EQ(pvio_pgrant_init(&c2, NULL, 4), -EINVAL);
		CHECK_EQ(pvio_pgrant_init(&c2, &env.view, UINT32_MAX), -EINVAL);
	}
	pvio_pgrant_fini(&c);
	gt_env_fini(&env);
}

/* Randomized against a model at the default bound. */
#define MODEL_REFS 3000
static void test_model(void)
{
	struct gt_env env;
	struct pvio_pgrant_cache c;
	static uint32_t in_use[MODEL_REFS + 64];
	static uint64_t put_order[MODEL_REFS + 64];   /* 0 = not cached */
	static bool is_cached[MODEL_REFS + 64];
	static uint32_t outstanding[1600];
	uint32_t nout = 0;
	uint64_t seed = 88172645463325252ull, order = 0;
	uint32_t nr = 0, max_seen = 0;
	uint32_t nr_entries = MODEL_REFS + PVIO_GNTTAB_NR_RESERVED_ENTRIES;

	gt_env_init(&env, nr_entries, NR_FRAMES);
	CHECK_EQ(pvio_pgrant_init(&c, &env.view, 0), 0);
	for (uint32_t i = 0; i < MODEL_REFS; i++)
		grant(&env, i % NR_FRAMES, false);

	for (int step = 0; step < 60000; step++) {
		uint32_t ref;
		uint64_t x;

		seed ^= seed << 13;
		seed ^= seed >> 7;
		seed ^= seed << 17;
		x = seed;
		if (nout < 1600 && (x & 3)) {  /* a new use */
			/* Skewed: most uses hit a hot set, so the cache sees both
			 * hits and evictions. */
			ref = PVIO_GNTTAB_NR_RESERVED_ENTRIES +
			      (uint32_t)((x >> 8) % (x & 0x10 ? MODEL_REFS : 1200));
			void *a = pvio_pgrant_lookup(&c, ref, true);
			int r;

			if (is_cached[ref]) {
				CHECK(a != NULL);
				in_use[ref]++;
				outstanding[nout++] = ref;
				continue;
			}
			CHECK(a == NULL);
			/* Model: who must be evicted, if anyone? */
			uint32_t victim = UINT32_MAX;
			uint64_t best = UINT64_MAX;

			if (nr == PVIO_PGRANT_DEFAULT_MAX) {
				for (uint32_t i = 0; i < nr_entries; i++)
					if (is_cached[i] && !in_use[i] && put_order[i] < best) {
						best = put_order[i];
						victim = i;
					}
			}
			r = pvio_pgrant_insert(&c, ref, true, &a, NULL);
			if (nr == PVIO_PGRANT_DEFAULT_MAX && victim == UINT32_MAX) {
				CHECK_EQ(r, -ENOSPC);
				continue;
			}
			CHECK_EQ(r, 0);
			CHECK(a == env.mem + (size_t)((ref - PVIO_GNTTAB_NR_RESERVED_ENTRIES) %
						      NR_FRAMES) * GT_PAGE);
			if (victim != UINT32_MAX) {
				CHECK(!cached(&env, victim));
				is_cached[victim] = false;
				nr--;
			}
			is_cached[ref] = true;
			in_use[ref] = 1;
			outstanding[nout++] = ref;
			nr++;
		} else if (nout) {             /* end a random use */
			uint32_t i = (uint32_t)((x >> 8) % nout);

			ref = outstanding[i];
			outstanding[i] = outstanding[--nout];
			CHECK_EQ(pvio_pgrant_put(&c, ref), 0);
			if (--in_use[ref] == 0)
				put_order[ref] = ++order;
		}
		CHECK_EQ(c.nr, nr);
		if (nr > max_seen)
			max_seen = nr;
		if (gt_failures > 20)
			break;
	}
	CHECK_EQ(max_seen, PVIO_PGRANT_DEFAULT_MAX);
	CHECK(c.stats.hits > 1000 && c.stats.reclaims > 1000 && c.stats.full > 100);
	printf("model: %llu hits, %llu misses, %llu reclaims, %llu full\n",
	       (unsigned long long)c.stats.hits, (unsigned long long)c.stats.misses,
	       (unsigned long long)c.stats.reclaims, (unsigned long long)c.stats.full);
	/* The cache and the table agree. */
	for (uint32_t i = 0; i < nr_entries; i++)
		CHECK_EQ(cached(&env, i), is_cached[i]);
	pvio_pgrant_fini(&c);
	for (uint32_t i = 0; i < nr_entries; i++)
		CHECK_EQ(gt_flags(&env, i) & (PVIO_GTF_reading | PVIO_GTF_writing), 0);
	CHECK_EQ(pvio_gnttab_revoke_all(&env.fe), 0);
	gt_env_fini(&env);
}

static struct pvio_gnt_copy_op cop(uint32_t ref, bool from_grant, uint16_t off, void *local,
				   uint16_t len)
{
	struct pvio_gnt_copy_op o = gt_copy_op(ref, off, local, len, !from_grant);

	o.status = 99;
	return o;
}

/* Copies through the cache (netif feature-persistent): both directions,
 * a ref mapped once and then copied without a map, the read-only ->
 * writable upgrade, every bad op refused with the grant copy's status and
 * nothing copied, the bound kept, no pin left after fini. */
static void test_copy(void)
{
	struct gt_env env;
	struct pvio_pgrant_cache c;
	struct pvio_gnt_copy_op ops[8];
	uint8_t buf[GT_PAGE], out[GT_PAGE];
	uint32_t ro, rw, r3;

	gt_env_init(&env, 64, NR_FRAMES);
	CHECK_EQ(pvio_pgrant_init(&c, &env.view, 2), 0);
	ro = grant(&env, 1, true);
	rw = grant(&env, 2, false);
	r3 = grant(&env, 3, false);
	for (unsigned i = 0; i < GT_PAGE; i++)
		env.mem[GT_PAGE + i] = (uint8_t)(i * 7 + 1);

	/* Read from a read-only grant, twice: one map. */
	ops[0] = cop(ro, true, 100, buf, 64);
	ops[1] = cop(ro, true, GT_PAGE - 10, buf + 64, 10);
	CHECK_EQ(pvio_pgrant_copy(&c, ops, 2), 2);
	CHECK_EQ(ops[0].status, PVIO_GNTST_okay);
	CHECK_EQ(ops[1].status, PVIO_GNTST_okay);
	CHECK(memcmp(buf, env.mem + GT_PAGE + 100, 64) == 0);
	CHECK(memcmp(buf + 64, env.mem + 2 * GT_PAGE - 10, 10) == 0);
	CHECK_EQ(c.stats.inserts, 1);
	CHECK(cached(&env, ro));
	/* Writing into a read-only grant: refused, the page unchanged. */
	memset(out, 0xAB, sizeof(out));
	ops[0] = cop(ro, false, 0, out, 16);
	CHECK_EQ(pvio_pgrant_copy(&c, ops, 1), 0);
	CHECK(ops[0].status != PVIO_GNTST_okay);
	CHECK_EQ(env.mem[GT_PAGE], 1);

	/* Read, then write, the same writable grant: upgraded in place. */
	ops[0] = cop(rw, true, 0, buf, 32);
	ops[1] = cop(rw, false, 4000, out, 96);
	CHECK_EQ(pvio_pgrant_copy(&c, ops, 2), 2);
	CHECK(memcmp(env.mem + 2 * GT_PAGE + 4000, out, 96) == 0);
	CHECK(gt_flags(&env, rw) & PVIO_GTF_writing);

	/* Bad ops: nothing copied, the grant copy's statuses. */
	memset(env.mem + 2 * GT_PAGE, 0, GT_PAGE);
	ops[0] = cop(rw, false, 4000, out, 97);              /* past the page */
	ops[1] = cop(rw, false, 0, NULL, 8);                 /* no local buffer */
	ops[2] = cop(1000, true, 0, buf, 8);                 /* no such ref */
	ops[3] = cop(rw, false, 0, out, 8);
	ops[3].flags = PVIO_GNTCOPY_source_gref | PVIO_GNTCOPY_dest_gref;
	ops[4] = cop(rw, false, 0, out, 8);
	ops[4].flags = 0;
	ops[5] = cop(40, true, 0, buf, 8);                   /* in the table, not granted */
	CHECK_EQ(pvio_pgrant_copy(&c, ops, 6), 0);
	CHECK_EQ(ops[0].status, PVIO_GNTST_bad_copy_arg);
	CHECK_EQ(ops[1].status, PVIO_GNTST_bad_copy_arg);
	CHECK_EQ(ops[2].status, PVIO_GNTST_bad_gntref);
	CHECK_EQ(ops[3].status, PVIO_GNTST_bad_copy_arg);
	CHECK_EQ(ops[4].status, PVIO_GNTST_bad_copy_arg);
	CHECK(ops[5].status != PVIO_GNTST_okay);
	for (unsigned i = 0; i < GT_PAGE; i++)
		if (env.mem[2 * GT_PAGE + i]) {
			CHECK(0);
			break;
		}
	/* A zero-length op maps (validates) and copies nothing. */
	ops[0] = cop(rw, false, GT_PAGE, out, 0);
	CHECK_EQ(pvio_pgrant_copy(&c, ops, 1), 1);

	/* Bound 2: a third ref evicts the least recently inserted idle one. */
	ops[0] = cop(r3, false, 0, out, 8);
	CHECK_EQ(pvio_pgrant_copy(&c, ops, 1), 1);
	CHECK_EQ(c.nr, 2);
	CHECK(cached(&env, r3));
	CHECK_EQ((int)cached(&env, ro) + (int)cached(&env, rw), 1);

	pvio_pgrant_fini(&c);
	CHECK(!cached(&env, ro) && !cached(&env, rw) && !cached(&env, r3));
	CHECK_EQ(pvio_gnttab_revoke_all(&env.fe), 0);
	gt_env_fini(&env);
}

/* A burst longer than the copies pvio_pgrant_copy looks up ahead, over
 * three refs with room for two: hits and misses interleave, and each
 * miss evicts a ref that pending hits may have used. Every copy must give
 * what one-by-one copies in order give: four local slots written over
 * and over, each ending with its last op's bytes; reads and writes. */
static void test_copy_burst(void)
{
	struct gt_env env;
	struct pvio_pgrant_cache c;
	struct pvio_gnt_copy_op ops[40];
	uint8_t local[4][16], want[4][16], src[40][16], exp[3][4];
	uint32_t refs[3];

	gt_env_init(&env, 64, NR_FRAMES);
	CHECK_EQ(pvio_pgrant_init(&c, &env.view, 2), 0);
	for (unsigned r = 0; r < 3; r++) {
		refs[r] = grant(&env, 1 + r, false);
		for (unsigned i = 0; i < GT_PAGE; i++)
			env.mem[(1 + r) * GT_PAGE + i] = (uint8_t)(i * 13 + r * 101 + 5);
	}
	/* Reads: op k reads 16 bytes at offset 16 k of ref k % 3 (runs of
	 * the same ref, so some are hits) into slot k % 4. */
	memset(local, 0, sizeof(local));
	for (unsigned k = 0; k < 40; k++) {
		unsigned r = (k / 2) % 3;

		ops[k] = cop(refs[r], true, 16 * k, local[k % 4], 16);
		memcpy(want[k % 4], env.mem + (1 + r) * GT_PAGE + 16 * k, 16);
	}
	CHECK_EQ(pvio_pgrant_copy(&c, ops, 40), 40);
	for (unsigned k = 0; k < 40; k++)
		CHECK_EQ(ops[k].status, PVIO_GNTST_okay);
	CHECK(memcmp(local, want, sizeof(want)) == 0);
	CHECK(c.stats.hits > 0 && c.stats.misses > 0);
	CHECK(c.nr <= 2);
	/* Writes: op k writes 16 bytes of k at slot k % 4 (offset 16 (k % 4)
	 * + 512 r) of ref r = (k / 3) % 3: each slot of each page ends with
	 * the byte of its last writer. */
	memset(exp, 0xEE, sizeof(exp));
	for (unsigned k = 0; k < 40; k++) {
		unsigned r = (k / 3) % 3;

		memset(src[k], (int)k, 16);
		ops[k] = cop(refs[r], false, 16 * (k % 4) + 512 * r, src[k], 16);
		exp[r][k % 4] = (uint8_t)k;
	}
	for (unsigned r = 0; r < 3; r++)
		memset(env.mem + (1 + r) * GT_PAGE + 512 * r, 0xEE, 64);
	CHECK_EQ(pvio_pgrant_copy(&c, ops, 40), 40);
	for (unsigned r = 0; r < 3; r++)
		for (unsigned s4 = 0; s4 < 4; s4++)
			for (unsigned i = 0; i < 16; i++)
				if (env.mem[(1 + r) * GT_PAGE + 512 * r + 16 * s4 + i] != exp[r][s4]) {
					fprintf(stderr, "ref %u slot %u: %u, want %u\n", r, s4,
						env.mem[(1 + r) * GT_PAGE + 512 * r + 16 * s4 + i],
						exp[r][s4]);
					CHECK(0);
					break;
				}
	/* The smallest case: a hit pending when a miss comes, both into the
	 * same local bytes: the miss's copy is the later one. */
	pvio_pgrant_reclaim(&c, 2);   /* nothing mapped */
	ops[0] = cop(refs[0], true, 0, local[0], 16);   /* miss: maps ref 0 */
	ops[1] = cop(refs[0], true, 16, local[0], 16);  /* hit, pending */
	ops[2] = cop(refs[1], true, 32, local[0], 16);  /* miss: written last */
	CHECK_EQ(pvio_pgrant_copy(&c, ops, 3), 3);
	CHECK(memcmp(local[0], env.mem + 2 * GT_PAGE + 32, 16) == 0);
	pvio_pgrant_fini(&c);
	CHECK_EQ(pvio_gnttab_revoke_all(&env.fe), 0);
	gt_env_fini(&env);
}

int main(void)
{
	test_bound_lru_inuse();
	test_upgrade_and_failures();
	test_model();
	test_copy();
	test_copy_burst();
	return gt_result("test_pgrant");
}
