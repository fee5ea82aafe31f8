/* Encoding the migration cookie (format: migration-cookie.c): checked first
 * by the rules decoding applies, so that what is sent decodes again. */
#define G_LOG_DOMAIN "migrationd"

#include <math.h>
#include <string.h>
#include <json-glib/json-glib.h>

#include "i18n.h"
#include "md-error.h"
#include "migration-cookie.h"
#include "migration-cookie-private.h"

static gboolean check_stats(GVariant *stats, GError **error) {
        g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);
        GVariantIter iter;
        const char *key;
        GVariant *child;

        if (!g_variant_is_of_type(stats, G_VARIANT_TYPE_VARDICT))
                return invalid(error, _("Migration cookie statistics are of type '%s', not 'a{sv}'"),
                               g_variant_get_type_string(stats));

        g_variant_iter_init(&iter, stats);
        while (g_variant_iter_next(&iter, "{&sv}", &key, &child)) {
                g_autoptr(GVariant) value = child;
                const char *type = g_variant_get_type_string(value);

                if (!migration_cookie_is_identifier(key))
                        return invalid(error, _("Migration cookie has a statistic with an invalid name; a "
                                                "statistic name is 1 to %d characters of A-Z, a-z, 0-9, '.', '_' and '-'"),
                                       IDENTIFIER_MAX_BYTES);
                if (!g_hash_table_add(seen, (gpointer) key))
                        return invalid(error, _("Migration cookie has statistic '%s' twice"), key);
                if (strlen(type) != 1 || !strchr(STAT_TYPES, type[0]))
                        return invalid(error, _("Migration cookie statistic '%s' is of type '%s'; statistics "
                                                "are of type t, x, u, i, d, b or s"), key, type);
                if (type[0] == 'd' && !isfinite(g_variant_get_double(value)))
                        return invalid(error, _("Migration cookie statistic '%s' is not a finite number"), key);
        }
        return TRUE;
}

/* ---- Encoding ---- */

static void add_string_member(JsonBuilder *builder, const char *name, const char *value) {
        json_builder_set_member_name(builder, name);
        json_builder_add_string_value(builder, value);
}

static void add_int_member(JsonBuilder *builder, const char *name, gint64 value) {
        json_builder_set_member_name(builder, name);
        json_builder_add_int_value(builder, value);
}

static void add_stat_value(JsonBuilder *builder, GVariant *value) {
        guint64 u;

        switch (g_variant_get_type_string(value)[0]) {
        case 't':
                /* json-glib integers are gint64. */
                u = g_variant_get_uint64(value);
                if (u <= G_MAXINT64)
                        json_builder_add_int_value(builder, (gint64) u);
                else {
                        g_autofree char *s = g_strdup_printf("%" G_GUINT64_FORMAT, u);
                        json_builder_add_string_value(builder, s);
                }
                break;
        case 'x':
                json_builder_add_int_value(builder, g_variant_get_int64(value));
                break;
        case 'u':
                json_builder_add_int_value(builder, g_variant_get_uint32(value));
                break;
        case 'i':
                json_builder_add_int_value(builder, g_variant_get_int32(value));
                break;
        case 'd':
                json_builder_add_double_value(builder, g_variant_get_double(value));
                break;
        case 'b':
                json_builder_add_boolean_value(builder, g_variant_get_boolean(value));
                break;
        case 's':
                json_builder_add_string_value(builder, g_variant_get_string(value, NULL));
                break;
        default:
                g_assert_not_reached();         /* check_stats() */
        }
}

static void add_stats(JsonBuilder *builder, GVariant *stats) {
        GVariantIter iter;
        const char *key;
        GVariant *child;

        json_builder_set_member_name(builder, "stats");
        json_builder_begin_object(builder);
        g_variant_iter_init(&iter, stats);
        while (g_variant_iter_next(&iter, "{&sv}", &key, &child)) {
                g_autoptr(GVariant) value = child;

                json_builder_set_member_name(builder, key);
                json_builder_begin_object(builder);
                add_string_member(builder, "type", g_variant_get_type_string(value));
                json_builder_set_member_name(builder, "value");
                add_stat_value(builder, value);
                json_builder_end_object(builder);
        }
        json_builder_end_object(builder);
}

