/* The devices of a domain definition: character devices (disks:
 * domain-def-disks.c), read from <devices>, and what changes them in the
 * document. */
#include <string.h>

#include "domain-def.h"
#include "domain-def-private.h"
#include "domain-xml.h"
#include "i18n.h"

static const char *const chardev_type_table[_DOMAIN_CHARDEV_MAX] = {
        [DOMAIN_CHARDEV_FILE] = "file",
        [DOMAIN_CHARDEV_PTY] = "pty",
        [DOMAIN_CHARDEV_UNIX] = "unix",
        [DOMAIN_CHARDEV_NULL] = "null",
};

const char *domain_chardev_type_to_string(DomainChardevType type) {
        if ((unsigned) type >= _DOMAIN_CHARDEV_MAX)
                return NULL;
        return chardev_type_table[type];
}

static DomainChardevType chardev_type_from_string(const char *s) {
        for (int i = 0; i < _DOMAIN_CHARDEV_MAX; i++)
                if (g_strcmp0(chardev_type_table[i], s) == 0)
                        return i;
        return _DOMAIN_CHARDEV_INVALID;
}

static void chardev_free(DomainChardev *chr) {
        g_free(chr->path);
        g_free(chr->target_type);
        g_free(chr->log_file);
        g_free(chr);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC(DomainChardev, chardev_free)

void domain_def_devices_init(DomainDef *def) {
        def->disks = g_ptr_array_new_with_free_func((GDestroyNotify) domain_disk_free);
        def->chardevs = g_ptr_array_new_with_free_func((GDestroyNotify) chardev_free);
}

/* ---- Extracting ---- */

static gboolean extract_chardev(DomainDef *def, xmlNode *node, GError **error) {
        const char *what = (const char *) node->name;
        g_autofree char *type = domain_xml_prop(node, "type") ?: g_strdup("pty");   /* libvirt's default */
        xmlNode *source = domain_xml_child(node, "source");
        xmlNode *log = domain_xml_child(node, "log");
        g_autofree char *append = domain_xml_prop(source, "append");
        g_autofree char *mode = domain_xml_prop(source, "mode");
        g_autofree char *log_append = domain_xml_prop(log, "append");
        g_autoptr(DomainChardev) chr = g_new0(DomainChardev, 1);

        chr->type = chardev_type_from_string(type);
        if (chr->type == _DOMAIN_CHARDEV_INVALID)
                return TRUE;    /* tcp: kept in the document only */

        if (chr->type == DOMAIN_CHARDEV_FILE || chr->type == DOMAIN_CHARDEV_UNIX) {
                chr->path = domain_xml_prop(source, "path");
                if (!chr->path || !*chr->path)
                        return domain_xml_invalid(error, source ?: node, _("/domain/devices/%s/source/@path is missing (a %s of type '%s' needs one)"),
                                                  what, what, type);
        }
        chr->append = chr->type == DOMAIN_CHARDEV_FILE && g_strcmp0(append, "on") == 0;
        chr->unix_server = chr->type == DOMAIN_CHARDEV_UNIX && g_strcmp0(mode, "bind") == 0;
        chr->target_type = domain_xml_prop(domain_xml_child(node, "target"), "type");
        chr->is_console = strcmp(what, "console") == 0;
        if (log) {
                chr->log_file = domain_xml_prop(log, "file");
                if (!chr->log_file || !*chr->log_file)
                        return domain_xml_invalid(error, log, _("/domain/devices/%s/log/@file is missing"), what);
                chr->log_append = g_strcmp0(log_append, "on") == 0;
        }
        chr->node = node;

        g_ptr_array_add(def->chardevs, g_steal_pointer(&chr));
        return TRUE;
}

gboolean domain_def_extract_devices(DomainDef *def, xmlNode *root, GError **error) {
        xmlNode *devices = domain_xml_child(root, "devices");
        xmlNode *emulator = domain_xml_child(devices, "emulator");

        def->emulator = domain_xml_text(emulator);
        if (def->emulator && !*g_strstrip(def->emulator))
                return domain_xml_invalid(error, emulator, _("/domain/devices/emulator must not be empty"));

        for (xmlNode *n = devices ? devices->children : NULL; n; n = n->next) {
                if (n->type != XML_ELEMENT_NODE)
                        continue;
                if (xmlStrEqual(n->name, BAD_CAST "disk") && !domain_def_extract_disk(def, n, error))
                        return FALSE;
                if (xmlStrEqual(n->name, BAD_CAST "serial") && !extract_chardev(def, n, error))
                        return FALSE;
        }
        /* Serials first, then consoles, so that index 0 is the first serial port. */
        for (xmlNode *n = devices ? devices->children : NULL; n; n = n->next)
                if (n->type == XML_ELEMENT_NODE && xmlStrEqual(n->name, BAD_CAST "console") &&
                    !extract_chardev(def, n, error))
                        return FALSE;
        return TRUE;
}

/* ---- Changing and inspecting ---- */

gboolean domain_def_set_chardev_path(DomainDef *def, guint index, const char *path) {
        g_return_val_if_fail(def && path && *path, FALSE);

        for (guint i = 0; i < def->chardevs->len; i++) {
                DomainChardev *chr = g_ptr_array_index(def->chardevs, i);
                DomainChardev *edited;
                DomainDef *edit;
                xmlDoc *doc;

                if (chr->type != DOMAIN_CHARDEV_FILE || index-- > 0)
                        continue;
                /* The text read again has the same chardevs, in the same order. */
                edit = domain_def_edit_begin(def, &doc);
                edited = g_ptr_array_index(edit->chardevs, i);
                /* A file chardev always has <source path=...>: extraction requires it. */
                xmlSetProp(domain_xml_child(edited->node, "source"), BAD_CAST "path", BAD_CAST path);
                domain_def_edit_end(def, edit, doc);
                g_free(chr->path);
                chr->path = g_strdup(path);
                return TRUE;
        }
        return FALSE;
}

gboolean domain_def_has_unsupported_runtime(const DomainDef *def, char **ret_what) {
        g_autoptr(xmlDoc) doc = NULL;
        g_autofree char *what = NULL;
        xmlNode *devices;

        g_return_val_if_fail(def && def->xml, FALSE);

        /* Only Start asks: reading the text again costs less than keeping the tree. */
        doc = domain_def_read_again(def);
        devices = domain_xml_child(xmlDocGetRootElement(doc), "devices");
        for (xmlNode *n = devices ? devices->children : NULL; n; n = n->next) {
                g_autofree char *type = NULL;

                if (n->type != XML_ELEMENT_NODE)
                        continue;
                type = domain_xml_prop(n, "type");
                if (xmlStrEqual(n->name, BAD_CAST "disk") && type && strcmp(type, "file") != 0) {
                        g_autofree char *dev = domain_xml_prop(domain_xml_child(n, "target"), "dev");
                        if (ret_what)
                                *ret_what = g_strdup_printf("/domain/devices/disk/@type='%s' (target %s)",
                                                            type, dev);
                        return TRUE;
                }
                if ((xmlStrEqual(n->name, BAD_CAST "serial") || xmlStrEqual(n->name, BAD_CAST "console")) &&
                    type && chardev_type_from_string(type) == _DOMAIN_CHARDEV_INVALID) {
                        if (ret_what)
                                *ret_what = g_strdup_printf("/domain/devices/%s/@type='%s'",
                                                            (const char *) n->name, type);
                        return TRUE;
                }
        }
        if (domain_def_find_not_implemented(def, doc, &what)) {
                if (ret_what)
                        *ret_what = g_steal_pointer(&what);
                return TRUE;
        }
        if (ret_what)
                *ret_what = NULL;
        return FALSE;
}
