#include "ctl-bus.h"

#include <errno.h>

#include "ctl-variant.h"

int ctl_bus_open(const char *address, gboolean allow_interactive_authorization, sd_bus **ret_bus) {
        g_autoptr(sd_bus) bus = NULL;
        int r;

        if (!address) {
                r = sd_bus_open_system(&bus);
                if (r < 0)
                        return r;
        } else {
                r = sd_bus_new(&bus);
                if (r < 0)
                        return r;
                r = sd_bus_set_address(bus, address);
                if (r < 0)
                        return r;
                r = sd_bus_set_bus_client(bus, TRUE);
                if (r < 0)
                        return r;
                r = sd_bus_start(bus);
                if (r < 0)
                        return r;
        }

        r = sd_bus_set_allow_interactive_authorization(bus, allow_interactive_authorization);
        if (r < 0)
                return r;

        *ret_bus = g_steal_pointer(&bus);
        return 0;
}

int ctl_callv(sd_bus *bus, uint64_t timeout_usec, const char *path, const char *interface,
              const char *member, sd_bus_error *error, sd_bus_message **ret_reply,
              const char *types, va_list ap) {
        g_autoptr(sd_bus_message) call = NULL;
        int r;

        r = sd_bus_message_new_method_call(bus, &call, MIGRATION1_SERVICE, path, interface, member);
        if (r < 0)
                return r;

        if (types) {
                r = sd_bus_message_appendv(call, types, ap);
                if (r < 0)
                        return r;
        }

        return sd_bus_call(bus, call, timeout_usec, error, ret_reply);
}

int ctl_call(sd_bus *bus, const char *path, const char *interface, const char *member,
             sd_bus_error *error, sd_bus_message **ret_reply, const char *types, ...) {
        va_list ap;
        int r;

        va_start(ap, types);
        r = ctl_callv(bus, CTL_CALL_TIMEOUT_USEC, path, interface, member, error, ret_reply, types, ap);
        va_end(ap);
        return r;
}

int ctl_get_all_properties(sd_bus *bus, const char *path, const char *interface,
                           sd_bus_error *error, GVariant **ret_properties) {
        g_autoptr(sd_bus_message) reply = NULL;
        int r;

        r = ctl_call(bus, path, "org.freedesktop.DBus.Properties", "GetAll",
                     error, &reply, "s", interface);
        if (r < 0)
                return r;

        return ctl_message_read_variant(reply, ret_properties);
}

const char *ctl_error_message(const sd_bus_error *error, int r) {
        if (error && error->message && error->message[0])
                return error->message;
        if (error && error->name)
                return error->name;
        return g_strerror(-r);
}

int ctl_log_error(int r, const sd_bus_error *error, const char *format, ...) {
        g_autofree char *prefix = NULL;
        va_list ap;

        va_start(ap, format);
        prefix = g_strdup_vprintf(format, ap);
        va_end(ap);

        g_printerr("%s: %s\n", prefix, ctl_error_message(error, r));
        return r;
}

static int read_object_path(sd_bus_message *reply, char **ret_path) {
        const char *path;
        int r;

        r = sd_bus_message_read(reply, "o", &path);
        if (r < 0)
                return r;

        *ret_path = g_strdup(path);
        return 0;
}

int ctl_lookup_domain(sd_bus *bus, const char *name_or_uuid, sd_bus_error *error, char **ret_path) {
        g_autoptr(sd_bus_message) reply = NULL;
        int r;

        r = ctl_call(bus, MIGRATION1_MANAGER_PATH, MIGRATION1_MANAGER_INTERFACE, "LookupByName",
                     error, &reply, "s", name_or_uuid);
        if (r >= 0)
                return read_object_path(reply, ret_path);

        if (!g_uuid_string_is_valid(name_or_uuid) ||
            !sd_bus_error_has_names(error, MIGRATION1_ERROR_NO_SUCH_DOMAIN, SD_BUS_ERROR_INVALID_ARGS))
                return r;

        sd_bus_error_free(error);
        r = ctl_call(bus, MIGRATION1_MANAGER_PATH, MIGRATION1_MANAGER_INTERFACE, "LookupByUUID",
                     error, &reply, "s", name_or_uuid);
        if (r < 0)
                return r;
        return read_object_path(reply, ret_path);
}

gboolean ctl_error_is_vanished_object(const sd_bus_error *error) {
        return sd_bus_error_has_names(error,
                                      MIGRATION1_ERROR_NO_SUCH_DOMAIN,
                                      SD_BUS_ERROR_UNKNOWN_OBJECT,
                                      SD_BUS_ERROR_UNKNOWN_INTERFACE);
}
