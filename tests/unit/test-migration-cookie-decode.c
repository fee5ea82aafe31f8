/* The migration cookie against every malformed shape a peer could send:
 * size, JSON, encoding, nesting, and each member's type and limits. */
#include <string.h>
#include <json-glib/json-glib.h>

#include "cookie-test.h"
#include "md-error.h"

static void test_decode_size(void) {
        g_autofree char *big = NULL;
        g_autofree char *exact = NULL;
        g_autoptr(MigrationCookie) cookie = NULL;
        gsize base = strlen(BASE);

        assert_error_len("", 0, MD_ERROR_INVALID_COOKIE, "is empty");
        assert_error_len(NULL, 0, MD_ERROR_INVALID_COOKIE, "is empty");

        /* Exactly at the limit (BASE padded with whitespace) is fine, one byte more is not. */
        exact = g_malloc(MIGRATION_COOKIE_MAX_SIZE + 1);
        memset(exact, ' ', MIGRATION_COOKIE_MAX_SIZE + 1);
        memcpy(exact, BASE, base);
        cookie = decode_len(exact, MIGRATION_COOKIE_MAX_SIZE, NULL);
        g_assert_nonnull(cookie);
        assert_error_len(exact, MIGRATION_COOKIE_MAX_SIZE + 1, MD_ERROR_INVALID_COOKIE,
                         "is 65537 bytes, more than the limit of 65536 bytes");

        big = g_strnfill(10 * 1024 * 1024, 'x');
        assert_error_len(big, 10 * 1024 * 1024, MD_ERROR_INVALID_COOKIE, "more than the limit");
}

static void test_decode_not_json(void) {
        assert_invalid("not json", "malformed: an unexpected character at byte 1");
        assert_invalid("{", "not valid JSON");
        assert_invalid("{\"format\": ", "not valid JSON");
        assert_invalid("{\"format\" \"x\"}", "not valid JSON");
        assert_invalid("[]", "the top level is an array, not an object");
        assert_invalid("[" BASE "]", "the top level is an array, not an object");
        assert_invalid("42", "the top level is an integer, not an object");
        assert_invalid("4.5", "the top level is a floating-point number, not an object");
        assert_invalid("\"string\"", "the top level is a string, not an object");
        assert_invalid("true", "the top level is a boolean, not an object");
        assert_invalid("null", "the top level is null, not an object");
        assert_invalid(" \n\t ", "not valid JSON");
        assert_invalid(BASE " {}", "data after the top-level value");
        assert_invalid(BASE "x", "unexpected character at byte");
        assert_invalid("{\"format\": \"migrationd-cookie\",}", "not valid JSON");

        /* json-glib quotes the token cut to a fixed length, here inside an 'é'. */
        {
                g_autoptr(GError) error = NULL;
                g_autoptr(MigrationCookie) cookie =
                        decode("{\"format\": \"ééééééééééééééééééééééééééééééééééééééééééééé\" \"x\"}", &error);

                g_assert_null(cookie);
                g_assert_error(error, MD_ERROR, MD_ERROR_INVALID_COOKIE);
                assert_message(error, "unexpected string constant");
                g_assert_true(g_utf8_validate(error->message, -1, NULL));
        }
}

/* json-glib 1.6 parses a second value after the top-level one and leaks
 * its tree (a cookie's worth per Prepare), so anything there is refused
 * before json-glib sees it; whitespace is fine. */
