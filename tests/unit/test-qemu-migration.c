/* qemu-migration.c against query-migrate replies recorded from QEMU 7.2
 * (tests/data/qmp/migrate-*.json, made by record-query-migrate.py there);
 * its command runner is in test-command-list.c. */
#define G_LOG_DOMAIN "migrationd"

#include <math.h>
#include <string.h>

#include "md-error.h"
#include "qemu-migration.h"

#define MIB (G_GUINT64_CONSTANT(1024) * 1024)

static JsonNode *load(const char *name) {
        const char *dir = g_getenv("MD_TEST_DATA_DIR");
        g_autofree char *path = NULL;
        g_autoptr(JsonParser) parser = json_parser_new();
        g_autoptr(GError) error = NULL;

        g_assert_nonnull(dir);
        path = g_strdup_printf("%s/qmp/%s.json", dir, name);
        json_parser_load_from_file(parser, path, &error);
        g_assert_no_error(error);
        return json_node_ref(json_parser_get_root(parser));
}

static JsonNode *parse(const char *text) {
        g_autoptr(GError) error = NULL;
        JsonNode *node = json_from_string(text, &error);

        g_assert_no_error(error);
        return node;
}

static void assert_json(JsonNode *node, const char *expected) {
        g_autofree char *text = json_to_string(node, FALSE);

        g_assert_cmpstr(text, ==, expected);
}

/* ---- arguments ---- */

static void test_args_capabilities(void) {
        const char *const names[] = { "events", "auto-converge" };
        const gboolean states[] = { TRUE, FALSE };
        g_autoptr(JsonNode) args = qemu_migration_capabilities_args(names, states, 2);
        g_autoptr(JsonNode) none = qemu_migration_capabilities_args(NULL, NULL, 0);

        assert_json(args, "{\"capabilities\":[{\"capability\":\"events\",\"state\":true},"
                    "{\"capability\":\"auto-converge\",\"state\":false}]}");
        assert_json(none, "{\"capabilities\":[]}");
}

static gint64 speed_bytes(guint64 mib) {
        g_autoptr(JsonNode) args = qemu_migration_speed_args(mib);
        JsonObject *object = json_node_get_object(args);

        g_assert_cmpuint(json_object_get_size(object), ==, 1);
        return json_object_get_int_member(object, "max-bandwidth");
}

static void test_args_speed(void) {
        gint64 unlimited = (gint64) (QEMU_MIGRATION_BANDWIDTH_UNLIMITED_MIB * MIB);

        g_assert_cmpint(speed_bytes(1), ==, 1048576);
        g_assert_cmpint(speed_bytes(100), ==, 100 * 1048576);
        /* 0 is libvirt's "unlimited": the most whole MiB/s an int64 holds. */
        g_assert_cmpint(unlimited, ==, G_GINT64_CONSTANT(9223372036853727232));
        g_assert_cmpint(speed_bytes(0), ==, unlimited);
        g_assert_cmpint(speed_bytes(QEMU_MIGRATION_BANDWIDTH_UNLIMITED_MIB), ==, unlimited);
        g_assert_cmpint(speed_bytes(QEMU_MIGRATION_BANDWIDTH_UNLIMITED_MIB + 1), ==, unlimited);
        g_assert_cmpint(speed_bytes(G_MAXUINT64), ==, unlimited);
}

static void test_args_downtime(void) {
        g_autoptr(JsonNode) args = qemu_migration_downtime_args(300);
        g_autoptr(JsonNode) huge = qemu_migration_downtime_args(G_MAXUINT64);

        assert_json(args, "{\"downtime-limit\":300}");
        /* Never negative on the wire; QEMU refuses it with its own range. */
        assert_json(huge, "{\"downtime-limit\":9223372036854775807}");
}

/* ---- accessors ---- */

