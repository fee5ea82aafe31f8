#define G_LOG_DOMAIN "migrationd"

#include <string.h>

#include "md-error.h"
#include "params-test.h"

GVariant *parse(const char *text) {
        g_autoptr(GError) error = NULL;
        GVariant *v = g_variant_parse(G_VARIANT_TYPE_VARDICT, text, NULL, NULL, &error);

        g_assert_no_error(error);
        return v;       /* not floating */
}

void assert_mentions(const GError *error, const char *const *words) {
        for (; words && *words; words++)
                if (!strstr(error->message, *words))
                        g_error("'%s' does not mention '%s'", error->message, *words);
}

void assert_params_error(const char *dict, guint flags, gint code, ...) {
        g_autoptr(GVariant) v = dict ? parse(dict) : NULL;
        g_autoptr(GError) error = NULL;
        g_autoptr(MigrationParams) p = migration_params_new(v, flags, &error);
        g_autoptr(GPtrArray) words = g_ptr_array_new();
        const char *w;
        va_list ap;

        va_start(ap, code);
        while ((w = va_arg(ap, const char *)))
                g_ptr_array_add(words, (gpointer) w);
        va_end(ap);
        g_ptr_array_add(words, NULL);

        if (!error)
                g_error("%s with flags 0x%x was accepted", dict ? dict : "(no dict)", flags);
        g_assert_null(p);
        g_assert_error(error, MD_ERROR, code);
        assert_mentions(error, (const char *const *) words->pdata);
}

MigrationParams *params_ok(const char *dict, guint flags) {
        g_autoptr(GVariant) v = dict ? parse(dict) : NULL;
        g_autoptr(GError) error = NULL;
        MigrationParams *p = migration_params_new(v, flags, &error);

        g_assert_no_error(error);
        g_assert_nonnull(p);
        return p;
}
