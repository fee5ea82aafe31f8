/* Migration flags and typed parameters (libvirt's bits and keys), validated
 * up front, before anything starts:
 *   unknown flag bits, wrong variant types, invalid combinations
 *       -> MD_ERROR_INVALID_ARGS naming the flag/key (and expected type);
 *   unknown keys, flags and keys not implemented yet
 *       -> MD_ERROR_UNSUPPORTED naming them.
 * The plain-argument forms of the phase methods build the same struct, so
 * both forms run the same code. */
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

typedef struct {
        guint flags;
        char *migrate_uri;
        char *destination_name;
        char *destination_xml;
        char *persistent_xml;
        char *listen_address;
        char *tls_destination;
        gboolean has_bandwidth;
        guint64 bandwidth;             /* MiB/s; 0 = unlimited */
        gboolean has_bandwidth_postcopy;
        guint64 bandwidth_postcopy;
        gboolean has_parallel_connections;
        gint32 parallel_connections;
        char **compression;            /* NULL-terminated, or NULL */
        gboolean has_auto_converge_initial;
        gint32 auto_converge_initial;
        gboolean has_auto_converge_increment;
        gint32 auto_converge_increment;
        char **migrate_disks;
} MigrationParams;

/* The flag's libvirt name without prefix, e.g. "PERSIST_DEST"; NULL for an unknown bit. */
const char *migration_flag_name(guint flag);

/* Validates @flags alone (bits, combinations, implemented). */
gboolean migration_flags_check(guint flags, GError **error);

/* @dict: a{sv} or NULL. Validates everything, returns a new struct. */
MigrationParams *migration_params_new(GVariant *dict, guint flags, GError **error);

/* For the plain-argument forms: empty strings and a zero bandwidth mean "not given". */
MigrationParams *migration_params_new_plain(const char *destination_xml, const char *destination_name,
                                            const char *migrate_uri, guint64 bandwidth, guint flags,
                                            GError **error);

void migration_params_free(MigrationParams *params);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MigrationParams, migration_params_free)
