/* a{sv} between sd-bus messages and GVariant. Reading accepts only what the
 * typed parameters need (basic values and string lists), bounded; appending
 * walks any GVariant D-Bus can carry. sd-bus does all the marshalling. */
#define G_LOG_DOMAIN "migrationd"

#include <errno.h>
#include <string.h>

#include "bus-error.h"
#include "bus-variant.h"

#define QUOTE_MAX 64

/* What sd_bus_message_read_basic() and _append_basic() take for a basic type. */
typedef union {
        uint8_t y;
        int b;
        int16_t n;
        uint16_t q;
        int32_t i;
        uint32_t u;
        int64_t x;
        uint64_t t;
        double d;
        const char *s;
} BasicValue;

/* A key fit for a one-line error message: at most QUOTE_MAX characters,
 * control characters replaced. D-Bus strings are valid UTF-8. */
static char *quote(const char *s) {
        char *copy = g_utf8_strlen(s, -1) > QUOTE_MAX ? g_utf8_substring(s, 0, QUOTE_MAX) : g_strdup(s);

        for (char *p = copy; *p; p++)
                if ((unsigned char) *p < 0x20 || *p == 0x7f)
                        *p = '?';
        return copy;
}

static int invalid_type(sd_bus_error *error, const char *key, const char *signature) {
        g_autofree char *q = quote(key);
        g_autofree char *s = quote(signature);

        return bus_error_setf(error, MD_ERROR_INVALID_ARGS, "Parameter '%s' has unsupported type %s", q, s);
}

/* The two arrays the typed parameters use: as, and au (capabilities carry
 * protocol versions as au). */
static int read_array_value(sd_bus_message *m, const char *contents, GVariant **ret) {
        const void *data = NULL;
        size_t size = 0;
        int r;

        if (g_str_equal(contents, "as")) {
                char **strv = NULL;     /* malloc()ed, NULL for []; g_free() is free() */

                r = sd_bus_message_read_strv(m, &strv);
                if (r < 0)
                        return r;
                *ret = g_variant_ref_sink(g_variant_new_strv((const char *const *) strv, strv ? -1 : 0));
                g_strfreev(strv);
                return 0;
        }
        r = sd_bus_message_read_array(m, 'u', &data, &size);
        if (r < 0)
                return r;
        *ret = g_variant_ref_sink(g_variant_new_fixed_array(G_VARIANT_TYPE_UINT32, data,
                                                            size / sizeof(uint32_t), sizeof(uint32_t)));
        return 0;
}

/* A string, object path or signature; NULL if GLib would refuse it. sd-bus
 * has validated these; GLib would only complain loudly. */
static GVariant *new_string_value(char type, const char *s) {
        switch (type) {
        case 's':
                return g_utf8_validate(s, -1, NULL) ? g_variant_new_string(s) : NULL;
        case 'o':
                return g_variant_is_object_path(s) ? g_variant_new_object_path(s) : NULL;
        default:
                return g_variant_is_signature(s) ? g_variant_new_signature(s) : NULL;
        }
}

/* Reads the value inside an entered variant of signature @contents. */
static int read_value(sd_bus_message *m, const char *key, const char *contents, GVariant **ret,
                      sd_bus_error *error) {
        BasicValue v;
        GVariant *value;
        int r;

        if (g_str_equal(contents, "as") || g_str_equal(contents, "au"))
                return read_array_value(m, contents, ret);
        if (strlen(contents) != 1 || !strchr("ybnqiuxtdsog", contents[0]))
                return invalid_type(error, key, contents);

        r = sd_bus_message_read_basic(m, contents[0], &v);
        if (r < 0)
                return r;
        switch (contents[0]) {
        case 'y': value = g_variant_new_byte(v.y); break;
        case 'b': value = g_variant_new_boolean(v.b); break;
        case 'n': value = g_variant_new_int16(v.n); break;
        case 'q': value = g_variant_new_uint16(v.q); break;
        case 'i': value = g_variant_new_int32(v.i); break;
        case 'u': value = g_variant_new_uint32(v.u); break;
        case 'x': value = g_variant_new_int64(v.x); break;
        case 't': value = g_variant_new_uint64(v.t); break;
        case 'd': value = g_variant_new_double(v.d); break;
        default:
                value = new_string_value(contents[0], v.s);
                if (!value)
                        return invalid_type(error, key, contents);
        }
        *ret = g_variant_ref_sink(value);
        return 0;
}

