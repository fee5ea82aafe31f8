/* The destination's phases on the Manager (Prepare, Finish; protocol 3,
 * its params form, and 2), their vtable, and their handlers, which
 * PeerRelay runs for peers too. userdata: the BusService. */
#define G_LOG_DOMAIN "migrationd"

#include "bus-destination-phases.h"
#include "bus-error.h"
#include "bus-migration.h"
#include "bus-variant.h"
#include "migration.h"

/* ---- Prepare (destination) ---- */

static void on_prepared(GObject *source, GAsyncResult *result, gpointer user_data) {
        g_autoptr(sd_bus_message) m = user_data;
        g_autoptr(sd_bus_message) reply = NULL;
        g_autoptr(GError) error = NULL;
        g_autoptr(GBytes) cookie = NULL;
        g_autofree char *uri = NULL;
        int r;

        if (!migration_prepare_finish(result, &cookie, &uri, &error))
                return bus_reply_gerror_checked(m, error);
        r = sd_bus_message_new_method_return(m, &reply);
        if (r >= 0)
                r = bus_append_bytes(reply, cookie);
        if (r >= 0)
                r = sd_bus_message_append(reply, "s", uri);
        if (r >= 0)
                r = sd_bus_send(NULL, reply, NULL);
        bus_reply_checked(r);
}

static int prepare(sd_bus_message *m, BusService *s, MigrationParams *params, GError *params_error,
                   GBytes *cookie, sd_bus_error *error) {
        g_autoptr(GError) gerror = params_error;

        if (!params)
                return bus_error_set_gerror(error, gerror);
        migration_prepare_async(s->registry, params, cookie, sd_bus_message_get_sender(m), on_prepared,
                                sd_bus_message_ref(m));
        return 1;
}

int method_prepare3(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        const char *dom_xml, *dname, *uri_in;
        g_autoptr(GBytes) cookie = NULL;
        uint64_t bandwidth;
        uint32_t flags;
        GError *gerror = NULL;
        MigrationParams *params;
        int r;

        r = bus_open_migration_call(userdata, m, NULL, NULL, PROTOCOL_V3, error);
        if (r <= 0)
                return r < 0 ? r : 1;

        r = sd_bus_message_read(m, "sst", &dom_xml, &dname, &bandwidth);
        if (r >= 0)
                r = bus_read_bytes(m, &cookie);
        if (r >= 0)
                r = sd_bus_message_read(m, "su", &uri_in, &flags);
        if (r < 0)
                return r;
        params = migration_params_new_plain(dom_xml, dname, uri_in, bandwidth, flags, &gerror);
        return prepare(m, userdata, params, gerror, cookie, error);
}

int method_prepare3_params(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        g_autoptr(GBytes) cookie = NULL;
        GError *gerror = NULL;
        MigrationParams *params;
        int r;

        r = bus_open_migration_call(userdata, m, NULL, NULL, PROTOCOL_V3_PARAMS, error);
        if (r <= 0)
                return r < 0 ? r : 1;
        r = bus_read_params_form(m, &cookie, NULL, &params, &gerror, error);
        if (r < 0)
                return r;
        return prepare(m, userdata, params, gerror, cookie, error);
}

/* ---- Finish (destination) ---- */

/* The finished domain's object path; a cancelled migration leaves no
 * domain: the null object path. */
static char *finished_path(const char *uuid) {
        char *path = NULL;

        if (!uuid)
                return g_strdup("/");
        if (sd_bus_path_encode(DOMAIN_PATH_PREFIX, uuid, &path) < 0)
                g_error("Out of memory");
        return path;
}

static void on_finished(GObject *source, GAsyncResult *result, gpointer user_data) {
        g_autoptr(sd_bus_message) m = user_data;
        g_autoptr(sd_bus_message) reply = NULL;
        g_autoptr(GError) error = NULL;
        g_autoptr(GBytes) cookie = NULL;
        g_autofree char *uuid = migration_finish_finish(result, &cookie, &error);
        g_autofree char *path = NULL;
        int r;

        if (error)
                return bus_reply_gerror_checked(m, error);
        path = finished_path(uuid);
        r = sd_bus_message_new_method_return(m, &reply);
        if (r >= 0)
                r = sd_bus_message_append(reply, "o", path);
        if (r >= 0)
                r = bus_append_bytes(reply, cookie);
        if (r >= 0)
                r = sd_bus_send(NULL, reply, NULL);
        bus_reply_checked(r);
}

static int finish(sd_bus_message *m, BusService *s, MigrationParams *params, GError *params_error,
                  GBytes *cookie, int cancelled, sd_bus_error *error) {
        g_autoptr(GError) gerror = params_error;

        if (!params)
                return bus_error_set_gerror(error, gerror);
        migration_finish_async(s->registry, params, cookie, cancelled, on_finished, sd_bus_message_ref(m));
        return 1;
}

