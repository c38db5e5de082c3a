/* SPDX-License-Identifier: MIT */
/*
 * xenstore wire protocol (Xen's io/xs_wire.h), as spoken by pviod's store
 * and by Xen's own xenstore tools and libxenstore.
 *
 * Every message is a 16-byte header of little-endian u32s followed by `len`
 * bytes of payload (len <= PVIO_XENSTORE_PAYLOAD_MAX):
 *
 *   0  type    enum pvio_xs_type
 *   4  req_id  echoed in the reply (the kernel's xenbus matches on it)
 *   8  tx_id   transaction id, 0 outside a transaction; echoed in the reply
 *   12 len
 *
 * Payloads are NUL-separated strings: e.g. WRITE "path\0value" (the value
 * has no NUL), WATCH "path\0token\0", WATCH_EVENT "path\0token\0",
 * TRANSACTION_START "\0" -> "<id>\0", TRANSACTION_END "T\0" (commit) or
 * "F\0" (abort). A READ reply carries the value without a trailing NUL.
 * Errors are type ERROR with an errno name and NUL: "ENOENT\0".
 */
#ifndef PVIO_XS_WIRE_H
#define PVIO_XS_WIRE_H

#include <stddef.h>
#include <stdint.h>

enum pvio_xs_type {
	PVIO_XS_CONTROL              = 0,   /* also XS_DEBUG */
	PVIO_XS_DIRECTORY            = 1,
	PVIO_XS_READ                 = 2,
	PVIO_XS_GET_PERMS            = 3,
	PVIO_XS_WATCH                = 4,
	PVIO_XS_UNWATCH              = 5,
	PVIO_XS_TRANSACTION_START    = 6,
	PVIO_XS_TRANSACTION_END      = 7,
	PVIO_XS_INTRODUCE            = 8,
	PVIO_XS_RELEASE              = 9,
	PVIO_XS_GET_DOMAIN_PATH      = 10,
	PVIO_XS_WRITE                = 11,
	PVIO_XS_MKDIR                = 12,
	PVIO_XS_RM                   = 13,
	PVIO_XS_SET_PERMS            = 14,
	PVIO_XS_WATCH_EVENT          = 15,
	PVIO_XS_ERROR                = 16,
	PVIO_XS_IS_DOMAIN_INTRODUCED = 17,
	PVIO_XS_RESUME               = 18,
	PVIO_XS_SET_TARGET           = 19,
	/* 20 was XS_RESTRICT, removed */
	PVIO_XS_RESET_WATCHES        = 21,
	PVIO_XS_DIRECTORY_PART       = 22,
	PVIO_XS_TYPE_COUNT           = 23,
	PVIO_XS_INVALID              = 0xffff,
};

struct pvio_xsd_sockmsg {
	uint32_t type;
	uint32_t req_id;
	uint32_t tx_id;
	uint32_t len;
	/* payload follows */
};
_Static_assert(sizeof(struct pvio_xsd_sockmsg) == 16, "xsd_sockmsg");
_Static_assert(offsetof(struct pvio_xsd_sockmsg, type) == 0, "type");
_Static_assert(offsetof(struct pvio_xsd_sockmsg, req_id) == 4, "req_id");
_Static_assert(offsetof(struct pvio_xsd_sockmsg, tx_id) == 8, "tx_id");
_Static_assert(offsetof(struct pvio_xsd_sockmsg, len) == 12, "len");

/* Watch event payload fields (XS_WATCH_EVENT "path\0token\0"). */
enum pvio_xs_watch_type {
	PVIO_XS_WATCH_PATH  = 0,
	PVIO_XS_WATCH_TOKEN = 1,
};

#define PVIO_XENSTORE_PAYLOAD_MAX   4096
#define PVIO_XENSTORE_ABS_PATH_MAX  3072
#define PVIO_XENSTORE_REL_PATH_MAX  2048

/* The shared-page transport of a real Xen guest (struct
 * xenstore_domain_interface); defined for the hv/xen implementation. */
#define PVIO_XENSTORE_RING_SIZE     1024
struct pvio_xenstore_domain_interface {
	char     req[PVIO_XENSTORE_RING_SIZE];   /* requests to the store */
	char     rsp[PVIO_XENSTORE_RING_SIZE];   /* replies and watch events */
	uint32_t req_cons, req_prod;
	uint32_t rsp_cons, rsp_prod;
	uint32_t server_features;
	uint32_t connection;
	uint32_t error;
};
_Static_assert(sizeof(struct pvio_xenstore_domain_interface) == 2076, "xs iface");
_Static_assert(offsetof(struct pvio_xenstore_domain_interface, req_cons) == 2048, "req_cons");
_Static_assert(offsetof(struct pvio_xenstore_domain_interface, rsp_prod) == 2060, "rsp_prod");
_Static_assert(offsetof(struct pvio_xenstore_domain_interface, server_features) == 2064, "sf");
_Static_assert(offsetof(struct pvio_xenstore_domain_interface, connection) == 2068, "conn");
_Static_assert(offsetof(struct pvio_xenstore_domain_interface, error) == 2072, "error");

#define PVIO_XENSTORE_SERVER_FEATURE_RECONNECTION  1
#define PVIO_XENSTORE_SERVER_FEATURE_ERROR         2
#define PVIO_XENSTORE_CONNECTED    0
#define PVIO_XENSTORE_RECONNECT    1

/* Errors as Xen's xsd_errors[]: the string on the wire is the name. */
#define PVIO_XS_ERRORS(X) \
	X(EINVAL) X(EACCES) X(EEXIST) X(EISDIR) X(ENOENT) X(ENOMEM) X(ENOSPC) \
	X(EIO) X(ENOTEMPTY) X(ENOSYS) X(EROFS) X(EBUSY) X(EAGAIN) X(EISCONN) \
	X(E2BIG) X(EPERM) X(EQUOTA)

#endif /* PVIO_XS_WIRE_H */
