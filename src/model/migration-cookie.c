/* The migration cookie, format version 1.
 *
 * One compact JSON object in UTF-8, at most MIGRATION_COOKIE_MAX_SIZE bytes,
 * arrays and objects nested at most MIGRATION_COOKIE_MAX_DEPTH deep:
 *
 *   {
 *     "format": "migrationd-cookie",            required, exactly this
 *     "version": 1,                             required integer >= 1; newer ones are refused
 *     "name": "vm1",                            required, 1 to 1024 bytes
 *     "uuid": "dcf47dbd-…",                     required UUID, read case-insensitively
 *     "hostname": "src.example.org",            required, 1 to 255 bytes
 *     "host_uuid": "4a802f00-…",                required UUID
 *     "protocol": 3,                            required, 2 or 3
 *     "phase": "finish3",                       optional, the phase whose answer carries the
 *                                               cookie: begin3, prepare3, perform3 or finish3
 *                                               (a receiver checks only what it knows); 1 to 64
 *                                               of A-Z a-z 0-9 . _ -
 *     "features": [                             required, may be empty; names unique,
 *       {"name": "stats", "mandatory": false}   1 to 64 of A-Z a-z 0-9 . _ -
 *     ],
 *     "source_stop_time_ms": 1700000000000,     optional integer >= 0; absent = unknown
 *     "stats": {                                optional, an a{sv}: key -> typed value
 *       "downtime": {"type": "t", "value": 48}  type one of t x u i d b s; the value
 *     },                                        in range, a t above 2^63-1 as a decimal string
 *     "persistent_xml": "<domain …>…</domain>", optional: the definition PERSIST_DEST
 *                                               keeps (Begin, with PERSIST_DEST) or OFFLINE
 *                                               moves (Perform)
 *     "ram_kib": 524296,                        optional integer >= 0: the RAM the source's QEMU
 *                                               was given, which the destination's must match
 *     "graphics": {"type": "spice", …},         optional: the destination's display (Prepare),
 *                                               format in migration-cookie-graphics.c
 *     "nbd": {                                  optional, storage migration (libvirt's <nbd>):
 *       "port": 49153,                          optional, 1 to 65535: the destination's NBD
 *                                               server (Prepare's answer)
 *       "disks": [                              optional, at most 64, targets unique: the disks
 *         {"target": "vda", "format": "qcow2",  the source copies (Begin), target and format
 *          "capacity": 1073741824}              identifiers, capacity (virtual bytes) > 0
 *       ]
 *     }
 *   }
 *
 * As in libvirt, members a receiver does not know (at the top level, in a
 * feature or in a statistic) are ignored; a sender that needs the receiver
 * to understand something lists it as a mandatory feature, and a receiver
 * that does not know that feature refuses the cookie. Features are checked
 * right after format and version, so that this is the error a newer
 * sender's cookie gets rather than a complaint about what it added. An
 * incompatible change bumps "version". Golden files: tests/data/cookies.
 *
 * Statistics carry their GVariant type explicitly instead of going through
 * json_gvariant_serialize(): that maps t, u and i all to plain integers (a t
 * above 2^63-1 wraps), and its deserializer guesses the types inside a
 * variant and builds nested containers from hostile input. */
#define G_LOG_DOMAIN "migrationd"

#include <math.h>
#include <stdarg.h>
#include <string.h>
#include <json-glib/json-glib.h>

#include "json-input.h"
#include "i18n.h"
#include "md-error.h"
#include "migration-cookie.h"
#include "migration-cookie-private.h"

#define NAME_MAX_BYTES 1024
#define HOSTNAME_MAX_BYTES 255
#define IDENTIFIER_CHARS G_CSET_A_2_Z G_CSET_a_2_z G_CSET_DIGITS "._-"

gboolean migration_cookie_invalid(GError **error, const char *format, ...) {
        g_autofree char *message = NULL;
        va_list ap;

        va_start(ap, format);
        message = g_strdup_vprintf(format, ap);
        va_end(ap);
        g_set_error_literal(error, MD_ERROR, MD_ERROR_INVALID_COOKIE, message);
        return FALSE;
}

/* ---- The structure ---- */

static void migration_cookie_feature_free(MigrationCookieFeature *feature) {
        g_free(feature->name);
        g_free(feature);
}

