/* Tiny multiboot guest for migration tests: prints a counter on COM1 and keeps
 * rewriting (and verifying) a memory area, so a live migration can be shown
 * to carry both CPU/RAM state and dirty pages. See README.md. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#define COM1 0x3f8
#define PAGE 4096u
#define AREA_BASE 0x200000u /* 2 MiB: above the kernel and the multiboot info */
#define MB_BOOT_MAGIC 0x2BADB002u
#define PIT_HZ 1193182u
#define CAL_MS 20u

/* Multiboot v1 info, only the fields we read. */
struct mb_info {
    uint32_t flags, mem_lower, mem_upper, boot_device, cmdline;
    uint32_t mods_count, mods_addr, syms[4], mmap_length, mmap_addr;
};
struct mb_mmap {
    uint32_t size;
    uint32_t base_lo, base_hi, len_lo, len_hi, type;
} __attribute__((packed));

void guest_main(uint32_t magic, const struct mb_info *mbi);

static inline void outb(uint16_t port, uint8_t v)
{
    __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint8_t inb(uint16_t port)
{
    uint8_t v;
    __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

static inline void outw(uint16_t port, uint16_t v)
{
    __asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint16_t inw(uint16_t port)
{
    uint16_t v;
    __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

static inline void outl(uint16_t port, uint32_t v)
{
    __asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint32_t inl(uint16_t port)
{
    uint32_t v;
    __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

static inline uint64_t rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}

static void serial_init(void)
{
    outb(COM1 + 1, 0x00); /* no UART interrupts: we poll */
    outb(COM1 + 3, 0x80); /* DLAB on: divisor 1 = 115200 baud */
    outb(COM1 + 0, 0x01);
    outb(COM1 + 1, 0x00);
    outb(COM1 + 3, 0x03); /* 8N1 */
    outb(COM1 + 2, 0x07); /* FIFO on and cleared */
    outb(COM1 + 4, 0x03); /* DTR | RTS */
}

static void putch(char c)
{
    /* Bounded so a missing or wedged UART can't stop the guest. */
    for (uint32_t spin = 0; !(inb(COM1 + 5) & 0x20) && spin < 100000; spin++)
        __asm__ volatile("pause");
    outb(COM1, (uint8_t)c);
}

/* Just %u, %x (0x + 8 digits) and %s: all the guest needs. */
static void print(const char *fmt, ...)
{
    va_list ap;
    char buf[12];

    va_start(ap, fmt);
    for (; *fmt; fmt++) {
        if (*fmt != '%') {
            putch(*fmt);
            continue;
        }
        fmt++;
        if (*fmt == 's') {
            for (const char *s = va_arg(ap, const char *); *s; s++)
                putch(*s);
        } else if (*fmt == 'u') {
            uint32_t v = va_arg(ap, uint32_t);
            int i = sizeof(buf);
            do {
                buf[--i] = (char)('0' + v % 10);
                v /= 10;
            } while (v);
            while (i < (int)sizeof(buf))
                putch(buf[i++]);
        } else if (*fmt == 'x') {
            uint32_t v = va_arg(ap, uint32_t);
            putch('0');
            putch('x');
            for (int sh = 28; sh >= 0; sh -= 4)
                putch("0123456789abcdef"[(v >> sh) & 15]);
        } else if (!*fmt) {
            break;
        }
    }
    va_end(ap);
}

/* TSC ticks per ms, measured against PIT channel 2 (one-shot, mode 0), the
 * way Linux does: cheap to read per page afterwards, and real time under both
 * KVM and TCG. Returns 0 if OUT2 never rises. */
static uint32_t calibrate_once(void)
{
    const uint32_t count = PIT_HZ * CAL_MS / 1000;
    uint64_t t0;
    uint32_t spin = 0;

    outb(0x61, (uint8_t)((inb(0x61) & ~0x02) | 0x01)); /* gate on, speaker off */
    outb(0x43, 0xB0);                                   /* ch2, lo/hi, mode 0 */
    outb(0x42, count & 0xff);
    outb(0x42, (uint8_t)(count >> 8));
    t0 = rdtsc();
    while (!(inb(0x61) & 0x20))
        if (++spin > 5000000u)
            return 0;
    return (uint32_t)(rdtsc() - t0) / CAL_MS;
}

/* Median of three: one run stretched by a host stall (TCG, loaded CI) or
 * a slow port exit must not skew every later period. */
static uint32_t calibrate_tsc_khz(void)
{
    uint32_t a = calibrate_once(), b, c;

    if (!a)
        return 0;
    b = calibrate_once();
    c = calibrate_once();
    if (a > b) {
        uint32_t t = a;
        a = b;
        b = t;
    }
    if (b > c)
        b = c;
    return a > b ? a : b;
}

/* ACPI power button -> S5, so a host's "ACPI shutdown" (QMP system_powerdown,
 * libvirt's default) really powers the guest off. No ACPI tables are parsed:
 * the loader (SeaBIOS) has already set the chipset's PM I/O base, so it is read
 * back from PCI config space, and the rest is fixed by the chipset and QEMU. */
#define PM1_STS 0          /* PM1a_EVT_BLK, offsets from the PM I/O base */
#define PM1_EN 2
#define PM1_CNT 4          /* PM1a_CNT_BLK */
#define PWRBTN (1u << 8)   /* PWRBTN_STS in PM1_STS, PWRBTN_EN in PM1_EN */
#define SCI_EN (1u << 0)
#define SLP_TYP (7u << 10)
#define SLP_EN (1u << 13)
#define SMI_CMD 0xb2       /* FADT SMI_CMD, the same for both chipsets in QEMU */

static uint32_t pci_read(uint32_t dev, uint32_t fn, uint32_t reg)
{
    outl(0xcf8, 0x80000000u | dev << 11 | fn << 8 | reg); /* bus 0 */
    return inl(0xcfc);
}

/* Returns the PM I/O base, or 0 (*chip says which chipset, if any). */
static uint16_t acpi_init(const char **chip)
{
    uint16_t pm = 0;
    uint8_t acpi_enable = 0;

    if (pci_read(1, 3, 0x00) == 0x71138086u) { /* -machine pc: PIIX4 PM, 00:01.3 */
        *chip = "piix4";
        if (pci_read(1, 3, 0x80) & 0x01)        /* PMREGMISC.PMIOSE */
            pm = pci_read(1, 3, 0x40) & 0xffc0;
        acpi_enable = 0xf1;
    } else if (pci_read(31, 0, 0x00) == 0x29188086u) { /* q35: ICH9 LPC, 00:1f.0 */
        *chip = "ich9";
        if (pci_read(31, 0, 0x44) & 0x80)       /* ACPI_CNTL.ACPI_EN */
            pm = pci_read(31, 0, 0x40) & 0xff80;
        acpi_enable = 0x02;
    }
    if (!pm)
        return 0;
    /* Take the fixed events over from firmware the way an OS does (FADT
     * ACPI_ENABLE). QEMU itself ignores SCI_EN here, but in legacy mode a real
     * chipset sends the button to SMM instead of setting PWRBTN_STS. */
    if (!(inw(pm + PM1_CNT) & SCI_EN))
        outb(SMI_CMD, acpi_enable);
    /* QEMU drops presses while PWRBTN_EN is clear (that is all noacpi
     * relies on). Clear a stale press first: write 1 to clear. */
    outw(pm + PM1_STS, PWRBTN);
    outw(pm + PM1_EN, (uint16_t)(inw(pm + PM1_EN) | PWRBTN));
    return pm;
}

static void acpi_power_off(uint16_t pm, uint32_t tsc_khz)
{
    print("guest: power button, powering off\n");
    outw(pm + PM1_STS, PWRBTN);
    /* S5. SLP_TYP 0 is what QEMU's DSDT says for \_S5 on both chipsets (and
     * what its PM1_CNT emulation treats as power off). */
    outw(pm + PM1_CNT, (uint16_t)((inw(pm + PM1_CNT) & ~SLP_TYP) | SLP_EN));
    /* QEMU stops us asynchronously: give it a second before saying so. */
    for (uint64_t t0 = rdtsc(); rdtsc() - t0 < 1000ull * tsc_khz;)
        __asm__ volatile("pause");
    print("guest: WARNING still running after the S5 request, halting\n");
    for (;;)
        __asm__ volatile("hlt");
}

static int starts(const char *s, const char *prefix)
{
    while (*prefix)
        if (*s++ != *prefix++)
            return 0;
    return 1;
}

/* "123", "64K", "8M", "1G"; saturates at 4 GiB - 1. *ok = 0 if no digits. */
static uint32_t parse_size(const char *s, int *ok)
{
    uint64_t v = 0;

    *ok = *s >= '0' && *s <= '9';
    for (; *s >= '0' && *s <= '9'; s++)
        if ((v = v * 10 + (uint32_t)(*s - '0')) > 0xFFFFFFFFull)
            v = 0x100000000ull;
    if (*s == 'k' || *s == 'K')
        v <<= 10;
    else if (*s == 'm' || *s == 'M')
        v <<= 20;
    else if (*s == 'g' || *s == 'G')
        v <<= 30;
    else if (*s && *s != ' ')
        *ok = 0;
    return v > 0xFFFFFFFFull ? 0xFFFFFFFFu : (uint32_t)v;
}

/* Value of word 0 of page `page` after pass `pass`; the last word holds the
 * complement. Mixing in boot_id ties the contents to this boot. */
static uint32_t boot_id;
static uint32_t page_val(uint32_t pass, uint32_t page)
{
    uint32_t x = (pass * 0x9E3779B1u) ^ (page * 0x85EBCA77u) ^ boot_id;
    return x ^ (x >> 15) ^ 0x5bd1e995u;
}

/* Everything below lives in guest RAM, so after a live migration the
 * destination carries on from where the source stopped. */
static volatile uint32_t counter, pass, corrupt_seen;

void guest_main(uint32_t magic, const struct mb_info *mbi)
{
    uint32_t mem_upper = 0, dirty_req = 0, period = 100, rate = 0, tsc_khz;
    int selftest = 0, noacpi = 0, ok, clamped = 0, bad_magic = magic != MB_BOOT_MAGIC;
    const char *bad_opt = NULL, *chip = NULL;
    uint16_t pm = 0;
    uint64_t ram_end;

    serial_init();
    boot_id = (uint32_t)rdtsc();
    boot_id = page_val(0xB007u, boot_id) | 1;

    if (bad_magic)
        mbi = NULL;
    if (mbi && (mbi->flags & (1u << 0)))
        mem_upper = mbi->mem_upper;
    /* Parse before dirtying anything: QEMU puts the cmdline after the kernel. */
    if (mbi && (mbi->flags & (1u << 2))) {
        for (const char *p = (const char *)mbi->cmdline; *p;) {
            if (starts(p, "dirty=")) {
                dirty_req = parse_size(p + 6, &ok);
            } else if (starts(p, "period=")) {
                period = parse_size(p + 7, &ok);
                if (period == 0)
                    period = 1;
            } else if (starts(p, "rate=")) {
                rate = parse_size(p + 5, &ok);
            } else {
                selftest |= starts(p, "selftest-corrupt");
                noacpi |= starts(p, "noacpi");
                ok = 1; /* unknown words (the kernel path first) are ignored */
            }
            if (!ok && !bad_opt)
                bad_opt = p;
            while (*p && *p != ' ')
                p++;
            while (*p == ' ')
                p++;
        }
    }

    /* The area must be RAM: below mem_upper's end and, when the loader gives
     * a memory map, inside the usable range containing AREA_BASE. */
    ram_end = 0x100000ull + (uint64_t)mem_upper * 1024;
    if (mbi && (mbi->flags & (1u << 6))) {
        uint64_t usable_end = 0;
        uint32_t a = mbi->mmap_addr, end = a + mbi->mmap_length;
        for (; a < end; a += ((const struct mb_mmap *)a)->size + 4) {
            const struct mb_mmap *e = (const struct mb_mmap *)a;
            uint64_t base = ((uint64_t)e->base_hi << 32) | e->base_lo;
            uint64_t top = base + (((uint64_t)e->len_hi << 32) | e->len_lo);
            if (e->type == 1 && base <= AREA_BASE && top > AREA_BASE)
                usable_end = top;
        }
        if (usable_end < ram_end)
            ram_end = usable_end;
    }
    if (ram_end > 0xFFFFF000ull)
        ram_end = 0xFFFFF000ull;
    uint32_t avail = ram_end > AREA_BASE ? (uint32_t)(ram_end - AREA_BASE) & ~(PAGE - 1) : 0;
    uint32_t npages = dirty_req / PAGE + (dirty_req % PAGE != 0);
    if (npages > avail / PAGE) {
        npages = avail / PAGE;
        clamped = 1;
    }
    uint32_t rate_pages = rate ? rate / PAGE + (rate % PAGE != 0) : 0;

    tsc_khz = calibrate_tsc_khz();

    print("guest: dirty=%u requested=%u mem_upper=%u area=%x period=%u rate=%u tsc_khz=%u boot=%x\n",
          npages * PAGE, dirty_req, mem_upper, AREA_BASE, period, rate, tsc_khz, boot_id);
    /* Warnings come after the header so it is always the first line. */
    if (bad_magic)
        print("guest: WARNING bad multiboot magic %x: no RAM info, no options\n", magic);
    if (bad_opt) {
        print("guest: WARNING bad option value: ");
        while (*bad_opt && *bad_opt != ' ')
            putch(*bad_opt++);
        putch('\n');
    }
    if (!tsc_khz) {
        print("guest: WARNING PIT calibration failed, assuming a 1 GHz TSC\n");
        tsc_khz = 1000000;
    }
    if (clamped)
        print("guest: WARNING dirty=%u clamped to %u: RAM ends at %x\n", dirty_req, npages * PAGE,
              (uint32_t)ram_end);
    if (selftest && npages < 2)
        print("guest: WARNING selftest-corrupt needs dirty>=8K, ignored\n");
    if (noacpi)
        print("guest: acpi off (noacpi): power button ignored\n");
    else if ((pm = acpi_init(&chip)) != 0)
        print("guest: acpi %s pm=%x: power button powers off\n", chip, pm);
    else
        print("guest: WARNING no ACPI PM I/O (%s): power button ignored\n",
              chip ? chip : "no PIIX4 or ICH9");

    const uint64_t period_ticks = (uint64_t)period * tsc_khz;
    uint64_t next = rdtsc() + period_ticks;
    uint32_t page = 0, done = 0;
    /* The button is polled on its own clock: a port read per page would be a
     * VM exit per page and change the dirty rate; once per period could be
     * too slow with a long period=. */
    const uint64_t pm_ticks = 10ull * tsc_khz;
    uint64_t pm_next = 0;

    for (;;) {
        if (npages && (!rate_pages || done < rate_pages)) {
            volatile uint32_t *w = (volatile uint32_t *)(AREA_BASE + page * PAGE);
            uint32_t want = page_val(pass, page);
            if (pass > 0) {
                uint32_t expect = page_val(pass - 1, page), got0 = w[0], got1 = w[PAGE / 4 - 1];
                if ((got0 != expect || got1 != ~expect) && !corrupt_seen++)
                    print("MEMORY CORRUPT page=%u expected=%x got=%x\n", page,
                          got0 != expect ? expect : ~expect, got0 != expect ? got0 : got1);
            }
            w[0] = want;
            w[PAGE / 4 - 1] = ~want;
            done++;
            if (++page == npages) {
                page = 0;
                /* Prove the check isn't vacuous: damage one page, once. */
                if (selftest && pass == 0 && npages >= 2) {
                    *(volatile uint32_t *)(AREA_BASE + npages / 2 * PAGE) ^= 0x00C0FFEEu;
                    print("guest: selftest-corrupt: damaged page=%u\n", npages / 2);
                }
                pass++;
            }
        } else {
            __asm__ volatile("pause");
        }

        /* Check the clock every page so printing never stalls behind a
         * big area; if we fell behind (host stall), don't burst. */
        uint64_t now = rdtsc();
        if ((int64_t)(now - next) >= 0) {
            counter++;
            print("counter %u pass=%u boot=%x\n", counter, pass, boot_id);
            done = 0;
            next += period_ticks;
            if ((int64_t)(now - next) >= 0)
                next = now + period_ticks;
        }
        if (pm && (int64_t)(now - pm_next) >= 0) {
            pm_next = now + pm_ticks;
            if (inw(pm + PM1_STS) & PWRBTN)
                acpi_power_off(pm, tsc_khz);
        }
    }
}
