#define G_LOG_DOMAIN "migrationd"

#include <errno.h>
#include <sys/vfs.h>

#include <glib/gi18n.h>

#include "md-error.h"
#include "migration-params.h"
#include "migration-safety.h"
#include "qemu-command.h"
#include "qmp.h"

/* QEMU 9.0 resets TCG's TLB on every dirty-bitmap sync (commit 03bfc2188f). */
#define QEMU_VERSION_TCG_DIRTY_FIXED 900

/* The QEMU version when @d runs under TCG on a QEMU whose dirty tracking can
 * miss guest writes (before 9.0); 0 when it is exact (KVM, QEMU 9.0 or later). */
static guint tcg_dirty_tracking_flawed(const Domain *d) {
        guint version = d->qemu ? qemu_process_get_qemu_version(d->qemu) : 0;

        if (!d->live || g_str_equal(d->live->virt_type, "kvm") || version >= QEMU_VERSION_TCG_DIRTY_FIXED)
                return 0;
        return MAX(version, 1u);
}

gboolean migration_live_is_safe(const Domain *d, const MigrationParams *p, char **ret_cause,
                                char **ret_remedy) {
        guint version = tcg_dirty_tracking_flawed(d);

        if (version == 0)
                return TRUE;
        /* XBZRLE keeps a cache of sent pages and sends deltas against it; a
         * write the bitmap missed is never resent, whatever the RAM size
         * (features/compression-xbzrle lost a write about 1 run in 10 with
         * the pad in place). */
        if (p && migration_params_use_xbzrle(p)) {
                *ret_cause = g_strdup_printf(_("it runs under TCG on QEMU %u.%u, where XBZRLE "
                                               "compression (COMPRESSED without a method, or with "
                                               "xbzrle) loses guest writes during a live migration"),
                                             version / 100, version % 100);
                *ret_remedy = g_strdup(_("Migrate it without COMPRESSED, with compression zstd or "
                                         "zlib and PARALLEL, or without LIVE (the guest is paused "
                                         "while its memory is copied, which is exact), or pass "
                                         "UNSAFE to force it"));
                return FALSE;
        }
        if (d->ram_kib % 256 != 0)
                return TRUE;
        if (d->ram_kib == 0)
                *ret_cause = g_strdup_printf(_("it runs under TCG on QEMU %u.%u, which has not yet "
                                               "said how much RAM the guest has"),
                                             version / 100, version % 100);
        else
                *ret_cause = g_strdup_printf(_("it runs under TCG on QEMU %u.%u with %llu KiB of "
                                               "RAM, a multiple of 256 KiB, where QEMU before 9.0 "
                                               "loses guest writes during a live migration"),
                                             version / 100, version % 100, (unsigned long long) d->ram_kib);
        *ret_remedy = g_strdup(_("Migrate it without LIVE (the guest is paused while its memory is "
                                 "copied, which is exact), restart it so that it gets a safe RAM "
                                 "size, or pass UNSAFE to force it"));
        return FALSE;
}

/* File systems by statfs() f_type: the ones libvirt knows to be shared
 * between hosts (network and cluster file systems), and a few local ones,
 * named only so that the refusal can say what the disk is on. */
static const struct {
        unsigned long magic;
        const char *name;
        gboolean shared;
} filesystems[] = {
        { 0x6969, "nfs", TRUE },
        { 0x517B, "smb", TRUE },
        { 0xFF534D42, "cifs", TRUE },
        { 0xFE534D42, "smb2", TRUE },
        { 0x01161970, "gfs2", TRUE },
        { 0x7461636F, "ocfs2", TRUE },
        { 0x00C36400, "ceph", TRUE },
        { 0x5346414F, "afs", TRUE },
        { 0x6B414653, "afs", TRUE },
        { 0x47504653, "gpfs", TRUE },
        { 0x51626D6B, "quobyte", TRUE },
        { 0x0BD00BD0, "lustre", TRUE },
        { 0x19830326, "beegfs", TRUE },
        { 0xEF53, "ext4", FALSE },
        { 0x58465342, "xfs", FALSE },
        { 0x9123683E, "btrfs", FALSE },
        { 0x01021994, "tmpfs", FALSE },
        { 0x794C7630, "overlayfs", FALSE },
        { 0x2FC12FC1, "zfs", FALSE },
        { 0x65735546, "fuse", FALSE },
};

/* Whether @path is on a file system known to be shared; its name (or
 * type number) in @ret_fs either way. A path that cannot be examined is
 * not known to be shared. */
static gboolean path_on_shared_fs(const char *path, char **ret_fs) {
        struct statfs sfs;

        if (statfs(path, &sfs) < 0) {
                *ret_fs = g_strdup(g_strerror(errno));
                return FALSE;
        }
        for (size_t i = 0; i < G_N_ELEMENTS(filesystems); i++)
                if ((unsigned long) (unsigned int) sfs.f_type == filesystems[i].magic) {
                        *ret_fs = g_strdup(filesystems[i].name);
                        return filesystems[i].shared;
                }
        *ret_fs = g_strdup_printf("0x%lx", (unsigned long) (unsigned int) sfs.f_type);
        return FALSE;
}

/* libvirt's rule (qemuMigrationSrcIsSafe), as the storage this daemon can
 * run guests on allows: the destination opens a writable image while the
 * source's host may still hold writes to it in its page cache, unless the
 * source bypasses that cache (cache none or directsync) or the file system
 * keeps the hosts' caches coherent (shared storage). Empty drives,
 * read-only and shareable disks (which need the guest's cooperation
 * anyway) are safe. Block and network disks never run here. */
static gboolean disks_are_safe(const Domain *d, GError **error) {
        const DomainDef *def = d->live;

        for (guint i = 0; def && i < def->disks->len; i++) {
                const DomainDisk *disk = def->disks->pdata[i];
                g_autofree char *fs = NULL;

                if (!disk->source_file || disk->readonly || disk->shareable ||
                    disk->cache == DOMAIN_DISK_CACHE_NONE || disk->cache == DOMAIN_DISK_CACHE_DIRECTSYNC)
                        continue;
                if (path_on_shared_fs(disk->source_file, &fs))
                        continue;
                g_set_error(error, MD_ERROR, MD_ERROR_UNSAFE,
                            _("A live migration of domain '%s' could corrupt disk %s: its image %s uses "
                              "cache mode '%s' on storage not known to be shared (%s), so the "
                              "destination could read what the source's host cache has not written "
                              "yet. Use cache='none' or cache='directsync' for the disk, keep its "
                              "image on shared storage (NFS, CIFS, GFS2, OCFS2, CephFS), or pass "
                              "UNSAFE to force it"),
                            domain_name(d), disk->target_dev, disk->source_file,
                            domain_disk_cache_to_string(disk->cache), fs);
                return FALSE;
        }
        return TRUE;
}

gboolean migration_check_safe(const Domain *d, const MigrationParams *p, GError **error) {
        g_autofree char *cause = NULL;
        g_autofree char *remedy = NULL;

        if (!(p->flags & MIGRATE_LIVE) || (p->flags & (MIGRATE_UNSAFE | MIGRATE_OFFLINE)))
                return TRUE;
        if (!migration_live_is_safe(d, p, &cause, &remedy)) {
                g_set_error(error, MD_ERROR, MD_ERROR_UNSAFE,
                            _("A live migration of domain '%s' could lose guest memory: %s. %s"),
                            domain_name(d), cause, remedy);
                return FALSE;
        }
        return disks_are_safe(d, error);
}
