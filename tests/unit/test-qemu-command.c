#include <string.h>

#include "command-line-test.h"
#include "md-error.h"
#include "qemu-option.h"

static const char *const guest_xml =
        "<domain type='kvm'>"
        "  <name>web,1</name>"
        "  <uuid>6f6a2c3e-0d3b-4f0a-9c44-2e9b1c0d7a11</uuid>"
        "  <memory unit='MiB'>128</memory>"
        "  <vcpu>2</vcpu>"
        "  <os><type arch='x86_64' machine='pc'>hvm</type>"
        "      <kernel>/boot/guest.elf</kernel><cmdline>dirty=8M period=100</cmdline></os>"
        "  <devices>"
        "    <disk type='file' device='disk'><driver name='qemu' type='qcow2'/>"
        "      <source file='/var/lib/images/a,b.qcow2'/><target dev='vda' bus='virtio'/></disk>"
        "    <serial type='file'><source path='/tmp/serial.log'/></serial>"
        "    <console type='file'><source path='/tmp/serial.log'/><target type='serial'/></console>"
        "  </devices>"
        "</domain>";

static GStrv build(const char *xml, gboolean kvm, const char *incoming, GError **error) {
        QemuCommandOptions options = { .kvm = kvm, .incoming = incoming };

        return command_line_build(xml, &options, error);
}

static void test_full(void) {
        g_autoptr(GError) error = NULL;
        g_auto(GStrv) argv = build(guest_xml, TRUE, NULL, &error);

        g_assert_no_error(error);
        g_assert_cmpstr(argv[0], ==, "/usr/bin/qemu-system-x86_64");
        g_assert_true(argv_has_pair(argv, "-name", "guest=web,,1,debug-threads=on"));
        g_assert_true(argv_has_pair(argv, "-uuid", "6f6a2c3e-0d3b-4f0a-9c44-2e9b1c0d7a11"));
        g_assert_true(argv_has_pair(argv, "-accel", "kvm"));
        g_assert_true(argv_has_pair(argv, "-m", "size=131072k"));
        g_assert_true(argv_has_pair(argv, "-smp", "2"));
        g_assert_true(argv_has_pair(argv, "-machine", "pc"));
        g_assert_true(argv_has_pair(argv, "-kernel", "/boot/guest.elf"));
        g_assert_true(argv_has_pair(argv, "-append", "dirty=8M period=100"));
        g_assert_true(argv_has_pair(argv, "-chardev", "socket,id=monitor,fd=3,server=on,wait=off"));
        g_assert_true(argv_has_pair(argv, "-drive",
                               "if=none,id=disk0,file=/var/lib/images/a,,b.qcow2,format=qcow2"));
        g_assert_true(argv_has_pair(argv, "-device", "virtio-blk-pci,drive=disk0"));
        g_assert_true(argv_has_pair(argv, "-device", "isa-serial,chardev=chr0,index=0"));
        /* The console repeats serial 0 and gets no second device. */
        g_assert_false(argv_has_pair(argv, "-device", "isa-serial,chardev=chr1,index=1"));
        g_assert_true(g_strv_contains((const char *const *) argv, "-S"));
        g_assert_true(g_strv_contains((const char *const *) argv, "-nodefaults"));
        g_assert_false(g_strv_contains((const char *const *) argv, "-incoming"));
}

static void test_tcg_incoming(void) {
        g_autoptr(GError) error = NULL;
        g_auto(GStrv) argv = build(guest_xml, FALSE, "defer", &error);

        g_assert_no_error(error);
        g_assert_true(argv_has_pair(argv, "-accel", "tcg"));
        g_assert_false(g_strv_contains((const char *const *) argv, "-cpu"));
        g_assert_true(argv_has_pair(argv, "-incoming", "defer"));
        /* 128 MiB is on QEMU's 256 KiB dirty-bitmap grid: TCG gets 8 KiB more. */
        g_assert_true(argv_has_pair(argv, "-m", "size=131080k"));
}

