/* Migration flags, libvirt's bits. migration-params.h documents the order
 * of all checks; the flags' steps are here. */
#pragma once

#include <glib.h>

typedef enum {
        MIGRATE_LIVE = 1 << 0,
        MIGRATE_PEER2PEER = 1 << 1,
        MIGRATE_TUNNELLED = 1 << 2,
        MIGRATE_PERSIST_DEST = 1 << 3,
        MIGRATE_UNDEFINE_SOURCE = 1 << 4,
        MIGRATE_PAUSED = 1 << 5,
        MIGRATE_NON_SHARED_DISK = 1 << 6,
        MIGRATE_NON_SHARED_INC = 1 << 7,
        MIGRATE_CHANGE_PROTECTION = 1 << 8,
        MIGRATE_UNSAFE = 1 << 9,
        MIGRATE_OFFLINE = 1 << 10,
        MIGRATE_COMPRESSED = 1 << 11,
        MIGRATE_ABORT_ON_ERROR = 1 << 12,
        MIGRATE_AUTO_CONVERGE = 1 << 13,
        MIGRATE_RDMA_PIN_ALL = 1 << 14,
        MIGRATE_POSTCOPY = 1 << 15,
        MIGRATE_TLS = 1 << 16,
        MIGRATE_PARALLEL = 1 << 17,
        MIGRATE_NON_SHARED_SYNCHRONOUS_WRITES = 1 << 18,
        MIGRATE_POSTCOPY_RESUME = 1 << 19,
        MIGRATE_ZEROCOPY = 1 << 20,
        _MIGRATE_FLAGS_ALL = (1 << 21) - 1,
} MigrateFlags;

/* The flag's libvirt name without prefix, e.g. "PERSIST_DEST"; NULL for an
 * unknown bit or more than one bit. */
const char *migration_flag_name(guint flag);

/* Validates @flags alone: steps 1, 5 (flag with flag) and 6 (flags) of
 * migration-params.h. */
gboolean migration_flags_check(guint flags, GError **error);

/* The steps one at a time, for migration_params_new(), which checks the
 * parameters in between: 1 (unknown bits), 5 (flag with flag), 6 (flags not
 * implemented; those refused for a reason before those not there yet, so
 * that TUNNELLED|PEER2PEER hears about TUNNELLED). */
gboolean migration_flags_check_known(guint flags, GError **error);
gboolean migration_flags_check_combinations(guint flags, GError **error);
gboolean migration_flags_check_implemented(guint flags, GError **error);

/* "NON_SHARED_DISK or NON_SHARED_INC": the names of the bits in @flags, for
 * messages. */
char *migration_flag_names(guint flags);
