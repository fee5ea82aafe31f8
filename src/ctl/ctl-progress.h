/* migrationctl: the progress of a running migration, and the units it and
 * jobinfo show. On a terminal the progress is one line, redrawn in place;
 * otherwise it is a plain line at most once a second, for logs. */
#pragma once

#include <glib.h>
#include <stdio.h>

typedef struct CtlProgress CtlProgress;

/* Shows the progress on @f: redrawn in place when @terminal. */
CtlProgress *ctl_progress_new(FILE *f, gboolean terminal);
void ctl_progress_free(CtlProgress *p);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CtlProgress, ctl_progress_free)

/* The updates; each shows the new state (at most once a second when not on
 * a terminal). A NULL @p shows nothing. */
void ctl_progress_set_phase(CtlProgress *p, const char *phase);
void ctl_progress_set_percent(CtlProgress *p, double percent);
/* From job statistics (a{sv}): phase, progress, memory_bps, data_remaining,
 * time_remaining. */
void ctl_progress_update_stats(CtlProgress *p, GVariant *stats);

/* Erases the line on a terminal, so that other output starts on a clean
 * line; the next update draws it again. */
void ctl_progress_clear(CtlProgress *p);

/* Units for humans: "80.1 MiB", "850 ms" or "12.3 s", "2s" or "1min 5s". */
char *ctl_format_bytes(guint64 bytes);
char *ctl_format_ms(guint64 ms);
char *ctl_format_eta(guint64 ms);
