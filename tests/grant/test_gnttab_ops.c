/* SPDX-License-Identifier: MIT */
/*
 * Grant operations, one scenario per function: bounds (ref, frame, offset
 * and length), revoke against live maps, double unmap, counted pins, map
 * and copy batches with partial failures (XSA-361 class), the frontend's
 * free list, view teardown, frontend restart under a live backend, and a
 * granter rewriting frame under a pin.
 */
#include <errno.h>

#include "tests/grant/gt_test.h"

#define NR_ENTRIES 64
#define NR_FRAMES  16
#define NR_USABLE  (NR_ENTRIES - PVIO_GNTTAB_NR_RESERVED_ENTRIES)

static void fill_pages(struct gt_env *env)
{
	for (size_t i = 0; i < NR_FRAMES * GT_PAGE; i++)
		env->mem[i] = (uint8_t)(i ^ (i >> 12) * 31);
}

static int grant(struct gt_env *env, uint64_t gfn, bool ro)
{
	int ref = pvio_gnttab_grant(&env->fe, GT_BACKEND, gfn, ro);

	REQUIRE(ref >= PVIO_GNTTAB_NR_RESERVED_ENTRIES);
	return ref;
}

static void test_bounds(void)
{
	struct gt_env env;
	uint8_t buf[16] = { 0 };
	void *addr;
	int ref;

	gt_env_init(&env, NR_ENTRIES, NR_FRAMES);
	/* Ref past the table end. */
	CHECK_EQ(gt_map1(&env, NR_ENTRIES, true, &addr), PVIO_GNTST_bad_gntref);
	CHECK(addr == NULL);
	CHECK_EQ(gt_map1(&env, UINT32_MAX, false, NULL), PVIO_GNTST_bad_gntref);
	CHECK_EQ(gt_copy1(&env, NR_ENTRIES, 0, buf, 1, false), PVIO_GNTST_bad_gntref);
	CHECK_EQ(gt_unmap1(&env, NR_ENTRIES, true, NULL), PVIO_GNTST_bad_handle);

	/* Frame past guest memory: refused after pinning, pin undone, so the
	 * granter can revoke right away. */
	ref = grant(&env, NR_FRAMES, false);
	CHECK_EQ(gt_map1(&env, ref, false, &addr), PVIO_GNTST_bad_page);
	CHECK(addr == NULL);
	CHECK_EQ(gt_copy1(&env, ref, 0, buf, 1, true), PVIO_GNTST_bad_page);
	CHECK_EQ(gt_flags(&env, ref), PVIO_GTF_permit_access);
	CHECK_EQ(pvio_gnttab_revoke(&env.fe, ref), 0);
	gt_poke(&env, 20, PVIO_GTF_permit_access, GT_BACKEND, UINT32_MAX);
	CHECK_EQ(gt_map1(&env, 20, true, NULL), PVIO_GNTST_bad_page);
	gt_poke(&env, 20, 0, 0, 0);
	/* Frames past 32 bits cannot even be granted. */
	CHECK_EQ(pvio_gnttab_grant(&env.fe, GT_BACKEND, 1ull << 32, false), -EINVAL);
	CHECK_EQ(pvio_gnttab_grant(&env.fe, PVIO_DOMID_FIRST_RESERVED, 0, false), -EINVAL);

	/* Offset and length against the page. */
	ref = grant(&env, 2, false);
	{
		static uint8_t big[GT_PAGE + 1];
		struct { uint16_t off, len; int16_t st; } cases[] = {
			{ 0, GT_PAGE, PVIO_GNTST_okay },
			{ 4095, 1, PVIO_GNTST_okay },
			{ 4096, 0, PVIO_GNTST_okay },
			{ 0, 0, PVIO_GNTST_okay },
			{ 4095, 2, PVIO_GNTST_bad_copy_arg },
			{ 4000, 97, PVIO_GNTST_bad_copy_arg },
			{ 1, GT_PAGE, PVIO_GNTST_bad_copy_arg },
			{ 0, GT_PAGE + 1, PVIO_GNTST_bad_copy_arg },
			{ 65535, 1, PVIO_GNTST_bad_copy_arg },
			{ 65535, 65535, PVIO_GNTST_bad_copy_arg },
		};
		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			CHECK_EQ(gt_copy1(&env, ref, cases[i].off, big, cases[i].len, false),
				 cases[i].st);
			CHECK_EQ(gt_copy1(&env, ref, cases[i].off, big, cases[i].len, true),
				 cases[i].st);
		}
	}
	/* Wrong domain named in the copy; neither side a gref; unknown flags;
	 * NULL local buffer. */
	{
		struct pvio_gnt_copy_op ops[4] = { 0 };

		ops[0].source.foreign.ref = (uint32_t)ref;
		ops[0].source.foreign.domid = GT_OTHER;
		ops[0].dest.virt = buf;
		ops[0].len = 4;
		ops[0].flags = PVIO_GNTCOPY_source_gref;
		ops[1].source.virt = buf;
		ops[1].dest.virt = buf + 8;
		ops[1].len = 4;
		ops[2] = ops[0];
		ops[2].source.foreign.domid = GT_GUEST;
		ops[2].flags |= 0x4;
		ops[3] = ops[0];
		ops[3].source.foreign.domid = GT_GUEST;
		ops[3].dest.virt = NULL;
		CHECK_EQ(pvio_gnttab_copy(&env.view, ops, 4), 0);
		CHECK_EQ(ops[0].status, PVIO_GNTST_bad_domain);
		CHECK_EQ(ops[1].status, PVIO_GNTST_bad_copy_arg);
		CHECK_EQ(ops[2].status, PVIO_GNTST_bad_copy_arg);
		CHECK_EQ(ops[3].status, PVIO_GNTST_bad_copy_arg);
	}
	CHECK_EQ(gt_flags(&env, ref), PVIO_GTF_permit_access);
	CHECK_EQ(pvio_gnttab_revoke(&env.fe, ref), 0);
	gt_env_fini(&env);
}