/* The key of an entered dict entry: new, and not one too many. */
static int read_key(sd_bus_message *m, GHashTable *keys, const char **ret, sd_bus_error *error) {
        const char *key;
        int r;

        r = sd_bus_message_read_basic(m, SD_BUS_TYPE_STRING, &key);
        if (r < 0)
                return r;
        if (g_hash_table_size(keys) >= BUS_VARDICT_MAX)
                return bus_error_setf(error, MD_ERROR_INVALID_ARGS,
                                         "More than %d parameters", BUS_VARDICT_MAX);
        if (!g_hash_table_add(keys, g_strdup(key))) {
                g_autofree char *q = quote(key);
                return bus_error_setf(error, MD_ERROR_INVALID_ARGS,
                                         "Parameter '%s' is given more than once", q);
        }
        *ret = key;
        return 0;
}

/* The variant of an entered dict entry, left again. */
static int read_variant(sd_bus_message *m, const char *key, GVariant **ret, sd_bus_error *error) {
        const char *contents;
        int r;

        r = sd_bus_message_peek_type(m, NULL, &contents);
        if (r < 0)
                return r;
        r = sd_bus_message_enter_container(m, SD_BUS_TYPE_VARIANT, contents);
        if (r < 0)
                return r;
        r = read_value(m, key, contents, ret, error);
        if (r < 0)
                return r;
        return sd_bus_message_exit_container(m);
}

int bus_message_read_vardict(sd_bus_message *m, GVariant **ret, sd_bus_error *error) {
        g_auto(GVariantBuilder) builder = G_VARIANT_BUILDER_INIT(G_VARIANT_TYPE_VARDICT);
        g_autoptr(GHashTable) keys = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        int r;

        g_return_val_if_fail(m, -EINVAL);
        g_return_val_if_fail(ret, -EINVAL);

        r = sd_bus_message_enter_container(m, SD_BUS_TYPE_ARRAY, "{sv}");
        if (r < 0)
                return r;
        for (;;) {
                g_autoptr(GVariant) value = NULL;
                const char *key = NULL;

                r = sd_bus_message_enter_container(m, SD_BUS_TYPE_DICT_ENTRY, "sv");
                if (r < 0)
                        return r;
                if (r == 0)
                        break;
                r = read_key(m, keys, &key, error);
                if (r < 0)
                        return r;
                r = read_variant(m, key, &value, error);
                if (r < 0)
                        return r;
                r = sd_bus_message_exit_container(m);           /* {sv} */
                if (r < 0)
                        return r;
                g_variant_builder_add(&builder, "{sv}", key, value);
        }
        r = sd_bus_message_exit_container(m);                   /* a{sv} */
        if (r < 0)
                return r;

        *ret = g_variant_ref_sink(g_variant_builder_end(&builder));
        return 0;
}

static int append_value(sd_bus_message *m, GVariant *v);

