/* QEMU's comma-separated option syntax. */
#pragma once

#include <glib.h>

/* Escapes a value for QEMU's comma-separated option syntax (',' -> ',,'). */
char *qemu_option_escape(const char *value);
