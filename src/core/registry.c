#define G_LOG_DOMAIN "migrationd"

#include <errno.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "md-error.h"
#include "i18n.h"
#include "migration-job.h"
#include "registry.h"

static gboolean make_dir(const char *path, int mode, GError **error) {
        if (g_mkdir_with_parents(path, mode) < 0) {
                g_set_error(error, MD_ERROR, MD_ERROR_INVALID_ARGS, "Failed to create directory %s: %s",
                            path, g_strerror(errno));
                return FALSE;
        }
        return TRUE;
}

Registry *registry_new(MdConfig *config, const RegistryDirs *dirs, GError **error) {
        g_autoptr(Registry) r = g_new0(Registry, 1);

        r->config = config;
        r->domains_dir = g_build_filename(dirs->state_dir, "domains", NULL);
        r->status_dir = g_build_filename(dirs->state_dir, "status", NULL);
        r->runtime_dir = g_strdup(dirs->runtime_dir);
        r->log_dir = g_strdup(dirs->log_dir);
        r->by_uuid = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify) domain_free);
        r->by_name = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        if (!make_dir(r->domains_dir, 0700, error) || !make_dir(r->status_dir, 0700, error) ||
            !make_dir(r->runtime_dir, 0700, error) || !make_dir(r->log_dir, 0700, error))
                return NULL;
        r->kvm_usable = qemu_kvm_usable();
        return g_steal_pointer(&r);
}

void registry_free(Registry *r) {
        if (!r)
                return;
        g_clear_pointer(&r->by_name, g_hash_table_unref);
        g_clear_pointer(&r->by_uuid, g_hash_table_unref);
        g_free(r->domains_dir);
        g_free(r->status_dir);
        g_free(r->runtime_dir);
        g_free(r->log_dir);
        g_free(r);
}

void registry_set_listener(Registry *r, const RegistryListener *listener, gpointer user_data) {
        r->listener = listener;
        r->listener_data = user_data;
}

void registry_notify_changed(Registry *r, Domain *d, ...) {
        const char *names[16];
        guint n = 0;
        va_list ap;

        va_start(ap, d);
        for (const char *p; (p = va_arg(ap, const char *)) && n < G_N_ELEMENTS(names) - 1;)
                names[n++] = p;
        va_end(ap);
        names[n] = NULL;
        if (r->listener && r->listener->domain_changed)
                r->listener->domain_changed(d, names, r->listener_data);
}

void registry_emit_job_stats(Registry *r, Domain *d, GVariant *stats) {
        if (r->listener && r->listener->job_stats_updated)
                r->listener->job_stats_updated(d, stats, r->listener_data);
}

void registry_emit_job_completed(Registry *r, Domain *d, GVariant *stats) {
        if (r->listener && r->listener->job_completed)
                r->listener->job_completed(d, stats, r->listener_data);
}

void registry_emit_iteration(Registry *r, Domain *d, guint iteration) {
        if (r->listener && r->listener->migration_iteration)
                r->listener->migration_iteration(d, iteration, r->listener_data);
}

guint registry_count_jobs(Registry *r) {
        GHashTableIter iter;
        gpointer value;
        guint n = 0;

        g_hash_table_iter_init(&iter, r->by_uuid);
        while (g_hash_table_iter_next(&iter, NULL, &value))
                n += ((Domain *) value)->job != NULL;
        return n;
}

void registry_client_vanished(Registry *r, const char *name) {
        g_autoptr(GPtrArray) abandoned = g_ptr_array_new();
        GHashTableIter iter;
        gpointer value;

        /* Collected first: abandoning may remove domains from the table. */
        g_hash_table_iter_init(&iter, r->by_uuid);
        while (g_hash_table_iter_next(&iter, NULL, &value)) {
                Domain *d = value;
                if (d->job && g_strcmp0(d->job->owner, name) == 0)
                        g_ptr_array_add(abandoned, g_strdup(domain_uuid(d)));
        }
        for (guint i = 0; i < abandoned->len; i++) {
                Domain *d = g_hash_table_lookup(r->by_uuid, abandoned->pdata[i]);
                if (d && d->job)
                        migration_job_abandon(d, "the client driving the migration left the bus");
                g_free(abandoned->pdata[i]);
        }
}

