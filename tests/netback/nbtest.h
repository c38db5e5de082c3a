/* SPDX-License-Identifier: MIT */
/*
 * End-to-end harness for pvio-netback (header + nbtest.c): starts pviod
 * and pvio-netback (separate processes, synchronised on their --ready-fd),
 * creates guest domains and their vif nodes (the toolstack's part), reads
 * netback's statistics file, and kills and reaps everything it started
 * (and removes netback's DPDK runtime directory) when the test exits.
 */
#ifndef PVIO_TESTS_NBTEST_H
#define PVIO_TESTS_NBTEST_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "hv/hv.h"
#include "tests/netback/nbfront.h"
#include "xenstore/xs.h"

struct nbt_world {
	char dir[256], sock[300], xs_path[300], stats[300], log[300];
	pid_t pviod, netback;
	struct pvio_hv *dom0;
	struct pvio_xs *xs;
};

/* Tests use one world (pviod + pvio-netback) or several (nbt_select()):
 * `nbt` is the current one. */
#define NBT_WORLDS 2
extern struct nbt_world nbt_worlds[NBT_WORLDS];
extern struct nbt_world *nbt_cur;
#define nbt (*nbt_cur)
/* Make world i current (nbt_start() it before use). */
void nbt_select(unsigned i);

/* Skip (exit 77) unless pvio-netback was built and EAL can run here. */
void nbt_require_netback(void);

/* pviod, a dom0 connection and store handle. Registers the cleanup. */
void nbt_start(void);
/*
 * pvio-netback with these extra arguments (NULL-terminated; netback's own
 * options, then optionally "--" and EAL arguments). Waits for --ready-fd.
 * Returns 0 or -1 (netback did not start: its log is printed).
 */
int  nbt_start_netback(const char *const *args);
/* SIGTERM netback and reap it; returns its exit status (-1 if not running). */
int  nbt_stop_netback(void);

/* A guest domain with mem_mb of memory and its own hv connection. */
struct pvio_hv *nbt_guest(const char *name, unsigned mem_mb, uint16_t *domid);

struct nbt_vif {
	const char *mac;          /* "02:00:00:00:00:01"; NULL: no mac key */
	const char *bridge;       /* NULL: no bridge key */
	bool        no_mac_filter;
};
/* Write vif/<devid> nodes of domid (frontend and backend, as libxl). */
int  nbt_vif_add(uint16_t domid, uint32_t devid, const struct nbt_vif *v);
/* Guest "guest<i>" (mem_mb MiB) with vif 0 of MAC 02:00:00:00:<tag>:<i>
 * (its defaults otherwise): its connection, domid and MAC. */
struct pvio_hv *nbt_guest_vif(unsigned i, unsigned tag, unsigned mem_mb, uint16_t *domid,
			      uint8_t mac[6]);
/* Remove them (the backend sees the device go). */
void nbt_vif_del(uint16_t domid, uint32_t devid);
/* Backend state of vif domid/devid; wait up to timeout_ms for one in mask. */
int  nbt_be_wait(uint16_t domid, uint32_t devid, unsigned mask, int timeout_ms);

/* A value from netback's statistics, fresh (asks for a new write with
 * SIGUSR1 and waits for it). -1 if absent. */
long long nbt_stat(const char *key);
/* Wait until stat key satisfies value >= min (or == eq if exact), up to
 * timeout_ms. Returns the last value seen. */
long long nbt_stat_wait(const char *key, long long want, bool exact, int timeout_ms);
/* Print netback's log (on failure). */
void nbt_dump_log(void);

#endif /* PVIO_TESTS_NBTEST_H */
