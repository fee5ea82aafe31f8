#include "ctl-output.h"

#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

struct CtlTable {
        guint n_columns;
        GPtrArray *rows;        /* GStrv, the first one holds the headers */
};

static GStrv collect_cells(const char *first, va_list ap) {
        g_autoptr(GStrvBuilder) cells = g_strv_builder_new();

        for (const char *cell = first; cell; cell = va_arg(ap, const char *))
                g_strv_builder_add(cells, cell);
        return g_strv_builder_end(cells);
}

CtlTable *ctl_table_new(const char *first_header, ...) {
        CtlTable *table = g_new0(CtlTable, 1);
        GStrv headers;
        va_list ap;

        va_start(ap, first_header);
        headers = collect_cells(first_header, ap);
        va_end(ap);

        table->n_columns = g_strv_length(headers);
        table->rows = g_ptr_array_new_with_free_func((GDestroyNotify) g_strfreev);
        g_ptr_array_add(table->rows, headers);
        return table;
}

void ctl_table_add_row(CtlTable *table, const char *first_cell, ...) {
        GStrv cells;
        va_list ap;

        va_start(ap, first_cell);
        cells = collect_cells(first_cell, ap);
        va_end(ap);

        g_return_if_fail(g_strv_length(cells) == table->n_columns);
        g_ptr_array_add(table->rows, cells);
}

void ctl_table_print(const CtlTable *table) {
        g_autofree int *widths = g_new0(int, table->n_columns);

        for (guint i = 0; i < table->rows->len; i++) {
                GStrv cells = g_ptr_array_index(table->rows, i);

                for (guint c = 0; c < table->n_columns; c++)
                        widths[c] = MAX(widths[c], (int) g_utf8_strlen(cells[c], -1));
        }

        for (guint i = 0; i < table->rows->len; i++) {
                GStrv cells = g_ptr_array_index(table->rows, i);

                for (guint c = 0; c < table->n_columns; c++) {
                        gboolean last = c + 1 == table->n_columns;
                        int padding = widths[c] - (int) g_utf8_strlen(cells[c], -1);

                        if (last)
                                printf("%s\n", cells[c]);
                        else
                                printf("%s%*s  ", cells[c], padding, "");
                }
        }
}

void ctl_table_free(CtlTable *table) {
        if (!table)
                return;
        g_ptr_array_unref(table->rows);
        g_free(table);
}

void ctl_print_field(int label_width, const char *label, const char *format, ...) {
        g_autofree char *value = NULL;
        va_list ap;

        va_start(ap, format);
        value = g_strdup_vprintf(format, ap);
        va_end(ap);

        /* By characters, not bytes: labels are translated. */
        printf("%*s%s: %s\n", MAX(label_width - (int) g_utf8_strlen(label, -1), 0), "", label, value);
}

void ctl_json_print(JsonNode *node) {
        g_autoptr(JsonGenerator) generator = json_generator_new();
        g_autofree char *text = NULL;

        json_generator_set_pretty(generator, isatty(STDOUT_FILENO));
        json_generator_set_root(generator, node);
        text = json_generator_to_data(generator, NULL);
        printf("%s\n", text);
}

void ctl_json_print_variant(GVariant *dict) {
        g_autoptr(JsonNode) node = json_gvariant_serialize(dict);

        ctl_json_print(node);
}
