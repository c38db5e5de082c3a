/* SPDX-License-Identifier: MIT */
/*
 * I/O limits shared by the backends, as pure algorithms: the caller passes
 * the time (now_ns, CLOCK_MONOTONIC nanoseconds) so that a data path reads
 * the clock once per batch and tests drive a synthetic clock.
 *
 *  vif  xl's rate= (docs/man/xl-network-configuration.5, libxlu's
 *       xlu_vif_parse_rate), stored as the backend key
 *       rate = "<bytes per interval>,<interval in microseconds>"
 *       (libxl writes it for Linux netback), and netback's credit
 *       scheduler (Linux xen-netback tx_credit_exceeded/tx_add_credit):
 *       the guest's tx packets take credit; a packet larger than what is
 *       left waits for the next replenish (its requests stay on the ring:
 *       nothing is dropped); each replenish adds one interval's bytes, and
 *       what is left never grows above bytes + largest frame, so a
 *       maximum-size packet always gets through while no interval carries
 *       more than bytes + largest frame (Linux caps at max(bytes, 128 KiB),
 *       which loses part of the rate with large frames).
 *
 *  vbd  QEMU's throttling (util/throttle.c, docs/throttle.txt): six leaky
 *       buckets (bps and iops; total, read, write), each with an average
 *       rate, an optional burst rate (-max) kept up for -max-length
 *       seconds, iops-size (a request of n times that size counts n
 *       operations), and groups: disks that share one set of buckets.
 *       The option names, validation rules and error messages are
 *       QEMU's (throttle_is_valid). Reads and writes are throttled;
 *       flushes and discards are not (as QEMU).
 *
 * Concurrency (the vbd side): a group's buckets are shared by every queue
 * of every disk in it, on whatever worker thread serves them, so each
 * group has a spinlock, taken once per admitted or refused request and
 * only when the disk is limited (pvio_throttle_on() is one relaxed load).
 * A disk's handle (struct pvio_throttle) points at its group; the control
 * thread may move it to another group at any time: the data path locks the
 * group it read and re-checks the pointer, and groups are never freed
 * while the registry lives (a group nobody uses any more is kept, then
 * recycled for the next: the registry holds as many groups as were ever in
 * use at once), so a stale pointer is always safe to lock. The vif credit is
 * not locked here: netback shares one credit between a vif's queues under
 * its own lock.
 */
#ifndef PVIO_BACKEND_THROTTLE_H
#define PVIO_BACKEND_THROTTLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ring/pvio_atomic.h"

/* ------------------------------------------------------------ vif rate */

#define PVIO_RATE_DEFAULT_INTERVAL_US 50000u      /* xl's default: 50 ms */

/*
 * Parse xl's rate: "RATE[@INTERVAL]", RATE = digits, an optional K, M or G
 * (powers of 1000), then b/s (bits) or B/s (bytes); INTERVAL = digits and
 * an optional unit s, ms (or m), us (or u); no unit: seconds. Numbers are
 * decimal, from 1 to 4294967295 before the unit. Gives the bytes per
 * interval and the interval in microseconds. Returns 0, or -EINVAL
 * (malformed, zero, or less than one byte per interval) or -ERANGE
 * (overflow) with a message in err.
 */
int pvio_rate_parse(const char *s, uint64_t *bytes, uint32_t *usec, char *err, size_t errlen);

/* Parse the backend key's value "<bytes>,<usec>" (decimal, nothing else).
 * usec 0 means unlimited. 0 or -EINVAL with a message. */
int pvio_rate_key_parse(const char *s, uint64_t *bytes, uint64_t *usec, char *err,
			size_t errlen);

/* A rate for people: "10 Mbit/s (62500 bytes every 50000 us)". */
void pvio_rate_describe(uint64_t bytes, uint64_t usec, char *buf, size_t len);

/* ------------------------------------------------------------ vif credit */

struct pvio_credit {
	uint64_t bytes;            /* credit added per interval */
	uint64_t usec;             /* interval; 0: unlimited */
	uint64_t max_frame;        /* largest packet: the cap is bytes + this */
	uint64_t remaining;
	uint64_t window_start;     /* ns: start of the current interval */
	bool     waiting;          /* a packet is waiting for window_start (Linux's
				    * credit timer is pending) */
	uint64_t replenishes;      /* counters */
	uint64_t refusals;
};

