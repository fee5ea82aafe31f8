/* JSON from a peer (a migration cookie, a QMP line), checked before
 * json-glib parses it. */
#pragma once

#include <glib.h>

/* Refuses what json-glib 1.6 would mis-parse, recurse on without bound or
 * leak: anything after the top-level value, nesting deeper than @max_depth,
 * and what is not plain JSON at the lexical level. @data is valid UTF-8 (the
 * caller checks that first). On refusal, *@ret_problem says what was found
 * where ("data after the top-level value at byte 1"), for the caller's
 * message. This reads no values: json-glib parses. */
gboolean json_input_check(const char *data, gsize len, unsigned max_depth, char **ret_problem);
