/* The migration job's unit tests: a registry in a temporary state
 * directory, a fake monitor, JobCompleted heard through the registry's
 * listener; and, for recovery, a status record on disk and the QEMU that
 * outlived the daemon: the fake monitor on the socket where the daemon
 * reconnects (qemu_process_set_attach_hook() skips only the check of the
 * process: valgrind knows no pidfd_open). */
#pragma once

#include "fake-monitor.h"
#include "md-config.h"
#include "migration-cookie.h"
#include "migration-job.h"
#include "registry.h"

#define JF_UUID "c7a5fdbd-cdaf-9455-926a-d65c16db1809"
#define JF_NAME "vm1"
#define JF_PID 4242

typedef struct {
        char *dir;
        char *state_dir;
        char *run_dir;
        MdConfig *config;
        Registry *registry;
        FakeMonitor *fm;
        GPtrArray *completed;   /* GVariant a{sv} of every JobCompleted */
        gboolean completed_with_qemu; /* the last one came while the QEMU was there */
        GPtrArray *watched;     /* char *: clients asked about (watch_client) */
} JobFixture;

void job_fixture_set_up(JobFixture *f, gconstpointer data);
void job_fixture_tear_down(JobFixture *f, gconstpointer data);

/* What the old daemon left: the status record of a guest in a job. */
typedef struct {
        const char *type;        /* "migration-out", "migration-in" */
        const char *phase;
        const char *state;       /* saved state and reason */
        const char *reason;
        guint flags;
        gboolean postcopy;
        gboolean postcopy_requested;
        gboolean paused_before;
        int protocol;            /* 0: absent */
        const char *owner;       /* NULL: absent (peer-to-peer) */
        gboolean persistent;     /* a definition on disk too */
        const char *const *storage_created;     /* images the incoming job created; NULL: absent */
        const char *xml;         /* the live definition; NULL: a guest without devices */
        double progress;         /* JobProgress journaled; 0: absent */
        gboolean starting;       /* the early record of a QEMU whose monitor had not greeted */
        GPid pid;                /* 0: JF_PID */
        gboolean no_pid;         /* starting: no "pid" (a Prepare's record before its spawn) */
} JobGiven;

/* Writes the records and lets the fake monitor listen where the daemon
 * reconnects. Recovery's own questions are expected:
 * query-status (@qemu_status, running or not), the RAM size, and
 * query-migrate with @migrate_status (NULL: QEMU answers with an error).
 * The test then adds the commands the rule must send. */
void job_fixture_given(JobFixture *f, const JobGiven *given, const char *qemu_status,
                       const char *migrate_status);
/* Only the records (no monitor listens): for a QEMU that had not finished
 * starting, which recovery must kill, never attach. */
void job_fixture_given_unstarted(JobFixture *f, const JobGiven *given);
/* A process standing in for such a QEMU: "sh -c 'read line' sh -uuid @uuid"
 * (@uuid in its argv as in QEMU's), waiting on its stdin (*@ret_stdin,
 * the write end) without children of its own. */
GPid job_fixture_spawn_stand_in(const char *uuid, int *ret_stdin);
/* Whether the process has gone (a zombie counts: it is reaped here). */
gboolean job_fixture_pid_gone(GPid pid);
/* Whether pidfd_open() works here (not under valgrind 3.19). */
gboolean job_fixture_pidfd_works(void);

/* The daemon starts: recovery_load (asserting no JobCompleted yet), then
 * its bus name is owned (migration_jobs_end_restored); runs the loop until
 * all is quiet. */
Domain *job_fixture_restart(JobFixture *f);

/* The commands recovery itself sends first (query-status, query-memory-size-summary,
 * query-migrate), for fake_monitor_assert_received(). */
#define JF_RECOVERY_QUERIES "query-status", "query-memory-size-summary", "query-migrate"

/* The QEMU found again: alive (attached, connected, the domain's), or
 * killed (the domain saw it go, the monitor was closed; waits up to 5 s). */
gboolean job_fixture_qemu_alive(JobFixture *f);
void job_fixture_assert_qemu_killed(JobFixture *f);

/* Runs the main loop until @done (or 5 s: fails). */
void job_fixture_run_until(gboolean (*done)(gpointer), gpointer data);

/* A call's answer, waited for with job_fixture_run_until(job_reply_done, &reply). */
typedef struct {
        gboolean done;
        GError *error;
} JobReply;

gboolean job_reply_done(gpointer reply);

/* Exactly one JobCompleted so far, with @success and an errmsg that
 * contains @errmsg_part. */
void job_fixture_assert_completed(JobFixture *f, gboolean success, const char *errmsg_part);

/* The daemon's warnings (structured logging: g_test_expect_message()
 * does not see them) are collected instead of aborting; a test claims
 * the ones it expects, and tear-down fails on any left. Call once in main. */
void job_fixture_init_log(void);
/* Asserts one warning so far matches the glob @pattern, and forgets it. */
void job_fixture_assert_warned(const char *pattern);

/* Fires the job's phase_timeout deadline now: asserts it is armed. */
void job_fixture_expire_deadline(MigrationJob *job);

/* A cookie of phase @phase from the other host. */
GBytes *job_fixture_peer_cookie(JobFixture *f, const char *phase, const char *name, const char *uuid);
/* ... with the destination's NBD server at @nbd_port (0: none). */
GBytes *job_fixture_peer_cookie_nbd(JobFixture *f, const char *phase, const char *name, const char *uuid,
                                    gint64 nbd_port);

/* The QEMU's migration settings reset at a job's end, the TLS object
 * (whether there is one or not) last; all three sent at once (pipelined). */
#define JF_RESET "migrate-set-capabilities", "migrate-set-parameters", "object-del"
