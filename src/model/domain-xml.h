/* Small libxml2 helpers for reading a domain definition (domain-def.c and
 * its devices' files). Not for use outside src/model. */
#pragma once

#include <glib.h>
#include <libxml/tree.h>

/* Sets MD_ERROR_INVALID_XML "Invalid domain XML at line N: ..."; returns FALSE. */
G_GNUC_PRINTF(3, 4) gboolean domain_xml_invalid(GError **error, xmlNode *node, const char *fmt, ...);
/* The first child element called @name; NULL-safe. The schema has already
 * refused repeated singletons, so the first match is the one. */
xmlNode *domain_xml_child(xmlNode *parent, const char *name);
/* The text content ("" for none), or NULL without @node. */
char *domain_xml_text(xmlNode *node);
/* An attribute without namespace, or NULL. */
char *domain_xml_prop(xmlNode *node, const char *name);
/* xmlNodeSetContent() would interpret '&' in @text as an entity reference. */
void domain_xml_set_text(xmlNode *node, const char *text);
