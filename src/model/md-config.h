/* The daemon's configuration: a GKeyFile, every key optional (see the
 * contract). Read and validated once at start; a bad file is an error. */
#pragma once

#include <glib.h>

typedef enum {
        PROTOCOL_V3_PARAMS = 1 << 0,  /* protocol 3 with extensible parameters */
        PROTOCOL_V3 = 1 << 1,
        PROTOCOL_V2 = 1 << 2,
} ProtocolMask;

typedef struct {
        char *host_uuid;
        char *hostname;
        char *qemu_binary;
        char **hugetlbfs_mounts;  /* [qemu] hugetlbfs_mount: absolute, canonical; NULL-terminated;
                                   * empty: the hugetlbfs mounts of /proc/mounts */
        guint16 port_min;
        guint16 port_max;
        char *migration_address;  /* NULL = any */
        ProtocolMask protocols;
        guint max_jobs;
        guint phase_timeout_s;    /* an unattended job waits this long for its next phase */
        char *tls_ca, *tls_cert, *tls_key;
        char *bridge_listen;
        char **allowed_peers;     /* NULL-terminated DN glob patterns */
        guint keepalive_interval_s;  /* [bridge] a Peer.Ping this often on each peer link */
        guint keepalive_timeout_s;   /* [bridge] a peer silent this long is gone */
        guint peer_idle_timeout_s;   /* [peer] a link to a peer no migration used this long is closed;
                                      * 0 = closed as soon as its last migration ends */
        guint peer_call_timeout_s;   /* [peer] a call to a peer's bridge (Prepare, Finish, ...) gets its
                                      * answer within this, or counts as lost */
        guint16 graphics_port_min;   /* [graphics] ports of autoport displays */
        guint16 graphics_port_max;
        guint idle_timeout_s;     /* exit after this long with nothing to do; 0 = never */
        char **storage_directories;  /* [storage] directories: absolute, canonical; NULL-terminated */
} MdConfig;

/* @path NULL or a missing file (when @must_exist is FALSE) gives the defaults. */
MdConfig *md_config_load(const char *path, gboolean must_exist, GError **error);
MdConfig *md_config_load_from_data(const char *data, GError **error);
void md_config_free(MdConfig *config);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MdConfig, md_config_free)