static void test_decode_after_value(void) {
        g_autoptr(MigrationCookie) cookie = NULL;

        assert_invalid("4" BASE, "is malformed: data after the top-level value at byte 1");
        assert_invalid("4 " BASE, "data after the top-level value at byte 2");
        assert_invalid("-1.5e3" BASE, "data after the top-level value at byte 6");
        assert_invalid("true" BASE, "data after the top-level value at byte 4");
        assert_invalid("null []", "data after the top-level value at byte 5");
        assert_invalid("\"s\"" BASE, "data after the top-level value at byte 3");
        assert_invalid("[]" BASE, "data after the top-level value at byte 2");
        assert_invalid(BASE BASE, "data after the top-level value");
        assert_invalid(BASE "\n[[1], [2]]", "data after the top-level value");
        assert_invalid(BASE " 1", "data after the top-level value");
        assert_invalid(BASE "\"x\"", "data after the top-level value");
        assert_invalid(BASE "]", "data after the top-level value");
        assert_invalid(BASE "garbage", "unexpected character at byte");
        assert_invalid("]" BASE, "an unbalanced ']' at byte 0");
        assert_invalid(", " BASE, "unexpected ',' at byte 0");
        /* A lone surrogate makes json-glib swallow the closing quote, so it
         * would see "} [[1], [2]]" as structure after the object. */
        assert_invalid("{\"a\": \"\\ud800\" \"} [[1], [2]]\"}", "unpaired UTF-16 surrogate");

        cookie = decode_ok(" \t\r\n" BASE " \t\r\n");
        g_assert_cmpstr(cookie->name, ==, "vm1");
}

/* Every prefix of a valid cookie is refused, none crashes. */
static void test_decode_truncated(void) {
        g_autofree char *json = read_golden("v1-full.json");
        gsize len = strlen(json);

        while (len > 0 && g_ascii_isspace(json[len - 1]))
                len--;
        for (gsize i = 1; i < len; i++)
                assert_error_len(json, i, MD_ERROR_INVALID_COOKIE, "Migration cookie");
}

static void test_decode_encoding(void) {
        static const char nul_inside[] = "{\"format\": \"migrationd-\0cookie\"}";
        static const char nul_after[] = BASE "\0";

        assert_error_len(nul_inside, sizeof(nul_inside) - 1, MD_ERROR_INVALID_COOKIE, "a NUL byte at byte 23");
        assert_error_len(nul_after, sizeof(nul_after) - 1, MD_ERROR_INVALID_COOKIE, "a NUL byte");
        assert_invalid("{\"name\": \"\xff\"}", "invalid UTF-8 at byte 10");
        assert_invalid("{\"name\": \"\xc0\xaf\"}", "invalid UTF-8");               /* overlong '/' */
        assert_invalid("{\"name\": \"\xed\xa0\x80\"}", "invalid UTF-8");           /* encoded surrogate */
        assert_invalid("{\"name\": \"\xe2\x82\"}", "invalid UTF-8");               /* cut sequence */
        assert_invalid("\xef\xbb\xbf" BASE, "unexpected character at byte 0");      /* BOM */

        /* Escapes json-glib 1.6 would mangle: a lone surrogate swallows the
         * next character (even the closing quote) or yields invalid UTF-8. */
        assert_invalid("{\"a\": \"\\ud800\", \"b\": 1}", "unpaired UTF-16 surrogate");
        assert_invalid("{\"a\": \"\\ud800x\"}", "unpaired UTF-16 surrogate");
        assert_invalid("{\"a\": \"\\udc00\\ud800\"}", "unpaired UTF-16 surrogate");
        assert_invalid("{\"a\": \"\\ud800\\u0041\"}", "unpaired UTF-16 surrogate");
        assert_invalid("{\"a\": \"\\u00\"}", "invalid escape sequence");
        assert_invalid("{\"a\": \"\\uzzzz\"}", "invalid escape sequence");
        assert_invalid("{\"a\": \"\\q\"}", "invalid escape sequence");
        assert_invalid("{\"a\": \"\\101\"}", "invalid escape sequence");
        assert_invalid("{\"a\": \"\\x41\"}", "invalid escape sequence");
        assert_invalid("{\"a\": \"\\", "invalid escape sequence");
        assert_invalid("{\"a\": \"\\u0000\"}", "NUL character (\\u0000)");
        assert_invalid("{\"a\": \"x\ny\"}", "control character in a string");
        assert_invalid("{\"a\": \"open", "string is not terminated");

        /* json-glib 1.6 extensions that are not JSON. */
        assert_invalid("{'format': 'migrationd-cookie'}", "unexpected character at byte 1");
        assert_invalid("{\"a\": /* \" */ 1}", "unexpected character at byte 6");
        assert_invalid("{\"a\": 1} // x", "unexpected character at byte 9");
        assert_invalid("{\"a\": 0x10}", "unexpected character at byte 7");
        assert_invalid("{\"a\": $10}", "unexpected character");
        assert_invalid("var cookie = " BASE ";", "unexpected character at byte 0");

        /* Standard escapes are fine, a valid pair too. */
        {
                g_autofree char *json = base_with("hostname", "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\ud83d\\ude00\"");
                g_autoptr(MigrationCookie) cookie = decode_ok(json);

                g_assert_cmpstr(cookie->hostname, ==, "\"\\/\b\f\n\r\té\xf0\x9f\x98\x80");
        }
}