/* Unlimited, frames up to max_frame bytes. */
void pvio_credit_init(struct pvio_credit *c, uint64_t max_frame);
/* New limit (usec 0: unlimited), effective now: a waiting packet gets the
 * new interval's credit at once, otherwise what is left is cut to one
 * interval's worth (as Linux's xen_net_rate_changed). */
void pvio_credit_set(struct pvio_credit *c, uint64_t bytes, uint64_t usec, uint64_t now_ns);
/* Take size bytes of credit for a packet: true, or false when it must wait
 * (*wait_ns: until the next replenish, > 0). A refused packet must be
 * offered again (it is not remembered). */
bool pvio_credit_take(struct pvio_credit *c, uint64_t size, uint64_t now_ns, uint64_t *wait_ns);

/* Give back what a packet took when it could not be sent after all
 * (out of buffers): it will be offered again. */
void pvio_credit_refund(struct pvio_credit *c, uint64_t size);

static inline bool pvio_credit_limited(const struct pvio_credit *c)
{
	return c->usec != 0;
}

/* ------------------------------------------------------------ vbd throttling */

enum pvio_throttle_bucket {
	PVIO_THROTTLE_BPS_TOTAL,
	PVIO_THROTTLE_BPS_READ,
	PVIO_THROTTLE_BPS_WRITE,
	PVIO_THROTTLE_OPS_TOTAL,
	PVIO_THROTTLE_OPS_READ,
	PVIO_THROTTLE_OPS_WRITE,
	PVIO_THROTTLE_BUCKETS
};

#define PVIO_THROTTLE_VALUE_MAX   1000000000000000ull   /* QEMU's THROTTLE_VALUE_MAX */
#define PVIO_THROTTLE_GROUP_MAX   64                    /* name, NUL included */
#define PVIO_THROTTLE_PREFIX      "throttling."

struct pvio_throttle_cfg {
	struct {
		uint64_t avg;            /* units per second; 0: no limit */
		uint64_t max;            /* burst rate; 0: none */
		uint64_t burst_length;   /* seconds at max (>= 1) */
	} b[PVIO_THROTTLE_BUCKETS];
	uint64_t op_size;                /* iops-size; 0: every request is one op */
	char     group[PVIO_THROTTLE_GROUP_MAX];   /* "": the disk's own */
};

/* No limits, burst lengths 1 (QEMU's throttle_config_init). */
void pvio_throttle_cfg_init(struct pvio_throttle_cfg *cfg);
/*
 * Set one option by QEMU's name, with or without the "throttling." prefix:
 * {bps,iops}-{total,read,write}[-max[-length]], iops-size, group. Values
 * are decimal whole numbers (QEMU's number options: no unit). 0, or
 * -EINVAL (unknown name, not a number, negative) / -ERANGE (above 2^64-1)
 * with a message naming the option.
 */
int pvio_throttle_cfg_set(struct pvio_throttle_cfg *cfg, const char *name, const char *value,
			  char *err, size_t errlen);
/* Set every "name=value" of a comma-separated list (spaces around items
 * ignored) on cfg. 0 or the first error. */
int pvio_throttle_cfg_parse(struct pvio_throttle_cfg *cfg, const char *opts, char *err,
			    size_t errlen);
/* QEMU's throttle_is_valid: 0 or -EINVAL with QEMU's message. */
int pvio_throttle_cfg_validate(const struct pvio_throttle_cfg *cfg, char *err, size_t errlen);
/* Any average rate set (QEMU's throttle_enabled). */
bool pvio_throttle_cfg_enabled(const struct pvio_throttle_cfg *cfg);
bool pvio_throttle_cfg_equal(const struct pvio_throttle_cfg *a, const struct pvio_throttle_cfg *b);

/* The options, for writing them out (store keys, messages): names without
 * the prefix. pvio_throttle_opt_get() gives the value of option i if cfg
 * sets it (differs from the default): 1, else 0. */
