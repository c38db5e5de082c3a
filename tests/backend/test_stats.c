/* SPDX-License-Identifier: MIT */
/*
 * backend/stats: a writer's counters show up in the reader, summed over a
 * device's queues, while two queue threads count and a reader reads; a
 * removed device disappears and its record's next device starts from zero;
 * under a control thread that adds and removes devices as fast as it can,
 * a reader never sees an identity mixed from two devices (the generation);
 * a full file still hands out (private) records; worker records carry the
 * thread's CPU time; stale and broken files are skipped; close removes the
 * file.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backend/stats.h"
#include "tests/common/testutil.h"

#define N_INC 200000

static char g_dir[PATH_MAX];
static int g_stop;

static const struct pvio_stats_devinfo *find(const struct pvio_stats_snap *s, uint16_t domid,
					     uint32_t devid)
{
	for (unsigned i = 0; i < s->ndevs; i++)
		if (s->devs[i].domid == domid && s->devs[i].devid == devid)
			return &s->devs[i];
	return NULL;
}

static int snap_one(struct pvio_stats *w, struct pvio_stats_snap *out)
{
	return pvio_stats_snap_read(pvio_stats_path(w), out);
}

struct counter_arg {
	struct pvio_stats_queue *slot;
	uint64_t sect;
};

/* A queue's thread: the one writer of its slot. */
static void *count(void *p)
{
	struct counter_arg *a = p;

	for (int i = 0; i < N_INC; i++) {
		PVIO_STATS_ADD(a->slot, rd_req, 1);
		PVIO_STATS_ADD(a->slot, rd_sect, a->sect);
		if (i % 4 == 0)
			PVIO_STATS_ADD(a->slot, wr_req, 1);
	}
	return NULL;
}

/* Reads while the counters move: never backwards, never above the end. */
static void *watch(void *p)
{
	struct pvio_stats *w = p;
	uint64_t last = 0;

	while (!__atomic_load_n(&g_stop, __ATOMIC_ACQUIRE)) {
		struct pvio_stats_snap s;
		const struct pvio_stats_devinfo *d;

		if (snap_one(w, &s) < 0) {
			fprintf(stderr, "FAIL: reader: cannot read the file\n");
			tu_failures++;
			return NULL;
		}
		d = find(&s, 1, 51712);
		if (d) {
			if (d->c.rd_req < last || d->c.rd_req > 2ull * N_INC) {
				fprintf(stderr, "FAIL: rd_req %llu after %llu\n",
					(unsigned long long)d->c.rd_req, (unsigned long long)last);
				tu_failures++;
			}
			last = d->c.rd_req;
		}
		pvio_stats_snap_free(&s);
	}
	return NULL;
}

/* The control thread of the generation test: device k is always
 * (domid k, devid 1000 + k, label "d<k>"). */
static void *churn(void *p)
{
	struct pvio_stats *w = p;
	struct pvio_stats_dev *held[3] = { 0 };
	unsigned k = 0;

	while (!__atomic_load_n(&g_stop, __ATOMIC_ACQUIRE)) {
		char label[16];
		unsigned slot = k % 3;

		pvio_stats_dev_remove(w, held[slot]);
		k = k % 60000 + 1;
		snprintf(label, sizeof(label), "d%u", k);
		held[slot] = pvio_stats_dev_add(w, PVIO_STATS_VBD, (uint16_t)k, 1000 + k, 1, label);
		if (held[slot])
			PVIO_STATS_ADD(pvio_stats_queue(held[slot], 0), rd_req, k);
	}
	for (unsigned i = 0; i < 3; i++)
		pvio_stats_dev_remove(w, held[i]);
	return NULL;
}

/* A joined thread can still be listed in /proc/self/task for a moment
 * (the kernel wakes the joiner before the thread is reaped): wait, bounded,
 * until only this one is, before a snapshot that lists all threads. */
static void reaped(void)
{
	for (int i = 0; i < 2000 && tu_count_threads(getpid()) > 1; i++)
		usleep(1000);
}

static void *burn(void *p)
{
	struct pvio_stats *w = p;
	struct pvio_stats_worker *me = pvio_stats_worker_add(w, "burner");
	uint64_t ns = 0;
	volatile uint64_t x = 0;

	if (!me)
		return (void *)1;
	PVIO_STATS_ADD(me, rounds, 7);
	/* Until the kernel has charged us a tick (bounded). */
	for (long i = 0; i < 20000000000L && ns == 0; i++) {
		x += (uint64_t)i;
		if (i % 1000000 == 0)
			pvio_stats_thread_cpu((uint32_t)getpid(), (uint32_t)syscall(SYS_gettid), &ns);
	}
	while (!__atomic_load_n(&g_stop, __ATOMIC_ACQUIRE))
		usleep(1000);
	pvio_stats_worker_remove(w, me);
	return NULL;
}

