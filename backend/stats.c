/* SPDX-License-Identifier: MIT */
/*
 * Backend statistics in shared memory: the writer (a backend process) and
 * the reader (pvio top). See stats.h for who writes what.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "backend/stats.h"
#include "ring/pvio_export.h"

struct pvio_stats {
	pthread_mutex_t lock;          /* allocation of records ([CTL]) */
	uint8_t *base;
	size_t   size;
	struct pvio_stats_hdr *hdr;
	unsigned max_devs, max_queues, max_workers;
	size_t   dev_size;
	bool     warned_full;
	char     path[PATH_MAX];
};

/* ------------------------------------------------------------ paths */

PVIO_EXPORT int pvio_stats_default_dir(const char *sock, char *buf, size_t len)
{
	const char *env = getenv("PVIO_STATS_DIR");
	const char *slash;
	int n;

	if (env && *env) {
		n = snprintf(buf, len, "%s", env);
	} else {
		if (!sock || !*sock)
			sock = getenv("PVIO_SOCKET");
		if (!sock || !*sock)
			sock = "/run/pvio/pviod.sock";
		slash = strrchr(sock, '/');
		if (!slash)
			n = snprintf(buf, len, "stats");
		else if (slash == sock)
			n = snprintf(buf, len, "/stats");
		else
			n = snprintf(buf, len, "%.*s/stats", (int)(slash - sock), sock);
	}
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static int mkdir_p(const char *dir)
{
	char tmp[PATH_MAX];
	size_t n = strlen(dir);

	if (n == 0 || n >= sizeof(tmp))
		return -ENAMETOOLONG;
	memcpy(tmp, dir, n + 1);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, 0700) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

static bool pid_alive(uint32_t pid)
{
	return pid > 0 && pid <= INT_MAX && (kill((pid_t)pid, 0) == 0 || errno == EPERM);
}

/* "<type>-<pid>.stats" -> pid, 0 if not such a name. */
static uint32_t name_pid(const char *name)
{
	const char *dash = strrchr(name, '-'), *dot;
	char *end;
	unsigned long v;

	if (!dash || !(dot = strstr(dash, ".stats")) || strcmp(dot, ".stats"))
		return 0;
	v = strtoul(dash + 1, &end, 10);
	return end == dot && v > 0 && v <= INT_MAX ? (uint32_t)v : 0;
}

/* Files of processes that died without closing theirs (kill -9). */
static void remove_stale(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d)) != NULL) {
		uint32_t pid = name_pid(e->d_name);

		if (pid && !pid_alive(pid))
			unlinkat(dirfd(d), e->d_name, 0);
	}
	closedir(d);
}

/* ------------------------------------------------------------ writer */

static const char *type_name(enum pvio_stats_type t)
{
	return t == PVIO_STATS_VBD ? "vbd" : t == PVIO_STATS_VIF ? "vif" : "dev";
}

