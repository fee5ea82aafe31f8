/* JobProgress: how far a migration job has got, 0..100, the one figure every
 * client shows (the bus property, the "progress" key of the job statistics,
 * migrationctl's bar). Pure: the caller feeds QEMU's memory counters and the
 * disks' copy counters as plain numbers, with its own clock.
 *
 * The figure is the share of all the bytes the job will send that it has
 * sent: done / (done + what remains), where what remains counts the disks
 * still to copy, the memory still to send and what the guest will dirty
 * meanwhile (see job_progress_estimate()). While the job runs it never goes
 * down and stays below 100; it is 100 only when the job has succeeded, and
 * stays where it is when the job fails. */
#pragma once

#include <glib.h>

/* The memory stream, as far as the estimate cares. */
typedef enum {
        JOB_STREAM_NONE,        /* not begun yet (QEMU's "setup"), or unknown */
        JOB_STREAM_PRECOPY,     /* the guest runs here and dirties what was sent */
        JOB_STREAM_STOPPED,     /* the guest is stopped: only what remains is left */
        JOB_STREAM_POSTCOPY,    /* the guest runs on the destination: likewise */
        JOB_STREAM_COMPLETED,   /* all memory sent; the job's later phases may still fail */
        JOB_STREAM_ENDED,       /* failed or cancelled */
} JobStream;

/* One sample of the memory stream (QEMU's query-migrate "ram"). */
typedef struct {
        JobStream stream;
        guint64 total;          /* guest RAM, bytes */
        guint64 processed;      /* bytes sent so far (all passes) */
        guint64 remaining;      /* bytes dirty when the current pass began, not yet sent */
        guint64 dirty_bps;      /* what the guest dirties, bytes/s, as measured over the last
                                 * pass; 0 in the first pass (nothing measured yet) */
        guint64 pass;           /* the pass (QEMU's dirty-sync-count); 0: unknown */
} JobProgressMemory;

/* What one estimate needs, without history. */
typedef struct {
        guint64 disk_done;      /* disk bytes copied */
        guint64 disk_left;      /* disk bytes still to copy */
        guint64 memory_done;    /* memory bytes sent (all passes) */
        guint64 memory_left;    /* QEMU's remaining, or the RAM size before the stream */
        guint64 memory_total;   /* 0: unknown */
        guint64 pass_sent;      /* memory bytes the current pass has sent */
        double rate_bps;        /* memory bytes/s actually sent (smoothed); 0: unknown */
        double dirty_bps;       /* see JobProgressMemory */
        gboolean dirty_measured; /* a pass has ended: dirty_bps is a measure, not a blank */
        gboolean guest_dirties; /* pre-copy: the guest runs here */
        double switchover_bytes; /* a pass this small is sent with the guest stopped
                                  * (rate * downtime allowed); 0: unknown */
} JobProgressInput;

/* The share done, 0..100 (not capped), and the memory bytes the job will
 * still send (*ret_memory_left, nullable). FALSE when nothing honest can be
 * said: nothing to send known yet, or the guest dirties memory as fast as
 * it is sent (or faster), so the migration does not converge at this
 * rate. */
gboolean job_progress_estimate(const JobProgressInput *in, double *ret_percent, double *ret_memory_left);

/* A job's figure over its samples. */
typedef struct {
        double percent;         /* JobProgress */
        gint64 time_remaining_ms; /* of the memory stream; -1: unknown */
        guint64 memory_expected; /* the guest's RAM size, until QEMU reports its own */
        guint64 downtime_ms;    /* the downtime allowed (QEMU's downtime-limit); 0: unknown */
        gboolean has_memory;
        JobProgressMemory memory; /* the last sample */
        guint64 disk_total, disk_processed;
        /* The send rate: smoothed over samples, per time they cover. */
        double rate_bps;
        guint64 last_processed;
        gint64 last_time_ms;
        guint64 pass_processed; /* processed when the current pass began (about) */
} JobProgress;

/* At the start of every job; @memory_expected: the guest's RAM in bytes
 * (0: unknown), counted as still to send until the memory stream reports. */
void job_progress_init(JobProgress *p, guint64 memory_expected);
/* A sample of the memory stream at @now_ms (monotonic). */
void job_progress_update_memory(JobProgress *p, const JobProgressMemory *m, gint64 now_ms);
/* The disks' copy: bytes in all, bytes copied. */
void job_progress_update_disks(JobProgress *p, guint64 total, guint64 processed);
/* The job has ended: 100 if it @completed, else the figure stays. */
void job_progress_end(JobProgress *p, gboolean completed);
