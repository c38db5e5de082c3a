/* SPDX-License-Identifier: MIT */
/*
 * A frontend grants and revokes in a loop while backends map, copy and unmap
 * the same refs, for a couple of seconds, in two set-ups:
 *   threads: one process, a frontend thread and two backend threads sharing
 *            one view (exercises the view's per-ref locking);
 *   procs:   the backend is a forked process, and table, memory and the
 *            checking state live in memfds, as hv/ will do it.
 *
 * Checked:
 *  - revoke never succeeds while a map is held: backends count their live
 *    maps per ref in shared memory (incremented after map, decremented before
 *    unmap); a successful revoke must see 0;
 *  - no torn frame, no use after revoke: before granting, the frontend
 *    writes a tag {gfn, seq} into the page, publishes expect[ref] = gfn after
 *    granting (and withdraws it before revoking), and poisons the tag after
 *    a successful revoke. A successful map must return the page whose tag
 *    names that frame, the frame expect[ref] names (if published), and the
 *    tag must not change for as long as the map is held. A copy out of a
 *    grant must never see a poisoned tag;
 *  - at the end no GTF_reading/writing bit is set, the view held no pin at
 *    fini, revoke_all frees everything and the free count is back to start.
 *
 * GT_SECONDS (default 2) sets the duration of each set-up.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/grant/gt_test.h"

#define NR_ENTRIES  48
#define NR_FRAMES   64
#define NR_USABLE   (NR_ENTRIES - PVIO_GNTTAB_NR_RESERVED_ENTRIES)
#define MAX_GRANTED 32
#define MAX_HELD    12
#define POISON      0xDEADBEEFu
#define WRITE_OFF   2048           /* backends copy into the 2nd half only */

struct tag {
	uint32_t gfn;
	uint32_t seq;
};

struct shared {
	uint32_t stop;
	uint32_t expect[NR_ENTRIES];   /* gfn + 1 while granted and published */
	uint32_t mapped[NR_ENTRIES];   /* live backend maps per ref */
	uint64_t violations;
	uint64_t maps_ok, maps_failed, copies_ok, copies_failed, unmaps_ok;
	uint64_t revokes_ok, revokes_busy, fini_released, leftover_bits;
};

struct world {
	struct pvio_grant_entry_v1 *table;
	uint8_t *mem;
	struct shared *sh;
	struct pvio_gnttab_view *view;   /* threads mode: shared by backends */
	uint64_t seed;
};

static double g_secs = 2.0;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void violation(struct shared *sh, const char *what, uint32_t ref, uint64_t a,
		      uint64_t b)
{
	fprintf(stderr, "VIOLATION: %s (ref %u: %#llx vs %#llx)\n", what, ref,
		(unsigned long long)a, (unsigned long long)b);
	pvio_fetch_add(&sh->violations, 1);
}

static struct tag *page_tag(struct world *w, uint32_t gfn)
{
	return (struct tag *)(w->mem + (size_t)gfn * GT_PAGE);
}

/* ---------------------------------------------------------------- frontend */

struct granted {
	uint32_t ref;
	uint32_t gfn;
};

static void revoke_one(struct world *w, struct pvio_gnttab_fe *fe, struct granted *g,
		       uint32_t *free_gfns, uint32_t *nr_free_gfns, bool *done)
{
	struct shared *sh = w->sh;
	uint32_t m;
	int r;

	/* Withdraw the expectation first (relaxed: ordered for the backend by
	 * the revoke/grant word, see the header comment). */
	pvio_store_relaxed(&sh->expect[g->ref], 0);
	r = pvio_gnttab_revoke(fe, g->ref);
	if (r == -EBUSY) {
		pvio_store_relaxed(&sh->expect[g->ref], g->gfn + 1);
		sh->revokes_busy++;
		*done = false;
		return;
	}
	if (r != 0)
		violation(sh, "revoke of a granted ref failed", g->ref, (uint64_t)r, 0);
	/* Acquire pairs with the backend's release fetch_add before unmap. */
	m = pvio_load_acquire(&sh->mapped[g->ref]);
	if (m)
		violation(sh, "revoke succeeded while mapped", g->ref, m, 0);
	/* The page is ours again: poison it, a backend still using it will
	 * notice. */
	page_tag(w, g->gfn)->gfn = POISON;
	free_gfns[(*nr_free_gfns)++] = g->gfn;
	sh->revokes_ok++;
	*done = true;
}

