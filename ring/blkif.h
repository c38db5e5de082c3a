/* SPDX-License-Identifier: MIT */
/*
 * Block device wire ABI (Xen's io/blkif.h), byte for byte, with pvio_/PVIO_
 * prefixes on Xen's own names.
 *
 * Two layouts exist, chosen by the frontend's "protocol" key:
 *   - struct pvio_blkif_*          "x86_64-abi" (and "arm-abi", which lays
 *                                  the structs out identically): uint64_t
 *                                  aligned to 8, padding written out here;
 *   - struct pvio_blkif_x86_32_*   "x86_32-abi": uint64_t aligned to 4
 *                                  (#pragma pack(4), as Linux blkback does).
 * Both hold 32 slots per 4 KiB ring page (2^order pages: 32 << order).
 *
 * Shared fields: requests are written by the frontend [FE], responses by the
 * backend [BE], in place of the request in the same ring (ring/ring.h).
 * The backend copies each request out before validating it (XSA-155) and
 * builds each response in private memory, zeroed (XSA-216).
 *
 * ---------------------------------------------------------------- xenstore
 * All values are decimal strings; a missing key means its default.
 * FE dir /local/domain/<fe>/device/vbd/<devid>/, BE dir
 * /local/domain/<be>/backend/vbd/<fe>/<devid>/.
 *
 * [BE] before InitWait (features and transport limits):
 *   feature-persistent            0/1, default 0: grants may stay mapped
 *   max-ring-page-order           u32, default 0 (one page); the ring may be
 *                                 up to 2^order pages
 *   max-ring-pages                DEPRECATED, default 1: 2^max-ring-page-order
 *   multi-queue-max-queues        u32, absent = no multi-queue
 *   feature-max-indirect-segments u32, absent = BLKIF_OP_INDIRECT unsupported
 *                                 (must be absent then); Linux writes 256
 * [BE] before Connected (device properties):
 *   sectors                       u64, size in the connection's sector
 *                                 unit: 512 bytes, or sector-size if the FE
 *                                 wrote feature-large-sector-size=1 (the
 *                                 unit of sector_number, first/last_sect
 *                                 and nr_sectors too; blkback/xenbus.c)
 *   sector-size                   u32, power of 2 >= 512 (the logical block:
 *                                 requests come in whole ones)
 *   physical-sector-size          u32, default sector-size; multiple of it
 *   info                          u32 bitmap of PVIO_VDISK_*
 *   feature-flush-cache           0/1, default 0 (BLKIF_OP_FLUSH_DISKCACHE)
 *   feature-barrier               0/1, default 0 (BLKIF_OP_WRITE_BARRIER)
 *   feature-discard               0/1, default 0 (BLKIF_OP_DISCARD); then
 *     discard-granularity         bytes, default sector-size  } publish
 *     discard-alignment           bytes, default 0             } both
 *     discard-secure              0/1, default 0 (PVIO_BLKIF_DISCARD_SECURE)
 *   Any optional op may still complete with PVIO_BLKIF_RSP_EOPNOTSUPP.
 * Toolstack, BE-private: mode "r"/"w", params, type "file"/"phy"/"tap",
 *   physical-device "MAJOR:MINOR", physical-device-path, discard-enable
 *   (0/1, default 1), direct-io-safe (0/1, default 0); also frontend,
 *   frontend-id, online, state, hotplug-status.
 *
 * [FE] before Initialised (transport, in one transaction):
 *   ring-ref                      grant ref of the single ring page, or
 *   ring-page-order + ring-ref0..ring-ref<2^order - 1> for a multi-page ring
 *                                 (ring-ref is then absent); order <=
 *                                 max-ring-page-order; (num-ring-pages is the
 *                                 DEPRECATED page count)
 *   event-channel                 u32 port
 *   protocol                      PVIO_XEN_IO_PROTO_ABI_*, default native
 *   feature-persistent            0/1, default 0: the FE reuses its grants,
 *                                 so the BE may map them read/write for good
 *   feature-large-sector-size     0/1, default 0 (xenvbd writes 1; Xen
 *                                 4.20's blkif.h deprecates it)
 *   multi-queue-num-queues        1..multi-queue-max-queues; when > 1 the
 *                                 top-level ring-ref(s) and event-channel
 *                                 are absent; queue-<n>/ring-ref[<i>] and
 *                                 queue-<n>/event-channel are written instead
 *                                 (n from 0; ring-page-order stays top-level)
 * Toolstack, FE dir: virtual-device (e.g. 51712 = xvda), device-type
 *   ("disk", "cdrom", ...), trusted (0/1, default 1), backend, backend-id,
 *   state.
 *
 * State sequence: ring/xenbus_abi.h.
 */
