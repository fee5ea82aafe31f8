/* JobProgress (model/job-progress.c) over sequences of the counters QEMU
 * and the disks' copy report, as a job sees them: the first pass with its
 * zero pages, passes limited by what the guest dirties, post-copy, disks
 * before memory, a failure. Synthetic, so the truth is known: the figure is
 * checked against the share of all bytes the job ends up sending. */
#include "job-progress.h"

#define MIB (G_GUINT64_CONSTANT(1024) * 1024)
#define GIB (1024 * MIB)

static JobProgressMemory memory(JobStream stream, guint64 pass, guint64 processed, guint64 remaining,
                                guint64 dirty_bps) {
        return (JobProgressMemory) {
                .stream = stream,
                .total = GIB,
                .processed = processed,
                .remaining = remaining,
                .dirty_bps = dirty_bps,
                .pass = pass,
        };
}

static double feed(JobProgress *p, JobProgressMemory m, gint64 now_ms) {
        double before = p->percent;

        job_progress_update_memory(p, &m, now_ms);
        g_assert_cmpfloat(p->percent, >=, before);
        g_assert_cmpfloat(p->percent, <=, 99);
        return p->percent;
}

/* The pure estimate: what it refuses to guess. */
static void test_estimate(void) {
        JobProgressInput in = { 0 };
        double percent, left;

        /* Nothing known to send. */
        g_assert_false(job_progress_estimate(&in, &percent, NULL));
        /* The guest dirties as fast as we send: no convergence, no figure. */
        in = (JobProgressInput) { .memory_done = 10 * MIB, .memory_left = 10 * MIB, .rate_bps = 10.0 * MIB,
                                  .dirty_bps = 10.0 * MIB, .dirty_measured = TRUE, .guest_dirties = TRUE };
        g_assert_false(job_progress_estimate(&in, &percent, NULL));
        /* ... or without a send rate. */
        in.rate_bps = 0;
        g_assert_false(job_progress_estimate(&in, &percent, NULL));
        /* Half the rate: what is left doubles. */
        in.rate_bps = 20.0 * MIB;
        g_assert_true(job_progress_estimate(&in, &percent, &left));
        g_assert_cmpfloat_with_epsilon(left, 20.0 * MIB, 1);
        g_assert_cmpfloat_with_epsilon(percent, 100.0 / 3, 1e-9);
        /* Stopped (or post-copy): only what remains. */
        in.guest_dirties = FALSE;
        g_assert_true(job_progress_estimate(&in, &percent, &left));
        g_assert_cmpfloat_with_epsilon(percent, 50, 1e-9);
        /* With the downtime allowed known: the passes end at the first that
         * fits in it. q = 1/2, 10 MiB outstanding, 3 MiB sent stopped:
         * 10 + 5 + 2.5. */
        in.guest_dirties = TRUE;
        in.switchover_bytes = 3.0 * MIB;
        g_assert_true(job_progress_estimate(&in, &percent, &left));
        g_assert_cmpfloat_with_epsilon(left, 17.5 * MIB, 1);
        /* Dirtying faster than sending, but what is outstanding fits in the
         * switch-over: it ends now. */
        in.dirty_bps = 40.0 * MIB;
        in.switchover_bytes = 10.0 * MIB;
        g_assert_true(job_progress_estimate(&in, &percent, &left));
        g_assert_cmpfloat_with_epsilon(left, 10.0 * MIB, 1);
        /* ... and when it does not, no end in sight. */
        in.switchover_bytes = 9.0 * MIB;
        g_assert_false(job_progress_estimate(&in, &percent, &left));
        in.guest_dirties = FALSE;
        in.switchover_bytes = 0;
        in.dirty_bps = 10.0 * MIB;
        /* Disks count with the memory. */
        in.disk_done = 20 * MIB;
        in.disk_left = 60 * MIB;
        g_assert_true(job_progress_estimate(&in, &percent, NULL));
        g_assert_cmpfloat_with_epsilon(percent, 30, 1e-9);
}

/* 1 GiB, 100 MiB of it used, at the start; the rest zero pages, which QEMU
 * scans at a header each. Counting scanned pages as done would say 90 % as
 * soon as the zeros are behind; bytes sent say what is true. */