void registry_watch_client(Registry *r, const char *name) {
        if (r->listener && r->listener->watch_client)
                r->listener->watch_client(name, r->listener_data);
}

void registry_watch_job_clients(Registry *r) {
        GHashTableIter iter;
        gpointer value;

        g_hash_table_iter_init(&iter, r->by_uuid);
        while (g_hash_table_iter_next(&iter, NULL, &value)) {
                Domain *d = value;
                if (d->job && d->job->owner)
                        registry_watch_client(r, d->job->owner);
        }
}

void registry_end_restored_jobs(Registry *r) {
        g_autoptr(GPtrArray) uuids = g_ptr_array_new_with_free_func(g_free);
        GHashTableIter iter;
        gpointer value;

        /* Collected first: ending one may remove a transient domain. */
        g_hash_table_iter_init(&iter, r->by_uuid);
        while (g_hash_table_iter_next(&iter, NULL, &value)) {
                Domain *d = value;
                if (d->job && d->job->end_when_heard)
                        g_ptr_array_add(uuids, g_strdup(domain_uuid(d)));
        }
        for (guint i = 0; i < uuids->len; i++) {
                Domain *d = g_hash_table_lookup(r->by_uuid, uuids->pdata[i]);
                if (d)
                        migration_job_end_restored(d);
        }
}

static void add_domain(Registry *r, Domain *d) {
        g_hash_table_insert(r->by_uuid, g_strdup(domain_uuid(d)), d);
        g_hash_table_insert(r->by_name, g_strdup(domain_name(d)), d);
        if (r->listener && r->listener->domain_added)
                r->listener->domain_added(d, r->listener_data);
}

static void remove_domain(Registry *r, Domain *d) {
        if (r->listener && r->listener->domain_removed)
                r->listener->domain_removed(d, r->listener_data);
        g_hash_table_remove(r->by_name, domain_name(d));
        g_hash_table_remove(r->by_uuid, domain_uuid(d));
}

void registry_add_domain(Registry *r, Domain *d) {
        add_domain(r, d);
}

Domain *registry_lookup_by_name(Registry *r, const char *name, GError **error) {
        Domain *d = g_hash_table_lookup(r->by_name, name);

        if (!d)
                g_set_error(error, MD_ERROR, MD_ERROR_NO_SUCH_DOMAIN, _("No domain named '%s'"), name);
        return d;
}

Domain *registry_lookup_by_uuid(Registry *r, const char *uuid, GError **error) {
        g_autofree char *lower = g_ascii_strdown(uuid, -1);
        Domain *d = g_hash_table_lookup(r->by_uuid, lower);

        if (!d)
                g_set_error(error, MD_ERROR, MD_ERROR_NO_SUCH_DOMAIN, _("No domain with UUID '%s'"), uuid);
        return d;
}

static gint compare_by_name(gconstpointer a, gconstpointer b) {
        return g_strcmp0(domain_name(*(Domain **) a), domain_name(*(Domain **) b));
}

GPtrArray *registry_list(Registry *r, guint flags) {
        GPtrArray *list = g_ptr_array_new();
        guint activity = flags & (DOMAIN_LIST_ACTIVE | DOMAIN_LIST_INACTIVE);
        guint persistence = flags & (DOMAIN_LIST_PERSISTENT | DOMAIN_LIST_TRANSIENT);
        GHashTableIter iter;
        gpointer value;

        g_hash_table_iter_init(&iter, r->by_uuid);
        while (g_hash_table_iter_next(&iter, NULL, &value)) {
                Domain *d = value;
                if (activity && !(activity & (domain_is_active(d) ? DOMAIN_LIST_ACTIVE : DOMAIN_LIST_INACTIVE)))
                        continue;
                if (persistence && !(persistence & (domain_is_persistent(d) ? DOMAIN_LIST_PERSISTENT
                                                                            : DOMAIN_LIST_TRANSIENT)))
                        continue;
                g_ptr_array_add(list, d);
        }
        g_ptr_array_sort(list, compare_by_name);
        return list;
}

