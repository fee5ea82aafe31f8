/* One object per domain: its properties and lifecycle methods with their
 * vtable (the Domain interface's first; bus-domain-migration.c adds the
 * migration calls), the object lookup and node enumerator, and the registry
 * listener that keeps the bus in step. Handlers' userdata: the Domain. */
#define G_LOG_DOMAIN "migrationd"

#include "bus-error.h"
#include "bus-internal.h"
#include "bus-migration.h"
#include "migration-job.h"
#include "md-error.h"

char *bus_domain_path(Domain *d) {
        char *path = NULL;

        if (sd_bus_path_encode(DOMAIN_PATH_PREFIX, domain_uuid(d), &path) < 0)
                g_error("Out of memory");
        return path;
}

int bus_domain_object_find(sd_bus *bus, const char *path, const char *interface, void *userdata, void **ret_found,
                           sd_bus_error *error) {
        BusService *s = userdata;
        g_autofree char *uuid = NULL;
        Domain *d;

        if (sd_bus_path_decode(path, DOMAIN_PATH_PREFIX, &uuid) <= 0)
                return 0;
        d = registry_lookup_by_uuid(s->registry, uuid, NULL);
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
        return sd_bus_message_append_basic(reply, 's', domain_name(userdata));
}

static int property_get_uuid(sd_bus *bus, const char *path, const char *interface,
                             const char *property, sd_bus_message *reply, void *userdata,
                             sd_bus_error *error) {
        return sd_bus_message_append_basic(reply, 's', domain_uuid(userdata));
}

static int property_get_state(sd_bus *bus, const char *path, const char *interface,
                              const char *property, sd_bus_message *reply, void *userdata,
                              sd_bus_error *error) {
        Domain *d = userdata;
        return sd_bus_message_append_basic(reply, 's', domain_state_to_string(d->state));
}

static int property_get_state_reason(sd_bus *bus, const char *path, const char *interface,
                                     const char *property, sd_bus_message *reply, void *userdata,
                                     sd_bus_error *error) {
        Domain *d = userdata;
        return sd_bus_message_append_basic(reply, 's', d->state_reason);
}

static int property_get_persistent(sd_bus *bus, const char *path, const char *interface,
                                   const char *property, sd_bus_message *reply, void *userdata,
                                   sd_bus_error *error) {
        int persistent = domain_is_persistent(userdata);

        return sd_bus_message_append_basic(reply, 'b', &persistent);
}

static int property_get_job_type(sd_bus *bus, const char *path, const char *interface,
                                 const char *property, sd_bus_message *reply, void *userdata,
                                 sd_bus_error *error) {
        Domain *d = userdata;
        return sd_bus_message_append_basic(reply, 's',
                                           job_type_to_string(d->job ? d->job->type : JOB_TYPE_NONE));
}

static int property_get_job_phase(sd_bus *bus, const char *path, const char *interface,
                                  const char *property, sd_bus_message *reply, void *userdata,
                                  sd_bus_error *error) {
        Domain *d = userdata;
        return sd_bus_message_append_basic(reply, 's',
                                           job_phase_to_string(d->job ? d->job->phase : JOB_PHASE_NONE));
}

static int property_get_job_progress(sd_bus *bus, const char *path, const char *interface,
                                     const char *property, sd_bus_message *reply, void *userdata,
                                     sd_bus_error *error) {
        Domain *d = userdata;
        double progress = migration_job_progress(d);

        return sd_bus_message_append_basic(reply, 'd', &progress);
}

/* ---- Methods ---- */

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

        r = bus_authorize(bus_service_of_call(m), m, ACTION_MANAGE, d, error);
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

const sd_bus_vtable bus_domain_vtable[] = {
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
        SD_BUS_VTABLE_END,
};

int bus_domain_register(BusService *s) {
        int r;

        r = sd_bus_add_fallback_vtable(s->bus, NULL, DOMAIN_PATH_PREFIX, DOMAIN_INTERFACE,
                                       bus_domain_vtable, bus_domain_object_find, s);
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

const RegistryListener bus_registry_listener = {
        .domain_added = on_domain_added,
        .domain_removed = on_domain_removed,
        .domain_changed = on_domain_changed,
        .job_stats_updated = bus_domain_emit_job_stats_updated,
        .job_completed = bus_domain_emit_job_completed,
        .migration_iteration = bus_domain_emit_migration_iteration,
        .watch_client = bus_service_watch_client,
};
