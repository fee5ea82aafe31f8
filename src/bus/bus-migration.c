/* Helpers of the migration calls, source and destination alike. */
#define G_LOG_DOMAIN "migrationd"

#include "bus-error.h"
#include "bus-migration.h"
#include "bus-variant.h"
#include "md-error.h"

int bus_read_bytes(sd_bus_message *m, GBytes **ret) {
        const void *data = NULL;
        size_t size = 0;
        int r = sd_bus_message_read_array(m, 'y', &data, &size);

        if (r < 0)
                return r;
        *ret = g_bytes_new(data, size);
        return 0;
}

int bus_append_bytes(sd_bus_message *reply, GBytes *bytes) {
        gsize size = 0;
        const void *data = bytes ? g_bytes_get_data(bytes, &size) : NULL;

        return sd_bus_message_append_array(reply, 'y', data ? data : "", size);
}

int bus_read_params_form(sd_bus_message *m, GBytes **ret_cookie, int *ret_cancelled,
                         MigrationParams **ret_params, GError **ret_params_error, sd_bus_error *error) {
        g_autoptr(GVariant) dict = NULL;
        uint32_t flags;
        int r;

        r = bus_message_read_vardict(m, &dict, error);
        if (r >= 0 && ret_cookie)
                r = bus_read_bytes(m, ret_cookie);
        if (r >= 0)
                r = sd_bus_message_read(m, "u", &flags);
        if (r >= 0 && ret_cancelled)
                r = sd_bus_message_read(m, "b", ret_cancelled);
        if (r < 0)
                return r;
        *ret_params = migration_params_new(dict, flags, ret_params_error);
        return 0;
}

void bus_reply_checked(int r) {
        if (r < 0)
                g_warning("Failed to send reply: %s, ignoring", g_strerror(-r));
}

void bus_reply_gerror_checked(sd_bus_message *m, const GError *error) {
        bus_reply_checked(bus_reply_gerror(m, error));
}

int bus_open_migration_call(BusService *s, sd_bus_message *m, Domain *d, const char *destination,
                            ProtocolMask protocol, sd_bus_error *error) {
        g_autoptr(GError) gerror = NULL;
        int r = d ? bus_authorize_migration(s, m, d, destination, error)
                  : bus_authorize(s, m, ACTION_MIGRATE, NULL, error);

        if (r <= 0)
                return r;
        if (!bus_protocol_accepted(s->config, protocol, &gerror))
                return bus_error_set_gerror(error, gerror);
        return 1;
}

gboolean bus_protocol_accepted(MdConfig *config, ProtocolMask protocol, GError **error) {
        static const struct {
                ProtocolMask mask;
                const char *name;
        } names[] = {
                { PROTOCOL_V3_PARAMS, "3-params (protocol 3 with extensible parameters)" },
                { PROTOCOL_V3, "3 (protocol 3 with plain arguments)" },
                { PROTOCOL_V2, "2" },
        };

        if (config->protocols & protocol)
                return TRUE;
        for (guint i = 0; i < G_N_ELEMENTS(names); i++)
                if (names[i].mask == protocol)
                        g_set_error(error, MD_ERROR, MD_ERROR_PROTOCOL_MISMATCH,
                                    "This host does not accept migration protocol %s; its "
                                    "[migration] protocol_versions leaves it out", names[i].name);
        return FALSE;
}
