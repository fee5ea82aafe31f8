/* Unit tests of what a definition may hold but Start refuses: the settings
 * libvirt's QEMU driver carries out and migrationd does not
 * (domain-def-runtime.c), next to their defaults, which start. */
#include <string.h>

#include "domain-def.h"
#include "md-error.h"

/* A minimal domain with @body inserted after <os>. */
static char *domain_with(const char *body) {
        return g_strdup_printf("<domain type='kvm'>\n<name>vm1</name>\n<memory>65536</memory>\n"
                               "<os><type>hvm</type></os>\n%s\n</domain>", body);
}

/* What Start says of @body: NULL when it starts. */
static char *runtime_refusal(const char *body) {
        g_autofree char *xml = domain_with(body);
        g_autoptr(GError) error = NULL;
        g_autoptr(DomainDef) def = domain_def_parse(xml, -1, &error);
        char *what = NULL;

        if (!def)
                g_error("Definition with %s refused: %s", body, error->message);
        if (!domain_def_has_unsupported_runtime(def, &what))
                g_assert_null(what);
        return what;
}

static void assert_starts(const char *body) {
        g_autofree char *what = runtime_refusal(body);

        if (what)
                g_error("Definition with %s refused at start: %s", body, what);
}

/* libvirt's defaults: what QEMU does without being told. */
static void test_defaults_start(void) {
        static const char *const bodies[] = {
                "<currentMemory>65536</currentMemory>",
                "<vcpu placement='static' current='2'>2</vcpu>",
                "<cputune/>",
                "<cpu mode='custom' match='exact' check='none'/>",
                "<cpu mode='custom' match='strict' check='full'><model fallback='forbid'>Skylake-Client</model>"
                "<feature policy='disable' name='vmx'/></cpu>",
                "<cpu mode='host-passthrough' migratable='on'/>",
                "<cpu mode='maximum'><feature name='pdpe1gb'/></cpu>",
                "<features><acpi/><apic/><pae/><hyperv mode='custom'><relaxed state='off'/></hyperv>"
                "<kvm><hidden state='off'/><hint-dedicated state='off'/><poll-control state='off'/></kvm>"
                "</features>",
                "<clock offset='utc'/>",
                "<clock offset='localtime'><timer name='rtc' tickpolicy='catchup'/><timer name='pit' tickpolicy='delay'/>"
                "<timer name='hpet' present='no'/></clock>",
                "<clock offset='utc'><timer name='rtc' tickpolicy='delay' present='yes'/>"
                "<timer name='pit' tickpolicy='discard'/><timer name='hpet' present='yes'/></clock>",
                "<on_poweroff>destroy</on_poweroff><on_reboot>restart</on_reboot><on_crash>restart</on_crash>",
                "<on_crash>destroy</on_crash>",
                "<features><vmport state='off'/><pmu state='on'/></features><pm><suspend-to-mem enabled='no'/>"
                "<suspend-to-disk enabled='no'/></pm>",
                "<devices><memballoon model='none'/></devices>",
                "<devices><memballoon model='virtio' autodeflate='on'><stats period='0'/></memballoon></devices>",
                "<devices><input type='mouse' bus='ps2'/><input type='keyboard' bus='ps2'/>"
                "<input type='tablet' bus='usb'/><input type='mouse' bus='usb'/><input type='keyboard' bus='usb'/></devices>",
                "<devices><controller type='usb' index='0' model='qemu-xhci' ports='15'/></devices>",
                "<devices><controller type='pci' index='0' model='pci-root'/>"
                "<controller type='ide' index='0'/><controller type='usb' index='0' model='piix3-uhci'/>"
                "<controller type='fdc' index='0'/></devices>",
                "<devices><console type='pty'><target type='virtio' port='1'/></console></devices>",
                "<devices><serial type='pty'><target port='0'/></serial>"
                "<serial type='null'><target port='1'/></serial></devices>",
        };

        for (size_t i = 0; i < G_N_ELEMENTS(bodies); i++)
                assert_starts(bodies[i]);
}

