#include "ctl-progress.h"

#include <string.h>
#include <sys/ioctl.h>

#include "ctl-variant.h"

#define BAR_WIDTH 20
#define LOG_INTERVAL_USEC G_USEC_PER_SEC
#define ANSI_ERASE_TO_END_OF_LINE "\x1b[K"

struct CtlProgress {
        FILE *f;
        gboolean terminal;
        gboolean drawn;                 /* terminal: a line is on the screen */
        gint64 last_line_usec;          /* not a terminal: when the last line was printed */

        char *phase;
        double percent;                 /* never runs backwards */
        guint64 bps;                    /* 0: unknown */
        gboolean has_remaining, has_eta;
        guint64 remaining_bytes, eta_ms;
};

CtlProgress *ctl_progress_new(FILE *f, gboolean terminal) {
        CtlProgress *p = g_new0(CtlProgress, 1);

        p->f = f;
        p->terminal = terminal;
        return p;
}

void ctl_progress_free(CtlProgress *p) {
        if (!p)
                return;
        ctl_progress_clear(p);
        g_free(p->phase);
        g_free(p);
}

/* Not g_format_size(): it puts a no-break space before the unit, which logs and scripts do not expect. */
char *ctl_format_bytes(guint64 bytes) {
        static const char *const units[] = { "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
        double value = bytes / 1024.0;
        size_t i = 0;

        if (bytes < 1024)
                return g_strdup_printf("%" G_GUINT64_FORMAT " B", bytes);
        while (value >= 1024.0 && i + 1 < G_N_ELEMENTS(units)) {
                value /= 1024.0;
                i++;
        }
        return g_strdup_printf("%.1f %s", value, units[i]);
}

char *ctl_format_ms(guint64 ms) {
        if (ms < 1000)
                return g_strdup_printf("%" G_GUINT64_FORMAT " ms", ms);
        return g_strdup_printf("%.1f s", ms / 1000.0);
}

char *ctl_format_eta(guint64 ms) {
        guint64 s = (ms + 999) / 1000;

        if (s < 60)
                return g_strdup_printf("%" G_GUINT64_FORMAT "s", s);
        if (s < 3600)
                return g_strdup_printf("%" G_GUINT64_FORMAT "min %" G_GUINT64_FORMAT "s", s / 60, s % 60);
        return g_strdup_printf("%" G_GUINT64_FORMAT "h %" G_GUINT64_FORMAT "min", s / 3600, s % 3600 / 60);
}

/* "perform3 42% 120.3 MiB/s remaining 80.1 MiB ETA 2s"; unknown values left out. */
static char *format_status(const CtlProgress *p) {
        GString *line = g_string_new(NULL);

        g_string_append_printf(line, "%s %.0f%%", p->phase ? p->phase : "starting", p->percent);
        if (p->bps > 0) {
                g_autofree char *rate = ctl_format_bytes(p->bps);
                g_string_append_printf(line, " %s/s", rate);
        }
        if (p->has_remaining) {
                g_autofree char *remaining = ctl_format_bytes(p->remaining_bytes);
                g_string_append_printf(line, " remaining %s", remaining);
        }
        if (p->has_eta) {
                g_autofree char *eta = ctl_format_eta(p->eta_ms);
                g_string_append_printf(line, " ETA %s", eta);
        }
        return g_string_free(line, FALSE);
}

static int terminal_width(FILE *f) {
        struct winsize ws = {};

        if (ioctl(fileno(f), TIOCGWINSZ, &ws) < 0 || ws.ws_col == 0)
                return 80;
        return ws.ws_col;
}

static void draw_bar(CtlProgress *p, const char *status) {
        int filled = (int) (p->percent * BAR_WIDTH / 100.0);
        g_autofree char *line = NULL;
        int width = terminal_width(p->f);

        filled = CLAMP(filled, 0, BAR_WIDTH);
        line = g_strdup_printf("[%.*s%*s] %s", filled, "####################",
                               BAR_WIDTH - filled, "", status);
        /* A line that wraps could not be redrawn in place. */
        if ((int) strlen(line) >= width)
                line[MAX(width - 1, 0)] = '\0';
        fprintf(p->f, "\r%s" ANSI_ERASE_TO_END_OF_LINE, line);
        fflush(p->f);
        p->drawn = TRUE;
}

static void show(CtlProgress *p) {
        g_autofree char *status = format_status(p);
        gint64 now;

        if (p->terminal) {
                draw_bar(p, status);
                return;
        }
        now = g_get_monotonic_time();
        if (p->last_line_usec != 0 && now - p->last_line_usec < LOG_INTERVAL_USEC)
                return;
        p->last_line_usec = now;
        fprintf(p->f, "%s\n", status);
        fflush(p->f);
}

/* The job's own phases only: "none" is the job ending (or not begun). */
static gboolean take_phase(CtlProgress *p, const char *phase) {
        if (!phase || g_str_equal(phase, "none") || g_strcmp0(phase, p->phase) == 0)
                return FALSE;
        g_free(p->phase);
        p->phase = g_strdup(phase);
        return TRUE;
}

static gboolean take_percent(CtlProgress *p, double percent) {
        if (!(percent > p->percent))
                return FALSE;
        p->percent = MIN(percent, 100.0);
        return TRUE;
}

void ctl_progress_set_phase(CtlProgress *p, const char *phase) {
        if (p && take_phase(p, phase))
                show(p);
}

void ctl_progress_set_percent(CtlProgress *p, double percent) {
        if (p && take_percent(p, percent))
                show(p);
}

void ctl_progress_update_stats(CtlProgress *p, GVariant *stats) {
        if (!p)
                return;
        take_phase(p, ctl_dict_get_string(stats, "phase", NULL));
        take_percent(p, ctl_dict_get_double(stats, "progress", 0.0));
        p->bps = ctl_dict_get_uint64(stats, "memory_bps", 0);
        p->has_remaining = g_variant_lookup(stats, "data_remaining", "t", &p->remaining_bytes);
        p->has_eta = g_variant_lookup(stats, "time_remaining", "t", &p->eta_ms);
        show(p);
}

void ctl_progress_clear(CtlProgress *p) {
        if (!p || !p->drawn)
                return;
        fputs("\r" ANSI_ERASE_TO_END_OF_LINE, p->f);
        fflush(p->f);
        p->drawn = FALSE;
}