static void test_first_pass_zero_pages(void) {
        JobProgress p;

        job_progress_init(&p, GIB);
        /* The used 100 MiB at 100 MiB/s, half of it after 0.5 s. */
        feed(&p, memory(JOB_STREAM_PRECOPY, 1, 50 * MIB, GIB - 50 * MIB, 0), 500);
        g_assert_cmpfloat(p.percent, <, 5);
        feed(&p, memory(JOB_STREAM_PRECOPY, 1, 100 * MIB, GIB - 100 * MIB, 0), 1000);
        g_assert_cmpfloat(p.percent, <, 10);
        /* The zeros went by: 924 MiB fewer remaining, 1 MiB more sent. Now
         * the pass is nearly over, but how much the guest dirtied is unknown
         * until QEMU has measured it: at most 80 %. */
        feed(&p, memory(JOB_STREAM_PRECOPY, 1, 101 * MIB, 0, 0), 1200);
        g_assert_cmpfloat(p.percent, >, 75);
        g_assert_cmpfloat(p.percent, <=, 80);
        /* The second pass: the guest was idle; only the switch-over is left. */
        feed(&p, memory(JOB_STREAM_PRECOPY, 2, 101 * MIB, 1 * MIB, 0), 1400);
        g_assert_cmpfloat(p.percent, >, 98);
        feed(&p, memory(JOB_STREAM_COMPLETED, 3, 102 * MIB, 0, 0), 1500);
        g_assert_cmpfloat(p.percent, ==, 99);
        job_progress_end(&p, TRUE);
        g_assert_cmpfloat(p.percent, ==, 100);
}

/* A guest dirtying 40 MiB/s of 1 GiB sent at 100 MiB/s: each pass sends
 * what the previous one's time let it dirty, 0.4 of it, until one fits in
 * the 300 ms of downtime allowed (30 MiB). Polled every 250 ms, as the job
 * does. */
static void test_dirty_rate_convergence(void) {
        const double rate = 100.0 * MIB, dirty = 40.0 * MIB;
        GArray *sent_at = g_array_new(FALSE, FALSE, sizeof(double));
        GArray *shown = g_array_new(FALSE, FALSE, sizeof(double));
        double pass_bytes = (double) GIB, processed = 0, final;
        guint64 pass = 1;
        gint64 now = 0;
        JobProgress p;

        job_progress_init(&p, GIB);
        p.downtime_ms = 300;
        while (pass_bytes > rate * 0.3) {
                double pass_sent = 0;

                while (pass_sent < pass_bytes) {
                        double step = MIN(rate / 4, pass_bytes - pass_sent);
                        double percent;

                        pass_sent += step;
                        processed += step;
                        now += 250;
                        percent = feed(&p, memory(JOB_STREAM_PRECOPY, pass, (guint64) processed,
                                                  (guint64) (pass_bytes - pass_sent),
                                                  pass > 1 ? (guint64) dirty : 0), now);
                        g_array_append_val(sent_at, processed);
                        g_array_append_val(shown, percent);
                }
                pass_bytes *= dirty / rate;
                pass++;
        }
        final = processed + pass_bytes;
        /* The first pass cannot know the guest dirties 40 % of what is
         * sent: it ends at 80 (the truth: 60) and the figure holds there
         * until the truth catches up. From then on it tells the truth to
         * within a few points, and it is never at 98-99 while a tenth of
         * the bytes are still to go. */
        for (guint i = 0; i < shown->len; i++) {
                double sent = g_array_index(sent_at, double, i);
                double truth = 100.0 * sent / final;
                double percent = g_array_index(shown, double, i);

                g_test_message("sent %.0f MiB: %.1f %% (truth %.1f)", sent / MIB, percent, truth);
                g_assert_cmpfloat(percent, <=, sent <= (double) GIB ? 80 : MAX(truth + 3, 80));
                if (truth < 90)
                        g_assert_cmpfloat(percent, <, 95);
                if (truth > 80)
                        g_assert_cmpfloat(percent, >=, truth - 5);
        }
        g_assert_cmpint(p.time_remaining_ms, >=, 0);
        g_array_unref(sent_at);
        g_array_unref(shown);
}

/* The guest dirties faster than the link: the figure stands still (no
 * lies either way); post-copy then sends what remains once, and the figure
 * moves again. */
