/* Translatable user-facing messages (bus error messages) of the core.
 * _() looks the string up in GETTEXT_PACKAGE's catalogue, which the
 * program's main() binds (bindtextdomain); unbound, as in the unit tests,
 * it returns the English original. Only whole sentences are marked, never
 * pieces glued together. */
#pragma once

#include "config.h"             /* GETTEXT_PACKAGE, before gi18n-lib.h needs it */

#include <glib/gi18n-lib.h>