static char *nested(const char *open, const char *close, guint depth) {
        GString *s = g_string_new("{\"format\": \"migrationd-cookie\", \"junk\": ");

        for (guint i = 0; i < depth; i++)
                g_string_append(s, open);
        for (guint i = 0; i < depth; i++)
                g_string_append(s, close);
        g_string_append(s, "}");
        return g_string_free(s, FALSE);
}

/* The top-level object is level 1. */
static void test_decode_nesting(void) {
        g_autofree char *ok = NULL, *arrays = NULL, *objects = NULL, *max = NULL, *huge = NULL;
        g_autofree char *unclosed = NULL;
        g_autoptr(GError) error = NULL;
        g_autoptr(MigrationCookie) cookie = NULL;
        gsize len;

        /* At the limit, in an unknown member: parsed, then ignored (here: the
         * cookie lacks version, so that is the error). */
        ok = nested("[", "]", MIGRATION_COOKIE_MAX_DEPTH - 1);
        assert_invalid(ok, "lacks member 'version'");
        arrays = nested("[", "]", MIGRATION_COOKIE_MAX_DEPTH);
        assert_invalid(arrays, "more than 32 levels deep");
        objects = nested("{\"a\":", "}", MIGRATION_COOKIE_MAX_DEPTH);
        assert_invalid(objects, "more than 32 levels deep");

        /* The deepest nesting 64 KiB allow: json-glib 1.6 would need over 6 MiB of stack. */
        len = (MIGRATION_COOKIE_MAX_SIZE - 48) / 2;
        max = nested("[", "]", len);
        g_assert_cmpuint(strlen(max), <=, MIGRATION_COOKIE_MAX_SIZE);
        assert_invalid(max, "more than 32 levels deep");
        unclosed = g_strnfill(MIGRATION_COOKIE_MAX_SIZE, '[');
        assert_error_len(unclosed, MIGRATION_COOKIE_MAX_SIZE, MD_ERROR_INVALID_COOKIE, "more than 32 levels deep");
        huge = nested("[", "]", 100000);
        assert_invalid(huge, "more than the limit");

        /* Brackets inside strings do not count. */
        {
                g_autofree char *in_string = g_strnfill(1000, '[');
                g_autofree char *quoted = g_strdup_printf("\"%s\\\"]]]\"", in_string);
                g_autofree char *json = base_with("persistent_xml", quoted);

                cookie = decode(json, &error);
                g_assert_no_error(error);
                g_assert_true(g_str_has_prefix(cookie->persistent_xml, "[[["));
        }
}

static void test_decode_format(void) {
        assert_member_invalid("format", NULL, "lacks member 'format'");
        assert_member_invalid("format", "\"libvirt-cookie\"", "member 'format' is not \"migrationd-cookie\"");
        assert_member_invalid("format", "\"Migrationd-Cookie\"", "is not \"migrationd-cookie\"");
        assert_member_invalid("format", "\"\"", "is not \"migrationd-cookie\"");
        assert_member_invalid("format", "1", "member 'format' must be a string, not an integer");
        assert_member_invalid("format", "null", "member 'format' must be a string, not null");
        assert_member_invalid("format", "[\"migrationd-cookie\"]", "must be a string, not an array");
}

