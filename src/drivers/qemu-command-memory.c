/* The guest RAM's backend on the QEMU command line: QEMU's own anonymous
 * memory, preallocated memory (<allocation mode='immediate'>), or a file on
 * a hugetlbfs (<hugepages/>). */
#define G_LOG_DOMAIN "migrationd"

#include <unistd.h>

#include "qemu-command.h"
#include "qemu-command-private.h"
#include "qemu-option.h"

/* The id QEMU 7.2 gives a machine's own RAM backend (query-machines'
 * default-ram-id). It names the RAM block in the migration stream, so a
 * backend of ours must take it for a peer started without one to accept
 * the stream. NULL: a machine whose id we do not know. */
static const char *default_ram_id(const char *machine) {
        if (!machine || g_str_equal(machine, "pc") || g_str_equal(machine, "q35") ||
            g_str_equal(machine, "isapc") || g_str_has_prefix(machine, "pc-i440fx-") ||
            g_str_has_prefix(machine, "pc-q35-"))
                return "pc.ram";
        if (g_str_equal(machine, "microvm"))
                return "microvm.ram";
        if (g_str_equal(machine, "none"))
                return "ram";
        return NULL;
}

/* <allocation mode='immediate'>: QEMU fills the backend before it runs, so
 * that a migration's destination does not first touch every page while the
 * guest stands still. Unlike -mem-prealloc, the backend can take @threads. */
static char *prealloc_options(const DomainDef *def) {
        if (!def->mem_prealloc)
                return g_strdup("");
        if (!def->mem_prealloc_threads)
                return g_strdup(",prealloc=on");
        return g_strdup_printf(",prealloc=on,prealloc-threads=%u", def->mem_prealloc_threads);
}

/* <hugepages/>: a file QEMU creates (and unlinks at once) in the hugetlbfs
 * mount; share=off keeps the pages private to this QEMU, as anonymous
 * memory is. Huge pages live outside the stream: a guest migrates to and
 * from a QEMU without them, if the RAM block keeps its name. Machine types
 * up to 3.1 name a file backend's block by its QOM path ("/objects/pc.ram")
 * unless told not to; QEMU's own RAM and memory-backend-ram are named by
 * the id (as libvirt, which passes the same option). */
static void add_hugepage_backend(GPtrArray *argv, const char *id, guint64 ram_kib, const char *mem_path,
                                 const char *prealloc) {
        g_autofree char *path = qemu_option_escape(mem_path);

        qemu_argv_add(argv, "-object");
        qemu_argv_addf(argv, "memory-backend-file,id=%s,size=%" G_GUINT64_FORMAT "k,mem-path=%s,share=off,"
                       "x-use-canonical-path-for-ramblock-id=off%s", id, ram_kib, path, prealloc);
}

gboolean qemu_command_uses_hugepages(const DomainDef *def) {
        return def->mem_hugepages && def->mem_hugepage_kib != (guint64) sysconf(_SC_PAGESIZE) / 1024;
}

gboolean qemu_command_add_memory(GPtrArray *argv, const DomainDef *def, const QemuCommandOptions *options,
                                 guint64 ram_kib, GError **error) {
        const char *id = default_ram_id(def->machine);
        gboolean huge = qemu_command_uses_hugepages(def);
        const char *what = huge ? "<hugepages/>" : "<allocation mode='immediate'>";
        g_autofree char *prealloc = prealloc_options(def);

        if (!huge && !def->mem_prealloc)
                return TRUE;
        /* The backend must be the machine's own RAM (the size is the -m
         * size, pad included, as QEMU requires). */
        if (!id) {
                g_autofree char *message = g_strdup_printf("%s on machine type '%s'", what, def->machine);
                return qemu_command_unsupported(error, message);
        }
        if (huge) {
                if (!options->hugepage_path)
                        return qemu_command_unsupported(error, "<hugepages/> but no hugetlbfs mount to put it on");
                add_hugepage_backend(argv, id, ram_kib, options->hugepage_path, prealloc);
        } else {
                qemu_argv_add(argv, "-object");
                qemu_argv_addf(argv, "memory-backend-ram,id=%s,size=%" G_GUINT64_FORMAT "k%s", id, ram_kib,
                               prealloc);
        }
        qemu_argv_add(argv, "-machine");
        qemu_argv_addf(argv, "memory-backend=%s", id);
        return TRUE;
}
