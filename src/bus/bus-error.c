#define G_LOG_DOMAIN "migrationd"

#include "bus-error.h"

int bus_error_set_gerror(sd_bus_error *ret, const GError *error) {
        const char *name = "org.freedesktop.DBus.Error.Failed";

        if (error->domain == MD_ERROR)
                name = md_error_to_bus_name(error->code);
        else
                g_warning("Unmapped error reached the bus: %s", error->message);
        return sd_bus_error_set(ret, name, error->message);
}

int bus_error_setf(sd_bus_error *ret, MdError code, const char *format, ...) {
        g_autoptr(GError) error = NULL;
        va_list ap;

        va_start(ap, format);
        error = g_error_new_valist(MD_ERROR, code, format, ap);
        va_end(ap);
        return bus_error_set_gerror(ret, error);
}

int bus_reply_gerror(sd_bus_message *m, const GError *error) {
        sd_bus_error e = SD_BUS_ERROR_NULL;
        int r;

        bus_error_set_gerror(&e, error);
        r = sd_bus_reply_method_error(m, &e);
        sd_bus_error_free(&e);
        return r;
}
