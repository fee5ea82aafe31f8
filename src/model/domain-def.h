/* A domain definition: the supported subset of libvirt's domain XML.
 *
 * The canonical text of the document is kept (so GetXMLDesc round-trips
 * everything of the subset, including elements the QEMU driver does not act
 * on), and the facts the drivers need are extracted into plain fields. The
 * libxml2 tree is not kept: it took about ten times the text's memory, and
 * most definitions are only ever read. An edit (the setters below) reads the
 * text again, changes the tree and formats it anew. */
#pragma once

#include <glib.h>
#include <libxml/tree.h>

G_DEFINE_AUTOPTR_CLEANUP_FUNC(xmlDoc, xmlFreeDoc)

typedef enum {
        DOMAIN_CHARDEV_FILE,
        DOMAIN_CHARDEV_PTY,
        DOMAIN_CHARDEV_UNIX,
        DOMAIN_CHARDEV_NULL,
        _DOMAIN_CHARDEV_MAX,
        _DOMAIN_CHARDEV_INVALID = -1,
} DomainChardevType;

typedef struct {
        DomainChardevType type;
        char *path;            /* file: source path; unix: socket path; else NULL */
        gboolean append;       /* file: <source append='on'/> */
        gboolean unix_server;  /* unix: mode='bind' */
        char *target_type;     /* e.g. "isa-serial", "serial", "virtio"; may be NULL */
        gboolean is_console;   /* came from <console> rather than <serial> */
        char *log_file;        /* <log file=.../> (QEMU's logfile=), NULL if absent */
        gboolean log_append;   /* <log append='on'/> */
        xmlNode *node;         /* src/model only: its <serial>/<console> element while
                                * the document is being read or edited; else NULL */
} DomainChardev;

/* libvirt's cache modes (<driver cache=...>); DEFAULT leaves QEMU's own. */
typedef enum {
        DOMAIN_DISK_CACHE_DEFAULT,
        DOMAIN_DISK_CACHE_NONE,
        DOMAIN_DISK_CACHE_WRITETHROUGH,
        DOMAIN_DISK_CACHE_WRITEBACK,
        DOMAIN_DISK_CACHE_DIRECTSYNC,
        DOMAIN_DISK_CACHE_UNSAFE,
        _DOMAIN_DISK_CACHE_MAX,
        _DOMAIN_DISK_CACHE_INVALID = -1,
} DomainDiskCache;

typedef struct {
        char *device;          /* "disk", "cdrom", "floppy" */
        char *source_file;     /* NULL for an empty cdrom/floppy */
        char *format;          /* "raw" or "qcow2"; NULL = raw */
        char *target_dev;      /* e.g. "vda", "sda", "hda" */
        char *target_bus;      /* "virtio", "sata", "ide", "fdc", ...; when absent,
                                * derived from target_dev like libvirt (vd virtio,
                                * hd ide, sd scsi, fd fdc), else NULL */
        gboolean readonly;     /* <readonly/>, and always for a cdrom */
        gboolean shareable;    /* <shareable/>: other guests may write it at the same time */
        DomainDiskCache cache; /* <driver cache=...> */
        char *io;              /* <driver io=...>: native, threads, io_uring; NULL = QEMU default */
        char *discard;         /* <driver discard=...>: unmap, ignore; NULL = QEMU default */
} DomainDisk;


/* <interface>: how the guest's NIC reaches the host. */
typedef enum {
        DOMAIN_NET_BRIDGE,     /* a tap the daemon creates and attaches to <source bridge=...> */
        DOMAIN_NET_ETHERNET,   /* an existing tap, <target dev=...> (managed='no') */
        DOMAIN_NET_USER,       /* QEMU's user-mode network (slirp) */
        _DOMAIN_NET_MAX,
        _DOMAIN_NET_INVALID = -1,
} DomainNetType;

typedef struct {
        DomainNetType type;
        char mac[18];          /* lower-case aa:bb:cc:dd:ee:ff; generated when absent */
        char *model;           /* "virtio", "e1000e", "rtl8139"; NULL = libvirt's default */
        char *bridge;          /* bridge: <source bridge=...> */
        char *target_dev;      /* ethernet: the tap's name */
} DomainNet;

typedef enum {
        DOMAIN_GRAPHICS_VNC,
        DOMAIN_GRAPHICS_SPICE,
        _DOMAIN_GRAPHICS_MAX,
        _DOMAIN_GRAPHICS_INVALID = -1,
} DomainGraphicsType;

