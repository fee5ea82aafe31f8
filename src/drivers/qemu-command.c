#define G_LOG_DOMAIN "migrationd"

#include "md-error.h"
#include "qemu-command.h"
#include "qemu-command-private.h"
#include "qemu-option.h"

void qemu_argv_add(GPtrArray *argv, const char *arg) {
        g_ptr_array_add(argv, g_strdup(arg));
}

void qemu_argv_addf(GPtrArray *argv, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        g_ptr_array_add(argv, g_strdup_vprintf(fmt, ap));
        va_end(ap);
}

gboolean qemu_command_unsupported(GError **error, const char *what) {
        g_set_error(error, MD_ERROR, MD_ERROR_UNSUPPORTED,
                    "The QEMU driver cannot start a domain with %s", what);
        return FALSE;
}

/* <log file= append=>: a copy of everything the device carries, whatever
 * its backend (QEMU's logfile=, logappend=). */
static char *chardev_log_options(const DomainChardev *chr) {
        g_autofree char *file = NULL;

        if (!chr->log_file)
                return g_strdup("");
        file = qemu_option_escape(chr->log_file);
        return g_strdup_printf(",logfile=%s,logappend=%s", file, chr->log_append ? "on" : "off");
}

static gboolean add_chardev_backend(GPtrArray *argv, const DomainChardev *chr, const char *id,
                                    GError **error) {
        g_autofree char *path = chr->path ? qemu_option_escape(chr->path) : NULL;
        g_autofree char *log = chardev_log_options(chr);

        qemu_argv_add(argv, "-chardev");
        switch (chr->type) {
        case DOMAIN_CHARDEV_FILE:
                qemu_argv_addf(argv, "file,id=%s,path=%s%s%s", id, path, chr->append ? ",append=on" : "", log);
                return TRUE;
        case DOMAIN_CHARDEV_PTY:
                qemu_argv_addf(argv, "pty,id=%s%s", id, log);
                return TRUE;
        case DOMAIN_CHARDEV_UNIX:
                qemu_argv_addf(argv, "socket,id=%s,path=%s%s%s", id, path,
                     chr->unix_server ? ",server=on,wait=off" : "", log);
                return TRUE;
        case DOMAIN_CHARDEV_NULL:
                qemu_argv_addf(argv, "null,id=%s%s", id, log);
                return TRUE;
        default:
                g_ptr_array_set_size(argv, argv->len - 1);
                return qemu_command_unsupported(error, "a character device type other than file, pty, unix or null");
        }
}

/* A <console> with a serial target only names serial 0 again (libvirt's
 * console compatibility): it gets no device of its own. */
static gboolean add_chardevs(GPtrArray *argv, const DomainDef *def, GError **error) {
        guint n_serial = 0, n_virtio = 0;
        gboolean have_serial = FALSE;

        for (guint i = 0; i < def->chardevs->len; i++) {
                const DomainChardev *chr = def->chardevs->pdata[i];
                g_autofree char *id = g_strdup_printf("chr%u", i);
                gboolean virtio = g_strcmp0(chr->target_type, "virtio") == 0;

                if (chr->is_console && !virtio && have_serial)
                        continue;
                if (chr->type == _DOMAIN_CHARDEV_INVALID)
                        return qemu_command_unsupported(error, "a character device type other than file, pty, unix or null");
                if (!add_chardev_backend(argv, chr, id, error))
                        return FALSE;
                qemu_argv_add(argv, "-device");
                if (virtio) {
                        if (n_virtio++ == 0) {
                                qemu_argv_add(argv, "virtio-serial-pci,id=virtio-serial0");
                                qemu_argv_add(argv, "-device");
                        }
                        qemu_argv_addf(argv, "virtconsole,chardev=%s", id);
                } else {
                        qemu_argv_addf(argv, "isa-serial,chardev=%s,index=%u", id, n_serial++);
                        have_serial = TRUE;
                }
        }
        return TRUE;
}

guint64 qemu_command_ram_kib(guint64 memory_kib, gboolean kvm) {
        /* QEMU rounds -m up to 8 KiB itself; round first so the grid test sees its size. */
        guint64 kib = (memory_kib + QEMU_TCG_RAM_PAD_KIB - 1) / QEMU_TCG_RAM_PAD_KIB * QEMU_TCG_RAM_PAD_KIB;

        if (!kvm && kib % 256 == 0)
                kib += QEMU_TCG_RAM_PAD_KIB;
        return kib;
}

/* -@option @value, when there is a value. */
static void add_optional(GPtrArray *argv, const char *option, const char *value) {
        if (!value)
                return;
        qemu_argv_add(argv, option);
        qemu_argv_add(argv, value);
}

