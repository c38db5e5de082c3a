/* SPDX-License-Identifier: MIT */
/*
 * The pvio CLI's commands that live in their own files (private to the pvio
 * program). Each returns the program's exit status: 0, 1 (failed), 2 (bad
 * usage or input).
 */
#ifndef PVIO_TOOLS_CLI_H
#define PVIO_TOOLS_CLI_H

#include <stdbool.h>

#include "hv/hv.h"
#include "xenstore/xs.h"

/* Is `pvio create ARG ...` about a config file (xl create's form) rather
 * than a domain name? Yes for -f, a path with a '/', a name ending in
 * ".cfg", or an existing regular file. */
bool pvio_create_is_cfg(const char *arg);

/* pvio create [-f] FILE [KEY=VALUE...] (xlcreate.c): the domain, its disks
 * and vifs from an xl domain config file; the extra arguments are config
 * lines that override the file's. */
int pvio_cmd_create_cfg(struct pvio_hv *hv, struct pvio_xs *xs, int argc, char **argv);

/* pvio top [--batch] [--iterations N] [--delay S] [--json] (top.c). sock:
 * --socket's value or NULL. */
int pvio_cmd_top(const char *sock, int argc, char **argv);

#endif /* PVIO_TOOLS_CLI_H */