static void test_revoke_and_unmap(void)
{
	struct gt_env env;
	void *a1, *a2, *a3;
	int ref;

	gt_env_init(&env, NR_ENTRIES, NR_FRAMES);
	/* Revoke while mapped, then after unmap. */
	ref = grant(&env, 3, false);
	CHECK_EQ(gt_map1(&env, ref, false, &a1), PVIO_GNTST_okay);
	CHECK(a1 == env.mem + 3 * GT_PAGE);
	CHECK_EQ(gt_flags(&env, ref), PVIO_GTF_permit_access | PVIO_GTF_reading | PVIO_GTF_writing);
	CHECK_EQ(pvio_gnttab_revoke(&env.fe, ref), -EBUSY);
	CHECK_EQ(pvio_gnttab_nr_free(&env.fe), NR_USABLE - 1);   /* not freed on -EBUSY */
	CHECK_EQ(gt_unmap1(&env, ref, false, a1), PVIO_GNTST_okay);
	CHECK_EQ(gt_flags(&env, ref), PVIO_GTF_permit_access);
	/* Double unmap: a status, no crash, nothing changes. */
	CHECK_EQ(gt_unmap1(&env, ref, false, a1), PVIO_GNTST_bad_handle);
	CHECK_EQ(gt_flags(&env, ref), PVIO_GTF_permit_access);
	CHECK_EQ(pvio_gnttab_revoke(&env.fe, ref), 0);
	CHECK_EQ(gt_flags(&env, ref), 0);
	CHECK_EQ(pvio_gnttab_revoke(&env.fe, ref), -EINVAL);     /* already free */
	CHECK_EQ(gt_map1(&env, ref, true, NULL), PVIO_GNTST_bad_gntref);
	CHECK_EQ(gt_unmap1(&env, ref, false, a1), PVIO_GNTST_bad_handle);
	CHECK_EQ(pvio_gnttab_revoke(&env.fe, 3), -EINVAL);       /* reserved, never granted */
	CHECK_EQ(pvio_gnttab_revoke(&env.fe, NR_ENTRIES), -EINVAL);
	CHECK_EQ(pvio_gnttab_revoke(&env.fe, UINT32_MAX), -EINVAL);

	/* Two maps need two unmaps; read-only and writable pins are separate. */
	ref = grant(&env, 4, false);
	CHECK_EQ(gt_map1(&env, ref, true, &a1), PVIO_GNTST_okay);
	CHECK_EQ(gt_flags(&env, ref), PVIO_GTF_permit_access | PVIO_GTF_reading);
	CHECK_EQ(gt_map1(&env, ref, true, &a2), PVIO_GNTST_okay);
	CHECK_EQ(gt_map1(&env, ref, false, &a3), PVIO_GNTST_okay);
	CHECK(a1 == a2 && a2 == a3);
	CHECK_EQ(gt_flags(&env, ref), PVIO_GTF_permit_access | PVIO_GTF_reading | PVIO_GTF_writing);
	CHECK_EQ(gt_unmap1(&env, ref, false, a3), PVIO_GNTST_okay);   /* last writer */
	CHECK_EQ(gt_flags(&env, ref), PVIO_GTF_permit_access | PVIO_GTF_reading);
	CHECK_EQ(gt_unmap1(&env, ref, false, a3), PVIO_GNTST_bad_handle); /* no rw pin left */
	CHECK_EQ(gt_unmap1(&env, ref, true, a1), PVIO_GNTST_okay);
	CHECK_EQ(pvio_gnttab_revoke(&env.fe, ref), -EBUSY);
	CHECK_EQ(gt_unmap1(&env, ref, true, env.mem), PVIO_GNTST_bad_virt_addr);
	CHECK_EQ(gt_flags(&env, ref), PVIO_GTF_permit_access | PVIO_GTF_reading);
	CHECK_EQ(gt_unmap1(&env, ref, true, a2), PVIO_GNTST_okay);
	CHECK_EQ(gt_unmap1(&env, ref, true, a2), PVIO_GNTST_bad_handle);
	CHECK_EQ(gt_flags(&env, ref), PVIO_GTF_permit_access);
	CHECK_EQ(pvio_gnttab_revoke(&env.fe, ref), 0);

	/* Read-only grant: read map fine, write map refused and leaves nothing. */
	ref = grant(&env, 5, true);
	CHECK_EQ(gt_map1(&env, ref, false, &a1), PVIO_GNTST_permission_denied);
	CHECK_EQ(gt_flags(&env, ref), PVIO_GTF_permit_access | PVIO_GTF_readonly);
	CHECK_EQ(gt_map1(&env, ref, true, &a1), PVIO_GNTST_okay);
	/* ... and a write upgrade of that live read-only pin is refused too. */
	CHECK_EQ(gt_map1(&env, ref, false, NULL), PVIO_GNTST_permission_denied);
	CHECK_EQ(gt_flags(&env, ref), PVIO_GTF_permit_access | PVIO_GTF_readonly | PVIO_GTF_reading);
	CHECK_EQ(gt_unmap1(&env, ref, true, a1), PVIO_GNTST_okay);
	CHECK_EQ(pvio_gnttab_revoke(&env.fe, ref), 0);

	/* Reserved entries, granted as the toolstack does. */
	CHECK_EQ(pvio_gnttab_grant_reserved(&env.fe, PVIO_GNTTAB_RESERVED_XENSTORE, GT_BACKEND, 7,
					    false), 0);
	CHECK_EQ(gt_map1(&env, PVIO_GNTTAB_RESERVED_XENSTORE, false, &a1), PVIO_GNTST_okay);
	CHECK(a1 == env.mem + 7 * GT_PAGE);
	CHECK_EQ(pvio_gnttab_grant_reserved(&env.fe, PVIO_GNTTAB_RESERVED_XENSTORE, GT_BACKEND, 8,
					    false), -EBUSY);
	CHECK_EQ(pvio_gnttab_revoke(&env.fe, PVIO_GNTTAB_RESERVED_XENSTORE), -EBUSY);
	CHECK_EQ(gt_unmap1(&env, PVIO_GNTTAB_RESERVED_XENSTORE, false, a1), PVIO_GNTST_okay);
	CHECK_EQ(pvio_gnttab_revoke(&env.fe, PVIO_GNTTAB_RESERVED_XENSTORE), 0);
	CHECK_EQ(pvio_gnttab_grant_reserved(&env.fe, PVIO_GNTTAB_NR_RESERVED_ENTRIES, GT_BACKEND, 1,
					    false), -EINVAL);
	CHECK_EQ(pvio_gnttab_nr_free(&env.fe), NR_USABLE);
	gt_env_fini(&env);
}