static void test_decode_version(void) {
        assert_member_invalid("version", NULL, "lacks member 'version'");
        assert_member_invalid("version", "\"1\"", "member 'version' must be an integer, not a string");
        assert_member_invalid("version", "1.0", "member 'version' must be an integer, not a floating-point number");
        assert_member_invalid("version", "1.5", "must be an integer");
        assert_member_invalid("version", "1e30", "must be an integer");
        assert_member_invalid("version", "true", "must be an integer, not a boolean");
        assert_member_invalid("version", "null", "must be an integer, not null");
        assert_member_invalid("version", "{}", "must be an integer, not an object");
        assert_member_invalid("version", "0", "version 0 is invalid; versions start at 1");
        assert_member_invalid("version", "-1", "version -1 is invalid");
        assert_member_invalid("version", "-9223372036854775808", "is invalid");
        assert_member_invalid("version", "2", "version 2 is newer than this host supports (version 1)");
        assert_member_invalid("version", "9223372036854775807", "is newer than this host supports (version 1)");
        /* json-glib 1.6 wraps integer literals beyond 64 bits: this one reads as -1. */
        assert_member_invalid("version", "18446744073709551615", "is invalid");
}

static const char *const required_strings[] = { "name", "uuid", "hostname", "host_uuid" };

static void test_decode_required(void) {
        static const char *const required[] = { "name", "uuid", "hostname", "host_uuid", "protocol", "features" };
        static const struct {
                const char *json;
                const char *kind;
        } not_strings[] = {
                { "1", "an integer" }, { "1.5", "a floating-point number" }, { "true", "a boolean" },
                { "null", "null" }, { "[]", "an array" }, { "{}", "an object" },
        };

        for (guint i = 0; i < G_N_ELEMENTS(required); i++) {
                g_autofree char *want = g_strdup_printf("lacks member '%s'", required[i]);

                assert_member_invalid(required[i], NULL, want);
        }
        for (guint i = 0; i < G_N_ELEMENTS(required_strings); i++) {
                const char *member = required_strings[i];
                g_autofree char *empty = g_strdup_printf("member '%s' is empty", member);

                for (guint j = 0; j < G_N_ELEMENTS(not_strings); j++) {
                        g_autofree char *want = g_strdup_printf("member '%s' must be a string, not %s",
                                                                member, not_strings[j].kind);

                        assert_member_invalid(member, not_strings[j].json, want);
                }
                if (g_str_has_suffix(member, "uuid"))
                        assert_member_invalid(member, "\"\"", "is not a valid UUID");
                else
                        assert_member_invalid(member, "\"\"", empty);
        }
}

static void test_decode_string_limits(void) {
        g_autofree char *name_max = g_strnfill(1024, 'n');
        g_autofree char *name_long = g_strnfill(1025, 'n');
        g_autofree char *host_max = g_strnfill(255, 'h');
        g_autofree char *host_long = g_strnfill(256, 'h');
        g_autofree char *json = NULL;

        json = g_strdup_printf("\"%s\"", name_max);
        assert_member_ok("name", json);
        g_free(json);
        json = g_strdup_printf("\"%s\"", name_long);
        assert_member_invalid("name", json, "member 'name' is longer than 1024 bytes");
        g_free(json);
        json = g_strdup_printf("\"%s\"", host_max);
        assert_member_ok("hostname", json);
        g_free(json);
        json = g_strdup_printf("\"%s\"", host_long);
        assert_member_invalid("hostname", json, "member 'hostname' is longer than 255 bytes");
}

