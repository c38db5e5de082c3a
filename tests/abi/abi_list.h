/* SPDX-License-Identifier: MIT */
/*
 * What the ABI conformance test compares: X-macro lists expanded by both
 * xen_side.c (Xen's headers, compiled alone) and pvio_side.c (pvio's
 * headers, compiled alone), and by xen_side32.c (Xen's headers compiled
 * with -m32, for the x86_32-abi reference). This file includes neither set
 * of headers: each expansion uses only the column that belongs to its side.
 *
 * Naming rule checked here: a pvio name is Xen's name with pvio_/PVIO_ in
 * front (struct blkif_request -> struct pvio_blkif_request, NETTXF_more_data
 * -> PVIO_NETTXF_more_data, _GTF_reading -> _PVIO_GTF_reading), field names
 * unchanged; the few exceptions are spelled out with the *X macros.
 *
 * Each TU defines ABI_ROW(key, value) (a statement) and then uses
 * ABI_EMIT_* below, so that the keys are built by the same macros on every
 * side.
 */
#ifndef PVIO_TESTS_ABI_LIST_H
#define PVIO_TESTS_ABI_LIST_H

/* 1 if the (unevaluated) expression has a signed integer type. */
#define ABI_IS_SIGNED(x) \
	_Generic((x), signed char: 1, short: 1, int: 1, long: 1, long long: 1, default: 0)

/* A struct's size; a field's offset, size and signedness. */
#define ABI_EMIT_STRUCT(keystr, type) \
	ABI_ROW("sizeof " keystr, sizeof(type));
