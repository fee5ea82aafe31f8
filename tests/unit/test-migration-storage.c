/* Storage migration's image work: what Begin tells the destination of
 * each image (format, virtual size, and under NON_SHARED_INC its backing
 * file) from what the real QEMU has open, and from hostile answers; the
 * images Prepare creates with the real qemu-img. */
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

/* What QEMU answers query-block with @image open as the drive of disk vda
 * (-drive if=none,id=disk0, as qemu-command-disks.c starts it): the real
 * QEMU, run on its QMP over stdio. */
static GPtrArray *qemu_images(const char *image) {
        g_autofree char *drive = g_strdup_printf("file=%s,format=qcow2,if=none,id=disk0", image);
        const char *argv[] = { "qemu-system-x86_64", "-machine", "none", "-nodefaults", "-display", "none",
                               "-qmp", "stdio", "-drive", drive, NULL };
        g_autoptr(GSubprocess) proc = NULL;
        g_autoptr(GError) error = NULL;
        g_autofree char *out = NULL;
        g_auto(GStrv) lines = NULL;

        proc = g_subprocess_newv(argv, G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error);
        g_assert_no_error(error);
        g_assert_true(g_subprocess_communicate_utf8(proc,
                                                    "{\"execute\": \"qmp_capabilities\"}\n"
                                                    "{\"execute\": \"query-block\", \"id\": \"q\"}\n"
                                                    "{\"execute\": \"quit\"}\n",
                                                    NULL, &out, NULL, &error));
        g_assert_no_error(error);
        lines = g_strsplit(out, "\n", -1);
        for (guint i = 0; lines[i]; i++) {
                g_autoptr(JsonParser) parser = json_parser_new();
                JsonObject *o;

                if (!json_parser_load_from_data(parser, lines[i], -1, NULL) ||
                    !JSON_NODE_HOLDS_OBJECT(json_parser_get_root(parser)))
                        continue;
                o = json_node_get_object(json_parser_get_root(parser));
                if (g_strcmp0(json_object_get_string_member_with_default(o, "id", NULL), "q") == 0) {
                        GPtrArray *images = qemu_monitor_parse_block_images(json_object_get_member(o, "return"),
                                                                            &error);
                        g_assert_no_error(error);
                        return images;
                }
        }
        g_error("QEMU did not answer query-block: %s", out);
}

/* Begin's description of disk vda under @flags from @images; NULL with @error. */
static MigrationCookie *describe_images(const char *image, GPtrArray *images, const GError *query_error,
                                        guint flags, GError **error) {
        g_autoptr(DomainDef) def = def_with_disk(image);
        g_autoptr(MigrationParams) p = params(flags);
        g_autoptr(MigrationCookie) cookie = migration_cookie_new();
        g_autoptr(GArray) disks = migration_storage_disks(def, p, error);

        g_assert_nonnull(disks);
        if (!migration_storage_describe(def, disks, (flags & MIGRATE_NON_SHARED_INC) != 0, images, query_error,
                                        cookie, error))
                return NULL;
        return g_steal_pointer(&cookie);
}

/* ... from what a real QEMU has open. */
static MigrationCookie *describe(const char *image, guint flags, GError **error) {
        g_autoptr(GPtrArray) images = qemu_images(image);

        return describe_images(image, images, NULL, flags, error);
}

/* One entry of query-block, as QEMU might send it: @image_json the
 * "image" member (nullable: no medium). */
