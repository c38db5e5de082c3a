/* SPDX-License-Identifier: MIT */
/* xenbus helpers (xenstore/xenbus.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "xenstore/xenbus.h"
#include "xenstore/xs_internal.h"

#define PATH_MAX_ (PVIO_XENSTORE_ABS_PATH_MAX + 1)

static unsigned long next_token_id(void)
{
	static unsigned long id;

	return __atomic_add_fetch(&id, 1, __ATOMIC_RELAXED);
}

static int join(char *buf, const char *dir, const char *key)
{
	int n = snprintf(buf, PATH_MAX_, "%s/%s", dir, key);

	return n < 0 || n >= PATH_MAX_ ? -ENAMETOOLONG : 0;
}

PVIO_EXPORT int pvio_xenbus_switch_state(struct pvio_xs *xs, uint32_t tx, const char *dir,
					 enum pvio_xenbus_state state)
{
	char path[PATH_MAX_];
	int ret = join(path, dir, "state");

	return ret ? ret : pvio_xs_printf(xs, tx, path, "%d", (int)state);
}

PVIO_EXPORT int pvio_xenbus_read_state(struct pvio_xs *xs, uint32_t tx, const char *dir,
				       enum pvio_xenbus_state *state)
{
	char path[PATH_MAX_], buf[16];
	size_t len = 0;
	uint32_t v;
	int ret = join(path, dir, "state");

	if (ret)
		return ret;
	ret = pvio_xs_read_buf(xs, tx, path, buf, sizeof(buf), &len);
	if (ret == -ENOENT || (!ret && !len)) {
		*state = PVIO_XENBUS_STATE_UNKNOWN;
		return 0;
	}
	if (ret == -ERANGE)
		return -EPROTO;
	if (ret)
		return ret;
	/* The whole value is the number: "4\0junk" is none. */
	if (strlen(buf) != len || pvio__xs_parse_u32(buf, &v) || v > PVIO_XENBUS_STATE_MAX)
		return -EPROTO;
	*state = (enum pvio_xenbus_state)v;
	return 0;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

PVIO_EXPORT int pvio_xenbus_wait_state(struct pvio_xs *xs, const char *dir, unsigned mask,
				       int timeout_ms, enum pvio_xenbus_state *state)
{
	long long deadline = timeout_ms >= 0 ? now_ms() + timeout_ms : 0;
	char path[PATH_MAX_], token[48];
	struct pvio_xs_event *ev;
	enum pvio_xenbus_state st;
	int ret = join(path, dir, "state");

	if (ret)
		return ret;
	ev = malloc(sizeof(*ev));
	if (!ev)
		return -ENOMEM;
	snprintf(token, sizeof(token), "pvio-xenbus-wait/%lu", next_token_id());
	ret = pvio_xs_watch(xs, path, token);
	if (ret)
		goto out;
	for (;;) {
		int left = -1;
		ret = pvio_xenbus_read_state(xs, PVIO_XS_NO_TX, dir, &st);
		if (ret)
			break;
		if (mask & PVIO_XENBUS_MASK(st)) {
			if (state)
				*state = st;
			break;
		}
		if (timeout_ms >= 0) {
			long long l = deadline - now_ms();
			if (l <= 0) {
				ret = -ETIMEDOUT;
				break;
			}
			left = (int)l;
		}
		ret = pvio_xs_read_watch(xs, token, ev, left);
		if (ret == -EAGAIN) {
			ret = -ETIMEDOUT;
			break;
		}
		if (ret)
			break;
	}
	pvio_xs_unwatch(xs, path, token);
out:
	free(ev);
	return ret;
}

PVIO_EXPORT int pvio_xenbus_read_uint(struct pvio_xs *xs, uint32_t tx, const char *dir,
				      const char *key, unsigned long long *val)
{
	char path[PATH_MAX_];
	int ret = join(path, dir, key);

	return ret ? ret : pvio_xs_read_uint(xs, tx, path, val);
}

struct keys_arg {
	const char *dir;
	const struct pvio_xenbus_kv *kv;
	unsigned n;
};

static int write_keys_tx(struct pvio_xs *xs, uint32_t tx, void *arg)
{
	struct keys_arg *a = arg;
	char path[PATH_MAX_];

	for (unsigned i = 0; i < a->n; i++) {
		int ret = join(path, a->dir, a->kv[i].key);
		if (!ret)
			ret = pvio_xs_write(xs, tx, path, a->kv[i].value, strlen(a->kv[i].value));
		if (ret)
			return ret;
	}
	return 0;
}

