# grant-tables/: grant table v1 (frontend grant/revoke, backend validated
# map/unmap/copy) and the backends' persistent-grant cache. Pure library
# code over memory the caller provides; hv/ supplies the memfds.
LIB_SRCS += grant-tables/gnttab_fe.c grant-tables/gnttab_be.c grant-tables/pgrant.c
