#include <string.h>

#include "command-line-test.h"

GStrv command_line_build(const char *xml, const QemuCommandOptions *extra, GError **error) {
        g_autoptr(GError) parse_error = NULL;
        g_autoptr(DomainDef) def = domain_def_parse(xml, -1, &parse_error);

        g_assert_no_error(parse_error);
        return command_line_build_def(def, extra, error);
}

GStrv command_line_build_def(const DomainDef *def, const QemuCommandOptions *extra, GError **error) {
        QemuCommandOptions options = extra ? *extra : (QemuCommandOptions) { 0 };

        options.binary = "/usr/bin/qemu-system-x86_64";
        options.monitor_fd = 3;
        return qemu_command_build(def, &options, error);
}

gboolean argv_has_pair(GStrv argv, const char *option, const char *value) {
        for (guint i = 0; argv[i] && argv[i + 1]; i++)
                if (g_str_equal(argv[i], option) && g_str_equal(argv[i + 1], value))
                        return TRUE;
        return FALSE;
}

gboolean argv_has_option(GStrv argv, const char *option) {
        return g_strv_contains((const char *const *) argv, option);
}

guint argv_count_option(GStrv argv, const char *option) {
        guint n = 0;

        for (guint i = 0; argv[i]; i++)
                n += g_str_equal(argv[i], option);
        return n;
}

gboolean argv_mentions(GStrv argv, const char *needle) {
        for (guint i = 0; argv[i]; i++)
                if (strstr(argv[i], needle))
                        return TRUE;
        return FALSE;
}
