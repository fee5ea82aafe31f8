/* The machine's settings on the QEMU command line, besides memory and
 * devices: the clock and its timers, as libvirt passes them. Pure, like
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

gboolean qemu_command_add_machine_settings(GPtrArray *argv, const DomainDef *def, GError **error) {
        add_clock(argv, def);
        return TRUE;
}