MigrationCookie *migration_cookie_new(void) {
        MigrationCookie *cookie = g_new0(MigrationCookie, 1);

        cookie->version = MIGRATION_COOKIE_VERSION;
        cookie->protocol = 3;
        cookie->features = g_ptr_array_new_with_free_func((GDestroyNotify) migration_cookie_feature_free);
        return cookie;
}

void migration_cookie_free(MigrationCookie *cookie) {
        if (!cookie)
                return;
        g_free(cookie->name);
        g_free(cookie->uuid);
        g_free(cookie->hostname);
        g_free(cookie->host_uuid);
        g_free(cookie->phase);
        g_clear_pointer(&cookie->features, g_ptr_array_unref);
        g_clear_pointer(&cookie->stats, g_variant_unref);
        g_free(cookie->persistent_xml);
        migration_cookie_graphics_free(cookie->graphics);
        g_clear_pointer(&cookie->nbd_disks, g_ptr_array_unref);
        g_free(cookie);
}

static MigrationCookieFeature *migration_cookie_find_feature(const MigrationCookie *cookie, const char *name) {
        for (guint i = 0; i < cookie->features->len; i++) {
                MigrationCookieFeature *feature = cookie->features->pdata[i];

                if (g_strcmp0(feature->name, name) == 0)
                        return feature;
        }
        return NULL;
}

/* Features are a set: adding one again only changes its flag. */
void migration_cookie_add_feature(MigrationCookie *cookie, const char *name, gboolean mandatory) {
        MigrationCookieFeature *feature;

        g_return_if_fail(cookie);
        g_return_if_fail(name);

        feature = migration_cookie_find_feature(cookie, name);
        if (!feature) {
                feature = g_new0(MigrationCookieFeature, 1);
                feature->name = g_strdup(name);
                g_ptr_array_add(cookie->features, feature);
        }
        feature->mandatory = !!mandatory;
}

gboolean migration_cookie_has_feature(const MigrationCookie *cookie, const char *name) {
        g_return_val_if_fail(cookie, FALSE);
        g_return_val_if_fail(name, FALSE);

        return migration_cookie_find_feature(cookie, name) != NULL;
}

/* ---- Rules shared by encoding (migration-cookie-encode.c) and decoding, so that every
 * encoded cookie decodes ---- */

gboolean migration_cookie_is_identifier(const char *s) {
        size_t n = strspn(s, IDENTIFIER_CHARS);

        return n > 0 && n <= IDENTIFIER_MAX_BYTES && s[n] == '\0';
}

/* @max 0: of any length, even empty. */
static gboolean check_string(const char *value, const char *member, gsize max, GError **error) {
        if (!value)
                return invalid(error, _("Migration cookie lacks member '%s'"), member);
        if (!g_utf8_validate(value, -1, NULL))
                return invalid(error, _("Migration cookie member '%s' is not valid UTF-8"), member);
        if (max == 0)
                return TRUE;
        if (*value == '\0')
                return invalid(error, _("Migration cookie member '%s' is empty"), member);
        if (strlen(value) > max)
                return invalid(error, _("Migration cookie member '%s' is longer than %zu bytes"), member, max);
        return TRUE;
}

static gboolean check_uuid(const char *value, const char *member, GError **error) {
        if (!value)
                return invalid(error, _("Migration cookie lacks member '%s'"), member);
        if (!g_uuid_string_is_valid(value))
                return invalid(error, _("Migration cookie member '%s' is not a valid UUID"), member);
        return TRUE;
}

static gboolean check_protocol(gint64 protocol, GError **error) {
        if (protocol != 2 && protocol != 3)
                return invalid(error, _("Migration cookie member 'protocol' is %lld; this host speaks "
                                        "migration protocols 2 and 3"), (long long) protocol);
        return TRUE;
}

gboolean migration_cookie_check_features(const MigrationCookie *cookie, GError **error) {
        g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);

        for (guint i = 0; i < cookie->features->len; i++) {
                const MigrationCookieFeature *feature = cookie->features->pdata[i];

                if (!feature->name || !migration_cookie_is_identifier(feature->name))
                        return invalid(error, _("Entry %u of the migration cookie's 'features' has an invalid "
                                                "name; a feature name is 1 to %d characters of A-Z, a-z, 0-9, '.', "
                                                "'_' and '-'"), i, IDENTIFIER_MAX_BYTES);
                if (!g_hash_table_add(seen, feature->name))
                        return invalid(error, _("Migration cookie lists feature '%s' twice"), feature->name);
        }
        return TRUE;
}

