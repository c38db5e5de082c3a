/* SPDX-License-Identifier: MIT */
/*
 * hv/xen off Xen: without /dev/xen the xen implementation must fail at once
 * and cleanly (no fd or memory left behind), through both ways of choosing
 * it (pvio_hv_xen_open and PVIO_HV=xen), and pvio-blkback --hv xen must exit
 * with a message naming the problem. On a Xen host (dom0) there is nothing
 * to check here: skip.
 */
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hv/hv.h"
#include "tests/common/testutil.h"

int main(void)
{
	struct pvio_hv *hv = NULL;
	char cmd[512], out[512] = "";
	int fds0, r;
	FILE *p;

	if (access("/dev/xen/evtchn", F_OK) == 0 || access("/dev/xen/gntdev", F_OK) == 0) {
		tu_skip("running on Xen (/dev/xen present): the absent case cannot be checked");
		return 77;
	}
	fds0 = tu_count_fds(getpid());
	r = pvio_hv_xen_open(&hv);
	CHECK(r == -ENOENT || r == -EOPNOTSUPP);
	CHECK(hv == NULL);
	setenv("PVIO_HV", "xen", 1);
	r = pvio_hv_open_env(&hv);
	CHECK(r == -ENOENT || r == -EOPNOTSUPP);
	unsetenv("PVIO_HV");
	CHECK_EQ(tu_count_fds(getpid()), fds0);

	snprintf(cmd, sizeof(cmd), "%s/blkback/pvio-blkback --hv xen 2>&1", tu_build_dir());
	p = popen(cmd, "r");
	REQUIRE(p);
	r = (int)fread(out, 1, sizeof(out) - 1, p);
	out[r > 0 ? r : 0] = 0;
	r = pclose(p);
	CHECK(WIFEXITED(r) && WEXITSTATUS(r) == 1);
	CHECK(strstr(out, "--hv xen: cannot open Xen") != NULL);
	fprintf(stderr, "pvio-blkback said: %s", out);
	return tu_result();
}