static void test_decode_uuids(void) {
        static const char *const bad[] = {
                "\"dcf47dbd46d14d5bb442262a806a333a\"",
                "\"{dcf47dbd-46d1-4d5b-b442-262a806a333a}\"",
                "\"dcf47dbd-46d1-4d5b-b442-262a806a333\"",
                "\"dcf47dbd-46d1-4d5b-b442-262a806a333aa\"",
                "\"gcf47dbd-46d1-4d5b-b442-262a806a333a\"",
                "\"dcf47dbd_46d1_4d5b_b442_262a806a333a\"",
                "\" dcf47dbd-46d1-4d5b-b442-262a806a333a\"",
                "\"upstream\"",
        };

        for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
                assert_member_invalid("uuid", bad[i], "member 'uuid' is not a valid UUID");
                assert_member_invalid("host_uuid", bad[i], "member 'host_uuid' is not a valid UUID");
        }
        {
                g_autofree char *json = base_with("uuid", "\"DCF47DBD-46D1-4D5B-B442-262A806A333A\"");
                g_autoptr(MigrationCookie) cookie = decode_ok(json);

                g_assert_cmpstr(cookie->uuid, ==, UUID);
        }
}

static void test_decode_protocol(void) {
        assert_member_invalid("protocol", "1", "member 'protocol' is 1; this host speaks migration protocols 2 and 3");
        assert_member_invalid("protocol", "4", "member 'protocol' is 4;");
        assert_member_invalid("protocol", "0", "member 'protocol' is 0;");
        assert_member_invalid("protocol", "-3", "member 'protocol' is -3;");
        assert_member_invalid("protocol", "4294967299", "member 'protocol' is 4294967299;");
        assert_member_invalid("protocol", "\"3\"", "member 'protocol' must be an integer, not a string");
        assert_member_invalid("protocol", "3.0", "must be an integer, not a floating-point number");
        assert_member_invalid("protocol", "[3]", "must be an integer, not an array");
        assert_member_ok("protocol", "2");
        assert_member_ok("protocol", "3");
}

static void test_decode_features(void) {
        g_autofree char *long_name = g_strnfill(65, 'f');
        g_autofree char *long_json = g_strdup_printf("[{\"name\": \"%s\", \"mandatory\": false}]", long_name);
        g_autofree char *max_name = g_strnfill(64, 'f');
        g_autofree char *max_json = g_strdup_printf("[{\"name\": \"%s\", \"mandatory\": false}]", max_name);

        assert_member_invalid("features", "{}", "member 'features' must be an array, not an object");
        assert_member_invalid("features", "\"stats\"", "member 'features' must be an array, not a string");
        assert_member_invalid("features", "null", "must be an array, not null");
        assert_member_invalid("features", "[\"stats\"]", "Entry 0 of the migration cookie's 'features' must be an object, not a string");
        assert_member_invalid("features", "[{\"name\": \"stats\", \"mandatory\": false}, 1]", "Entry 1 of the migration cookie's 'features' must be an object, not an integer");
        assert_member_invalid("features", "[[]]", "must be an object, not an array");
        assert_member_invalid("features", "[{\"mandatory\": false}]", "Entry 0 of the migration cookie's 'features' lacks a string member 'name'");
        assert_member_invalid("features", "[{\"name\": 1, \"mandatory\": false}]", "lacks a string member 'name'");
        assert_member_invalid("features", "[{\"name\": \"stats\"}]", "Entry 0 of the migration cookie's 'features' lacks a boolean member 'mandatory'");
        assert_member_invalid("features", "[{\"name\": \"stats\", \"mandatory\": \"true\"}]", "lacks a boolean member 'mandatory'");
        assert_member_invalid("features", "[{\"name\": \"stats\", \"mandatory\": 1}]", "lacks a boolean member 'mandatory'");
        assert_member_invalid("features", "[{\"name\": \"stats\", \"mandatory\": null}]", "lacks a boolean member 'mandatory'");
        assert_member_invalid("features", "[{\"name\": \"\", \"mandatory\": false}]", "Entry 0 of the migration cookie's 'features' has an invalid name");
        assert_member_invalid("features", "[{\"name\": \"a b\", \"mandatory\": false}]", "has an invalid name");
        assert_member_invalid("features", "[{\"name\": \"a/b\", \"mandatory\": false}]", "has an invalid name");
        assert_member_invalid("features", "[{\"name\": \"caf\\u00e9\", \"mandatory\": false}]", "has an invalid name");
        assert_member_invalid("features", long_json, "has an invalid name; a feature name is 1 to 64 characters");
        assert_member_ok("features", max_json);
        assert_member_invalid("features", "[{\"name\": \"stats\", \"mandatory\": false}, {\"name\": \"stats\", \"mandatory\": true}]", "lists feature 'stats' twice");
        assert_member_invalid("features", "[{\"name\": \"new\", \"mandatory\": false}, {\"name\": \"new\", \"mandatory\": false}]", "lists feature 'new' twice");
}

