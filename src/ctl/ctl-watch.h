/* migrationctl: what both ways of migrating (managed, ctl-migrate.c, and
 * peer-to-peer, ctl-migrate-p2p.c) do while the source's job runs: follow
 * its signals with the progress bar, take Ctrl-C, switch to post-copy after
 * --postcopy-after, abort the job, and report the result. The hooks are
 * what the two ways do differently. */
#pragma once

#include <glib.h>
#include <systemd/sd-bus.h>

#include "ctl.h"
#include "ctl-progress.h"

typedef struct {
        /* Whether these job statistics show that QEMU streams. */
        gboolean (*shows_stream)(void *userdata, GVariant *stats);
        /* The first statistics of the stream have come (optional). */
        void (*stream_started)(void *userdata);
        /* The first Ctrl-C; the watch has set interrupted already. */
        void (*interrupted)(void *userdata);
        /* Printed on the second Ctrl-C: N_("...\n"), translated when shown. */
        const char *leaving_message;
        /* AbortJob came too late, OperationInvalid (optional: else silent). */
        void (*abort_too_late)(void *userdata, const sd_bus_error *error);
} CtlJobWatchHooks;

typedef struct {
        CtlContext *ctx;
        const CtlJobWatchHooks *hooks;
        void *userdata;
        sd_bus *source;                 /* ctx->bus, not owned */
        char *path;                     /* the domain on the source */
        char *name;                     /* its name there */
        char *destination_xml;          /* --xml */
        CtlProgress *progress;          /* NULL: none shown (--json) */
        gint64 start_usec;

        guint source_watch, sigint_watch;
        sd_bus_slot *properties_slot, *stats_slot, *completed_slot;
        sd_bus_slot *abort_slot, *postcopy_slot;
        guint postcopy_timer;           /* --postcopy-after */
        GVariant *completed_stats;      /* the source's last JobCompleted */
        char *phase;                    /* the source job's last JobPhase */

        gboolean ended;                 /* the stream's outcome is known: no progress, abort, post-copy */
        gboolean streaming;             /* QEMU streams (hooks->shows_stream) */
        gboolean postcopy_due;          /* the time has come, but the stream has not started yet */
        gboolean postcopy_announced;    /* the switch has been reported */
        gboolean abort_sent;
        gboolean interrupted;           /* Ctrl-C at all */
        gboolean cancel;                /* Ctrl-C stops the migration */
        gboolean quit;                  /* Ctrl-C twice: leave now */
} CtlJobWatch;

void ctl_job_watch_init(CtlJobWatch *w, CtlContext *ctx, const CtlJobWatchHooks *hooks, void *userdata);
void ctl_job_watch_clear(CtlJobWatch *w);

/* Refuses the options the watch cannot follow (--postcopy-after with
 * --offline), before anything starts; says why. */
int ctl_job_watch_check_options(const CtlContext *ctx);
/* Reads --xml and looks the domain up; says what failed. */
int ctl_job_watch_lookup(CtlJobWatch *w, const char *name_or_uuid);
/* Sets --max-downtime, then follows the job's signals and Ctrl-C and shows
 * the progress (unless --json); says what failed. */
int ctl_job_watch_start(CtlJobWatch *w);

/* The domain's name on the destination: --dname, or the same. */
const char *ctl_job_watch_final_name(const CtlJobWatch *w);
/* Seconds since start_usec. */
double ctl_job_watch_elapsed(const CtlJobWatch *w);

/* The stream's outcome is known: no more progress, abort or post-copy. */
void ctl_job_watch_end(CtlJobWatch *w);
/* Calls AbortJob on the source, once, unless the stream has ended. */
void ctl_job_watch_abort(CtlJobWatch *w);
/* For the first Ctrl-C: in post-copy, says that the migration can only be
 * completed and returns TRUE. */
gboolean ctl_job_watch_refuse_abort_in_postcopy(const CtlJobWatch *w);

/* --postcopy-after from now; MigrateStartPostCopy waits for the stream. */
void ctl_job_watch_arm_postcopy(CtlJobWatch *w);
void ctl_job_watch_disarm_postcopy(CtlJobWatch *w);

/* The last completed job's statistics of @path on @bus (a{sv}), or NULL. */
GVariant *ctl_get_completed_stats(sd_bus *bus, const char *path);
/* The source job's completed statistics: JobCompleted's, else asked for;
 * an empty a{sv} when neither is there. */
GVariant *ctl_job_watch_source_stats(const CtlJobWatch *w);
/* "Migrated '%s' to %s ..." (or "Moved the definition ..." with --offline). */
void ctl_job_watch_print_result(const CtlJobWatch *w, const char *to, double seconds, gboolean has_downtime,
                                guint64 downtime);