/* XSA-361 class: a batch with failures in the middle. */
static void test_map_batch(void)
{
	struct gt_env env;
	struct pvio_gnt_map_op ops[8] = { 0 };
	int good1, good2, ro, badframe, foreign;
	struct pvio_gnttab_stats s;

	gt_env_init(&env, NR_ENTRIES, NR_FRAMES);
	good1 = grant(&env, 1, false);
	ro = grant(&env, 2, true);
	badframe = grant(&env, NR_FRAMES + 5, false);
	good2 = grant(&env, 3, false);
	foreign = pvio_gnttab_grant(&env.fe, GT_OTHER, 4, false);
	REQUIRE(foreign > 0);

	ops[0] = (struct pvio_gnt_map_op){ .ref = (uint32_t)good1 };
	ops[1] = (struct pvio_gnt_map_op){ .ref = NR_ENTRIES + 1 };
	ops[2] = (struct pvio_gnt_map_op){ .ref = (uint32_t)ro, .flags = PVIO_GNTMAP_readonly };
	ops[3] = (struct pvio_gnt_map_op){ .ref = (uint32_t)ro };             /* write to r/o */
	ops[4] = (struct pvio_gnt_map_op){ .ref = (uint32_t)badframe };
	ops[5] = (struct pvio_gnt_map_op){ .ref = (uint32_t)foreign };
	ops[6] = (struct pvio_gnt_map_op){ .ref = 40 };                      /* never granted */
	ops[7] = (struct pvio_gnt_map_op){ .ref = (uint32_t)good2 };
	for (int i = 0; i < 8; i++)
		ops[i].addr = (void *)0x1;   /* must be overwritten either way */
	CHECK_EQ(pvio_gnttab_map(&env.view, ops, 8), 3);
	CHECK_EQ(ops[0].status, PVIO_GNTST_okay);
	CHECK_EQ(ops[1].status, PVIO_GNTST_bad_gntref);
	CHECK_EQ(ops[2].status, PVIO_GNTST_okay);
	CHECK_EQ(ops[3].status, PVIO_GNTST_permission_denied);
	CHECK_EQ(ops[4].status, PVIO_GNTST_bad_page);
	CHECK_EQ(ops[5].status, PVIO_GNTST_permission_denied);
	CHECK_EQ(ops[6].status, PVIO_GNTST_bad_gntref);
	CHECK_EQ(ops[7].status, PVIO_GNTST_okay);
	for (int i = 0; i < 8; i++) {
		if (ops[i].status == PVIO_GNTST_okay) {
			CHECK(ops[i].addr == env.mem + ops[i].frame * GT_PAGE);
		} else {
			CHECK(ops[i].addr == NULL);
			CHECK_EQ(ops[i].frame, 0);
		}
	}
	CHECK_EQ(ops[0].frame, 1);
	CHECK_EQ(ops[2].frame, 2);
	CHECK_EQ(ops[7].frame, 3);
	/* Exactly the successful ops hold something. */
	CHECK_EQ(gt_flags(&env, badframe), PVIO_GTF_permit_access);
	CHECK_EQ(gt_flags(&env, foreign), PVIO_GTF_permit_access);
	CHECK_EQ(gt_flags(&env, ro), PVIO_GTF_permit_access | PVIO_GTF_readonly | PVIO_GTF_reading);
	CHECK_EQ(pvio_gnttab_revoke(&env.fe, badframe), 0);
	CHECK_EQ(pvio_gnttab_revoke(&env.fe, foreign), 0);
	CHECK_EQ(pvio_gnttab_revoke(&env.fe, good1), -EBUSY);
	CHECK_EQ(pvio_gnttab_revoke_all(&env.fe), 3);   /* good1, ro, good2 still busy */

	/* Unmap the whole batch back, failures included: only the three
	 * successful ones unmap, the others report bad_handle. */
	CHECK_EQ(pvio_gnttab_unmap(&env.view, ops, 8), 3);
	for (int i = 0; i < 8; i++)
		CHECK_EQ(ops[i].status, i == 0 || i == 2 || i == 7 ? PVIO_GNTST_okay
								   : PVIO_GNTST_bad_handle);
	CHECK_EQ(pvio_gnttab_revoke_all(&env.fe), 0);
	CHECK_EQ(pvio_gnttab_nr_free(&env.fe), NR_USABLE);
	for (uint32_t r = 0; r < NR_ENTRIES; r++)
		CHECK_EQ(gt_flags(&env, r) & (PVIO_GTF_reading | PVIO_GTF_writing), 0);

	pvio_gnttab_view_stats(&env.view, &s);
	CHECK_EQ(s.maps, 3);
	CHECK_EQ(s.map_errors, 5);
	CHECK_EQ(s.unmaps, 3);
	CHECK_EQ(s.unmap_errors, 5);
	CHECK_EQ(s.errors[-PVIO_GNTST_bad_gntref], 2);
	CHECK_EQ(s.errors[-PVIO_GNTST_permission_denied], 2);
	CHECK_EQ(s.errors[-PVIO_GNTST_bad_page], 1);
	CHECK_EQ(s.errors[-PVIO_GNTST_bad_handle], 5);
	gt_env_fini(&env);
}