gboolean migration_cookie_check_fields(const MigrationCookie *cookie, GError **error) {
        return check_string(cookie->name, "name", NAME_MAX_BYTES, error) &&
                check_uuid(cookie->uuid, "uuid", error) &&
                check_string(cookie->hostname, "hostname", HOSTNAME_MAX_BYTES, error) &&
                check_uuid(cookie->host_uuid, "host_uuid", error) &&
                check_protocol(cookie->protocol, error) &&
                (!cookie->phase || migration_cookie_is_identifier(cookie->phase) ||
                 invalid(error, _("Migration cookie member 'phase' is not a phase name; a phase name is 1 to "
                                  "%d characters of A-Z, a-z, 0-9, '.', '_' and '-'"), IDENTIFIER_MAX_BYTES)) &&
                (cookie->source_stop_time_ms >= 0 ||
                 invalid(error, _("Migration cookie member 'source_stop_time_ms' is negative"))) &&
                (!cookie->persistent_xml || check_string(cookie->persistent_xml, "persistent_xml", 0, error)) &&
                (cookie->ram_kib >= 0 || invalid(error, _("Migration cookie member 'ram_kib' is negative"))) &&
                (!cookie->graphics || migration_cookie_check_graphics(cookie->graphics, error)) &&
                migration_cookie_check_nbd(cookie, error);
}

/* ---- Decoding ---- */

const char *migration_cookie_json_kind(JsonNode *node) {
        GType type;

        switch (json_node_get_node_type(node)) {
        case JSON_NODE_OBJECT:
                return "an object";
        case JSON_NODE_ARRAY:
                return "an array";
        case JSON_NODE_NULL:
                return "null";
        case JSON_NODE_VALUE:
                break;
        }
        type = json_node_get_value_type(node);
        if (type == G_TYPE_STRING)
                return "a string";
        if (type == G_TYPE_BOOLEAN)
                return "a boolean";
        if (type == G_TYPE_DOUBLE)
                return "a floating-point number";
        return "an integer";
}

static GType value_type(JsonNode *node) {
        return node && JSON_NODE_HOLDS_VALUE(node) ? json_node_get_value_type(node) : G_TYPE_INVALID;
}

/* *ret stays NULL when the member is absent and not required. */
gboolean migration_cookie_get_string(JsonObject *object, const char *name, gboolean required,
                                     const char **ret, GError **error) {
        JsonNode *node = json_object_get_member(object, name);

        *ret = NULL;
        if (!node)
                return !required || invalid(error, _("Migration cookie lacks member '%s'"), name);
        if (value_type(node) != G_TYPE_STRING)
                return invalid(error, _("Migration cookie member '%s' must be a string, not %s"),
                               name, migration_cookie_json_kind(node));
        *ret = json_node_get_string(node);
        return TRUE;
}

/* Only integers proper: json-glib keeps them as gint64 (and silently wraps
 * literals beyond 64 bits, which nothing in the tree reveals). *ret stays 0
 * when the member is absent and not required. */
gboolean migration_cookie_get_integer(JsonObject *object, const char *name, gboolean required,
                                      gint64 *ret, GError **error) {
        JsonNode *node = json_object_get_member(object, name);

        *ret = 0;
        if (!node)
                return !required || invalid(error, _("Migration cookie lacks member '%s'"), name);
        if (value_type(node) != G_TYPE_INT64)
                return invalid(error, _("Migration cookie member '%s' must be an integer, not %s"),
                               name, migration_cookie_json_kind(node));
        *ret = json_node_get_int(node);
        return TRUE;
}