/* Named as the error will name them (a prefix: the value may follow). */
static void test_not_implemented_refused(void) {
        static const struct { const char *body, *what; } cases[] = {
                { "<currentMemory>32768</currentMemory>",
                  "/domain/currentMemory (less than /domain/memory)" },
                { "<maxMemory slots='4'>1048576</maxMemory>", "/domain/maxMemory='1048576'" },
                { "<vcpu cpuset='0-1'>1</vcpu>", "/domain/vcpu/@cpuset='0-1'" },
                { "<cputune><shares>2048</shares></cputune>", "/domain/cputune/shares='2048'" },
                { "<cpu mode='host-model'/>", "/domain/cpu/@mode='host-model'" },
                { "<cpu match='minimum'/>", "/domain/cpu/@match='minimum'" },
                { "<cpu mode='host-passthrough'><model>Skylake-Client</model></cpu>",
                  "/domain/cpu/model='Skylake-Client'" },
                { "<cpu mode='host-passthrough' migratable='off'/>", "/domain/cpu/@migratable='off'" },
                { "<features><apic eoi='on'/></features>", "/domain/features/apic/@eoi='on'" },
                { "<features><kvm><pv-ipi state='off'/></kvm></features>", "/domain/features/kvm/pv-ipi" },
                { "<features><hyperv mode='passthrough'/></features>", "/domain/features/hyperv/@mode='passthrough'" },
                { "<features><hyperv><relaxed state='off'/><vapic state='on'/></hyperv></features>",
                  "/domain/features/hyperv/vapic" },
                { "<features><kvm><hidden state='on'/></kvm></features>", "/domain/features/kvm/hidden" },
                { "<features><kvm><poll-control state='on'/></kvm></features>",
                  "/domain/features/kvm/poll-control" },
                { "<on_poweroff>restart</on_poweroff>", "/domain/on_poweroff='restart'" },
                { "<clock><timer name='kvmclock' present='no'/></clock>", "/domain/clock/timer" },
                { "<devices><memballoon model='virtio'><stats period='10'/></memballoon></devices>",
                  "/domain/devices/memballoon/stats" },
                { "<clock><timer name='tsc'/></clock>", "/domain/clock/timer" },
                { "<clock><timer name='rtc' tickpolicy='merge'/></clock>", "/domain/clock/timer/@tickpolicy='merge'" },
                { "<clock><timer name='pit' tickpolicy='catchup'/></clock>", "/domain/clock/timer/@tickpolicy='catchup'" },
                { "<clock><timer name='hpet' tickpolicy='delay'/></clock>", "/domain/clock/timer/@tickpolicy='delay'" },
                { "<clock><timer name='rtc' present='no'/></clock>", "/domain/clock/timer" },
                { "<clock><timer name='hpet' present='no'/><timer name='hpet' present='yes'/></clock>",
                  "/domain/clock/timer[2]" },
                { "<devices><controller type='pci' index='1' model='pcie-root-port'/></devices>",
                  "/domain/devices/controller" },
                { "<devices><controller type='usb' index='1'/></devices>", "/domain/devices/controller" },
                { "<devices><input type='tablet' bus='ps2'/></devices>", "/domain/devices/input" },
                { "<devices><input type='mouse' bus='usb'/><input type='mouse' bus='usb'/></devices>",
                  "/domain/devices/input[2]" },
                { "<devices><input type='tablet'/><input type='tablet' bus='usb'/></devices>", "/domain/devices/input[2]" },
                { "<devices><controller type='usb' model='none'/><input type='keyboard' bus='usb'/></devices>",
                  "/domain/devices/input" },
                { "<devices><controller type='virtio-serial' index='0' ports='16'/></devices>",
                  "/domain/devices/controller/@ports='16'" },
                { "<devices><controller type='sata' index='0'/></devices>", "/domain/devices/controller" },
                { "<devices><console type='pty'><target type='serial' port='1'/></console></devices>",
                  "/domain/devices/console/target/@port='1'" },
                { "<devices><serial type='pty'><target port='1'/></serial></devices>",
                  "/domain/devices/serial/target/@port='1'" },
        };

        for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
                g_autofree char *what = runtime_refusal(cases[i].body);

                if (!what || !g_str_has_prefix(what, cases[i].what))
                        g_error("Definition with %s: expected start to refuse %s, got %s", cases[i].body,
                                cases[i].what, what);
        }
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/domain-runtime/defaults-start", test_defaults_start);
        g_test_add_func("/domain-runtime/not-implemented-refused", test_not_implemented_refused);
        return g_test_run();
}