static void test_accessors(void) {
        g_autoptr(JsonNode) failed = load("migrate-failed");
        g_autoptr(JsonNode) completed = load("migrate-completed");
        g_autoptr(JsonNode) array = parse("[\"status\", \"active\"]");
        g_autoptr(JsonNode) wrong = parse("{\"status\": 3, \"error-desc\": {}}");

        g_assert_cmpstr(qemu_migration_status(failed), ==, "failed");
        g_assert_true(g_str_has_prefix(qemu_migration_error(failed), "Failed to connect to '127.0.0.1:"));
        g_assert_true(g_str_has_suffix(qemu_migration_error(failed), "': Connection refused"));
        g_assert_cmpstr(qemu_migration_status(completed), ==, "completed");
        g_assert_null(qemu_migration_error(completed));
        g_assert_null(qemu_migration_status(NULL));
        g_assert_null(qemu_migration_error(NULL));
        g_assert_null(qemu_migration_status(array));
        g_assert_null(qemu_migration_status(wrong));
        g_assert_null(qemu_migration_error(wrong));
}

/* ---- statistics ---- */

static GVariant *stats_of(const char *name, JobProgress *progress, gint64 now_ms, gint64 elapsed_ms) {
        g_autoptr(JsonNode) reply = load(name);
        GVariant *stats = g_variant_ref_sink(qemu_migration_stats(reply, progress, now_ms, elapsed_ms));

        g_assert_true(g_variant_is_of_type(stats, G_VARIANT_TYPE_VARDICT));
        return stats;
}

static int compare_strings(gconstpointer a, gconstpointer b) {
        return strcmp(*(const char *const *) a, *(const char *const *) b);
}

/* The keys of @stats, sorted and joined with spaces. */
static char *stats_keys(GVariant *stats) {
        g_autoptr(GPtrArray) keys = g_ptr_array_new();
        GVariantIter iter;
        const char *key;

        g_variant_iter_init(&iter, stats);
        while (g_variant_iter_next(&iter, "{&sv}", &key, NULL))
                g_ptr_array_add(keys, (gpointer) key);
        g_ptr_array_sort(keys, compare_strings);
        g_ptr_array_add(keys, NULL);
        return g_strjoinv(" ", (char **) keys->pdata);
}

static GVariant *lookup(GVariant *stats, const char *key, const GVariantType *type) {
        GVariant *value = g_variant_lookup_value(stats, key, NULL);

        if (!value)
                g_error("stats lack \"%s\"", key);
        if (!g_variant_is_of_type(value, type))
                g_error("stats \"%s\" is %s, wanted %s", key, g_variant_get_type_string(value),
                        g_variant_type_peek_string(type));
        return value;
}

static guint64 get_u64(GVariant *stats, const char *key) {
        g_autoptr(GVariant) value = lookup(stats, key, G_VARIANT_TYPE_UINT64);

        return g_variant_get_uint64(value);
}

static double get_double(GVariant *stats, const char *key) {
        g_autoptr(GVariant) value = lookup(stats, key, G_VARIANT_TYPE_DOUBLE);

        return g_variant_get_double(value);
}

static void assert_string(GVariant *stats, const char *key, const char *expected) {
        g_autoptr(GVariant) value = lookup(stats, key, G_VARIANT_TYPE_STRING);

        g_assert_cmpstr(g_variant_get_string(value, NULL), ==, expected);
}

static void assert_keys(GVariant *stats, const char *expected) {
        g_autofree char *keys = stats_keys(stats);

        g_assert_cmpstr(keys, ==, expected);
}

#define MEMORY_KEYS "data_processed data_remaining data_total downtime memory_bps " \
        "memory_constant memory_dirty_rate memory_iteration memory_normal memory_normal_bytes " \
        "memory_page_size memory_postcopy_requests memory_processed memory_remaining memory_total"