static void *frontend(void *arg)
{
	struct world *w = arg;
	struct shared *sh = w->sh;
	struct pvio_gnttab_fe fe;
	struct granted g[MAX_GRANTED];
	uint32_t free_gfns[NR_FRAMES], nr_free_gfns = 0, ng = 0, seq = 0;
	uint64_t seed = w->seed;
	double end, deadline;
	bool done;

	REQUIRE(pvio_gnttab_fe_init(&fe, w->table, NR_ENTRIES) == 0);
	CHECK_EQ(pvio_gnttab_nr_free(&fe), NR_USABLE);
	for (uint32_t i = 0; i < NR_FRAMES; i++) {
		page_tag(w, i)->gfn = POISON;
		free_gfns[nr_free_gfns++] = i;
	}

	end = now() + g_secs;
	while (now() < end) {
		uint64_t r = rnd(&seed);

		if (ng < MAX_GRANTED && nr_free_gfns && (r & 3) != 0) {
			uint32_t pick = (uint32_t)(r >> 8) % nr_free_gfns;
			uint32_t gfn = free_gfns[pick];
			struct tag *t = page_tag(w, gfn);
			int ref;

			/* The page is private until the grant publishes it. */
			t->gfn = gfn;
			t->seq = ++seq;
			ref = pvio_gnttab_grant(&fe, GT_BACKEND, gfn, (r >> 4) % 4 == 0);
			if (ref < 0) {
				violation(sh, "grant failed with refs free", 0, (uint64_t)ref, 0);
				break;
			}
			pvio_store_relaxed(&sh->expect[ref], gfn + 1);
			free_gfns[pick] = free_gfns[--nr_free_gfns];
			g[ng].ref = (uint32_t)ref;
			g[ng].gfn = gfn;
			ng++;
		} else if (ng) {
			uint32_t i = (uint32_t)(r >> 8) % ng;

			revoke_one(w, &fe, &g[i], free_gfns, &nr_free_gfns, &done);
			if (done)
				g[i] = g[--ng];
		}
	}

	/* Stop the backends; they unmap everything they hold and exit. Then
	 * everything must revoke (loop: a backend may still be finishing). */
	pvio_store_release(&sh->stop, 1);
	deadline = now() + 30;
	while (ng && now() < deadline) {
		for (uint32_t i = 0; i < ng;) {
			revoke_one(w, &fe, &g[i], free_gfns, &nr_free_gfns, &done);
			if (done)
				g[i] = g[--ng];
			else
				i++;
		}
		if (ng)
			sched_yield();
	}
	CHECK_EQ(ng, 0);
	CHECK_EQ(pvio_gnttab_revoke_all(&fe), 0);
	CHECK_EQ(pvio_gnttab_nr_free(&fe), NR_USABLE);
	CHECK_EQ(nr_free_gfns, NR_FRAMES);
	pvio_gnttab_fe_fini(&fe);
	return NULL;
}

/* ----------------------------------------------------------------- backend */

struct held {
	struct pvio_gnt_map_op op;
	struct tag tag;
};

static void check_map(struct world *w, struct held *h)
{
	struct shared *sh = w->sh;
	uint32_t ref = h->op.ref;
	struct tag *t = h->op.addr;
	uint32_t e;

	if (h->op.addr != w->mem + h->op.frame * GT_PAGE)
		violation(sh, "address does not match frame", ref, h->op.frame, 0);
	h->tag = *t;
	if (h->tag.gfn != h->op.frame)
		violation(sh, "mapped page's tag names another frame", ref, h->tag.gfn,
			  h->op.frame);
	e = pvio_load_relaxed(&sh->expect[ref]);
	if (e && e != h->op.frame + 1)
		violation(sh, "mapped frame is not the granted one", ref, h->op.frame, e - 1);
}

static void unmap_held(struct world *w, struct pvio_gnttab_view *v, struct held *h)
{
	struct shared *sh = w->sh;
	struct tag *t = h->op.addr;

	if (t->gfn != h->tag.gfn || t->seq != h->tag.seq)
		violation(sh, "page changed under a held map", h->op.ref, t->gfn, h->tag.gfn);
	/* Release pairs with the frontend's acquire load after its revoke. */
	pvio_fetch_add(&sh->mapped[h->op.ref], (uint32_t)-1);
	if (pvio_gnttab_unmap(v, &h->op, 1) != 1)
		violation(sh, "unmap of a held map failed", h->op.ref, (uint64_t)h->op.status, 0);
	pvio_fetch_add(&sh->unmaps_ok, 1);
}

/* id: which backend; each copies into its own 64 bytes of a page, so that
 * two backends never write the same guest bytes at once. */
