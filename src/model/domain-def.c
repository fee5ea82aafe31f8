/* Domain definitions: libvirt domain XML in, plain fields out.
 *
 * Three steps: libxml2 reads the document (no DTD, no entities, no network),
 * domain-schema.c refuses anything outside the supported subset, and
 * def_new_from_doc() extracts the fields and fills in what libvirt would
 * (a generated <uuid>). The document itself is kept for GetXMLDesc. */
#include <string.h>

#include <libxml/SAX2.h>
#include <libxml/parser.h>
#include <libxml/xmlsave.h>

#include "domain-def.h"
#include "domain-schema.h"
#include "md-error.h"

#if LIBXML_VERSION >= 21200
#define XML_ERROR_CONST const
#else
#define XML_ERROR_CONST
#endif

/* Deliberately without XML_PARSE_NOENT and XML_PARSE_DTDLOAD: entities are
 * never expanded and nothing outside the string is ever read. */
/* NODICT: a string dictionary per kept document was 40% of the daemon's
 * heap with 1,000 definitions (bench/scale). */
#define PARSE_OPTIONS (XML_PARSE_NONET | XML_PARSE_NOCDATA | XML_PARSE_BIG_LINES | \
                       XML_PARSE_IGNORE_ENC | XML_PARSE_NODICT)

G_DEFINE_AUTOPTR_CLEANUP_FUNC(xmlParserCtxt, xmlFreeParserCtxt)

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

static void disk_free(DomainDisk *disk) {
        g_free(disk->device);
        g_free(disk->source_file);
        g_free(disk->format);
        g_free(disk->target_dev);
        g_free(disk->target_bus);
        g_free(disk->cache);
        g_free(disk->io);
        g_free(disk);
}

