/* What domain-def.c and domain-def-devices.c share: small libxml2 helpers
 * for reading the definition, and the devices' part of extraction. Not for
 * use outside these files. */
#pragma once

#include <glib.h>
#include <libxml/tree.h>

#include "domain-def.h"

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

/* One <disk> of <devices> into def->disks (type='file' only): domain-def-disks.c. */
gboolean domain_def_extract_disk(DomainDef *def, xmlNode *node, GError **error);
void domain_disk_free(DomainDisk *disk);

/* The empty disk and chardev lists of a new definition. */
void domain_def_devices_init(DomainDef *def);
/* Disks and serial ports, then consoles, from <devices> of @root. */
gboolean domain_def_extract_devices(DomainDef *def, xmlNode *root, GError **error);

/* The peripherals (domain-def-peripherals.c): empty lists, freeing, and
 * interfaces, displays, channels, RNG, USB tablet from <devices> of @root. */
void domain_def_peripherals_init(DomainDef *def);
void domain_def_peripherals_clear(DomainDef *def);
gboolean domain_def_extract_peripherals(DomainDef *def, xmlNode *root, GError **error);
/* A unicast MAC address, any case, into lower case; FALSE if it is none. */
gboolean domain_mac_parse(const char *s, char ret_mac[18]);
