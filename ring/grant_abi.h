/* SPDX-License-Identifier: MIT */
/*
 * Grant table wire ABI (Xen's grant_table.h and the domid values of xen.h),
 * byte for byte, with pvio_/PVIO_ prefixes on Xen's own names.
 *
 * A guest's grant table is an array of entries in memory it shares with the
 * granting machinery (Xen, or pvio's broker): version 1 entries are 8 bytes
 * (512 per 4 KiB page), version 2 entries 16 bytes (256 per page) with the
 * in-use bits moved to a separate array of pvio_grant_status_t. A grant
 * reference is an index into that array.
 *
 * Who writes what, as Xen tags it:
 *   [GST] written by the granting guest, read by the mapper (Xen/broker);
 *   [XEN] written by the mapper, read by the guest.
 *
 * The flags protocol (the only synchronisation there is):
 *
 *  Granting (GTF_permit_access):
 *   1. [GST] write domid and frame;
 *   2. write barrier (release): domid/frame are visible before flags;
 *   3. [GST] write flags = GTF_permit_access [| GTF_readonly].
 *
 *  Mapping (by the grantee's backend, done for it by the mapper):
 *   the mapper reads flags, checks type == GTF_permit_access, domid == the
 *   mapping domain, GTF_readonly against the requested access, and sets
 *   GTF_reading (and GTF_writing for a writable mapping) with an atomic
 *   compare-and-swap on the 16-bit flags (v1: on the whole flags|domid word,
 *   so the domid cannot change under it). Only then is frame read and used.
 *   Unmap clears GTF_writing/GTF_reading when the last such mapping goes.
 *
 *  Revoking an unused entry:
 *   1. [GST] f = flags;
 *   2. fail if f & (GTF_reading | GTF_writing): the page is still mapped,
 *      and the guest must not reuse or free it (retry later);
 *   3. cmpxchg(&flags, f, 0); it fails if the mapper set reading/writing in
 *      between, so a successful cmpxchg proves no mapping exists. No barrier
 *      is needed after it: reuse of the entry depends on its success.
 *   An in-use entry cannot be revoked directly.
 *
 *  Read-only <-> writable: cmpxchg setting GTF_readonly while checking
 *  !GTF_writing; clearing GTF_readonly is a plain atomic bit clear.
 *
 *  Transfers (GTF_accept_transfer) are PV-only and not used by pvio; the
 *  flags are here for completeness of the ABI.
 *
 * In v2 tables GTF_reading/GTF_writing live in the status array (one
 * pvio_grant_status_t per entry, [XEN]), not in hdr.flags.
 */
#ifndef PVIO_GRANT_ABI_H
#define PVIO_GRANT_ABI_H

#include <stddef.h>
#include <stdint.h>

typedef uint32_t pvio_grant_ref_t;      /* grant_ref_t */
typedef uint16_t pvio_domid_t;          /* domid_t */
typedef uint16_t pvio_grant_status_t;   /* grant_status_t (v2 status array) */
typedef uint32_t pvio_grant_handle_t;   /* grant_handle_t (map result) */

/* ------------------------------------------------------------- domain ids */

/* Ids >= PVIO_DOMID_FIRST_RESERVED are never ordinary domains. */
#define PVIO_DOMID_FIRST_RESERVED  0x7FF0u
#define PVIO_DOMID_SELF            0x7FF0u  /* "the caller" in hypercalls */
#define PVIO_DOMID_IO              0x7FF1u
#define PVIO_DOMID_XEN             0x7FF2u
#define PVIO_DOMID_COW             0x7FF3u
#define PVIO_DOMID_INVALID         0x7FF4u  /* owner unknown / none */
#define PVIO_DOMID_IDLE            0x7FFFu
#define PVIO_DOMID_MASK            0x7FFFu

/* ------------------------------------------------------------ v1 entries */

struct pvio_grant_entry_v1 {
	uint16_t flags;     /* GTF_*  [GST] type and subflags, [XEN] reading/writing */
	uint16_t domid;     /* [GST] domain being granted access */
	uint32_t frame;     /* [GST] GFN granted; [XEN] MFN after a transfer */
};
_Static_assert(sizeof(struct pvio_grant_entry_v1) == 8, "grant_entry_v1");
_Static_assert(offsetof(struct pvio_grant_entry_v1, flags) == 0, "v1 flags");
_Static_assert(offsetof(struct pvio_grant_entry_v1, domid) == 2, "v1 domid");
_Static_assert(offsetof(struct pvio_grant_entry_v1, frame) == 4, "v1 frame");

