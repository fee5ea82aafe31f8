#define G_LOG_DOMAIN "migrationd"

#include "bus-error.h"
#include "bus-glib.h"
#include "bus-migration.h"
#include "bus-service.h"
#include "bus-variant.h"
#include "migration-job.h"
#include "md-error.h"

/* The daemon has one bus face; domain handlers reach it through here. */
static BusService *the_service;

BusService *bus_service_get(void) {
        return the_service;
}

int bus_authorize(sd_bus_message *m, const char *action, Domain *d, sd_bus_error *error) {
        const char *details[] = { "domain", d ? domain_name(d) : NULL, NULL };

        return bus_polkit_check(the_service->polkit, m, action, d ? details : NULL, error);
}

/* polkit rules may grant migrations per destination too. The message is
 * read before the check: an answered check dispatches it again, rewound. */
int bus_authorize_migration(sd_bus_message *m, Domain *d, const char *destination, sd_bus_error *error) {
        const char *details[] = { "domain", domain_name(d), "destination", destination, NULL };

        if (!destination || !*destination)
                details[2] = NULL;
        return bus_polkit_check(the_service->polkit, m, ACTION_MIGRATE, details, error);
}

char *bus_domain_path(Domain *d) {
        char *path = NULL;

        if (sd_bus_path_encode(DOMAIN_PATH_PREFIX, domain_uuid(d), &path) < 0)
                g_error("Out of memory");
        return path;
}

static int domain_object_find(sd_bus *bus, const char *path, const char *interface, void *userdata,
                              void **ret_found, sd_bus_error *error) {
        BusService *s = userdata;
        g_autofree char *uuid = NULL;
        Domain *d;

        if (sd_bus_path_decode(path, DOMAIN_PATH_PREFIX, &uuid) <= 0)
                return 0;
        d = g_hash_table_lookup(s->registry->by_uuid, uuid);
        if (!d)
                return 0;
        *ret_found = d;
        return 1;
}

static int domain_node_enumerator(sd_bus *bus, const char *path, void *userdata, char ***nodes,
                                  sd_bus_error *error) {
        BusService *s = userdata;
        g_autoptr(GPtrArray) list = registry_list(s->registry, 0);
        char **paths = g_new0(char *, list->len + 1);

        for (guint i = 0; i < list->len; i++)
                paths[i] = bus_domain_path(list->pdata[i]);
        *nodes = paths;
        return 1;
}

/* ---- Properties ---- */

static int property_get_name(sd_bus *bus, const char *path, const char *interface,
                             const char *property, sd_bus_message *reply, void *userdata,
                             sd_bus_error *error) {
        return sd_bus_message_append(reply, "s", domain_name(userdata));
}

static int property_get_uuid(sd_bus *bus, const char *path, const char *interface,
                             const char *property, sd_bus_message *reply, void *userdata,
                             sd_bus_error *error) {
        return sd_bus_message_append(reply, "s", domain_uuid(userdata));
}

static int property_get_state(sd_bus *bus, const char *path, const char *interface,
                              const char *property, sd_bus_message *reply, void *userdata,
                              sd_bus_error *error) {
        Domain *d = userdata;
        return sd_bus_message_append(reply, "s", domain_state_to_string(d->state));
}

static int property_get_state_reason(sd_bus *bus, const char *path, const char *interface,
                                     const char *property, sd_bus_message *reply, void *userdata,
                                     sd_bus_error *error) {
        Domain *d = userdata;
        return sd_bus_message_append(reply, "s", d->state_reason);
}

static int property_get_persistent(sd_bus *bus, const char *path, const char *interface,
                                   const char *property, sd_bus_message *reply, void *userdata,
                                   sd_bus_error *error) {
        return sd_bus_message_append(reply, "b", domain_is_persistent(userdata));
}

static int property_get_job_type(sd_bus *bus, const char *path, const char *interface,
                                 const char *property, sd_bus_message *reply, void *userdata,
                                 sd_bus_error *error) {
        Domain *d = userdata;
        return sd_bus_message_append(reply, "s", job_type_to_string(d->job ? d->job->type : JOB_TYPE_NONE));
}