char *registry_monitor_path(Registry *r, Domain *d) {
        g_autofree char *file = g_strconcat(domain_uuid(d), ".qmp", NULL);
        return g_build_filename(r->runtime_dir, file, NULL);
}

char *registry_log_path(Registry *r, Domain *d) {
        g_autofree char *file = g_strconcat(domain_name(d), ".log", NULL);
        return g_build_filename(r->log_dir, file, NULL);
}

static char *definition_path(Registry *r, const char *name) {
        g_autofree char *file = g_strconcat(name, ".xml", NULL);
        return g_build_filename(r->domains_dir, file, NULL);
}

static char *status_path(Registry *r, Domain *d) {
        g_autofree char *file = g_strconcat(domain_uuid(d), ".json", NULL);
        return g_build_filename(r->status_dir, file, NULL);
}

static gboolean write_file(const char *path, const char *data, GFileSetContentsFlags flags, GError **error) {
        g_autoptr(GError) local = NULL;

        if (!g_file_set_contents_full(path, data, -1, flags, 0600, &local)) {
                g_set_error(error, MD_ERROR, MD_ERROR_INVALID_ARGS, "Failed to save %s: %s", path,
                            local->message);
                return FALSE;
        }
        return TRUE;
}

static gboolean save_definition(Registry *r, const DomainDef *def, GError **error) {
        g_autofree char *path = definition_path(r, def->name);
        g_autofree char *xml = domain_def_format(def);

        /* A definition must survive a power cut: synced before it replaces the old one. */
        return write_file(path, xml, G_FILE_SET_CONTENTS_CONSISTENT, error);
}

gboolean registry_save_status(Registry *r, Domain *d, GError **error) {
        g_autoptr(JsonBuilder) b = json_builder_new();
        g_autoptr(JsonGenerator) gen = json_generator_new();
        g_autoptr(JsonNode) root = NULL;
        g_autofree char *xml = domain_def_format(d->live);
        g_autofree char *path = status_path(r, d);
        g_autofree char *text = NULL, *tmp = NULL;

        json_builder_begin_object(b);
        json_builder_set_member_name(b, "pid");
        json_builder_add_int_value(b, qemu_process_get_pid(d->qemu));
        json_builder_set_member_name(b, "state");
        json_builder_add_string_value(b, domain_state_to_string(d->state));
        json_builder_set_member_name(b, "reason");
        json_builder_add_string_value(b, d->state_reason);
        /* The job journal: after a restart recovery restores or ends the job by it
         * (docs/recovery.md). */
        if (d->job)
                migration_journal_write(b, d->job);
        json_builder_set_member_name(b, "xml");
        json_builder_add_string_value(b, xml);
        json_builder_end_object(b);
        root = json_builder_get_root(b);
        json_generator_set_root(gen, root);
        text = json_generator_to_data(gen, NULL);
        /* Replaced by rename (a killed daemon leaves the old or the new
         * file), but not synced: a power cut takes the guests with it, and
         * the status of a guest that is gone is worth nothing. It is written
         * on every state change, some on the path of a migration's downtime,
         * where each fsync cost up to 20 ms (bench/overhead). */
        tmp = g_strconcat(path, ".new", NULL);
        if (!write_file(tmp, text, G_FILE_SET_CONTENTS_NONE, error))
                return FALSE;
        if (g_rename(tmp, path) < 0) {
                g_set_error(error, MD_ERROR, MD_ERROR_INVALID_ARGS, "Failed to save %s: %s", path,
                            g_strerror(errno));
                return FALSE;
        }
        return TRUE;
}

void registry_remove_status(Registry *r, Domain *d) {
        g_autofree char *path = status_path(r, d);

        if (g_unlink(path) < 0 && errno != ENOENT)
                g_warning("Failed to remove %s: %s, ignoring", path, g_strerror(errno));
}