/* Entries 0..7 are kept across version changes and may be set up by tools. */
#define PVIO_GNTTAB_NR_RESERVED_ENTRIES  8
#define PVIO_GNTTAB_RESERVED_CONSOLE     0
#define PVIO_GNTTAB_RESERVED_XENSTORE    1

/* Entries per 4 KiB grant-table frame. */
#define PVIO_GRANT_ENTRIES_V1_PER_PAGE   (4096 / sizeof(struct pvio_grant_entry_v1))

/* --------------------------------------------------------- type and flags */

/* Type (flags & GTF_type_mask). */
#define PVIO_GTF_invalid          (0U << 0)  /* grants nothing */
#define PVIO_GTF_permit_access    (1U << 0)  /* domid may map/access frame */
#define PVIO_GTF_accept_transfer  (2U << 0)  /* domid may transfer a page to us */
#define PVIO_GTF_transitive       (3U << 0)  /* v2: re-grant of another domain's grant */
#define PVIO_GTF_type_mask        (3U << 0)

/* Subflags of GTF_permit_access and GTF_transitive. */
#define _PVIO_GTF_readonly        (2)
#define PVIO_GTF_readonly         (1U << _PVIO_GTF_readonly)  /* [GST] */
#define _PVIO_GTF_reading         (3)
#define PVIO_GTF_reading          (1U << _PVIO_GTF_reading)   /* [XEN] mapped for read */
#define _PVIO_GTF_writing         (4)
#define PVIO_GTF_writing          (1U << _PVIO_GTF_writing)   /* [XEN] mapped for write */
/* Subflags of GTF_permit_access only: x86 cache attributes, sub-page. */
#define _PVIO_GTF_PWT             (5)
#define PVIO_GTF_PWT              (1U << _PVIO_GTF_PWT)       /* [GST] */
#define _PVIO_GTF_PCD             (6)
#define PVIO_GTF_PCD              (1U << _PVIO_GTF_PCD)       /* [GST] */
#define _PVIO_GTF_PAT             (7)
#define PVIO_GTF_PAT              (1U << _PVIO_GTF_PAT)       /* [GST] */
#define _PVIO_GTF_sub_page        (8)
#define PVIO_GTF_sub_page         (1U << _PVIO_GTF_sub_page)  /* [GST] v2: copy only */

/* Subflags of GTF_accept_transfer (they reuse bits 2 and 3). */
#define _PVIO_GTF_transfer_committed  (2)
#define PVIO_GTF_transfer_committed   (1U << _PVIO_GTF_transfer_committed) /* [XEN] */
#define _PVIO_GTF_transfer_completed  (3)
#define PVIO_GTF_transfer_completed   (1U << _PVIO_GTF_transfer_completed) /* [XEN] */

/* ------------------------------------------------------------ v2 entries */

/* The prefix v1 and v2 entries share. */
struct pvio_grant_entry_header {
	uint16_t flags;     /* [GST] (v2: reading/writing are in the status array) */
	uint16_t domid;     /* [GST] */
};
_Static_assert(sizeof(struct pvio_grant_entry_header) == 4, "grant_entry_header");
_Static_assert(offsetof(struct pvio_grant_entry_header, flags) == 0, "hdr flags");
_Static_assert(offsetof(struct pvio_grant_entry_header, domid) == 2, "hdr domid");

union pvio_grant_entry_v2 {
	struct pvio_grant_entry_header hdr;

	/* GTF_accept_transfer, or GTF_permit_access without GTF_sub_page. */
	struct {
		struct pvio_grant_entry_header hdr;
		uint32_t pad0;
		uint64_t frame;         /* [GST] */
	} full_page;

	/* GTF_permit_access | GTF_sub_page: bytes [page_off, page_off+length). */
	struct {
		struct pvio_grant_entry_header hdr;
		uint16_t page_off;      /* [GST] */
		uint16_t length;        /* [GST] */
		uint64_t frame;         /* [GST] */
	} sub_page;

	/* GTF_transitive: use grant gref of trans_domid as if it were ours. */
	struct {
		struct pvio_grant_entry_header hdr;
		uint16_t trans_domid;   /* [GST] */
		uint16_t pad0;
		pvio_grant_ref_t gref;  /* [GST] */
	} transitive;