#ifndef PVIO_BLKIF_H
#define PVIO_BLKIF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "ring/grant_abi.h"
#include "ring/ring.h"

/* Values of the frontend's "protocol" key (Xen's io/protocols.h). */
#define PVIO_XEN_IO_PROTO_ABI_X86_32  "x86_32-abi"
#define PVIO_XEN_IO_PROTO_ABI_X86_64  "x86_64-abi"
#define PVIO_XEN_IO_PROTO_ABI_ARM     "arm-abi"
/* pvio's native layout (struct pvio_blkif_request) is the x86_64 one. */
#define PVIO_XEN_IO_PROTO_ABI_NATIVE  PVIO_XEN_IO_PROTO_ABI_X86_64

typedef uint16_t pvio_blkif_vdev_t;     /* blkif_vdev_t */
typedef uint64_t pvio_blkif_sector_t;   /* blkif_sector_t */

/* Request codes. */
#define PVIO_BLKIF_OP_READ             0
#define PVIO_BLKIF_OP_WRITE            1
#define PVIO_BLKIF_OP_WRITE_BARRIER    2  /* optional: feature-barrier */
#define PVIO_BLKIF_OP_FLUSH_DISKCACHE  3  /* optional: feature-flush-cache */
#define PVIO_BLKIF_OP_RESERVED_1       4  /* SLES device-specific packets */
#define PVIO_BLKIF_OP_DISCARD          5  /* optional: feature-discard */
#define PVIO_BLKIF_OP_INDIRECT         6  /* optional: feature-max-indirect-segments */

/* Segments carried in the request itself. */
#define PVIO_BLKIF_MAX_SEGMENTS_PER_REQUEST        11
/* Indirect pages per BLKIF_OP_INDIRECT request. */
#define PVIO_BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST  8
/* Segments per indirect page: 4096 / sizeof(struct pvio_blkif_request_segment). */
#define PVIO_BLKIF_SEGS_PER_INDIRECT_FRAME         512

/* Response status (int16_t). */
#define PVIO_BLKIF_RSP_EOPNOTSUPP  -2  /* optional op not supported */
#define PVIO_BLKIF_RSP_ERROR       -1  /* failed (EIO) */
#define PVIO_BLKIF_RSP_OKAY         0

/* blkif_request_discard.flag */
#define PVIO_BLKIF_DISCARD_SECURE  (1 << 0)  /* ignored unless discard-secure=1 */

/* Bits of the backend's "info" key. */
#define PVIO_VDISK_CDROM      0x1
#define PVIO_VDISK_REMOVABLE  0x2
#define PVIO_VDISK_READONLY   0x4

/*
 * One data segment: sectors first_sect..last_sect (inclusive) of the granted
 * page. Sector fields here and sector_number below are in units of
 * sector-size if feature-large-sector-size was negotiated, else of 512 bytes.
 * The same 8 bytes in both ABIs; an indirect page is an array of these.
 */
struct pvio_blkif_request_segment {
	pvio_grant_ref_t gref;   /* [FE] grant of the I/O page */
	uint8_t first_sect;      /* [FE] */
	uint8_t last_sect;       /* [FE] */
	uint8_t pad0[2];
};
_Static_assert(sizeof(struct pvio_blkif_request_segment) == 8, "segment");
_Static_assert(offsetof(struct pvio_blkif_request_segment, gref) == 0, "gref");
_Static_assert(offsetof(struct pvio_blkif_request_segment, first_sect) == 4, "first");
_Static_assert(offsetof(struct pvio_blkif_request_segment, last_sect) == 5, "last");
_Static_assert(PVIO_BLKIF_SEGS_PER_INDIRECT_FRAME ==
	       4096 / sizeof(struct pvio_blkif_request_segment), "segs per frame");

