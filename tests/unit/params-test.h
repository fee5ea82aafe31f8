/* What the migration parameters' unit tests share: parsing a GVariant
 * text, and the checks of an accepted or refused dictionary. */
#pragma once

#include <glib.h>

#include "migration-params.h"

GVariant *parse(const char *text);
void assert_mentions(const GError *error, const char *const *words);
/* migration_params_new(@dict, @flags) fails with @code, mentioning each of
 * the NULL-terminated words. */
void assert_params_error(const char *dict, guint flags, gint code, ...) G_GNUC_NULL_TERMINATED;
MigrationParams *params_ok(const char *dict, guint flags);

void migration_params_table_add_tests(void);