static int property_get_job_phase(sd_bus *bus, const char *path, const char *interface,
                                  const char *property, sd_bus_message *reply, void *userdata,
                                  sd_bus_error *error) {
        Domain *d = userdata;
        return sd_bus_message_append(reply, "s", job_phase_to_string(d->job ? d->job->phase : JOB_PHASE_NONE));
}

static int property_get_job_progress(sd_bus *bus, const char *path, const char *interface,
                                     const char *property, sd_bus_message *reply, void *userdata,
                                     sd_bus_error *error) {
        Domain *d = userdata;
        return sd_bus_message_append(reply, "d", d->job ? d->job->progress.progress : 0.0);
}

/* ---- Methods ---- */


static void on_operation_done(GObject *source, GAsyncResult *result, gpointer user_data) {
        g_autoptr(sd_bus_message) m = user_data;
        g_autoptr(GError) error = NULL;
        int r;

        the_service->operations_in_flight--;
        /* The domain may be gone by now (a transient one that stopped):
         * only the result and the message are used here. */
        if (domain_operation_finish(NULL, result, &error))
                r = sd_bus_reply_method_return(m, NULL);
        else
                r = bus_reply_gerror(m, error);
        if (r < 0)
                g_warning("Failed to send reply: %s, ignoring", g_strerror(-r));
}

/* Replies when the operation has finished; the loop serves others meanwhile. */
int bus_run_domain_operation(sd_bus_message *m, Domain *d, const char *action, DomainOperation operation,
                             sd_bus_error *error) {
        uint32_t flags;
        int r;

        r = bus_authorize(m, action, d, error);
        if (r <= 0)
                return r < 0 ? r : 1;
        r = sd_bus_message_read(m, "u", &flags);
        if (r < 0)
                return r;
        the_service->operations_in_flight++;
        operation(d, flags, on_operation_done, sd_bus_message_ref(m));
        return 1;
}

static int method_start(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return bus_run_domain_operation(m, userdata, ACTION_MANAGE, domain_start_async, error);
}

static int method_shutdown(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return bus_run_domain_operation(m, userdata, ACTION_MANAGE, domain_shutdown_async, error);
}

static int method_destroy(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return bus_run_domain_operation(m, userdata, ACTION_MANAGE, domain_destroy_async, error);
}

static int method_suspend(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return bus_run_domain_operation(m, userdata, ACTION_MANAGE, domain_suspend_async, error);
}

static int method_resume(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return bus_run_domain_operation(m, userdata, ACTION_MANAGE, domain_resume_async, error);
}

static int method_undefine(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Domain *d = userdata;
        g_autoptr(GError) gerror = NULL;
        uint32_t flags;
        int r;

        r = bus_authorize(m, ACTION_MANAGE, d, error);
        if (r <= 0)
                return r < 0 ? r : 1;
        r = sd_bus_message_read(m, "u", &flags);
        if (r < 0)
                return r;
        if (!registry_undefine(d->registry, d, flags, &gerror))
                return bus_error_set_gerror(error, gerror);
        return sd_bus_reply_method_return(m, NULL);
}

static int method_get_xml_desc(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        g_autoptr(GError) gerror = NULL;
        g_autofree char *xml = NULL;
        uint32_t flags;
        int r;

        r = sd_bus_message_read(m, "u", &flags);
        if (r < 0)
                return r;
        xml = domain_get_xml(userdata, flags, &gerror);
        if (!xml)
                return bus_error_set_gerror(error, gerror);
        return sd_bus_reply_method_return(m, "s", xml);
}