Domain *registry_define_xml(Registry *r, const char *xml, GError **error) {
        g_autoptr(DomainDef) def = domain_def_parse(xml, -1, error);
        Domain *by_uuid, *by_name;

        if (!def)
                return NULL;
        by_uuid = g_hash_table_lookup(r->by_uuid, def->uuid);
        by_name = g_hash_table_lookup(r->by_name, def->name);
        if (by_name && by_name != by_uuid) {
                g_set_error(error, MD_ERROR, MD_ERROR_DOMAIN_EXISTS,
                            _("A domain named '%s' already exists with UUID %s"), def->name,
                            domain_uuid(by_name));
                return NULL;
        }
        if (by_uuid && !domain_check_changeable(by_uuid, error))
                return NULL;
        if (by_uuid && !g_str_equal(domain_name(by_uuid), def->name)) {
                g_set_error(error, MD_ERROR, MD_ERROR_DOMAIN_EXISTS,
                            _("The UUID %s already belongs to domain '%s'"), def->uuid,
                            domain_name(by_uuid));
                return NULL;
        }
        if (!save_definition(r, def, error))
                return NULL;
        if (by_uuid) {
                gboolean was_persistent = domain_is_persistent(by_uuid);
                /* A running domain keeps its live definition until it restarts. */
                domain_def_free(by_uuid->def);
                by_uuid->def = g_steal_pointer(&def);
                if (!was_persistent)
                        registry_notify_changed(r, by_uuid, "Persistent", NULL);
                return by_uuid;
        }
        Domain *d = domain_new(r, g_steal_pointer(&def));
        domain_set_state(d, DOMAIN_STATE_SHUTOFF, "unknown");
        add_domain(r, d);
        return d;
}

/* @d's definition becomes @def (taken), on disk first. */
static gboolean persist_definition(Registry *r, Domain *d, DomainDef *def, GError **error) {
        if (!save_definition(r, def, error)) {
                domain_def_free(def);
                return FALSE;
        }
        domain_def_free(d->def);
        d->def = def;
        registry_notify_changed(r, d, "Persistent", NULL);
        return TRUE;
}

gboolean registry_persist(Registry *r, Domain *d, GError **error) {
        return persist_definition(r, d, domain_def_copy(d->live), error);
}

gboolean registry_persist_xml(Registry *r, Domain *d, const char *xml, GError **error) {
        g_autoptr(DomainDef) def = domain_def_parse(xml, -1, error);

        if (!def)
                return FALSE;
        if (!g_str_equal(def->uuid, domain_uuid(d)) || !g_str_equal(def->name, domain_name(d))) {
                g_set_error(error, MD_ERROR, MD_ERROR_INVALID_ARGS,
                            "persistent_xml describes '%s' (%s), not '%s' (%s)", def->name, def->uuid,
                            domain_name(d), domain_uuid(d));
                return FALSE;
        }
        return persist_definition(r, d, g_steal_pointer(&def), error);
}

gboolean registry_undefine(Registry *r, Domain *d, guint flags, GError **error) {
        g_autofree char *path = NULL;

        if (flags) {
                g_set_error(error, MD_ERROR, MD_ERROR_INVALID_ARGS, _("Unsupported flags 0x%x"), flags);
                return FALSE;
        }
        if (!domain_check_changeable(d, error))
                return FALSE;
        if (!domain_is_persistent(d)) {
                g_set_error(error, MD_ERROR, MD_ERROR_OPERATION_INVALID,
                            _("Domain '%s' is transient and has no definition to remove; "
                              "destroy it instead"), domain_name(d));
                return FALSE;
        }
        path = definition_path(r, d->def->name);
        if (g_unlink(path) < 0 && errno != ENOENT) {
                g_set_error(error, MD_ERROR, MD_ERROR_INVALID_ARGS, "Failed to remove %s: %s", path,
                            g_strerror(errno));
                return FALSE;
        }
        if (!domain_is_active(d)) {
                remove_domain(r, d);
                return TRUE;
        }
        /* A running domain lives on as a transient one, as in libvirt. */
        g_clear_pointer(&d->def, domain_def_free);
        registry_notify_changed(r, d, "Persistent", NULL);
        return TRUE;
}

void registry_domain_stopped(Registry *r, Domain *d) {
        if (!domain_is_persistent(d)) {
                remove_domain(r, d);
                return;
        }
        g_clear_pointer(&d->live, domain_def_free);
}

/* ---- Loading and recovery ---- */

typedef struct {
        Registry *registry;
        char *uuid;
        DomainDef *live;
        char *state;              /* as saved, to keep the reason if QEMU agrees */
        char *reason;
        MigrationJournal journal; /* the job the guest was in; type none if none */
} Recovery;