int method_finish3(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        const char *dname, *uri;
        g_autoptr(GBytes) cookie = NULL;
        uint32_t flags;
        int cancelled, r;
        GError *gerror = NULL;
        MigrationParams *params;

        r = bus_open_migration_call(userdata, m, NULL, NULL, PROTOCOL_V3, error);
        if (r <= 0)
                return r < 0 ? r : 1;

        r = sd_bus_message_read(m, "s", &dname);
        if (r >= 0)
                r = bus_read_bytes(m, &cookie);
        if (r >= 0)
                r = sd_bus_message_read(m, "sub", &uri, &flags, &cancelled);
        if (r < 0)
                return r;
        params = migration_params_new_plain(NULL, dname, uri, 0, flags, &gerror);
        return finish(m, userdata, params, gerror, cookie, cancelled, error);
}

int method_finish3_params(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        g_autoptr(GBytes) cookie = NULL;
        GError *gerror = NULL;
        MigrationParams *params;
        int cancelled, r;

        r = bus_open_migration_call(userdata, m, NULL, NULL, PROTOCOL_V3_PARAMS, error);
        if (r <= 0)
                return r < 0 ? r : 1;
        r = bus_read_params_form(m, &cookie, &cancelled, &params, &gerror, error);
        if (r < 0)
                return r;
        return finish(m, userdata, params, gerror, cookie, cancelled, error);
}

/* ---- Protocol 2 (destination) ---- */

int method_prepare2(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        BusService *s = userdata;
        const char *dom_xml, *dname, *uri_in;
        uint64_t bandwidth;
        uint32_t flags;
        g_autoptr(GError) gerror = NULL;
        MigrationParams *params;
        int r;

        r = bus_open_migration_call(s, m, NULL, NULL, PROTOCOL_V2, error);
        if (r <= 0)
                return r < 0 ? r : 1;
        r = sd_bus_message_read(m, "sstsu", &dom_xml, &dname, &bandwidth, &uri_in, &flags);
        if (r < 0)
                return r;
        params = migration_params_new_plain(dom_xml, dname, uri_in, bandwidth, flags, &gerror);
        if (!params)
                return bus_error_set_gerror(error, gerror);
        migration_prepare2_async(s->registry, params, sd_bus_message_get_sender(m), on_prepared,
                                 sd_bus_message_ref(m));
        return 1;
}

static void on_finished2(GObject *source, GAsyncResult *result, gpointer user_data) {
        g_autoptr(sd_bus_message) m = user_data;
        g_autoptr(GError) error = NULL;
        g_autoptr(GBytes) cookie = NULL;
        g_autofree char *uuid = migration_finish_finish(result, &cookie, &error);
        g_autofree char *path = NULL;

        if (error)
                return bus_reply_gerror_checked(m, error);
        path = finished_path(uuid);
        bus_reply_checked(sd_bus_reply_method_return(m, "o", path));
}

static int finish2(sd_bus_message *m, BusService *s, gboolean source_waits, sd_bus_error *error) {
        const char *dname, *uri;
        g_autoptr(GBytes) cookie = NULL;
        g_autoptr(GError) gerror = NULL;
        MigrationParams *params;
        uint32_t flags;
        int32_t retcode;
        int r;

        r = bus_open_migration_call(s, m, NULL, NULL, PROTOCOL_V2, error);
        if (r <= 0)
                return r < 0 ? r : 1;
        r = sd_bus_message_read(m, "s", &dname);
        if (r >= 0)
                r = bus_read_bytes(m, &cookie);
        if (r >= 0)
                r = sd_bus_message_read(m, "sui", &uri, &flags, &retcode);
        if (r < 0)
                return r;
        params = migration_params_new_plain(NULL, dname, uri, 0, flags, &gerror);
        if (!params)
                return bus_error_set_gerror(error, gerror);
        migration_finish2_async(s->registry, params, retcode, source_waits, on_finished2, sd_bus_message_ref(m));
        return 1;
}

/* A managed client called Perform2, which stopped the source guest. */
int method_finish2(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return finish2(m, userdata, FALSE, error);
}

int method_finish2_from_peer(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return finish2(m, userdata, TRUE, error);
}

#define MANAGER_PHASE(member, name, in, in_names, out, out_names) \
        BUS_PHASE_METHOD(member, in, in_names, out, out_names, method_##name),

/* The Manager's second vtable: sd-bus merges it with the first one into one
 * interface, after it (bus_objects_register() adds them in that order). */
static const sd_bus_vtable manager_migration_vtable[] = {
        SD_BUS_VTABLE_START(0),
        BUS_DESTINATION_PHASES(MANAGER_PHASE)
        SD_BUS_VTABLE_END,
};

int bus_manager_migration_register(BusService *s) {
        return sd_bus_add_object_vtable(s->bus, NULL, MANAGER_PATH, MANAGER_INTERFACE, manager_migration_vtable, s);
}
