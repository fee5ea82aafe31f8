#define G_LOG_DOMAIN "migrationd"

#include <errno.h>
#include <glib/gstdio.h>

#include "i18n.h"
#include "md-error.h"
#include "state-store.h"

struct StateStore {
        char *domains_dir;
        char *status_dir;
};

gboolean state_store_make_dir(const char *path, GError **error) {
        if (g_mkdir_with_parents(path, 0700) < 0) {
                int saved = errno;
                g_set_error(error, MD_ERROR, MD_ERROR_INTERNAL, _("Failed to create directory %s: %s"), path,
                            g_strerror(saved));
                return FALSE;
        }
        return TRUE;
}

StateStore *state_store_new(const char *state_dir, GError **error) {
        g_autoptr(StateStore) store = g_new0(StateStore, 1);

        store->domains_dir = g_build_filename(state_dir, "domains", NULL);
        store->status_dir = g_build_filename(state_dir, "status", NULL);
        if (!state_store_make_dir(store->domains_dir, error) || !state_store_make_dir(store->status_dir, error))
                return NULL;
        return g_steal_pointer(&store);
}

void state_store_free(StateStore *store) {
        if (!store)
                return;
        g_free(store->domains_dir);
        g_free(store->status_dir);
        g_free(store);
}

static char *definition_path(StateStore *store, const char *name) {
        g_autofree char *file = g_strconcat(name, ".xml", NULL);
        return g_build_filename(store->domains_dir, file, NULL);
}

static char *status_path(StateStore *store, const char *uuid) {
        g_autofree char *file = g_strconcat(uuid, ".json", NULL);
        return g_build_filename(store->status_dir, file, NULL);
}

static gboolean write_file(const char *path, const char *data, GFileSetContentsFlags flags, GError **error) {
        g_autoptr(GError) local = NULL;

        /* GLib's message names the file it failed on and the cause. */
        if (!g_file_set_contents_full(path, data, -1, flags, 0600, &local)) {
                g_set_error(error, MD_ERROR, MD_ERROR_INTERNAL, _("Failed to save %s: %s"), path,
                            local->message);
                return FALSE;
        }
        return TRUE;
}

static gboolean remove_file(const char *path, GError **error) {
        if (g_unlink(path) < 0 && errno != ENOENT) {
                int saved = errno;
                g_set_error(error, MD_ERROR, MD_ERROR_INTERNAL, _("Failed to remove %s: %s"), path,
                            g_strerror(saved));
                return FALSE;
        }
        return TRUE;
}

/* ---- Definitions ---- */

gboolean state_store_save_definition(StateStore *store, const DomainDef *def, GError **error) {
        g_autofree char *path = definition_path(store, def->name);
        g_autofree char *xml = domain_def_format(def);

        /* Synced before it replaces the old one (fsync of the file, then rename). */
        return write_file(path, xml, G_FILE_SET_CONTENTS_CONSISTENT, error);
}

gboolean state_store_remove_definition(StateStore *store, const char *name, GError **error) {
        g_autofree char *path = definition_path(store, name);

        return remove_file(path, error);
}

GPtrArray *state_store_load_definitions(StateStore *store) {
        GPtrArray *defs = g_ptr_array_new_with_free_func((GDestroyNotify) domain_def_free);
        g_autoptr(GDir) dir = g_dir_open(store->domains_dir, 0, NULL);
        const char *entry;

        while (dir && (entry = g_dir_read_name(dir))) {
                g_autofree char *path = g_build_filename(store->domains_dir, entry, NULL);
                g_autofree char *xml = NULL;
                g_autoptr(GError) error = NULL;
                DomainDef *def;

                if (!g_str_has_suffix(entry, ".xml"))
                        continue;
                if (!g_file_get_contents(path, &xml, NULL, &error) ||
                    !(def = domain_def_parse(xml, -1, &error))) {
                        g_warning("Failed to load definition %s: %s, ignoring", path, error->message);
                        continue;
                }
                g_ptr_array_add(defs, def);
        }
        return defs;
}

/* ---- Status of running guests ---- */

char *state_store_format_status(const StatusRecord *rec) {
        g_autoptr(JsonBuilder) b = json_builder_new();
        g_autoptr(JsonGenerator) gen = json_generator_new();
        g_autoptr(JsonNode) root = NULL;
        g_autofree char *xml = domain_def_format(rec->live);

        json_builder_begin_object(b);
        /* No pid: a Prepare's record of the images it is about to create,
         * before its QEMU is spawned. */
        if (rec->pid || !rec->starting) {
                json_builder_set_member_name(b, "pid");
                json_builder_add_int_value(b, rec->pid);
        }
        json_builder_set_member_name(b, "state");
        json_builder_add_string_value(b, rec->state);
        json_builder_set_member_name(b, "reason");
        json_builder_add_string_value(b, rec->reason);
        if (rec->starting) {
                json_builder_set_member_name(b, "starting");
                json_builder_add_boolean_value(b, TRUE);
        }
        /* The job journal: after a restart recovery restores or ends the job by it
         * (docs/recovery.md). */
        if (rec->write_journal)
                rec->write_journal(b, rec->journal_data);
        json_builder_set_member_name(b, "xml");
        json_builder_add_string_value(b, xml);
        json_builder_end_object(b);
        root = json_builder_get_root(b);
        json_generator_set_root(gen, root);
        return json_generator_to_data(gen, NULL);
}

