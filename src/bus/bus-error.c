#define G_LOG_DOMAIN "migrationd"

#include "bus-error.h"
#include "md-error.h"

int bus_error_set_gerror(sd_bus_error *ret, const GError *error) {
        const char *name = "org.freedesktop.DBus.Error.Failed";

        if (error->domain == MD_ERROR)
                name = md_error_to_bus_name(error->code);
        else
                g_warning("Unmapped error reached the bus: %s", error->message);
        return sd_bus_error_set(ret, name, error->message);
}

int bus_reply_gerror(sd_bus_message *m, const GError *error) {
        sd_bus_error e = SD_BUS_ERROR_NULL;
        int r;

        bus_error_set_gerror(&e, error);
        r = sd_bus_reply_method_error(m, &e);
        sd_bus_error_free(&e);
        return r;
}
