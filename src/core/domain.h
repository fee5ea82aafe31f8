/* A domain at run time: its persistent definition, the definition its QEMU
 * runs with, its state, and the lifecycle operations. Asynchronous
 * operations follow GIO's pattern and never block the loop. */
#pragma once

#include <gio/gio.h>

#include "domain-def.h"
#include "qemu-process.h"

typedef enum {
        DOMAIN_STATE_SHUTOFF,
        DOMAIN_STATE_RUNNING,
        DOMAIN_STATE_PAUSED,
        _DOMAIN_STATE_MAX,
        _DOMAIN_STATE_INVALID = -1,
} DomainState;

/* libvirt's flag bits, where a method takes any. */
enum {
        DOMAIN_START_PAUSED = 1 << 0,
        DOMAIN_SHUTDOWN_ACPI_POWER_BTN = 1 << 0,
        DOMAIN_SHUTDOWN_SIGNAL = 1 << 3,
        DOMAIN_DESTROY_GRACEFUL = 1 << 0,
        DOMAIN_XML_SECURE = 1 << 0,
        DOMAIN_XML_INACTIVE = 1 << 1,
        DOMAIN_LIST_ACTIVE = 1 << 0,
        DOMAIN_LIST_INACTIVE = 1 << 1,
        DOMAIN_LIST_PERSISTENT = 1 << 2,
        DOMAIN_LIST_TRANSIENT = 1 << 3,
};

typedef struct Registry Registry;
typedef struct MigrationJob MigrationJob;

typedef struct Domain {
        Registry *registry;
        DomainDef *def;           /* persistent definition; NULL when transient */
        DomainDef *live;          /* what QEMU runs with; NULL when shut off */
        DomainState state;
        char *state_reason;
        QemuProcess *qemu;
        gboolean starting;
        gboolean destroying;      /* the exit that follows is "destroyed" */
        gboolean guest_shutdown;  /* QEMU reported SHUTDOWN before exiting */
        GPtrArray *exit_waiters;  /* GTask* completed when QEMU has gone */
        char *exit_reason;        /* StateReason when QEMU exits next, e.g. "migrated" */
        guint64 ram_kib;          /* RAM QEMU has, as it says; 0 = not known (yet) */
        guint64 max_downtime_ms;
        guint64 max_speed_mib;    /* 0 = unlimited */
        MigrationJob *job;        /* at most one job per domain */
        GVariant *last_job_stats; /* a{sv} of the last completed job, for GetJobStats(1) */
        char *last_job_type;      /* "completed", "failed" or "cancelled" */
} Domain;

const char *domain_state_to_string(DomainState state);

Domain *domain_new(Registry *registry, DomainDef *def /* consumed, nullable */);
void domain_free(Domain *domain);

/* The definition that describes the domain now: the live one while it runs. */
const DomainDef *domain_current_def(const Domain *domain);
const char *domain_name(const Domain *domain);
const char *domain_uuid(const Domain *domain);
gboolean domain_is_active(const Domain *domain);
gboolean domain_is_persistent(const Domain *domain);

void domain_start_async(Domain *domain, guint flags, GAsyncReadyCallback callback, gpointer user_data);
void domain_destroy_async(Domain *domain, guint flags, GAsyncReadyCallback callback, gpointer user_data);
void domain_suspend_async(Domain *domain, guint flags, GAsyncReadyCallback callback, gpointer user_data);
void domain_resume_async(Domain *domain, guint flags, GAsyncReadyCallback callback, gpointer user_data);
void domain_shutdown_async(Domain *domain, guint flags, GAsyncReadyCallback callback, gpointer user_data);
/* Finishes any of the operations above. */
gboolean domain_operation_finish(Domain *domain, GAsyncResult *result, GError **error);

/* Launches QEMU for @live (consumed), paused (-S); with @incoming ("defer")
 * it waits for a migration stream. @ram_kib 0 gives QEMU the RAM size the
 * definition and accelerator call for; a migration target passes the
 * source's, which QEMU requires to match. Completes when the monitor answers and
 * the live status is saved; on failure the domain is as it was. */
void domain_launch_async(Domain *domain, DomainDef *live, const char *incoming, guint64 ram_kib,
                         GAsyncReadyCallback callback, gpointer user_data);
/* Asks QEMU how much RAM the guest has, into ram_kib (0 meanwhile): what
 * QEMU really has decides whether a live migration is exact, whoever
 * started it with what. */
void domain_learn_ram_size(Domain *domain);
gboolean domain_launch_finish(Domain *domain, GAsyncResult *result, GError **error);

/* Whether DefineXML over the domain or Undefine may change it now: not
 * while a migration job (either direction) holds it (MD_ERROR_JOB_ACTIVE). */
gboolean domain_check_changeable(Domain *domain, GError **error);

/* MD_ERROR_JOB_ACTIVE, naming the job and its phase, when a migration job
 * holds the domain: Start, Suspend, Resume, Shutdown, Undefine and
 * DefineXML wait for its end; Destroy does not (it ends the job). */
gboolean require_no_job(Domain *domain, GError **error);

char *domain_get_xml(Domain *domain, guint flags, GError **error);

/* Takes over a QEMU found again after a restart (state from query-status). */
void domain_adopt_process(Domain *domain, DomainDef *live /* consumed */, QemuProcess *qemu,
                          DomainState state, const char *reason);

void domain_set_state(Domain *domain, DomainState state, const char *reason);

/* Ends the domain's QEMU: SIGTERM, then SIGKILL after @grace_ms (0: at once,
 * G_MAXUINT: never). @reason (nullable) becomes StateReason when it has
 * gone, replacing any earlier one; NULL leaves the reason to how it ends
 * (destroyed, shutdown, crashed). A no-op without QEMU. */
void domain_kill(Domain *domain, const char *reason, guint grace_ms);
