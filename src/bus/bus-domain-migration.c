/* The migration calls of a domain: the source's phases (Begin, Perform,
 * Confirm; protocol 3, its params form and 2; peer-to-peer), the job
 * controls, the job's signals, and their vtable. userdata: the Domain. */
#define G_LOG_DOMAIN "migrationd"

#include "bus-error.h"
#include "bus-migration.h"
#include "bus-variant.h"
#include "md-error.h"
#include "migration-job.h"
#include "migration.h"

/* QEMU cannot migrate "directly" (libvirt's direct mode needs a hypervisor
 * that talks to its peer itself): a destination URI needs PEER2PEER. */
static gboolean check_dconnuri(const char *dconnuri, guint flags, GError **error) {
        if (!bus_empty_to_null(dconnuri) || (flags & MIGRATE_PEER2PEER))
                return TRUE;
        g_set_error(error, MD_ERROR, MD_ERROR_UNSUPPORTED,
                    "Direct migration is not supported by QEMU: pass PEER2PEER with a destination "
                    "URI, or drive the phases yourself (managed mode) with an empty one");
        return FALSE;
}

/* ---- Begin ---- */

static void on_begun(GObject *source, GAsyncResult *result, gpointer user_data) {
        g_autoptr(sd_bus_message) m = user_data;
        g_autoptr(sd_bus_message) reply = NULL;
        g_autoptr(GError) error = NULL;
        g_autofree char *xml = NULL;
        g_autoptr(GBytes) cookie = NULL;
        int r;

        if (!migration_begin_finish(result, &xml, &cookie, &error))
                return bus_reply_gerror_checked(m, error);
        r = sd_bus_message_new_method_return(m, &reply);
        if (r >= 0)
                r = sd_bus_message_append(reply, "s", xml);
        if (r >= 0)
                r = bus_append_bytes(reply, cookie);
        if (r >= 0)
                r = sd_bus_send(NULL, reply, NULL);
        bus_reply_checked(r);
}

/* Replies late when a storage migration waits for QEMU's view of its disks. */
static int begin(sd_bus_message *m, Domain *d, MigrationParams *params, GError *params_error,
                 sd_bus_error *error) {
        g_autoptr(GError) gerror = params_error;

        if (!params)
                return bus_error_set_gerror(error, gerror);
        migration_begin_async(d, params, sd_bus_message_get_sender(m), on_begun, sd_bus_message_ref(m));
        return 1;
}

static int method_begin3(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        const char *xmlin, *dname;
        uint64_t bandwidth;
        uint32_t flags;
        GError *gerror = NULL;
        MigrationParams *params;
        int r;

        r = bus_open_migration_call(bus_service_of_call(m), m, userdata, NULL, PROTOCOL_V3, error);
        if (r <= 0)
                return r < 0 ? r : 1;

        r = sd_bus_message_read(m, "sstu", &xmlin, &dname, &bandwidth, &flags);
        if (r < 0)
                return r;
        params = migration_params_new_plain(xmlin, dname, NULL, bandwidth, flags, &gerror);
        return begin(m, userdata, params, gerror, error);
}

static int method_begin3_params(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        GError *gerror = NULL;
        MigrationParams *params;
        int r;

        r = bus_open_migration_call(bus_service_of_call(m), m, userdata, NULL, PROTOCOL_V3_PARAMS, error);
        if (r <= 0)
                return r < 0 ? r : 1;
        r = bus_read_params_form(m, NULL, NULL, &params, &gerror, error);
        if (r < 0)
                return r;
        return begin(m, userdata, params, gerror, error);
}

/* ---- Perform ---- */

static int reply_cookie(sd_bus_message *m, GBytes *cookie) {
        g_autoptr(sd_bus_message) reply = NULL;
        int r;

        r = sd_bus_message_new_method_return(m, &reply);
        if (r >= 0)
                r = bus_append_bytes(reply, cookie);
        if (r >= 0)
                r = sd_bus_send(NULL, reply, NULL);
        return r;
}

static void on_performed(GObject *source, GAsyncResult *result, gpointer user_data) {
        g_autoptr(sd_bus_message) m = user_data;
        g_autoptr(GError) error = NULL;
        g_autoptr(GBytes) cookie = migration_perform_finish(result, &error);

        if (!cookie)
                return bus_reply_gerror_checked(m, error);
        bus_reply_checked(reply_cookie(m, cookie));
}

