/* The supported subset of libvirt's domain XML, as a whitelist of element
 * paths and their attributes (domain-schema.c). Used by domain-def.c only. */
#pragma once

#include <glib.h>
#include <libxml/tree.h>

/* Checks every node of @doc against the whitelist. Anything outside it is
 * MD_ERROR_UNSUPPORTED naming it XPath-like ("/domain/devices/interface",
 * "/domain/devices/disk/@type='dir'"); a wrong root element, a repeated
 * singleton or stray text is MD_ERROR_INVALID_XML.
 *
 * On success the document is also normalised: whitespace-only text between
 * elements is removed, so that formatting indents it the same way every
 * time (parse(format(x)) gives identical text). */
gboolean domain_schema_check(xmlDoc *doc, GError **error);

/* Returns a copy of @s (valid UTF-8, or NULL for "") fit for an error
 * message: at most 64 characters, then "…", control characters replaced.
 * The model's quoting of user input (migration parameters use it too). */
char *domain_schema_quote(const char *s);
