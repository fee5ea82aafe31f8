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
    int selftest = 0, ok, clamped = 0, bad_magic = magic != MB_BOOT_MAGIC;
    const char *bad_opt = NULL;
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

    const uint64_t period_ticks = (uint64_t)period * tsc_khz;
    uint64_t next = rdtsc() + period_ticks;
    uint32_t page = 0, done = 0;

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
    }
}