/* Copies in both directions in one batch, some failing: the successful
 * ones' bytes are right, the failed ones wrote nothing anywhere. */
static void test_copy_batch(void)
{
	struct gt_env env;
	struct pvio_gnt_copy_op ops[9];
	uint8_t local[9][256], ref_img[NR_FRAMES * GT_PAGE];
	int rw, ro, rw2;
	struct pvio_gnttab_stats s;

	gt_env_init(&env, NR_ENTRIES, NR_FRAMES);
	fill_pages(&env);
	rw = grant(&env, 6, false);
	ro = grant(&env, 7, true);
	rw2 = grant(&env, 8, false);
	memset(local, 0x11, sizeof(local));
	for (int i = 0; i < 9; i++)
		memset(local[i], 0x40 + i, 128);   /* first half: data to send */
	memcpy(ref_img, env.mem, sizeof(ref_img));
	memset(ops, 0, sizeof(ops));

#define FROM(i, r, off, n) do { ops[i].source.foreign.ref = (uint32_t)(r);           \
	ops[i].source.foreign.offset = (off); ops[i].source.foreign.domid = GT_GUEST;     \
	ops[i].dest.virt = local[i] + 128; ops[i].len = (n);                             \
	ops[i].flags = PVIO_GNTCOPY_source_gref; } while (0)
