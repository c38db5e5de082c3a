/* SPDX-License-Identifier: MIT */
#ifndef PVIO_EXPORT_H
#define PVIO_EXPORT_H
/* libpvio is built with -fvisibility=hidden; the public API is marked. */
#define PVIO_EXPORT __attribute__((visibility("default")))
#endif
