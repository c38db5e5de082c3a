/* SPDX-License-Identifier: MIT */
/*
 * backend/backend.h: pvio_backend_default_poll_us (and pvio_backend_poll_us,
 * its use for a daemon's --poll-us), the polling window the daemons use
 * when no --poll-us was given: the driver's default with two or more CPUs
 * online, 0 (always sleep) with one. The nested-Xen tests
 * check the daemons apply it in a one-vCPU dom0.
 */
#include "backend/backend.h"
#include "tests/common/testutil.h"

int main(void)
{
	long online = sysconf(_SC_NPROCESSORS_ONLN);

	CHECK_EQ(pvio_backend_default_poll_us(50, 1), 0);
	CHECK_EQ(pvio_backend_default_poll_us(50, 2), 50);
	CHECK_EQ(pvio_backend_default_poll_us(50, 64), 50);
	CHECK_EQ(pvio_backend_default_poll_us(0, 2), 0);
	CHECK_EQ(pvio_backend_default_poll_us(1000000, 2), 1000000);
	/* 0: this machine's online CPUs. */
	CHECK_EQ(pvio_backend_default_poll_us(50, 0), online == 1 ? 0 : 50);
	/* A daemon's --poll-us: given wins; else the rule on this machine. */
	CHECK_EQ(pvio_backend_poll_us("test", 50, true), 50);
	CHECK_EQ(pvio_backend_poll_us("test", 0, true), 0);
	CHECK_EQ(pvio_backend_poll_us("test", 0, false), 0);
	CHECK_EQ(pvio_backend_poll_us("test", 50, false), online == 1 ? 0 : 50);
	return tu_failures ? 1 : 0;
}