static void test_postcopy(void) {
        JobProgress p;
        double stuck;

        job_progress_init(&p, GIB);
        feed(&p, memory(JOB_STREAM_PRECOPY, 1, 512 * MIB, 512 * MIB, 0), 0);
        feed(&p, memory(JOB_STREAM_PRECOPY, 1, 1024 * MIB, 0, 0), 5000);
        stuck = p.percent;
        g_assert_cmpfloat(stuck, <=, 80);
        feed(&p, memory(JOB_STREAM_PRECOPY, 2, 1536 * MIB, 600 * MIB, 150 * MIB), 10000);
        feed(&p, memory(JOB_STREAM_PRECOPY, 3, 2048 * MIB, 700 * MIB, 160 * MIB), 15000);
        g_assert_cmpfloat(p.percent, ==, stuck);
        g_assert_cmpint(p.time_remaining_ms, ==, -1);
        /* Post-copy: 700 MiB left, whatever the guest does on the destination. */
        feed(&p, memory(JOB_STREAM_POSTCOPY, 3, 2048 * MIB, 700 * MIB, 160 * MIB), 15500);
        g_assert_cmpfloat_with_epsilon(p.percent, MAX(stuck, 100.0 * 2048 / (2048 + 700)), 1e-9);
        feed(&p, memory(JOB_STREAM_POSTCOPY, 3, 2348 * MIB, 400 * MIB, 160 * MIB), 18500);
        g_assert_cmpfloat_with_epsilon(p.percent, 100.0 * 2348 / 2748, 1e-9);
        feed(&p, memory(JOB_STREAM_POSTCOPY, 3, 2648 * MIB, 100 * MIB, 160 * MIB), 21500);
        g_assert_cmpfloat_with_epsilon(p.percent, 100.0 * 2648 / 2748, 1e-9);
        g_assert_cmpint(p.time_remaining_ms, >, 0);
        feed(&p, memory(JOB_STREAM_COMPLETED, 3, 2748 * MIB, 0, 0), 22500);
        job_progress_end(&p, TRUE);
        g_assert_cmpfloat(p.percent, ==, 100);
}

/* Storage migration: 9 GiB of disks first, then 1 GiB of memory. The
 * memory counts from the start (the guest's RAM size), so the disks do not
 * run the figure up to 99 alone. */
static void test_disks_then_memory(void) {
        JobProgress p;
        double before;

        job_progress_init(&p, GIB);
        job_progress_update_disks(&p, 9 * GIB, 0);
        g_assert_cmpfloat(p.percent, ==, 0);
        job_progress_update_disks(&p, 9 * GIB, 3 * GIB);
        g_assert_cmpfloat_with_epsilon(p.percent, 30, 1e-9);
        job_progress_update_disks(&p, 9 * GIB, 9 * GIB);
        g_assert_cmpfloat_with_epsilon(p.percent, 90, 1e-9);
        g_assert_cmpint(p.time_remaining_ms, ==, -1);
        /* The memory stream, mostly zero pages: the figure holds. */
        before = p.percent;
        feed(&p, memory(JOB_STREAM_PRECOPY, 1, 10 * MIB, 1000 * MIB, 0), 1000);
        g_assert_cmpfloat(p.percent, ==, before);
        /* The guest writes on while mirrored: the disks grow a little. */
        job_progress_update_disks(&p, 9 * GIB + 10 * MIB, 9 * GIB + 10 * MIB);
        feed(&p, memory(JOB_STREAM_PRECOPY, 1, 300 * MIB, 0, 0), 4000);
        g_assert_cmpfloat(p.percent, >, 95);
        feed(&p, memory(JOB_STREAM_PRECOPY, 2, 300 * MIB, 2 * MIB, 0), 4200);
        feed(&p, memory(JOB_STREAM_STOPPED, 2, 301 * MIB, 1 * MIB, 0), 4300);
        g_assert_cmpfloat(p.percent, ==, 99);
        job_progress_end(&p, TRUE);
        g_assert_cmpfloat(p.percent, ==, 100);
}

/* A failed or cancelled stream: the figure stays where the job got to,
 * and the job's end does not move it. */
static void test_failure(void) {
        JobProgress p;
        double reached;

        job_progress_init(&p, GIB);
        feed(&p, memory(JOB_STREAM_PRECOPY, 1, 400 * MIB, 600 * MIB, 0), 1000);
        reached = p.percent;
        g_assert_cmpfloat(reached, >, 0);
        feed(&p, memory(JOB_STREAM_ENDED, 1, 0, 0, 0), 2000);
        g_assert_cmpfloat(p.percent, ==, reached);
        job_progress_end(&p, FALSE);
        g_assert_cmpfloat(p.percent, ==, reached);
        /* A new job starts over. */
        job_progress_init(&p, GIB);
        g_assert_cmpfloat(p.percent, ==, 0);
        g_assert_cmpint(p.time_remaining_ms, ==, -1);
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/job-progress/estimate", test_estimate);
        g_test_add_func("/job-progress/first-pass-zero-pages", test_first_pass_zero_pages);
        g_test_add_func("/job-progress/dirty-rate-convergence", test_dirty_rate_convergence);
        g_test_add_func("/job-progress/postcopy", test_postcopy);
        g_test_add_func("/job-progress/disks-then-memory", test_disks_then_memory);
        g_test_add_func("/job-progress/failure", test_failure);
        return g_test_run();
}
