/* Unit tests of the machine's settings on the QEMU command line
 * (qemu-command-machine.c): what of the definition besides memory and
 * devices reaches QEMU, and that the defaults add nothing. */
#include <string.h>

#include "command-line-test.h"
#include "md-error.h"

/* A minimal guest with @body after <os> (and @os_extra inside it). */
static GStrv build_with(const char *os_extra, const char *body, gboolean kvm, GError **error) {
        g_autofree char *xml = g_strdup_printf(
                "<domain type='%s'><name>vm1</name><memory unit='MiB'>64</memory>"
                "<os><type arch='x86_64' machine='pc'>hvm</type>%s</os>%s</domain>",
                kvm ? "kvm" : "qemu", os_extra, body);
        QemuCommandOptions options = { .kvm = kvm };

        return command_line_build(xml, &options, error);
}

static GStrv build_ok(const char *os_extra, const char *body) {
        g_autoptr(GError) error = NULL;
        GStrv argv = build_with(os_extra, body, FALSE, &error);

        g_assert_no_error(error);
        g_assert_nonnull(argv);
        return argv;
}

/* A guest with @os_extra inside <os> and @body after it is refused at
 * Define (InvalidXML), its message naming @needle (NULL: any). */
static void assert_invalid(const char *os_extra, const char *body, const char *needle) {
        g_autofree char *xml = g_strdup_printf("<domain type='qemu'><name>vm1</name><memory>65536</memory>"
                                               "<os><type>hvm</type>%s</os>%s</domain>", os_extra, body);
        g_autoptr(GError) error = NULL;
        g_autoptr(DomainDef) def = domain_def_parse(xml, -1, &error);

        if (def)
                g_error("%s%s accepted", os_extra, body);
        g_assert_error(error, MD_ERROR, MD_ERROR_INVALID_XML);
        if (needle)
                g_assert_nonnull(strstr(error->message, needle));
}

static void test_defaults_add_nothing(void) {
        g_auto(GStrv) argv = build_ok("", "<clock offset='utc'/><features><acpi/><apic/><pae/></features>"
                                      "<on_poweroff>destroy</on_poweroff><on_reboot>restart</on_reboot>"
                                      "<on_crash>destroy</on_crash>");

        g_assert_false(argv_has_option(argv, "-rtc"));
        g_assert_false(argv_has_option(argv, "-global"));
        g_assert_false(argv_has_option(argv, "-boot"));
        g_assert_false(argv_has_option(argv, "-no-reboot"));
        g_assert_false(argv_has_option(argv, "-cpu"));
        g_assert_true(argv_has_pair(argv, "-smp", "1"));
}

static void test_clock(void) {
        g_auto(GStrv) utc = build_ok("", "<clock offset='utc'><timer name='rtc' tickpolicy='catchup'/>"
                                     "<timer name='pit' tickpolicy='delay'/><timer name='hpet' present='no'/></clock>");
        g_auto(GStrv) local = build_ok("", "<clock offset='localtime'><timer name='rtc' tickpolicy='delay'/>"
                                       "<timer name='pit' tickpolicy='discard'/><timer name='hpet' present='yes'/></clock>");

        /* virt-manager's timers. */
        g_assert_true(argv_has_pair(utc, "-rtc", "base=utc,driftfix=slew"));
        g_assert_true(argv_has_pair(utc, "-global", "kvm-pit.lost_tick_policy=delay"));
        g_assert_true(argv_has_pair(utc, "-machine", "hpet=off"));
        g_assert_true(argv_has_pair(local, "-rtc", "base=localtime"));
        g_assert_true(argv_has_pair(local, "-global", "kvm-pit.lost_tick_policy=discard"));
        g_assert_false(argv_has_pair(local, "-machine", "hpet=off"));
}

static void test_boot(void) {
        g_auto(GStrv) argv = build_ok("<boot dev='cdrom'/><boot dev='hd'/><boot dev='cdrom'/><boot dev='network'/>"
                                      "<boot dev='fd'/><bootmenu enable='yes' timeout='3000'/>"
                                      "<bios rebootTimeout='-1'/>", "");
        g_auto(GStrv) off = build_ok("<bootmenu enable='no' timeout='500'/><bios useserial='no' rebootTimeout='0'/>", "");
        g_auto(GStrv) timeout_only = build_ok("<bootmenu timeout='65535'/>", "");
        g_auto(GStrv) hd = build_ok("<boot dev='hd'/>", "");

        /* Each device once, in the order first named. */
        g_assert_true(argv_has_pair(argv, "-boot", "order=dcna,menu=on,splash-time=3000,reboot-timeout=-1"));
        /* The timeout goes with the menu only, as libvirt has it. */
        g_assert_true(argv_has_pair(off, "-boot", "menu=off,reboot-timeout=0"));
        g_assert_false(argv_has_option(timeout_only, "-boot"));
        g_assert_true(argv_has_pair(hd, "-boot", "order=c"));
}

