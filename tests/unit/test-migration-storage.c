/* Storage migration's image work with the real qemu-img: what Begin tells
 * the destination of each image (format, virtual size, and under
 * NON_SHARED_INC its backing file), and the images Prepare creates. */
#include <string.h>
#include <glib/gstdio.h>

#include "md-error.h"
#include "migration-storage.h"
#include "storage-image.h"
#include "test-util.h"


static char *workdir;

static void run(const char *command) {
        g_autoptr(GError) error = NULL;
        g_autofree char *err = NULL;
        int status;

        g_assert_true(g_spawn_command_line_sync(command, NULL, &err, &status, &error));
        g_assert_no_error(error);
        if (!g_spawn_check_wait_status(status, NULL))
                g_error("%s: %s", command, err);
}

static char *path_of(const char *name) {
        return g_build_filename(workdir, name, NULL);
}

static DomainDef *def_with_disk(const char *image) {
        g_autofree char *xml = g_strdup_printf(
                "<domain type='qemu'><name>vm1</name><memory unit='MiB'>64</memory><os><type>hvm</type></os>"
                "<devices><disk type='file' device='disk'><driver name='qemu' type='qcow2' cache='none'/>"
                "<source file='%s'/><target dev='vda' bus='virtio'/></disk></devices></domain>", image);
        g_autoptr(GError) error = NULL;
        DomainDef *def = domain_def_parse(xml, -1, &error);

        g_assert_no_error(error);
        return def;
}

static MigrationParams *params(guint flags) {
        g_autoptr(GError) error = NULL;
        MigrationParams *p = migration_params_new(NULL, flags, &error);

        g_assert_no_error(error);
        return p;
}

/* Begin's description of @image under @flags; NULL with @error. */
static MigrationCookie *describe(const char *image, guint flags, GError **error) {
        g_autoptr(DomainDef) def = def_with_disk(image);
        g_autoptr(MigrationParams) p = params(flags);
        g_autoptr(MigrationCookie) cookie = migration_cookie_new();

        if (!migration_storage_describe(def, p, cookie, error))
                return NULL;
        return g_steal_pointer(&cookie);
}

static void setup(void) {
        g_autofree char *base = path_of("base.qcow2"), *top = path_of("top.qcow2");
        g_autofree char *sub = path_of("sub");
        g_autofree char *cmd = NULL;

        g_mkdir(sub, 0755);
        cmd = g_strdup_printf("qemu-img create -q -f qcow2 %s 16M", base);
        run(cmd);
        g_free(cmd);
        /* Stored relative, through another directory: the cookie gets it canonical. */
        cmd = g_strdup_printf("qemu-img create -q -f qcow2 -b sub/../base.qcow2 -F qcow2 %s", top);
        run(cmd);
}

static void test_describe_inc(void) {
        g_autofree char *top = path_of("top.qcow2"), *base = path_of("base.qcow2");
        g_autoptr(GError) error = NULL;
        g_autoptr(MigrationCookie) cookie = describe(top, MIGRATE_LIVE | MIGRATE_NON_SHARED_INC, &error);
        const MigrationCookieDisk *disk;

        g_assert_no_error(error);
        disk = migration_cookie_find_nbd_disk(cookie, "vda");
        g_assert_nonnull(disk);
        g_assert_cmpstr(disk->format, ==, "qcow2");
        g_assert_cmpint(disk->capacity, ==, 16 << 20);
        g_assert_cmpstr(disk->backing, ==, base);
        g_assert_cmpstr(disk->backing_format, ==, "qcow2");
}

/* A full copy flattens the chain: no backing file for the destination. */
static void test_describe_full(void) {
        g_autofree char *top = path_of("top.qcow2");
        g_autoptr(GError) error = NULL;
        g_autoptr(MigrationCookie) cookie = describe(top, MIGRATE_LIVE | MIGRATE_NON_SHARED_DISK, &error);

        g_assert_no_error(error);
        g_assert_null(migration_cookie_find_nbd_disk(cookie, "vda")->backing);
}

/* No backing file: copied whole, as libvirt. */
static void test_describe_inc_no_backing(void) {
        g_autofree char *base = path_of("base.qcow2");
        g_autoptr(GError) error = NULL;
        g_autoptr(MigrationCookie) cookie = describe(base, MIGRATE_LIVE | MIGRATE_NON_SHARED_INC, &error);

        g_assert_no_error(error);
        g_assert_null(migration_cookie_find_nbd_disk(cookie, "vda")->backing);
        g_assert_null(migration_cookie_find_nbd_disk(cookie, "vda")->backing_format);
}

/* A backing file the destination could not stat: refused at Begin. */
static void test_describe_inc_remote_backing(void) {
        g_autofree char *top = path_of("remote.qcow2");
        g_autofree char *cmd = g_strdup_printf("qemu-img create -q -u -f qcow2 -b nbd://127.0.0.1:1/x -F raw %s 1M",
                                               top);
        g_autoptr(GError) error = NULL;
        g_autoptr(MigrationCookie) cookie = NULL;

        run(cmd);
        cookie = describe(top, MIGRATE_LIVE | MIGRATE_NON_SHARED_INC, &error);
        g_assert_null(cookie);
        g_assert_error(error, MD_ERROR, MD_ERROR_UNSUPPORTED);
        g_assert_nonnull(strstr(error->message, "disk vda"));
        g_assert_nonnull(strstr(error->message, "nbd://127.0.0.1:1/x"));
        g_assert_nonnull(strstr(error->message, "NON_SHARED_DISK"));
}