static GPtrArray *parsed(const char *image_json) {
        g_autofree char *json = image_json
                ? g_strdup_printf("[{\"device\": \"disk0\", \"inserted\": {\"image\": %s}}]", image_json)
                : g_strdup("[{\"device\": \"disk0\"}]");
        g_autoptr(JsonNode) node = json_from_string(json, NULL);
        g_autoptr(GError) error = NULL;
        GPtrArray *images = qemu_monitor_parse_block_images(node, &error);

        g_assert_no_error(error);
        return images;
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

/* A backing file the destination could not stat (QEMU reaches it over
 * NBD): refused at Begin. */
static void test_describe_inc_remote_backing(void) {
        g_autofree char *top = path_of("top.qcow2");
        g_autoptr(GPtrArray) images = parsed("{\"virtual-size\": 1048576, \"full-backing-filename\": "
                                             "\"nbd://127.0.0.1:1/x\", \"backing-filename-format\": \"raw\"}");
        g_autoptr(GError) error = NULL;
        g_autoptr(MigrationCookie) cookie = NULL;

        cookie = describe_images(top, images, NULL, MIGRATE_LIVE | MIGRATE_NON_SHARED_INC, &error);
        g_assert_null(cookie);
        g_assert_error(error, MD_ERROR, MD_ERROR_UNSUPPORTED);
        g_assert_nonnull(strstr(error->message, "disk vda"));
        g_assert_nonnull(strstr(error->message, "nbd://127.0.0.1:1/x"));
        g_assert_nonnull(strstr(error->message, "NON_SHARED_DISK"));
}

/* An image that does not record its backing file's format. */
static void test_describe_inc_backing_format_unknown(void) {
        g_autofree char *top = path_of("top.qcow2");
        g_autoptr(GPtrArray) images = parsed("{\"virtual-size\": 1048576, \"full-backing-filename\": "
                                             "\"/srv/base.img\"}");
        g_autoptr(GError) error = NULL;
        g_autoptr(MigrationCookie) cookie = NULL;

        cookie = describe_images(top, images, NULL, MIGRATE_LIVE | MIGRATE_NON_SHARED_INC, &error);
        g_assert_null(cookie);
        g_assert_error(error, MD_ERROR, MD_ERROR_UNSUPPORTED);
        g_assert_nonnull(strstr(error->message, "/srv/base.img"));
        g_assert_nonnull(strstr(error->message, "-F FORMAT"));
}

/* What QEMU says that Begin cannot use: MigrationFailed naming the image. */
static void assert_unusable(GPtrArray *images, const GError *query_error, const char *why) {
        g_autofree char *top = path_of("top.qcow2");
        g_autoptr(GError) error = NULL;
        g_autoptr(MigrationCookie) cookie = NULL;

        cookie = describe_images(top, images, query_error, MIGRATE_LIVE | MIGRATE_NON_SHARED_DISK, &error);
        g_assert_null(cookie);
        g_assert_error(error, MD_ERROR, MD_ERROR_MIGRATION_FAILED);
        g_assert_nonnull(strstr(error->message, top));
        g_assert_nonnull(strstr(error->message, why));
}

static void test_describe_hostile(void) {
        g_autoptr(GError) query_error = g_error_new(MD_ERROR, MD_ERROR_QEMU_FAILED, "QEMU went away");
        const char *sizes[] = { "-1", "0", "\"16777216\"", "1.5e9", "true", "null", "{}", "[]", NULL };
        g_autoptr(GPtrArray) no_medium = parsed(NULL), none = g_ptr_array_new(), image = NULL;
        g_autoptr(JsonNode) other = json_from_string("[{\"device\": \"disk7\", \"inserted\": {\"image\": "
                                                     "{\"virtual-size\": 4096}}}, 3, null, [], {}]", NULL);
        g_autoptr(GPtrArray) other_images = qemu_monitor_parse_block_images(other, NULL);

        g_autoptr(JsonNode) object = json_from_string("{\"return\": []}", NULL);
        g_autoptr(GError) error = NULL;

        /* A reply that is no list. */
        g_assert_null(qemu_monitor_parse_block_images(object, &error));
        g_assert_error(error, MD_ERROR, MD_ERROR_QEMU_FAILED);
        g_clear_error(&error);
        g_assert_null(qemu_monitor_parse_block_images(NULL, &error));
        g_assert_error(error, MD_ERROR, MD_ERROR_QEMU_FAILED);
        /* No answer at all, no medium, another drive only, no size. */
        assert_unusable(NULL, query_error, "QEMU went away");
        assert_unusable(no_medium, NULL, "no image open");
        assert_unusable(none, NULL, "no image open");
        g_assert_cmpuint(other_images->len, ==, 1);
        assert_unusable(other_images, NULL, "no image open");
        for (guint i = 0; sizes[i]; i++) {
                g_autofree char *json = g_strdup_printf("{\"virtual-size\": %s}", sizes[i]);
                g_autoptr(GPtrArray) images = parsed(json);

                        assert_unusable(images, NULL, "no positive size");
        }
        image = parsed("{\"virtual-size\": 9223372036854775807}");
        g_assert_cmpint(((QemuBlockImage *) image->pdata[0])->virtual_size, ==, G_MAXINT64);
}

/* Members of the wrong type read as absent: no backing file here, so the
 * disk is copied whole. */
static void test_describe_wrong_types(void) {
        g_autofree char *top = path_of("top.qcow2");
        g_autoptr(GPtrArray) images = parsed("{\"virtual-size\": 4096, \"full-backing-filename\": 7, "
                                             "\"backing-filename-format\": [\"qcow2\"], \"filename\": {}}");
        g_autoptr(GError) error = NULL;
        g_autoptr(MigrationCookie) cookie = NULL;

        cookie = describe_images(top, images, NULL, MIGRATE_LIVE | MIGRATE_NON_SHARED_INC, &error);
        g_assert_no_error(error);
        g_assert_cmpint(migration_cookie_find_nbd_disk(cookie, "vda")->capacity, ==, 4096);
        g_assert_null(migration_cookie_find_nbd_disk(cookie, "vda")->backing);
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

        if (!storage_image_create_async(image, cookie->nbd_disks->pdata[0], top_only, on_done, &result, error))
                return FALSE;
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
        g_autofree char *qemu = g_find_program_in_path("qemu-system-x86_64");
        int ret;

        g_test_init(&argc, &argv, NULL);
        if (!qemu_img || !qemu) {
                g_printerr("SKIP: qemu-img or qemu-system-x86_64 is not installed\n");
                g_test_skip("qemu-img or qemu-system-x86_64 is not installed");
                return g_test_run();
        }
        workdir = g_dir_make_tmp("md-storage-XXXXXX", NULL);
        g_assert_nonnull(workdir);
        setup();
        g_test_add_func("/migration-storage/describe/inc", test_describe_inc);
        g_test_add_func("/migration-storage/describe/full", test_describe_full);
        g_test_add_func("/migration-storage/describe/inc-no-backing", test_describe_inc_no_backing);
        g_test_add_func("/migration-storage/describe/inc-remote-backing", test_describe_inc_remote_backing);
        g_test_add_func("/migration-storage/describe/inc-backing-format-unknown",
                        test_describe_inc_backing_format_unknown);
        g_test_add_func("/migration-storage/describe/hostile", test_describe_hostile);
        g_test_add_func("/migration-storage/describe/wrong-types", test_describe_wrong_types);
        g_test_add_func("/migration-storage/create/inc", test_create_inc);
        g_test_add_func("/migration-storage/create/full-ignores-backing", test_create_full_ignores_backing);
        g_test_add_func("/migration-storage/create/backing-missing", test_create_backing_missing);
        g_test_add_func("/migration-storage/create/no-directory", test_create_no_directory);
        ret = g_test_run();
        test_remove_tree(workdir);
        g_free(workdir);
        return ret;
}