static void test_decode_mandatory(void) {
        g_autofree char *unknown = base_with("features", "[{\"name\": \"stats\", \"mandatory\": false}, "
                                             "{\"name\": \"teleport\", \"mandatory\": true}]");
        g_autofree char *optional = base_with("features", "[{\"name\": \"teleport\", \"mandatory\": false, \"x\": [1]}]");
        g_autofree char *known = base_with("features", "[{\"name\": \"migration-params\", \"mandatory\": true}]");
        g_autoptr(MigrationCookie) cookie = NULL;
        g_autoptr(GError) error = NULL;

        assert_error_len(unknown, strlen(unknown), MD_ERROR_UNSUPPORTED,
                         "The migration cookie requires feature 'teleport', which this host does not support");

        cookie = decode_ok(optional);
        g_assert_true(migration_cookie_has_feature(cookie, "teleport"));
        g_assert_false(migration_cookie_has_feature(cookie, "stats"));
        g_clear_pointer(&cookie, migration_cookie_free);

        cookie = decode_ok(known);
        g_assert_true(feature_at(cookie, 0)->mandatory);
        g_clear_pointer(&cookie, migration_cookie_free);

        /* No known features at all. */
        cookie = migration_cookie_decode((const guint8 *) known, strlen(known), NULL, &error);
        g_assert_null(cookie);
        g_assert_error(error, MD_ERROR, MD_ERROR_UNSUPPORTED);
        assert_message(error, "requires feature 'migration-params'");
        g_clear_error(&error);
        cookie = migration_cookie_decode((const guint8 *) optional, strlen(optional), NULL, &error);
        g_assert_no_error(error);
        g_clear_pointer(&cookie, migration_cookie_free);

        /* A newer sender's unknown mandatory feature wins over what else it
         * changed, so the error names the real reason. */
        {
                g_autoptr(JsonNode) root = json_from_string(unknown, NULL);
                g_autofree char *json = NULL;

                json_object_set_int_member(json_node_get_object(root), "protocol", 4);
                json_object_set_int_member(json_node_get_object(root), "name", 1);
                json = json_to_string(root, FALSE);
                assert_error_len(json, strlen(json), MD_ERROR_UNSUPPORTED, "requires feature 'teleport'");
        }
}