PVIO_EXPORT int pvio_xenbus_write_keys(struct pvio_xs *xs, const char *dir,
				       const struct pvio_xenbus_kv *kv, unsigned n)
{
	struct keys_arg a = { dir, kv, n };

	return pvio_xs_transaction_run(xs, write_keys_tx, &a);
}

/* ------------------------------------------------------ device discovery */

struct dev {
	uint16_t fe;
	uint32_t devid;
	bool seen;
};

struct pvio_xenbus_devwatch {
	struct pvio_xs *xs;
	pvio_xenbus_dev_fn fn;
	void *arg;
	char base[PATH_MAX_];
	size_t baselen;
	char token[64];
	struct dev *devs;
	unsigned ndevs, cap;
	struct pvio_xs_event ev;
};

static bool parse_id(const char *s, uint32_t max, uint32_t *v)
{
	return !pvio__xs_parse_u32(s, v) && *v <= max;
}

static void report(struct pvio_xenbus_devwatch *dw, bool added, uint16_t fe, uint32_t devid)
{
	char path[PATH_MAX_ + 32];      /* base is shorter than PATH_MAX_ - 16 */

	snprintf(path, sizeof(path), "%s/%u/%u", dw->base, fe, devid);
	dw->fn(dw->arg, added, fe, devid, path);
}

static struct dev *find_dev(struct pvio_xenbus_devwatch *dw, uint16_t fe, uint32_t devid)
{
	for (unsigned i = 0; i < dw->ndevs; i++)
		if (dw->devs[i].fe == fe && dw->devs[i].devid == devid)
			return &dw->devs[i];
	return NULL;
}

/* Report devices of fe that went away (those not marked seen), drop them. */
static int sweep(struct pvio_xenbus_devwatch *dw, int fe)
{
	int n = 0;

	for (unsigned i = 0; i < dw->ndevs;) {
		struct dev *d = &dw->devs[i];
		if ((fe < 0 || d->fe == fe) && !d->seen) {
			struct dev gone = *d;
			dw->devs[i] = dw->devs[--dw->ndevs];
			report(dw, false, gone.fe, gone.devid);
			n++;
			continue;
		}
		i++;
	}
	return n;
}

/* Re-read <base>/<fe>: report new and vanished devices of that frontend. */
static int rescan_fe(struct pvio_xenbus_devwatch *dw, uint16_t fe)
{
	char path[PATH_MAX_ + 32];
	char **names = NULL;
	unsigned nn = 0;
	int ret, n = 0;

	snprintf(path, sizeof(path), "%s/%u", dw->base, fe);
	ret = pvio_xs_directory(dw->xs, PVIO_XS_NO_TX, path, &names, &nn);
	if (ret && ret != -ENOENT)
		return ret;
	for (unsigned i = 0; i < dw->ndevs; i++)
		if (dw->devs[i].fe == fe)
			dw->devs[i].seen = false;
	for (unsigned i = 0; i < nn; i++) {
		uint32_t devid;
		struct dev *d;
		if (!parse_id(names[i], UINT32_MAX, &devid))
			continue;
		d = find_dev(dw, fe, devid);
		if (d) {
			d->seen = true;
			continue;
		}
		if (dw->ndevs == dw->cap) {
			unsigned ncap = dw->cap ? dw->cap * 2 : 16;
			struct dev *nd = realloc(dw->devs, ncap * sizeof(*nd));
			if (!nd) {
				free(names);
				return -ENOMEM;
			}
			dw->devs = nd;
			dw->cap = ncap;
		}
		dw->devs[dw->ndevs++] = (struct dev){ fe, devid, true };
		report(dw, true, fe, devid);
		n++;
	}
	free(names);
	return n + sweep(dw, fe);
}