static void test_tcg_ram_off_grid(void) {
        g_assert_cmpuint(qemu_command_ram_kib(524288, TRUE), ==, 524288);
        g_assert_cmpuint(qemu_command_ram_kib(524288, FALSE), ==, 524296);
        /* Already off the grid: only QEMU's own 8 KiB rounding. */
        g_assert_cmpuint(qemu_command_ram_kib(131076, FALSE), ==, 131080);
        g_assert_cmpuint(qemu_command_ram_kib(131080, FALSE), ==, 131080);
        /* Rounding up can land on the grid; then it is padded too. */
        g_assert_cmpuint(qemu_command_ram_kib(262143, FALSE), ==, 262152);
        for (guint64 kib = 4; kib < 4 << 20; kib += 4)
                g_assert_cmpuint(qemu_command_ram_kib(kib, FALSE) % 256, !=, 0);
}

/* <allocation mode='immediate'> and only it: the RAM as a preallocated
 * backend of exactly the -m size, the TCG pad included. */
static void test_prealloc(void) {
        static const char *const modes[] = { "", "<memoryBacking><allocation/></memoryBacking>",
                "<memoryBacking><allocation mode='ondemand'/></memoryBacking>",
                "<memoryBacking><allocation mode='immediate'/></memoryBacking>",
                "<memoryBacking><allocation mode='immediate' threads='3'/></memoryBacking>" };

        for (guint i = 0; i < G_N_ELEMENTS(modes); i++) {
                g_autofree char *xml = g_strdup_printf("<domain type='qemu'><name>p</name>"
                                                       "<memory unit='MiB'>128</memory>%s"
                                                       "<os><type>hvm</type></os></domain>", modes[i]);
                g_autoptr(GError) error = NULL;
                g_auto(GStrv) tcg = build(xml, FALSE, "defer", &error);
                g_auto(GStrv) kvm = build(xml, TRUE, NULL, &error);
                gboolean prealloc = i >= 3;

                g_assert_no_error(error);
                g_assert_true(argv_has_pair(tcg, "-m", "size=131080k"));
                g_assert_true(argv_has_pair(kvm, "-m", "size=131072k"));
                g_assert_true(argv_has_pair(tcg, "-machine", "pc"));
                g_assert_cmpint(argv_has_pair(tcg, "-object", i == 3 ?
                                "memory-backend-ram,id=pc.ram,size=131080k,prealloc=on" :
                                "memory-backend-ram,id=pc.ram,size=131080k,prealloc=on,prealloc-threads=3"),
                                ==, prealloc);
                g_assert_cmpint(argv_has_pair(kvm, "-object", i == 3 ?
                                "memory-backend-ram,id=pc.ram,size=131072k,prealloc=on" :
                                "memory-backend-ram,id=pc.ram,size=131072k,prealloc=on,prealloc-threads=3"),
                                ==, prealloc);
                g_assert_cmpint(argv_has_pair(tcg, "-machine", "memory-backend=pc.ram"), ==, prealloc);
                g_assert_false(g_strv_contains((const char *const *) tcg, "-mem-prealloc"));
                for (guint j = 0; !prealloc && tcg[j]; j++)
                        g_assert_null(strstr(tcg[j], "prealloc"));
        }
}

/* The backend takes the id of the machine's own RAM (QEMU's default-ram-id),
 * which names the RAM block in the migration stream: a peer started without
 * <allocation> (its own destination XML) must find the same block. QEMU 7.2:
 * pc.ram for the pc and q35 families and isapc, microvm.ram, ram for none.
 * A machine whose RAM id is not known is refused, not given a wrong one. */
static void test_prealloc_ram_id(void) {
        static const struct { const char *machine, *id; } cases[] = {
                { "pc", "pc.ram" }, { "pc-i440fx-2.0", "pc.ram" }, { "q35", "pc.ram" },
                { "pc-q35-7.2", "pc.ram" }, { "isapc", "pc.ram" }, { "microvm", "microvm.ram" },
                { "none", "ram" }, { "x-remote", NULL }, { "pcx", NULL },
        };

        for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
                g_autofree char *xml = g_strdup_printf("<domain type='qemu'><name>p</name>"
                                                       "<memory unit='MiB'>128</memory><memoryBacking>"
                                                       "<allocation mode='immediate'/></memoryBacking>"
                                                       "<os><type machine='%s'>hvm</type></os></domain>",
                                                       cases[i].machine);
                g_autofree char *object = NULL, *machine = NULL;
                g_autoptr(GError) error = NULL;
                g_auto(GStrv) argv = build(xml, TRUE, NULL, &error);

                if (!cases[i].id) {
                        g_assert_error(error, MD_ERROR, MD_ERROR_UNSUPPORTED);
                        g_assert_nonnull(strstr(error->message, cases[i].machine));
                        g_assert_null(argv);
                        continue;
                }
                g_assert_no_error(error);
                object = g_strdup_printf("memory-backend-ram,id=%s,size=131072k,prealloc=on", cases[i].id);
                machine = g_strdup_printf("memory-backend=%s", cases[i].id);
                if (!argv_has_pair(argv, "-object", object) || !argv_has_pair(argv, "-machine", machine))
                        g_error("machine %s: no %s with %s", cases[i].machine, object, machine);
        }
}