static void test_decode_stats(void) {
        static const struct {
                const char *stats;
                const char *want;
        } bad[] = {
                { "[]", "member 'stats' must be an object, not an array" },
                { "\"x\"", "member 'stats' must be an object, not a string" },
                { "1", "must be an object, not an integer" },
                { "null", "must be an object, not null" },
                { "{\"a\": 1}", "statistic 'a' must be an object, not an integer" },
                { "{\"a\": [\"t\", 1]}", "statistic 'a' must be an object, not an array" },
                { "{\"a\": {\"value\": 1}}", "statistic 'a' lacks a string member 'type'" },
                { "{\"a\": {\"type\": 116, \"value\": 1}}", "lacks a string member 'type'" },
                { "{\"a\": {\"type\": \"ay\", \"value\": \"x\"}}", "statistic 'a' has an unsupported type" },
                { "{\"a\": {\"type\": \"v\", \"value\": 1}}", "has an unsupported type" },
                { "{\"a\": {\"type\": \"a{sv}\", \"value\": {}}}", "has an unsupported type" },
                { "{\"a\": {\"type\": \"as\", \"value\": [\"x\"]}}", "has an unsupported type" },
                { "{\"a\": {\"type\": \"(t)\", \"value\": [1]}}", "has an unsupported type" },
                { "{\"a\": {\"type\": \"o\", \"value\": \"/\"}}", "has an unsupported type" },
                { "{\"a\": {\"type\": \"\", \"value\": 1}}", "has an unsupported type" },
                { "{\"a\": {\"type\": \"tt\", \"value\": 1}}", "has an unsupported type" },
                { "{\"a\": {\"type\": \"t\"}}", "statistic 'a' lacks a member 'value' that is a valid 't'" },
                { "{\"a\": {\"type\": \"t\", \"value\": [1]}}", "lacks a member 'value' that is a valid 't'" },
                { "{\"a\": {\"type\": \"t\", \"value\": {\"type\": \"t\", \"value\": 1}}}", "valid 't'" },
                { "{\"a\": {\"type\": \"t\", \"value\": null}}", "valid 't'" },
                { "{\"a\": {\"type\": \"t\", \"value\": -1}}", "valid 't'" },
                { "{\"a\": {\"type\": \"t\", \"value\": 1.5}}", "valid 't'" },
                { "{\"a\": {\"type\": \"t\", \"value\": \"abc\"}}", "valid 't'" },
                { "{\"a\": {\"type\": \"t\", \"value\": \"-1\"}}", "valid 't'" },
                { "{\"a\": {\"type\": \"t\", \"value\": \"+1\"}}", "valid 't'" },
                { "{\"a\": {\"type\": \"t\", \"value\": \"\"}}", "valid 't'" },
                { "{\"a\": {\"type\": \"t\", \"value\": \"18446744073709551616\"}}", "valid 't'" },
                { "{\"a\": {\"type\": \"x\", \"value\": 1.5}}", "valid 'x'" },
                { "{\"a\": {\"type\": \"x\", \"value\": \"1\"}}", "valid 'x'" },
                { "{\"a\": {\"type\": \"u\", \"value\": 4294967296}}", "valid 'u'" },
                { "{\"a\": {\"type\": \"u\", \"value\": -1}}", "valid 'u'" },
                { "{\"a\": {\"type\": \"i\", \"value\": 2147483648}}", "valid 'i'" },
                { "{\"a\": {\"type\": \"i\", \"value\": -2147483649}}", "valid 'i'" },
                { "{\"a\": {\"type\": \"i\", \"value\": true}}", "valid 'i'" },
                { "{\"a\": {\"type\": \"d\", \"value\": \"1\"}}", "valid 'd'" },
                { "{\"a\": {\"type\": \"d\", \"value\": true}}", "valid 'd'" },
                { "{\"a\": {\"type\": \"d\", \"value\": 1e999}}", "valid 'd'" },
                { "{\"a\": {\"type\": \"d\", \"value\": -1e999}}", "valid 'd'" },
                { "{\"a\": {\"type\": \"b\", \"value\": 1}}", "valid 'b'" },
                { "{\"a\": {\"type\": \"b\", \"value\": \"true\"}}", "valid 'b'" },
                { "{\"a\": {\"type\": \"s\", \"value\": 1}}", "valid 's'" },
                { "{\"a\": {\"type\": \"s\", \"value\": [\"x\"]}}", "valid 's'" },
                { "{\"\": {\"type\": \"t\", \"value\": 1}}", "a statistic with an invalid name" },
                { "{\"a b\": {\"type\": \"t\", \"value\": 1}}", "a statistic with an invalid name" },
                { "{\"ok\": {\"type\": \"t\", \"value\": 1}, \"bad\": {\"type\": \"z\", \"value\": 1}}", "statistic 'bad'" },
        };

        for (guint i = 0; i < G_N_ELEMENTS(bad); i++)
                assert_member_invalid("stats", bad[i].stats, bad[i].want);
}

