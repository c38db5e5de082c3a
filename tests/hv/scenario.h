/* SPDX-License-Identifier: MIT */
/* The grant + event-channel scenario run by both hv implementations' tests:
 * a frontend role and a backend role that talk over two pipes, so they can
 * be two threads (local) or two processes (socket). */
#ifndef PVIO_TEST_HV_SCENARIO_H
#define PVIO_TEST_HV_SCENARIO_H

#include "hv/hv.h"

struct scn_chan {
	int rd;
	int wr;
};

/* Each returns the number of failed checks (0 = pass). */
int scn_frontend(struct pvio_hv *hv, struct scn_chan c, unsigned pingpongs);
int scn_backend(struct pvio_hv *hv, uint16_t guest, struct scn_chan c, unsigned pingpongs);

#endif