unsigned    pvio_throttle_opt_count(void);
const char *pvio_throttle_opt_name(unsigned i);
int         pvio_throttle_opt_get(const struct pvio_throttle_cfg *cfg, unsigned i, char *buf,
				  size_t len);
/* "throttling.iops-total=2000,throttling.group=g" (every option set), or
 * "" when none is. -ENOSPC if buf is too small. */
int pvio_throttle_cfg_format(const struct pvio_throttle_cfg *cfg, char *buf, size_t len);

/* The leaky buckets of one budget (QEMU's ThrottleState), unlocked. */
struct pvio_throttle_state {
	struct pvio_throttle_cfg cfg;
	double   level[PVIO_THROTTLE_BUCKETS];
	double   burst_level[PVIO_THROTTLE_BUCKETS];
	uint64_t previous_leak;       /* ns */
};

/* Take cfg, empty the buckets (QEMU's throttle_config). */
void pvio_throttle_state_config(struct pvio_throttle_state *s, const struct pvio_throttle_cfg *cfg,
				uint64_t now_ns);
/* Leak up to now, then how long a read or write must wait before it may
 * go (0: now). QEMU's throttle_compute_timer. */
uint64_t pvio_throttle_state_wait(struct pvio_throttle_state *s, bool write, uint64_t now_ns);
/* Account a request that goes (QEMU's throttle_account). */
void pvio_throttle_state_account(struct pvio_throttle_state *s, bool write, uint64_t bytes);

/* Groups and disks. */
struct pvio_throttle_group;
struct pvio_throttle_registry;

/* A disk's handle: what the data path holds. Zero-initialised = unlimited. */
struct pvio_throttle {
	struct pvio_throttle_group *g;   /* atomic; NULL: unlimited */
};

/* Named groups of one process. 0 or -ENOMEM. */
int  pvio_throttle_registry_new(struct pvio_throttle_registry **out);
/* Every handle must have been released. */
void pvio_throttle_registry_free(struct pvio_throttle_registry *reg);

/*
 * Give disk t the limits of cfg (validated by the caller) from now on.
 * With cfg->group set, t joins (or stays in) that group, and the group's
 * limits become cfg's: a group has the limits last set by any member, as
 * in QEMU. Without, t gets a budget of its own, known by `self` (a name
 * unique to the disk, e.g. its backend path). New limits start from empty
 * buckets (QEMU's throttle_config); the same limits again keep the
 * buckets' levels, also across a release: a disk that leaves and comes
 * back with the same limits and self (its frontend reconnected) finds its
 * budget as it left it, as long as no other budget needed the memory. With
 * no limit in cfg, t leaves its group and is unlimited. Control thread;
 * the data path may run meanwhile. 0 or -ENOMEM (t is left as it was).
 */
int  pvio_throttle_apply(struct pvio_throttle_registry *reg, struct pvio_throttle *t,
			 const char *self, const struct pvio_throttle_cfg *cfg, uint64_t now_ns);
/* Unlimited again (leaves its group). Idempotent. */
void pvio_throttle_release(struct pvio_throttle_registry *reg, struct pvio_throttle *t);
/* Members of the group named name (tests, statistics); 0 if none. */
unsigned pvio_throttle_group_members(struct pvio_throttle_registry *reg, const char *name);

/*
 * The data path's question, per read or write request of `bytes` bytes:
 * may it go now? true: yes, and it has been accounted. false: not before
 * *wait_ns nanoseconds from now; nothing was accounted: offer it again
 * then (keep it, and take no later request from its ring meanwhile).
 * Flushes and discards are not asked about. Thread-safe.
 */
bool pvio_throttle_admit(struct pvio_throttle *t, bool write, uint64_t bytes, uint64_t now_ns,
			 uint64_t *wait_ns);

/* Is t limited at all? One relaxed load: skip admit (and the clock) when
 * not. */
static inline bool pvio_throttle_on(const struct pvio_throttle *t)
{
	return pvio_load_relaxed(&t->g) != NULL;
}

#endif /* PVIO_BACKEND_THROTTLE_H */