static void recovery_free(Recovery *rec) {
        g_free(rec->uuid);
        g_free(rec->state);
        g_free(rec->reason);
        migration_journal_clear(&rec->journal);
        domain_def_free(rec->live);
        g_free(rec);
}

static void load_step_done(GTask *task) {
        guint *pending = g_task_get_task_data(task);

        if (--*pending == 0) {
                g_task_return_boolean(task, TRUE);
        }
        g_object_unref(task);
}

static void recovery_give_up(Registry *r, const char *uuid, const char *why) {
        Domain *d = g_hash_table_lookup(r->by_uuid, uuid);
        g_autofree char *file = g_strconcat(uuid, ".json", NULL);
        g_autofree char *path = g_build_filename(r->status_dir, file, NULL);

        g_message("Guest %s did not survive: %s", uuid, why);
        (void) g_unlink(path);
        if (d && !domain_is_active(d))
                domain_set_state(d, DOMAIN_STATE_SHUTOFF, "crashed");
}

typedef struct {
        GTask *load;
        Recovery *rec;
        QemuProcess *qemu;
        char *qemu_status;        /* query-status' "status", for a job's recovery */
} Attached;

static void attached_free(Attached *a) {
        load_step_done(a->load);
        recovery_free(a->rec);
        g_free(a->qemu_status);
        g_free(a);
}

/* A job's recovery needs QEMU's migration status too: the journal may lag
 * behind it (docs/recovery.md). */
static void on_recovered_migration(GObject *source, GAsyncResult *result, gpointer user_data) {
        Attached *a = user_data;
        Registry *r = a->rec->registry;
        g_autoptr(GError) error = NULL;
        g_autoptr(QemuMigrationInfo) reply = qemu_monitor_query_migrate_finish(result, &error);
        Domain *d = g_hash_table_lookup(r->by_uuid, a->rec->uuid);

        if (!reply)
                g_warning("query-migrate failed while recovering %s: %s; going by the journal",
                          a->rec->uuid, error->message);
        if (d)
                migration_job_recover(d, &a->rec->journal, a->qemu_status,
                                      reply ? reply->status : NULL);
        attached_free(a);
}

static void on_recovered_status(GObject *source, GAsyncResult *result, gpointer user_data) {
        Attached *a = user_data;
        Registry *r = a->rec->registry;
        g_autoptr(GError) error = NULL;
        g_autoptr(QemuRunState) reply = qemu_monitor_query_status_finish(result, &error);
        Domain *d;
        DomainState state;
        const char *reason;

        if (!reply) {
                recovery_give_up(r, a->rec->uuid, error ? error->message : "bad query-status reply");
                qemu_process_free(a->qemu);
                goto out;
        }
        state = reply->running ? DOMAIN_STATE_RUNNING : DOMAIN_STATE_PAUSED;
        /* QEMU knows the state; only the saved reason can say why. */
        reason = g_strcmp0(a->rec->state, domain_state_to_string(state)) == 0 && a->rec->reason
                ? a->rec->reason : "unknown";
        d = g_hash_table_lookup(r->by_uuid, a->rec->uuid);
        if (!d) {
                d = domain_new(r, NULL);
                d->live = domain_def_copy(a->rec->live);
                add_domain(r, d);
        }
        domain_adopt_process(d, g_steal_pointer(&a->rec->live), a->qemu, state, reason);
        domain_learn_ram_size(d);
        g_message("Found guest '%s' again (QEMU %d, %s)", domain_name(d), qemu_process_get_pid(a->qemu),
                  domain_state_to_string(d->state));
        if (a->rec->journal.type != JOB_TYPE_NONE) {
                a->qemu_status = g_strdup(reply->status);
                qemu_monitor_query_migrate_async(qemu_process_get_qmp(d->qemu), on_recovered_migration, a);
                return;
        }
out:
        attached_free(a);
}

static void on_recovered_attach(GObject *source, GAsyncResult *result, gpointer user_data) {
        Attached *a = user_data;
        g_autoptr(GError) error = NULL;

        a->qemu = qemu_process_attach_finish(result, &error);
        if (!a->qemu) {
                recovery_give_up(a->rec->registry, a->rec->uuid, error->message);
                attached_free(a);
                return;
        }
        qemu_monitor_query_status_async(qemu_process_get_qmp(a->qemu), on_recovered_status, a);
}

