/* SPDX-License-Identifier: MIT */
/* test_netback_hostile.c with the hostile frontend offering
 * feature-persistent: every case through netback's kept mappings. */
#define NB_HOSTILE_PERSISTENT 1
#include "tests/netback/test_netback_hostile.c"