/* ============================================== native ("x86_64-abi") layout */

/* READ, WRITE, WRITE_BARRIER, FLUSH_DISKCACHE: 112 bytes. */
struct pvio_blkif_request {
	uint8_t  operation;                  /* [FE] PVIO_BLKIF_OP_* */
	uint8_t  nr_segments;                /* [FE] 1..11 (0 for a flush) */
	pvio_blkif_vdev_t handle;            /* [FE] */
	uint32_t pad0;
	uint64_t id;                         /* [FE] opaque, echoed in the response */
	pvio_blkif_sector_t sector_number;   /* [FE] first sector on disk */
	struct pvio_blkif_request_segment seg[PVIO_BLKIF_MAX_SEGMENTS_PER_REQUEST];
};
_Static_assert(sizeof(struct pvio_blkif_request) == 112, "blkif_request");
_Static_assert(offsetof(struct pvio_blkif_request, operation) == 0, "operation");
_Static_assert(offsetof(struct pvio_blkif_request, nr_segments) == 1, "nr_segments");
_Static_assert(offsetof(struct pvio_blkif_request, handle) == 2, "handle");
_Static_assert(offsetof(struct pvio_blkif_request, pad0) == 4, "pad0");
_Static_assert(offsetof(struct pvio_blkif_request, id) == 8, "id");
_Static_assert(offsetof(struct pvio_blkif_request, sector_number) == 16, "sector");
_Static_assert(offsetof(struct pvio_blkif_request, seg) == 24, "seg");

/* DISCARD: 32 bytes, cast from the request slot. */
struct pvio_blkif_request_discard {
	uint8_t  operation;                  /* [FE] PVIO_BLKIF_OP_DISCARD */
	uint8_t  flag;                       /* [FE] PVIO_BLKIF_DISCARD_SECURE or 0 */
	pvio_blkif_vdev_t handle;            /* [FE] */
	uint32_t pad0;
	uint64_t id;                         /* [FE] */
	pvio_blkif_sector_t sector_number;   /* [FE] */
	uint64_t nr_sectors;                 /* [FE] */
};
_Static_assert(sizeof(struct pvio_blkif_request_discard) == 32, "discard");
_Static_assert(offsetof(struct pvio_blkif_request_discard, operation) == 0, "d op");
_Static_assert(offsetof(struct pvio_blkif_request_discard, flag) == 1, "d flag");
_Static_assert(offsetof(struct pvio_blkif_request_discard, handle) == 2, "d handle");
_Static_assert(offsetof(struct pvio_blkif_request_discard, pad0) == 4, "d pad0");
_Static_assert(offsetof(struct pvio_blkif_request_discard, id) == 8, "d id");
_Static_assert(offsetof(struct pvio_blkif_request_discard, sector_number) == 16, "d sec");
_Static_assert(offsetof(struct pvio_blkif_request_discard, nr_sectors) == 24, "d nr");

/*
 * INDIRECT: 64 bytes. The segments (up to feature-max-indirect-segments) sit
 * in ceil(nr_segments / 512) granted pages named by indirect_grefs.
 */
struct pvio_blkif_request_indirect {
	uint8_t  operation;                  /* [FE] PVIO_BLKIF_OP_INDIRECT */
	uint8_t  indirect_op;                /* [FE] PVIO_BLKIF_OP_READ/WRITE */
	uint16_t nr_segments;                /* [FE] */
	uint32_t pad0;
	uint64_t id;                         /* [FE] */
	pvio_blkif_sector_t sector_number;   /* [FE] */
	pvio_blkif_vdev_t handle;            /* [FE] */
	uint16_t pad1;
	pvio_grant_ref_t indirect_grefs[PVIO_BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST]; /* [FE] */
	uint32_t pad2;
};
_Static_assert(sizeof(struct pvio_blkif_request_indirect) == 64, "indirect");
_Static_assert(offsetof(struct pvio_blkif_request_indirect, operation) == 0, "i op");
_Static_assert(offsetof(struct pvio_blkif_request_indirect, indirect_op) == 1, "i iop");
_Static_assert(offsetof(struct pvio_blkif_request_indirect, nr_segments) == 2, "i nr");
_Static_assert(offsetof(struct pvio_blkif_request_indirect, pad0) == 4, "i pad0");
_Static_assert(offsetof(struct pvio_blkif_request_indirect, id) == 8, "i id");
_Static_assert(offsetof(struct pvio_blkif_request_indirect, sector_number) == 16, "i sec");
_Static_assert(offsetof(struct pvio_blkif_request_indirect, handle) == 24, "i handle");
_Static_assert(offsetof(struct pvio_blkif_request_indirect, pad1) == 26, "i pad1");
_Static_assert(offsetof(struct pvio_blkif_request_indirect, indirect_grefs) == 28, "i grefs");
_Static_assert(offsetof(struct pvio_blkif_request_indirect, pad2) == 60, "i pad2");

