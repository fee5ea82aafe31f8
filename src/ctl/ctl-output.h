/* migrationctl: tables for humans, JSON for machines. */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

typedef struct CtlTable CtlTable;

/* A table with the given column headers (NULL-terminated). */
CtlTable *ctl_table_new(const char *first_header, ...) G_GNUC_NULL_TERMINATED;
/* Adds a row; takes one string per column. */
void ctl_table_add_row(CtlTable *table, const char *first_cell, ...) G_GNUC_NULL_TERMINATED;
void ctl_table_print(const CtlTable *table);
void ctl_table_free(CtlTable *table);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CtlTable, ctl_table_free)

/* Prints "label: value" lines with the labels right-aligned to @label_width. */
void ctl_print_field(int label_width, const char *label, const char *format, ...) G_GNUC_PRINTF(3, 4);

/* Prints @node on stdout: indented on a terminal, one line otherwise. */
void ctl_json_print(JsonNode *node);
/* Prints a{sv} @dict as one JSON object (property names as keys). */
void ctl_json_print_variant(GVariant *dict);