	uint32_t spacer[4];             /* Xen's __spacer: size is a power of 2 */
};
_Static_assert(sizeof(union pvio_grant_entry_v2) == 16, "grant_entry_v2");
_Static_assert(offsetof(union pvio_grant_entry_v2, hdr.flags) == 0, "v2 flags");
_Static_assert(offsetof(union pvio_grant_entry_v2, hdr.domid) == 2, "v2 domid");
_Static_assert(offsetof(union pvio_grant_entry_v2, full_page.pad0) == 4, "fp pad0");
_Static_assert(offsetof(union pvio_grant_entry_v2, full_page.frame) == 8, "fp frame");
_Static_assert(offsetof(union pvio_grant_entry_v2, sub_page.page_off) == 4, "sp off");
_Static_assert(offsetof(union pvio_grant_entry_v2, sub_page.length) == 6, "sp len");
_Static_assert(offsetof(union pvio_grant_entry_v2, sub_page.frame) == 8, "sp frame");
_Static_assert(offsetof(union pvio_grant_entry_v2, transitive.trans_domid) == 4, "tr dom");
_Static_assert(offsetof(union pvio_grant_entry_v2, transitive.pad0) == 6, "tr pad0");
_Static_assert(offsetof(union pvio_grant_entry_v2, transitive.gref) == 8, "tr gref");
_Static_assert(offsetof(union pvio_grant_entry_v2, spacer) == 0, "spacer");
_Static_assert(sizeof(pvio_grant_status_t) == 2, "grant_status_t");

#define PVIO_GRANT_ENTRIES_V2_PER_PAGE   (4096 / sizeof(union pvio_grant_entry_v2))
#define PVIO_GRANT_STATUS_PER_PAGE       (4096 / sizeof(pvio_grant_status_t))

/* ------------------------------------------------------- map / copy flags */

/* gnttab_map_grant_ref.flags */
#define _PVIO_GNTMAP_device_map       (0)
#define PVIO_GNTMAP_device_map        (1 << _PVIO_GNTMAP_device_map)
#define _PVIO_GNTMAP_host_map         (1)
#define PVIO_GNTMAP_host_map          (1 << _PVIO_GNTMAP_host_map)
#define _PVIO_GNTMAP_readonly         (2)
#define PVIO_GNTMAP_readonly          (1 << _PVIO_GNTMAP_readonly)
#define _PVIO_GNTMAP_application_map  (3)
#define PVIO_GNTMAP_application_map   (1 << _PVIO_GNTMAP_application_map)
#define _PVIO_GNTMAP_contains_pte     (4)
#define PVIO_GNTMAP_contains_pte      (1 << _PVIO_GNTMAP_contains_pte)
#define _PVIO_GNTMAP_guest_avail0     (16)
#define PVIO_GNTMAP_guest_avail_mask  ((uint32_t)~0 << _PVIO_GNTMAP_guest_avail0)

/* gnttab_copy.flags: which side is named by a grant reference. */
#define _PVIO_GNTCOPY_source_gref     (0)
#define PVIO_GNTCOPY_source_gref      (1 << _PVIO_GNTCOPY_source_gref)
#define _PVIO_GNTCOPY_dest_gref       (1)
#define PVIO_GNTCOPY_dest_gref        (1 << _PVIO_GNTCOPY_dest_gref)

/* ---------------------------------------------------------- status codes */

/* Per-operation status (int16_t in the op structs); errors are negative. */
#define PVIO_GNTST_okay               (0)
#define PVIO_GNTST_general_error      (-1)
#define PVIO_GNTST_bad_domain         (-2)
#define PVIO_GNTST_bad_gntref         (-3)
#define PVIO_GNTST_bad_handle         (-4)
#define PVIO_GNTST_bad_virt_addr      (-5)
#define PVIO_GNTST_bad_dev_addr       (-6)
#define PVIO_GNTST_no_device_space    (-7)
#define PVIO_GNTST_permission_denied  (-8)
#define PVIO_GNTST_bad_page           (-9)
#define PVIO_GNTST_bad_copy_arg       (-10)
#define PVIO_GNTST_address_too_big    (-11)
#define PVIO_GNTST_eagain             (-12)
#define PVIO_GNTST_no_space           (-13)

/* Messages indexed by -status, as Xen's GNTTABOP_error_msgs. */
#define PVIO_GNTTABOP_ERROR_MSGS {                  \
	"okay",                                     \
	"undefined error",                          \
	"unrecognised domain id",                   \
	"invalid grant reference",                  \
	"invalid mapping handle",                   \
	"invalid virtual address",                  \
	"invalid device address",                   \
	"no spare translation slot in the I/O MMU", \
	"permission denied",                        \
	"bad page",                                 \
	"copy arguments cross page boundary",       \
	"page address size too large",              \
	"operation not done; try again",            \
	"out of space",                             \
}

/* Message for a GNTST_* status; never NULL. */
static inline const char *pvio_gntst_strerror(int status)
{
	static const char *const msgs[] = PVIO_GNTTABOP_ERROR_MSGS;

	if (status > 0 || -(long)status >= (long)(sizeof(msgs) / sizeof(msgs[0])))
		return "unknown grant status";
	return msgs[-status];
}

#endif /* PVIO_GRANT_ABI_H */