static void backend_loop(struct world *w, struct pvio_gnttab_view *v, uint64_t seed,
			 unsigned id)
{
	struct shared *sh = w->sh;
	struct held held[MAX_HELD];
	unsigned nh = 0;

	/* Acquire pairs with the frontend's release of stop. */
	while (!pvio_load_acquire(&sh->stop)) {
		uint64_t r = rnd(&seed);

		switch (r % 4) {
		case 0: case 1: {    /* map a batch of random refs */
			struct pvio_gnt_map_op ops[8];
			unsigned n = 1 + (unsigned)(r >> 8) % 8, ok = 0;

			if (n > MAX_HELD - nh)
				n = MAX_HELD - nh;
			for (unsigned i = 0; i < n; i++)
				ops[i] = (struct pvio_gnt_map_op){
					.ref = PVIO_GNTTAB_NR_RESERVED_ENTRIES +
					       (uint32_t)(rnd(&seed) % NR_USABLE),
					.flags = rnd(&seed) & 1 ? PVIO_GNTMAP_readonly : 0,
				};
			pvio_gnttab_map(v, ops, n);
			for (unsigned i = 0; i < n; i++) {
				if (ops[i].status != PVIO_GNTST_okay) {
					if (ops[i].addr)
						violation(sh, "failed map has an address", ops[i].ref, 0, 0);
					continue;
				}
				ok++;
				pvio_fetch_add(&sh->mapped[ops[i].ref], 1);
				held[nh].op = ops[i];
				check_map(w, &held[nh]);
				nh++;
			}
			pvio_fetch_add(&sh->maps_ok, ok);
			pvio_fetch_add(&sh->maps_failed, n - ok);
			break;
		}
		case 2:              /* unmap a few held maps */
			for (unsigned k = (unsigned)(r >> 8) % 4; k-- && nh;) {
				unsigned i = (unsigned)(rnd(&seed) % nh);

				unmap_held(w, v, &held[i]);
				held[i] = held[--nh];
			}
			break;
		case 3: {            /* copy out of and into random refs */
			struct pvio_gnt_copy_op ops[2] = { 0 };
			uint8_t in[64], out[64];
			uint32_t ref = PVIO_GNTTAB_NR_RESERVED_ENTRIES +
				       (uint32_t)(rnd(&seed) % NR_USABLE);

			memset(out, (int)(r >> 16), sizeof(out));
			ops[0].source.foreign.ref = ref;
			ops[0].source.foreign.domid = GT_GUEST;
			ops[0].dest.virt = in;
			ops[0].len = sizeof(struct tag);
			ops[0].flags = PVIO_GNTCOPY_source_gref;
			ops[1].source.virt = out;
			ops[1].dest.foreign.ref = ref;
			ops[1].dest.foreign.offset = (uint16_t)(WRITE_OFF + 64 * id);
			ops[1].dest.foreign.domid = GT_GUEST;
			ops[1].len = sizeof(out);
			ops[1].flags = PVIO_GNTCOPY_dest_gref;
			int ok = pvio_gnttab_copy(v, ops, 2);

			if (ops[0].status == PVIO_GNTST_okay) {
				struct tag t;

				memcpy(&t, in, sizeof(t));
				if (t.gfn == POISON)
					violation(sh, "copied from a revoked page", ref, t.gfn, 0);
			}
			pvio_fetch_add(&sh->copies_ok, (uint64_t)ok);
			pvio_fetch_add(&sh->copies_failed, (uint64_t)(2 - ok));
			break;
		}
		}
	}
	while (nh)
		unmap_held(w, v, &held[--nh]);
}

/* ----------------------------------------------------------------- set-ups */

struct bthread {
	struct world *w;
	uint64_t seed;
	unsigned id;
};

static void *backend_thread(void *arg)
{
	struct bthread *b = arg;

	backend_loop(b->w, b->w->view, b->seed, b->id);
	return NULL;
}

static void final_checks(const char *mode, struct world *w)
{
	struct shared *sh = w->sh;

	for (uint32_t r = 0; r < NR_ENTRIES; r++) {
		if (w->table[r].flags & (PVIO_GTF_reading | PVIO_GTF_writing))
			sh->leftover_bits++;
		CHECK_EQ(sh->mapped[r], 0);
	}
	printf("%-7s maps %llu ok / %llu failed, unmaps %llu, copies %llu ok / %llu failed, "
	       "revokes %llu ok / %llu busy\n", mode,
	       (unsigned long long)sh->maps_ok, (unsigned long long)sh->maps_failed,
	       (unsigned long long)sh->unmaps_ok,
	       (unsigned long long)sh->copies_ok, (unsigned long long)sh->copies_failed,
	       (unsigned long long)sh->revokes_ok, (unsigned long long)sh->revokes_busy);
	CHECK_EQ(sh->violations, 0);
	CHECK_EQ(sh->leftover_bits, 0);
	CHECK_EQ(sh->fini_released, 0);
	CHECK_EQ(sh->maps_ok, sh->unmaps_ok);
	/* The run must actually have exercised the race. */
	CHECK(sh->maps_ok > 100);
	CHECK(sh->copies_ok > 100);
	CHECK(sh->revokes_ok > 100);
	CHECK(sh->revokes_busy > 0);
}

