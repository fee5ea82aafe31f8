/* What the QEMU command line's unit tests share: building one with the
 * tests' binary and monitor fd, and looking into it. */
#pragma once

#include "domain-def.h"
#include "qemu-command.h"

/* The command line of @xml, which must parse, with @extra's options (NULL: none). */
GStrv command_line_build(const char *xml, const QemuCommandOptions *extra, GError **error);
GStrv command_line_build_def(const DomainDef *def, const QemuCommandOptions *extra, GError **error);

/* @option followed by @value. */
gboolean argv_has_pair(GStrv argv, const char *option, const char *value);
gboolean argv_has_option(GStrv argv, const char *option);
guint argv_count_option(GStrv argv, const char *option);
/* Some argument contains @needle. */
gboolean argv_mentions(GStrv argv, const char *needle);