typedef struct {
        DomainGraphicsType type;
        int port;              /* -1: not chosen yet (autoport) */
        gboolean autoport;     /* port chosen by the daemon from [graphics] port_min..port_max */
        char *listen;          /* address; NULL = 127.0.0.1 (libvirt's default) */
        char *passwd;          /* never logged, never on QEMU's command line */
        xmlNode *node;         /* src/model only, as DomainChardev.node */
} DomainGraphics;

/* <channel type='unix'> with a virtio target. */
typedef struct {
        char *path;            /* NULL until the daemon picks one (no <source path=...>) */
        char *target_name;     /* e.g. "org.qemu.guest_agent.0" */
        xmlNode *node;         /* src/model only, as DomainChardev.node */
} DomainChannel;

typedef struct {
        char *xml;             /* the canonical text (uuid, MACs, defaults filled in):
                                * what domain_def_format() returns */

        char *virt_type;       /* "kvm" or "qemu" */
        char *name;
        char uuid[37];         /* lower-case canonical form */
        char *title;
        char *description;

        guint64 memory_kib;    /* 0 when <memory> is absent: start must refuse */
        guint64 current_memory_kib;  /* = memory_kib when absent */
        guint64 max_memory_kib;      /* <maxMemory>, 0 when absent */
        guint memory_slots;          /* <maxMemory slots=...>, 0 when absent */
        gboolean mem_prealloc;       /* <memoryBacking><allocation mode='immediate'/>: all guest
                                      * RAM touched when QEMU starts, not on first use */
        guint mem_prealloc_threads;  /* its @threads (only with mode='immediate'); 0 = QEMU's default */
        gboolean mem_hugepages;      /* <memoryBacking><hugepages/>: guest RAM on a hugetlbfs */
        guint64 mem_hugepage_kib;    /* its one <page size=...>, a power of two; 0 = the host's
                                      * default huge page size */
        guint vcpus;           /* 1 when absent; 1..DOMAIN_VCPUS_MAX */
        guint current_vcpus;   /* <vcpu current=...>, = vcpus when absent */
        char *cpu_mode;        /* <cpu mode=...>: "custom", "host-passthrough", "maximum",
                                * "host-model"; NULL = custom */
        char *cpu_model;       /* <cpu><model>: a QEMU CPU model name; NULL = QEMU's default */
        char **cpu_features;   /* <cpu><feature>s: "+name" (require, force, optional) or
                                * "-name" (disable, forbid), in order; never NULL */
        guint sockets, dies, cores, threads;  /* <cpu><topology>: their product is vcpus;
                                               * all 0 without <topology> */

        char *os_type;         /* "hvm" */
        char *arch;            /* NULL = host default */
        char *machine;         /* NULL = QEMU default */
        char *kernel;
        char *initrd;
        char *cmdline;

        /* The machine (domain-def-machine.c) */
        gboolean clock_localtime;    /* <clock offset='localtime'>: the RTC in host local time */
        gboolean rtc_catchup;        /* <timer name='rtc' tickpolicy='catchup'>: lost ticks made up */
        char *pit_tickpolicy;        /* <timer name='pit' tickpolicy=...>: "delay", "discard"; NULL */
        gboolean hpet_off;           /* <timer name='hpet' present='no'> */
        char boot_order[5];          /* <os><boot dev=...>s as QEMU's letters ("cdn"); "" = none */
        int boot_menu;               /* <bootmenu enable=...>: 1 yes, 0 no, -1 absent */
        int boot_menu_timeout;       /* its @timeout in ms, 0..65535; -1 absent */
        int reboot_timeout;          /* <bios rebootTimeout=...>: -1..65535 ms, or DEFAULT */
        gboolean no_reboot;          /* <on_reboot>destroy</on_reboot>: a reboot ends QEMU */
        int vmport;                  /* <features><vmport state=...>: 1 on, 0 off, -1 absent */
        int pmu;                     /* <features><pmu state=...>: the guest's performance
                                      * monitoring unit, likewise */
        int pm_suspend_to_mem;       /* <pm><suspend-to-mem enabled=...>: 1, 0, -1 absent (S3) */
        int pm_suspend_to_disk;      /* <pm><suspend-to-disk enabled=...>: likewise (S4) */

        char *emulator;        /* <devices><emulator>, NULL = configured binary */
        GPtrArray *disks;      /* DomainDisk*, type='file' disks only, document order */
        GPtrArray *chardevs;   /* DomainChardev*, serials then consoles, document order */

        /* Peripherals (domain-def-peripherals.c) */
        GPtrArray *nets;       /* DomainNet*, document order */
        GPtrArray *graphics;   /* DomainGraphics*, document order (at most one per type) */
        GPtrArray *channels;   /* DomainChannel* */
        char *video_model;     /* "virtio", "vga", "qxl", "none"; NULL without <video> */
        guint64 video_ram_kib, video_vram_kib, video_vgamem_kib;  /* qxl; 0 = QEMU's default */
        char *rng_backend;     /* <rng model='virtio'> backend file; NULL without */
        gboolean balloon;      /* <memballoon model='virtio'> */
        gboolean balloon_autodeflate;  /* its autodeflate='on': the guest takes memory back when short */
        gboolean virtio_serial;  /* <controller type='virtio-serial' index='0'> */
        gboolean usb_tablet;   /* <input type='tablet' bus='usb'> */
        gboolean usb_mouse, usb_keyboard;   /* <input type='mouse|keyboard' bus='usb'> */
        gboolean usb_controller;  /* <controller type='usb' index='0'>, its model not 'none' */
        char *usb_model;       /* <controller type='usb' model=...>; NULL = the machine's default */
        guint usb_ports;       /* its @ports (xHCI), 1..15; 0 = QEMU's default */
} DomainDef;