static void test_stats_active(void) {
        JobProgress progress;
        g_autoptr(GVariant) stats = NULL;

        job_progress_init(&progress, 0);
        stats = stats_of("migrate-active-1", &progress, 1000, 612);
        /* No time_remaining: one sample gives no rate yet. */
        assert_keys(stats, MEMORY_KEYS " progress setup_time status time_elapsed");
        assert_string(stats, "status", "active");
        g_assert_cmpuint(get_u64(stats, "time_elapsed"), ==, 612);
        g_assert_cmpuint(get_u64(stats, "downtime"), ==, 50);   /* expected-downtime */
        g_assert_cmpuint(get_u64(stats, "setup_time"), ==, 1);
        g_assert_cmpuint(get_u64(stats, "data_total"), ==, 134750208);
        g_assert_cmpuint(get_u64(stats, "data_processed"), ==, 8392880);
        g_assert_cmpuint(get_u64(stats, "data_remaining"), ==, 124440576);
        g_assert_cmpuint(get_u64(stats, "memory_total"), ==, 134750208);
        g_assert_cmpuint(get_u64(stats, "memory_processed"), ==, 8392880);
        g_assert_cmpuint(get_u64(stats, "memory_remaining"), ==, 124440576);
        g_assert_cmpuint(get_u64(stats, "memory_bps"), ==, 16139942);  /* 129.1195 Mbit/s */
        g_assert_cmpuint(get_u64(stats, "memory_dirty_rate"), ==, 0);
        g_assert_cmpuint(get_u64(stats, "memory_iteration"), ==, 1);
        g_assert_cmpuint(get_u64(stats, "memory_page_size"), ==, 4096);
        g_assert_cmpuint(get_u64(stats, "memory_constant"), ==, 473);
        g_assert_cmpuint(get_u64(stats, "memory_normal"), ==, 2044);
        g_assert_cmpuint(get_u64(stats, "memory_normal_bytes"), ==, 8372224);
        g_assert_cmpuint(get_u64(stats, "memory_postcopy_requests"), ==, 0);
        /* First pass, the dirty rate not measured yet: 80 % of T / (T + R)
         * (model/job-progress.c). */
        g_assert_cmpfloat_with_epsilon(get_double(stats, "progress"),
                                       80.0 * 8392880 / (8392880 + 124440576), 1e-9);
}

static void test_stats_active_dirty(void) {
        JobProgress progress;
        g_autoptr(GVariant) stats = NULL;

        job_progress_init(&progress, 0);
        stats = stats_of("migrate-active-2", &progress, 1000, 4600);
        assert_string(stats, "status", "active");
        g_assert_cmpuint(get_u64(stats, "downtime"), ==, 1999);
        g_assert_cmpuint(get_u64(stats, "memory_dirty_rate"), ==, 4021);
        g_assert_cmpuint(get_u64(stats, "memory_iteration"), ==, 3);
        g_assert_cmpuint(get_u64(stats, "memory_constant"), ==, 24588);
        g_assert_cmpuint(get_u64(stats, "memory_remaining"), ==, 26853376);
        g_assert_cmpuint(get_u64(stats, "memory_bps"), ==, 16785540);
        /* The guest dirties, and no transfer rate is known yet: no honest
         * estimate, so progress stays where it was and no time_remaining. */
        g_assert_cmpfloat(get_double(stats, "progress"), ==, 0);
        g_assert_false(g_variant_lookup(stats, "time_remaining", "t", NULL));
}

static void test_stats_completed(void) {
        JobProgress progress;
        g_autoptr(GVariant) stats = NULL;

        job_progress_init(&progress, 0);
        stats = stats_of("migrate-completed", &progress, 1000, 7100);
        assert_keys(stats, MEMORY_KEYS " progress setup_time status time_elapsed time_remaining");
        assert_string(stats, "status", "completed");
        g_assert_cmpuint(get_u64(stats, "time_elapsed"), ==, 7100);
        g_assert_cmpuint(get_u64(stats, "downtime"), ==, 48);   /* the real one now */
        g_assert_cmpuint(get_u64(stats, "memory_processed"), ==, 167952391);
        g_assert_cmpuint(get_u64(stats, "memory_remaining"), ==, 0);
        g_assert_cmpuint(get_u64(stats, "memory_iteration"), ==, 6);
        g_assert_cmpuint(get_u64(stats, "memory_bps"), ==, 25133188);
        g_assert_cmpuint(get_u64(stats, "time_remaining"), ==, 0);
        /* 100 only when the job has succeeded: the phases after the
         * stream may still fail (job_progress_end()). */
        g_assert_cmpfloat(get_double(stats, "progress"), ==, 99);
}

