/* Unit tests of the state store: the status records it writes (golden files
 * in tests/data/state/), that a record and a definition read back as they
 * were written, and that disk failures are MD_ERROR_INTERNAL naming the path. */
#include <errno.h>
#include <string.h>
#include <glib/gstdio.h>

#include "md-error.h"
#include "migration-job.h"
#include "state-store.h"

#define UUID "c7a5fdbd-cdaf-9455-926a-d65c16db1809"
#define DEFINITION "<domain type='qemu'><name>vm1</name><uuid>" UUID "</uuid><memory unit='MiB'>64</memory>" \
                   "<os><type arch='x86_64' machine='pc'>hvm</type></os></domain>"

static char *read_golden(const char *name) {
        const char *dir = g_getenv("MD_TEST_DATA_DIR");
        g_autofree char *path = NULL;
        g_autoptr(GError) error = NULL;
        char *contents = NULL;

        g_assert_nonnull(dir);
        path = g_build_filename(dir, "state", name, NULL);
        g_assert_true(g_file_get_contents(path, &contents, NULL, &error));
        g_assert_no_error(error);
        /* The files end with a newline for editors; the store writes none. */
        g_strchomp(contents);
        return contents;
}

static DomainDef *definition(void) {
        g_autoptr(GError) error = NULL;
        DomainDef *def = domain_def_parse(DEFINITION, -1, &error);

        g_assert_no_error(error);
        return def;
}

/* A temporary state directory, removed again by remove_tree(). */
static char *make_state_dir(void) {
        g_autoptr(GError) error = NULL;
        char *dir = g_dir_make_tmp("test-state-store-XXXXXX", &error);

        g_assert_no_error(error);
        return dir;
}

static void remove_tree(const char *path) {
        g_autoptr(GDir) dir = g_dir_open(path, 0, NULL);
        const char *entry;

        while (dir && (entry = g_dir_read_name(dir))) {
                g_autofree char *child = g_build_filename(path, entry, NULL);
                if (g_file_test(child, G_FILE_TEST_IS_DIR))
                        remove_tree(child);
                else
                        g_assert_cmpint(g_unlink(child), ==, 0);
        }
        g_assert_cmpint(g_rmdir(path), ==, 0);
}

static void write_journal(JsonBuilder *builder, gconstpointer data) {
        migration_journal_write(builder, data);
}

static void test_golden_running(void) {
        g_autoptr(DomainDef) def = definition();
        StatusRecord record = { .pid = 4242, .state = "running", .reason = "booted", .live = def };
        g_autofree char *text = state_store_format_status(&record);
        g_autofree char *golden = read_golden("status-running.json");

        g_assert_cmpstr(text, ==, golden);
}

static void test_golden_job(void) {
        g_autoptr(DomainDef) def = definition();
        MigrationParams params = { .flags = 0x9, .destination_name = (char *) "vm1" };
        MigrationJob job = { .type = JOB_TYPE_MIGRATION_OUT, .phase = JOB_PHASE_PERFORM3, .params = &params,
                             .owner = (char *) ":1.42", .protocol = 3, .paused_before = TRUE,
                             .progress = { .percent = 12.5 } };
        StatusRecord record = { .pid = 4242, .state = "paused", .reason = "migration", .live = def,
                                .write_journal = write_journal, .journal_data = &job };
        g_autofree char *text = state_store_format_status(&record);
        g_autofree char *golden = read_golden("status-job.json");

        g_assert_cmpstr(text, ==, golden);
}

static void test_status_round_trip(void) {
        g_autofree char *state = make_state_dir();
        g_autoptr(GError) error = NULL;
        g_autoptr(StateStore) store = state_store_new(state, &error);
        g_autoptr(DomainDef) def = definition();
        StatusRecord record = { .pid = 4242, .state = "running", .reason = "booted", .live = def };
        g_autoptr(GPtrArray) files = NULL;
        g_autofree char *tmp = g_build_filename(state, "status", UUID ".json.new", NULL);
        StatusFile *file;

        g_assert_no_error(error);
        g_assert_true(state_store_save_status(store, UUID, &record, &error));
        g_assert_no_error(error);
        g_assert_false(g_file_test(tmp, G_FILE_TEST_EXISTS));
        files = state_store_load_status(store);
        g_assert_cmpuint(files->len, ==, 1);
        file = files->pdata[0];
        g_assert_cmpint(file->pid, ==, 4242);
        g_assert_cmpstr(file->state, ==, "running");
        g_assert_cmpstr(file->reason, ==, "booted");
        g_assert_cmpstr(file->live->uuid, ==, UUID);
        state_store_remove_status(store, UUID);
        g_clear_pointer(&files, g_ptr_array_unref);
        files = state_store_load_status(store);
        g_assert_cmpuint(files->len, ==, 0);
        remove_tree(state);
}