/* A fixed-size basic value: GVariant's class letters are D-Bus's type letters. */
static int append_fixed(sd_bus_message *m, GVariant *v) {
        GVariantClass class = g_variant_classify(v);
        BasicValue value;

        switch (class) {
        case G_VARIANT_CLASS_BOOLEAN: value.b = g_variant_get_boolean(v); break;
        case G_VARIANT_CLASS_BYTE:    value.y = g_variant_get_byte(v); break;
        case G_VARIANT_CLASS_INT16:   value.n = g_variant_get_int16(v); break;
        case G_VARIANT_CLASS_UINT16:  value.q = g_variant_get_uint16(v); break;
        case G_VARIANT_CLASS_INT32:   value.i = g_variant_get_int32(v); break;
        case G_VARIANT_CLASS_UINT32:  value.u = g_variant_get_uint32(v); break;
        case G_VARIANT_CLASS_INT64:   value.x = g_variant_get_int64(v); break;
        case G_VARIANT_CLASS_UINT64:  value.t = g_variant_get_uint64(v); break;
        case G_VARIANT_CLASS_DOUBLE:  value.d = g_variant_get_double(v); break;
        default:
                g_assert_not_reached();
        }
        return sd_bus_message_append_basic(m, (char) class, &value);
}

static int append_variant(sd_bus_message *m, GVariant *v) {
        g_autoptr(GVariant) inner = g_variant_get_variant(v);
        int r;

        r = sd_bus_message_open_container(m, SD_BUS_TYPE_VARIANT, g_variant_get_type_string(inner));
        if (r < 0)
                return r;
        r = append_value(m, inner);
        if (r < 0)
                return r;
        return sd_bus_message_close_container(m);
}

/* An array, struct or dict entry holding @contents: its children one by one. */
static int append_container(sd_bus_message *m, GVariant *v, char container, const char *contents) {
        int r;

        if (contents[0] == '\0')
                return -EINVAL;         /* "()" */
        r = sd_bus_message_open_container(m, container, contents);
        if (r < 0)
                return r;
        for (gsize i = 0, n = g_variant_n_children(v); i < n; i++) {
                g_autoptr(GVariant) child = g_variant_get_child_value(v, i);

                r = append_value(m, child);
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(m);
}

/* Appends @v as D-Bus type g_variant_get_type_string(@v). */
static int append_value(sd_bus_message *m, GVariant *v) {
        const char *type = g_variant_get_type_string(v);
        GVariantClass class = g_variant_classify(v);
        g_autofree char *inside = NULL;

        switch (class) {
        case G_VARIANT_CLASS_BOOLEAN:
        case G_VARIANT_CLASS_BYTE:
        case G_VARIANT_CLASS_INT16:
        case G_VARIANT_CLASS_UINT16:
        case G_VARIANT_CLASS_INT32:
        case G_VARIANT_CLASS_UINT32:
        case G_VARIANT_CLASS_INT64:
        case G_VARIANT_CLASS_UINT64:
        case G_VARIANT_CLASS_DOUBLE:
                return append_fixed(m, v);
        case G_VARIANT_CLASS_STRING:
        case G_VARIANT_CLASS_OBJECT_PATH:
        case G_VARIANT_CLASS_SIGNATURE:
                return sd_bus_message_append_basic(m, (char) class, g_variant_get_string(v, NULL));
        case G_VARIANT_CLASS_VARIANT:
                return append_variant(m, v);
        case G_VARIANT_CLASS_ARRAY:
                return append_container(m, v, SD_BUS_TYPE_ARRAY, type + 1);
        case G_VARIANT_CLASS_TUPLE:
        case G_VARIANT_CLASS_DICT_ENTRY:
                /* Without the parentheses or braces. */
                inside = g_strndup(type + 1, strlen(type) - 2);
                return append_container(m, v, class == G_VARIANT_CLASS_TUPLE ? SD_BUS_TYPE_STRUCT :
                                        SD_BUS_TYPE_DICT_ENTRY, inside);
        default:
                /* Maybe and handle: no D-Bus form (a handle means nothing without its fd list). */
                return -EINVAL;
        }
}

int bus_message_append_vardict(sd_bus_message *m, GVariant *dict) {
        g_return_val_if_fail(m, -EINVAL);
        g_return_val_if_fail(dict && g_variant_is_of_type(dict, G_VARIANT_TYPE_VARDICT), -EINVAL);

        return append_value(m, dict);
}