#define INTO(i, r, off, n) do { ops[i].dest.foreign.ref = (uint32_t)(r);             \
	ops[i].dest.foreign.offset = (off); ops[i].dest.foreign.domid = GT_GUEST;         \
	ops[i].source.virt = local[i]; ops[i].len = (n);                                 \
	ops[i].flags = PVIO_GNTCOPY_dest_gref; } while (0)

	FROM(0, rw, 10, 100);                  /* ok */
	INTO(1, rw, 3000, 128);                /* ok */
	FROM(2, ro, 4000, 96);                 /* ok: read of a r/o grant */
	INTO(3, ro, 0, 64);                    /* permission_denied: r/o */
	FROM(4, rw, 4000, 97);                 /* bad_copy_arg */
	INTO(5, 50, 0, 8);                     /* bad_gntref: never granted */
	FROM(6, NR_ENTRIES, 0, 8);             /* bad_gntref: past the end */
	/* gref -> gref: rw page 6 offset 0 -> rw2 page 8 offset 512 */
	ops[7].source.foreign.ref = (uint32_t)rw;
	ops[7].source.foreign.offset = 0;
	ops[7].source.foreign.domid = GT_GUEST;
	ops[7].dest.foreign.ref = (uint32_t)rw2;
	ops[7].dest.foreign.offset = 512;
	ops[7].dest.foreign.domid = GT_GUEST;
	ops[7].len = 200;
	ops[7].flags = PVIO_GNTCOPY_source_gref | PVIO_GNTCOPY_dest_gref;
	/* gref -> gref into the r/o one: source ok, dest refused; the source
	 * pin must be dropped again. */
	ops[8] = ops[7];
	ops[8].dest.foreign.ref = (uint32_t)ro;

	CHECK_EQ(pvio_gnttab_copy(&env.view, ops, 9), 4);
	CHECK_EQ(ops[0].status, PVIO_GNTST_okay);
	CHECK_EQ(ops[1].status, PVIO_GNTST_okay);
	CHECK_EQ(ops[2].status, PVIO_GNTST_okay);
	CHECK_EQ(ops[3].status, PVIO_GNTST_permission_denied);
	CHECK_EQ(ops[4].status, PVIO_GNTST_bad_copy_arg);
	CHECK_EQ(ops[5].status, PVIO_GNTST_bad_gntref);
	CHECK_EQ(ops[6].status, PVIO_GNTST_bad_gntref);
	CHECK_EQ(ops[7].status, PVIO_GNTST_okay);
	CHECK_EQ(ops[8].status, PVIO_GNTST_permission_denied);

	/* Bytes of the successful ops. */
	CHECK(memcmp(local[0] + 128, ref_img + 6 * GT_PAGE + 10, 100) == 0);
	CHECK(memcmp(env.mem + 6 * GT_PAGE + 3000, local[1], 128) == 0);
	CHECK(memcmp(local[2] + 128, ref_img + 7 * GT_PAGE + 4000, 96) == 0);
	CHECK(memcmp(env.mem + 8 * GT_PAGE + 512, ref_img + 6 * GT_PAGE, 200) == 0);
	/* Guest memory changed exactly where the successful copies wrote. */
	memcpy(ref_img + 6 * GT_PAGE + 3000, local[1], 128);
	memcpy(ref_img + 8 * GT_PAGE + 512, ref_img + 6 * GT_PAGE, 200);
	CHECK(memcmp(env.mem, ref_img, sizeof(ref_img)) == 0);
	/* Local buffers of failed "from" ops untouched (0x11 in the 2nd half). */
	for (int i = 4; i <= 6; i += 2)
		for (int j = 128; j < 256; j++)
			CHECK_EQ(local[i][j], 0x11);
	/* Copy pins are only for the duration. */
	for (uint32_t r = 0; r < NR_ENTRIES; r++)
		CHECK_EQ(gt_flags(&env, r) & (PVIO_GTF_reading | PVIO_GTF_writing), 0);
	CHECK_EQ(pvio_gnttab_revoke_all(&env.fe), 0);

	pvio_gnttab_view_stats(&env.view, &s);
	CHECK_EQ(s.copies, 4);
	CHECK_EQ(s.copy_errors, 5);
	CHECK_EQ(s.copy_bytes, 100 + 128 + 96 + 200);

	/* One page as both source and destination (overlapping): memmove. */
	rw = grant(&env, 9, false);
	{
		struct pvio_gnt_copy_op op = { 0 };
		uint8_t expect[GT_PAGE];

		memcpy(expect, env.mem + 9 * GT_PAGE, GT_PAGE);
		memmove(expect + 10, expect, 1000);
		op.source.foreign.ref = op.dest.foreign.ref = (uint32_t)rw;
		op.source.foreign.domid = op.dest.foreign.domid = GT_GUEST;
		op.dest.foreign.offset = 10;
		op.len = 1000;
		op.flags = PVIO_GNTCOPY_source_gref | PVIO_GNTCOPY_dest_gref;
		CHECK_EQ(pvio_gnttab_copy(&env.view, &op, 1), 1);
		CHECK(memcmp(expect, env.mem + 9 * GT_PAGE, GT_PAGE) == 0);
	}
	CHECK_EQ(gt_flags(&env, rw), PVIO_GTF_permit_access);
	gt_env_fini(&env);