static void recover_guest(Registry *r, GTask *load, const char *path) {
        g_autoptr(JsonParser) parser = json_parser_new();
        g_autoptr(GError) error = NULL;
        g_autofree char *monitor = NULL, *file = NULL;
        Recovery *rec;
        JsonObject *obj;
        gint64 pid;
        Attached *a;
        Domain tmp = { 0 };

        if (!json_parser_load_from_file(parser, path, &error) ||
            !JSON_NODE_HOLDS_OBJECT(json_parser_get_root(parser))) {
                g_warning("Failed to read guest status %s: %s, ignoring", path,
                          error ? error->message : "not an object");
                return;
        }
        obj = json_node_get_object(json_parser_get_root(parser));
        pid = json_object_get_int_member_with_default(obj, "pid", 0);
        rec = g_new0(Recovery, 1);
        rec->registry = r;
        rec->live = domain_def_parse(json_object_get_string_member_with_default(obj, "xml", ""), -1, &error);
        if (!rec->live || pid <= 0 || pid > G_MAXINT32) {
                g_warning("Guest status %s is damaged: %s, ignoring", path,
                          error ? error->message : "bad pid");
                recovery_free(rec);
                return;
        }
        rec->uuid = g_strdup(rec->live->uuid);
        rec->state = g_strdup(json_object_get_string_member_with_default(obj, "state", NULL));
        rec->reason = g_strdup(json_object_get_string_member_with_default(obj, "reason", NULL));
        migration_journal_read(&rec->journal, obj);
        tmp.live = rec->live;
        monitor = registry_monitor_path(r, &tmp);
        a = g_new0(Attached, 1);
        a->load = g_object_ref(load);
        a->rec = rec;
        (*(guint *) g_task_get_task_data(load))++;
        qemu_process_attach_async((pid_t) pid, rec->uuid, monitor, NULL, on_recovered_attach, a);
}

static void load_definitions(Registry *r) {
        g_autoptr(GDir) dir = g_dir_open(r->domains_dir, 0, NULL);
        const char *entry;

        while (dir && (entry = g_dir_read_name(dir))) {
                g_autofree char *path = g_build_filename(r->domains_dir, entry, NULL);
                g_autofree char *xml = NULL;
                g_autoptr(GError) error = NULL;
                g_autoptr(DomainDef) def = NULL;

                if (!g_str_has_suffix(entry, ".xml"))
                        continue;
                if (!g_file_get_contents(path, &xml, NULL, &error) ||
                    !(def = domain_def_parse(xml, -1, &error))) {
                        g_warning("Failed to load definition %s: %s, ignoring", path, error->message);
                        continue;
                }
                if (g_hash_table_contains(r->by_uuid, def->uuid) ||
                    g_hash_table_contains(r->by_name, def->name)) {
                        g_warning("Definition %s repeats domain '%s', ignoring", path, def->name);
                        continue;
                }
                add_domain(r, domain_new(r, g_steal_pointer(&def)));
        }
}

void registry_load_async(Registry *r, GAsyncReadyCallback callback, gpointer user_data) {
        GTask *task = g_task_new(NULL, NULL, callback, user_data);
        g_autoptr(GDir) dir = NULL;
        const char *entry;

        /* One count for this function itself, so that fast failures cannot
         * complete the load before every guest has been looked at. */
        g_task_set_task_data(task, g_new0(guint, 1), g_free);
        (*(guint *) g_task_get_task_data(task))++;
        load_definitions(r);
        dir = g_dir_open(r->status_dir, 0, NULL);
        while (dir && (entry = g_dir_read_name(dir))) {
                g_autofree char *path = g_build_filename(r->status_dir, entry, NULL);
                if (g_str_has_suffix(entry, ".json"))
                        recover_guest(r, task, path);
        }
        load_step_done(task);
}

gboolean registry_load_finish(Registry *r, GAsyncResult *result, GError **error) {
        return g_task_propagate_boolean(G_TASK(result), error);
}