/* 16 bytes. */
struct pvio_blkif_response {
	uint64_t id;          /* [BE] copied from the request */
	uint8_t  operation;   /* [BE] copied from the request */
	uint8_t  pad0;
	int16_t  status;      /* [BE] PVIO_BLKIF_RSP_* */
	uint32_t pad1;
};
_Static_assert(sizeof(struct pvio_blkif_response) == 16, "blkif_response");
_Static_assert(offsetof(struct pvio_blkif_response, id) == 0, "r id");
_Static_assert(offsetof(struct pvio_blkif_response, operation) == 8, "r op");
_Static_assert(offsetof(struct pvio_blkif_response, pad0) == 9, "r pad0");
_Static_assert(offsetof(struct pvio_blkif_response, status) == 10, "r status");
_Static_assert(offsetof(struct pvio_blkif_response, pad1) == 12, "r pad1");

PVIO_RING_DEFINE(pvio_blkif, struct pvio_blkif_request, struct pvio_blkif_response);
_Static_assert(sizeof(union pvio_blkif_slot) == 112, "blkif slot");

/* ===================================================== "x86_32-abi" layout */

#pragma pack(push, 4)

/* 108 bytes. */
struct pvio_blkif_x86_32_request {
	uint8_t  operation;                  /* [FE] */
	uint8_t  nr_segments;                /* [FE] */
	pvio_blkif_vdev_t handle;            /* [FE] */
	uint64_t id;                         /* [FE] */
	pvio_blkif_sector_t sector_number;   /* [FE] */
	struct pvio_blkif_request_segment seg[PVIO_BLKIF_MAX_SEGMENTS_PER_REQUEST];
};

/* 28 bytes. */
struct pvio_blkif_x86_32_request_discard {
	uint8_t  operation;                  /* [FE] */
	uint8_t  flag;                       /* [FE] */
	pvio_blkif_vdev_t handle;            /* [FE] */
	uint64_t id;                         /* [FE] */
	pvio_blkif_sector_t sector_number;   /* [FE] */
	uint64_t nr_sectors;                 /* [FE] */
};

/* 64 bytes: Xen's i386 definition ends with a u64 pad. */
struct pvio_blkif_x86_32_request_indirect {
	uint8_t  operation;                  /* [FE] */
	uint8_t  indirect_op;                /* [FE] */
	uint16_t nr_segments;                /* [FE] */
	uint64_t id;                         /* [FE] */
	pvio_blkif_sector_t sector_number;   /* [FE] */
	pvio_blkif_vdev_t handle;            /* [FE] */
	uint16_t pad0;
	pvio_grant_ref_t indirect_grefs[PVIO_BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST]; /* [FE] */
	uint64_t pad;
};

/* 12 bytes. */
struct pvio_blkif_x86_32_response {
	uint64_t id;          /* [BE] */
	uint8_t  operation;   /* [BE] */
	uint8_t  pad0;
	int16_t  status;      /* [BE] */
};

#pragma pack(pop)

_Static_assert(sizeof(struct pvio_blkif_x86_32_request) == 108, "x86_32 request");
_Static_assert(offsetof(struct pvio_blkif_x86_32_request, operation) == 0, "32 op");
_Static_assert(offsetof(struct pvio_blkif_x86_32_request, nr_segments) == 1, "32 nr");
_Static_assert(offsetof(struct pvio_blkif_x86_32_request, handle) == 2, "32 handle");
_Static_assert(offsetof(struct pvio_blkif_x86_32_request, id) == 4, "32 id");
_Static_assert(offsetof(struct pvio_blkif_x86_32_request, sector_number) == 12, "32 sec");
_Static_assert(offsetof(struct pvio_blkif_x86_32_request, seg) == 20, "32 seg");