#define DOMAIN_XML_MAX_SIZE (1024 * 1024)
#define DOMAIN_NAME_MAX 200    /* bytes */
#define DOMAIN_VCPUS_MAX 255
#define DOMAIN_REBOOT_TIMEOUT_DEFAULT G_MININT   /* no rebootTimeout: QEMU's own */
#define DOMAIN_PREALLOC_THREADS_MAX 1024   /* QEMU 7.2 uses at most 16 and the host's CPUs */
#define DOMAIN_HUGEPAGE_MAX_KIB (16ULL * 1024 * 1024)   /* 16 GiB: the largest any Linux has (ppc64) */

/* Parses and validates @xml (@len < 0: NUL-terminated). Errors:
 * MD_ERROR_INVALID_XML (with libxml2's line and message, or a missing/invalid
 * required value; also input over DOMAIN_XML_MAX_SIZE and any DOCTYPE, which
 * rules out entity expansion and external entities), MD_ERROR_UNSUPPORTED
 * naming the first element or attribute outside the subset, XPath-like
 * (the whitelist is in domain-schema.c). */
DomainDef *domain_def_parse(const char *xml, gssize len, GError **error);

/* The canonical XML of @def (what GetXMLDesc returns): UTF-8, indented, no
 * XML declaration; parse(format(d)) == d and formats to the same text. */
char *domain_def_format(const DomainDef *def);

/* A deep copy, canonical text included. */
DomainDef *domain_def_copy(const DomainDef *def);

/* Renames: updates both the field and the text. */
void domain_def_set_name(DomainDef *def, const char *name);

/* Replaces the path of the @index-th DOMAIN_CHARDEV_FILE chardev, counted in
 * @chardevs order (serials, then consoles); FALSE if there is no such one. */
gboolean domain_def_set_chardev_path(DomainDef *def, guint index, const char *path);

/* Non-empty, at most DOMAIN_NAME_MAX bytes of UTF-8, no '/', no control
 * characters, no leading '.' (it names files in the state directory). */
gboolean domain_name_is_valid(const char *name);

/* The schema accepts some devices that are kept in the document but not
 * extracted into @disks/@chardevs: disks of type 'block' or 'network' (nbd)
 * and chardevs of type 'tcp'; and settings that libvirt's QEMU driver
 * carries out and this one does not (domain-def-runtime.c: <cputune>,
 * <maxMemory>, cpu mode='host-model', ...; their defaults excepted).
 * Returns TRUE if @def has one, with the first named XPath-like in
 * @ret_what (e.g. "/domain/devices/disk/@type='network' (target vda)",
 * "/domain/cputune/shares='2048'"), so that Start can refuse it with
 * MD_ERROR_UNSUPPORTED. */
gboolean domain_def_has_unsupported_runtime(const DomainDef *def, char **ret_what);

const char *domain_chardev_type_to_string(DomainChardevType type);
/* "none", "writeback", ... as in <driver cache=...>; "default" for DEFAULT. */
const char *domain_disk_cache_to_string(DomainDiskCache cache);

const char *domain_net_type_to_string(DomainNetType type);
const char *domain_graphics_type_to_string(DomainGraphicsType type);

/* Sets the port the daemon chose for the @index-th graphics (live definitions). */
void domain_def_set_graphics_port(DomainDef *def, guint index, int port);
/* Sets the socket path of the @index-th channel in @channels (live definitions). */
void domain_def_set_channel_path(DomainDef *def, guint index, const char *path);

/* The canonical XML without secrets (<graphics passwd=...>), for callers
 * that did not ask for them. */
char *domain_def_format_public(const DomainDef *def);

void domain_def_free(DomainDef *def);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(DomainDef, domain_def_free)