static void test_stats_throttled(void) {
        JobProgress progress;
        g_autoptr(GVariant) stats = NULL;
        g_autoptr(GVariant) throttle = NULL;

        job_progress_init(&progress, 0);
        stats = stats_of("migrate-throttled", &progress, 1000, -1);
        assert_keys(stats, "auto_converge_throttle compression_bytes compression_cache "
                    "compression_cache_misses compression_overflow compression_pages " MEMORY_KEYS
                    " progress setup_time status time_elapsed");
        throttle = lookup(stats, "auto_converge_throttle", G_VARIANT_TYPE_INT32);
        g_assert_cmpint(g_variant_get_int32(throttle), ==, 20);
        /* No job clock given: QEMU's own total-time. */
        g_assert_cmpuint(get_u64(stats, "time_elapsed"), ==, 8523);
        g_assert_cmpuint(get_u64(stats, "compression_cache"), ==, 67108864);
        g_assert_cmpuint(get_u64(stats, "compression_bytes"), ==, 471106);
        g_assert_cmpuint(get_u64(stats, "compression_pages"), ==, 30037);
        g_assert_cmpuint(get_u64(stats, "compression_cache_misses"), ==, 8194);
        g_assert_cmpuint(get_u64(stats, "compression_overflow"), ==, 0);
        g_assert_cmpuint(get_u64(stats, "memory_dirty_rate"), ==, 1968);
}

static void test_stats_setup_failed_cancelled(void) {
        JobProgress progress;
        g_autoptr(GVariant) setup = NULL;
        g_autoptr(GVariant) failed = NULL;
        g_autoptr(GVariant) cancelled = NULL;

        job_progress_init(&progress, 0);
        setup = stats_of("migrate-setup", &progress, 1000, 3);
        assert_keys(setup, "progress status time_elapsed");
        assert_string(setup, "status", "setup");
        g_assert_cmpfloat(get_double(setup, "progress"), ==, 0);

        /* A job that got somewhere and then failed keeps its progress and
         * never reads 100 or gets a time_remaining. */
        progress.percent = 42;
        failed = stats_of("migrate-failed", &progress, 2000, 10);
        assert_keys(failed, "progress status time_elapsed");
        assert_string(failed, "status", "failed");
        g_assert_cmpfloat(get_double(failed, "progress"), ==, 42);

        cancelled = stats_of("migrate-cancelled", &progress, 3000, -1);
        assert_keys(cancelled, "progress status");
        assert_string(cancelled, "status", "cancelled");
        g_assert_cmpfloat(get_double(cancelled, "progress"), ==, 42);
}

static void test_stats_no_progress(void) {
        g_autoptr(JsonNode) reply = load("migrate-active-1");
        g_autoptr(GVariant) stats = g_variant_ref_sink(qemu_migration_stats(reply, NULL, 0, 5));

        assert_keys(stats, MEMORY_KEYS " setup_time status time_elapsed");
}