/* The vCPUs: those running at start of the <vcpu> count (<vcpu current>,
 * the rest hot-pluggable), and their topology. A plain count stays a plain
 * -smp N, what guests started by earlier versions have. */
static void add_smp(GPtrArray *argv, const DomainDef *def) {
        guint vcpus = def->vcpus ? def->vcpus : 1;
        guint current = def->current_vcpus ? def->current_vcpus : vcpus;
        GString *s = g_string_new(NULL);

        g_string_append_printf(s, "%u", current);
        if (current != vcpus || def->sockets)
                g_string_append_printf(s, ",maxcpus=%u", vcpus);
        if (def->sockets)
                g_string_append_printf(s, ",sockets=%u,dies=%u,cores=%u,threads=%u", def->sockets, def->dies,
                                       def->cores, def->threads);
        qemu_argv_add(argv, "-smp");
        g_ptr_array_add(argv, g_string_free(s, FALSE));
}

/* Name, identity, machine, accelerator, memory and CPUs. */
static gboolean add_machine(GPtrArray *argv, const DomainDef *def, const QemuCommandOptions *options,
                            GError **error) {
        g_autofree char *name = qemu_option_escape(def->name);
        guint64 ram_kib = options->ram_kib ? options->ram_kib : qemu_command_ram_kib(def->memory_kib, options->kvm);

        qemu_argv_add(argv, def->emulator ? def->emulator : options->binary);
        qemu_argv_add(argv, "-name");
        qemu_argv_addf(argv, "guest=%s,debug-threads=on", name);
        qemu_argv_add(argv, "-uuid");
        qemu_argv_add(argv, def->uuid);
        qemu_argv_add(argv, "-machine");
        qemu_argv_add(argv, def->machine ? def->machine : "pc");
        qemu_argv_add(argv, "-accel");
        /* Without a <cpu> model QEMU's default, not -cpu host: a model both
         * hosts of a migration can offer (qemu-command-machine.c). */
        qemu_argv_add(argv, options->kvm ? "kvm" : "tcg");
        qemu_argv_add(argv, "-m");
        qemu_argv_addf(argv, "size=%" G_GUINT64_FORMAT "k", ram_kib);
        if (!qemu_command_add_memory(argv, def, options, ram_kib, error))
                return FALSE;
        add_smp(argv, def);
        return TRUE;
}

/* Nothing of QEMU's own defaults, and the daemon's monitor. */
static void add_controls(GPtrArray *argv, const QemuCommandOptions *options) {
        /* Nothing QEMU would add on its own: the domain XML is the whole truth,
         * which is what makes both sides of a migration identical. */
        qemu_argv_add(argv, "-nodefaults");
        qemu_argv_add(argv, "-no-user-config");
        qemu_argv_add(argv, "-display");
        qemu_argv_add(argv, "none");
        qemu_argv_add(argv, "-msg");
        qemu_argv_add(argv, "timestamp=on");
        /* Paused until the daemon has its monitor: no guest instruction runs unobserved. */
        qemu_argv_add(argv, "-S");
        qemu_argv_add(argv, "-chardev");
        qemu_argv_addf(argv, "socket,id=monitor,fd=%d,server=on,wait=off", options->monitor_fd);
        qemu_argv_add(argv, "-mon");
        qemu_argv_add(argv, "chardev=monitor,mode=control");
}

GStrv qemu_command_build(const DomainDef *def, const QemuCommandOptions *options, GError **error) {
        g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func(g_free);

        if (def->memory_kib == 0)
                return qemu_command_unsupported(error, "no <memory> size"), NULL;
        if (g_strcmp0(def->arch, "x86_64") != 0 && g_strcmp0(def->arch, "i686") != 0 && def->arch)
                return qemu_command_unsupported(error, "an architecture other than x86_64 or i686"), NULL;

        if (!add_machine(argv, def, options, error) || !qemu_command_add_machine_settings(argv, def, options->kvm, error))
                return NULL;
        add_controls(argv, options);
        add_optional(argv, "-kernel", def->kernel);
        add_optional(argv, "-initrd", def->initrd);
        add_optional(argv, "-append", def->cmdline);
        if (!qemu_command_add_disks(argv, def, error) || !add_chardevs(argv, def, error) ||
            !qemu_command_add_peripherals(argv, def, options, error))
                return NULL;
        add_optional(argv, "-incoming", options->incoming);
        g_ptr_array_add(argv, NULL);
        return (GStrv) g_ptr_array_free(g_steal_pointer(&argv), FALSE);
}
