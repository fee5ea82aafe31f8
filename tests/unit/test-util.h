/* Helpers the core's unit tests share. */
#pragma once

/* Removes @path and everything below it (a test's temporary directory);
 * symbolic links are removed, never followed. */
void test_remove_tree(const char *path);

#include "migration.h"

/* migration_begin_async(), waited for on the default main context. */
gboolean test_migration_begin(Domain *d, MigrationParams *params /* consumed */, const char *owner, char **ret_xml,
                              GBytes **ret_cookie, GError **error);
