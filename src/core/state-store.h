/* What this host keeps on disk under its state directory: the persistent
 * definitions (STATE/domains/NAME.xml) and the live status of running
 * guests (STATE/status/UUID.json, with a migration job's journal), each
 * file replaced atomically. Failures are MD_ERROR_INTERNAL naming the path
 * and the cause. No domain, no loop: records in, records out. */
#pragma once

#include <json-glib/json-glib.h>

#include "domain-def.h"

typedef struct StateStore StateStore;

/* Creates STATE/domains and STATE/status where missing. */
StateStore *state_store_new(const char *state_dir, GError **error);

/* Creates @path and its parents (mode 0700) if missing; MD_ERROR_INTERNAL
 * naming the path and the errno text otherwise. */
gboolean state_store_make_dir(const char *path, GError **error);
void state_store_free(StateStore *store);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(StateStore, state_store_free)

/* ---- Definitions ---- */

/* Synced before it replaces the old file: a definition survives a power cut. */
gboolean state_store_save_definition(StateStore *store, const DomainDef *def, GError **error);
/* Removing one that is not there is no error. */
gboolean state_store_remove_definition(StateStore *store, const char *name, GError **error);
/* Every definition on disk (DomainDef*, owned by the array); files that do
 * not parse are logged and skipped. */
GPtrArray *state_store_load_definitions(StateStore *store);

/* ---- Status of running guests ---- */

/* Adds the members of a migration job's journal to the record. */
typedef void (*StateStoreJournalFunc)(JsonBuilder *builder, gconstpointer journal_data);

typedef struct {
        gint64 pid;                          /* 0 when starting: not spawned yet (the key is left out) */
        const char *state;                   /* "running", "paused" */
        const char *reason;                  /* StateReason */
        StateStoreJournalFunc write_journal; /* NULL: the guest has no job */
        gconstpointer journal_data;
        const DomainDef *live;               /* what QEMU runs with */
        gboolean starting;                   /* spawned, its monitor not up yet */
} StatusRecord;

/* The record as it is written (JSON); exported for tests. */
char *state_store_format_status(const StatusRecord *record);
/* Replaced by rename, not synced (see state-store.c). */
gboolean state_store_save_status(StateStore *store, const char *uuid, const StatusRecord *record,
                                 GError **error);
/* Logs a failure: a stale file is found gone by the next start. */
void state_store_remove_status(StateStore *store, const char *uuid);

/* A status record read back after a restart. */
typedef struct {
        char *path;
        gint64 pid;                          /* 0: starting, no QEMU spawned yet */
        DomainDef *live;
        char *state;                         /* as saved, nullable */
        char *reason;                        /* as saved, nullable */
        gboolean starting;                   /* QEMU had not finished starting */
        JsonObject *object;                  /* the whole record, for the job's journal */
} StatusFile;

void status_file_free(StatusFile *file);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(StatusFile, status_file_free)

/* Reads one record; a damaged one is an error naming the path. */
StatusFile *state_store_read_status_file(const char *path, GError **error);
/* Every readable status record (StatusFile*, owned by the array); damaged
 * ones are logged and skipped. */
GPtrArray *state_store_load_status(StateStore *store);