static void test_stats_garbage(void) {
        static const char *const garbage[] = {
                "null",
                "[]",
                "[{\"status\": \"active\"}]",
                "\"completed\"",
                "17",
                "{}",
                ("{\"status\": 5, \"ram\": \"lots\", \"total-time\": -1, \"downtime\": 1.5,"
                " \"setup-time\": \"1\", \"cpu-throttle-percentage\": 10000000000,"
                " \"xbzrle-cache\": [1, 2]}"),
                ("{\"ram\": {\"transferred\": \"1\", \"remaining\": -5, \"total\": 1e300,"
                " \"mbps\": \"fast\", \"page-size\": null, \"dirty-pages-rate\": true,"
                " \"normal\": {}, \"duplicate\": []}}"),
                "{\"ram\": {\"mbps\": 1e300}}",
                "{\"ram\": {\"mbps\": -3.5}}",
                ("{\"status\": \"active\", \"ram\": {\"transferred\": 1, \"remaining\": 1,"
                " \"dirty-pages-rate\": -7}, \"cpu-throttle-percentage\": -1}"),
        };
        JobProgress progress;

        job_progress_init(&progress, 0);
        for (guint i = 0; i < G_N_ELEMENTS(garbage); i++) {
                g_autoptr(JsonNode) reply = parse(garbage[i]);
                g_autoptr(GVariant) stats = g_variant_ref_sink(qemu_migration_stats(reply, &progress,
                                                                                     1000 * i, 7));
                g_autofree char *keys = stats_keys(stats);

                g_test_message("garbage %u: %s -> %s", i, garbage[i], keys);
                g_assert_true(g_variant_is_of_type(stats, G_VARIANT_TYPE_VARDICT));
                /* Only what is known: the job's clock, the tracker and, last
                 * case, a well-formed status and counters. */
                if (i < G_N_ELEMENTS(garbage) - 1)
                        g_assert_cmpstr(keys, ==, "progress time_elapsed");
                else
                        g_assert_cmpstr(keys, ==, "data_processed data_remaining memory_processed "
                                        "memory_remaining progress status time_elapsed");
        }
        /* And no node at all. */
        g_autoptr(GVariant) stats = g_variant_ref_sink(qemu_migration_stats(NULL, &progress, 0, -1));
        assert_keys(stats, "progress");
}

/* ---- progress ---- */

static void test_progress_sequence(void) {
        g_autoptr(JsonNode) root = load("migrate-sequence");
        JsonArray *sequence = json_node_get_array(root);
        guint n = json_array_get_length(sequence);
        JobProgress progress;
        double last = 0;
        guint64 last_remaining = 0;
        gboolean remaining_went_up = FALSE, completed = FALSE;

        job_progress_init(&progress, 0);
        g_assert_cmpuint(n, >=, 5);
        for (guint i = 0; i < n; i++) {
                JsonObject *entry = json_array_get_object_element(sequence, i);
                gint64 now = json_object_get_int_member(entry, "time_ms");
                JsonNode *reply = json_object_get_member(entry, "reply");
                const char *status = qemu_migration_status(reply);
                g_autoptr(GVariant) stats = g_variant_ref_sink(qemu_migration_stats(reply, &progress,
                                                                                     now, now));
                double p = get_double(stats, "progress");
                guint64 remaining, iteration, time_remaining;
                g_autofree char *estimate = NULL;

                if (g_variant_lookup(stats, "time_remaining", "t", &time_remaining))
                        estimate = g_strdup_printf("%" G_GUINT64_FORMAT " ms", time_remaining);
                g_test_message("t=%" G_GINT64_FORMAT " %s progress %.2f rate %.0f time_remaining %s", now,
                               status, p, progress.rate_bps, estimate ?: "-");
                g_assert_cmpfloat(p, >=, last);
                last = p;
                if (g_str_equal(status, "completed")) {
                        g_assert_cmpfloat(p, ==, 99);
                        g_assert_cmpuint(get_u64(stats, "time_remaining"), ==, 0);
                        completed = TRUE;
                        continue;
                }
                g_assert_cmpfloat(p, <, 99);
                if (!g_variant_lookup(stats, "memory_remaining", "t", &remaining))
                        continue;
                if (remaining > last_remaining && last_remaining > 0)
                        remaining_went_up = TRUE;
                last_remaining = remaining;

                iteration = get_u64(stats, "memory_iteration");
                if (iteration == 1 && i >= 2) {
                        /* First pass, steady 16 MiB/s cap: the rate converges
                         * on it, and time_remaining is R / rate, R with the
                         * quarter of the pass assumed to follow. */
                        guint64 processed = get_u64(stats, "memory_processed");

                        g_assert_cmpfloat(progress.rate_bps, >, 15.0 * MIB);
                        g_assert_cmpfloat(progress.rate_bps, <, 17.5 * MIB);
                        time_remaining = get_u64(stats, "time_remaining");
                        g_assert_cmpfloat(fabs((double) time_remaining -
                                               (remaining + (remaining + processed) / 4.0) * 1000 /
                                               progress.rate_bps), <=, 1);
                        g_assert_cmpfloat(p, <, 80);
                }
                if (iteration == 2) {
                        /* The guest re-dirties 32 MiB at nearly the capped
                         * rate. With R at its lowest in this pass, the naive
                         * T/(T+R) would claim ~96 %; the migration is not
                         * converging, so progress must not have moved past
                         * the first pass's share. */
                        g_assert_cmpfloat(p, <, 30);
                }
        }
        g_assert_true(remaining_went_up);
        g_assert_true(completed);
}