static gboolean parse_features(MigrationCookie *cookie, JsonObject *object, GError **error) {
        JsonNode *node = json_object_get_member(object, "features");
        JsonArray *array;

        if (!node)
                return invalid(error, _("Migration cookie lacks member 'features'"));
        if (!JSON_NODE_HOLDS_ARRAY(node))
                return invalid(error, _("Migration cookie member 'features' must be an array, not %s"),
                               migration_cookie_json_kind(node));
        array = json_node_get_array(node);
        for (guint i = 0; i < json_array_get_length(array); i++) {
                JsonNode *element = json_array_get_element(array, i);
                JsonNode *name, *mandatory;
                MigrationCookieFeature *feature;

                if (!JSON_NODE_HOLDS_OBJECT(element))
                        return invalid(error, _("Entry %u of the migration cookie's 'features' must be an "
                                                "object, not %s"), i, migration_cookie_json_kind(element));
                name = json_object_get_member(json_node_get_object(element), "name");
                mandatory = json_object_get_member(json_node_get_object(element), "mandatory");
                if (value_type(name) != G_TYPE_STRING)
                        return invalid(error, _("Entry %u of the migration cookie's 'features' lacks a string "
                                                "member 'name'"), i);
                if (value_type(mandatory) != G_TYPE_BOOLEAN)
                        return invalid(error, _("Entry %u of the migration cookie's 'features' lacks a boolean "
                                                "member 'mandatory'"), i);
                /* Not add_feature(): migration_cookie_check_features() must see duplicates. */
                feature = g_new0(MigrationCookieFeature, 1);
                feature->name = g_strdup(json_node_get_string(name));
                feature->mandatory = json_node_get_boolean(mandatory);
                g_ptr_array_add(cookie->features, feature);
        }
        return migration_cookie_check_features(cookie, error);
}

static gboolean check_mandatory(const MigrationCookie *cookie, const char *const *known_features,
                                GError **error) {
        for (guint i = 0; i < cookie->features->len; i++) {
                const MigrationCookieFeature *feature = cookie->features->pdata[i];

                if (known_features && g_strv_contains(known_features, feature->name))
                        continue;
                if (feature->mandatory) {
                        g_set_error(error, MD_ERROR, MD_ERROR_UNSUPPORTED,
                                    _("The migration cookie requires feature '%s', which this host does not support"),
                                    feature->name);
                        return FALSE;
                }
                g_debug("Ignoring unknown optional migration cookie feature '%s'", feature->name);
        }
        return TRUE;
}

/* The value of a statistic of @type from JSON, or NULL if it is not a valid one. */
static GVariant *stat_value(char type, JsonNode *value_node) {
        GType vt = value_type(value_node);
        gint64 n = vt == G_TYPE_INT64 ? json_node_get_int(value_node) : 0;
        guint64 u;

        switch (type) {
        case 't':
                if (vt == G_TYPE_INT64 && n >= 0)
                        return g_variant_new_uint64(n);
                if (vt == G_TYPE_STRING &&
                    g_ascii_string_to_unsigned(json_node_get_string(value_node), 10, 0, G_MAXUINT64, &u, NULL))
                        return g_variant_new_uint64(u);
                break;
        case 'x':
                if (vt == G_TYPE_INT64)
                        return g_variant_new_int64(n);
                break;
        case 'u':
                if (vt == G_TYPE_INT64 && n >= 0 && n <= G_MAXUINT32)
                        return g_variant_new_uint32(n);
                break;
        case 'i':
                if (vt == G_TYPE_INT64 && n >= G_MININT32 && n <= G_MAXINT32)
                        return g_variant_new_int32(n);
                break;
        case 'd':
                /* A double with an integral value may be written as an integer. */
                if ((vt == G_TYPE_DOUBLE || vt == G_TYPE_INT64) && isfinite(json_node_get_double(value_node)))
                        return g_variant_new_double(json_node_get_double(value_node));
                break;
        case 'b':
                if (vt == G_TYPE_BOOLEAN)
                        return g_variant_new_boolean(json_node_get_boolean(value_node));
                break;
        case 's':
                if (vt == G_TYPE_STRING && g_utf8_validate(json_node_get_string(value_node), -1, NULL))
                        return g_variant_new_string(json_node_get_string(value_node));
                break;
        }
        return NULL;
}

