/* The machine's settings on the QEMU command line, besides memory and
 * devices: the clock and its timers, the firmware's boot order and menu, what a reboot does, as libvirt passes them. Pure, like
 * qemu-command.c. Both hosts of a migration build the same arguments from
 * the same definition, so source and destination QEMU match. */
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

gboolean qemu_command_add_machine_settings(GPtrArray *argv, const DomainDef *def, GError **error) {
        add_clock(argv, def);
        add_boot(argv, def);
        /* QEMU exits instead of resetting, and the domain is shut off with
         * reason "shutdown", as libvirt destroys it. */
        if (def->no_reboot)
                qemu_argv_add(argv, "-no-reboot");
        return TRUE;
}