#undef FROM
#undef INTO
}

static void test_free_list(void)
{
	struct gt_env env;
	int refs[NR_USABLE];
	uint64_t gfns[4] = { 1, 2, 3, 4 };
	uint32_t out[4];
	int r;

	gt_env_init(&env, NR_ENTRIES, NR_FRAMES);
	CHECK_EQ(pvio_gnttab_nr_free(&env.fe), NR_USABLE);
	for (int i = 0; i < NR_USABLE; i++) {
		refs[i] = pvio_gnttab_grant(&env.fe, GT_BACKEND, (uint64_t)i % NR_FRAMES, i & 1);
		CHECK(refs[i] >= PVIO_GNTTAB_NR_RESERVED_ENTRIES && refs[i] < NR_ENTRIES);
		for (int j = 0; j < i; j++)
			CHECK(refs[j] != refs[i]);
	}
	CHECK_EQ(pvio_gnttab_nr_free(&env.fe), 0);
	CHECK_EQ(pvio_gnttab_grant(&env.fe, GT_BACKEND, 0, false), -ENOSPC);
	CHECK_EQ(pvio_gnttab_grant_bulk(&env.fe, GT_BACKEND, gfns, 1, false, out), -ENOSPC);
	/* Reuse is FIFO: oldest revoked first. */
	CHECK_EQ(pvio_gnttab_revoke(&env.fe, (uint32_t)refs[30]), 0);
	CHECK_EQ(pvio_gnttab_revoke(&env.fe, (uint32_t)refs[5]), 0);
	CHECK_EQ(pvio_gnttab_revoke(&env.fe, (uint32_t)refs[17]), 0);
	CHECK_EQ(pvio_gnttab_nr_free(&env.fe), 3);
	/* All or nothing. */
	CHECK_EQ(pvio_gnttab_grant_bulk(&env.fe, GT_BACKEND, gfns, 4, false, out), -ENOSPC);
	CHECK_EQ(pvio_gnttab_nr_free(&env.fe), 3);
	gfns[1] = 1ull << 40;
	CHECK_EQ(pvio_gnttab_grant_bulk(&env.fe, GT_BACKEND, gfns, 2, false, out), -EINVAL);
	CHECK_EQ(pvio_gnttab_nr_free(&env.fe), 3);
	gfns[1] = 2;
	CHECK_EQ(pvio_gnttab_grant_bulk(&env.fe, GT_BACKEND, gfns, 2, true, out), 2);
	CHECK_EQ(out[0], refs[30]);
	CHECK_EQ(out[1], refs[5]);
	CHECK_EQ(env.table[out[1]].frame, 2);
	CHECK_EQ(env.table[out[1]].domid, GT_BACKEND);
	CHECK_EQ(gt_flags(&env, out[1]), PVIO_GTF_permit_access | PVIO_GTF_readonly);
	r = pvio_gnttab_grant(&env.fe, GT_OTHER, 9, false);
	CHECK_EQ(r, refs[17]);
	CHECK_EQ(pvio_gnttab_grant(&env.fe, GT_BACKEND, 0, false), -ENOSPC);
	CHECK_EQ(pvio_gnttab_grant_bulk(&env.fe, GT_BACKEND, gfns, 0, false, out), 0);
	/* Teardown with one still mapped. */
	CHECK_EQ(gt_map1(&env, (uint32_t)refs[40], true, NULL), PVIO_GNTST_okay);
	CHECK_EQ(pvio_gnttab_revoke_all(&env.fe), 1);
	CHECK_EQ(pvio_gnttab_nr_free(&env.fe), NR_USABLE - 1);
	pvio_gnttab_view_fini(&env.view);                /* backend gone */
	CHECK_EQ(pvio_gnttab_revoke_all(&env.fe), 0);
	CHECK_EQ(pvio_gnttab_nr_free(&env.fe), NR_USABLE);
	gt_env_fini(&env);
}

