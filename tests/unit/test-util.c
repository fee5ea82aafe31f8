#include <glib.h>
#include <glib/gstdio.h>

#include "test-util.h"

void test_remove_tree(const char *path) {
        g_autoptr(GDir) dir = g_dir_open(path, 0, NULL);
        const char *name;

        while (dir && (name = g_dir_read_name(dir))) {
                g_autofree char *child = g_build_filename(path, name, NULL);
                if (g_file_test(child, G_FILE_TEST_IS_DIR) && !g_file_test(child, G_FILE_TEST_IS_SYMLINK))
                        test_remove_tree(child);
                else
                        (void) g_unlink(child);
        }
        (void) g_rmdir(path);
}

static void on_begun(GObject *source, GAsyncResult *result, gpointer user_data) {
        *(GAsyncResult **) user_data = g_object_ref(result);
}

gboolean test_migration_begin(Domain *d, MigrationParams *params, const char *owner, char **ret_xml,
                              GBytes **ret_cookie, GError **error) {
        g_autoptr(GAsyncResult) result = NULL;

        migration_begin_async(d, params, owner, on_begun, &result);
        while (!result)
                g_main_context_iteration(NULL, TRUE);
        return migration_begin_finish(result, ret_xml, ret_cookie, error);
}