static GVariant *parse_stat(const char *key, JsonNode *node, GError **error) {
        JsonNode *type_node;
        const char *type;
        GVariant *value;

        if (!JSON_NODE_HOLDS_OBJECT(node)) {
                invalid(error, _("Migration cookie statistic '%s' must be an object, not %s"), key,
                        migration_cookie_json_kind(node));
                return NULL;
        }
        type_node = json_object_get_member(json_node_get_object(node), "type");
        if (value_type(type_node) != G_TYPE_STRING) {
                invalid(error, _("Migration cookie statistic '%s' lacks a string member 'type'"), key);
                return NULL;
        }
        type = json_node_get_string(type_node);
        if (strlen(type) != 1 || !strchr(STAT_TYPES, type[0])) {
                invalid(error, _("Migration cookie statistic '%s' has an unsupported type; statistics are of "
                                 "type t, x, u, i, d, b or s"), key);
                return NULL;
        }
        value = stat_value(type[0], json_object_get_member(json_node_get_object(node), "value"));
        if (!value)
                invalid(error, _("Migration cookie statistic '%s' lacks a member 'value' that is a valid '%c'"),
                        key, type[0]);
        return value;
}

static gboolean parse_stats(MigrationCookie *cookie, JsonNode *node, GError **error) {
        g_auto(GVariantBuilder) builder = G_VARIANT_BUILDER_INIT(G_VARIANT_TYPE_VARDICT);
        JsonObjectIter iter;
        const char *key;
        JsonNode *member;

        if (!JSON_NODE_HOLDS_OBJECT(node))
                return invalid(error, _("Migration cookie member 'stats' must be an object, not %s"),
                               migration_cookie_json_kind(node));
        /* json-glib keeps the last of repeated members, so keys are unique. */
        json_object_iter_init_ordered(&iter, json_node_get_object(node));
        while (json_object_iter_next_ordered(&iter, &key, &member)) {
                GVariant *value;

                if (!migration_cookie_is_identifier(key))
                        return invalid(error, _("Migration cookie has a statistic with an invalid name; a "
                                                "statistic name is 1 to %d characters of A-Z, a-z, 0-9, '.', '_' and '-'"),
                                       IDENTIFIER_MAX_BYTES);
                value = parse_stat(key, member, error);
                if (!value)
                        return FALSE;
                g_variant_builder_add(&builder, "{sv}", key, value);
        }
        cookie->stats = g_variant_ref_sink(g_variant_builder_end(&builder));
        return TRUE;
}

/* Size, encoding and nesting, before json-glib sees the text. */
static gboolean check_text(const char *text, gsize len, GError **error) {
        g_autofree char *problem = NULL;
        const char *bad;

        if (len == 0)
                return invalid(error, _("Migration cookie is empty"));
        if (len > MIGRATION_COOKIE_MAX_SIZE)
                return invalid(error, _("Migration cookie is %zu bytes, more than the limit of %d bytes"),
                               len, MIGRATION_COOKIE_MAX_SIZE);
        if (!g_utf8_validate_len(text, len, &bad)) {
                if (*bad == '\0')
                        return invalid(error, _("Migration cookie is not valid JSON: a NUL byte at byte %zu"),
                                       (gsize) (bad - text));
                return invalid(error, _("Migration cookie is not valid JSON: invalid UTF-8 at byte %zu"),
                               (gsize) (bad - text));
        }
        if (!json_input_check(text, len, MIGRATION_COOKIE_MAX_DEPTH, &problem))
                return invalid(error, _("Migration cookie is malformed: %s"), problem);
        return TRUE;
}

/* The top-level object, owned by @parser. */
static JsonObject *parse_object(JsonParser *parser, const char *text, gsize len, GError **error) {
        g_autoptr(GError) json_error = NULL;
        JsonNode *root;

        if (!json_parser_load_from_data(parser, text, (gssize) len, &json_error)) {
                /* json-glib quotes the offending token cut to a fixed number of
                 * bytes, which may split a UTF-8 sequence; bus messages must be valid. */
                g_autofree char *message = g_utf8_make_valid(json_error->message, -1);

                invalid(error, _("Migration cookie is not valid JSON: %s"), message);
                return NULL;
        }
        root = json_parser_get_root(parser);
        if (!root) {
                invalid(error, _("Migration cookie is not valid JSON: it holds no value"));
                return NULL;
        }
        if (!JSON_NODE_HOLDS_OBJECT(root)) {
                invalid(error, _("Migration cookie is not valid JSON: the top level is %s, not an object"),
                        migration_cookie_json_kind(root));
                return NULL;
        }
        return json_node_get_object(root);
}