static JsonNode *active(guint64 transferred, guint64 remaining, guint64 dirty_pages) {
        g_autofree char *text = g_strdup_printf(
                "{\"status\": \"active\", \"ram\": {\"transferred\": %" G_GUINT64_FORMAT
                ", \"remaining\": %" G_GUINT64_FORMAT ", \"dirty-pages-rate\": %" G_GUINT64_FORMAT
                ", \"page-size\": 4096}}", transferred, remaining, dirty_pages);

        return parse(text);
}

/* One poll: returns time_remaining or -1, and the progress in *ret_progress. */
static gint64 poll_at(JobProgress *progress, const char *status, guint64 transferred,
                      guint64 remaining, guint64 dirty_pages, gint64 now_ms, double *ret_progress) {
        g_autoptr(JsonNode) reply = active(transferred, remaining, dirty_pages);
        g_autoptr(GVariant) stats = NULL;
        guint64 time_remaining;

        json_object_set_string_member(json_node_get_object(reply), "status", status);
        stats = g_variant_ref_sink(qemu_migration_stats(reply, progress, now_ms, now_ms));
        *ret_progress = get_double(stats, "progress");
        return g_variant_lookup(stats, "time_remaining", "t", &time_remaining) ? (gint64) time_remaining : -1;
}

static void test_progress_rate_guards(void) {
        JobProgress progress;
        double p;

        job_progress_init(&progress, 0);
        /* First sample: progress, but no rate and so no time_remaining. */
        g_assert_cmpint(poll_at(&progress, "active", 10 * MIB, 90 * MIB, 0, 5000, &p), ==, -1);
        g_assert_cmpfloat_with_epsilon(p, 10, 1e-9);
        /* Same instant, and too close: still no rate, no division by zero. */
        g_assert_cmpint(poll_at(&progress, "active", 11 * MIB, 89 * MIB, 0, 5000, &p), ==, -1);
        g_assert_cmpint(poll_at(&progress, "active", 11 * MIB, 89 * MIB, 0, 5050, &p), ==, -1);
        g_assert_cmpfloat(progress.rate_bps, ==, 0);
        /* One second after the baseline: 10 MiB/s, 80 MiB left = 8 s. */
        g_assert_cmpint(poll_at(&progress, "active", 20 * MIB, 80 * MIB, 0, 6000, &p), ==, 8000);
        g_assert_cmpfloat_with_epsilon(progress.rate_bps, 10.0 * MIB, 1);
        g_assert_cmpfloat_with_epsilon(p, 20, 1e-9);
        /* Clock backwards: a new baseline; the rate stays, nothing negative. */
        g_assert_cmpint(poll_at(&progress, "active", 30 * MIB, 70 * MIB, 0, 1000, &p), ==, 7000);
        g_assert_cmpint(progress.last_time_ms, ==, 1000);
        g_assert_cmpfloat_with_epsilon(progress.rate_bps, 10.0 * MIB, 1);
        /* Counters restarted (transferred went down): a new baseline too. */
        g_assert_cmpint(poll_at(&progress, "active", 1 * MIB, 70 * MIB, 0, 2000, &p), ==, 7000);
        g_assert_cmpuint(progress.last_processed, ==, 1 * MIB);
        g_assert_cmpfloat(p, ==, 30);   /* the estimate fell; JobProgress did not */
        /* Smoothing: 30 MiB/s for 2 s pulls the 10 MiB/s halfway (2000/(2000+2000)). */
        g_assert_cmpint(poll_at(&progress, "active", 61 * MIB, 40 * MIB, 0, 4000, &p), ==, 2000);
        g_assert_cmpfloat_with_epsilon(progress.rate_bps, 20.0 * MIB, 1);
        /* Dirtying at half the rate doubles what is left: 40 * 20 / (20 - 10). */
        g_assert_cmpint(poll_at(&progress, "active", 61 * MIB, 40 * MIB, 10 * MIB / 4096, 4000, &p),
                        ==, 4000);
        /* Dirtying as fast as we send: no convergence, no estimate, no move. */
        g_assert_cmpint(poll_at(&progress, "active", 61 * MIB, 1 * MIB, 20 * MIB / 4096, 4000, &p), ==, -1);
        g_assert_cmpfloat(p, <, 61);
        /* Postcopy: the destination runs the guest, the source's dirty rate is moot. */
        g_assert_cmpint(poll_at(&progress, "postcopy-active", 61 * MIB, 20 * MIB, 20 * MIB / 4096, 4000, &p),
                        ==, 1000);
        /* All sent but not switched over yet: below 100. */
        poll_at(&progress, "device", 101 * MIB, 0, 0, 4000, &p);
        g_assert_cmpfloat(p, ==, 99);
        /* A transfer slowed to a trickle: an estimate too large for the
         * clock is no estimate. */
        job_progress_init(&progress, 0);
        poll_at(&progress, "active", 0, G_MAXINT64, 0, 0, &p);
        g_assert_cmpint(poll_at(&progress, "active", 1, G_MAXINT64, 0, G_MAXINT64 / 2, &p), ==, -1);
        g_assert_cmpfloat(progress.rate_bps, >, 0);
        g_assert_cmpfloat(p, >=, 0);
}