PVIO_EXPORT int pvio_stats_open(const struct pvio_stats_opts *o, struct pvio_stats **out)
{
	struct pvio_stats *s;
	struct pvio_stats_hdr *h;
	char dir[PATH_MAX], tmp[PATH_MAX + 16];
	size_t dev_size, size;
	int fd = -1, r, n;

	*out = NULL;
	if (!o || o->max_queues == 0 || o->max_queues > PVIO_STATS_MAX_QUEUES ||
	    o->max_devs > (1u << 20) || o->max_workers > (1u << 16))
		return -EINVAL;
	if (o->dir) {
		if (strlen(o->dir) >= sizeof(dir))
			return -ENAMETOOLONG;
		snprintf(dir, sizeof(dir), "%s", o->dir);
	} else if ((r = pvio_stats_default_dir(o->sock, dir, sizeof(dir))) < 0) {
		return r;
	}
	if ((r = mkdir_p(dir)) < 0)
		return r;
	remove_stale(dir);

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	pthread_mutex_init(&s->lock, NULL);
	s->max_devs = o->max_devs ? o->max_devs : PVIO_STATS_DEFAULT_DEVS;
	s->max_queues = o->max_queues;
	s->max_workers = o->max_workers ? o->max_workers : PVIO_STATS_DEFAULT_WORKERS;
	dev_size = sizeof(struct pvio_stats_dev) + s->max_queues * sizeof(struct pvio_stats_queue);
	s->dev_size = dev_size;
	size = sizeof(*h) + s->max_workers * sizeof(struct pvio_stats_worker) +
	       s->max_devs * dev_size;
	n = snprintf(s->path, sizeof(s->path), "%s/%s-%d.stats", dir, type_name(o->type),
		     (int)getpid());
	if (n < 0 || (size_t)n >= sizeof(s->path)) {
		r = -ENAMETOOLONG;
		goto err;
	}
	/* Built under a temporary name, renamed when complete: a reader
	 * never opens half a header. Pages stay unallocated until touched
	 * (a tmpfs file is sparse). */
	snprintf(tmp, sizeof(tmp), "%s.tmp", s->path);
	unlink(tmp);
	fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		r = -errno;
		goto err;
	}
	if (ftruncate(fd, (off_t)size) < 0) {
		r = -errno;
		goto err_unlink;
	}
	s->base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (s->base == MAP_FAILED) {
		s->base = NULL;
		r = -errno;
		goto err_unlink;
	}
	s->size = size;
	h = s->hdr = (struct pvio_stats_hdr *)s->base;
	h->version = PVIO_STATS_VERSION;
	h->hdr_size = sizeof(*h);
	h->pid = (uint32_t)getpid();
	h->type = o->type;
	h->caps = o->caps;
	h->max_devs = s->max_devs;
	h->max_queues = s->max_queues;
	h->max_workers = s->max_workers;
	h->dev_size = (uint32_t)dev_size;
	h->worker_size = sizeof(struct pvio_stats_worker);
	h->worker_off = sizeof(*h);
	h->dev_off = sizeof(*h) + s->max_workers * sizeof(struct pvio_stats_worker);
	h->file_size = size;
	snprintf(h->prog, sizeof(h->prog), "%s", o->prog ? o->prog : "");
	/* Pairs with the reader's load-acquire of magic. */
	pvio_store_release(&h->magic, PVIO_STATS_MAGIC);
	if (rename(tmp, s->path) < 0) {
		r = -errno;
		goto err_unlink;
	}
	close(fd);
	*out = s;
	return 0;
err_unlink:
	unlink(tmp);
err:
	if (s->base)
		munmap(s->base, s->size);
	if (fd >= 0)
		close(fd);
	pthread_mutex_destroy(&s->lock);
	free(s);
	return r;
}