/* The early record written when QEMU's pid is known, before its monitor is
 * up; the full record that replaces it says nothing of starting. */
static void test_status_starting(void) {
        g_autofree char *state = make_state_dir();
        g_autoptr(GError) error = NULL;
        g_autoptr(StateStore) store = state_store_new(state, &error);
        g_autoptr(DomainDef) def = definition();
        StatusRecord record = { .pid = 4242, .state = "shutoff", .reason = "unknown", .live = def,
                                .starting = TRUE };
        g_autoptr(GPtrArray) files = NULL;
        g_autofree char *text = NULL;

        g_assert_true(state_store_save_status(store, UUID, &record, &error));
        g_assert_no_error(error);
        files = state_store_load_status(store);
        g_assert_cmpuint(files->len, ==, 1);
        g_assert_true(((StatusFile *) files->pdata[0])->starting);
        g_clear_pointer(&files, g_ptr_array_unref);
        record.starting = FALSE;
        record.state = "paused";
        text = state_store_format_status(&record);
        g_assert_null(strstr(text, "starting"));
        g_assert_true(state_store_save_status(store, UUID, &record, &error));
        g_assert_no_error(error);
        files = state_store_load_status(store);
        g_assert_cmpuint(files->len, ==, 1);
        g_assert_false(((StatusFile *) files->pdata[0])->starting);
        remove_tree(state);
}

/* A Prepare's early record before its QEMU is spawned: starting, no
 * "pid" key; read back with pid 0. */
static void test_status_unspawned(void) {
        g_autofree char *state = make_state_dir();
        g_autoptr(GError) error = NULL;
        g_autoptr(StateStore) store = state_store_new(state, &error);
        g_autoptr(DomainDef) def = definition();
        StatusRecord record = { .state = "shutoff", .reason = "unknown", .live = def, .starting = TRUE };
        g_autofree char *text = state_store_format_status(&record);
        g_autoptr(GPtrArray) files = NULL;
        StatusFile *file;

        g_assert_null(strstr(text, "\"pid\""));
        g_assert_true(state_store_save_status(store, UUID, &record, &error));
        g_assert_no_error(error);
        files = state_store_load_status(store);
        g_assert_cmpuint(files->len, ==, 1);
        file = files->pdata[0];
        g_assert_cmpint(file->pid, ==, 0);
        g_assert_true(file->starting);
        remove_tree(state);
}

/* Only a starting record may lack its pid; a pid that is there is a real
 * one (1 .. 2^31 - 1, an integer). Anything else is damaged, never pid 0. */
static void test_status_pid_hostile(void) {
        static const char *const damaged[] = {
                "\"starting\": true, \"pid\": 0", "\"starting\": true, \"pid\": -7",
                "\"starting\": true, \"pid\": \"4242\"", "\"starting\": true, \"pid\": null",
                "\"starting\": true, \"pid\": [4242]", "\"starting\": true, \"pid\": 4294967297",
                "\"starting\": \"true\"", "\"starting\": false", "\"starting\": null", "\"state\": \"running\"",
        };
        g_autofree char *state = make_state_dir();
        g_autofree char *path = g_build_filename(state, "status.json", NULL);
        g_autoptr(DomainDef) def = definition();
        g_autoptr(JsonNode) xml = json_node_init_string(json_node_alloc(), def->xml);
        g_autofree char *quoted = json_to_string(xml, FALSE);

        for (size_t i = 0; i < G_N_ELEMENTS(damaged) + 1; i++) {
                g_autofree char *text = g_strdup_printf("{%s, \"xml\": %s}",
                                                        i < G_N_ELEMENTS(damaged) ? damaged[i] : "\"starting\": true",
                                                        quoted);
                g_autoptr(GError) error = NULL;
                g_autoptr(StatusFile) file = NULL;

                g_assert_true(g_file_set_contents(path, text, -1, NULL));
                file = state_store_read_status_file(path, &error);
                if (i == G_N_ELEMENTS(damaged)) {       /* the good one */
                        g_assert_no_error(error);
                        g_assert_cmpint(file->pid, ==, 0);
                        continue;
                }
                g_assert_null(file);
                g_assert_error(error, MD_ERROR, MD_ERROR_INTERNAL);
                g_assert_nonnull(strstr(error->message, "bad pid"));
        }
        g_assert_cmpint(g_unlink(path), ==, 0);
        remove_tree(state);
}

