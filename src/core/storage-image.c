/* A storage migration's images: see storage-image.h. */
#define G_LOG_DOMAIN "migrationd"

#include <gio/gio.h>

#include "i18n.h"
#include "md-error.h"
#include "storage-image.h"

/* QEMU's answer for @disk's drive is usable: it has the image open, with
 * a size. */
static gboolean check_image(const DomainDisk *disk, const QemuBlockImage *image, GError **error) {
        const char *why;

        if (!image)
                why = _("QEMU has no image open for this disk");
        else if (image->virtual_size <= 0)
                why = _("QEMU reported no positive size");
        else
                return TRUE;
        g_set_error(error, MD_ERROR, MD_ERROR_MIGRATION_FAILED, _("Cannot read the virtual size of image %s: %s"),
                    disk->source_file, why);
        return FALSE;
}

/* NON_SHARED_INC: the backing file the destination's image goes on top of
 * (NULL when the image has none: then, as libvirt, the whole disk is
 * copied, since the top of a chain of one is all of it). It must be a local
 * file with a recorded format, for qemu-img create -b -F. */
static gboolean backing_of(const DomainDisk *disk, const QemuBlockImage *image, MigrationCookieDisk *cd,
                           GError **error) {
        const char *backing = image->backing;
        const char *format = image->backing_format;
        g_autofree char *canonical = NULL;

        if (!backing)
                return TRUE;
        if (!g_path_is_absolute(backing)) {
                g_set_error(error, MD_ERROR, MD_ERROR_UNSUPPORTED,
                            _("NON_SHARED_INC cannot copy disk %s: the backing file '%s' of image %s is no "
                              "local file; copy the whole disk with NON_SHARED_DISK"),
                            disk->target_dev, backing, disk->source_file);
                return FALSE;
        }
        if (!format) {
                g_set_error(error, MD_ERROR, MD_ERROR_UNSUPPORTED,
                            _("NON_SHARED_INC cannot copy disk %s: image %s does not record the format of its "
                              "backing file %s; set it with 'qemu-img rebase -u -b %s -F FORMAT %s'"),
                            disk->target_dev, disk->source_file, backing, backing, disk->source_file);
                return FALSE;
        }
        canonical = g_canonicalize_filename(backing, "/");
        migration_cookie_set_nbd_backing(cd, canonical, format);
        return TRUE;
}

gboolean storage_image_describe(const DomainDisk *disk, const QemuBlockImage *image, gboolean top_only,
                                MigrationCookie *cookie, GError **error) {
        MigrationCookieDisk *cd;

        if (!check_image(disk, image, error))
                return FALSE;
        cd = migration_cookie_add_nbd_disk(cookie, disk->target_dev, disk->format ? disk->format : "raw",
                                           image->virtual_size);
        return !top_only || backing_of(disk, image, cd, error);
}

/* The argv of qemu-img create for @path, or NULL with @error when the
 * backing file it needs is not here. */
static GStrv create_argv(const char *path, const MigrationCookieDisk *cd, gboolean top_only, GError **error) {
        g_autofree char *size = g_strdup_printf("%" G_GINT64_FORMAT, cd->capacity);
        g_autoptr(GStrvBuilder) b = g_strv_builder_new();

        g_strv_builder_addv(b, (const char *[]) { "qemu-img", "create", "-q", "-f", cd->format, NULL });
        if (top_only && cd->backing) {
                if (!g_file_test(cd->backing, G_FILE_TEST_EXISTS)) {
                        g_set_error(error, MD_ERROR, MD_ERROR_MIGRATION_FAILED,
                                    _("Cannot create image %s for disk %s: its backing file %s is not on this "
                                      "host. NON_SHARED_INC copies only the top image; the backing file must "
                                      "exist at the same path on the destination, or copy the whole disk with "
                                      "NON_SHARED_DISK"),
                                    path, cd->target, cd->backing);
                        return NULL;
                }
                g_strv_builder_addv(b, (const char *[]) { "-b", cd->backing, "-F", cd->backing_format, NULL });
        }
        g_strv_builder_addv(b, (const char *[]) { path, size, NULL });
        return g_strv_builder_end(b);
}

typedef struct {
        char *path, *target, *what;     /* for the messages */
} Creation;

static void creation_free(Creation *c) {
        g_free(c->path);
        g_free(c->target);
        g_free(c->what);
        g_free(c);
}

static void on_created(GObject *source, GAsyncResult *result, gpointer user_data) {
        g_autoptr(GTask) task = user_data;
        GSubprocess *proc = G_SUBPROCESS(source);
        Creation *c = g_task_get_task_data(task);
        g_autofree char *err = NULL;
        g_autoptr(GError) error = NULL;

        if (!g_subprocess_communicate_utf8_finish(proc, result, NULL, &err, &error))
                return g_task_return_error(task, g_steal_pointer(&error));
        if (!g_subprocess_get_successful(proc))
                return g_task_return_new_error(task, MD_ERROR, MD_ERROR_MIGRATION_FAILED,
                                               _("Cannot create image %s for disk %s: %s. The destination XML must "
                                                 "name an image in a directory that exists on this host and that "
                                                 "migrationd may write ([storage] directories), or the image must "
                                                 "exist beforehand"),
                                               c->path, c->target, err ? g_strstrip(err) : "");
        g_info("Created image %s (%s) for disk %s", c->path, c->what, c->target);
        g_task_return_boolean(task, TRUE);
}

gboolean storage_image_create_async(const char *path, const MigrationCookieDisk *cd, gboolean top_only,
                                    GAsyncReadyCallback callback, gpointer user_data, GError **error) {
        g_auto(GStrv) argv = create_argv(path, cd, top_only, error);
        g_autoptr(GSubprocess) proc = NULL;
        Creation *c;
        GTask *task;

        if (argv)
                proc = g_subprocess_newv((const char *const *) argv,
                                         G_SUBPROCESS_FLAGS_STDOUT_SILENCE | G_SUBPROCESS_FLAGS_STDERR_PIPE, error);
        if (!proc)
                return FALSE;
        task = g_task_new(NULL, NULL, callback, user_data);
        c = g_new0(Creation, 1);
        c->path = g_strdup(path);
        c->target = g_strdup(cd->target);
        c->what = g_strdup_printf("%s, %" G_GINT64_FORMAT " bytes%s%s", cd->format, cd->capacity,
                                  top_only && cd->backing ? ", on top of " : "",
                                  top_only && cd->backing ? cd->backing : "");
        g_task_set_task_data(task, c, (GDestroyNotify) creation_free);
        g_subprocess_communicate_utf8_async(proc, NULL, NULL, on_created, task);
        return TRUE;
}

gboolean storage_image_create_finish(GAsyncResult *result, GError **error) {
        return g_task_propagate_boolean(G_TASK(result), error);
}