/* Values that would add options of their own to -boot, or are out of range. */
static void test_boot_hostile(void) {
        static const char *const os_extra[] = {
                "<bootmenu enable='yes' timeout='1,menu=off'/>", "<bootmenu enable='yes' timeout='65536'/>",
                "<bootmenu enable='yes' timeout='-1'/>", "<bootmenu enable='yes' timeout=''/>",
                "<bootmenu enable='yes' timeout='0x10'/>", "<bios rebootTimeout='-2'/>",
                "<bios rebootTimeout='65536'/>", "<bios rebootTimeout='1,order=n'/>",
                "<bios rebootTimeout='18446744073709551615'/>", "<bios rebootTimeout='-1 -1'/>",
        };

        for (size_t i = 0; i < G_N_ELEMENTS(os_extra); i++)
                assert_invalid(os_extra[i], "", "/domain/os/b");
}

static void test_on_reboot(void) {
        g_auto(GStrv) destroy = build_ok("", "<on_reboot>destroy</on_reboot>");
        g_auto(GStrv) restart = build_ok("", "<on_reboot>restart</on_reboot>");

        g_assert_true(argv_has_option(destroy, "-no-reboot"));
        g_assert_false(argv_has_option(restart, "-no-reboot"));
}

static void test_smp(void) {
        g_auto(GStrv) plain = build_ok("", "<vcpu>4</vcpu>");
        g_auto(GStrv) current = build_ok("", "<vcpu current='2'>4</vcpu>");
        g_auto(GStrv) topology = build_ok("", "<vcpu current='3'>8</vcpu><cpu><topology sockets='2' dies='1' cores='2' threads='2'/></cpu>");
        g_auto(GStrv) partial = build_ok("", "<vcpu>6</vcpu><cpu><topology sockets='3' cores='2'/></cpu>");

        g_assert_true(argv_has_pair(plain, "-smp", "4"));
        g_assert_true(argv_has_pair(current, "-smp", "2,maxcpus=4"));
        g_assert_true(argv_has_pair(topology, "-smp", "3,maxcpus=8,sockets=2,dies=1,cores=2,threads=2"));
        g_assert_true(argv_has_pair(partial, "-smp", "6,maxcpus=6,sockets=3,dies=1,cores=2,threads=1"));
}

static void test_smp_hostile(void) {
        static const char *const bodies[] = {
                "<vcpu>4</vcpu><cpu><topology sockets='2' cores='1' threads='1'/></cpu>",
                "<vcpu>4</vcpu><cpu><topology sockets='4,maxcpus=8'/></cpu>",
                "<vcpu>4</vcpu><cpu><topology sockets='0' cores='4'/></cpu>",
                "<vcpu>4</vcpu><cpu><topology sockets='-4' cores='-1'/></cpu>",
                "<vcpu>255</vcpu><cpu><topology sockets='255' cores='255' threads='255' dies='255'/></cpu>",
                "<vcpu>1</vcpu><cpu><topology sockets='4294967297'/></cpu>",
                "<vcpu>1</vcpu><cpu><topology threads=''/></cpu>",
                "<vcpu current='0'>2</vcpu>", "<vcpu current='3'>2</vcpu>", "<vcpu current='1,maxcpus=9'>2</vcpu>",
        };

        for (size_t i = 0; i < G_N_ELEMENTS(bodies); i++)
                assert_invalid("", bodies[i], "/domain/");
}

static void test_cpu(void) {
        g_auto(GStrv) custom = build_ok("", "<cpu mode='custom' match='exact'><model fallback='allow'> Skylake-Client </model>"
                                        "<feature policy='require' name='pcid'/><feature policy='disable' name='vmx'/>"
                                        "<feature name='sse4.2'/><feature policy='optional' name='x2apic'/>"
                                        "<feature policy='forbid' name='avx-vnni'/></cpu>");
        g_auto(GStrv) features_only = build_ok("", "<cpu><feature policy='force' name='aes'/></cpu>");
        g_auto(GStrv) maximum = build_ok("", "<cpu mode='maximum'/>");
        g_auto(GStrv) pmu = build_ok("", "<features><pmu state='off'/></features>");
        g_auto(GStrv) pmu_model = build_ok("", "<cpu><model>Haswell</model><feature name='aes'/></cpu>"
                                           "<features><pmu state='on'/></features>");
        /* libvirt's host-model guests carry an empty <model fallback=...>. */
        g_auto(GStrv) empty_model = build_ok("", "<cpu mode='custom'><model fallback='allow'/></cpu>");
        g_auto(GStrv) topology_only = build_ok("", "<vcpu>2</vcpu><cpu><topology sockets='1' cores='2' threads='1'/></cpu>");
        g_autoptr(GError) error = NULL;
        g_auto(GStrv) host_tcg = build_with("", "<cpu mode='host-passthrough'/>", FALSE, &error);
        g_auto(GStrv) host_kvm = build_with("", "<cpu mode='host-passthrough'><feature name='vmx'/></cpu>", TRUE, NULL);
        g_autofree char *i686_xml = g_strdup("<domain type='qemu'><name>vm1</name><memory>65536</memory>"
                                             "<os><type arch='i686'>hvm</type></os></domain>");
        g_auto(GStrv) i686_argv = command_line_build(i686_xml, NULL, NULL);

        g_assert_true(argv_has_pair(custom, "-cpu", "Skylake-Client,pcid=on,vmx=off,sse4.2=on,x2apic=on,avx-vnni=off"));
        g_assert_true(argv_has_pair(features_only, "-cpu", "qemu64,aes=on"));
        g_assert_true(argv_has_pair(maximum, "-cpu", "max"));
        g_assert_true(argv_has_pair(pmu, "-cpu", "qemu64,pmu=off"));
        g_assert_true(argv_has_pair(pmu_model, "-cpu", "Haswell,aes=on,pmu=on"));
        g_assert_false(argv_has_option(topology_only, "-cpu"));
        g_assert_false(argv_has_option(empty_model, "-cpu"));
        g_assert_null(host_tcg);
        g_assert_error(error, MD_ERROR, MD_ERROR_UNSUPPORTED);
        g_assert_true(argv_has_pair(host_kvm, "-cpu", "host,vmx=on"));
        g_assert_true(argv_has_pair(i686_argv, "-cpu", "qemu32"));
}