static MigrationCookie *inc_cookie(const char *backing) {
        MigrationCookie *cookie = migration_cookie_new();

        migration_cookie_set_nbd_backing(migration_cookie_add_nbd_disk(cookie, "vda", "qcow2", 8 << 20), backing,
                                         backing ? "qcow2" : NULL);
        return cookie;
}

static void on_done(GObject *source, GAsyncResult *result, gpointer user_data) {
        *(GAsyncResult **) user_data = g_object_ref(result);
}

/* storage_image_create_async() of @image for @cookie's disk, waited for. */
static gboolean create(const char *image, gboolean top_only, const MigrationCookie *cookie, GError **error) {
        g_autoptr(GAsyncResult) result = NULL;

        storage_image_create_async(image, cookie->nbd_disks->pdata[0], top_only, on_done, &result);
        /* Nothing blocks: the loop runs until qemu-img is done. */
        g_assert_null(result);
        while (!result)
                g_main_context_iteration(NULL, TRUE);
        return storage_image_create_finish(result, error);
}

static char *image_info(const char *image) {
        g_autofree char *cmd = g_strdup_printf("qemu-img info --output=json %s", image);
        char *out = NULL;

        g_assert_true(g_spawn_command_line_sync(cmd, &out, NULL, NULL, NULL));
        return out;
}

static void test_create_inc(void) {
        g_autofree char *base = path_of("base.qcow2"), *image = path_of("created-inc.qcow2");
        g_autofree char *info = NULL, *want = NULL;
        g_autoptr(MigrationCookie) cookie = inc_cookie(base);
        g_autoptr(GError) error = NULL;

        g_assert_true(create(image, TRUE, cookie, &error));
        g_assert_no_error(error);
        info = image_info(image);
        want = g_strdup_printf("\"full-backing-filename\": \"%s\"", base);
        g_assert_nonnull(strstr(info, want));
        g_assert_nonnull(strstr(info, "\"backing-filename-format\": \"qcow2\""));
        g_assert_nonnull(strstr(info, "\"virtual-size\": 8388608"));
}

/* The same disk for NON_SHARED_DISK: a standalone image. */
static void test_create_full_ignores_backing(void) {
        g_autofree char *base = path_of("base.qcow2"), *image = path_of("created-full.qcow2");
        g_autofree char *info = NULL;
        g_autoptr(MigrationCookie) cookie = inc_cookie(base);
        g_autoptr(GError) error = NULL;

        g_assert_true(create(image, FALSE, cookie, &error));
        g_assert_no_error(error);
        info = image_info(image);
        g_assert_null(strstr(info, "backing-filename"));
}

static void test_create_backing_missing(void) {
        g_autofree char *missing = path_of("no-base.qcow2"), *image = path_of("created-missing.qcow2");
        g_autoptr(MigrationCookie) cookie = inc_cookie(missing);
        g_autoptr(GError) error = NULL;

        g_assert_false(create(image, TRUE, cookie, &error));
        g_assert_error(error, MD_ERROR, MD_ERROR_MIGRATION_FAILED);
        g_assert_nonnull(strstr(error->message, "disk vda"));
        g_assert_nonnull(strstr(error->message, missing));
        g_assert_false(g_file_test(image, G_FILE_TEST_EXISTS));
}

static void test_create_no_directory(void) {
        g_autofree char *image = path_of("no-dir/created.qcow2");
        g_autoptr(MigrationCookie) cookie = inc_cookie(NULL);
        g_autoptr(GError) error = NULL;

        g_assert_false(create(image, TRUE, cookie, &error));
        g_assert_error(error, MD_ERROR, MD_ERROR_MIGRATION_FAILED);
        g_assert_nonnull(strstr(error->message, image));
        g_assert_nonnull(strstr(error->message, "disk vda"));
}

int main(int argc, char **argv) {
        g_autofree char *qemu_img = g_find_program_in_path("qemu-img");
        int ret;

        g_test_init(&argc, &argv, NULL);
        if (!qemu_img) {
                g_test_skip("qemu-img is not installed");
                return g_test_run();
        }
        workdir = g_dir_make_tmp("md-storage-XXXXXX", NULL);
        g_assert_nonnull(workdir);
        setup();
        g_test_add_func("/migration-storage/describe/inc", test_describe_inc);
        g_test_add_func("/migration-storage/describe/full", test_describe_full);
        g_test_add_func("/migration-storage/describe/inc-no-backing", test_describe_inc_no_backing);
        g_test_add_func("/migration-storage/describe/inc-remote-backing", test_describe_inc_remote_backing);
        g_test_add_func("/migration-storage/create/inc", test_create_inc);
        g_test_add_func("/migration-storage/create/full-ignores-backing", test_create_full_ignores_backing);
        g_test_add_func("/migration-storage/create/backing-missing", test_create_backing_missing);
        g_test_add_func("/migration-storage/create/no-directory", test_create_no_directory);
        ret = g_test_run();
        test_remove_tree(workdir);
        g_free(workdir);
        return ret;
}