static const sd_bus_vtable domain_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Name", "s", property_get_name, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("UUID", "s", property_get_uuid, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("State", "s", property_get_state, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("StateReason", "s", property_get_state_reason, 0,
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Persistent", "b", property_get_persistent, 0,
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("JobType", "s", property_get_job_type, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("JobPhase", "s", property_get_job_phase, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("JobProgress", "d", property_get_job_progress, 0,
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("MaxDowntime", "t", NULL, offsetof(Domain, max_downtime_ms),
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("MaxSpeed", "t", NULL, offsetof(Domain, max_speed_mib),
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_METHOD_WITH_ARGS("Start", SD_BUS_ARGS("u", flags), SD_BUS_NO_RESULT, method_start,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Shutdown", SD_BUS_ARGS("u", flags), SD_BUS_NO_RESULT,
                                method_shutdown, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Destroy", SD_BUS_ARGS("u", flags), SD_BUS_NO_RESULT, method_destroy,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Suspend", SD_BUS_ARGS("u", flags), SD_BUS_NO_RESULT, method_suspend,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Resume", SD_BUS_ARGS("u", flags), SD_BUS_NO_RESULT, method_resume,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Undefine", SD_BUS_ARGS("u", flags), SD_BUS_NO_RESULT,
                                method_undefine, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetXMLDesc", SD_BUS_ARGS("u", flags), SD_BUS_RESULT("s", xml),
                                method_get_xml_desc, SD_BUS_VTABLE_UNPRIVILEGED),
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

int bus_domain_register(BusService *s) {
        int r;

        the_service = s;
        r = sd_bus_add_fallback_vtable(s->bus, NULL, DOMAIN_PATH_PREFIX, DOMAIN_INTERFACE,
                                       domain_vtable, domain_object_find, s);
        if (r < 0)
                return r;
        return sd_bus_add_node_enumerator(s->bus, NULL, DOMAIN_PATH_PREFIX, domain_node_enumerator, s);
}

/* ---- Registry listener ---- */

static void on_domain_added(Domain *d, gpointer user_data) {
        BusService *s = user_data;
        g_autofree char *path = bus_domain_path(d);
        int r = sd_bus_emit_object_added(s->bus, path);

        if (r < 0)
                g_warning("Failed to announce %s: %s, ignoring", path, g_strerror(-r));
}

static void on_domain_removed(Domain *d, gpointer user_data) {
        BusService *s = user_data;
        g_autofree char *path = bus_domain_path(d);
        int r = sd_bus_emit_object_removed(s->bus, path);

        if (r < 0)
                g_warning("Failed to announce removal of %s: %s, ignoring", path, g_strerror(-r));
}

static void on_domain_changed(Domain *d, const char *const *properties, gpointer user_data) {
        BusService *s = user_data;
        g_autofree char *path = bus_domain_path(d);
        int r = sd_bus_emit_properties_changed_strv(s->bus, path, DOMAIN_INTERFACE, (char **) properties);

        if (r < 0)
                g_warning("Failed to signal changes of %s: %s, ignoring", path, g_strerror(-r));
}

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

static void on_job_stats_updated(Domain *d, GVariant *stats, gpointer user_data) {
        emit_stats_signal(user_data, d, "JobStatsUpdated", stats);
}

static void on_job_completed(Domain *d, GVariant *stats, gpointer user_data) {
        emit_stats_signal(user_data, d, "JobCompleted", stats);
}

static void on_migration_iteration(Domain *d, guint iteration, gpointer user_data) {
        BusService *s = user_data;
        g_autofree char *path = bus_domain_path(d);
        int r = sd_bus_emit_signal(s->bus, path, DOMAIN_INTERFACE, "MigrationIteration", "u", iteration);

        if (r < 0)
                g_warning("Failed to emit MigrationIteration: %s, ignoring", g_strerror(-r));
}

const RegistryListener bus_registry_listener = {
        .domain_added = on_domain_added,
        .domain_removed = on_domain_removed,
        .domain_changed = on_domain_changed,
        .job_stats_updated = on_job_stats_updated,
        .job_completed = on_job_completed,
        .migration_iteration = on_migration_iteration,
        .watch_client = bus_migration_watch_client,
};
