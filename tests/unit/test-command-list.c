/* qemu-migration.c's command runner (one at a time, pipelined, waiting
 * for success, ignoring a given refusal) against a fake QMP transport. */
#define G_LOG_DOMAIN "migrationd"

#include <string.h>

#include "md-error.h"
#include "qemu-migration.h"

#define GREETING "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 22, \"minor\": 2, \"major\": 7}, " \
        "\"package\": \"\"}, \"capabilities\": [\"oob\"]}}\r\n"
#define CAPS_SENT "{\"execute\":\"qmp_capabilities\",\"id\":\"md-1\"}\n"

static void assert_json(JsonNode *node, const char *expected) {
        g_autofree char *text = json_to_string(node, FALSE);

        g_assert_cmpstr(text, ==, expected);
}

typedef struct {
        QmpClient *client;
        GString *written;
        gboolean done;
        JsonNode *result;
        GError *error;
} Runner;

static void on_write(const char *data, gsize len, gpointer user_data) {
        Runner *r = user_data;

        g_string_append_len(r->written, data, len);
}

static void pump(void) {
        while (g_main_context_iteration(NULL, FALSE))
                ;
}

static void feed(Runner *r, const char *text) {
        g_autoptr(GError) error = NULL;

        g_assert_true(qmp_client_feed(r->client, text, strlen(text), &error));
        g_assert_no_error(error);
        pump();
}

static Runner *runner_new(void) {
        Runner *r = g_new0(Runner, 1);

        r->client = qmp_client_new();
        r->written = g_string_new(NULL);
        qmp_client_set_write_func(r->client, on_write, r);
        feed(r, GREETING);
        g_assert_cmpstr(r->written->str, ==, CAPS_SENT);
        feed(r, "{\"return\": {}, \"id\": \"md-1\"}\r\n");
        g_assert_true(qmp_client_is_ready(r->client));
        g_string_truncate(r->written, 0);
        return r;
}

static void runner_free(Runner *r) {
        g_clear_pointer(&r->client, qmp_client_free);
        pump();
        g_string_free(r->written, TRUE);
        g_clear_pointer(&r->result, json_node_unref);
        g_clear_error(&r->error);
        g_free(r);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Runner, runner_free)

static void on_run_done(GObject *source, GAsyncResult *result, gpointer user_data) {
        Runner *r = user_data;

        g_assert_null(source);
        g_assert_false(r->done);
        r->done = TRUE;
        r->result = qemu_command_list_run_finish(result, &r->error);
        g_assert_true((r->result == NULL) != (r->error == NULL));
}

/* Three typical commands: capabilities, a parameter, a query. */
static void run_three(Runner *r, GCancellable *cancellable) {
        const char *const names[] = { "events" };
        const gboolean states[] = { TRUE };
        QemuCommandList *list = qemu_command_list_new();

        qemu_command_list_add(list, "migrate-set-capabilities",
                              qemu_migration_capabilities_args(names, states, 1));
        qemu_command_list_add(list, "migrate-set-parameters", qemu_migration_speed_args(8));
        qemu_command_list_add(list, "query-migrate", NULL);
        qemu_command_list_run_async(r->client, list, cancellable, on_run_done, r);
        pump();
}

#define SENT_1 "{\"execute\":\"migrate-set-capabilities\",\"arguments\":{\"capabilities\":" \
        "[{\"capability\":\"events\",\"state\":true}]},\"id\":\"md-2\"}\n"
#define SENT_2 "{\"execute\":\"migrate-set-parameters\",\"arguments\":{\"max-bandwidth\":8388608}," \
        "\"id\":\"md-3\"}\n"
#define SENT_3 "{\"execute\":\"query-migrate\",\"id\":\"md-4\"}\n"

