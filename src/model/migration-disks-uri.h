/* libvirt's disks_uri, the address of the destination's NBD server for a
 * storage migration: tcp://HOST[:PORT] (the destination listens on HOST,
 * the source connects there; no PORT: one from [migration] port_min ..
 * port_max, as with :0) or unix:///PATH (a UNIX socket both hosts reach, which the
 * management application arranges). What QEMU's NBD server and client
 * take; every other scheme or part is refused. */
#pragma once

#include <glib.h>

/* UNIX socket paths longer than this do not fit sockaddr_un. */
#define MIGRATION_DISKS_SOCKET_MAX 107

typedef struct {
        char *host;             /* tcp: without brackets; NULL for unix */
        guint16 port;           /* tcp: 0 = not given */
        char *socket;           /* unix: the absolute path; NULL for tcp */
} MigrationDisksUri;

/* A host name or an IP address (IPv6 without brackets), nothing else:
 * also migrate_uri's and listen_address's test. */
gboolean migration_host_is_valid(const char *host);

/* MD_ERROR_INVALID_ARGS naming what is wrong (scheme, host, port, path,
 * an extra part). @ret may be NULL (validation only); else it is filled
 * and freed with migration_disks_uri_clear(). */
gboolean migration_disks_uri_parse(const char *uri, MigrationDisksUri *ret, GError **error);
void migration_disks_uri_clear(MigrationDisksUri *uri);

/* Step 5 of migration_params_new() for disks_port (@port, 0 when not
 * given) and disks_uri (@uri, nullable) with the migration @flags. */
gboolean migration_disks_params_check(gint32 port, const char *uri, guint flags, GError **error);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(MigrationDisksUri, migration_disks_uri_clear)