static gboolean parse_format_version(JsonObject *object, gint64 *ret_version, GError **error) {
        const char *s;

        if (!migration_cookie_get_string(object, "format", TRUE, &s, error))
                return FALSE;
        if (!g_str_equal(s, MIGRATION_COOKIE_FORMAT))
                return invalid(error, _("Migration cookie member 'format' is not \"%s\"; this is not a "
                                        "migrationd cookie"), MIGRATION_COOKIE_FORMAT);
        if (!migration_cookie_get_integer(object, "version", TRUE, ret_version, error))
                return FALSE;
        if (*ret_version < 1)
                return invalid(error, _("Migration cookie version %lld is invalid; versions start at 1"),
                               (long long) *ret_version);
        if (*ret_version > MIGRATION_COOKIE_VERSION)
                return invalid(error, _("Migration cookie version %lld is newer than this host "
                                        "supports (version %d); upgrade migrationd on this host"),
                               (long long) *ret_version,
                               MIGRATION_COOKIE_VERSION);
        return TRUE;
}

/* A string member copied into *@ret (NULL when absent and not required),
 * lower-cased for UUIDs. */
static gboolean copy_string(JsonObject *object, const char *name, gboolean required, gboolean lower,
                            char **ret, GError **error) {
        const char *s;

        if (!migration_cookie_get_string(object, name, required, &s, error))
                return FALSE;
        *ret = lower ? g_ascii_strdown(s, -1) : g_strdup(s);
        return TRUE;
}

/* Everything after format, version and features. */
static gboolean parse_members(MigrationCookie *cookie, JsonObject *object, GError **error) {
        JsonNode *stats = json_object_get_member(object, "stats");
        JsonNode *graphics = json_object_get_member(object, "graphics");
        gint64 protocol;

        if (!copy_string(object, "name", TRUE, FALSE, &cookie->name, error) ||
            !copy_string(object, "uuid", TRUE, TRUE, &cookie->uuid, error) ||
            !copy_string(object, "hostname", TRUE, FALSE, &cookie->hostname, error) ||
            !copy_string(object, "host_uuid", TRUE, TRUE, &cookie->host_uuid, error))
                return FALSE;
        /* Checked before narrowing to guint, where 2^32 + 3 would become 3. */
        if (!migration_cookie_get_integer(object, "protocol", TRUE, &protocol, error) || !check_protocol(protocol, error))
                return FALSE;
        cookie->protocol = (guint) protocol;
        return copy_string(object, "phase", FALSE, FALSE, &cookie->phase, error) &&
                migration_cookie_get_integer(object, "source_stop_time_ms", FALSE, &cookie->source_stop_time_ms, error) &&
                (!stats || parse_stats(cookie, stats, error)) &&
                copy_string(object, "persistent_xml", FALSE, FALSE, &cookie->persistent_xml, error) &&
                migration_cookie_get_integer(object, "ram_kib", FALSE, &cookie->ram_kib, error) &&
                (!graphics || migration_cookie_parse_graphics(graphics, &cookie->graphics, error)) &&
                migration_cookie_parse_nbd(cookie, json_object_get_member(object, "nbd"), error) &&
                migration_cookie_check_fields(cookie, error);
}

MigrationCookie *migration_cookie_decode(const guint8 *data, gsize len,
                                         const char *const *known_features, GError **error) {
        g_autoptr(JsonParser) parser = NULL;
        g_autoptr(MigrationCookie) cookie = NULL;
        const char *text = (const char *) data;
        JsonObject *object;
        gint64 version;

        if (!check_text(text, len, error))
                return NULL;
        parser = json_parser_new_immutable();
        object = parse_object(parser, text, len, error);
        if (!object || !parse_format_version(object, &version, error))
                return NULL;

        cookie = migration_cookie_new();
        cookie->version = (guint) version;
        if (!parse_features(cookie, object, error) || !check_mandatory(cookie, known_features, error) ||
            !parse_members(cookie, object, error))
                return NULL;

        g_debug("Decoded migration cookie for domain %s from host %s: protocol %u, %u features",
                cookie->name, cookie->hostname, cookie->protocol, cookie->features->len);
        return g_steal_pointer(&cookie);
}
