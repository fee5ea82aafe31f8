#define G_LOG_DOMAIN "migrationd"

#include "job-progress.h"

/* While the job runs the figure stays below this: a UI that prints "%.0f"
 * must not show 100 before the job has succeeded. */
#define JOB_PROGRESS_RUNNING_MAX 99.0
/* Until a pass has ended nobody knows how much the guest dirties: the
 * passes after the first are assumed to send a quarter of what the first
 * does (a guest dirtying a fifth of the link's rate), so the first pass
 * ends at 80 %, not at 99 with every later pass still ahead. An idle guest
 * jumps the rest when its second pass shows there is nothing left; a
 * guest that dirties more holds at 80 until the truth catches up. */
#define JOB_PROGRESS_FIRST_PASS_SHARE 0.8
/* Rate smoothing: a sample taken dt ms after the previous one weighs
 * dt / (dt + TAU), so irregular polls count by the time they cover. */
#define JOB_PROGRESS_RATE_TAU_MS 2000.0
/* Polls closer than this carry more jitter than rate: the next one spans both. */
#define JOB_PROGRESS_RATE_MIN_INTERVAL_MS 100
#define JOB_PROGRESS_NO_SAMPLE G_MININT64
/* Beyond this many passes the series is summed whole. */
#define JOB_PROGRESS_MAX_PASSES 1000

/* Model, for the memory: QEMU's remaining R counts only what was dirty when
 * the current pass began; what got dirty since adds D/B of the S bytes this
 * pass has sent (D: dirty rate, B: send rate). Sending that takes time
 * during which more gets dirty, and so on (a geometric series):
 *
 *         O     = min(R + S * D / B, RAM size)
 *         R_eff = O + O q + O q^2 + ... + O q^n     (q = D / B)
 *
 * where the last pass, O q^n, is the first one no larger than what QEMU
 * sends while the guest is stopped for the switch-over (B times the
 * downtime allowed); without that figure, the whole series, O / (1 - q).
 * When q >= 1 and the passes stay larger than that, the migration does not
 * converge: no estimate.
 *
 * and the share done is done / (done + disks left + R_eff). Zero pages count
 * as nothing done: QEMU sends only a header for them, and "done" is bytes
 * sent, so a guest with mostly empty memory does not race ahead in its first
 * pass. */
/* The bytes of the passes from @outstanding on, each @q times the one
 * before, up to the first no larger than @switchover (0: unknown). */
static gboolean passes_ahead(double outstanding, double q, double switchover, double *ret) {
        double pass = outstanding, sum = 0;

        for (guint i = 0; switchover > 0 && i < JOB_PROGRESS_MAX_PASSES; i++) {
                sum += pass;
                if (pass <= switchover) {
                        *ret = sum;
                        return TRUE;
                }
                pass *= q;
        }
        if (q >= 1)
                return FALSE;
        *ret = outstanding / (1 - q);
        return TRUE;
}

gboolean job_progress_estimate(const JobProgressInput *in, double *ret_percent, double *ret_memory_left) {
        double done = (double) in->disk_done + (double) in->memory_done;
        double left = (double) in->memory_left, all;

        if (in->guest_dirties && !in->dirty_measured) {
                /* The first pass sends memory_done + left. */
                double pass = (double) in->memory_done + left;

                left += pass * (1.0 - JOB_PROGRESS_FIRST_PASS_SHARE) / JOB_PROGRESS_FIRST_PASS_SHARE;
        } else if (in->guest_dirties && in->dirty_bps > 0) {
                if (in->rate_bps <= 0)
                        return FALSE;
                left += in->dirty_bps / in->rate_bps * (double) in->pass_sent;
                if (in->memory_total)
                        left = MIN(left, (double) in->memory_total);
                if (!passes_ahead(left, in->dirty_bps / in->rate_bps, in->switchover_bytes, &left))
                        return FALSE;
        }
        all = done + (double) in->disk_left + left;
        if (all <= 0)
                return FALSE;
        *ret_percent = 100.0 * done / all;
        if (ret_memory_left)
                *ret_memory_left = left;
        return TRUE;
}

