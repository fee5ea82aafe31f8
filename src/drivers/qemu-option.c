/* QEMU's comma-separated option syntax, shared by qemu-command.c and its
 * devices' files. */
#include <string.h>

#include "qemu-option.h"

char *qemu_option_escape(const char *value) {
        GString *s = g_string_sized_new(strlen(value) + 8);

        for (const char *p = value; *p; p++) {
                g_string_append_c(s, *p);
                if (*p == ',')
                        g_string_append_c(s, ',');
        }
        return g_string_free(s, FALSE);
}