static void on_p2p_done(GObject *source, GAsyncResult *result, gpointer user_data) {
        g_autoptr(BusPendingCall) call = user_data;
        sd_bus_message *m = call->message;
        g_autoptr(GError) error = NULL;

        if (!call->service->p2p.finish(result, &error))
                return bus_reply_gerror_checked(m, error);
        /* Perform3 answers a cookie; the peer-to-peer run has none left to give. */
        if (g_str_has_prefix(sd_bus_message_get_member(m), "Perform3"))
                bus_reply_checked(reply_cookie(m, NULL));
        else
                bus_reply_checked(sd_bus_reply_method_return(m, NULL));
}

/* With PEER2PEER this daemon runs every phase itself, the destination's
 * through its migration-bridge; the call replies when the migration has ended. */
static int p2p(sd_bus_message *m, Domain *d, const char *dconnuri, MigrationParams *params, sd_bus_error *error) {
        BusService *s = bus_service_of_call(m);

        if (!bus_empty_to_null(dconnuri)) {
                migration_params_free(params);
                return bus_error_setf(error, MD_ERROR_INVALID_ARGS,
                                      "PEER2PEER needs the destination's URI (dconnuri), "
                                      "migration+tls://HOST[:PORT]");
        }
        if (!s->p2p.migrate) {
                migration_params_free(params);
                return bus_error_setf(error, MD_ERROR_UNSUPPORTED,
                                      "Peer-to-peer migration is not available in this daemon");
        }
        s->p2p.migrate(s, d, dconnuri, params, on_p2p_done, bus_pending_call_new(s, m));
        return 1;
}

static int perform(sd_bus_message *m, Domain *d, const char *dconnuri, MigrationParams *params,
                   GError *params_error, GBytes *cookie, sd_bus_error *error) {
        g_autoptr(GError) gerror = params_error;
        g_autoptr(MigrationParams) p = params;

        if (!p || !check_dconnuri(dconnuri, p->flags, &gerror))
                return bus_error_set_gerror(error, gerror);
        if (p->flags & MIGRATE_PEER2PEER)
                return p2p(m, d, dconnuri, g_steal_pointer(&p), error);
        migration_perform_async(d, g_steal_pointer(&p), cookie, on_performed, sd_bus_message_ref(m));
        return 1;
}

static int method_migrate_to_uri3(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        g_autoptr(GVariant) dict = NULL;
        g_autoptr(GError) gerror = NULL;
        const char *dconnuri;
        MigrationParams *params;
        uint32_t flags;
        int r;

        r = sd_bus_message_read(m, "s", &dconnuri);
        if (r >= 0)
                r = bus_message_read_vardict(m, &dict, error);
        if (r >= 0)
                r = sd_bus_message_read(m, "u", &flags);
        if (r < 0)
                return r;
        r = bus_authorize_migration(bus_service_of_call(m), m, userdata, dconnuri, error);
        if (r <= 0)
                return r < 0 ? r : 1;
        params = migration_params_new(dict, flags, &gerror);
        if (!params || !check_dconnuri(dconnuri, flags, &gerror)) {
                migration_params_free(params);
                return bus_error_set_gerror(error, gerror);
        }
        if (!(flags & MIGRATE_PEER2PEER)) {
                migration_params_free(params);
                return bus_error_setf(error, MD_ERROR_UNSUPPORTED,
                                      "MigrateToURI3 without PEER2PEER would be a direct migration, "
                                      "which QEMU does not support; pass PEER2PEER");
        }
        return p2p(m, userdata, dconnuri, params, error);
}

static int method_perform3(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        const char *xmlin, *dconnuri, *uri, *dname;
        g_autoptr(GBytes) cookie = NULL;
        uint64_t bandwidth;
        uint32_t flags;
        GError *gerror = NULL;
        MigrationParams *params;
        int r;

        r = sd_bus_message_read(m, "s", &xmlin);
        if (r >= 0)
                r = bus_read_bytes(m, &cookie);
        if (r >= 0)
                r = sd_bus_message_read(m, "ssstu", &dconnuri, &uri, &dname, &bandwidth, &flags);
        if (r < 0)
                return r;
        r = bus_open_migration_call(bus_service_of_call(m), m, userdata,
                                    bus_empty_to_null(dconnuri) ? dconnuri : uri, PROTOCOL_V3, error);
        if (r <= 0)
                return r < 0 ? r : 1;
        params = migration_params_new_plain(xmlin, dname, uri, bandwidth, flags, &gerror);
        return perform(m, userdata, dconnuri, params, gerror, cookie, error);
}