_Static_assert(sizeof(struct pvio_blkif_x86_32_request_discard) == 28, "x86_32 discard");
_Static_assert(offsetof(struct pvio_blkif_x86_32_request_discard, operation) == 0, "32d op");
_Static_assert(offsetof(struct pvio_blkif_x86_32_request_discard, flag) == 1, "32d flag");
_Static_assert(offsetof(struct pvio_blkif_x86_32_request_discard, handle) == 2, "32d h");
_Static_assert(offsetof(struct pvio_blkif_x86_32_request_discard, id) == 4, "32d id");
_Static_assert(offsetof(struct pvio_blkif_x86_32_request_discard, sector_number) == 12,
	       "32d sec");
_Static_assert(offsetof(struct pvio_blkif_x86_32_request_discard, nr_sectors) == 20, "32d nr");

_Static_assert(sizeof(struct pvio_blkif_x86_32_request_indirect) == 64, "x86_32 indirect");
_Static_assert(offsetof(struct pvio_blkif_x86_32_request_indirect, operation) == 0, "32i op");
_Static_assert(offsetof(struct pvio_blkif_x86_32_request_indirect, indirect_op) == 1,
	       "32i iop");
_Static_assert(offsetof(struct pvio_blkif_x86_32_request_indirect, nr_segments) == 2,
	       "32i nr");
_Static_assert(offsetof(struct pvio_blkif_x86_32_request_indirect, id) == 4, "32i id");
_Static_assert(offsetof(struct pvio_blkif_x86_32_request_indirect, sector_number) == 12,
	       "32i sec");
_Static_assert(offsetof(struct pvio_blkif_x86_32_request_indirect, handle) == 20, "32i h");
_Static_assert(offsetof(struct pvio_blkif_x86_32_request_indirect, pad0) == 22, "32i pad0");
_Static_assert(offsetof(struct pvio_blkif_x86_32_request_indirect, indirect_grefs) == 24,
	       "32i grefs");
_Static_assert(offsetof(struct pvio_blkif_x86_32_request_indirect, pad) == 56, "32i pad");

_Static_assert(sizeof(struct pvio_blkif_x86_32_response) == 12, "x86_32 response");
_Static_assert(offsetof(struct pvio_blkif_x86_32_response, id) == 0, "32r id");
_Static_assert(offsetof(struct pvio_blkif_x86_32_response, operation) == 8, "32r op");
_Static_assert(offsetof(struct pvio_blkif_x86_32_response, pad0) == 9, "32r pad0");
_Static_assert(offsetof(struct pvio_blkif_x86_32_response, status) == 10, "32r status");

PVIO_RING_DEFINE(pvio_blkif_x86_32, struct pvio_blkif_x86_32_request,
		 struct pvio_blkif_x86_32_response);
_Static_assert(sizeof(union pvio_blkif_x86_32_slot) == 108, "x86_32 slot");

/* ------------------------------------------------------------- protocol key */

enum pvio_blkif_abi {
	PVIO_BLKIF_ABI_NATIVE = 0,   /* "x86_64-abi" / "arm-abi": pvio_blkif_* */
	PVIO_BLKIF_ABI_X86_32 = 1,   /* "x86_32-abi": pvio_blkif_x86_32_* */
};

/*
 * Layout named by the frontend's "protocol" value; NULL (key absent) means
 * native. Returns the enum pvio_blkif_abi value, or -EINVAL if unknown.
 */
static inline int pvio_blkif_abi_from_protocol(const char *protocol)
{
	if (protocol == NULL || strcmp(protocol, PVIO_XEN_IO_PROTO_ABI_X86_64) == 0 ||
	    strcmp(protocol, PVIO_XEN_IO_PROTO_ABI_ARM) == 0)
		return PVIO_BLKIF_ABI_NATIVE;
	if (strcmp(protocol, PVIO_XEN_IO_PROTO_ABI_X86_32) == 0)
		return PVIO_BLKIF_ABI_X86_32;
	return -EINVAL;
}

#endif /* PVIO_BLKIF_H */