/* The backend dies or disconnects with maps held: fini drops them all. */
static void test_view_fini(void)
{
	struct gt_env env;
	struct pvio_gnttab_stats s;
	void *addr;
	int a, b, c;

	gt_env_init(&env, NR_ENTRIES, NR_FRAMES);
	a = grant(&env, 1, false);
	b = grant(&env, 2, true);
	c = grant(&env, 3, false);
	CHECK_EQ(gt_map1(&env, a, false, NULL), PVIO_GNTST_okay);
	CHECK_EQ(gt_map1(&env, a, true, NULL), PVIO_GNTST_okay);
	CHECK_EQ(gt_map1(&env, b, true, NULL), PVIO_GNTST_okay);
	CHECK_EQ(gt_map1(&env, b, true, NULL), PVIO_GNTST_okay);
	CHECK_EQ(gt_map1(&env, c, false, &addr), PVIO_GNTST_okay);
	CHECK_EQ(gt_unmap1(&env, c, false, addr), PVIO_GNTST_okay);
	CHECK_EQ(pvio_gnttab_revoke_all(&env.fe), 2);
	pvio_gnttab_view_fini(&env.view);
	for (uint32_t r = 0; r < NR_ENTRIES; r++)
		CHECK_EQ(gt_flags(&env, r) & (PVIO_GTF_reading | PVIO_GTF_writing), 0);
	pvio_gnttab_view_stats(&env.view, &s);
	CHECK_EQ(s.fini_released, 4);
	CHECK_EQ(pvio_gnttab_revoke_all(&env.fe), 0);
	/* A torn-down view fails everything cleanly, and fini is idempotent. */
	a = grant(&env, 1, false);
	CHECK_EQ(gt_map1(&env, a, false, &addr), PVIO_GNTST_general_error);
	CHECK(addr == NULL);
	CHECK_EQ(gt_unmap1(&env, a, false, env.mem + GT_PAGE), PVIO_GNTST_bad_handle);
	CHECK_EQ(gt_copy1(&env, a, 0, &addr, 1, false), PVIO_GNTST_general_error);
	CHECK_EQ(gt_flags(&env, a), PVIO_GTF_permit_access);
	pvio_gnttab_view_fini(&env.view);
	gt_env_fini(&env);
}

/* A frontend restarts under a live backend: its init must not free (and
 * later reuse) an entry the backend still has mapped. */
static void test_fe_restart(void)
{
	struct gt_env env;
	void *addr;
	int held, idle;

	gt_env_init(&env, NR_ENTRIES, NR_FRAMES);
	held = grant(&env, 4, false);
	idle = grant(&env, 5, false);
	CHECK_EQ(gt_map1(&env, held, false, &addr), PVIO_GNTST_okay);
	pvio_gnttab_fe_fini(&env.fe);
	pvio_gnttab_fe_fini(&env.fe);                   /* idempotent */
	REQUIRE(pvio_gnttab_fe_init(&env.fe, env.table, NR_ENTRIES) == 0);
	CHECK_EQ(env.fe.nr_adopted_busy, 1);
	CHECK_EQ(pvio_gnttab_nr_free(&env.fe), NR_USABLE - 1);
	CHECK_EQ(gt_flags(&env, idle), 0);              /* ended by init */
	CHECK_EQ(gt_flags(&env, held), PVIO_GTF_permit_access | PVIO_GTF_reading | PVIO_GTF_writing);
	for (int i = 0; i < NR_USABLE - 1; i++)
		CHECK(pvio_gnttab_grant(&env.fe, GT_BACKEND, 0, false) != held);
	CHECK_EQ(pvio_gnttab_revoke(&env.fe, (uint32_t)held), -EBUSY);
	CHECK_EQ(gt_unmap1(&env, held, false, addr), PVIO_GNTST_okay);
	CHECK_EQ(pvio_gnttab_revoke(&env.fe, (uint32_t)held), 0);
	CHECK_EQ(pvio_gnttab_revoke_all(&env.fe), 0);
	CHECK_EQ(pvio_gnttab_nr_free(&env.fe), NR_USABLE);
	/* Bad init arguments. */
	{
		struct pvio_gnttab_fe fe2;
		struct pvio_gnttab_view v2;

		CHECK_EQ(pvio_gnttab_fe_init(&fe2, env.table, PVIO_GNTTAB_NR_RESERVED_ENTRIES), -EINVAL);
		CHECK_EQ(pvio_gnttab_fe_init(&fe2, (uint8_t *)env.table + 2, 16), -EINVAL);
		CHECK_EQ(pvio_gnttab_fe_init(&fe2, NULL, 16), -EINVAL);
		CHECK_EQ(pvio_gnttab_view_init(&v2, env.table, 0, env.mem, 1, GT_GUEST, 0), -EINVAL);
		CHECK_EQ(pvio_gnttab_view_init(&v2, env.table, 16, NULL, 1, GT_GUEST, 0), -EINVAL);
		CHECK_EQ(pvio_gnttab_view_init(&v2, env.table, 16, env.mem, 1, 3, 3), -EINVAL);
		/* A granter without memory (dom0): every map is bad_page. */
		CHECK_EQ(pvio_gnttab_view_init(&v2, env.table, NR_ENTRIES, NULL, 0, GT_GUEST,
					       GT_BACKEND), 0);
		held = grant(&env, 0, false);
		{
			struct pvio_gnt_map_op op = { .ref = (uint32_t)held };

			CHECK_EQ(pvio_gnttab_map(&v2, &op, 1), 0);
			CHECK_EQ(op.status, PVIO_GNTST_bad_page);
			CHECK(op.addr == NULL);
		}
		pvio_gnttab_view_fini(&v2);
		CHECK_EQ(pvio_gnttab_revoke(&env.fe, (uint32_t)held), 0);
	}
	gt_env_fini(&env);
}

