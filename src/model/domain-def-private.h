/* The devices' part of extraction, split over domain-def-devices.c,
 * domain-def-disks.c and domain-def-peripherals.c, for domain-def.c (the
 * libxml2 helpers all of them use are in domain-xml.h). Not for use outside
 * these files. */
#pragma once

#include <glib.h>
#include <libxml/tree.h>

#include "domain-def.h"

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

/* Numbers of the document (domain-def.c): @raw (surrounding blanks
 * allowed) as a decimal from @min to @max, and a size with libvirt's
 * @unit (NULL: KiB) in KiB, rounded up, at most 2^63-1 bytes. Errors are
 * MD_ERROR_INVALID_XML naming @path (the value) or @element_path/@unit. */
gboolean domain_def_parse_uint(xmlNode *node, const char *raw, guint64 min, guint64 max,
                               const char *path, guint64 *ret, GError **error);
gboolean domain_def_parse_size(xmlNode *node, const char *raw, const char *unit, const char *path,
                               const char *element_path, guint64 *ret_kib, GError **error);

/* <memoryBacking> of @root: allocation and huge pages (domain-def-memory.c). */
gboolean domain_def_extract_memory_backing(DomainDef *def, xmlNode *root, GError **error);

/* An edit of @def's document (domain-def.c): domain_def_edit_begin() reads
 * the canonical text again into a document and a second definition whose
 * node pointers point into it; the caller changes the document (and the
 * fields of @def itself), then domain_def_edit_end() formats the document
 * into @def->xml and frees both. @def's own fields and devices stay where
 * they are, so pointers to them remain valid. */
DomainDef *domain_def_edit_begin(const DomainDef *def, xmlDoc **ret_doc);
void domain_def_edit_end(DomainDef *def, DomainDef *edit, xmlDoc *doc);   /* @edit may be NULL */
/* A name QEMU takes inside an option string (a machine type, a CPU model
 * or feature, a channel's name): not empty, only letters, digits, '.', '_'
 * and '-', so that no comma or '=' adds options of its own. */
gboolean domain_def_is_plain_name(const char *name);

/* The document of @def's canonical text, which was accepted once. */
xmlDoc *domain_def_read_again(const DomainDef *def);

/* A setting of @doc (@def's document) that libvirt's QEMU driver carries
 * out and this one does not (domain-def-runtime.c): TRUE, with it named
 * XPath-like in @ret_what. */
gboolean domain_def_find_not_implemented(const DomainDef *def, xmlDoc *doc, char **ret_what);

/* What the machine is given besides memory and devices (domain-def-machine.c):
 * clock and timers. */
gboolean domain_def_extract_machine(DomainDef *def, xmlNode *root, GError **error);
