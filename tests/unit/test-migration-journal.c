/* The job journal of the status file: what recovery after a restart reads
 * back (docs/recovery.md, "The journal"), including the keys an older
 * journal lacks. */
#include <json-glib/json-glib.h>

#include "migration-job.h"

static JsonObject *journal_of(const MigrationJob *job) {
        g_autoptr(JsonBuilder) builder = json_builder_new();
        g_autoptr(JsonNode) root = NULL;

        json_builder_begin_object(builder);
        migration_journal_write(builder, job);
        json_builder_end_object(builder);
        root = json_builder_get_root(builder);
        return json_object_ref(json_node_get_object(root));
}

static void test_source_round_trip(void) {
        MigrationParams params = { .flags = MIGRATE_UNDEFINE_SOURCE };
        MigrationJob job = { .type = JOB_TYPE_MIGRATION_OUT, .phase = JOB_PHASE_PERFORM3, .params = &params,
                             .owner = (char *) ":1.42", .postcopy_requested = TRUE, .protocol = 2,
                             .progress = { .percent = 37.25 } };
        g_autoptr(JsonObject) o = journal_of(&job);
        MigrationJournal j;

        migration_journal_read(&j, o);
        g_assert_cmpfloat(j.progress, ==, 37.25);
        g_assert_cmpint(j.type, ==, JOB_TYPE_MIGRATION_OUT);
        g_assert_cmpint(j.phase, ==, JOB_PHASE_PERFORM3);
        g_assert_cmpuint(j.flags, ==, MIGRATE_UNDEFINE_SOURCE);
        g_assert_true(j.postcopy_requested);
        g_assert_false(j.postcopy);
        g_assert_cmpint(j.protocol, ==, 2);
        g_assert_cmpstr(j.owner, ==, ":1.42");
        migration_journal_clear(&j);
}

static void test_destination_has_no_source_keys(void) {
        MigrationJob job = { .type = JOB_TYPE_MIGRATION_IN, .phase = JOB_PHASE_FINISH2, .protocol = 3 };
        g_autoptr(JsonObject) o = journal_of(&job);
        MigrationJournal j;

        g_assert_false(json_object_has_member(o, "job_protocol"));
        g_assert_false(json_object_has_member(o, "job_postcopy_requested"));
        migration_journal_read(&j, o);
        g_assert_cmpint(j.phase, ==, JOB_PHASE_FINISH2);
        g_assert_cmpint(j.protocol, ==, 3);
        migration_journal_clear(&j);
}

/* The images an incoming storage migration created: round trip; in a
 * damaged record only absolute paths count. */
static void test_storage_created(void) {
        g_autoptr(GPtrArray) created = g_ptr_array_new();
        MigrationJob job = { .type = JOB_TYPE_MIGRATION_IN, .phase = JOB_PHASE_PREPARE, .protocol = 3,
                             .storage_created = created };
        g_autoptr(JsonObject) o = NULL;
        g_autoptr(JsonObject) odd = json_object_new();
        g_autoptr(JsonArray) a = json_array_new();
        MigrationJournal j;

        g_ptr_array_add(created, (gpointer) "/var/lib/libvirt/images/vda.qcow2");
        g_ptr_array_add(created, (gpointer) "/srv/vdb.raw");
        o = journal_of(&job);
        migration_journal_read(&j, o);
        g_assert_cmpuint(g_strv_length(j.storage_created), ==, 2);
        g_assert_cmpstr(j.storage_created[0], ==, "/var/lib/libvirt/images/vda.qcow2");
        g_assert_cmpstr(j.storage_created[1], ==, "/srv/vdb.raw");
        migration_journal_clear(&j);

        /* None created: no key. */
        g_ptr_array_set_size(created, 0);
        g_clear_pointer(&o, json_object_unref);
        o = journal_of(&job);
        g_assert_false(json_object_has_member(o, "job_storage_created"));

        json_object_set_string_member(odd, "job_type", "migration-in");
        json_object_set_string_member(odd, "job_phase", "prepare");
        json_array_add_string_element(a, "relative.qcow2");
        json_array_add_int_element(a, 7);
        json_array_add_null_element(a);
        json_array_add_string_element(a, "/ok.qcow2");
        json_object_set_array_member(odd, "job_storage_created", json_array_ref(a));
        migration_journal_read(&j, odd);
        g_assert_cmpuint(g_strv_length(j.storage_created), ==, 1);
        g_assert_cmpstr(j.storage_created[0], ==, "/ok.qcow2");
        migration_journal_clear(&j);

        json_object_set_string_member(odd, "job_storage_created", "/not/a/list");
        migration_journal_read(&j, odd);
        g_assert_null(j.storage_created);
        migration_journal_clear(&j);
}

static void test_older_or_odd_journal(void) {
        g_autoptr(JsonObject) o = json_object_new();
        MigrationJournal j;

        /* Written before the keys existed: protocol 3, no request. */
        json_object_set_string_member(o, "job_type", "migration-out");
        json_object_set_string_member(o, "job_phase", "perform3_done");
        migration_journal_read(&j, o);
        g_assert_cmpint(j.protocol, ==, 3);
        g_assert_false(j.postcopy_requested);
        migration_journal_clear(&j);
        /* Only 2 means protocol 2. */
        json_object_set_int_member(o, "job_protocol", 7);
        migration_journal_read(&j, o);
        g_assert_cmpint(j.protocol, ==, 3);
        g_assert_cmpfloat(j.progress, ==, 0);
        migration_journal_clear(&j);
        /* JobProgress: a number from 0 to 99, anything else 0. */
        json_object_set_string_member(o, "job_progress", "50");
        migration_journal_read(&j, o);
        g_assert_cmpfloat(j.progress, ==, 0);
        json_object_set_double_member(o, "job_progress", 250.0);
        migration_journal_read(&j, o);
        g_assert_cmpfloat(j.progress, ==, 99);
        json_object_set_int_member(o, "job_progress", -3);
        migration_journal_read(&j, o);
        g_assert_cmpfloat(j.progress, ==, 0);
        json_object_set_int_member(o, "job_progress", 42);
        migration_journal_read(&j, o);
        g_assert_cmpfloat(j.progress, ==, 42);
        migration_journal_clear(&j);
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/migration-journal/source-round-trip", test_source_round_trip);
        g_test_add_func("/migration-journal/destination-has-no-source-keys", test_destination_has_no_source_keys);
        g_test_add_func("/migration-journal/older-or-odd-journal", test_older_or_odd_journal);
        g_test_add_func("/migration-journal/storage-created", test_storage_created);
        return g_test_run();
}