static void test_decode_stats_accepted(void) {
        g_autofree char *json = base_with("stats", "{\"d\": {\"type\": \"d\", \"value\": 3, \"unit\": \"x\"}, "
                                          "\"t\": {\"type\": \"t\", \"value\": \"0042\"}, "
                                          "\"s\": {\"type\": \"s\", \"value\": \"\"}, "
                                          "\"dup\": {\"type\": \"u\", \"value\": 1}, "
                                          "\"dup\": {\"type\": \"s\", \"value\": \"last\"}}");
        g_autoptr(MigrationCookie) cookie = decode_ok(json);
        g_autoptr(GVariant) d = lookup_stat(cookie, "d", "d");
        g_autoptr(GVariant) t = lookup_stat(cookie, "t", "t");
        g_autoptr(GVariant) dup = lookup_stat(cookie, "dup", "s");

        /* An integral double may be written as an integer. */
        g_assert_cmpfloat(g_variant_get_double(d), ==, 3.0);
        g_assert_cmpuint(g_variant_get_uint64(t), ==, 42);
        /* json-glib keeps the last of repeated members. */
        g_assert_cmpuint(g_variant_n_children(cookie->stats), ==, 4);
        g_assert_cmpstr(g_variant_get_string(dup, NULL), ==, "last");
}

static void test_decode_optional_members(void) {
        assert_member_invalid("source_stop_time_ms", "-1", "member 'source_stop_time_ms' is negative");
        assert_member_invalid("source_stop_time_ms", "1.5", "member 'source_stop_time_ms' must be an integer, not a floating-point number");
        assert_member_invalid("source_stop_time_ms", "\"5\"", "must be an integer, not a string");
        assert_member_invalid("source_stop_time_ms", "null", "must be an integer, not null");
        assert_member_invalid("persistent_xml", "1", "member 'persistent_xml' must be a string, not an integer");
        assert_member_invalid("persistent_xml", "{}", "member 'persistent_xml' must be a string, not an object");
        assert_member_ok("source_stop_time_ms", "0");
        assert_member_ok("persistent_xml", "\"\"");
        assert_member_invalid("ram_kib", "-8", "member 'ram_kib' is negative");
        assert_member_invalid("ram_kib", "\"65544\"", "member 'ram_kib' must be an integer, not a string");
        assert_member_ok("ram_kib", "65544");
        assert_member_ok("unknown_member", "{\"x\": [1, 2, {\"y\": null}]}");
}

void migration_cookie_decode_add_tests(void) {
        g_test_add_func("/migration-cookie/decode/size", test_decode_size);
        g_test_add_func("/migration-cookie/decode/not-json", test_decode_not_json);
        g_test_add_func("/migration-cookie/decode/after-value", test_decode_after_value);
        g_test_add_func("/migration-cookie/decode/truncated", test_decode_truncated);
        g_test_add_func("/migration-cookie/decode/encoding", test_decode_encoding);
        g_test_add_func("/migration-cookie/decode/nesting", test_decode_nesting);
        g_test_add_func("/migration-cookie/decode/format", test_decode_format);
        g_test_add_func("/migration-cookie/decode/version", test_decode_version);
        g_test_add_func("/migration-cookie/decode/required", test_decode_required);
        g_test_add_func("/migration-cookie/decode/string-limits", test_decode_string_limits);
        g_test_add_func("/migration-cookie/decode/uuids", test_decode_uuids);
        g_test_add_func("/migration-cookie/decode/protocol", test_decode_protocol);
        g_test_add_func("/migration-cookie/decode/features", test_decode_features);
        g_test_add_func("/migration-cookie/decode/mandatory", test_decode_mandatory);
        g_test_add_func("/migration-cookie/decode/stats", test_decode_stats);
        g_test_add_func("/migration-cookie/decode/stats-accepted", test_decode_stats_accepted);
        g_test_add_func("/migration-cookie/decode/optional-members", test_decode_optional_members);
}
