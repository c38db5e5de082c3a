/* SPDX-License-Identifier: MIT */
/*
 * Grant semantics table: every value of the nine defined GTF bits (type,
 * readonly, reading, writing, PWT/PCD/PAT, sub_page) for an entry naming the
 * backend and one naming another domain, against the four kinds of access:
 * map read-only, map writable, copy out of the grant, copy into the grant.
 *
 * The expected status comes from the rules of gnttab.h, written out here
 * independently; a short hand-written table of the headline cases comes
 * first so that a failure there reads like the spec.
 */
#include "tests/grant/gt_test.h"

enum access { MAP_RO, MAP_RW, COPY_FROM, COPY_INTO, NR_ACCESS };
static const char *const access_name[] = { "map-ro", "map-rw", "copy-from", "copy-into" };

#define REF    10
#define FRAME  3

static int16_t expected(uint16_t flags, uint16_t domid, enum access acc)
{
	bool write = acc == MAP_RW || acc == COPY_INTO;
	bool map = acc == MAP_RO || acc == MAP_RW;

	switch (flags & PVIO_GTF_type_mask) {
	case PVIO_GTF_invalid:
		return PVIO_GNTST_bad_gntref;
	case PVIO_GTF_accept_transfer:
	case PVIO_GTF_transitive:
		return PVIO_GNTST_permission_denied;
	}
	if (map && (flags & PVIO_GTF_sub_page))
		return PVIO_GNTST_permission_denied;
	if (domid != GT_BACKEND)
		return PVIO_GNTST_permission_denied;
	if (write && (flags & PVIO_GTF_readonly))
		return PVIO_GNTST_permission_denied;
	return PVIO_GNTST_okay;
}

/* Run one access; on success verify the address/data and undo it. */
static int16_t run(struct gt_env *env, enum access acc, uint16_t before)
{
	uint8_t buf[64];
	void *addr = NULL;
	int16_t st;

	switch (acc) {
	case MAP_RO:
	case MAP_RW:
		st = gt_map1(env, REF, acc == MAP_RO, &addr);
		if (st == PVIO_GNTST_okay) {
			CHECK(addr == env->mem + FRAME * GT_PAGE);
			CHECK(gt_flags(env, REF) & PVIO_GTF_reading);
			CHECK(!!(gt_flags(env, REF) & PVIO_GTF_writing) ==
			      (acc == MAP_RW || (before & PVIO_GTF_writing)));
			CHECK_EQ(gt_unmap1(env, REF, acc == MAP_RO, addr), PVIO_GNTST_okay);
		} else {
			CHECK(addr == NULL);
		}
		return st;
	case COPY_FROM:
		memset(buf, 0, sizeof(buf));
		st = gt_copy1(env, REF, 100, buf, sizeof(buf), false);
		if (st == PVIO_GNTST_okay)
			CHECK(memcmp(buf, env->mem + FRAME * GT_PAGE + 100, sizeof(buf)) == 0);
		else
			for (size_t i = 0; i < sizeof(buf); i++)
				CHECK(buf[i] == 0);
		return st;
	case COPY_INTO:
		memset(buf, 0xA5, sizeof(buf));
		memset(env->mem + FRAME * GT_PAGE, 0, GT_PAGE);
		st = gt_copy1(env, REF, 200, buf, sizeof(buf), true);
		if (st == PVIO_GNTST_okay)
			CHECK(memcmp(buf, env->mem + FRAME * GT_PAGE + 200, sizeof(buf)) == 0);
		else
			for (size_t i = 0; i < GT_PAGE; i++)
				CHECK(env->mem[FRAME * GT_PAGE + i] == 0);
		return st;
	default:
		return PVIO_GNTST_general_error;
	}
}

struct row {
	const char *what;
	uint16_t flags, domid;
	int16_t st[NR_ACCESS];
};

#define OK   PVIO_GNTST_okay
#define DEN  PVIO_GNTST_permission_denied
#define BREF PVIO_GNTST_bad_gntref
#define PA   PVIO_GTF_permit_access
#define RO   PVIO_GTF_readonly

