# tests/rbd/: the rbd engine (blkback/engine_rbd.c, librbd) through the whole
# PV path, on a throwaway one-OSD Ceph cluster (ceph-cluster.sh, ~2 s to
# start); they skip when pvio-blkback was built without librbd or Ceph is
# not installed (scripts/install-deps installs both).
TEST_SCRIPTS += tests/rbd/test_rbd_ext4.sh tests/rbd/test_rbd_osd_restart.sh
TEST_SCRIPTS += tests/rbd/test_rbd_dead.sh tests/rbd/test_rbd_twohosts.sh
# The rbd: target's parser and the disk spec's handling of it (no cluster).
TEST_BINS += tests/rbd/test_rbd_parse
# The rbd engine's completion wake-ups (batched while the queue is deep)
# and data, driven as pvio-blkback's poller drives it (rbd_engine_check).
TEST_SCRIPTS += tests/rbd/test_rbd_engine.sh
ifneq ($(wildcard /usr/include/rbd/librbd.h),)
TEST_HELPERS += tests/rbd/rbd_engine_check
SRCS_rbd_engine_check += blkback/engine_rbd.c
LIBS_rbd_engine_check += -lrbd -lrados
endif
