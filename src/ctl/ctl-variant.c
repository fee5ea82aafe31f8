#include "ctl-variant.h"

#include <errno.h>

static int read_basic(sd_bus_message *m, char type, GVariant **ret) {
        union {
                uint8_t u8;
                int boolean;
                int16_t i16;
                uint16_t u16;
                int32_t i32;
                uint32_t u32;
                int64_t i64;
                uint64_t u64;
                double d;
                const char *str;
        } value;
        GVariant *v;
        int r;

        if (type == SD_BUS_TYPE_UNIX_FD)
                return -EOPNOTSUPP;

        r = sd_bus_message_read_basic(m, type, &value);
        if (r < 0)
                return r;
        if (r == 0)
                return -EBADMSG;

        switch (type) {
        case SD_BUS_TYPE_BYTE:          v = g_variant_new_byte(value.u8); break;
        case SD_BUS_TYPE_BOOLEAN:       v = g_variant_new_boolean(value.boolean); break;
        case SD_BUS_TYPE_INT16:         v = g_variant_new_int16(value.i16); break;
        case SD_BUS_TYPE_UINT16:        v = g_variant_new_uint16(value.u16); break;
        case SD_BUS_TYPE_INT32:         v = g_variant_new_int32(value.i32); break;
        case SD_BUS_TYPE_UINT32:        v = g_variant_new_uint32(value.u32); break;
        case SD_BUS_TYPE_INT64:         v = g_variant_new_int64(value.i64); break;
        case SD_BUS_TYPE_UINT64:        v = g_variant_new_uint64(value.u64); break;
        case SD_BUS_TYPE_DOUBLE:        v = g_variant_new_double(value.d); break;
        case SD_BUS_TYPE_STRING:        v = g_variant_new_string(value.str); break;
        case SD_BUS_TYPE_OBJECT_PATH:   v = g_variant_new_object_path(value.str); break;
        case SD_BUS_TYPE_SIGNATURE:     v = g_variant_new_signature(value.str); break;
        default:
                return -EBADMSG;
        }

        *ret = g_variant_ref_sink(v);
        return 0;
}

/* Reads the members of the container @m has just entered, up to its end. */
static int read_members(sd_bus_message *m, GVariantBuilder *builder) {
        for (;;) {
                g_autoptr(GVariant) member = NULL;
                int r;

                r = sd_bus_message_at_end(m, FALSE);
                if (r < 0)
                        return r;
                if (r > 0)
                        return 0;

                r = ctl_message_read_variant(m, &member);
                if (r < 0)
                        return r;
                g_variant_builder_add_value(builder, member);
        }
}

static int read_container(sd_bus_message *m, char type, const char *contents, GVariant **ret) {
        g_autoptr(GVariantType) container_type = NULL;
        g_auto(GVariantBuilder) builder = { 0 };
        g_autoptr(GVariant) inner = NULL;
        GVariant *v;
        int r;

        r = sd_bus_message_enter_container(m, type, contents);
        if (r < 0)
                return r;

        switch (type) {
        case SD_BUS_TYPE_VARIANT:
                r = ctl_message_read_variant(m, &inner);
                if (r < 0)
                        return r;
                v = g_variant_new_variant(inner);
                break;

        case SD_BUS_TYPE_ARRAY:
        case SD_BUS_TYPE_STRUCT:
        case SD_BUS_TYPE_DICT_ENTRY:
                if (type == SD_BUS_TYPE_ARRAY) {
                        g_autofree char *signature = g_strconcat("a", contents, NULL);
                        container_type = g_variant_type_new(signature);
                } else if (type == SD_BUS_TYPE_STRUCT)
                        container_type = g_variant_type_copy(G_VARIANT_TYPE_TUPLE);
                else
                        container_type = g_variant_type_copy(G_VARIANT_TYPE_DICT_ENTRY);

                g_variant_builder_init(&builder, container_type);
                r = read_members(m, &builder);
                if (r < 0)
                        return r;
                v = g_variant_builder_end(&builder);
                break;

        default:
                return -EBADMSG;
        }

        *ret = g_variant_ref_sink(v);
        return sd_bus_message_exit_container(m);
}

int ctl_message_read_variant(sd_bus_message *m, GVariant **ret) {
        g_autoptr(GVariant) v = NULL;
        g_autofree char *contents = NULL;
        const char *peeked_contents;
        char type;
        int r;

        r = sd_bus_message_peek_type(m, &type, &peeked_contents);
        if (r < 0)
                return r;
        if (r == 0)
                return -EBADMSG;

        if (!peeked_contents)
                r = read_basic(m, type, &v);
        else {
                contents = g_strdup(peeked_contents);
                r = read_container(m, type, contents, &v);
        }
        if (r < 0)
                return r;

        *ret = g_steal_pointer(&v);
        return 0;
}

const char *ctl_dict_get_string(GVariant *dict, const char *key, const char *fallback) {
        const char *value;

        if (!dict || !g_variant_lookup(dict, key, "&s", &value))
                return fallback;
        return value;
}

gboolean ctl_dict_get_boolean(GVariant *dict, const char *key, gboolean fallback) {
        gboolean value;

        if (!dict || !g_variant_lookup(dict, key, "b", &value))
                return fallback;
        return value;
}

guint64 ctl_dict_get_uint64(GVariant *dict, const char *key, guint64 fallback) {
        guint64 value;

        if (!dict || !g_variant_lookup(dict, key, "t", &value))
                return fallback;
        return value;
}

double ctl_dict_get_double(GVariant *dict, const char *key, double fallback) {
        double value;

        if (!dict || !g_variant_lookup(dict, key, "d", &value))
                return fallback;
        return value;
}

static void append_value(GString *out, GVariant *value) {
        if (g_variant_is_of_type(value, G_VARIANT_TYPE_VARIANT)) {
                g_autoptr(GVariant) inner = g_variant_get_variant(value);
                append_value(out, inner);
        } else if (g_variant_is_of_type(value, G_VARIANT_TYPE_STRING) ||
                   g_variant_is_of_type(value, G_VARIANT_TYPE_OBJECT_PATH))
                g_string_append(out, g_variant_get_string(value, NULL));
        else if (g_variant_is_of_type(value, G_VARIANT_TYPE_BOOLEAN))
                g_string_append(out, g_variant_get_boolean(value) ? "yes" : "no");
        else if (g_variant_is_of_type(value, G_VARIANT_TYPE_ARRAY) &&
                 !g_variant_is_of_type(value, G_VARIANT_TYPE_DICTIONARY)) {
                gsize n = g_variant_n_children(value);

                for (gsize i = 0; i < n; i++) {
                        g_autoptr(GVariant) child = g_variant_get_child_value(value, i);

                        if (i > 0)
                                g_string_append_c(out, ' ');
                        append_value(out, child);
                }
        } else {
                g_autofree char *text = g_variant_print(value, FALSE);
                g_string_append(out, text);
        }
}

char *ctl_dict_format_value(GVariant *dict, const char *key) {
        g_autoptr(GVariant) value = NULL;
        GString *out;

        if (dict)
                value = g_variant_lookup_value(dict, key, NULL);
        if (!value)
                return g_strdup("-");

        out = g_string_new(NULL);
        append_value(out, value);
        return g_string_free(out, FALSE);
}
