#include <errno.h>
#include <unistd.h>

#include <glib/gi18n.h>

#include "domain-storage.h"
#include "md-error.h"

gboolean domain_storage_check(const DomainDef *def, GError **error) {
        for (guint i = 0; i < def->disks->len; i++) {
                const DomainDisk *disk = def->disks->pdata[i];

                if (!disk->source_file || disk->readonly)
                        continue;
                /* Only EROFS is ours to explain; QEMU reports a missing image
                 * or a permission problem well enough. */
                if (access(disk->source_file, W_OK) == 0 || errno != EROFS)
                        continue;
                g_set_error(error, MD_ERROR, MD_ERROR_QEMU_FAILED,
                            _("Domain '%s' cannot be started: the image %s of disk %s is on a file "
                              "system that is read-only to migrationd. Add its directory to [storage] "
                              "directories in migrationd.conf and run 'systemctl daemon-reload' (the "
                              "service may write only there and in its own directories), or mark the "
                              "disk <readonly/>"),
                            def->name, disk->source_file, disk->target_dev);
                return FALSE;
        }
        return TRUE;
}
