/* migrationctl: the state of one invocation, and the verbs. */
#pragma once

#include <glib.h>
#include <systemd/sd-bus.h>

/* libvirt's virConnectListAllDomains bits, as ListDomains takes them. */
typedef enum {
        CTL_LIST_ALL = 0,
        CTL_LIST_ACTIVE = 1 << 0,
        CTL_LIST_INACTIVE = 1 << 1,
} CtlListFlags;

/* libvirt's virDomainMigrateFlags that migrate passes on. */
typedef enum {
        CTL_MIGRATE_LIVE = 1 << 0,
        CTL_MIGRATE_PERSIST_DEST = 1 << 3,
        CTL_MIGRATE_UNDEFINE_SOURCE = 1 << 4,
        CTL_MIGRATE_PAUSED = 1 << 5,
        CTL_MIGRATE_NON_SHARED_DISK = 1 << 6,
        CTL_MIGRATE_NON_SHARED_INC = 1 << 7,
        CTL_MIGRATE_CHANGE_PROTECTION = 1 << 8,
        CTL_MIGRATE_OFFLINE = 1 << 10,
        CTL_MIGRATE_COMPRESSED = 1 << 11,
        CTL_MIGRATE_AUTO_CONVERGE = 1 << 13,
        CTL_MIGRATE_POSTCOPY = 1 << 15,
        CTL_MIGRATE_TLS = 1 << 16,
        CTL_MIGRATE_PARALLEL = 1 << 17,
} CtlMigrateFlags;

typedef struct {
        /* from the command line */
        const char *bus_address;        /* NULL: the system bus */
        gboolean json;
        gboolean ask_password;
        CtlListFlags list_flags;
        gboolean completed;             /* jobinfo: the last completed job */

        /* migrate */
        const char *to_bus_address;     /* the destination's bus */
        const char *peer_uri;           /* --to: migration+tls://HOST[:PORT], peer-to-peer */
        gboolean check;                 /* --check: the preflight only, nothing migrates */
        CtlMigrateFlags migrate_flags;
        gboolean has_bandwidth;
        guint64 bandwidth_mib;          /* MiB/s; 0: unlimited */
        guint64 max_downtime_ms;        /* 0: not given */
        const char *dname;              /* the name on the destination */
        const char *xml_file;           /* the domain XML for the destination */
        gboolean plain;                 /* Begin3, ... instead of Begin3Params, ... */
        guint protocol;                 /* 3 (default) or 2: Prepare2, Perform2, Finish2 */
        guint64 postcopy_after_s;       /* switch to post-copy this long after Perform starts */
        gboolean has_postcopy_after;
        gint32 parallel_connections;    /* --parallel N; 0: not given */
        GPtrArray *compression;         /* --compress METHOD, each once; NULL: not given */

        /* set by a verb the user interrupted (Ctrl-C): exit status 130 */
        gboolean interrupted;

        /* the connection to migrationd, opened before a verb that needs it runs */
        sd_bus *bus;
} CtlContext;

/* A verb gets its own name in argv[0] and its operands after it. It prints
 * what went wrong itself and returns a negative errno on failure. */
typedef int (*CtlVerbFunction)(CtlContext *ctx, int argc, char **argv);

/* ctl-domain.c */
int verb_list(CtlContext *ctx, int argc, char **argv);
int verb_info(CtlContext *ctx, int argc, char **argv);
int verb_dumpxml(CtlContext *ctx, int argc, char **argv);
int verb_define(CtlContext *ctx, int argc, char **argv);
int verb_undefine(CtlContext *ctx, int argc, char **argv);
int verb_start(CtlContext *ctx, int argc, char **argv);
int verb_shutdown(CtlContext *ctx, int argc, char **argv);
int verb_destroy(CtlContext *ctx, int argc, char **argv);
int verb_suspend(CtlContext *ctx, int argc, char **argv);
int verb_resume(CtlContext *ctx, int argc, char **argv);

/* ctl-migrate.c */
int verb_migrate(CtlContext *ctx, int argc, char **argv);
/* ctl-migrate-check.c: --check, the preflight of the peer --to names */
int verb_migrate_check(CtlContext *ctx, int argc, char **argv);
/* ctl-migrate-p2p.c: --check, or peer-to-peer with --to, else verb_migrate */
int verb_migrate_any(CtlContext *ctx, int argc, char **argv);

/* ctl-job.c */
int verb_abort(CtlContext *ctx, int argc, char **argv);
int verb_jobinfo(CtlContext *ctx, int argc, char **argv);
int verb_set_speed(CtlContext *ctx, int argc, char **argv);
int verb_set_downtime(CtlContext *ctx, int argc, char **argv);

/* ctl-host.c */
int verb_version(CtlContext *ctx, int argc, char **argv);
int verb_capabilities(CtlContext *ctx, int argc, char **argv);
