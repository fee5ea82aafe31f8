/* A migration job's journal in the guest's status record (state-store.c):
 * written with every change of the job, read back after a restart for the
 * recovery rules (recovery.c, docs/recovery.md). */
#define G_LOG_DOMAIN "migrationd"

#include <math.h>

#include "migration-job.h"

void migration_journal_write(JsonBuilder *b, const MigrationJob *job) {
        json_builder_set_member_name(b, "job_type");
        json_builder_add_string_value(b, job_type_to_string(job->type));
        json_builder_set_member_name(b, "job_phase");
        json_builder_add_string_value(b, job_phase_to_string(job->phase));
        json_builder_set_member_name(b, "job_flags");
        json_builder_add_int_value(b, job->params ? job->params->flags : 0);
        json_builder_set_member_name(b, "job_postcopy");
        json_builder_add_boolean_value(b, job->postcopy);
        if (job->type == JOB_TYPE_MIGRATION_OUT) {
                json_builder_set_member_name(b, "job_postcopy_requested");
                json_builder_add_boolean_value(b, job->postcopy_requested);
                json_builder_set_member_name(b, "job_protocol");
                json_builder_add_int_value(b, job->protocol);
        }
        /* Outgoing: the user had paused the guest; a failure must leave it paused. */
        json_builder_set_member_name(b, "paused_before");
        json_builder_add_boolean_value(b, job->paused_before);
        /* A restored job's JobProgress goes on from here, never back to 0. */
        json_builder_set_member_name(b, "job_progress");
        json_builder_add_double_value(b, job->progress.percent);
        if (job->owner) {
                json_builder_set_member_name(b, "job_owner");
                json_builder_add_string_value(b, job->owner);
        }
        if (job->params && job->params->destination_name) {
                json_builder_set_member_name(b, "job_destination_name");
                json_builder_add_string_value(b, job->params->destination_name);
        }
        /* Incoming storage migration: what to remove if a restart abandons the job. */
        if (job->storage_created && job->storage_created->len) {
                json_builder_set_member_name(b, "job_storage_created");
                json_builder_begin_array(b);
                for (guint i = 0; i < job->storage_created->len; i++)
                        json_builder_add_string_value(b, job->storage_created->pdata[i]);
                json_builder_end_array(b);
        }
}

/* The absolute paths of member @name (an array of strings); anything else
 * in it is skipped (a damaged record must not name a relative path). */
static GStrv read_paths(JsonObject *o, const char *name) {
        g_autoptr(GStrvBuilder) b = g_strv_builder_new();
        JsonNode *node = json_object_get_member(o, name);
        JsonArray *array;

        if (!node || !JSON_NODE_HOLDS_ARRAY(node))
                return NULL;
        array = json_node_get_array(node);
        for (guint i = 0; i < json_array_get_length(array); i++) {
                JsonNode *e = json_array_get_element(array, i);

                if (JSON_NODE_HOLDS_VALUE(e) && json_node_get_value_type(e) == G_TYPE_STRING &&
                    g_path_is_absolute(json_node_get_string(e)))
                        g_strv_builder_add(b, json_node_get_string(e));
        }
        return g_strv_builder_end(b);
}

/* Member @name as a number from 0 to 99 (a running job's JobProgress);
 * 0 when absent or not a number. */
static double read_progress(JsonObject *o, const char *name) {
        JsonNode *node = json_object_get_member(o, name);
        double value;

        if (!node || !JSON_NODE_HOLDS_VALUE(node))
                return 0;
        if (json_node_get_value_type(node) == G_TYPE_DOUBLE)
                value = json_node_get_double(node);
        else if (json_node_get_value_type(node) == G_TYPE_INT64)
                value = (double) json_node_get_int(node);
        else
                return 0;
        return isfinite(value) ? CLAMP(value, 0, 99) : 0;
}

void migration_journal_read(MigrationJournal *j, JsonObject *o) {
        const char *type = json_object_get_string_member_with_default(o, "job_type", NULL);
        gint64 flags = json_object_get_int_member_with_default(o, "job_flags", 0);

        *j = (MigrationJournal) { .type = JOB_TYPE_NONE, .phase = JOB_PHASE_NONE };
        if (!type)
                return;
        j->type = job_type_from_string(type);
        j->phase = job_phase_from_string(json_object_get_string_member_with_default(o, "job_phase", NULL));
        j->flags = (guint) CLAMP(flags, 0, G_MAXUINT32);
        j->postcopy = json_object_get_boolean_member_with_default(o, "job_postcopy", FALSE);
        j->postcopy_requested = json_object_get_boolean_member_with_default(o, "job_postcopy_requested", FALSE);
        j->protocol = json_object_get_int_member_with_default(o, "job_protocol", 3) == 2 ? 2 : 3;
        j->paused_before = json_object_get_boolean_member_with_default(o, "paused_before", FALSE);
        j->owner = g_strdup(json_object_get_string_member_with_default(o, "job_owner", NULL));
        j->destination_name = g_strdup(json_object_get_string_member_with_default(o, "job_destination_name", NULL));
        j->storage_created = read_paths(o, "job_storage_created");
        j->progress = read_progress(o, "job_progress");
}

void migration_journal_clear(MigrationJournal *j) {
        g_clear_pointer(&j->owner, g_free);
        g_clear_pointer(&j->destination_name, g_free);
        g_clear_pointer(&j->storage_created, g_strfreev);
}