static void test_commands_success(void) {
        g_autoptr(Runner) r = runner_new();

        run_three(r, NULL);
        /* One at a time: the next goes out only when the previous succeeded. */
        g_assert_cmpstr(r->written->str, ==, SENT_1);
        feed(r, "{\"return\": {}, \"id\": \"md-2\"}\r\n");
        g_assert_cmpstr(r->written->str, ==, SENT_1 SENT_2);
        g_assert_false(r->done);
        feed(r, "{\"return\": {}, \"id\": \"md-3\"}\r\n");
        g_assert_cmpstr(r->written->str, ==, SENT_1 SENT_2 SENT_3);
        feed(r, "{\"return\": {\"status\": \"setup\"}, \"id\": \"md-4\"}\r\n");
        g_assert_true(r->done);
        g_assert_no_error(r->error);
        assert_json(r->result, "{\"status\":\"setup\"}");
}

static void test_commands_failure(void) {
        g_autoptr(Runner) r = runner_new();

        run_three(r, NULL);
        feed(r, "{\"return\": {}, \"id\": \"md-2\"}\r\n");
        feed(r, "{\"error\": {\"class\": \"GenericError\", \"desc\": \"Parameter 'max-bandwidth' "
             "expects an integer in the range of 0 to 18446744073709551615 bytes/second\"}, "
             "\"id\": \"md-3\"}\r\n");
        g_assert_true(r->done);
        g_assert_error(r->error, MD_ERROR, MD_ERROR_QEMU_FAILED);
        g_assert_cmpstr(r->error->message, ==, "QEMU refused migrate-set-parameters: Parameter "
                        "'max-bandwidth' expects an integer in the range of 0 to 18446744073709551615 "
                        "bytes/second");
        /* The rest is never sent. */
        pump();
        g_assert_cmpstr(r->written->str, ==, SENT_1 SENT_2);
}

static void test_commands_closed(void) {
        g_autoptr(Runner) r = runner_new();

        run_three(r, NULL);
        feed(r, "{\"return\": {}, \"id\": \"md-2\"}\r\n");
        qmp_client_feed_eof(r->client);
        pump();
        g_assert_true(r->done);
        g_assert_error(r->error, MD_ERROR, MD_ERROR_QEMU_FAILED);
        g_assert_cmpstr(r->error->message, ==,
                        "QMP command migrate-set-parameters failed: QEMU monitor connection closed");
        g_assert_cmpstr(r->written->str, ==, SENT_1 SENT_2);
}