static int method_perform3_params(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        g_autoptr(GVariant) dict = NULL;
        g_autoptr(GBytes) cookie = NULL;
        g_autoptr(GVariant) migrate_uri = NULL;
        const char *dconnuri, *destination;
        GError *gerror = NULL;
        MigrationParams *params;
        uint32_t flags;
        int r;

        r = sd_bus_message_read(m, "s", &dconnuri);
        if (r >= 0)
                r = bus_message_read_vardict(m, &dict, error);
        if (r >= 0)
                r = bus_read_bytes(m, &cookie);
        if (r >= 0)
                r = sd_bus_message_read(m, "u", &flags);
        if (r < 0)
                return r;
        migrate_uri = g_variant_lookup_value(dict, "migrate_uri", G_VARIANT_TYPE_STRING);
        destination = bus_empty_to_null(dconnuri) ? dconnuri
                      : migrate_uri                ? g_variant_get_string(migrate_uri, NULL)
                                                   : NULL;
        r = bus_open_migration_call(bus_service_of_call(m), m, userdata, destination, PROTOCOL_V3_PARAMS, error);
        if (r <= 0)
                return r < 0 ? r : 1;
        params = migration_params_new(dict, flags, &gerror);
        return perform(m, userdata, dconnuri, params, gerror, cookie, error);
}

/* ---- Confirm ---- */

static void on_confirmed(GObject *source, GAsyncResult *result, gpointer user_data) {
        g_autoptr(sd_bus_message) m = user_data;
        g_autoptr(GError) error = NULL;

        if (!migration_confirm_finish(result, &error))
                return bus_reply_gerror_checked(m, error);
        bus_reply_checked(sd_bus_reply_method_return(m, NULL));
}

static int confirm(sd_bus_message *m, Domain *d, MigrationParams *params, GError *params_error,
                   GBytes *cookie, int cancelled, sd_bus_error *error) {
        g_autoptr(GError) gerror = params_error;

        if (!params)
                return bus_error_set_gerror(error, gerror);
        migration_confirm_async(d, params, cookie, cancelled, on_confirmed, sd_bus_message_ref(m));
        return 1;
}

static int method_confirm3(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        g_autoptr(GBytes) cookie = NULL;
        uint32_t flags;
        int cancelled, r;
        GError *gerror = NULL;
        MigrationParams *params;

        r = bus_open_migration_call(bus_service_of_call(m), m, userdata, NULL, PROTOCOL_V3, error);
        if (r <= 0)
                return r < 0 ? r : 1;

        r = bus_read_bytes(m, &cookie);
        if (r >= 0)
                r = sd_bus_message_read(m, "ub", &flags, &cancelled);
        if (r < 0)
                return r;
        params = migration_params_new_plain(NULL, NULL, NULL, 0, flags, &gerror);
        return confirm(m, userdata, params, gerror, cookie, cancelled, error);
}

static int method_confirm3_params(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        g_autoptr(GBytes) cookie = NULL;
        GError *gerror = NULL;
        MigrationParams *params;
        int cancelled, r;

        r = bus_open_migration_call(bus_service_of_call(m), m, userdata, NULL, PROTOCOL_V3_PARAMS, error);
        if (r <= 0)
                return r < 0 ? r : 1;
        r = bus_read_params_form(m, &cookie, &cancelled, &params, &gerror, error);
        if (r < 0)
                return r;
        return confirm(m, userdata, params, gerror, cookie, cancelled, error);
}

/* ---- Job controls ---- */

static int method_abort_job(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return bus_run_domain_operation(m, userdata, ACTION_MIGRATE, migration_abort_async, error);
}

static int set_value(sd_bus_message *m, Domain *d,
                     gboolean (*set)(Domain *, guint64, guint, GError **), sd_bus_error *error) {
        g_autoptr(GError) gerror = NULL;
        uint64_t value;
        uint32_t flags;
        int r;

        r = bus_authorize(bus_service_of_call(m), m, ACTION_MIGRATE, d, error);
        if (r <= 0)
                return r < 0 ? r : 1;
        r = sd_bus_message_read(m, "tu", &value, &flags);
        if (r < 0)
                return r;
        if (!set(d, value, flags, &gerror))
                return bus_error_set_gerror(error, gerror);
        return sd_bus_reply_method_return(m, NULL);
}

