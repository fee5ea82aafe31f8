/* json-glib 1.6 recurses once per nesting level without a limit (64 KiB of
 * '[' take over 6 MiB of stack, more than a thread may have), and it takes
 * more than JSON: single-quoted strings, comments, hex numbers, and escapes
 * after which it swallows the closing quote. After the top-level value it
 * parses another one and leaks its tree, even when it then fails
 * ("4{...}", "{} []", or a lone surrogate that shifts where it thinks the
 * object ends). So before it parses, refuse what is not JSON at the lexical
 * level, count the nesting and refuse anything after the top-level value:
 * once '"' is the only string delimiter and escapes are standard, the
 * brackets counted here are the ones json-glib sees. */
#define G_LOG_DOMAIN "migrationd"

#include <stdarg.h>
#include <string.h>

#include "json-input.h"

#define WHITESPACE " \t\n\r"
#define STRUCTURAL_CHARS "\"[]{},:"
/* Numbers, true, false and null: outside strings, the only other characters. */
#define LITERAL_CHARS "-+.0123456789eEtrufalsn"

static G_GNUC_PRINTF(2, 3) gboolean refuse(char **ret_problem, const char *format, ...) {
        va_list ap;

        va_start(ap, format);
        *ret_problem = g_strdup_vprintf(format, ap);
        va_end(ap);
        return FALSE;
}

static gboolean is_one_of(char c, const char *set) {
        return c != '\0' && strchr(set, c);
}

/* Returns the code point of the \uXXXX escape at @p, or -1. */
static int unicode_escape(const char *p, const char *end) {
        int code = 0;

        if (end - p < 6 || p[0] != '\\' || p[1] != 'u')
                return -1;
        for (int i = 2; i < 6; i++) {
                int digit = g_ascii_xdigit_value(p[i]);

                if (digit < 0)
                        return -1;
                code = code * 16 + digit;
        }
        return code;
}

/* Moves *i from the opening quote of a string to its closing quote. */
static gboolean skip_string(const char *data, gsize len, gsize *i, char **ret_problem) {
        const char *end = data + len, *p = data + *i + 1;

        while (p < end) {
                guchar c = *p;
                int code, low;

                if (c == '"') {
                        *i = p - data;
                        return TRUE;
                }
                if (c < 0x20)
                        return refuse(ret_problem, "a control character in a string at byte %zu",
                                      (gsize) (p - data));
                if (c != '\\') {
                        p++;
                        continue;
                }
                if (p + 1 < end && is_one_of(p[1], "\"\\/bfnrt")) {
                        p += 2;
                        continue;
                }
                code = unicode_escape(p, end);
                if (code < 0)
                        return refuse(ret_problem, "an invalid escape sequence at byte %zu",
                                      (gsize) (p - data));
                if (code == 0)
                        return refuse(ret_problem, "a NUL character (\\u0000) in a string at byte %zu",
                                      (gsize) (p - data));
                if (code >= 0xd800 && code <= 0xdfff) {
                        low = code <= 0xdbff ? unicode_escape(p + 6, end) : -1;
                        if (low < 0xdc00 || low > 0xdfff)
                                return refuse(ret_problem, "an unpaired UTF-16 surrogate at byte %zu",
                                              (gsize) (p - data));
                        p += 6;
                }
                p += 6;
        }
        return refuse(ret_problem, "a string is not terminated");
}

gboolean json_input_check(const char *data, gsize len, unsigned max_depth, char **ret_problem) {
        unsigned depth = 0;
        gboolean ended = FALSE;

        for (gsize i = 0; i < len; i++) {
                char c = data[i];

                if (is_one_of(c, WHITESPACE))
                        continue;
                if (!is_one_of(c, STRUCTURAL_CHARS LITERAL_CHARS))
                        return refuse(ret_problem, "an unexpected character at byte %zu", i);
                if (ended)
                        return refuse(ret_problem, "data after the top-level value at byte %zu", i);
                switch (c) {
                case '"':
                        if (!skip_string(data, len, &i, ret_problem))
                                return FALSE;
                        ended = depth == 0;
                        break;
                case '[':
                case '{':
                        if (++depth > max_depth)
                                return refuse(ret_problem, "arrays and objects nested more than %u levels "
                                              "deep (at byte %zu)", max_depth, i);
                        break;
                case ']':
                case '}':
                        if (depth == 0)
                                return refuse(ret_problem, "an unbalanced '%c' at byte %zu", c, i);
                        /* A mismatched one is left for json-glib to report. */
                        ended = --depth == 0;
                        break;
                case ',':
                case ':':
                        if (depth == 0)
                                return refuse(ret_problem, "an unexpected '%c' at byte %zu", c, i);
                        break;
                default:
                        /* A number or literal as the top-level value ends
                         * with its last character (json-glib says which). */
                        if (depth == 0) {
                                while (i + 1 < len && is_one_of(data[i + 1], LITERAL_CHARS))
                                        i++;
                                ended = TRUE;
                        }
                }
        }
        return TRUE;
}