static void run_threads(void)
{
	struct world w = { 0 };
	struct pvio_gnttab_view view;
	struct bthread bt[2];
	pthread_t fe_t, be_t[2];
	struct pvio_gnttab_stats st;

	w.table = calloc(NR_ENTRIES, sizeof(*w.table));
	w.mem = calloc(NR_FRAMES, GT_PAGE);
	w.sh = calloc(1, sizeof(*w.sh));
	REQUIRE(w.table && w.mem && w.sh);
	w.seed = 0x9E3779B97F4A7C15ull;
	REQUIRE(pvio_gnttab_view_init(&view, w.table, NR_ENTRIES, w.mem, NR_FRAMES, GT_GUEST,
				      GT_BACKEND) == 0);
	w.view = &view;
	for (int i = 0; i < 2; i++) {
		bt[i] = (struct bthread){ .w = &w, .seed = 0xC0FFEE + (uint64_t)i * 7919, .id = (unsigned)i };
		REQUIRE(pthread_create(&be_t[i], NULL, backend_thread, &bt[i]) == 0);
	}
	REQUIRE(pthread_create(&fe_t, NULL, frontend, &w) == 0);
	pthread_join(fe_t, NULL);
	for (int i = 0; i < 2; i++)
		pthread_join(be_t[i], NULL);
	pvio_gnttab_view_fini(&view);
	pvio_gnttab_view_stats(&view, &st);
	w.sh->fini_released = st.fini_released;
	CHECK_EQ(st.maps, w.sh->maps_ok);
	CHECK_EQ(st.unmaps, w.sh->unmaps_ok);
	CHECK_EQ(st.unmap_errors, 0);
	final_checks("threads", &w);
	free(w.table);
	free(w.mem);
	free(w.sh);
}

static void *map_memfd(const char *name, size_t bytes)
{
	int fd = memfd_create(name, MFD_CLOEXEC);
	void *p;

	REQUIRE(fd >= 0);
	REQUIRE(ftruncate(fd, (off_t)bytes) == 0);
	p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	REQUIRE(p != MAP_FAILED);
	close(fd);
	return p;
}

static void run_procs(void)
{
	struct world w = { 0 };
	size_t tbytes = NR_ENTRIES * sizeof(*w.table), mbytes = (size_t)NR_FRAMES * GT_PAGE;
	int status;
	pid_t pid;

	w.table = map_memfd("gt-table", tbytes);
	w.mem = map_memfd("gt-mem", mbytes);
	w.sh = map_memfd("gt-check", sizeof(*w.sh));
	w.seed = 0xA5A5A5A5DEADull;

	fflush(NULL);   /* the child must not inherit unflushed output */
	pid = fork();
	REQUIRE(pid >= 0);
	if (pid == 0) {
		/* Backend process: its own private view over the shared pages. */
		struct pvio_gnttab_view view;
		struct pvio_gnttab_stats st;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() == 1)
			_exit(1);
		if (pvio_gnttab_view_init(&view, w.table, NR_ENTRIES, w.mem, NR_FRAMES, GT_GUEST,
					  GT_BACKEND) != 0)
			_exit(1);
		backend_loop(&w, &view, 0x5EED, 0);
		pvio_gnttab_view_fini(&view);
		pvio_gnttab_view_stats(&view, &st);
		w.sh->fini_released = st.fini_released;
		_exit(st.maps == w.sh->maps_ok && st.unmap_errors == 0 ? 0 : 2);
	}
	frontend(&w);
	if (gt_failures)
		kill(pid, SIGKILL);   /* the frontend gave up: don't wait for stop */
	REQUIRE(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	final_checks("procs", &w);
	munmap(w.table, tbytes);
	munmap(w.mem, mbytes);
	munmap(w.sh, sizeof(*w.sh));
}

int main(void)
{
	const char *s = getenv("GT_SECONDS");

	if (s && atof(s) > 0)
		g_secs = atof(s);
	run_threads();
	run_procs();
	return gt_result("test_gnttab_concurrency");
}