static gint64 poll_text(JobProgress *progress, const char *text, gint64 now_ms, double *ret_progress) {
        g_autoptr(JsonNode) reply = parse(text);
        g_autoptr(GVariant) stats = g_variant_ref_sink(qemu_migration_stats(reply, progress, now_ms, now_ms));
        guint64 time_remaining;

        *ret_progress = get_double(stats, "progress");
        return g_variant_lookup(stats, "time_remaining", "t", &time_remaining) ? (gint64) time_remaining : -1;
}

static void test_progress_passes(void) {
        JobProgress progress;
        double p;

        job_progress_init(&progress, 0);
        /* First pass at 20 MiB/s (1 MiB = 1048576, so these are exact). */
        poll_text(&progress, "{\"status\": \"active\", \"ram\": {\"dirty-sync-count\": 1,"
                  " \"transferred\": 0, \"remaining\": 104857600, \"dirty-pages-rate\": 0}}", 0, &p);
        g_assert_cmpint(poll_text(&progress, "{\"status\": \"active\", \"ram\": {\"dirty-sync-count\": 1,"
                                  " \"transferred\": 20971520, \"remaining\": 83886080}}", 1000, &p),
                        ==, 5250);
        /* 80 % of 20 / (20 + 80): the dirty rate is not known yet; 80 +
         * 100 / 4 MiB left at 20 MiB/s. */
        g_assert_cmpfloat_with_epsilon(p, 16, 1e-9);
        /* Second pass, 20 MiB sent since the previous sample, the guest
         * dirtying 10 MiB/s: outstanding = 30 + 20 * 10/20 = 40 MiB, and
         * sending 40 MiB at 20 while 10 more come in: 80 MiB, 4 s. */
        g_assert_cmpint(poll_text(&progress, "{\"status\": \"active\", \"ram\": {\"dirty-sync-count\": 2,"
                                  " \"transferred\": 41943040, \"remaining\": 31457280,"
                                  " \"dirty-pages-rate\": 2560, \"page-size\": 4096}}", 2000, &p), ==, 4000);
        g_assert_cmpuint(progress.memory.pass, ==, 2);
        g_assert_cmpuint(progress.pass_processed, ==, 20971520);
        g_assert_cmpfloat_with_epsilon(p, 100.0 / 3, 1e-9);     /* 40 / (40 + 80) */
        /* Never more outstanding than the guest has RAM (32 MiB): 64 MiB, 3.2 s. */
        g_assert_cmpint(poll_text(&progress, "{\"status\": \"active\", \"ram\": {\"dirty-sync-count\": 2,"
                                  " \"transferred\": 41943040, \"remaining\": 31457280, \"total\": 33554432,"
                                  " \"dirty-pages-rate\": 2560, \"page-size\": 4096}}", 2000, &p), ==, 3200);
        /* Later in the same pass: R falls to 10 MiB, but S is 40 MiB, so 20
         * more are dirty: R_eff = 30 * 20 / 10 = 60 MiB, 3 s. T/(T+R) alone
         * would say 86 %. */
        g_assert_cmpint(poll_text(&progress, "{\"status\": \"active\", \"ram\": {\"dirty-sync-count\": 2,"
                                  " \"transferred\": 62914560, \"remaining\": 10485760,"
                                  " \"dirty-pages-rate\": 2560, \"page-size\": 4096}}", 3000, &p), ==, 3000);
        g_assert_cmpfloat_with_epsilon(p, 50, 1e-9);
}