static void test_definition_round_trip(void) {
        g_autofree char *state = make_state_dir();
        g_autoptr(GError) error = NULL;
        g_autoptr(StateStore) store = state_store_new(state, &error);
        g_autoptr(DomainDef) def = definition();
        g_autoptr(GPtrArray) defs = NULL;
        g_autofree char *path = g_build_filename(state, "domains", "vm1.xml", NULL);
        g_autofree char *written = NULL, *expected = domain_def_format(def);
        GStatBuf st;

        g_assert_true(state_store_save_definition(store, def, &error));
        g_assert_no_error(error);
        g_assert_true(g_file_get_contents(path, &written, NULL, NULL));
        g_assert_cmpstr(written, ==, expected);
        g_assert_cmpint(g_stat(path, &st), ==, 0);
        g_assert_cmpint(st.st_mode & 0777, ==, 0600);
        defs = state_store_load_definitions(store);
        g_assert_cmpuint(defs->len, ==, 1);
        g_assert_cmpstr(((DomainDef *) defs->pdata[0])->name, ==, "vm1");
        g_assert_true(state_store_remove_definition(store, "vm1", &error));
        /* Gone already: no error. */
        g_assert_true(state_store_remove_definition(store, "vm1", &error));
        g_assert_no_error(error);
        g_assert_false(g_file_test(path, G_FILE_TEST_EXISTS));
        remove_tree(state);
}

/* The store's warnings (structured logging: g_test_expect_message() does
 * not see them), collected while a test expects some; elsewhere a warning
 * still fails the test. */
static GPtrArray *warnings;
static gboolean collecting;

static GLogWriterOutput write_log(GLogLevelFlags level, const GLogField *fields, gsize n_fields,
                                  gpointer user_data) {
        if (!collecting || !(level & G_LOG_LEVEL_WARNING))
                return g_log_writer_default(level, fields, n_fields, user_data);
        for (gsize i = 0; i < n_fields; i++)
                if (g_str_equal(fields[i].key, "MESSAGE"))
                        g_ptr_array_add(warnings, g_strdup(fields[i].value));
        return G_LOG_WRITER_HANDLED;
}

/* Exactly @n warnings since the last call, each matching @pattern. */
static void assert_warned(guint n, const char *pattern) {
        g_assert_cmpuint(warnings->len, ==, n);
        for (guint i = 0; i < n; i++)
                if (!g_pattern_match_simple(pattern, warnings->pdata[i]))
                        g_error("warning \"%s\" does not match \"%s\"", (char *) warnings->pdata[i], pattern);
        g_ptr_array_set_size(warnings, 0);
}

/* A definition or status record edited on disk into something the daemon
 * would refuse over the bus is refused at load too, with a warning, and the
 * others load: what the store reads goes through all of domain_def_parse()'s
 * checks, not only the text the daemon wrote. */