gboolean state_store_save_status(StateStore *store, const char *uuid, const StatusRecord *rec,
                                 GError **error) {
        g_autofree char *path = status_path(store, uuid);
        g_autofree char *tmp = g_strconcat(path, ".new", NULL);
        g_autofree char *text = state_store_format_status(rec);

        /* Replaced by rename (a killed daemon leaves the old or the new
         * file), but not synced: a power cut takes the guests with it, and
         * the status of a guest that is gone is worth nothing. It is written
         * on every state change, some on the path of a migration's downtime,
         * where each fsync cost up to 20 ms (bench/overhead). */
        if (!write_file(tmp, text, G_FILE_SET_CONTENTS_NONE, error))
                return FALSE;
        if (g_rename(tmp, path) < 0) {
                int saved = errno;
                g_set_error(error, MD_ERROR, MD_ERROR_INTERNAL, _("Failed to save %s: %s"), path,
                            g_strerror(saved));
                return FALSE;
        }
        return TRUE;
}

void state_store_remove_status(StateStore *store, const char *uuid) {
        g_autofree char *path = status_path(store, uuid);
        g_autoptr(GError) error = NULL;

        if (!remove_file(path, &error))
                g_warning("%s, ignoring", error->message);
}

void status_file_free(StatusFile *file) {
        if (!file)
                return;
        g_free(file->path);
        domain_def_free(file->live);
        g_free(file->state);
        g_free(file->reason);
        g_clear_pointer(&file->object, json_object_unref);
        g_free(file);
}

/* Whether @obj has @name, a value of @type (json-glib's getters are
 * critical about other nodes, and convert between scalar types). */
static gboolean member_of_type(JsonObject *obj, const char *name, GType type) {
        JsonNode *node = json_object_get_member(obj, name);

        return node && JSON_NODE_HOLDS_VALUE(node) && json_node_get_value_type(node) == type;
}

StatusFile *state_store_read_status_file(const char *path, GError **error) {
        g_autoptr(JsonParser) parser = json_parser_new();
        g_autoptr(StatusFile) file = g_new0(StatusFile, 1);
        g_autoptr(GError) local = NULL;
        gboolean unspawned;
        JsonObject *obj;

        if (!json_parser_load_from_file(parser, path, &local) ||
            !JSON_NODE_HOLDS_OBJECT(json_parser_get_root(parser))) {
                g_set_error(error, MD_ERROR, MD_ERROR_INTERNAL, _("Failed to read guest status %s: %s"), path,
                            local ? local->message : _("not an object"));
                return NULL;
        }
        obj = json_node_get_object(json_parser_get_root(parser));
        file->path = g_strdup(path);
        file->object = json_object_ref(obj);
        file->pid = member_of_type(obj, "pid", G_TYPE_INT64) ? json_object_get_int_member(obj, "pid") : 0;
        file->starting = member_of_type(obj, "starting", G_TYPE_BOOLEAN) &&
                         json_object_get_boolean_member(obj, "starting");
        /* Only a starting record may lack a pid (none spawned yet); one
         * that is there is a real one. */
        unspawned = file->starting && !json_object_has_member(obj, "pid");
        file->live = domain_def_parse(json_object_get_string_member_with_default(obj, "xml", ""), -1, &local);
        if (!file->live || (!unspawned && (file->pid <= 0 || file->pid > G_MAXINT32))) {
                g_set_error(error, MD_ERROR, MD_ERROR_INTERNAL, _("Guest status %s is damaged: %s"), path,
                            local ? local->message : _("bad pid"));
                return NULL;
        }
        file->state = g_strdup(json_object_get_string_member_with_default(obj, "state", NULL));
        file->reason = g_strdup(json_object_get_string_member_with_default(obj, "reason", NULL));
        return g_steal_pointer(&file);
}

GPtrArray *state_store_load_status(StateStore *store) {
        GPtrArray *files = g_ptr_array_new_with_free_func((GDestroyNotify) status_file_free);
        g_autoptr(GDir) dir = g_dir_open(store->status_dir, 0, NULL);
        const char *entry;

        while (dir && (entry = g_dir_read_name(dir))) {
                g_autofree char *path = g_build_filename(store->status_dir, entry, NULL);
                g_autoptr(GError) error = NULL;
                StatusFile *file;

                if (!g_str_has_suffix(entry, ".json"))
                        continue;
                file = state_store_read_status_file(path, &error);
                if (!file) {
                        g_warning("%s, ignoring", error->message);
                        continue;
                }
                g_ptr_array_add(files, file);
        }
        return files;
}