PVIO_EXPORT void pvio_stats_close(struct pvio_stats *s)
{
	if (!s)
		return;
	unlink(s->path);
	munmap(s->base, s->size);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

PVIO_EXPORT const char *pvio_stats_path(const struct pvio_stats *s)
{
	return s ? s->path : NULL;
}

PVIO_EXPORT void pvio_stats_set_caps(struct pvio_stats *s, uint32_t caps)
{
	if (s)
		pvio_store_relaxed(&s->hdr->caps, caps);
}

static struct pvio_stats_dev *dev_at(struct pvio_stats *s, unsigned i)
{
	return (struct pvio_stats_dev *)(s->base + s->hdr->dev_off + (size_t)i * s->dev_size);
}

static struct pvio_stats_worker *worker_at(struct pvio_stats *s, unsigned i)
{
	return (struct pvio_stats_worker *)(s->base + s->hdr->worker_off +
					    (size_t)i * sizeof(struct pvio_stats_worker));
}

static bool in_file(struct pvio_stats *s, const void *p)
{
	const uint8_t *b = p;

	return s && b >= s->base + s->hdr->dev_off && b < s->base + s->size;
}

/* Seqlock writer side on a record's identity: begin makes gen odd, end
 * makes it even again. Readers that saw either odd or two different
 * values retry. */
static void gen_begin(uint64_t *gen)
{
	pvio_store_relaxed(gen, *gen + 1);
	/* Orders the odd generation before the identity stores below: a
	 * reader that sees any of them then sees gen changed (pairs with the
	 * reader's acquire fence before its second load of gen). */
	__atomic_thread_fence(__ATOMIC_RELEASE);
}

static void gen_end(uint64_t *gen)
{
	/* Pairs with the reader's load-acquire of gen. */
	pvio_store_release(gen, *gen + 1);
}

static void fill_dev(struct pvio_stats_dev *d, enum pvio_stats_type type, uint16_t domid,
		     uint32_t devid, unsigned nq, const char *label)
{
	char lb[sizeof(d->label)] = "";

	if (label)
		snprintf(lb, sizeof(lb), "%s", label);
	pvio_store_relaxed(&d->domid, domid);
	pvio_store_relaxed(&d->type, (uint16_t)type);
	pvio_store_relaxed(&d->devid, devid);
	pvio_store_relaxed(&d->nr_queues, nq);
	pvio_store_relaxed(&d->cap_queues, nq);
	for (size_t i = 0; i < sizeof(lb); i++)
		pvio_store_relaxed(&d->label[i], lb[i]);
	/* Counters start at zero. No queue thread writes them yet: the
	 * record is handed out only when this returns. */
	for (unsigned i = 0; i < nq; i++) {
		uint64_t *c = (uint64_t *)&d->q[i];
		for (size_t k = 0; k < sizeof(d->q[i]) / sizeof(uint64_t); k++)
			pvio_store_relaxed(&c[k], 0);
	}
	pvio_store_relaxed(&d->live, 1);
}

PVIO_EXPORT struct pvio_stats_dev *pvio_stats_dev_add(struct pvio_stats *s,
						      enum pvio_stats_type type,
						      uint16_t domid, uint32_t devid,
						      unsigned nr_queues, const char *label)
{
	struct pvio_stats_dev *d;
	unsigned nq = nr_queues;

	if (nq > PVIO_STATS_MAX_QUEUES)
		return NULL;
	if (s && nq <= s->max_queues) {
		if (nq == 0)
			nq = s->max_queues;
		pthread_mutex_lock(&s->lock);
		for (unsigned i = 0; i < s->max_devs; i++) {
			d = dev_at(s, i);
			if (d->live)
				continue;
			gen_begin(&d->gen);
			fill_dev(d, type, domid, devid, nq, label);
			gen_end(&d->gen);
			pthread_mutex_unlock(&s->lock);
			return d;
		}
		if (!s->warned_full)
			fprintf(stderr, "stats: %s is full (%u devices): dom%u/%u and later "
				"devices are not shown by pvio top\n", s->path, s->max_devs,
				domid, devid);
		s->warned_full = true;
		pthread_mutex_unlock(&s->lock);
	} else if (s && !s->warned_full) {
		fprintf(stderr, "stats: dom%u/%u has %u queues, %s holds %u per device: not "
			"shown by pvio top\n", domid, devid, nq, s->path, s->max_queues);
		s->warned_full = true;
	}
	/* Private memory: counted, not published. */
	if (nq == 0)
		nq = PVIO_STATS_MAX_QUEUES;
	d = aligned_alloc(64, sizeof(*d) + (size_t)nq * sizeof(struct pvio_stats_queue));
	if (!d)
		return NULL;
	memset(d, 0, sizeof(*d) + (size_t)nq * sizeof(struct pvio_stats_queue));
	fill_dev(d, type, domid, devid, nq, label);
	return d;
}

PVIO_EXPORT void pvio_stats_dev_remove(struct pvio_stats *s, struct pvio_stats_dev *d)
{
	if (!d)
		return;
	if (!in_file(s, d)) {
		free(d);
		return;
	}
	pthread_mutex_lock(&s->lock);
	gen_begin(&d->gen);
	pvio_store_relaxed(&d->live, 0);
	gen_end(&d->gen);
	pthread_mutex_unlock(&s->lock);
}

PVIO_EXPORT void pvio_stats_dev_set_queues(struct pvio_stats_dev *d, unsigned nr_queues)
{
	if (!d || nr_queues == 0 || nr_queues > d->cap_queues || nr_queues == d->nr_queues)
		return;
	gen_begin(&d->gen);
	pvio_store_relaxed(&d->nr_queues, nr_queues);
	gen_end(&d->gen);
}

PVIO_EXPORT struct pvio_stats_worker *pvio_stats_worker_add(struct pvio_stats *s,
							    const char *name)
{
	struct pvio_stats_worker *w = NULL;
	char nm[16] = "";

	if (!s)
		return NULL;
	if (name)
		snprintf(nm, sizeof(nm), "%s", name);
	pthread_mutex_lock(&s->lock);
	for (unsigned i = 0; i < s->max_workers; i++) {
		struct pvio_stats_worker *c = worker_at(s, i);

		if (c->live)
			continue;
		gen_begin(&c->gen);
		pvio_store_relaxed(&c->tid, (uint32_t)syscall(SYS_gettid));
		for (size_t k = 0; k < sizeof(nm); k++)
			pvio_store_relaxed(&c->name[k], nm[k]);
		pvio_store_relaxed(&c->wakeups, 0);
		pvio_store_relaxed(&c->rounds, 0);
		pvio_store_relaxed(&c->live, 1);
		gen_end(&c->gen);
		w = c;
		break;
	}
	pthread_mutex_unlock(&s->lock);
	return w;
}

PVIO_EXPORT void pvio_stats_worker_remove(struct pvio_stats *s, struct pvio_stats_worker *w)
{
	if (!s || !w)
		return;
	pthread_mutex_lock(&s->lock);
	gen_begin(&w->gen);
	pvio_store_relaxed(&w->live, 0);
	gen_end(&w->gen);
	pthread_mutex_unlock(&s->lock);
}

static struct pvio_stats *g_process;
static __thread struct pvio_stats_worker *t_worker;

PVIO_EXPORT void pvio_stats_set_process(struct pvio_stats *s)
{
	__atomic_store_n(&g_process, s, __ATOMIC_RELEASE);
}

PVIO_EXPORT void pvio_stats_thread_init(void)
{
	struct pvio_stats *s = __atomic_load_n(&g_process, __ATOMIC_ACQUIRE);

	if (s && !t_worker)
		t_worker = pvio_stats_worker_add(s, NULL);
}

PVIO_EXPORT struct pvio_stats_worker *pvio_stats_thread_worker(void)
{
	return t_worker;
}

PVIO_EXPORT void pvio_stats_thread_fini(void)
{
	struct pvio_stats *s = __atomic_load_n(&g_process, __ATOMIC_ACQUIRE);

	/* The file outlives the workers (closed after they stopped); if it
	 * was not set any more, the record goes with the file. */
	if (s && t_worker)
		pvio_stats_worker_remove(s, t_worker);
	t_worker = NULL;
}

/* ------------------------------------------------------------ reader */

PVIO_EXPORT int pvio_stats_thread_cpu(uint32_t pid, uint32_t tid, uint64_t *ns)
{
	char path[64], buf[1024], *p, *save = NULL;
	unsigned long long ut = 0, st = 0;
	long hz = sysconf(_SC_CLK_TCK);
	ssize_t n;
	int fd, i;

	snprintf(path, sizeof(path), "/proc/%u/task/%u/stat", pid, tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	buf[n] = 0;
	/* comm may hold spaces and ')': fields start after the last ')'. */
	p = strrchr(buf, ')');
	if (!p || hz <= 0)
		return -EIO;
	/* After ')': state is field 3; utime 14, stime 15. */
	p = strtok_r(p + 1, " ", &save);
	for (i = 3; p && i <= 15; i++, p = strtok_r(NULL, " ", &save)) {
		if (i == 14)
			ut = strtoull(p, NULL, 10);
		else if (i == 15)
			st = strtoull(p, NULL, 10);
	}
	if (i <= 15)
		return -EIO;
	*ns = (uint64_t)(ut + st) * (1000000000ull / (uint64_t)hz);
	return 0;
}

static int add_worker(struct pvio_stats_snap *out, unsigned *cap,
		      const struct pvio_stats_workerinfo *wi)
{
	if (out->nworkers == *cap) {
		unsigned nc = *cap ? *cap * 2 : 8;
		struct pvio_stats_workerinfo *nw = realloc(out->workers, nc * sizeof(*nw));
		if (!nw)
			return -ENOMEM;
		out->workers = nw;
		*cap = nc;
	}
	out->workers[out->nworkers++] = *wi;
	return 0;
}

static void thread_name(uint32_t pid, uint32_t tid, char *name, size_t len)
{
	char path[96];
	ssize_t n;
	int fd;

	memset(name, 0, len);
	snprintf(path, sizeof(path), "/proc/%u/task/%u/comm", pid, tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	n = read(fd, name, len - 1);
	close(fd);
	if (n > 0 && name[n - 1] == '\n')
		name[n - 1] = 0;
	else if (n < 0)
		name[0] = 0;
}

/* No worker records: every thread of the process. */
static int all_threads(struct pvio_stats_snap *out, unsigned *cap)
{
	char path[64];
	DIR *d;
	struct dirent *e;
	int r = 0;

	snprintf(path, sizeof(path), "/proc/%u/task", out->pid);
	d = opendir(path);
	if (!d)
		return 0;
	while (r == 0 && (e = readdir(d)) != NULL) {
		struct pvio_stats_workerinfo wi = { 0 };
		char *end;
		unsigned long tid = strtoul(e->d_name, &end, 10);

		if (*end || tid == 0 || tid > UINT32_MAX)
			continue;
		wi.tid = (uint32_t)tid;
		thread_name(out->pid, wi.tid, wi.name, sizeof(wi.name));
		pvio_stats_thread_cpu(out->pid, wi.tid, &wi.cpu_ns);
		r = add_worker(out, cap, &wi);
	}
	closedir(d);
	return r;
}

static void copy_str(char *dst, const char *src, size_t n)
{
	for (size_t i = 0; i < n; i++)
		dst[i] = pvio_load_relaxed(&src[i]);
	dst[n - 1] = 0;
}

static void sum_queues(const struct pvio_stats_dev *d, unsigned nq,
		       struct pvio_stats_counters *c)
{
	for (unsigned k = 0; k < nq; k++) {
		const struct pvio_stats_queue *q = &d->q[k];

		c->rd_req += pvio_load_relaxed(&q->rd_req);
		c->wr_req += pvio_load_relaxed(&q->wr_req);
		c->flush_req += pvio_load_relaxed(&q->flush_req);
		c->discard_req += pvio_load_relaxed(&q->discard_req);
		c->oo_req += pvio_load_relaxed(&q->oo_req);
		c->rd_sect += pvio_load_relaxed(&q->rd_sect);
		c->wr_sect += pvio_load_relaxed(&q->wr_sect);
		c->errors += pvio_load_relaxed(&q->errors);
		c->tx_pkts += pvio_load_relaxed(&q->tx_pkts);
		c->tx_bytes += pvio_load_relaxed(&q->tx_bytes);
		c->rx_pkts += pvio_load_relaxed(&q->rx_pkts);
		c->rx_bytes += pvio_load_relaxed(&q->rx_bytes);
		c->tx_drops += pvio_load_relaxed(&q->tx_drops);
		c->rx_drops += pvio_load_relaxed(&q->rx_drops);
		c->submits += pvio_load_relaxed(&q->submits);
	}
}

PVIO_EXPORT int pvio_stats_snap_read(const char *path, struct pvio_stats_snap *out)
{
	struct stat st;
	struct pvio_stats_hdr h;
	const uint8_t *base = MAP_FAILED;
	unsigned wcap = 0, dcap = 0;
	int fd, r = -EINVAL;

	memset(out, 0, sizeof(*out));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    (uint64_t)st.st_size < sizeof(h) || (uint64_t)st.st_size > (1ull << 36)) {
		close(fd);
		return -EINVAL;
	}
	base = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (base == MAP_FAILED)
		return -errno;
	/* Pairs with the writer's store-release of magic. */
	if (pvio_load_acquire(&((const struct pvio_stats_hdr *)base)->magic) != PVIO_STATS_MAGIC)
		goto out;
	memcpy(&h, base, sizeof(h));
	/* Trust nothing: every size and offset inside the file. */
	if (h.version != PVIO_STATS_VERSION || h.hdr_size != sizeof(h) ||
	    h.file_size != (uint64_t)st.st_size || h.max_queues == 0 ||
	    h.max_queues > PVIO_STATS_MAX_QUEUES ||
	    h.dev_size != sizeof(struct pvio_stats_dev) +
			  h.max_queues * sizeof(struct pvio_stats_queue) ||
	    h.worker_size != sizeof(struct pvio_stats_worker) ||
	    h.worker_off < sizeof(h) || h.worker_off > h.file_size ||
	    (uint64_t)h.max_workers * h.worker_size > h.file_size - h.worker_off ||
	    h.dev_off < sizeof(h) || h.dev_off > h.file_size ||
	    (uint64_t)h.max_devs * h.dev_size > h.file_size - h.dev_off ||
	    h.dev_off % 64 || h.worker_off % 64)
		goto out;
	if (!pid_alive(h.pid)) {
		r = -ESRCH;
		goto out;
	}
	out->pid = h.pid;
	out->type = h.type;
	out->caps = pvio_load_relaxed(&((const struct pvio_stats_hdr *)base)->caps);
	memcpy(out->prog, h.prog, sizeof(out->prog));
	out->prog[sizeof(out->prog) - 1] = 0;

	for (unsigned i = 0; i < h.max_devs; i++) {
		const struct pvio_stats_dev *d =
			(const void *)(base + h.dev_off + (size_t)i * h.dev_size);
		struct pvio_stats_devinfo di;
		bool ok = false;

		for (int tries = 0; tries < 8 && !ok; tries++) {
			/* Pairs with the writer's gen_end() store-release. */
			uint64_t g1 = pvio_load_acquire(&d->gen), g2;
			uint32_t live = pvio_load_relaxed(&d->live), cap;

			if (g1 & 1)
				continue;
			if (!live)
				break;
			memset(&di, 0, sizeof(di));
			di.domid = pvio_load_relaxed(&d->domid);
			di.type = pvio_load_relaxed(&d->type);
			di.devid = pvio_load_relaxed(&d->devid);
			di.nr_queues = pvio_load_relaxed(&d->nr_queues);
			copy_str(di.label, d->label, sizeof(di.label));
			cap = pvio_load_relaxed(&d->cap_queues);
			if (cap > h.max_queues)
				cap = h.max_queues;
			if (di.nr_queues > cap)
				di.nr_queues = cap;
			/* Every slot: one the current connection does not
			 * use keeps an earlier connection's totals. */
			sum_queues(d, cap, &di.c);
			/* Pairs with gen_begin()'s release fence and with the
			 * counters' store-release (pvio_stats_add): if we saw
			 * a store of a newer generation, identity or counter,
			 * we see its gen below. */
			__atomic_thread_fence(__ATOMIC_ACQUIRE);
			g2 = pvio_load_relaxed(&d->gen);
			ok = g1 == g2;
		}
		if (!ok)
			continue;    /* free, or changing under us: not this round */
		if (out->ndevs == dcap) {
			unsigned nc = dcap ? dcap * 2 : 16;
			struct pvio_stats_devinfo *nd = realloc(out->devs, nc * sizeof(*nd));
			if (!nd) {
				r = -ENOMEM;
				goto out;
			}
			out->devs = nd;
			dcap = nc;
		}
		out->devs[out->ndevs++] = di;
	}
	for (unsigned i = 0; i < h.max_workers; i++) {
		const struct pvio_stats_worker *w =
			(const void *)(base + h.worker_off + (size_t)i * h.worker_size);
		struct pvio_stats_workerinfo wi;
		bool ok = false;

		for (int tries = 0; tries < 8 && !ok; tries++) {
			uint64_t g1 = pvio_load_acquire(&w->gen), g2;

			if (g1 & 1)
				continue;
			if (!pvio_load_relaxed(&w->live))
				break;
			memset(&wi, 0, sizeof(wi));
			wi.tid = pvio_load_relaxed(&w->tid);
			copy_str(wi.name, w->name, sizeof(wi.name));
			wi.wakeups = pvio_load_relaxed(&w->wakeups);
			wi.rounds = pvio_load_relaxed(&w->rounds);
			__atomic_thread_fence(__ATOMIC_ACQUIRE);
			g2 = pvio_load_relaxed(&w->gen);
			ok = g1 == g2;
		}
		if (!ok)
			continue;
		if (!wi.name[0])
			thread_name(h.pid, wi.tid, wi.name, sizeof(wi.name));
		pvio_stats_thread_cpu(h.pid, wi.tid, &wi.cpu_ns);
		if ((r = add_worker(out, &wcap, &wi)) < 0)
			goto out;
	}
	if (out->nworkers == 0 && (r = all_threads(out, &wcap)) < 0)
		goto out;
	r = 0;
out:
	munmap((void *)base, (size_t)st.st_size);
	if (r < 0)
		pvio_stats_snap_free(out);
	return r;
}

PVIO_EXPORT void pvio_stats_snap_free(struct pvio_stats_snap *s)
{
	free(s->devs);
	free(s->workers);
	s->devs = NULL;
	s->workers = NULL;
	s->ndevs = s->nworkers = 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

PVIO_EXPORT int pvio_stats_scan(const char *dir, struct pvio_stats_snap **out, unsigned *n)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char **names = NULL;
	unsigned nn = 0, cap = 0, k = 0;
	int r = 0;

	*out = NULL;
	*n = 0;
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((e = readdir(d)) != NULL) {
		if (!name_pid(e->d_name))
			continue;
		if (nn == cap) {
			unsigned nc = cap ? cap * 2 : 8;
			char **nv = realloc(names, nc * sizeof(*nv));
			if (!nv) {
				r = -ENOMEM;
				break;
			}
			names = nv;
			cap = nc;
		}
		if (!(names[nn] = strdup(e->d_name))) {
			r = -ENOMEM;
			break;
		}
		nn++;
	}
	closedir(d);
	if (r == 0 && nn) {
		qsort(names, nn, sizeof(*names), cmp_str);
		*out = calloc(nn, sizeof(**out));
		if (!*out)
			r = -ENOMEM;
	}
	for (unsigned i = 0; r == 0 && i < nn; i++) {
		char path[PATH_MAX];

		if (snprintf(path, sizeof(path), "%s/%s", dir, names[i]) >= (int)sizeof(path))
			continue;
		/* Gone, stale or bad files are skipped, not fatal. */
		if (pvio_stats_snap_read(path, &(*out)[k]) == 0)
			k++;
	}
	for (unsigned i = 0; i < nn; i++)
		free(names[i]);
	free(names);
	if (r < 0) {
		pvio_stats_scan_free(*out, k);
		*out = NULL;
		return r;
	}
	*n = k;
	return 0;
}

PVIO_EXPORT void pvio_stats_scan_free(struct pvio_stats_snap *v, unsigned n)
{
	for (unsigned i = 0; v && i < n; i++)
		pvio_stats_snap_free(&v[i]);
	free(v);
}
