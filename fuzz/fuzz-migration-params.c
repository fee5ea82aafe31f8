/* Fuzzes migration parameter validation. Input: 4 bytes of flags (little
 * endian), then a serialised a{sv} (GVariant's native little-endian form).
 * GVariant accepts any bytes for a type, in non-normal form; the normal form
 * is what a caller would get from a bus message. Checks that validation
 * never crashes, and that an accepted dictionary with only the plain-form
 * keys is accepted by the plain form too. */
#include <stdint.h>
#include <string.h>
#include <glib.h>

#include "md-error.h"
#include "migration-params.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        g_autoptr(GBytes) bytes = NULL;
        g_autoptr(GVariant) raw = NULL, dict = NULL;
        g_autoptr(MigrationParams) p = NULL, plain = NULL;
        g_autoptr(GError) error = NULL;
        guint32 flags;

        if (size < sizeof flags)
                return 0;
        memcpy(&flags, data, sizeof flags);
        flags = GUINT32_FROM_LE(flags);

        bytes = g_bytes_new(data + sizeof flags, size - sizeof flags);
        raw = g_variant_ref_sink(g_variant_new_from_bytes(G_VARIANT_TYPE_VARDICT, bytes, FALSE));
        dict = g_variant_get_normal_form(raw);          /* a full reference, not floating */

        (void) migration_flags_check(flags, NULL);

        p = migration_params_new(dict, flags, &error);
        if (!p) {
                g_assert_nonnull(error);
                g_assert_true(error->domain == MD_ERROR);
                g_assert_true(error->code == MD_ERROR_INVALID_ARGS || error->code == MD_ERROR_UNSUPPORTED);
                g_assert_true(g_utf8_validate(error->message, -1, NULL));
                return 0;
        }
        g_assert_null(error);
        g_assert_cmpuint(p->flags, ==, flags);

        /* Accepted means only implemented keys; a zero bandwidth is "unlimited"
         * in the dictionary but "not given" in the plain form, same meaning. */
        plain = migration_params_new_plain(p->destination_xml, p->destination_name, p->migrate_uri,
                                           p->bandwidth, flags, &error);
        g_assert_no_error(error);
        g_assert_cmpstr(plain->migrate_uri, ==, p->migrate_uri);
        g_assert_cmpstr(plain->destination_name, ==, p->destination_name);
        g_assert_cmpstr(plain->destination_xml, ==, p->destination_xml);
        g_assert_cmpuint(plain->bandwidth, ==, p->bandwidth);
        if (p->migrate_uri)
                g_assert_true(migration_uri_parse(p->migrate_uri, NULL, NULL, NULL));
        return 0;
}