static int g_hook_stop;

static void *hooked(void *p)
{
	(void)p;
	pthread_setname_np(pthread_self(), "hooked");
	pvio_stats_thread_init();
	while (!__atomic_load_n(&g_hook_stop, __ATOMIC_ACQUIRE))
		usleep(1000);
	pvio_stats_thread_fini();
	return NULL;
}

int main(void)
{
	struct pvio_stats_opts o = { .prog = "test", .type = PVIO_STATS_VBD, .max_devs = 4,
				     .max_queues = 2, .max_workers = 2,
				     .caps = PVIO_STATS_CAP_VBD_IO };
	struct pvio_stats *w;
	struct pvio_stats_snap s, *v;
	struct pvio_stats_dev *a, *b, *c, *extra[4];
	const struct pvio_stats_devinfo *d;
	struct counter_arg ca[2];
	pthread_t thr[3];
	unsigned n;
	char path[3 * PATH_MAX], buf[PATH_MAX];
	struct stat st;

	snprintf(g_dir, sizeof(g_dir), "/tmp/pvio-stats-XXXXXX");
	REQUIRE(mkdtemp(g_dir));
	strcat(g_dir, "/sub/stats");   /* created on open */
	o.dir = g_dir;

	/* The default directory: beside pviod's socket, or PVIO_STATS_DIR. */
	unsetenv("PVIO_STATS_DIR");
	CHECK(pvio_stats_default_dir("/tmp/x/pviod.sock", buf, sizeof(buf)) == 0 &&
	      !strcmp(buf, "/tmp/x/stats"));
	setenv("PVIO_SOCKET", "/run/y/p.sock", 1);
	CHECK(pvio_stats_default_dir(NULL, buf, sizeof(buf)) == 0 && !strcmp(buf, "/run/y/stats"));
	unsetenv("PVIO_SOCKET");
	CHECK(pvio_stats_default_dir(NULL, buf, sizeof(buf)) == 0 && !strcmp(buf, "/run/pvio/stats"));
	setenv("PVIO_STATS_DIR", "/srv/s", 1);
	CHECK(pvio_stats_default_dir("/tmp/x/pviod.sock", buf, sizeof(buf)) == 0 &&
	      !strcmp(buf, "/srv/s"));
	unsetenv("PVIO_STATS_DIR");

	/* A stale file (its process is gone) is removed on open. */
	{
		pid_t p = fork();
		REQUIRE(p >= 0);
		if (p == 0)
			_exit(0);
		waitpid(p, NULL, 0);
		REQUIRE(system("true") == 0);
		snprintf(path, sizeof(path), "mkdir -p %s && echo junk > %s/vbd-%d.stats", g_dir,
			 g_dir, (int)p);
		REQUIRE(system(path) == 0);
		snprintf(path, sizeof(path), "%s/vbd-%d.stats", g_dir, (int)p);
	}
	REQUIRE(pvio_stats_open(&o, &w) == 0);
	CHECK(stat(path, &st) < 0 && errno == ENOENT);
	snprintf(path, sizeof(path), "%s/vbd-%d.stats", g_dir, (int)getpid());
	CHECK(!strcmp(pvio_stats_path(w), path));
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);

	/* Empty: no device; no worker records, so every thread of ours. */
	REQUIRE(snap_one(w, &s) == 0);
	CHECK(s.pid == (uint32_t)getpid() && s.type == PVIO_STATS_VBD &&
	      s.caps == PVIO_STATS_CAP_VBD_IO && !strcmp(s.prog, "test"));
	CHECK(s.ndevs == 0 && s.nworkers == 1 && s.workers[0].tid == (uint32_t)getpid());
	pvio_stats_snap_free(&s);

	/* Two devices; two queue threads count into a's slots while a
	 * reader reads. */
	a = pvio_stats_dev_add(w, PVIO_STATS_VBD, 1, 51712, 2, "dom1/51712");
	b = pvio_stats_dev_add(w, PVIO_STATS_VBD, 2, 51728, 0, "dom2/51728");
	REQUIRE(a && b);
	PVIO_STATS_ADD(pvio_stats_queue(b, 1), flush_req, 3);
	PVIO_STATS_ADD(pvio_stats_queue(b, 0), oo_req, 2);
	ca[0].slot = pvio_stats_queue(a, 0);
	ca[0].sect = 8;
	ca[1].slot = pvio_stats_queue(a, 1);
	ca[1].sect = 1;
	REQUIRE(pthread_create(&thr[2], NULL, watch, w) == 0);
	REQUIRE(pthread_create(&thr[0], NULL, count, &ca[0]) == 0);
	REQUIRE(pthread_create(&thr[1], NULL, count, &ca[1]) == 0);
	pthread_join(thr[0], NULL);
	pthread_join(thr[1], NULL);
	__atomic_store_n(&g_stop, 1, __ATOMIC_RELEASE);
	pthread_join(thr[2], NULL);
	g_stop = 0;

	REQUIRE(snap_one(w, &s) == 0);
	CHECK_EQ(s.ndevs, 2);
	d = find(&s, 1, 51712);
	REQUIRE(d);
	CHECK_EQ(d->c.rd_req, 2 * N_INC);
	CHECK_EQ(d->c.rd_sect, 9ull * N_INC);
	CHECK_EQ(d->c.wr_req, 2 * (N_INC / 4));
	CHECK(d->nr_queues == 2 && d->type == PVIO_STATS_VBD && !strcmp(d->label, "dom1/51712"));
	d = find(&s, 2, 51728);
	REQUIRE(d);
	CHECK(d->nr_queues == 2 && d->c.flush_req == 3 && d->c.oo_req == 2 && d->c.rd_req == 0);
	pvio_stats_snap_free(&s);

	/* Fewer queues in the next connection: a slot it does not use keeps
	 * its totals (counters never go backwards); more than the record
	 * has: refused. */
	pvio_stats_dev_set_queues(b, 1);
	pvio_stats_dev_set_queues(b, 3);
	REQUIRE(snap_one(w, &s) == 0);
	d = find(&s, 2, 51728);
	CHECK(d && d->nr_queues == 1 && d->c.flush_req == 3 && d->c.oo_req == 2);
	pvio_stats_snap_free(&s);
	pvio_stats_dev_set_queues(b, 2);

	/* Removed: gone. Its record's next device starts from zero. */
	pvio_stats_dev_remove(w, a);
	REQUIRE(snap_one(w, &s) == 0);
	CHECK(s.ndevs == 1 && !find(&s, 1, 51712));
	pvio_stats_snap_free(&s);
	c = pvio_stats_dev_add(w, PVIO_STATS_VBD, 3, 51712, 2, "dom3/51712");
	REQUIRE(c == a);   /* the same record, a new generation */
	REQUIRE(snap_one(w, &s) == 0);
	d = find(&s, 3, 51712);
	CHECK(d && d->c.rd_req == 0 && d->c.rd_sect == 0 && !find(&s, 1, 51712));
	pvio_stats_snap_free(&s);

	/* Full (4 records): more devices still get (private) records, not
	 * shown; more queues than the file holds: the same. */
	extra[0] = pvio_stats_dev_add(w, PVIO_STATS_VBD, 4, 1, 1, NULL);
	extra[1] = pvio_stats_dev_add(w, PVIO_STATS_VBD, 5, 1, 1, NULL);
	extra[2] = pvio_stats_dev_add(w, PVIO_STATS_VBD, 6, 1, 1, NULL);
	extra[3] = pvio_stats_dev_add(w, PVIO_STATS_VBD, 7, 1, 8, NULL);
	REQUIRE(extra[0] && extra[1] && extra[2] && extra[3]);
	PVIO_STATS_ADD(pvio_stats_queue(extra[3], 7), rd_req, 1);
	CHECK(!pvio_stats_dev_add(w, PVIO_STATS_VBD, 8, 1, PVIO_STATS_MAX_QUEUES + 1, NULL));
	REQUIRE(snap_one(w, &s) == 0);
	CHECK_EQ(s.ndevs, 4);
	CHECK(find(&s, 4, 1) && find(&s, 5, 1) && !find(&s, 6, 1) && !find(&s, 7, 1));
	pvio_stats_snap_free(&s);
	for (int i = 0; i < 4; i++)
		pvio_stats_dev_remove(w, extra[i]);
	pvio_stats_dev_remove(w, b);
	pvio_stats_dev_remove(w, c);
	/* Records without a file at all. */
	a = pvio_stats_dev_add(NULL, PVIO_STATS_VIF, 1, 0, 0, "vif1.0");
	REQUIRE(a);
	PVIO_STATS_ADD(pvio_stats_queue(a, PVIO_STATS_MAX_QUEUES - 1), tx_pkts, 1);
	pvio_stats_dev_remove(NULL, a);

	/* Generations: identities are never mixed. */
	REQUIRE(pthread_create(&thr[0], NULL, churn, w) == 0);
	{
		unsigned long seen = 0, rounds = 0;

		while (seen < 20000 && rounds < 200000) {
			rounds++;
			REQUIRE(snap_one(w, &s) == 0);
			for (unsigned i = 0; i < s.ndevs; i++) {
				const struct pvio_stats_devinfo *x = &s.devs[i];
				char want[16];

				snprintf(want, sizeof(want), "d%u", x->domid);
				if (x->devid != 1000u + x->domid || strcmp(x->label, want) ||
				    x->nr_queues != 1 || x->c.rd_req > x->domid) {
					fprintf(stderr, "FAIL: mixed record: domid %u devid %u "
						"label '%s' queues %u rd %llu\n", x->domid, x->devid,
						x->label, x->nr_queues,
						(unsigned long long)x->c.rd_req);
					tu_failures++;
				}
				seen++;
			}
			pvio_stats_snap_free(&s);
		}
		printf("generations: %lu records checked in %lu reads\n", seen, rounds);
		CHECK(seen > 0);
	}
	__atomic_store_n(&g_stop, 1, __ATOMIC_RELEASE);
	pthread_join(thr[0], NULL);
	g_stop = 0;
	REQUIRE(snap_one(w, &s) == 0);
	CHECK_EQ(s.ndevs, 0);
	pvio_stats_snap_free(&s);

	/* A worker record with its thread's CPU time. */
	REQUIRE(pthread_create(&thr[0], NULL, burn, w) == 0);
	{
		bool found = false;

		for (int i = 0; i < 100000 && !found; i++) {
			REQUIRE(snap_one(w, &s) == 0);
			for (unsigned k = 0; k < s.nworkers; k++)
				if (!strcmp(s.workers[k].name, "burner") && s.workers[k].cpu_ns > 0 &&
				    s.workers[k].rounds == 7 && s.workers[k].tid != (uint32_t)getpid())
					found = true;
			pvio_stats_snap_free(&s);
			if (!found)
				usleep(1000);
		}
		CHECK(found);
	}
	__atomic_store_n(&g_stop, 1, __ATOMIC_RELEASE);
	pthread_join(thr[0], NULL);
	reaped();
	REQUIRE(snap_one(w, &s) == 0);
	CHECK(s.nworkers == 1 && s.workers[0].tid == (uint32_t)getpid());   /* back to all threads */
	pvio_stats_snap_free(&s);

	/* The workers' hooks (pvio_workers_cfg.thread_init/fini): the record
	 * takes the thread's own name. */
	pvio_stats_set_process(w);
	REQUIRE(pthread_create(&thr[0], NULL, hooked, NULL) == 0);
	{
		bool found = false;

		for (int i = 0; i < 10000 && !found; i++) {
			REQUIRE(snap_one(w, &s) == 0);
			for (unsigned k = 0; k < s.nworkers; k++)
				found |= !strcmp(s.workers[k].name, "hooked");
			pvio_stats_snap_free(&s);
			if (!found)
				usleep(1000);
		}
		CHECK(found);
	}
	__atomic_store_n(&g_hook_stop, 1, __ATOMIC_RELEASE);
	pthread_join(thr[0], NULL);
	pvio_stats_set_process(NULL);
	reaped();
	REQUIRE(snap_one(w, &s) == 0);
	CHECK(s.nworkers == 1 && s.workers[0].tid == (uint32_t)getpid());
	pvio_stats_snap_free(&s);

	/* Scan: ours is listed; a broken file and a foreign name are not. */
	snprintf(path, sizeof(path), "head -c 4096 /dev/urandom > %s/vif-%d.stats; "
		 "echo x > %s/notes.txt", g_dir, (int)getpid(), g_dir);
	REQUIRE(system(path) == 0);
	snprintf(path, sizeof(path), "%s/vif-%d.stats", g_dir, (int)getpid());
	CHECK(pvio_stats_snap_read(path, &s) == -EINVAL);
	REQUIRE(pvio_stats_scan(g_dir, &v, &n) == 0);
	CHECK(n == 1 && v[0].pid == (uint32_t)getpid() && v[0].type == PVIO_STATS_VBD);
	pvio_stats_scan_free(v, n);
	unlink(path);

	/* Close removes the file. */
	snprintf(path, sizeof(path), "%s", pvio_stats_path(w));
	pvio_stats_close(w);
	CHECK(stat(path, &st) < 0 && errno == ENOENT);
	REQUIRE(pvio_stats_scan(g_dir, &v, &n) == 0 && n == 0);
	pvio_stats_scan_free(v, n);

	snprintf(path, sizeof(path), "rm -rf %.*s", (int)(strlen(g_dir) - strlen("/sub/stats")),
		 g_dir);
	if (system(path) != 0)
		fprintf(stderr, "cannot remove %s\n", g_dir);
	return tu_result();
}