#define ABI_EMIT_FIELD(keystr, type, xfield, field)                                 \
	ABI_ROW("offsetof " keystr "." #xfield, offsetof(type, field));              \
	ABI_ROW("sizeof " keystr "." #xfield, sizeof(((type *)0)->field));           \
	ABI_ROW("signed " keystr "." #xfield, ABI_IS_SIGNED(((type *)0)->field));
/* A scalar typedef's size and signedness. */
#define ABI_EMIT_TYPE(keystr, type)                                                 \
	ABI_ROW("sizeof " keystr, sizeof(type));                                     \
	ABI_ROW("signed " keystr, ABI_IS_SIGNED((type)0));
/* A constant's value and whether its type is unsigned. */
#define ABI_EMIT_CONST(keystr, expr)                                                \
	ABI_ROW("value " keystr, (expr));                                            \
	ABI_ROW("unsigned " keystr, (0 * (expr) - 1 > 0));
/* A value derived from other definitions (its type is not compared). */
#define ABI_EMIT_VALUE(keystr, expr) \
	ABI_ROW("value " keystr, (expr));
/*
 * One ring type: slot size, shared-header offsets (hdr_off(sring_type, xen
 * field, pvio field)) and entries for 2^order pages (nr_ents(name, bytes)).
 */
#define ABI_EMIT_RING(keystr, slot_size, sring_type, hdr_off, name, nr_ents)              \
	ABI_ROW("sizeof slot " keystr, slot_size);                                         \
	ABI_ROW("offsetof " keystr "_sring.req_prod", hdr_off(sring_type, req_prod, req_prod)); \
	ABI_ROW("offsetof " keystr "_sring.req_event",                                      \
		hdr_off(sring_type, req_event, req_event));                                 \
	ABI_ROW("offsetof " keystr "_sring.rsp_prod", hdr_off(sring_type, rsp_prod, rsp_prod)); \
	ABI_ROW("offsetof " keystr "_sring.rsp_event",                                      \
		hdr_off(sring_type, rsp_event, rsp_event));                                 \
	ABI_ROW("offsetof " keystr "_sring.pvt", hdr_off(sring_type, pvt, pvt));            \
	ABI_ROW("offsetof " keystr "_sring.__pad", hdr_off(sring_type, __pad, pad));        \
	ABI_ROW("offsetof " keystr "_sring.ring", hdr_off(sring_type, ring, ring));         \
	ABI_ROW("RING_SIZE(" keystr ", 4096 << 0)", nr_ents(name, 4096u << 0));             \
	ABI_ROW("RING_SIZE(" keystr ", 4096 << 1)", nr_ents(name, 4096u << 1));             \
	ABI_ROW("RING_SIZE(" keystr ", 4096 << 2)", nr_ents(name, 4096u << 2));             \
	ABI_ROW("RING_SIZE(" keystr ", 4096 << 3)", nr_ents(name, 4096u << 3));             \
	ABI_ROW("RING_SIZE(" keystr ", 4096 << 4)", nr_ents(name, 4096u << 4));

/*
 * Layouts that are the same in every ABI.
 *   S(kind, tag)                 struct/union size
 *   F(kind, tag, field)          field (same name on both sides)
 *   FX(kind, tag, xfield, pfield)  field named differently in pvio
 *   T(xtype, ptype)              scalar typedef
 */
#define ABI_COMMON_LAYOUT(S, F, FX, T)                                              \
	T(grant_ref_t, pvio_grant_ref_t)                                            \
	T(domid_t, pvio_domid_t)                                                    \
	T(grant_status_t, pvio_grant_status_t)                                      \
	T(grant_handle_t, pvio_grant_handle_t)                                      \
	T(blkif_vdev_t, pvio_blkif_vdev_t)                                          \
	T(blkif_sector_t, pvio_blkif_sector_t)                                      \
	T(RING_IDX, uint32_t)                                                       \
	T(XENSTORE_RING_IDX, uint32_t)                                              \
	S(struct, blkif_request_segment)                                            \
	F(struct, blkif_request_segment, gref)                                      \
	F(struct, blkif_request_segment, first_sect)                                \
	F(struct, blkif_request_segment, last_sect)                                 \
	S(struct, netif_tx_request)                                                 \
	F(struct, netif_tx_request, gref)                                           \
	F(struct, netif_tx_request, offset)                                         \
	F(struct, netif_tx_request, flags)                                          \
	F(struct, netif_tx_request, id)                                             \
	F(struct, netif_tx_request, size)                                           \
	S(struct, netif_tx_response)                                                \
	F(struct, netif_tx_response, id)                                            \
	F(struct, netif_tx_response, status)                                        \
	S(struct, netif_rx_request)                                                 \
	F(struct, netif_rx_request, id)                                             \
	F(struct, netif_rx_request, pad)                                            \
	F(struct, netif_rx_request, gref)                                           \
	S(struct, netif_rx_response)                                                \
	F(struct, netif_rx_response, id)                                            \
	F(struct, netif_rx_response, offset)                                        \
	F(struct, netif_rx_response, flags)                                         \
	F(struct, netif_rx_response, status)                                        \
	S(struct, netif_extra_info)                                                 \
	F(struct, netif_extra_info, type)                                           \
	F(struct, netif_extra_info, flags)                                          \
	F(struct, netif_extra_info, u)                                              \
	F(struct, netif_extra_info, u.gso)                                          \
	F(struct, netif_extra_info, u.gso.size)                                     \
	F(struct, netif_extra_info, u.gso.type)                                     \
	F(struct, netif_extra_info, u.gso.pad)                                      \
	F(struct, netif_extra_info, u.gso.features)                                 \
	F(struct, netif_extra_info, u.mcast)                                        \
	F(struct, netif_extra_info, u.mcast.addr)                                   \
	F(struct, netif_extra_info, u.hash)                                         \
	F(struct, netif_extra_info, u.hash.type)                                    \
	F(struct, netif_extra_info, u.hash.algorithm)                               \
	F(struct, netif_extra_info, u.hash.value)                                   \
	F(struct, netif_extra_info, u.pad)                                          \
	S(struct, xen_netif_ctrl_request)                                           \
	F(struct, xen_netif_ctrl_request, id)                                       \
	F(struct, xen_netif_ctrl_request, type)                                     \
	F(struct, xen_netif_ctrl_request, data)                                     \
	S(struct, xen_netif_ctrl_response)                                          \
	F(struct, xen_netif_ctrl_response, id)                                      \
	F(struct, xen_netif_ctrl_response, type)                                    \
	F(struct, xen_netif_ctrl_response, status)                                  \
	F(struct, xen_netif_ctrl_response, data)                                    \
	S(struct, xen_netif_gref)                                                   \
	F(struct, xen_netif_gref, ref)                                              \
	F(struct, xen_netif_gref, flags)                                            \
	F(struct, xen_netif_gref, status)                                           \
	S(struct, grant_entry_v1)                                                   \
	F(struct, grant_entry_v1, flags)                                            \
	F(struct, grant_entry_v1, domid)                                            \
	F(struct, grant_entry_v1, frame)                                            \
	S(struct, grant_entry_header)                                               \
	F(struct, grant_entry_header, flags)                                        \
	F(struct, grant_entry_header, domid)                                        \
	S(union, grant_entry_v2)                                                    \
	F(union, grant_entry_v2, hdr)                                               \
	F(union, grant_entry_v2, hdr.flags)                                         \
	F(union, grant_entry_v2, hdr.domid)                                         \
	F(union, grant_entry_v2, full_page)                                         \
	F(union, grant_entry_v2, full_page.hdr)                                     \
	F(union, grant_entry_v2, full_page.pad0)                                    \
	F(union, grant_entry_v2, full_page.frame)                                   \
	F(union, grant_entry_v2, sub_page)                                          \
	F(union, grant_entry_v2, sub_page.hdr)                                      \
	F(union, grant_entry_v2, sub_page.page_off)                                 \
	F(union, grant_entry_v2, sub_page.length)                                   \
	F(union, grant_entry_v2, sub_page.frame)                                    \
	F(union, grant_entry_v2, transitive)                                        \
	F(union, grant_entry_v2, transitive.hdr)                                    \
	F(union, grant_entry_v2, transitive.trans_domid)                            \
	F(union, grant_entry_v2, transitive.pad0)                                   \
	F(union, grant_entry_v2, transitive.gref)                                   \
	FX(union, grant_entry_v2, __spacer, spacer)                                 \
	S(struct, xsd_sockmsg)                                                      \
	F(struct, xsd_sockmsg, type)                                                \
	F(struct, xsd_sockmsg, req_id)                                              \
	F(struct, xsd_sockmsg, tx_id)                                               \
	F(struct, xsd_sockmsg, len)                                                 \
	S(struct, xenstore_domain_interface)                                        \
	F(struct, xenstore_domain_interface, req)                                   \
	F(struct, xenstore_domain_interface, rsp)                                   \
	F(struct, xenstore_domain_interface, req_cons)                              \
	F(struct, xenstore_domain_interface, req_prod)                              \
	F(struct, xenstore_domain_interface, rsp_cons)                              \
	F(struct, xenstore_domain_interface, rsp_prod)                              \
	F(struct, xenstore_domain_interface, server_features)                       \
	F(struct, xenstore_domain_interface, connection)                            \
	F(struct, xenstore_domain_interface, error)

/*
 * blkif request/response layouts, which differ between ABIs. BS(sfx) and
 * BF(sfx, field) name struct blkif_<sfx>; pvio's is pvio_blkif_<sfx>
 * (x86_64-abi) or pvio_blkif_x86_32_<sfx>.
 */
#define ABI_BLKIF_LAYOUT(BS, BF)                                                    \
	BS(request)                                                                 \
	BF(request, operation)                                                      \
	BF(request, nr_segments)                                                    \
	BF(request, handle)                                                         \
	BF(request, id)                                                             \
	BF(request, sector_number)                                                  \
	BF(request, seg)                                                            \
	BF(request, seg[1].gref)                                                    \
	BF(request, seg[10].last_sect)                                              \
	BS(request_discard)                                                         \
	BF(request_discard, operation)                                              \
	BF(request_discard, flag)                                                   \
	BF(request_discard, handle)                                                 \
	BF(request_discard, id)                                                     \
	BF(request_discard, sector_number)                                          \
	BF(request_discard, nr_sectors)                                             \
	BS(request_indirect)                                                        \
	BF(request_indirect, operation)                                             \
	BF(request_indirect, indirect_op)                                           \
	BF(request_indirect, nr_segments)                                           \
	BF(request_indirect, id)                                                    \
	BF(request_indirect, sector_number)                                         \
	BF(request_indirect, handle)                                                \
	BF(request_indirect, indirect_grefs)                                        \
	BS(response)                                                                \
	BF(response, id)                                                            \
	BF(response, operation)                                                     \
	BF(response, status)

/* Only Xen's i386 definition has it. */
#define ABI_BLKIF_X86_32_ONLY(BS, BF)                                               \
	BF(request_indirect, pad)

/* Rings other than blkif: R(xen name, pvio name). */
#define ABI_NET_RINGS(R)                                                            \
	R(netif_tx, pvio_netif_tx)                                                  \
	R(netif_rx, pvio_netif_rx)                                                  \
	R(xen_netif_ctrl, pvio_xen_netif_ctrl)

/*
 * Constants: C(NAME) compares Xen's NAME with PVIO_NAME, CX(name, pvio
 * expression) a constant pvio spells differently (value and signedness of
 * both); CE(key, xen expression, pvio expression) compares derived values
 * only.
 */
#define ABI_CONSTANTS(C, CX, CE)                                                    \
	/* blkif */                                                                 \
	C(BLKIF_OP_READ) C(BLKIF_OP_WRITE) C(BLKIF_OP_WRITE_BARRIER)                \
	C(BLKIF_OP_FLUSH_DISKCACHE) C(BLKIF_OP_RESERVED_1) C(BLKIF_OP_DISCARD)      \
	C(BLKIF_OP_INDIRECT)                                                        \
	C(BLKIF_MAX_SEGMENTS_PER_REQUEST) C(BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST)   \
	CE(BLKIF_SEGS_PER_INDIRECT_FRAME, 4096 / sizeof(struct blkif_request_segment), \
	   PVIO_BLKIF_SEGS_PER_INDIRECT_FRAME)                                       \
	C(BLKIF_RSP_EOPNOTSUPP) C(BLKIF_RSP_ERROR) C(BLKIF_RSP_OKAY)                \
	C(BLKIF_DISCARD_SECURE)                                                     \
	C(VDISK_CDROM) C(VDISK_REMOVABLE) C(VDISK_READONLY)                         \
	/* netif */                                                                 \
	C(XEN_NETIF_NR_SLOTS_MIN) C(XEN_NETIF_MAX_TX_SIZE)                          \
	CX(_NETTXF_csum_blank, _PVIO_NETTXF_csum_blank) C(NETTXF_csum_blank)        \
	CX(_NETTXF_data_validated, _PVIO_NETTXF_data_validated)                     \
	C(NETTXF_data_validated)                                                    \
	CX(_NETTXF_more_data, _PVIO_NETTXF_more_data) C(NETTXF_more_data)           \
	CX(_NETTXF_extra_info, _PVIO_NETTXF_extra_info) C(NETTXF_extra_info)        \
	CX(_NETRXF_data_validated, _PVIO_NETRXF_data_validated)                     \
	C(NETRXF_data_validated)                                                    \
	CX(_NETRXF_csum_blank, _PVIO_NETRXF_csum_blank) C(NETRXF_csum_blank)        \
	CX(_NETRXF_more_data, _PVIO_NETRXF_more_data) C(NETRXF_more_data)           \
	CX(_NETRXF_extra_info, _PVIO_NETRXF_extra_info) C(NETRXF_extra_info)        \
	CX(_NETRXF_gso_prefix, _PVIO_NETRXF_gso_prefix) C(NETRXF_gso_prefix)        \
	C(NETIF_RSP_DROPPED) C(NETIF_RSP_ERROR) C(NETIF_RSP_OKAY) C(NETIF_RSP_NULL) \
	C(XEN_NETIF_EXTRA_TYPE_NONE) C(XEN_NETIF_EXTRA_TYPE_GSO)                    \
	C(XEN_NETIF_EXTRA_TYPE_MCAST_ADD) C(XEN_NETIF_EXTRA_TYPE_MCAST_DEL)         \
	C(XEN_NETIF_EXTRA_TYPE_HASH) C(XEN_NETIF_EXTRA_TYPE_MAX)                    \
	CX(_XEN_NETIF_EXTRA_FLAG_MORE, _PVIO_XEN_NETIF_EXTRA_FLAG_MORE)             \
	C(XEN_NETIF_EXTRA_FLAG_MORE)                                                \
	C(XEN_NETIF_GSO_TYPE_NONE) C(XEN_NETIF_GSO_TYPE_TCPV4)                      \
	C(XEN_NETIF_GSO_TYPE_TCPV6)                                                 \
	C(XEN_NETIF_CTRL_TYPE_INVALID) C(XEN_NETIF_CTRL_TYPE_GET_HASH_FLAGS)        \
	C(XEN_NETIF_CTRL_TYPE_SET_HASH_FLAGS) C(XEN_NETIF_CTRL_TYPE_SET_HASH_KEY)   \
	C(XEN_NETIF_CTRL_TYPE_GET_HASH_MAPPING_SIZE)                                \
	C(XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING_SIZE)                                \
	C(XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING)                                     \
	C(XEN_NETIF_CTRL_TYPE_SET_HASH_ALGORITHM)                                   \
	C(XEN_NETIF_CTRL_TYPE_GET_GREF_MAPPING_SIZE)                                \
	C(XEN_NETIF_CTRL_TYPE_ADD_GREF_MAPPING)                                     \
	C(XEN_NETIF_CTRL_TYPE_DEL_GREF_MAPPING)                                     \
	C(XEN_NETIF_CTRL_STATUS_SUCCESS) C(XEN_NETIF_CTRL_STATUS_NOT_SUPPORTED)     \
	C(XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER)                                  \
	C(XEN_NETIF_CTRL_STATUS_BUFFER_OVERFLOW)                                    \
	CX(_XEN_NETIF_CTRL_HASH_TYPE_IPV4, _PVIO_XEN_NETIF_CTRL_HASH_TYPE_IPV4)     \
	C(XEN_NETIF_CTRL_HASH_TYPE_IPV4)                                            \
	CX(_XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP, _PVIO_XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP) \
	C(XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP)                                        \
	CX(_XEN_NETIF_CTRL_HASH_TYPE_IPV6, _PVIO_XEN_NETIF_CTRL_HASH_TYPE_IPV6)     \
	C(XEN_NETIF_CTRL_HASH_TYPE_IPV6)                                            \
	CX(_XEN_NETIF_CTRL_HASH_TYPE_IPV6_TCP, _PVIO_XEN_NETIF_CTRL_HASH_TYPE_IPV6_TCP) \
	C(XEN_NETIF_CTRL_HASH_TYPE_IPV6_TCP)                                        \
	C(XEN_NETIF_CTRL_HASH_ALGORITHM_NONE)                                       \
	C(XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ)                                   \
	CX(_XEN_NETIF_CTRLF_GREF_readonly, _PVIO_XEN_NETIF_CTRLF_GREF_readonly)     \
	C(XEN_NETIF_CTRLF_GREF_readonly)                                            \
	/* grant tables */                                                          \
	C(GTF_invalid) C(GTF_permit_access) C(GTF_accept_transfer)                  \
	C(GTF_transitive) C(GTF_type_mask)                                          \
	CX(_GTF_readonly, _PVIO_GTF_readonly) C(GTF_readonly)                       \
	CX(_GTF_reading, _PVIO_GTF_reading) C(GTF_reading)                          \
	CX(_GTF_writing, _PVIO_GTF_writing) C(GTF_writing)                          \
	CX(_GTF_PWT, _PVIO_GTF_PWT) C(GTF_PWT)                                      \
	CX(_GTF_PCD, _PVIO_GTF_PCD) C(GTF_PCD)                                      \
	CX(_GTF_PAT, _PVIO_GTF_PAT) C(GTF_PAT)                                      \
	CX(_GTF_sub_page, _PVIO_GTF_sub_page) C(GTF_sub_page)                       \
	CX(_GTF_transfer_committed, _PVIO_GTF_transfer_committed)                   \
	C(GTF_transfer_committed)                                                   \
	CX(_GTF_transfer_completed, _PVIO_GTF_transfer_completed)                   \
	C(GTF_transfer_completed)                                                   \
	C(GNTTAB_NR_RESERVED_ENTRIES) C(GNTTAB_RESERVED_CONSOLE)                    \
	C(GNTTAB_RESERVED_XENSTORE)                                                 \
	CE(GRANT_ENTRIES_V1_PER_PAGE, 4096 / sizeof(grant_entry_v1_t),              \
	   PVIO_GRANT_ENTRIES_V1_PER_PAGE)                                          \
	CE(GRANT_ENTRIES_V2_PER_PAGE, 4096 / sizeof(grant_entry_v2_t),              \
	   PVIO_GRANT_ENTRIES_V2_PER_PAGE)                                          \
	CE(GRANT_STATUS_PER_PAGE, 4096 / sizeof(grant_status_t),                    \
	   PVIO_GRANT_STATUS_PER_PAGE)                                              \
	CX(_GNTMAP_device_map, _PVIO_GNTMAP_device_map) C(GNTMAP_device_map)        \
	CX(_GNTMAP_host_map, _PVIO_GNTMAP_host_map) C(GNTMAP_host_map)              \
	CX(_GNTMAP_readonly, _PVIO_GNTMAP_readonly) C(GNTMAP_readonly)              \
	CX(_GNTMAP_application_map, _PVIO_GNTMAP_application_map)                  \
	C(GNTMAP_application_map)                                                   \
	CX(_GNTMAP_contains_pte, _PVIO_GNTMAP_contains_pte) C(GNTMAP_contains_pte)  \
	CX(_GNTMAP_guest_avail0, _PVIO_GNTMAP_guest_avail0)                         \
	C(GNTMAP_guest_avail_mask)                                                  \
	CX(_GNTCOPY_source_gref, _PVIO_GNTCOPY_source_gref) C(GNTCOPY_source_gref)  \
	CX(_GNTCOPY_dest_gref, _PVIO_GNTCOPY_dest_gref) C(GNTCOPY_dest_gref)        \
	C(GNTST_okay) C(GNTST_general_error) C(GNTST_bad_domain)                    \
	C(GNTST_bad_gntref) C(GNTST_bad_handle) C(GNTST_bad_virt_addr)              \
	C(GNTST_bad_dev_addr) C(GNTST_no_device_space) C(GNTST_permission_denied)   \
	C(GNTST_bad_page) C(GNTST_bad_copy_arg) C(GNTST_address_too_big)            \
	C(GNTST_eagain) C(GNTST_no_space)                                           \
	C(DOMID_FIRST_RESERVED) C(DOMID_SELF) C(DOMID_IO) C(DOMID_XEN)              \
	C(DOMID_COW) C(DOMID_INVALID) C(DOMID_IDLE) C(DOMID_MASK)                   \
	/* xenbus */                                                                \
	CX(XenbusStateUnknown, PVIO_XENBUS_STATE_UNKNOWN)                           \
	CX(XenbusStateInitialising, PVIO_XENBUS_STATE_INITIALISING)                 \
	CX(XenbusStateInitWait, PVIO_XENBUS_STATE_INITWAIT)                         \
	CX(XenbusStateInitialised, PVIO_XENBUS_STATE_INITIALISED)                   \
	CX(XenbusStateConnected, PVIO_XENBUS_STATE_CONNECTED)                       \
	CX(XenbusStateClosing, PVIO_XENBUS_STATE_CLOSING)                           \
	CX(XenbusStateClosed, PVIO_XENBUS_STATE_CLOSED)                             \
	CX(XenbusStateReconfiguring, PVIO_XENBUS_STATE_RECONFIGURING)               \
	CX(XenbusStateReconfigured, PVIO_XENBUS_STATE_RECONFIGURED)                 \
	CE(sizeof_enum_xenbus_state, sizeof(enum xenbus_state),                     \
	   sizeof(enum pvio_xenbus_state))                                          \
	/* xenstore wire */                                                         \
	C(XS_CONTROL) CX(XS_DEBUG, PVIO_XS_CONTROL) C(XS_DIRECTORY) C(XS_READ)      \
	C(XS_GET_PERMS) C(XS_WATCH) C(XS_UNWATCH) C(XS_TRANSACTION_START)           \
	C(XS_TRANSACTION_END) C(XS_INTRODUCE) C(XS_RELEASE) C(XS_GET_DOMAIN_PATH)   \
	C(XS_WRITE) C(XS_MKDIR) C(XS_RM) C(XS_SET_PERMS) C(XS_WATCH_EVENT)          \
	C(XS_ERROR) C(XS_IS_DOMAIN_INTRODUCED) C(XS_RESUME) C(XS_SET_TARGET)        \
	C(XS_RESET_WATCHES) C(XS_DIRECTORY_PART) C(XS_TYPE_COUNT) C(XS_INVALID)     \
	C(XS_WATCH_PATH) C(XS_WATCH_TOKEN)                                          \
	C(XENSTORE_PAYLOAD_MAX) C(XENSTORE_ABS_PATH_MAX) C(XENSTORE_REL_PATH_MAX)   \
	C(XENSTORE_RING_SIZE)                                                       \
	C(XENSTORE_SERVER_FEATURE_RECONNECTION) C(XENSTORE_SERVER_FEATURE_ERROR)    \
	C(XENSTORE_CONNECTED) C(XENSTORE_RECONNECT)

/* String constants: STR(NAME) compares Xen's NAME with PVIO_NAME. */
#define ABI_STRINGS(STR)                                                            \
	STR(XEN_IO_PROTO_ABI_X86_32)                                                \
	STR(XEN_IO_PROTO_ABI_X86_64)                                                \
	STR(XEN_IO_PROTO_ABI_ARM)                                                   \
	STR(XEN_IO_PROTO_ABI_NATIVE)

#endif /* PVIO_TESTS_ABI_LIST_H */