static void test_hostile_files_refused(void) {
        static const char *const hostile[][2] = {
                { "entity.xml", "<!DOCTYPE domain [ <!ENTITY x SYSTEM 'file:///etc/passwd'> ]>"
                                "<domain type='qemu'><name>&x;</name><os><type>hvm</type></os></domain>" },
                { "unsupported.xml", "<domain type='qemu'><name>vm2</name><os><type>hvm</type></os>"
                                     "<devices><hostdev mode='subsystem'/></devices></domain>" },
                { "broken.xml", "<domain type='qemu'><name>vm3</name>" },
        };
        g_autofree char *state = make_state_dir();
        g_autoptr(GError) error = NULL;
        g_autoptr(StateStore) store = state_store_new(state, &error);
        g_autoptr(DomainDef) def = definition();
        g_autoptr(GPtrArray) defs = NULL;
        g_autoptr(GPtrArray) files = NULL;
        g_autofree char *status = g_build_filename(state, "status", UUID ".json", NULL);
        g_autofree char *expected = domain_def_format(def);

        g_assert_no_error(error);
        g_assert_true(state_store_save_definition(store, def, &error));
        for (size_t i = 0; i < G_N_ELEMENTS(hostile); i++) {
                g_autofree char *path = g_build_filename(state, "domains", hostile[i][0], NULL);

                g_assert_true(g_file_set_contents(path, hostile[i][1], -1, NULL));
        }
        collecting = TRUE;
        defs = state_store_load_definitions(store);
        assert_warned(G_N_ELEMENTS(hostile), "Failed to load definition *, ignoring");
        g_assert_cmpuint(defs->len, ==, 1);
        g_assert_cmpstr(((DomainDef *) defs->pdata[0])->xml, ==, expected);

        g_assert_true(g_file_set_contents(status, "{\"pid\": 4242, \"state\": \"running\", \"xml\": "
                                          "\"<!DOCTYPE domain><domain type='qemu'><name>vm1</name></domain>\"}",
                                          -1, NULL));
        files = state_store_load_status(store);
        assert_warned(1, "Guest status * is damaged: *DOCTYPE*");
        collecting = FALSE;
        g_assert_cmpuint(files->len, ==, 0);
        remove_tree(state);
}

/* The state directory vanished under the daemon: the write fails with
 * MD_ERROR_INTERNAL naming the file and the cause. */
static void test_missing_dir_is_internal(void) {
        g_autofree char *state = make_state_dir();
        g_autoptr(GError) error = NULL;
        g_autoptr(StateStore) store = state_store_new(state, &error);
        g_autoptr(DomainDef) def = definition();
        StatusRecord record = { .pid = 4242, .state = "running", .reason = "booted", .live = def };
        g_autofree char *status_dir = g_build_filename(state, "status", NULL);
        g_autofree char *domains_dir = g_build_filename(state, "domains", NULL);

        g_assert_no_error(error);
        g_assert_cmpint(g_rmdir(status_dir), ==, 0);
        g_assert_cmpint(g_rmdir(domains_dir), ==, 0);
        g_assert_false(state_store_save_status(store, UUID, &record, &error));
        g_assert_error(error, MD_ERROR, MD_ERROR_INTERNAL);
        g_assert_nonnull(strstr(error->message, status_dir));
        g_assert_nonnull(strstr(error->message, g_strerror(ENOENT)));
        g_clear_error(&error);
        g_assert_false(state_store_save_definition(store, def, &error));
        g_assert_error(error, MD_ERROR, MD_ERROR_INTERNAL);
        g_assert_nonnull(strstr(error->message, domains_dir));
        remove_tree(state);
}

/* A file where the state directory should be: mkdir fails, MD_ERROR_INTERNAL. */
static void test_unusable_state_dir_is_internal(void) {
        g_autofree char *state = make_state_dir();
        g_autofree char *file = g_build_filename(state, "not-a-dir", NULL);
        g_autoptr(GError) error = NULL;
        g_autoptr(StateStore) store = NULL;

        g_assert_true(g_file_set_contents(file, "", 0, NULL));
        store = state_store_new(file, &error);
        g_assert_null(store);
        g_assert_error(error, MD_ERROR, MD_ERROR_INTERNAL);
        g_assert_nonnull(strstr(error->message, file));
        g_assert_nonnull(strstr(error->message, g_strerror(ENOTDIR)));
        g_assert_cmpstr(md_error_to_bus_name(error->code), ==, "org.example.Migration1.Error.Internal");
        remove_tree(state);
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        warnings = g_ptr_array_new_with_free_func(g_free);
        g_log_set_writer_func(write_log, NULL, NULL);
        g_test_add_func("/state-store/golden/running", test_golden_running);
        g_test_add_func("/state-store/golden/job", test_golden_job);
        g_test_add_func("/state-store/status/round-trip", test_status_round_trip);
        g_test_add_func("/state-store/status/starting", test_status_starting);
        g_test_add_func("/state-store/status/unspawned", test_status_unspawned);
        g_test_add_func("/state-store/status/pid-hostile", test_status_pid_hostile);
        g_test_add_func("/state-store/definition/round-trip", test_definition_round_trip);
        g_test_add_func("/state-store/definition/hostile-refused", test_hostile_files_refused);
        g_test_add_func("/state-store/error/missing-dir", test_missing_dir_is_internal);
        g_test_add_func("/state-store/error/unusable-state-dir", test_unusable_state_dir_is_internal);
        return g_test_run();
}
