/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness for netback's DPDK-free parts (built with clang
 * -fsanitize=fuzzer,address,undefined by tests/netback/module.mk; run by
 * test_fuzz_netback.sh). The first input byte picks the target:
 *   0  nb_tx_parse over a window of guest tx requests
 *   1  nb_pkt_parse + checksum + segmentation header rewrite of a frame
 *   2  a sequence of ctrl-ring requests (nb_ctrl_handle), guest pages from
 *      the input, then queue selection
 *   3  MAC table operations
 *   (0xF0 and up) copies through the persistent-grant cache as netback
 *      makes them for a feature-persistent frontend (pvio_pgrant_copy):
 *      a guest grant table the input writes whole (any flags, domid,
 *      frame), a cache of 1-4 entries, then copy ops from the input
 * Each checks the invariants the data path relies on and traps if one
 * breaks; the sanitizers catch any access outside the buffers.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "grant-tables/pgrant.h"
#include "netback/nb_hash.h"
#include "netback/nb_mactable.h"
#include "netback/nb_pkt.h"
#include "netback/nb_tx.h"

#define ASSERT(c) do { if (!(c)) __builtin_trap(); } while (0)

static void fuzz_tx(const uint8_t *d, size_t n)
{
	static struct pvio_netif_tx_request win[256];
	struct nb_txpkt p;
	uint32_t avail, start, used = 0;

	if (n < 2)
		return;
	start = d[0];
	d++;
	n--;
	avail = (uint32_t)(n / sizeof(win[0]));
	if (avail > 256)
		avail = 256;
	for (uint32_t i = 0; i < avail; i++)
		memcpy(&win[(start + i) & 255], d + i * sizeof(win[0]), sizeof(win[0]));
	while (used < avail) {
		int r = nb_tx_parse(win, 255, start + used, avail - used, &p);

		if (r <= 0) {
			ASSERT(r == 0 || (r == -EPROTO && p.why));
			return;
		}
		ASSERT((uint32_t)r <= avail - used && r == p.nslots && r <= NB_TX_MAX_SLOTS);
		if (p.verdict == NB_TX_OK) {
			uint32_t sum = 0;

			ASSERT(p.nfrags >= 1 && p.nfrags <= 1 + NB_TX_MAX_FRAGS);
			for (unsigned i = 0; i < p.nfrags; i++) {
				ASSERT((uint32_t)p.frag[i].offset + p.frag[i].size <= 4096);
				sum += p.frag[i].size;
			}
			ASSERT(sum == p.size && p.frag[0].size >= NB_ETH_HLEN);
		}
		used += (uint32_t)r;
	}
}

static void fuzz_pkt(const uint8_t *d, size_t n)
{
	static uint8_t buf[70000];
	struct nb_hdr h;
	uint32_t avail;

	if (n < 3 || n > sizeof(buf))
		return;
	avail = (uint32_t)(d[0] << 8 | d[1]) % (uint32_t)(n - 1);
	memcpy(buf, d + 2, n - 2);
	if (nb_pkt_parse(buf, avail, (uint32_t)(n - 2), &h) != 0 || h.l3 == NB_L3_NONE)
		return;
	ASSERT((uint32_t)h.l2_len + h.l3_len <= avail);
	ASSERT((uint32_t)h.l2_len + h.l3_len + h.l4_bytes <= n - 2);
	ASSERT((uint32_t)h.l2_len + h.l3_len + h.l4_len <= avail && h.l4_len <= h.l4_bytes);
	if (h.l4_len) {
		struct nb_csum c;

		nb_csum_init(&c);
		nb_csum_pseudo(&c, buf + h.l2_len, &h, h.l4_bytes);
		nb_csum_update(&c, buf + h.l2_len + h.l3_len, h.l4_bytes);
		(void)nb_csum_final(&c);
	}
	if (h.l4proto == NB_IPPROTO_TCP && h.l4_len && h.l4_bytes > h.l4_len) {
		uint32_t payload = h.l4_bytes - h.l4_len, mss = 88 + d[0];
		uint8_t hdr[NB_MAX_HDR_LEN + 64];
		uint32_t hl = (uint32_t)h.l2_len + h.l3_len + h.l4_len;

		if (hl > sizeof(hdr))
			return;
		memcpy(hdr, buf, hl);
		nb_gso_fix_headers(hdr, &h, 3, (uint16_t)mss, payload < mss ? payload : mss, true);
	}
}

static int fake_copy(void *arg, uint32_t gref, void *dst, uint32_t len)
{
	const uint8_t *src = arg;

	if (gref > 3 || len > 4096)
		return -1;
	memcpy(dst, src + gref * 64, len < 64 ? len : 64);
	if (len > 64)
		memset((uint8_t *)dst + 64, (int)gref, len - 64);
	return 0;
}