static void test_commands_cancel(void) {
        g_autoptr(Runner) r = runner_new();
        g_autoptr(GCancellable) cancellable = g_cancellable_new();

        run_three(r, cancellable);
        feed(r, "{\"return\": {}, \"id\": \"md-2\"}\r\n");
        g_cancellable_cancel(cancellable);
        pump();
        g_assert_true(r->done);
        g_assert_error(r->error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
        /* QEMU's late reply is dropped, and nothing more goes out. */
        feed(r, "{\"return\": {}, \"id\": \"md-3\"}\r\n");
        g_assert_cmpstr(r->written->str, ==, SENT_1 SENT_2);
}

static void test_commands_cancel_between(void) {
        g_autoptr(Runner) r = runner_new();
        g_autoptr(GCancellable) cancellable = g_cancellable_new();
        const char *reply = "{\"return\": {}, \"id\": \"md-2\"}\r\n";
        g_autoptr(GError) error = NULL;

        run_three(r, cancellable);
        /* The reply arrives, then the cancel, before the main loop runs
         * either: the next command must still not go out. */
        g_assert_true(qmp_client_feed(r->client, reply, strlen(reply), &error));
        g_cancellable_cancel(cancellable);
        pump();
        g_assert_true(r->done);
        g_assert_error(r->error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
        g_assert_cmpstr(r->written->str, ==, SENT_1);
}

static void test_commands_cancelled_before(void) {
        g_autoptr(Runner) r = runner_new();
        g_autoptr(GCancellable) cancellable = g_cancellable_new();

        g_cancellable_cancel(cancellable);
        run_three(r, cancellable);
        g_assert_true(r->done);
        g_assert_error(r->error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
        g_assert_cmpstr(r->written->str, ==, "");
}

static void test_commands_empty(void) {
        g_autoptr(Runner) r = runner_new();

        qemu_command_list_run_async(r->client, qemu_command_list_new(), NULL, on_run_done, r);
        pump();
        g_assert_true(r->done);
        g_assert_no_error(r->error);
        g_assert_true(JSON_NODE_HOLDS_NULL(r->result));
        g_assert_cmpstr(r->written->str, ==, "");
}

/* Pipelined: the three go out at once; the result waits for the last reply. */
static void run_three_pipelined(Runner *r, GCancellable *cancellable) {
        const char *const names[] = { "events" };
        const gboolean states[] = { TRUE };
        QemuCommandList *list = qemu_command_list_new();

        qemu_command_list_set_pipelined(list);
        qemu_command_list_add(list, "migrate-set-capabilities",
                              qemu_migration_capabilities_args(names, states, 1));
        qemu_command_list_add(list, "migrate-set-parameters", qemu_migration_speed_args(8));
        qemu_command_list_add(list, "query-migrate", NULL);
        qemu_command_list_run_async(r->client, list, cancellable, on_run_done, r);
        pump();
}

static void test_pipelined_success(void) {
        g_autoptr(Runner) r = runner_new();

        run_three_pipelined(r, NULL);
        g_assert_cmpstr(r->written->str, ==, SENT_1 SENT_2 SENT_3);
        feed(r, "{\"return\": {}, \"id\": \"md-2\"}\r\n");
        feed(r, "{\"return\": {}, \"id\": \"md-3\"}\r\n");
        g_assert_false(r->done);
        feed(r, "{\"return\": {\"status\": \"setup\"}, \"id\": \"md-4\"}\r\n");
        g_assert_true(r->done);
        g_assert_no_error(r->error);
        assert_json(r->result, "{\"status\":\"setup\"}");
}

/* The first refusal is the error, as one at a time; the replies QEMU still
 * sends for the later commands are dropped (on_run_done asserts it runs once). */
static void test_pipelined_failure(void) {
        g_autoptr(Runner) r = runner_new();

        run_three_pipelined(r, NULL);
        feed(r, "{\"error\": {\"class\": \"GenericError\", \"desc\": \"Capability 'events' is not "
             "supported\"}, \"id\": \"md-2\"}\r\n");
        g_assert_true(r->done);
        g_assert_error(r->error, MD_ERROR, MD_ERROR_QEMU_FAILED);
        g_assert_cmpstr(r->error->message, ==,
                        "QEMU refused migrate-set-capabilities: Capability 'events' is not supported");
        feed(r, "{\"error\": {\"class\": \"GenericError\", \"desc\": \"later\"}, \"id\": \"md-3\"}\r\n");
        feed(r, "{\"return\": {}, \"id\": \"md-4\"}\r\n");
        g_assert_cmpstr(r->error->message, ==,
                        "QEMU refused migrate-set-capabilities: Capability 'events' is not supported");
        g_assert_cmpstr(r->written->str, ==, SENT_1 SENT_2 SENT_3);
}

static void test_pipelined_closed(void) {
        g_autoptr(Runner) r = runner_new();

        run_three_pipelined(r, NULL);
        feed(r, "{\"return\": {}, \"id\": \"md-2\"}\r\n");
        qmp_client_feed_eof(r->client);
        pump();
        g_assert_true(r->done);
        g_assert_error(r->error, MD_ERROR, MD_ERROR_QEMU_FAILED);
        g_assert_cmpstr(r->error->message, ==,
                        "QMP command migrate-set-parameters failed: QEMU monitor connection closed");
}

/* A command added with qemu_command_list_add_after_success() waits for the
 * answers before it, and is never sent after a refusal. */
static void run_with_waiting(Runner *r) {
        QemuCommandList *list = qemu_command_list_new();

        qemu_command_list_set_pipelined(list);
        qemu_command_list_add(list, "migrate-set-parameters", qemu_migration_speed_args(8));
        qemu_command_list_add(list, "query-migrate", NULL);
        qemu_command_list_add_after_success(list, "migrate-set-parameters", qemu_migration_speed_args(8));
        qemu_command_list_run_async(r->client, list, NULL, on_run_done, r);
        pump();
}

static void test_pipelined_waits(void) {
        g_autoptr(Runner) r = runner_new();
        g_autofree char *two = NULL;

        run_with_waiting(r);
        two = g_strdup(r->written->str);
        g_assert_cmpuint(strlen(two), >, 0);
        feed(r, "{\"return\": {}, \"id\": \"md-2\"}\r\n");
        g_assert_cmpstr(r->written->str, ==, two);
        feed(r, "{\"return\": {\"status\": \"setup\"}, \"id\": \"md-3\"}\r\n");
        g_assert_cmpuint(strlen(r->written->str), >, strlen(two));
        g_assert_false(r->done);
        feed(r, "{\"return\": {}, \"id\": \"md-4\"}\r\n");
        g_assert_true(r->done);
        g_assert_no_error(r->error);
}

static void test_pipelined_waits_refused(void) {
        g_autoptr(Runner) r = runner_new();
        g_autofree char *two = NULL;

        run_with_waiting(r);
        two = g_strdup(r->written->str);
        feed(r, "{\"error\": {\"class\": \"GenericError\", \"desc\": \"no\"}, \"id\": \"md-2\"}\r\n");
        g_assert_true(r->done);
        g_assert_error(r->error, MD_ERROR, MD_ERROR_QEMU_FAILED);
        feed(r, "{\"return\": {\"status\": \"setup\"}, \"id\": \"md-3\"}\r\n");
        pump();
        g_assert_cmpstr(r->written->str, ==, two);
}

static void test_pipelined_cancel(void) {
        g_autoptr(Runner) r = runner_new();
        g_autoptr(GCancellable) cancellable = g_cancellable_new();

        run_three_pipelined(r, cancellable);
        feed(r, "{\"return\": {}, \"id\": \"md-2\"}\r\n");
        g_cancellable_cancel(cancellable);
        pump();
        g_assert_true(r->done);
        g_assert_error(r->error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
        feed(r, "{\"return\": {}, \"id\": \"md-3\"}\r\n");
        g_assert_cmpstr(r->written->str, ==, SENT_1 SENT_2 SENT_3);
}

static void test_commands_free_unrun(void) {
        g_autoptr(QemuCommandList) list = qemu_command_list_new();

        qemu_command_list_add(list, "migrate-set-parameters", qemu_migration_downtime_args(300));
        qemu_command_list_add(list, "query-migrate", NULL);
}

/* A refusal a command may meet (object-del of what is not there) counts as
 * its success: pipelined, the command waiting for success still goes out;
 * the same class with another desc, or another class, still ends the run. */
#define NOT_FOUND "object 'md-migration-tls' not found"

static void run_with_ignored(Runner *r) {
        QemuCommandList *list = qemu_command_list_new();
        g_autoptr(JsonBuilder) del = json_builder_new();

        json_builder_begin_object(del);
        json_builder_set_member_name(del, "id");
        json_builder_add_string_value(del, "md-migration-tls");
        json_builder_end_object(del);
        qemu_command_list_set_pipelined(list);
        qemu_command_list_add(list, "object-del", json_builder_get_root(del));
        qemu_command_list_ignore_refusal(list, "GenericError", NOT_FOUND);
        qemu_command_list_add(list, "migrate-set-parameters", qemu_migration_speed_args(8));
        qemu_command_list_add_after_success(list, "query-migrate", NULL);
        qemu_command_list_run_async(r->client, list, NULL, on_run_done, r);
        pump();
}

#define SENT_DEL "{\"execute\":\"object-del\",\"arguments\":{\"id\":\"md-migration-tls\"},\"id\":\"md-2\"}\n" \
        "{\"execute\":\"migrate-set-parameters\",\"arguments\":{\"max-bandwidth\":8388608},\"id\":\"md-3\"}\n"

static void test_ignored_refusal(void) {
        g_autoptr(Runner) r = runner_new();

        run_with_ignored(r);
        g_assert_cmpstr(r->written->str, ==, SENT_DEL);
        feed(r, "{\"error\": {\"class\": \"GenericError\", \"desc\": \"" NOT_FOUND "\"}, \"id\": \"md-2\"}\r\n");
        g_assert_false(r->done);
        feed(r, "{\"return\": {}, \"id\": \"md-3\"}\r\n");
        g_assert_cmpstr(r->written->str, ==, SENT_DEL "{\"execute\":\"query-migrate\",\"id\":\"md-4\"}\n");
        feed(r, "{\"return\": {\"status\": \"none\"}, \"id\": \"md-4\"}\r\n");
        g_assert_true(r->done);
        g_assert_no_error(r->error);
        assert_json(r->result, "{\"status\":\"none\"}");
}

/* Its success is a success too. */
static void test_ignored_refusal_not_met(void) {
        g_autoptr(Runner) r = runner_new();

        run_with_ignored(r);
        feed(r, "{\"return\": {}, \"id\": \"md-2\"}\r\n");
        feed(r, "{\"return\": {}, \"id\": \"md-3\"}\r\n");
        feed(r, "{\"return\": {}, \"id\": \"md-4\"}\r\n");
        g_assert_true(r->done);
        g_assert_no_error(r->error);
}

static void assert_other_refusal_ends(const char *error_class, const char *desc) {
        g_autoptr(Runner) r = runner_new();
        g_autofree char *reply = g_strdup_printf("{\"error\": {\"class\": \"%s\", \"desc\": \"%s\"}, "
                                                 "\"id\": \"md-2\"}\r\n", error_class, desc);
        g_autofree char *message = g_strdup_printf("QEMU refused object-del: %s", desc);

        run_with_ignored(r);
        feed(r, reply);
        g_assert_true(r->done);
        g_assert_error(r->error, MD_ERROR, MD_ERROR_QEMU_FAILED);
        g_assert_cmpstr(r->error->message, ==, message);
        feed(r, "{\"return\": {}, \"id\": \"md-3\"}\r\n");
        /* The command that waits for success never goes out. */
        g_assert_cmpstr(r->written->str, ==, SENT_DEL);
}

static void test_other_refusal(void) {
        assert_other_refusal_ends("GenericError", "object 'md-migration-tls' is in use");
        assert_other_refusal_ends("GenericError", "object 'other' not found");
        assert_other_refusal_ends("CommandNotFound", NOT_FOUND);
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);

        g_test_add_func("/command-list/commands/success", test_commands_success);
        g_test_add_func("/command-list/commands/failure", test_commands_failure);
        g_test_add_func("/command-list/commands/closed", test_commands_closed);
        g_test_add_func("/command-list/commands/cancel", test_commands_cancel);
        g_test_add_func("/command-list/commands/cancel-between", test_commands_cancel_between);
        g_test_add_func("/command-list/commands/cancelled-before", test_commands_cancelled_before);
        g_test_add_func("/command-list/commands/empty", test_commands_empty);
        g_test_add_func("/command-list/commands/free-unrun", test_commands_free_unrun);
        g_test_add_func("/command-list/pipelined/success", test_pipelined_success);
        g_test_add_func("/command-list/pipelined/failure", test_pipelined_failure);
        g_test_add_func("/command-list/pipelined/closed", test_pipelined_closed);
        g_test_add_func("/command-list/pipelined/cancel", test_pipelined_cancel);
        g_test_add_func("/command-list/pipelined/waits", test_pipelined_waits);
        g_test_add_func("/command-list/pipelined/waits-refused", test_pipelined_waits_refused);

        g_test_add_func("/command-list/ignored-refusal/met", test_ignored_refusal);
        g_test_add_func("/command-list/ignored-refusal/not-met", test_ignored_refusal_not_met);
        g_test_add_func("/command-list/ignored-refusal/other", test_other_refusal);

        return g_test_run();
}
