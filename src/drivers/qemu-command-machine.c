/* The machine's settings on the QEMU command line, besides memory and
 * devices: the CPU model, the clock and its timers, the firmware's boot
 * order and menu, what a reboot does, vmport and the ACPI sleep states, as
 * libvirt passes them. Pure, like qemu-command.c. Both hosts of a
 * migration build the same arguments from the same definition, so source
 * and destination QEMU match. */
#include "md-error.h"
#include "qemu-command-private.h"

/* <clock offset=...> and the rtc, pit and hpet timers. */
static void add_clock(GPtrArray *argv, const DomainDef *def) {
        if (def->clock_localtime || def->rtc_catchup) {
                qemu_argv_add(argv, "-rtc");
                qemu_argv_addf(argv, "base=%s%s", def->clock_localtime ? "localtime" : "utc",
                               def->rtc_catchup ? ",driftfix=slew" : "");
        }
        /* Only KVM's in-kernel PIT has a policy; under TCG QEMU ignores the global. */
        if (def->pit_tickpolicy) {
                qemu_argv_add(argv, "-global");
                qemu_argv_addf(argv, "kvm-pit.lost_tick_policy=%s", def->pit_tickpolicy);
        }
        if (def->hpet_off) {
                qemu_argv_add(argv, "-machine");
                qemu_argv_add(argv, "hpet=off");
        }
}

/* <os><boot>, <bootmenu>, <bios rebootTimeout>: the firmware's settings. */
static void add_boot(GPtrArray *argv, const DomainDef *def) {
        g_autoptr(GString) s = g_string_new(NULL);

        if (def->boot_order[0])
                g_string_append_printf(s, ",order=%s", def->boot_order);
        if (def->boot_menu >= 0)
                g_string_append_printf(s, ",menu=%s", def->boot_menu ? "on" : "off");
        /* libvirt gives the menu's timeout only with the menu. */
        if (def->boot_menu > 0 && def->boot_menu_timeout >= 0)
                g_string_append_printf(s, ",splash-time=%d", def->boot_menu_timeout);
        if (def->reboot_timeout != DOMAIN_REBOOT_TIMEOUT_DEFAULT)
                g_string_append_printf(s, ",reboot-timeout=%d", def->reboot_timeout);
        if (s->len == 0)
                return;
        qemu_argv_add(argv, "-boot");
        qemu_argv_add(argv, s->str + 1);
}

/* -cpu as libvirt gives it: mode='host-passthrough' is the host's CPU
 * (KVM only), 'maximum' all QEMU can emulate or pass, a custom model by its
 * name with features on and off; <features><pmu>. Without any of them QEMU's default model,
 * or qemu32 for an i686 guest (libvirt's choice: no long mode). */
static gboolean add_cpu(GPtrArray *argv, const DomainDef *def, gboolean kvm, GError **error) {
        const char *model = def->cpu_model;
        GString *s;

        if (g_strcmp0(def->cpu_mode, "host-passthrough") == 0) {
                if (!kvm) {
                        g_set_error_literal(error, MD_ERROR, MD_ERROR_UNSUPPORTED,
                                            "The QEMU driver cannot start a domain with <cpu mode='host-passthrough'> under TCG (use type='kvm', or mode='maximum')");
                        return FALSE;
                }
                model = "host";
        } else if (g_strcmp0(def->cpu_mode, "maximum") == 0)
                model = "max";
        else if (!model && g_strcmp0(def->arch, "i686") == 0)
                model = "qemu32";
        if (!model && !def->cpu_features[0] && def->pmu < 0)
                return TRUE;
        /* Features without a model change QEMU's default one, as libvirt does. */
        s = g_string_new(model ? model : "qemu64");
        for (char **f = def->cpu_features; *f; f++)
                g_string_append_printf(s, ",%s=%s", *f + 1, **f == '+' ? "on" : "off");
        if (def->pmu >= 0)
                g_string_append_printf(s, ",pmu=%s", def->pmu ? "on" : "off");
        qemu_argv_add(argv, "-cpu");
        g_ptr_array_add(argv, g_string_free(s, FALSE));
        return TRUE;
}

/* The device whose properties switch S3 and S4 off: PIIX4's power
 * management on pc, the ICH9 LPC bridge on q35; NULL on other machines. */
static const char *pm_device(const char *machine) {
        if (!machine || g_str_equal(machine, "pc") || g_str_has_prefix(machine, "pc-i440fx-"))
                return "PIIX4_PM";
        if (g_str_equal(machine, "q35") || g_str_has_prefix(machine, "pc-q35-"))
                return "ICH9-LPC";
        return NULL;
}

/* <pm>: whether the guest's ACPI offers suspend to RAM (S3) and to disk (S4). */
static gboolean add_pm(GPtrArray *argv, const DomainDef *def, GError **error) {
        const char *device = pm_device(def->machine);
        const int states[] = { def->pm_suspend_to_mem, def->pm_suspend_to_disk };

        if (states[0] < 0 && states[1] < 0)
                return TRUE;
        if (!device) {
                g_set_error(error, MD_ERROR, MD_ERROR_UNSUPPORTED,
                            "The QEMU driver cannot start a domain with <pm> on machine type '%s' (only the pc and q35 families)",
                            def->machine);
                return FALSE;
        }
        for (guint i = 0; i < G_N_ELEMENTS(states); i++) {
                if (states[i] < 0)
                        continue;
                qemu_argv_add(argv, "-global");
                qemu_argv_addf(argv, "%s.disable_s%u=%d", device, i == 0 ? 3 : 4, !states[i]);
        }
        return TRUE;
}

gboolean qemu_command_add_machine_settings(GPtrArray *argv, const DomainDef *def, gboolean kvm, GError **error) {
        if (!add_cpu(argv, def, kvm, error))
                return FALSE;
        add_clock(argv, def);
        add_boot(argv, def);
        /* QEMU exits instead of resetting, and the domain is shut off with
         * reason "shutdown", as libvirt destroys it. */
        if (def->no_reboot)
                qemu_argv_add(argv, "-no-reboot");
        if (def->vmport >= 0) {
                qemu_argv_add(argv, "-machine");
                qemu_argv_addf(argv, "vmport=%s", def->vmport ? "on" : "off");
        }
        if (!add_pm(argv, def, error))
                return FALSE;
        return TRUE;
}