static const struct row rows[] = {
	/*                                          map-ro map-rw copy-from copy-into */
	{ "invalid",               0,                        GT_BACKEND, { BREF, BREF, BREF, BREF } },
	{ "permit_access",         PA,                       GT_BACKEND, { OK,   OK,   OK,   OK   } },
	{ "permit_access|readonly", PA | RO,                 GT_BACKEND, { OK,   DEN,  OK,   DEN  } },
	{ "accept_transfer",       PVIO_GTF_accept_transfer, GT_BACKEND, { DEN,  DEN,  DEN,  DEN  } },
	{ "transitive",            PVIO_GTF_transitive,      GT_BACKEND, { DEN,  DEN,  DEN,  DEN  } },
	{ "sub_page (v1: copy only)", PA | PVIO_GTF_sub_page, GT_BACKEND, { DEN, DEN,  OK,   OK   } },
	{ "sub_page|readonly",     PA | RO | PVIO_GTF_sub_page, GT_BACKEND, { DEN, DEN, OK,  DEN  } },
	{ "cache attrs ignored",   PA | PVIO_GTF_PWT | PVIO_GTF_PCD | PVIO_GTF_PAT, GT_BACKEND,
	                                                                 { OK,   OK,   OK,   OK   } },
	{ "wrong domid",           PA,                       GT_OTHER,   { DEN,  DEN,  DEN,  DEN  } },
	{ "wrong domid, readonly", PA | RO,                  GT_OTHER,   { DEN,  DEN,  DEN,  DEN  } },
	{ "granter's own domid",   PA,                       GT_GUEST,   { DEN,  DEN,  DEN,  DEN  } },
};

int main(void)
{
	struct gt_env env;
	unsigned combos = 0;

	gt_env_init(&env, 64, 8);
	for (size_t i = 0; i < 8 * GT_PAGE; i++)
		env.mem[i] = (uint8_t)(i * 7 + 3);

	/* 1. The headline cases. */
	for (size_t r = 0; r < sizeof(rows) / sizeof(rows[0]); r++) {
		for (int a = 0; a < NR_ACCESS; a++) {
			int16_t st;

			gt_poke(&env, REF, rows[r].flags, rows[r].domid, FRAME);
			st = run(&env, a, rows[r].flags);
			if (st != rows[r].st[a]) {
				fprintf(stderr, "row '%s' %s: status %d (%s), want %d (%s)\n",
					rows[r].what, access_name[a], st, pvio_gntst_strerror(st),
					rows[r].st[a], pvio_gntst_strerror(rows[r].st[a]));
				gt_failures++;
			}
			/* Nothing left behind, successful or not. */
			CHECK_EQ(gt_flags(&env, REF), rows[r].flags);
		}
	}

	/* 2. Every combination of the nine defined bits x two domids. A guest
	 * may also preset GTF_reading/writing itself: the mapper ignores them
	 * when validating, and a successful access leaves them clear. */
	for (uint32_t flags = 0; flags < 0x200; flags++) {
		static const uint16_t domids[] = { GT_BACKEND, GT_OTHER };

		for (int d = 0; d < 2; d++) {
			for (int a = 0; a < NR_ACCESS; a++) {
				int16_t want = expected((uint16_t)flags, domids[d], a);
				int16_t st;
				uint16_t after, expect_after = (uint16_t)flags;

				gt_poke(&env, REF, (uint16_t)flags, domids[d], FRAME);
				st = run(&env, a, (uint16_t)flags);
				after = gt_flags(&env, REF);
				if (st == PVIO_GNTST_okay) {
					bool w = a == MAP_RW || a == COPY_INTO;

					expect_after &= (uint16_t)~PVIO_GTF_reading;
					if (w)
						expect_after &= (uint16_t)~PVIO_GTF_writing;
				}
				if (st != want || after != expect_after) {
					fprintf(stderr,
						"flags %#05x dom %u %s: status %d want %d, flags after %#x want %#x\n",
						flags, domids[d], access_name[a], st, want, after,
						expect_after);
					gt_failures++;
				}
				combos++;
			}
		}
	}

	/* 3. The counters saw it all: every op counted once, as ok or error. */
	{
		struct pvio_gnttab_stats s;
		uint64_t errs = 0;

		pvio_gnttab_view_stats(&env.view, &s);
		for (int i = 0; i < PVIO_GNTTAB_NR_STATUS; i++)
			errs += s.errors[i];
		CHECK_EQ(errs, s.map_errors + s.copy_errors + s.unmap_errors);
		CHECK_EQ(s.unmaps, s.maps);
		CHECK_EQ(s.unmap_errors, 0);
		CHECK(s.errors[-PVIO_GNTST_permission_denied] > 0);
		CHECK(s.errors[-PVIO_GNTST_bad_gntref] > 0);
		CHECK_EQ(s.maps + s.map_errors + s.copies + s.copy_errors,
			 combos + 4 * sizeof(rows) / sizeof(rows[0]));
	}
	printf("%u flag/domid/access combinations checked\n", combos);
	gt_env_fini(&env);
	return gt_result("test_gnttab_flags");
}