void job_progress_init(JobProgress *p, guint64 memory_expected) {
        *p = (JobProgress) {
                .time_remaining_ms = -1,
                .memory_expected = memory_expected,
                .last_time_ms = JOB_PROGRESS_NO_SAMPLE,
        };
}

static void sample_rate(JobProgress *p, guint64 processed, gint64 now_ms) {
        double dt, sample, weight;

        /* First sample, clock gone backwards, or counters restarted: a new
         * baseline, no rate from it. */
        if (p->last_time_ms == JOB_PROGRESS_NO_SAMPLE || now_ms < p->last_time_ms ||
            processed < p->last_processed) {
                p->last_processed = processed;
                p->last_time_ms = now_ms;
                return;
        }
        /* In double: any two gint64 apart, without overflow. */
        dt = (double) now_ms - (double) p->last_time_ms;
        if (dt < JOB_PROGRESS_RATE_MIN_INTERVAL_MS)
                return;
        sample = (double) (processed - p->last_processed) * 1000.0 / dt;
        weight = dt / (dt + JOB_PROGRESS_RATE_TAU_MS);
        p->rate_bps = p->rate_bps > 0 ? p->rate_bps + weight * (sample - p->rate_bps) : sample;
        p->last_processed = processed;
        p->last_time_ms = now_ms;
}

/* Takes a new estimate from what the job knows now; a lower one leaves the
 * figure where it is. */
static void recompute(JobProgress *p) {
        const JobProgressMemory *m = &p->memory;
        JobProgressInput in = {
                .disk_done = p->disk_processed,
                .memory_done = p->has_memory ? m->processed : 0,
                .disk_left = p->disk_total - p->disk_processed,
                .memory_left = p->has_memory ? m->remaining : p->memory_expected,
                .memory_total = p->has_memory ? m->total : p->memory_expected,
                .rate_bps = p->rate_bps,
                .switchover_bytes = p->rate_bps * (double) p->downtime_ms / 1000.0,
        };
        double percent, memory_left;

        if (p->has_memory) {
                in.pass_sent = m->processed - MIN(p->pass_processed, m->processed);
                in.dirty_bps = (double) m->dirty_bps;
                /* Without the pass count, nobody can tell the first pass. */
                in.dirty_measured = m->pass != 1 || m->dirty_bps > 0;
                in.guest_dirties = m->stream == JOB_STREAM_PRECOPY;
                if (m->stream == JOB_STREAM_COMPLETED)
                        in.memory_left = 0;
        }
        p->time_remaining_ms = -1;
        if (!job_progress_estimate(&in, &percent, &memory_left))
                return;
        p->percent = MAX(p->percent, MIN(percent, JOB_PROGRESS_RUNNING_MAX));
        if (p->has_memory && m->stream == JOB_STREAM_COMPLETED)
                p->time_remaining_ms = 0;
        else if (p->has_memory && p->rate_bps > 0 && memory_left * 1000.0 / p->rate_bps < (double) G_MAXINT64)
                p->time_remaining_ms = (gint64) (memory_left * 1000.0 / p->rate_bps);
}

void job_progress_update_memory(JobProgress *p, const JobProgressMemory *m, gint64 now_ms) {
        /* A stream that failed has nothing left to estimate; one that has
         * not begun has no figures yet. */
        if (m->stream == JOB_STREAM_ENDED || m->stream == JOB_STREAM_NONE)
                return;
        /* A new pass began between the previous sample and this one;
         * counting from the previous errs on the side of more bytes dirtied
         * since. Without the pass count, nothing is known dirtied since. */
        if (m->pass == 0)
                p->pass_processed = m->processed;
        else if (!p->has_memory || m->pass != p->memory.pass)
                p->pass_processed = p->last_time_ms != JOB_PROGRESS_NO_SAMPLE ?
                        MIN(p->last_processed, m->processed) : m->processed;
        sample_rate(p, m->processed, now_ms);
        p->memory = *m;
        p->has_memory = TRUE;
        recompute(p);
}

void job_progress_update_disks(JobProgress *p, guint64 total, guint64 processed) {
        p->disk_total = total;
        p->disk_processed = MIN(processed, total);
        recompute(p);
}

void job_progress_end(JobProgress *p, gboolean completed) {
        if (!completed)
                return;
        p->percent = 100.0;
        p->time_remaining_ms = 0;
}