/* A migration target's RAM is its source's size, the backend's too. */
static void test_prealloc_target_size(void) {
        g_autoptr(GError) error = NULL;
        g_autoptr(DomainDef) def = domain_def_parse("<domain type='qemu'><name>p</name>"
                                                    "<memory unit='MiB'>128</memory><memoryBacking>"
                                                    "<allocation mode='immediate'/></memoryBacking>"
                                                    "<os><type>hvm</type></os></domain>", -1, &error);
        QemuCommandOptions options = { .binary = "qemu", .monitor_fd = 3, .incoming = "defer",
                                       .ram_kib = 131096 };
        g_auto(GStrv) argv = NULL;

        g_assert_no_error(error);
        argv = qemu_command_build(def, &options, &error);
        g_assert_no_error(error);
        g_assert_true(argv_has_pair(argv, "-m", "size=131096k"));
        g_assert_true(argv_has_pair(argv, "-object", "memory-backend-ram,id=pc.ram,size=131096k,prealloc=on"));
}

static void test_no_memory(void) {
        g_autoptr(GError) error = NULL;
        g_auto(GStrv) argv = build("<domain type='qemu'><name>m</name>"
                                   "<os><type>hvm</type></os></domain>", FALSE, NULL, &error);

        g_assert_null(argv);
        g_assert_error(error, MD_ERROR, MD_ERROR_UNSUPPORTED);
        g_assert_nonnull(strstr(error->message, "memory"));
}

/* The argument after the first @option in @argv, or NULL. */
static const char *value_of(GStrv argv, const char *option) {
        for (guint i = 0; argv && argv[i] && argv[i + 1]; i++)
                if (g_str_equal(argv[i], option))
                        return argv[i + 1];
        return NULL;
}

/* A machine type goes to -machine as it is: a comma or '=' in it would
 * be QEMU options of the definition's choosing. Refused at define; before,
 * 'pc,accel=kvm' gave "-machine pc,accel=kvm" (the failure shows it). */
static void test_machine_hostile(void) {
        static const char *const hostile[] = {
                "pc,accel=kvm", "pc,memory-backend=x", "pc,,x", "pc=x", "pc ", " pc", "", "pc\tx",
                "pc;x", "pc/x", "pc:x", "pc\u00e9",
        };
        static const char *const valid[] = { "pc", "q35", "pc-i440fx-7.2", "pc-q35-8.2", "microvm", "x_y" };

        for (guint i = 0; i < G_N_ELEMENTS(hostile); i++) {
                g_autofree char *xml = g_strdup_printf("<domain type='qemu'><name>m</name><memory>65536</memory>"
                                                       "<os><type machine='%s'>hvm</type></os></domain>",
                                                       hostile[i]);
                g_autoptr(GError) error = NULL;
                g_autoptr(DomainDef) def = domain_def_parse(xml, -1, &error);

                if (def) {
                        QemuCommandOptions options = { .binary = "qemu", .monitor_fd = 3 };
                        g_auto(GStrv) argv = qemu_command_build(def, &options, NULL);

                        g_error("machine '%s' accepted: -machine %s", hostile[i], value_of(argv, "-machine"));
                }
                g_assert_error(error, MD_ERROR, MD_ERROR_INVALID_XML);
                g_assert_nonnull(strstr(error->message, "/domain/os/type/@machine"));
        }
        for (guint i = 0; i < G_N_ELEMENTS(valid); i++) {
                g_autofree char *xml = g_strdup_printf("<domain type='qemu'><name>m</name><memory>65536</memory>"
                                                       "<os><type machine='%s'>hvm</type></os></domain>", valid[i]);
                g_autoptr(GError) error = NULL;
                g_auto(GStrv) argv = build(xml, FALSE, NULL, &error);

                g_assert_no_error(error);
                g_assert_cmpstr(value_of(argv, "-machine"), ==, valid[i]);
        }
}