/* Names that would add options of their own to -cpu. */
static void test_cpu_hostile(void) {
        static const char *const bodies[] = {
                "<cpu><model>qemu64,vmx=on</model></cpu>", "<cpu><model>host,migratable=off</model></cpu>",
                "<cpu><model>a b</model></cpu>", "<cpu><model>a\tb</model></cpu>",
                "<cpu><model>\xc3\xa9</model></cpu>",
                "<cpu><feature name='vmx=on,pmu'/></cpu>", "<cpu><feature policy='require'/></cpu>",
                "<cpu><feature name=''/></cpu>", "<cpu><feature name='a=b'/></cpu>",
                "<cpu><feature name='xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'/></cpu>",
        };

        for (size_t i = 0; i < G_N_ELEMENTS(bodies); i++)
                assert_invalid("", bodies[i], NULL);
}

static void test_vmport_pm(void) {
        g_auto(GStrv) pc = build_ok("", "<features><vmport state='off'/></features>"
                                    "<pm><suspend-to-mem enabled='no'/><suspend-to-disk enabled='yes'/></pm>");
        g_autofree char *q35_xml = g_strdup("<domain type='qemu'><name>vm1</name><memory>65536</memory>"
                                            "<os><type machine='pc-q35-7.2'>hvm</type></os><features><vmport state='on'/></features>"
                                            "<pm><suspend-to-mem enabled='yes'/></pm></domain>");
        g_autofree char *microvm_xml = g_strdup("<domain type='qemu'><name>vm1</name><memory>65536</memory>"
                                                "<os><type machine='microvm'>hvm</type></os>"
                                                "<pm><suspend-to-disk enabled='no'/></pm></domain>");
        g_auto(GStrv) q35_argv = command_line_build(q35_xml, NULL, NULL);
        g_autoptr(GError) error = NULL;
        g_auto(GStrv) microvm_argv = command_line_build(microvm_xml, NULL, &error);

        g_assert_true(argv_has_pair(pc, "-machine", "vmport=off"));
        g_assert_true(argv_has_pair(pc, "-global", "PIIX4_PM.disable_s3=1"));
        g_assert_true(argv_has_pair(pc, "-global", "PIIX4_PM.disable_s4=0"));
        g_assert_true(argv_has_pair(q35_argv, "-machine", "vmport=on"));
        g_assert_true(argv_has_pair(q35_argv, "-global", "ICH9-LPC.disable_s3=0"));
        g_assert_false(argv_has_pair(q35_argv, "-global", "ICH9-LPC.disable_s4=0"));
        g_assert_null(microvm_argv);
        g_assert_error(error, MD_ERROR, MD_ERROR_UNSUPPORTED);
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/qemu-machine/defaults-add-nothing", test_defaults_add_nothing);
        g_test_add_func("/qemu-machine/clock", test_clock);
        g_test_add_func("/qemu-machine/boot", test_boot);
        g_test_add_func("/qemu-machine/on-reboot", test_on_reboot);
        g_test_add_func("/qemu-machine/smp", test_smp);
        g_test_add_func("/qemu-machine/smp-hostile", test_smp_hostile);
        g_test_add_func("/qemu-machine/cpu", test_cpu);
        g_test_add_func("/qemu-machine/cpu-hostile", test_cpu_hostile);
        g_test_add_func("/qemu-machine/vmport-pm", test_vmport_pm);
        g_test_add_func("/qemu-machine/boot-hostile", test_boot_hostile);
        return g_test_run();
}