static void add_features(JsonBuilder *builder, GPtrArray *features) {
        json_builder_set_member_name(builder, "features");
        json_builder_begin_array(builder);
        for (guint i = 0; i < features->len; i++) {
                const MigrationCookieFeature *feature = features->pdata[i];

                json_builder_begin_object(builder);
                add_string_member(builder, "name", feature->name);
                json_builder_set_member_name(builder, "mandatory");
                json_builder_add_boolean_value(builder, feature->mandatory);
                json_builder_end_object(builder);
        }
        json_builder_end_array(builder);
}

static gboolean check_size(const MigrationCookie *cookie, gsize len, GError **error) {
        if (len <= MIGRATION_COOKIE_MAX_SIZE)
                return TRUE;
        if (cookie->persistent_xml)
                return invalid(error, _("The migration cookie would be %zu bytes, more than the limit of %d "
                                        "bytes; the persistent domain XML takes %zu of them"), len,
                               MIGRATION_COOKIE_MAX_SIZE, strlen(cookie->persistent_xml));
        return invalid(error, _("The migration cookie would be %zu bytes, more than the limit of %d bytes"),
                       len, MIGRATION_COOKIE_MAX_SIZE);
}

GBytes *migration_cookie_encode(const MigrationCookie *cookie, GError **error) {
        g_autoptr(JsonBuilder) builder = json_builder_new_immutable();
        g_autoptr(JsonGenerator) generator = json_generator_new();
        g_autoptr(JsonNode) root = NULL;
        g_autofree char *uuid = NULL, *host_uuid = NULL, *json = NULL;
        gsize len = 0;

        g_return_val_if_fail(cookie, NULL);

        if (!migration_cookie_check_fields(cookie, error) || !migration_cookie_check_features(cookie, error) ||
            (cookie->stats && !check_stats(cookie->stats, error)))
                return NULL;
        uuid = g_ascii_strdown(cookie->uuid, -1);
        host_uuid = g_ascii_strdown(cookie->host_uuid, -1);

        json_builder_begin_object(builder);
        add_string_member(builder, "format", MIGRATION_COOKIE_FORMAT);
        add_int_member(builder, "version", MIGRATION_COOKIE_VERSION);
        add_string_member(builder, "name", cookie->name);
        add_string_member(builder, "uuid", uuid);
        add_string_member(builder, "hostname", cookie->hostname);
        add_string_member(builder, "host_uuid", host_uuid);
        add_int_member(builder, "protocol", cookie->protocol);
        if (cookie->phase)
                add_string_member(builder, "phase", cookie->phase);

        add_features(builder, cookie->features);

        if (cookie->source_stop_time_ms > 0)
                add_int_member(builder, "source_stop_time_ms", cookie->source_stop_time_ms);
        if (cookie->stats)
                add_stats(builder, cookie->stats);
        if (cookie->persistent_xml)
                add_string_member(builder, "persistent_xml", cookie->persistent_xml);
        if (cookie->ram_kib > 0)
                add_int_member(builder, "ram_kib", cookie->ram_kib);
        if (cookie->graphics)
                migration_cookie_add_graphics(builder, cookie->graphics);
        migration_cookie_add_nbd(builder, cookie);
        json_builder_end_object(builder);

        root = json_builder_get_root(builder);
        json_generator_set_root(generator, root);
        json = json_generator_to_data(generator, &len);
        if (!check_size(cookie, len, error))
                return NULL;
        g_debug("Encoded migration cookie for domain %s: %zu bytes", cookie->name, len);
        return g_bytes_new_take(g_steal_pointer(&json), len);
}