static int rescan_all(struct pvio_xenbus_devwatch *dw)
{
	char **names = NULL;
	unsigned nn = 0;
	int ret, n = 0;

	ret = pvio_xs_directory(dw->xs, PVIO_XS_NO_TX, dw->base, &names, &nn);
	if (ret && ret != -ENOENT)
		return ret;
	for (unsigned i = 0; i < dw->ndevs; i++)
		dw->devs[i].seen = false;
	for (unsigned i = 0; i < nn; i++) {
		uint32_t fe;
		if (!parse_id(names[i], 0xffff, &fe))
			continue;
		ret = rescan_fe(dw, (uint16_t)fe);
		if (ret < 0) {
			free(names);
			return ret;
		}
		n += ret;       /* fe's devices left are all marked seen now */
	}
	free(names);
	return n + sweep(dw, -1);
}

PVIO_EXPORT int pvio_xenbus_devwatch_handle(struct pvio_xenbus_devwatch *dw,
					    const struct pvio_xs_event *ev)
{
	const char *rest;
	uint32_t fe, devid;
	char comp[16];
	size_t l;

	if (strcmp(ev->token, dw->token))
		return -ENOENT;
	if (strncmp(ev->path, dw->base, dw->baselen) ||
	    (ev->path[dw->baselen] != '/' && ev->path[dw->baselen] != '\0'))
		return 0;
	rest = ev->path + dw->baselen;
	if (!*rest)
		return rescan_all(dw);          /* the type directory itself */
	rest++;
	l = strcspn(rest, "/");
	if (l >= sizeof(comp))
		return 0;
	memcpy(comp, rest, l);
	comp[l] = '\0';
	if (!parse_id(comp, 0xffff, &fe))
		return 0;
	rest += l;
	/* Below a device we already know: a key changed, nothing to report
	 * (the device directory going away fires for the directory itself). */
	if (*rest == '/') {
		const char *d = rest + 1;
		l = strcspn(d, "/");
		if (l < sizeof(comp) && d[l] == '/') {
			memcpy(comp, d, l);
			comp[l] = '\0';
			if (parse_id(comp, UINT32_MAX, &devid) && find_dev(dw, (uint16_t)fe, devid))
				return 0;
		}
	}
	return rescan_fe(dw, (uint16_t)fe);
}

PVIO_EXPORT int pvio_xenbus_devwatch_poll(struct pvio_xenbus_devwatch *dw, int timeout_ms)
{
	int ret, n = 0;

	ret = pvio_xs_read_watch(dw->xs, dw->token, &dw->ev, timeout_ms);
	while (!ret) {
		ret = pvio_xenbus_devwatch_handle(dw, &dw->ev);
		if (ret < 0)
			return ret;
		n += ret;
		ret = pvio_xs_read_watch(dw->xs, dw->token, &dw->ev, 0);
	}
	return ret == -EAGAIN ? n : ret;
}

PVIO_EXPORT int pvio_xenbus_devwatch_start(struct pvio_xs *xs, uint16_t be_domid,
					   const char *type, pvio_xenbus_dev_fn fn, void *arg,
					   struct pvio_xenbus_devwatch **out)
{
	struct pvio_xenbus_devwatch *dw = calloc(1, sizeof(*dw));
	int n, ret;

	if (!dw)
		return -ENOMEM;
	dw->xs = xs;
	dw->fn = fn;
	dw->arg = arg;
	n = snprintf(dw->base, sizeof(dw->base), "/local/domain/%u/backend/%s", be_domid, type);
	if (n < 0 || n >= PVIO_XENSTORE_ABS_PATH_MAX - 16 || strchr(type, '/')) {
		free(dw);
		return -EINVAL;
	}
	dw->baselen = (size_t)n;
	snprintf(dw->token, sizeof(dw->token), "pvio-devwatch/%lu", next_token_id());
	ret = pvio_xs_watch(xs, dw->base, dw->token);
	if (ret) {
		free(dw);
		return ret;
	}
	*out = dw;
	return 0;
}

PVIO_EXPORT int pvio_xenbus_devwatch_forget(struct pvio_xenbus_devwatch *dw, uint16_t fe_domid,
					    uint32_t devid)
{
	struct dev *d = find_dev(dw, fe_domid, devid);

	if (!d)
		return -ENOENT;
	*d = dw->devs[--dw->ndevs];
	return 0;
}

PVIO_EXPORT void pvio_xenbus_devwatch_stop(struct pvio_xenbus_devwatch *dw)
{
	if (!dw)
		return;
	pvio_xs_unwatch(dw->xs, dw->base, dw->token);
	free(dw->devs);
	free(dw);
}