/* The granter rewrites frame (and flags) while a pin is held: every pin
 * sees the frame read at the first pin; a new first pin reads it again. */
static void test_frame_rewrite(void)
{
	struct gt_env env;
	void *a1, *a2, *a3;
	uint8_t buf[4];
	int ref;

	gt_env_init(&env, NR_ENTRIES, NR_FRAMES);
	fill_pages(&env);
	ref = grant(&env, 2, false);
	CHECK_EQ(gt_map1(&env, ref, true, &a1), PVIO_GNTST_okay);
	env.table[ref].frame = 9;                       /* hostile rewrite */
	CHECK_EQ(gt_map1(&env, ref, false, &a2), PVIO_GNTST_okay);
	CHECK(a1 == a2 && a1 == env.mem + 2 * GT_PAGE);
	CHECK_EQ(gt_copy1(&env, ref, 0, buf, 4, false), PVIO_GNTST_okay);
	CHECK(memcmp(buf, env.mem + 2 * GT_PAGE, 4) == 0);
	env.table[ref].frame = 1000;                    /* out of range: not read now */
	CHECK_EQ(gt_unmap1(&env, ref, false, a2), PVIO_GNTST_okay);
	CHECK_EQ(gt_unmap1(&env, ref, true, a1), PVIO_GNTST_okay);
	CHECK_EQ(gt_map1(&env, ref, true, &a3), PVIO_GNTST_bad_page);
	env.table[ref].frame = 9;
	CHECK_EQ(gt_map1(&env, ref, true, &a3), PVIO_GNTST_okay);
	CHECK(a3 == env.mem + 9 * GT_PAGE);
	/* A hostile granter clears the type under a pin: new pins are refused
	 * (every pin re-validates), the held one still unmaps cleanly. */
	pvio_store_release(&env.table[ref].flags, PVIO_GTF_reading);
	CHECK_EQ(gt_map1(&env, ref, true, NULL), PVIO_GNTST_bad_gntref);
	CHECK_EQ(gt_unmap1(&env, ref, true, a3), PVIO_GNTST_okay);
	CHECK_EQ(gt_flags(&env, ref), 0);
	/* Changing domid under a pin to another domain: refused too. */
	gt_poke(&env, ref, PVIO_GTF_permit_access, GT_BACKEND, 3);
	CHECK_EQ(gt_map1(&env, ref, true, &a3), PVIO_GNTST_okay);
	env.table[ref].domid = GT_OTHER;
	CHECK_EQ(gt_map1(&env, ref, true, NULL), PVIO_GNTST_permission_denied);
	CHECK_EQ(gt_unmap1(&env, ref, true, a3), PVIO_GNTST_okay);
	CHECK_EQ(gt_flags(&env, ref), PVIO_GTF_permit_access);
	gt_env_fini(&env);
}

int main(void)
{
	test_bounds();
	test_revoke_and_unmap();
	test_map_batch();
	test_copy_batch();
	test_free_list();
	test_view_fini();
	test_fe_restart();
	test_frame_rewrite();
	return gt_result("test_gnttab_ops");
}
