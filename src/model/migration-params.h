/* Migration flags and typed parameters (libvirt's bits and keys), validated
 * up front, before anything starts. migration_params_new() checks in this
 * order, so that the first error a user sees is the most basic one:
 *
 *   1. unknown flag bits                    -> MD_ERROR_INVALID_ARGS
 *   2. unknown parameter keys               -> MD_ERROR_UNSUPPORTED (names the key)
 *   3. repeated keys, wrong variant types   -> MD_ERROR_INVALID_ARGS (names key and expected type)
 *   4. bad values (empty strings, a bad name or URI, out of range, unknown
 *      compression method, ...)           -> MD_ERROR_INVALID_ARGS
 *   5. invalid combinations: flag with flag (OFFLINE without PERSIST_DEST,
 *      TUNNELLED with POSTCOPY, ...) and parameter with flag
 *      (parallel.connections without PARALLEL, ...)
 *                                           -> MD_ERROR_INVALID_ARGS (names both)
 *   6. flags, then parameters, not implemented yet
 *                                           -> MD_ERROR_UNSUPPORTED (names it)
 *      Flags that stay refused for a reason (TUNNELLED, NON_SHARED_*,
 *      RDMA_PIN_ALL, ZEROCOPY) are reported before those merely not there yet.
 *
 * A request that only uses implemented flags and keys therefore never sees
 * "unsupported", and one that is wrong in itself is told so before being told
 * that a part of it is not implemented. The plain-argument forms of the phase
 * methods build the same struct through the same code.
 *
 * Not checked here (they need state): whether the domain exists or is in the
 * right state, whether destination_xml parses and keeps the guest ABI. */
#pragma once

#include <glib.h>

#include "migration-flags.h"


/* libvirt's ceiling: QEMU's max-bandwidth is bytes/s in an int64. */
#define MIGRATION_BANDWIDTH_MAX_MIB ((guint64) G_MAXINT64 / (1024 * 1024))

typedef struct {
        guint flags;
        char *migrate_uri;             /* as given: tcp:HOST:PORT or tcp://HOST:PORT */
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
        gboolean has_disks_port;
        gint32 disks_port;             /* the destination's NBD server port; 0 = chosen from [migration] */
        char *disks_uri;               /* tcp://HOST[:PORT] or unix:///PATH (migration-disks-uri.h) */
} MigrationParams;

/* @dict: a{sv} or NULL. Runs every step above; returns a new struct, or NULL
 * with @error set. */
MigrationParams *migration_params_new(GVariant *dict, guint flags, GError **error);

/* For the plain-argument forms (Prepare3, Begin3, Perform3, ...): empty or
 * NULL strings and a zero bandwidth mean "not given"; the rest is put into a
 * dictionary under libvirt's keys (destination_xml, destination_name,
 * migrate_uri, bandwidth) and goes through migration_params_new(), so both
 * forms accept and refuse exactly the same things. */
MigrationParams *migration_params_new_plain(const char *destination_xml, const char *destination_name,
                                            const char *migrate_uri, guint64 bandwidth, guint flags,
                                            GError **error);

/* Splits a migration URI, tcp:HOST:PORT (libvirt's and QEMU's short form) or
 * tcp://HOST:PORT; IPv6 hosts in brackets. Nothing else is accepted: no
 * other scheme, user, path, query or fragment, and the port is required.
 * @ret_host (nullable) gets the host without brackets. MD_ERROR_INVALID_ARGS
 * on anything else. */
gboolean migration_uri_parse(const char *uri, char **ret_host, guint16 *ret_port, GError **error);

/* Takes from @other what @p lacks, and its flags: the phases of one job may
 * each carry part of the parameters (libvirt passes them to every phase). */
void migration_params_fill_from(MigrationParams *p, const MigrationParams *other);

/* The typed parameters that are set, as a floating a{sv} (for a peer). */
GVariant *migration_params_to_variant(const MigrationParams *params);

/* The first parameter set that the plain-argument forms (protocol 3
 * without extensible parameters, protocol 2) cannot carry, or NULL. */
const char *migration_params_beyond_plain(const MigrationParams *params);

void migration_params_free(MigrationParams *params);

/* For tests, walking the parameter table: the @i-th key and its GVariant
 * type string; FALSE past the end. */
gboolean migration_params_nth_key(guint i, const char **ret_key, const char **ret_type);

/* For tests: stores @value under @key as migration_params_new() would, but
 * without any check; FALSE for an unknown key or a value of another type. */
gboolean migration_params_set_unchecked(MigrationParams *params, const char *key, GVariant *value);

/* Whether QEMU's xbzrle capability is on: COMPRESSED with xbzrle in the
 * list, or with no list (libvirt's default method); zlib and zstd ride on
 * multifd instead. */
gboolean migration_params_use_xbzrle(const MigrationParams *params);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MigrationParams, migration_params_free)
