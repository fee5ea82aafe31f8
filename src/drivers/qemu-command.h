/* Domain definition -> QEMU argv. Pure: no I/O, so it is unit-tested. */
#pragma once

#include <glib.h>

#include "domain-def.h"

typedef struct {
        const char *binary;     /* def->emulator wins when set */
        gboolean kvm;           /* -accel kvm, else tcg */
        int monitor_fd;         /* listening QMP socket, inherited by QEMU */
        const char *incoming;   /* NULL, or "defer" for a migration target */
} QemuCommandOptions;

/* The argv (NULL-terminated), or NULL with MD_ERROR_UNSUPPORTED naming what
 * of @def the driver cannot turn into a QEMU command line. */
GStrv qemu_command_build(const DomainDef *def, const QemuCommandOptions *options, GError **error);

/* Escapes a value for QEMU's comma-separated option syntax (',' -> ',,'). */
char *qemu_option_escape(const char *value);