static void test_progress_completed_only(void) {
        JobProgress progress;
        double p;

        job_progress_init(&progress, 0);
        poll_at(&progress, "pre-switchover", 100 * MIB, 0, 0, 0, &p);
        g_assert_cmpfloat(p, ==, 99);
        g_assert_cmpint(poll_at(&progress, "completed", 100 * MIB, 0, 0, 100, &p), ==, 0);
        /* The stream is done, not the job: 100 comes with its success. */
        g_assert_cmpfloat(p, ==, 99);
        job_progress_end(&progress, TRUE);
        g_assert_cmpfloat(progress.percent, ==, 100);
        g_assert_cmpint(progress.time_remaining_ms, ==, 0);
        /* Nothing within the job brings it back down. */
        poll_at(&progress, "active", 1, 100 * MIB, 0, 200, &p);
        g_assert_cmpfloat(p, ==, 100);
        /* A new job starts over. */
        job_progress_init(&progress, 0);
        poll_at(&progress, "active", 1 * MIB, 3 * MIB, 0, 0, &p);
        g_assert_cmpfloat(p, ==, 25);
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);

        g_test_add_func("/qemu-migration/args/capabilities", test_args_capabilities);
        g_test_add_func("/qemu-migration/args/speed", test_args_speed);
        g_test_add_func("/qemu-migration/args/downtime", test_args_downtime);
        g_test_add_func("/qemu-migration/accessors", test_accessors);
        g_test_add_func("/qemu-migration/stats/active", test_stats_active);
        g_test_add_func("/qemu-migration/stats/active-dirty", test_stats_active_dirty);
        g_test_add_func("/qemu-migration/stats/completed", test_stats_completed);
        g_test_add_func("/qemu-migration/stats/throttled", test_stats_throttled);
        g_test_add_func("/qemu-migration/stats/setup-failed-cancelled", test_stats_setup_failed_cancelled);
        g_test_add_func("/qemu-migration/stats/no-progress", test_stats_no_progress);
        g_test_add_func("/qemu-migration/stats/garbage", test_stats_garbage);
        g_test_add_func("/qemu-migration/progress/sequence", test_progress_sequence);
        g_test_add_func("/qemu-migration/progress/rate-guards", test_progress_rate_guards);
        g_test_add_func("/qemu-migration/progress/passes", test_progress_passes);
        g_test_add_func("/qemu-migration/progress/completed-only", test_progress_completed_only);

        return g_test_run();
}