static void fuzz_ctrl(const uint8_t *d, size_t n)
{
	static struct nb_hash_cfg c;
	uint8_t pages[4 * 64] = { 0 };
	unsigned nq;

	if (n < 1 + sizeof(pages))
		return;
	nq = 1 + d[0] % 8;
	memcpy(pages, d + 1, sizeof(pages));
	d += 1 + sizeof(pages);
	n -= 1 + sizeof(pages);
	nb_hash_init(&c);
	for (; n >= 14; d += 14, n -= 14) {
		struct pvio_xen_netif_ctrl_request q;
		struct pvio_xen_netif_ctrl_response r;

		memcpy(&q.id, d, 2);
		q.type = d[2] % 12;
		memcpy(q.data, d + 2, 12);
		if (d[3] & 1)
			q.data[0] &= 3;   /* often a valid gref */
		nb_ctrl_handle(&c, nq, &q, &r, fake_copy, pages);
		ASSERT(r.id == q.id && r.type == q.type && r.status <= 3);
		ASSERT(c.size <= NB_HASH_MAPPING_MAX && !(c.seq & 1));
		for (unsigned i = 0; i < NB_HASH_MAPPING_MAX; i++)
			ASSERT(c.mapping[i] < nq);
	}
	{
		uint8_t pkt[64] = { 0 };
		struct nb_hash_result res;
		struct nb_hdr h;

		pkt[12] = 0x08;
		pkt[14] = 0x45;
		pkt[17] = 40;
		pkt[23] = NB_IPPROTO_TCP;
		pkt[14 + 20 + 12] = 0x50;
		memcpy(pkt + 26, pages, 12);
		if (nb_pkt_parse(pkt, 64, 64, &h) == 0) {
			nb_hash_select(&c, nq, pkt, &h, &res);
			ASSERT(res.queue < nq);
		}
	}
}

static void fuzz_mac(const uint8_t *d, size_t n)
{
	struct nb_mactable t;

	if (nb_mt_init(&t, 64, 30) != 0)
		return;
	for (; n >= 9; d += 9, n -= 9) {
		uint8_t mac[6];
		uint32_t now = d[7];
		int p;

		memcpy(mac, d, 6);
		switch (d[6] % 4) {
		case 0:
			nb_mt_learn(&t, mac, d[8] % 8, now);
			ASSERT(nb_mt_lookup(&t, mac, now) == d[8] % 8);
			break;
		case 1:
			p = nb_mt_lookup(&t, mac, now);
			ASSERT(p == NB_MT_NO_PORT || (p >= 0 && p < 8));
			break;
		case 2:
			nb_mt_flush_port(&t, d[8] % 8);
			break;
		default:
			nb_mt_expire(&t, now);
			break;
		}
		ASSERT(nb_mt_count(&t, now) <= 64);
	}
	nb_mt_fini(&t);
}

#define PG_REFS   16
#define PG_FRAMES 8
#define PG_GUEST  5

static void fuzz_pgrant(const uint8_t *d, size_t n)
{
	static struct pvio_grant_entry_v1 table[PG_REFS];
	static uint8_t mem[PG_FRAMES * 4096], local[4096];
	struct pvio_gnttab_view view;
	struct pvio_pgrant_cache c;
	size_t need = 1 + sizeof(table);

	if (n < need)
		return;
	memcpy(table, d + 1, sizeof(table));
	/* Some entries made valid, so that copies get past the checks. */
	for (unsigned i = 0; i < PG_REFS; i++)
		if (d[0] & (1u << (i % 8))) {
			table[i].flags = (uint16_t)(PVIO_GTF_permit_access |
						    (table[i].flags & PVIO_GTF_readonly));
			table[i].domid = 0;
			table[i].frame %= PG_FRAMES + 1;   /* one past the end too */
		}
	ASSERT(pvio_gnttab_view_init(&view, table, PG_REFS, mem, PG_FRAMES, PG_GUEST, 0) == 0);
	ASSERT(pvio_pgrant_init(&c, &view, 1 + d[0] % 4) == 0);
	for (size_t p = need; p + 6 <= n; p += 6) {
		struct pvio_gnt_copy_op op;
		const uint8_t *o = d + p;
		bool src = o[0] & 1;
		uint32_t ref = o[1] % (PG_REFS + 2);
		uint16_t off = (uint16_t)((o[2] | o[3] << 8) % 4200);
		uint16_t len = (uint16_t)((o[4] | o[5] << 8) % 4200);
		int ok;

		memset(&op, 0, sizeof(op));
		/* Any flags (none, both, the other side's); the local side is
		 * the caller's own pointer (or NULL), as netback builds it. */
		op.flags = (uint16_t)(o[0] & 4 ? (o[0] >> 3) & 3
					       : src ? PVIO_GNTCOPY_source_gref
						     : PVIO_GNTCOPY_dest_gref);
		if (op.flags & PVIO_GNTCOPY_source_gref)
			op.source.foreign = (__typeof__(op.source.foreign)){ ref, off, PG_GUEST };
		else
			op.source.virt = o[0] & 2 ? NULL : local;
		if (op.flags & PVIO_GNTCOPY_dest_gref)
			op.dest.foreign = (__typeof__(op.source.foreign)){ ref, off, PG_GUEST };
		else
			op.dest.virt = o[0] & 2 ? NULL : local;
		src = op.flags == PVIO_GNTCOPY_source_gref;
		op.len = len;
		ok = pvio_pgrant_copy(&c, &op, 1);
		ASSERT(ok == (op.status == PVIO_GNTST_okay));
		if (ok) {
			/* Only in the page, and never into a read-only grant. */
			ASSERT((uint32_t)off + len <= 4096 && ref < PG_REFS);
			ASSERT(src || !(table[ref].flags & PVIO_GTF_readonly));
			ASSERT(table[ref].flags & (src ? PVIO_GTF_reading : PVIO_GTF_writing));
		}
		ASSERT(c.nr <= c.max);
	}
	pvio_pgrant_fini(&c);
	ASSERT(c.nr == 0);
	pvio_gnttab_view_fini(&view);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	if (data[0] >= 0xF0) {
		fuzz_pgrant(data + 1, size - 1);
		return 0;
	}
	switch (data[0] % 4) {
	case 0: fuzz_tx(data + 1, size - 1); break;
	case 1: fuzz_pkt(data + 1, size - 1); break;
	case 2: fuzz_ctrl(data + 1, size - 1); break;
	default: fuzz_mac(data + 1, size - 1); break;
	}
	return 0;
}