static int get_value(sd_bus_message *m, uint64_t value, sd_bus_error *error) {
        uint32_t flags;
        int r = sd_bus_message_read(m, "u", &flags);

        if (r < 0)
                return r;
        if (flags)
                return bus_error_setf(error, MD_ERROR_INVALID_ARGS, "Unsupported flags 0x%x", flags);
        return sd_bus_reply_method_return(m, "t", value);
}

static int method_migrate_set_max_downtime(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return set_value(m, userdata, migration_set_max_downtime, error);
}

static int method_migrate_get_max_downtime(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return get_value(m, ((Domain *) userdata)->max_downtime_ms, error);
}

static int method_migrate_set_max_speed(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return set_value(m, userdata, migration_set_max_speed, error);
}

static int method_migrate_get_max_speed(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return get_value(m, ((Domain *) userdata)->max_speed_mib, error);
}

static int method_get_job_stats(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        g_autoptr(sd_bus_message) reply = NULL;
        g_autoptr(GVariant) stats = NULL;
        g_autoptr(GError) gerror = NULL;
        const char *type;
        uint32_t flags;
        int r;

        r = sd_bus_message_read(m, "u", &flags);
        if (r < 0)
                return r;
        if (!migration_job_get_stats(userdata, flags, &type, &stats, &gerror))
                return bus_error_set_gerror(error, gerror);
        r = sd_bus_message_new_method_return(m, &reply);
        if (r >= 0)
                r = sd_bus_message_append(reply, "s", type);
        if (r >= 0)
                r = bus_message_append_vardict(reply, stats);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

/* ---- Post-copy ---- */

static int method_migrate_start_post_copy(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return bus_run_domain_operation(m, userdata, ACTION_MIGRATE, migration_start_postcopy_async, error);
}

/* ---- Perform (protocol 2) ---- */

static void on_performed2(GObject *source, GAsyncResult *result, gpointer user_data) {
        g_autoptr(sd_bus_message) m = user_data;
        g_autoptr(GError) error = NULL;

        if (!migration_perform2_finish(result, &error))
                return bus_reply_gerror_checked(m, error);
        bus_reply_checked(sd_bus_reply_method_return(m, NULL));
}

static int method_perform2(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Domain *d = userdata;
        const char *uri, *dname;
        g_autoptr(GBytes) cookie = NULL;
        g_autoptr(GError) gerror = NULL;
        MigrationParams *params;
        uint64_t bandwidth;
        uint32_t flags;
        int r;

        r = bus_read_bytes(m, &cookie);
        if (r >= 0)
                r = sd_bus_message_read(m, "sstu", &uri, &dname, &bandwidth, &flags);
        if (r < 0)
                return r;
        r = bus_open_migration_call(bus_service_of_call(m), m, d, uri, PROTOCOL_V2, error);
        if (r <= 0)
                return r < 0 ? r : 1;
        params = migration_params_new_plain(NULL, dname, uri, bandwidth, flags, &gerror);
        if (!params)
                return bus_error_set_gerror(error, gerror);
        migration_perform2_async(d, params, cookie, sd_bus_message_get_sender(m), TRUE, on_performed2,
                                 sd_bus_message_ref(m));
        return 1;
}

/* ---- Signals ---- */

static void emit_stats_signal(BusService *s, Domain *d, const char *member, GVariant *stats) {
        g_autofree char *path = bus_domain_path(d);
        g_autoptr(sd_bus_message) m = NULL;
        int r;

        r = sd_bus_message_new_signal(s->bus, &m, path, DOMAIN_INTERFACE, member);
        if (r >= 0)
                r = bus_message_append_vardict(m, stats);
        if (r >= 0)
                r = sd_bus_send(s->bus, m, NULL);
        if (r < 0)
                g_warning("Failed to emit %s: %s, ignoring", member, g_strerror(-r));
}

void bus_domain_emit_job_stats_updated(Domain *d, GVariant *stats, gpointer user_data) {
        emit_stats_signal(user_data, d, "JobStatsUpdated", stats);
}

void bus_domain_emit_job_completed(Domain *d, GVariant *stats, gpointer user_data) {
        emit_stats_signal(user_data, d, "JobCompleted", stats);
}

void bus_domain_emit_migration_iteration(Domain *d, guint iteration, gpointer user_data) {
        BusService *s = user_data;
        g_autofree char *path = bus_domain_path(d);
        int r = sd_bus_emit_signal(s->bus, path, DOMAIN_INTERFACE, "MigrationIteration", "u", iteration);

        if (r < 0)
                g_warning("Failed to emit MigrationIteration: %s, ignoring", g_strerror(-r));
}

/* The Domain's second vtable: sd-bus merges it with the first one into one
 * interface, after it (bus_objects_register() adds them in that order). */
static const sd_bus_vtable domain_migration_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD_WITH_ARGS("Begin3",
                                SD_BUS_ARGS("s", xmlin, "s", dname, "t", bandwidth, "u", flags),
                                SD_BUS_RESULT("s", xml, "ay", cookie_out), method_begin3,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Begin3Params", SD_BUS_ARGS("a{sv}", params, "u", flags),
                                SD_BUS_RESULT("s", xml, "ay", cookie_out), method_begin3_params,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Perform3",
                                SD_BUS_ARGS("s", xmlin, "ay", cookie_in, "s", dconnuri, "s", uri,
                                            "s", dname, "t", bandwidth, "u", flags),
                                SD_BUS_RESULT("ay", cookie_out), method_perform3,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Perform3Params",
                                SD_BUS_ARGS("s", dconnuri, "a{sv}", params, "ay", cookie_in, "u", flags),
                                SD_BUS_RESULT("ay", cookie_out), method_perform3_params,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Confirm3", SD_BUS_ARGS("ay", cookie_in, "u", flags, "b", cancelled),
                                SD_BUS_NO_RESULT, method_confirm3, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Confirm3Params",
                                SD_BUS_ARGS("a{sv}", params, "ay", cookie_in, "u", flags, "b", cancelled),
                                SD_BUS_NO_RESULT, method_confirm3_params, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("AbortJob", SD_BUS_ARGS("u", flags), SD_BUS_NO_RESULT, method_abort_job,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("MigrateSetMaxDowntime", SD_BUS_ARGS("t", ms, "u", flags), SD_BUS_NO_RESULT,
                                method_migrate_set_max_downtime, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("MigrateGetMaxDowntime", SD_BUS_ARGS("u", flags), SD_BUS_RESULT("t", ms),
                                method_migrate_get_max_downtime, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("MigrateSetMaxSpeed", SD_BUS_ARGS("t", mib_s, "u", flags), SD_BUS_NO_RESULT,
                                method_migrate_set_max_speed, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("MigrateGetMaxSpeed", SD_BUS_ARGS("u", flags), SD_BUS_RESULT("t", mib_s),
                                method_migrate_get_max_speed, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetJobStats", SD_BUS_ARGS("u", flags),
                                SD_BUS_RESULT("s", type, "a{sv}", stats), method_get_job_stats,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("MigrateToURI3",
                                SD_BUS_ARGS("s", dconnuri, "a{sv}", params, "u", flags), SD_BUS_NO_RESULT,
                                method_migrate_to_uri3, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("MigrateStartPostCopy", SD_BUS_ARGS("u", flags), SD_BUS_NO_RESULT,
                                method_migrate_start_post_copy, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Perform2",
                                SD_BUS_ARGS("ay", cookie_in, "s", uri, "s", dname, "t", bandwidth, "u", flags),
                                SD_BUS_NO_RESULT, method_perform2, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_SIGNAL_WITH_ARGS("MigrationIteration", SD_BUS_ARGS("u", iteration), 0),
        SD_BUS_SIGNAL_WITH_ARGS("JobStatsUpdated", SD_BUS_ARGS("a{sv}", stats), 0),
        SD_BUS_SIGNAL_WITH_ARGS("JobCompleted", SD_BUS_ARGS("a{sv}", stats), 0),
        SD_BUS_VTABLE_END,
};

int bus_domain_migration_register(BusService *s) {
        return sd_bus_add_fallback_vtable(s->bus, NULL, DOMAIN_PATH_PREFIX, DOMAIN_INTERFACE, domain_migration_vtable,
                                          bus_domain_object_find, s);
}