/* Values free to hold commas, '=' and a leading '-': in an option string
 * they are escaped (-name, -chardev path=); -kernel, -initrd and -append
 * each take the next argument whole, as one value, whatever it starts
 * with (QEMU 7.2: "could not open kernel file '-nodefaults'"). */
static void test_free_values(void) {
        g_autoptr(GError) error = NULL;
        g_auto(GStrv) argv = build("<domain type='qemu'><name>a,b=c,debug-threads=off</name>"
                                   "<memory>65536</memory><os><type machine='pc'>hvm</type>"
                                   "<kernel>-nodefaults</kernel><initrd>/boot/i,machine=q35</initrd>"
                                   "<cmdline>console=ttyS0,115200 -S</cmdline></os><devices>"
                                   "<serial type='file'><source path='/tmp/s,path=/etc/x'/></serial>"
                                   "<serial type='unix'><source mode='bind' path='-s,server=off'/></serial>"
                                   "</devices></domain>", FALSE, NULL, &error);
        guint machines = 0;

        g_assert_no_error(error);
        g_assert_true(argv_has_pair(argv, "-name", "guest=a,,b=c,,debug-threads=off,debug-threads=on"));
        g_assert_true(argv_has_pair(argv, "-kernel", "-nodefaults"));
        g_assert_true(argv_has_pair(argv, "-initrd", "/boot/i,machine=q35"));
        g_assert_true(argv_has_pair(argv, "-append", "console=ttyS0,115200 -S"));
        g_assert_true(argv_has_pair(argv, "-chardev", "file,id=chr0,path=/tmp/s,,path=/etc/x"));
        g_assert_true(argv_has_pair(argv, "-chardev", "socket,id=chr1,path=-s,,server=off,server=on,wait=off"));
        for (guint i = 0; argv[i]; i++)
                machines += g_str_equal(argv[i], "-machine");
        g_assert_cmpuint(machines, ==, 1);
}

/* <log file= append=> of a serial or console: QEMU's logfile=, escaped, and
 * logappend= (off unless asked: as libvirt, the log starts afresh). */
static void test_chardev_log(void) {
        g_autoptr(GError) error = NULL;
        g_auto(GStrv) argv = build("<domain type='qemu'><name>vm</name><memory>65536</memory>"
                                   "<os><type machine='pc'>hvm</type></os><devices>"
                                   "<serial type='pty'><log file='/var/log/vm,logappend=off' append='on'/></serial>"
                                   "<serial type='file'><source path='/tmp/s'/><log file='/var/log/s'/></serial>"
                                   "<serial type='null'/>"
                                   "</devices></domain>", FALSE, NULL, &error);

        g_assert_no_error(error);
        g_assert_true(argv_has_pair(argv, "-chardev", "pty,id=chr0,logfile=/var/log/vm,,logappend=off,logappend=on"));
        g_assert_true(argv_has_pair(argv, "-chardev", "file,id=chr1,path=/tmp/s,logfile=/var/log/s,logappend=off"));
        g_assert_true(argv_has_pair(argv, "-chardev", "null,id=chr2"));
}

static void test_escape(void) {
        g_autofree char *a = qemu_option_escape("a,b,,c");
        g_autofree char *b = qemu_option_escape("");

        g_assert_cmpstr(a, ==, "a,,b,,,,c");
        g_assert_cmpstr(b, ==, "");
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/qemu-command/full", test_full);
        g_test_add_func("/qemu-command/tcg-incoming", test_tcg_incoming);
        g_test_add_func("/qemu-command/no-memory", test_no_memory);
        g_test_add_func("/qemu-command/prealloc", test_prealloc);
        g_test_add_func("/qemu-command/prealloc-target-size", test_prealloc_target_size);
        g_test_add_func("/qemu-command/prealloc-ram-id", test_prealloc_ram_id);
        g_test_add_func("/qemu-command/tcg-ram-off-grid", test_tcg_ram_off_grid);
        g_test_add_func("/qemu-command/escape", test_escape);
        g_test_add_func("/qemu-command/chardev-log", test_chardev_log);
        g_test_add_func("/qemu-command/machine-hostile", test_machine_hostile);
        g_test_add_func("/qemu-command/free-values", test_free_values);
        return g_test_run();
}