static void chardev_free(DomainChardev *chr) {
        g_free(chr->path);
        g_free(chr->target_type);
        g_free(chr->log_file);
        g_free(chr);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC(DomainDisk, disk_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(DomainChardev, chardev_free)

void domain_def_free(DomainDef *def) {
        if (!def)
                return;
        if (def->doc)
                xmlFreeDoc(def->doc);
        g_free(def->virt_type);
        g_free(def->name);
        g_free(def->title);
        g_free(def->description);
        g_free(def->os_type);
        g_free(def->arch);
        g_free(def->machine);
        g_free(def->kernel);
        g_free(def->initrd);
        g_free(def->cmdline);
        g_free(def->emulator);
        if (def->disks)
                g_ptr_array_unref(def->disks);
        if (def->chardevs)
                g_ptr_array_unref(def->chardevs);
        g_free(def);
}

gboolean domain_name_is_valid(const char *name) {
        if (!name || name[0] == '\0' || name[0] == '.')
                return FALSE;
        if (strlen(name) > DOMAIN_NAME_MAX || !g_utf8_validate(name, -1, NULL))
                return FALSE;
        for (const char *p = name; *p; p = g_utf8_next_char(p)) {
                gunichar c = g_utf8_get_char(p);
                if (c == '/' || g_unichar_iscntrl(c))
                        return FALSE;
        }
        return TRUE;
}

/* ---- Reading the document ---- */

typedef struct {
        long line;
        char *message;          /* the first error; later ones tend to be echoes of it */
} ParseState;

static void parse_state_record(ParseState *state, long line, const char *message) {
        if (state->message)
                return;
        state->line = line;
        state->message = g_strchomp(g_utf8_make_valid(message ? message : "unknown error", -1));
        g_strdelimit(state->message, "\r\n\t", ' ');    /* one-line bus error messages */
}

static void on_parse_error(void *user_data, XML_ERROR_CONST xmlError *err) {
        xmlParserCtxt *ctxt = user_data;

        if (err->level >= XML_ERR_ERROR)
                parse_state_record(ctxt->_private, err->line, err->message);
}

/* Entities live in the DTD; refusing the DOCTYPE before its internal subset
 * is read rules out entity expansion bombs and external entities at once.
 * libvirt domain XML never carries one. */
static void on_doctype(void *user_data, const xmlChar *name, const xmlChar *external_id,
                       const xmlChar *system_id) {
        xmlParserCtxt *ctxt = user_data;

        parse_state_record(ctxt->_private, ctxt->input ? ctxt->input->line : 0,
                           "a DOCTYPE declaration is not allowed in domain XML");
        xmlStopParser(ctxt);
}

static xmlDoc *read_document(const char *xml, size_t size, GError **error) {
        g_autoptr(xmlParserCtxt) ctxt = xmlNewParserCtxt();
        xmlStructuredErrorFunc saved_handler = xmlStructuredError;
        void *saved_context = xmlStructuredErrorContext;
        ParseState state = {};
        g_autoptr(xmlDoc) doc = NULL;

        if (!ctxt)
                g_error("Failed to allocate an XML parser context");

        ctxt->_private = &state;
        ctxt->sax->serror = on_parse_error;
        ctxt->sax->internalSubset = on_doctype;
        ctxt->sax->externalSubset = on_doctype;
        /* Errors raised outside the parser context (encoding layer) go to the
         * thread's global handler: catch those too, instead of stderr. */
        xmlSetStructuredErrorFunc(ctxt, on_parse_error);
        doc = xmlCtxtReadMemory(ctxt, xml, (int) size, NULL, "UTF-8", PARSE_OPTIONS);
        xmlSetStructuredErrorFunc(saved_context, saved_handler);

        if (!doc && !state.message)
                parse_state_record(&state, 0, "not a well-formed XML document");
        if (state.message || !ctxt->wellFormed || !ctxt->nsWellFormed) {
                g_autofree char *message = state.message;
                if (!message)
                        message = g_strdup("not a well-formed XML document");
                if (state.line > 0)
                        g_set_error(error, MD_ERROR, MD_ERROR_INVALID_XML,
                                    "Invalid domain XML at line %ld: %s", state.line, message);
                else
                        g_set_error(error, MD_ERROR, MD_ERROR_INVALID_XML,
                                    "Invalid domain XML: %s", message);
                return NULL;
        }
        return g_steal_pointer(&doc);
}

/* ---- Extracting the fields ---- */

static G_GNUC_PRINTF(3, 4) gboolean invalid(GError **error, xmlNode *node, const char *fmt, ...) {
        g_autofree char *message = NULL;
        va_list ap;

        va_start(ap, fmt);
        message = g_strdup_vprintf(fmt, ap);
        va_end(ap);
        g_set_error(error, MD_ERROR, MD_ERROR_INVALID_XML, "Invalid domain XML at line %ld: %s",
                    xmlGetLineNo(node), message);
        return FALSE;
}

/* The schema has already refused repeated singletons, so the first match is the one. */
static xmlNode *child_element(xmlNode *parent, const char *name) {
        if (!parent)
                return NULL;
        for (xmlNode *n = parent->children; n; n = n->next)
                if (n->type == XML_ELEMENT_NODE && xmlStrEqual(n->name, BAD_CAST name))
                        return n;
        return NULL;
}

static char *text_of(xmlNode *node) {
        xmlChar *raw;
        char *s;

        if (!node)
                return NULL;
        raw = xmlNodeGetContent(node);
        s = g_strdup(raw ? (const char *) raw : "");
        xmlFree(raw);
        return s;
}

static char *prop_of(xmlNode *node, const char *name) {
        xmlChar *raw;
        char *s;

        if (!node)
                return NULL;
        raw = xmlGetNoNsProp(node, BAD_CAST name);
        s = g_strdup((const char *) raw);
        xmlFree(raw);
        return s;
}

/* xmlNodeSetContent() would interpret '&' in @text as an entity reference. */
static void node_set_text(xmlNode *node, const char *text) {
        xmlNodeSetContent(node, NULL);
        xmlNodeAddContent(node, BAD_CAST text);
}

/* libvirt's virScaleInteger(): "b"/"bytes", or k/M/G/T/P/E followed by
 * nothing or "iB" (powers of 1024) or "B" (powers of 1000), any case. */
static gboolean unit_scale(const char *unit, guint64 *ret_scale) {
        static const char prefixes[] = "kmgtpe";
        const char *p;
        guint64 base, scale = 1;

        if (!unit || !*unit) {
                *ret_scale = 1024;
                return TRUE;
        }
        if (g_ascii_strcasecmp(unit, "b") == 0 || g_ascii_strcasecmp(unit, "byte") == 0 ||
            g_ascii_strcasecmp(unit, "bytes") == 0) {
                *ret_scale = 1;
                return TRUE;
        }
        if (unit[1] == '\0' || g_ascii_strcasecmp(unit + 1, "iB") == 0)
                base = 1024;
        else if (g_ascii_tolower(unit[1]) == 'b' && unit[2] == '\0')
                base = 1000;
        else
                return FALSE;
        p = strchr(prefixes, g_ascii_tolower(unit[0]));
        if (!p)
                return FALSE;
        for (const char *q = prefixes; q <= p; q++)
                scale *= base;
        *ret_scale = scale;
        return TRUE;
}

static gboolean parse_uint(xmlNode *node, const char *raw, guint64 min, guint64 max,
                           const char *path, guint64 *ret, GError **error) {
        g_autofree char *s = g_strstrip(g_strdup(raw));
        g_autofree char *q = NULL;

        if (g_ascii_string_to_unsigned(s, 10, min, max, ret, NULL))
                return TRUE;
        q = domain_schema_quote(s);
        return invalid(error, node, "%s must be an integer from %" G_GUINT64_FORMAT " to %"
                       G_GUINT64_FORMAT ", not '%s'", path, min, max, q);
}

/* A memory size in KiB, rounded up like libvirt; at most 2^63-1 bytes. */
static gboolean parse_memory_size(xmlNode *node, const char *path, guint64 *ret_kib,
                                  GError **error) {
        g_autofree char *text = text_of(node);
        g_autofree char *unit = prop_of(node, "unit");
        guint64 value, scale;

        if (!parse_uint(node, text, 0, G_MAXUINT64, path, &value, error))
                return FALSE;
        if (!unit_scale(unit, &scale)) {
                g_autofree char *q = domain_schema_quote(unit);
                return invalid(error, node, "%s/@unit='%s' is not a unit (use b, KiB, MiB, GiB, TiB, or KB, MB, GB, TB)",
                               path, q);
        }
        if (value > (guint64) G_MAXINT64 / scale)
                return invalid(error, node, "%s is too large", path);
        *ret_kib = (value * scale + 1023) / 1024;
        return TRUE;
}

static gboolean extract_identity(DomainDef *def, xmlNode *root, GError **error) {
        xmlNode *name = child_element(root, "name");
        xmlNode *uuid = child_element(root, "uuid");
        xmlNode *title = child_element(root, "title");
        g_autofree char *uuid_text = NULL;

        def->virt_type = prop_of(root, "type");
        if (!def->virt_type)
                return invalid(error, root, "/domain/@type is missing (use 'kvm' or 'qemu')");

        if (!name)
                return invalid(error, root, "/domain/name is missing");
        def->name = text_of(name);
        if (!domain_name_is_valid(def->name)) {
                g_autofree char *q = domain_schema_quote(def->name);
                return invalid(error, name, "/domain/name '%s' is not a valid domain name: use 1 to %d bytes without '/' or control characters, not starting with '.'",
                               q, DOMAIN_NAME_MAX);
        }

        /* Like libvirt, an empty <uuid/> means "make one up". */
        uuid_text = g_strstrip(text_of(uuid) ?: g_strdup(""));
        if (uuid_text[0] == '\0') {
                g_autofree char *generated = g_uuid_string_random();
                g_strlcpy(def->uuid, generated, sizeof def->uuid);
        } else if (g_uuid_string_is_valid(uuid_text)) {
                g_autofree char *lower = g_ascii_strdown(uuid_text, -1);
                g_strlcpy(def->uuid, lower, sizeof def->uuid);
        } else {
                g_autofree char *q = domain_schema_quote(uuid_text);
                return invalid(error, uuid, "/domain/uuid '%s' is not a UUID (use the form xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx, or leave it out to have one generated)",
                               q);
        }
        /* The canonical document carries the canonical UUID, where libvirt puts it. */
        if (!uuid) {
                uuid = xmlNewDocNode(root->doc, NULL, BAD_CAST "uuid", NULL);
                xmlAddNextSibling(name, uuid);
        }
        node_set_text(uuid, def->uuid);

        def->title = text_of(title);
        if (def->title && strpbrk(def->title, "\r\n"))
                return invalid(error, title, "/domain/title must be a single line");
        def->description = text_of(child_element(root, "description"));
        return TRUE;
}

static gboolean extract_resources(DomainDef *def, xmlNode *root, GError **error) {
        xmlNode *memory = child_element(root, "memory");
        xmlNode *current = child_element(root, "currentMemory");
        xmlNode *max = child_element(root, "maxMemory");
        xmlNode *vcpu = child_element(root, "vcpu");
        guint64 v;

        /* A missing <memory> parses (libvirt's minimal-no-memory); Start refuses it. */
        if (memory && !parse_memory_size(memory, "/domain/memory", &def->memory_kib, error))
                return FALSE;
        def->current_memory_kib = def->memory_kib;
        if (current) {
                if (!parse_memory_size(current, "/domain/currentMemory", &def->current_memory_kib, error))
                        return FALSE;
                if (memory && def->current_memory_kib > def->memory_kib)
                        return invalid(error, current, "/domain/currentMemory must not exceed /domain/memory");
        }
        if (max) {
                g_autofree char *slots = prop_of(max, "slots");
                if (!parse_memory_size(max, "/domain/maxMemory", &def->max_memory_kib, error))
                        return FALSE;
                if (def->max_memory_kib < def->memory_kib)
                        return invalid(error, max, "/domain/maxMemory must not be less than /domain/memory");
                if (slots) {
                        if (!parse_uint(max, slots, 0, G_MAXUINT, "/domain/maxMemory/@slots", &v, error))
                                return FALSE;
                        def->memory_slots = (guint) v;
                }
        }

        def->vcpus = def->current_vcpus = 1;
        if (vcpu) {
                g_autofree char *text = text_of(vcpu);
                g_autofree char *cur = prop_of(vcpu, "current");

                if (!parse_uint(vcpu, text, 1, DOMAIN_VCPUS_MAX, "/domain/vcpu", &v, error))
                        return FALSE;
                def->vcpus = def->current_vcpus = (guint) v;
                if (cur) {
                        if (!parse_uint(vcpu, cur, 1, def->vcpus, "/domain/vcpu/@current", &v, error))
                                return FALSE;
                        def->current_vcpus = (guint) v;
                }
        }
        return TRUE;
}

static gboolean extract_os(DomainDef *def, xmlNode *root, GError **error) {
        xmlNode *os = child_element(root, "os");
        xmlNode *type = child_element(os, "type");

        if (!type)
                return invalid(error, os ?: root, "/domain/os/type is missing (use <os><type>hvm</type></os>)");
        def->os_type = text_of(type);
        def->arch = prop_of(type, "arch");
        def->machine = prop_of(type, "machine");
        def->kernel = text_of(child_element(os, "kernel"));
        def->initrd = text_of(child_element(os, "initrd"));
        def->cmdline = text_of(child_element(os, "cmdline"));
        return TRUE;
}

static const char *disk_bus_from_dev(const char *dev) {
        static const struct { const char *prefix, *bus; } table[] = {
                { "vd", "virtio" }, { "hd", "ide" }, { "sd", "scsi" }, { "fd", "fdc" },
        };

        for (size_t i = 0; i < G_N_ELEMENTS(table); i++)
                if (g_str_has_prefix(dev, table[i].prefix))
                        return table[i].bus;
        return NULL;
}

static gboolean extract_disk(DomainDef *def, xmlNode *node, GError **error) {
        g_autofree char *type = prop_of(node, "type");
        xmlNode *source = child_element(node, "source");
        xmlNode *target = child_element(node, "target");
        xmlNode *driver = child_element(node, "driver");
        g_autoptr(DomainDisk) disk = g_new0(DomainDisk, 1);

        disk->target_dev = prop_of(target, "dev");
        if (!disk->target_dev || !*disk->target_dev)
                return invalid(error, target ?: node, "/domain/devices/disk/target/@dev is missing");

        /* Block and network disks stay in the document only; see
         * domain_def_has_unsupported_runtime(). */
        if (type && strcmp(type, "file") != 0)
                return TRUE;

        disk->device = prop_of(node, "device") ?: g_strdup("disk");
        if (source && (xmlHasProp(source, BAD_CAST "dev") || xmlHasProp(source, BAD_CAST "protocol") ||
                       xmlHasProp(source, BAD_CAST "name")))
                return invalid(error, source, "/domain/devices/disk/source of a disk of type 'file' takes only @file");
        disk->source_file = prop_of(source, "file");
        if (disk->source_file && !*disk->source_file)
                return invalid(error, source, "/domain/devices/disk/source/@file must not be empty");
        /* Only removable media may be empty. */
        if (!disk->source_file && strcmp(disk->device, "disk") == 0)
                return invalid(error, node, "/domain/devices/disk/source/@file is missing for disk %s",
                               disk->target_dev);
        disk->format = prop_of(driver, "type");
        disk->cache = prop_of(driver, "cache");
        disk->io = prop_of(driver, "io");
        disk->target_bus = prop_of(target, "bus") ?: g_strdup(disk_bus_from_dev(disk->target_dev));
        disk->readonly = child_element(node, "readonly") || strcmp(disk->device, "cdrom") == 0;

        g_ptr_array_add(def->disks, g_steal_pointer(&disk));
        return TRUE;
}

static gboolean extract_chardev(DomainDef *def, xmlNode *node, GError **error) {
        const char *what = (const char *) node->name;
        g_autofree char *type = prop_of(node, "type") ?: g_strdup("pty");   /* libvirt's default */
        xmlNode *source = child_element(node, "source");
        xmlNode *log = child_element(node, "log");
        g_autofree char *append = prop_of(source, "append");
        g_autofree char *mode = prop_of(source, "mode");
        g_autofree char *log_append = prop_of(log, "append");
        g_autoptr(DomainChardev) chr = g_new0(DomainChardev, 1);

        chr->type = chardev_type_from_string(type);
        if (chr->type == _DOMAIN_CHARDEV_INVALID)
                return TRUE;    /* tcp: kept in the document only */

        if (chr->type == DOMAIN_CHARDEV_FILE || chr->type == DOMAIN_CHARDEV_UNIX) {
                chr->path = prop_of(source, "path");
                if (!chr->path || !*chr->path)
                        return invalid(error, source ?: node, "/domain/devices/%s/source/@path is missing (a %s of type '%s' needs one)",
                                       what, what, type);
        }
        chr->append = chr->type == DOMAIN_CHARDEV_FILE && g_strcmp0(append, "on") == 0;
        chr->unix_server = chr->type == DOMAIN_CHARDEV_UNIX && g_strcmp0(mode, "bind") == 0;
        chr->target_type = prop_of(child_element(node, "target"), "type");
        chr->is_console = strcmp(what, "console") == 0;
        if (log) {
                chr->log_file = prop_of(log, "file");
                if (!chr->log_file || !*chr->log_file)
                        return invalid(error, log, "/domain/devices/%s/log/@file is missing", what);
                chr->log_append = g_strcmp0(log_append, "on") == 0;
        }
        chr->node = node;

        g_ptr_array_add(def->chardevs, g_steal_pointer(&chr));
        return TRUE;
}

static gboolean extract_devices(DomainDef *def, xmlNode *root, GError **error) {
        xmlNode *devices = child_element(root, "devices");
        xmlNode *emulator = child_element(devices, "emulator");

        def->emulator = text_of(emulator);
        if (def->emulator && !*g_strstrip(def->emulator))
                return invalid(error, emulator, "/domain/devices/emulator must not be empty");

        for (xmlNode *n = devices ? devices->children : NULL; n; n = n->next) {
                if (n->type != XML_ELEMENT_NODE)
                        continue;
                if (xmlStrEqual(n->name, BAD_CAST "disk") && !extract_disk(def, n, error))
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

/* Takes ownership of @doc, which domain_schema_check() has accepted. */
static DomainDef *def_new_from_doc(xmlDoc *doc, GError **error) {
        g_autoptr(DomainDef) def = g_new0(DomainDef, 1);
        xmlNode *root = xmlDocGetRootElement(doc);

        def->doc = doc;
        def->disks = g_ptr_array_new_with_free_func((GDestroyNotify) disk_free);
        def->chardevs = g_ptr_array_new_with_free_func((GDestroyNotify) chardev_free);

        if (!extract_identity(def, root, error) ||
            !extract_resources(def, root, error) ||
            !extract_os(def, root, error) ||
            !extract_devices(def, root, error))
                return NULL;
        return g_steal_pointer(&def);
}

DomainDef *domain_def_parse(const char *xml, gssize len, GError **error) {
        g_autoptr(xmlDoc) doc = NULL;
        size_t size;

        g_return_val_if_fail(xml, NULL);

        size = len < 0 ? strnlen(xml, DOMAIN_XML_MAX_SIZE + 1) : (size_t) len;
        if (size > DOMAIN_XML_MAX_SIZE) {
                g_set_error(error, MD_ERROR, MD_ERROR_INVALID_XML,
                            "Invalid domain XML: too large (more than %d bytes)", DOMAIN_XML_MAX_SIZE);
                return NULL;
        }
        if (size == 0) {
                g_set_error_literal(error, MD_ERROR, MD_ERROR_INVALID_XML,
                                    "Invalid domain XML: the document is empty");
                return NULL;
        }

        doc = read_document(xml, size, error);
        if (!doc || !domain_schema_check(doc, error))
                return NULL;
        return def_new_from_doc(g_steal_pointer(&doc), error);
}

char *domain_def_format(const DomainDef *def) {
        xmlBuffer *buf;
        xmlSaveCtxt *save;
        char *ret;

        g_return_val_if_fail(def && def->doc, NULL);

        /* No XML declaration, like virsh dumpxml; UTF-8 rather than &#...; escapes. */
        buf = xmlBufferCreate();
        save = xmlSaveToBuffer(buf, "UTF-8", XML_SAVE_FORMAT | XML_SAVE_NO_DECL);
        if (!buf || !save)
                g_error("Failed to allocate an XML output buffer");
        xmlSaveDoc(save, def->doc);
        xmlSaveClose(save);
        ret = g_strndup((const char *) xmlBufferContent(buf), xmlBufferLength(buf));
        xmlBufferFree(buf);
        return ret;
}

DomainDef *domain_def_copy(const DomainDef *def) {
        g_autoptr(GError) error = NULL;
        DomainDef *copy;

        g_return_val_if_fail(def && def->doc, NULL);

        /* Re-extracting from a copy of the document keeps the two in step by
         * construction; it cannot fail on a document that was accepted once. */
        copy = def_new_from_doc(xmlCopyDoc(def->doc, 1), &error);
        if (!copy)
                g_error("Failed to copy domain definition %s: %s", def->name, error->message);
        return copy;
}

void domain_def_set_name(DomainDef *def, const char *name) {
        g_return_if_fail(def && domain_name_is_valid(name));

        node_set_text(child_element(xmlDocGetRootElement(def->doc), "name"), name);
        g_free(def->name);
        def->name = g_strdup(name);
}

gboolean domain_def_set_chardev_path(DomainDef *def, guint index, const char *path) {
        g_return_val_if_fail(def && path && *path, FALSE);

        for (guint i = 0; i < def->chardevs->len; i++) {
                DomainChardev *chr = g_ptr_array_index(def->chardevs, i);

                if (chr->type != DOMAIN_CHARDEV_FILE || index-- > 0)
                        continue;
                /* A file chardev always has <source path=...>: extraction requires it. */
                xmlSetProp(child_element(chr->node, "source"), BAD_CAST "path", BAD_CAST path);
                g_free(chr->path);
                chr->path = g_strdup(path);
                return TRUE;
        }
        return FALSE;
}

gboolean domain_def_has_unsupported_runtime(const DomainDef *def, char **ret_what) {
        xmlNode *devices;

        g_return_val_if_fail(def && def->doc, FALSE);

        devices = child_element(xmlDocGetRootElement(def->doc), "devices");
        for (xmlNode *n = devices ? devices->children : NULL; n; n = n->next) {
                g_autofree char *type = NULL;

                if (n->type != XML_ELEMENT_NODE)
                        continue;
                type = prop_of(n, "type");
                if (xmlStrEqual(n->name, BAD_CAST "disk") && type && strcmp(type, "file") != 0) {
                        g_autofree char *dev = prop_of(child_element(n, "target"), "dev");
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
        if (ret_what)
                *ret_what = NULL;
        return FALSE;
}
