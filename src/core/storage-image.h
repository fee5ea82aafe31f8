/* The images of a storage migration (migration-storage.c): what Begin
 * tells the destination of an image (as the source QEMU has it open), and
 * the image Prepare creates for it (qemu-img create). */
#pragma once

#include <gio/gio.h>

#include "domain-def.h"
#include "migration-cookie.h"
#include "qemu-monitor-block.h"

/* Appends @disk to @cookie's nbd disks with its format and the virtual
 * size of @image, what QEMU has open behind its drive (query-block; NULL:
 * nothing, which is MD_ERROR_MIGRATION_FAILED naming the image, as a size
 * that is not positive). With @top_only (NON_SHARED_INC) also @image's
 * backing file, canonical, and that file's format; an image without one
 * gets none (the mirror's sync=top then copies all of it, as libvirt). A
 * backing file that is not a local file, or whose format the image does
 * not record: MD_ERROR_UNSUPPORTED. */
gboolean storage_image_describe(const DomainDisk *disk, const QemuBlockImage *image, gboolean top_only,
                                MigrationCookie *cookie, GError **error);

/* qemu-img create of @path with @cd's format and virtual size, run
 * without blocking the loop; with @top_only on top of @cd's backing file,
 * if it has one. FALSE with @error, and no callback, when qemu-img could
 * not be started: nothing was created (the backing file is not here:
 * MD_ERROR_MIGRATION_FAILED naming disk and backing file). */
gboolean storage_image_create_async(const char *path, const MigrationCookieDisk *cd, gboolean top_only,
                                    GAsyncReadyCallback callback, gpointer user_data, GError **error);
gboolean storage_image_create_finish(GAsyncResult *result, GError **error);
