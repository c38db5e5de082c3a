/* SPDX-License-Identifier: MIT */
/* Process limits the daemons (pviod, the backends) raise at start. */
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "hv/hv.h"
#include "ring/pvio_export.h"

PVIO_EXPORT long long pvio_hv_raise_nofile(const char *prog, unsigned long long want,
					   unsigned fds_per_guest)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return -1;
	if (rl.rlim_cur < rl.rlim_max) {
		struct rlimit n = { .rlim_cur = rl.rlim_max, .rlim_max = rl.rlim_max };

		if (setrlimit(RLIMIT_NOFILE, &n) == 0)
			rl.rlim_cur = rl.rlim_max;
	}
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want && prog)
		fprintf(stderr, "%s: open files limited to %llu (RLIMIT_NOFILE, hard limit "
			"%llu): about %llu guests; raise it (ulimit -n, LimitNOFILE=) for more\n",
			prog, (unsigned long long)rl.rlim_cur,
			(unsigned long long)rl.rlim_max,
			fds_per_guest ? (unsigned long long)rl.rlim_cur / fds_per_guest : 0);
	return rl.rlim_cur == RLIM_INFINITY ? (long long)(~0ull >> 1) : (long long)rl.rlim_cur;
}
