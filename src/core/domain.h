/* A domain at run time: its persistent definition, the definition its QEMU
 * runs with, its state, and the lifecycle operations. Asynchronous
 * operations follow GIO's pattern and never block the loop.
 *
 * Errors and logging in src/core (one rule for every file of it): a failure
 * a caller will see comes back as a GError of MD_ERROR (disk and system
 * failures as MD_ERROR_INTERNAL naming the path and the errno text; every
 * message one whole translatable sentence), and the bus layer decides what
 * the client is told; the core logs it at most with g_debug. Only what
 * nobody else will ever hear of stays a g_warning, for the operator's
 * journal: a recovery rule that left a guest paused, a cleanup that failed
 * after the reply was sent, a status file or definition that cannot be read
 * at start-up ("..., ignoring"). g_message is kept for the few facts an
 * operator wants without debug output (a job abandoned or restored, a guest
 * that did not survive a restart). */
#pragma once

#include <gio/gio.h>

#include "domain-def.h"
#include "md-config.h"
#include "qemu-process.h"
#include "state-store.h"

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
typedef struct Domain Domain;

/* What a domain needs from the registry that keeps it. The registry sits
 * above domain.c (it indexes domains): it fills this in once and the domain
 * reaches it only through these members, never by calling registry.c. */
typedef struct {
        Registry *registry;       /* opaque here; becomes Domain.registry */
        MdConfig *config;
        StateStore *store;
        gboolean kvm_usable;
        const char *runtime_dir;  /* QEMU's monitor sockets */
        const char *log_dir;      /* QEMU's logs */
        /* Properties of @domain changed; @properties is NULL-terminated. */
        void (*changed)(Registry *registry, Domain *domain, const char *const *properties);
        /* QEMU of @domain has gone; a transient domain is freed. */
        void (*stopped)(Registry *registry, Domain *domain);
        /* The domain with @uuid, or NULL. */
        Domain *(*lookup)(Registry *registry, const char *uuid);
        /* Has a domain whose live definition is not @self display port @port? */
        gboolean (*display_port_taken)(Registry *registry, int port, const DomainDef *self);
} DomainHost;

/* What a migration job hears of its domain, installed while the job runs
 * (domain_set_observer): the domain never calls the job itself. */
typedef struct {
        /* StateReason when QEMU pauses or resumes the guest on its own;
         * NULL: "unknown" (STOP) and "unpaused" (RESUME). */
        const char *stop_reason;
        const char *resume_reason;
        /* RESUME leaves State alone: the observer sets it (an incoming guest
         * runs when Finish says so). */
        gboolean owns_resume;
        /* An event of QEMU's, before the domain's own handling. */
        void (*qemu_event)(Domain *domain, const QemuEvent *event, gpointer user_data);
        /* QEMU has gone, before State turns shutoff. */
        void (*process_exited)(Domain *domain, gpointer user_data);
        /* For error messages: what holds the domain (e.g. "migration-out") and its phase. */
        void (*describe)(gpointer user_data, const char **ret_kind, const char **ret_phase);
        /* Adds the job's journal to the domain's status record. */
        void (*write_journal)(JsonBuilder *builder, gpointer user_data);
        /* The domain is freed with the observer installed. */
        void (*free)(gpointer user_data);
} DomainObserver;

struct Domain {
        const DomainHost *host;
        Registry *registry;       /* host->registry, for the job's files */
        DomainDef *def;           /* persistent definition; NULL when transient */
        DomainDef *live;          /* what QEMU runs with; NULL when shut off */
        DomainState state;
        char *state_reason;
        QemuProcess *qemu;
        gboolean starting;
        GCancellable *launching;  /* while starting: domain_kill() cancels the launch */
        gboolean destroying;      /* the exit that follows is "destroyed" */
        gboolean guest_shutdown;  /* QEMU reported SHUTDOWN before exiting */
        GPtrArray *exit_waiters;  /* GTask* completed when QEMU has gone */
        char *exit_reason;        /* StateReason when QEMU exits next, e.g. "migrated" */
        guint64 ram_kib;          /* RAM QEMU has, as it says; 0 = not known (yet) */
        guint64 max_downtime_ms;
        guint64 max_speed_mib;    /* 0 = unlimited */
        MigrationJob *job;        /* at most one job per domain; set by the job, which
                                   * the domain knows only as its observer */
        const DomainObserver *observer;
        gpointer observer_data;
        GVariant *last_job_stats; /* a{sv} of the last completed job, for GetJobStats(1) */
        char *last_job_type;      /* "completed", "failed" or "cancelled" */
};

const char *domain_state_to_string(DomainState state);

Domain *domain_new(const DomainHost *host, DomainDef *def /* consumed, nullable */);
void domain_free(Domain *domain);

/* Paths of a guest's QMP socket and QEMU log under @host's directories. */
char *domain_host_monitor_path(const DomainHost *host, const char *uuid);
char *domain_host_log_path(const DomainHost *host, const char *name);

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

/* Installs @observer (NULL removes it; at most one at a time). */
void domain_set_observer(Domain *domain, const DomainObserver *observer, gpointer user_data);

/* Writes the live status (state, reason, the job's journal) to the state
 * store, for a restart to find the guest again. Only while QEMU runs. */
gboolean domain_save_status(Domain *domain, GError **error);
/* The early record ("starting") before any QEMU is spawned, with @live
 * and the job's journal: a Prepare's images are known before it creates
 * them. The launch's own early record replaces it. */
gboolean domain_save_unspawned_status(Domain *domain, const DomainDef *live, GError **error);

/* Ends the domain's QEMU: SIGTERM, then SIGKILL after @grace_ms (0: at once,
 * G_MAXUINT: never). @reason (nullable) becomes StateReason when it has
 * gone, replacing any earlier one; NULL leaves the reason to how it ends
 * (destroyed, shutdown, crashed). A QEMU still starting (no monitor yet)
 * is killed at once whatever @grace_ms, as it holds no guest state: its
 * launch fails with G_IO_ERROR_CANCELLED. A no-op without QEMU. */
void domain_kill(Domain *domain, const char *reason, guint grace_ms);

/* The daemon stops while QEMU is starting: it is killed and reaped now.
 * Its status is written only once its monitor greets, so a restart would
 * never find it: it would stay, paused and unknown, holding its RAM, its
 * images' locks and its ports. (libvirt writes an early status and kills
 * such a QEMU at reconnect, "wasn't fully started yet".) The launch then
 * fails from an idle as for domain_kill(). A no-op if none is starting. */
void domain_abandon_launch(Domain *domain);

/* Callback data that survives the domain: looks it up again by UUID. */
typedef struct {
        const DomainHost *host;
        char *uuid;
} DomainRef;

DomainRef *domain_ref_new(Domain *domain);
/* The domain, or NULL if it has gone meanwhile. */
Domain *domain_ref_get(DomainRef *ref);
void domain_ref_free(DomainRef *ref);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(DomainRef, domain_ref_free)
