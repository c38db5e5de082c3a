/* SPDX-License-Identifier: MIT */
/*
 * A hostile granter: one thread keeps rewriting a few grant entries with
 * random flags (any bits, including GTF_reading/writing), domids and frames
 * (many out of range) while a backend thread maps, copies and unmaps them.
 *
 * Nothing may hang (the cmpxchg loop is bounded), every status must be one
 * of the validation failures, every success must point inside guest memory
 * (the memory is an exact-size heap block, so ASan catches any stray byte),
 * and every map the backend holds must unmap cleanly whatever the guest did
 * to the entry meanwhile.
 *
 * GT_SECONDS (default 2, halved here) sets the duration.
 */
#include <pthread.h>
#include <time.h>

#include "grant-tables/gnttab_internal.h"
#include "tests/grant/gt_test.h"

#define NR_ENTRIES 16
#define NR_FRAMES  8
#define FIRST      PVIO_GNTTAB_NR_RESERVED_ENTRIES

static struct gt_env env;
static uint32_t stop;
static double g_secs = 1.0;

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void *guest(void *arg)
{
	uint64_t seed = 0xBADC0DEull;
	double end = now() + g_secs;

	(void)arg;
	while (now() < end) {
		uint64_t r = rnd(&seed);
		uint32_t ref = FIRST + (uint32_t)(r % (NR_ENTRIES - FIRST));
		struct pvio_grant_entry_v1 *e = &env.table[ref];
		/* Mostly plausible grants to us, sometimes garbage. */
		uint16_t flags = (r >> 8) & 1 ? (uint16_t)(r >> 16)
					      : (uint16_t)(PVIO_GTF_permit_access | ((r >> 16) & 0x1FC));
		uint16_t domid = (r >> 9) & 7 ? GT_BACKEND : (uint16_t)(r >> 32);
		uint32_t frame = (r >> 10) & 3 ? (uint32_t)(r >> 40) % NR_FRAMES
					       : (uint32_t)(r >> 24);

		/* Relaxed: a hostile guest orders nothing. */
		pvio_store_relaxed(&e->frame, frame);
		pvio_store_relaxed(pvio__gnt_word(e), pvio__gnt_combo(flags, domid));
	}
	pvio_store_release(&stop, 1);
	return NULL;
}

static bool allowed_failure(int16_t st)
{
	return st == PVIO_GNTST_bad_gntref || st == PVIO_GNTST_permission_denied ||
	       st == PVIO_GNTST_bad_page || st == PVIO_GNTST_general_error;
}

int main(void)
{
	struct pvio_gnt_map_op held[32];
	unsigned nh = 0;
	uint64_t seed = 42, ok = 0, failed = 0, unstable = 0, copies = 0;
	pthread_t t;
	struct pvio_gnttab_stats st;
	const char *s = getenv("GT_SECONDS");

	if (s && atof(s) > 0)
		g_secs = atof(s) / 2;
	gt_env_init(&env, NR_ENTRIES, NR_FRAMES);
	REQUIRE(pthread_create(&t, NULL, guest, NULL) == 0);

	/* Acquire pairs with the guest thread's release of stop. */
	while (!pvio_load_acquire(&stop)) {
		uint64_t r = rnd(&seed);
		uint32_t ref = FIRST + (uint32_t)(r % (NR_ENTRIES - FIRST));

		if ((r >> 8) % 3 == 0 && nh < 32) {
			struct pvio_gnt_map_op op = {
				.ref = ref, .flags = (r >> 12) & 1 ? PVIO_GNTMAP_readonly : 0,
			};

			pvio_gnttab_map(&env.view, &op, 1);
			if (op.status == PVIO_GNTST_okay) {
				CHECK(op.frame < NR_FRAMES);
				CHECK(op.addr == env.mem + op.frame * GT_PAGE);
				memset(op.addr, 0x5A, 8);   /* touch it: ASan checks bounds */
				held[nh++] = op;
				ok++;
			} else {
				CHECK(allowed_failure(op.status));
				CHECK(op.addr == NULL);
				unstable += op.status == PVIO_GNTST_general_error;
				failed++;
			}
		} else if ((r >> 8) % 3 == 1 && nh) {
			unsigned i = (unsigned)((r >> 16) % nh);

			CHECK_EQ(pvio_gnttab_unmap(&env.view, &held[i], 1), 1);
			held[i] = held[--nh];
		} else {
			uint8_t buf[GT_PAGE];
			struct pvio_gnt_copy_op op = { .len = GT_PAGE };

			if ((r >> 12) & 1) {
				op.source.foreign.ref = ref;
				op.source.foreign.domid = GT_GUEST;
				op.dest.virt = buf;
				op.flags = PVIO_GNTCOPY_source_gref;
			} else {
				memset(buf, 0xC3, sizeof(buf));
				op.source.virt = buf;
				op.dest.foreign.ref = ref;
				op.dest.foreign.domid = GT_GUEST;
				op.flags = PVIO_GNTCOPY_dest_gref;
			}
			pvio_gnttab_copy(&env.view, &op, 1);
			if (op.status == PVIO_GNTST_okay)
				copies++;
			else
				CHECK(allowed_failure(op.status));
		}
		if (gt_failures > 20)
			break;
	}
	pthread_join(t, NULL);
	while (nh) {
		nh--;
		CHECK_EQ(pvio_gnttab_unmap(&env.view, &held[nh], 1), 1);
	}
	pvio_gnttab_view_stats(&env.view, &st);
	CHECK_EQ(st.unmap_errors, 0);
	CHECK_EQ(st.unmaps, st.maps);
	/* The guest may have left its own GTF_reading/writing bits in place;
	 * the view itself holds nothing any more. */
	pvio_gnttab_view_fini(&env.view);
	pvio_gnttab_view_stats(&env.view, &st);
	CHECK_EQ(st.fini_released, 0);
	printf("maps %llu ok / %llu failed (%llu unstable), copies ok %llu\n",
	       (unsigned long long)ok, (unsigned long long)failed, (unsigned long long)unstable,
	       (unsigned long long)copies);
	CHECK(ok > 100 && failed > 100 && copies > 100);
	/* Clear the guest's garbage so that fe_fini/ revoke have nothing odd. */
	memset(env.table, 0, NR_ENTRIES * sizeof(*env.table));
	gt_env_fini(&env);
	return gt_result("test_gnttab_hostile");
}
