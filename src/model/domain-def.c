/* Domain definitions: libvirt domain XML in, plain fields out.
 *
 * Three steps: libxml2 reads the document (no DTD, no entities, no network),
 * domain-schema.c refuses anything outside the supported subset, and
 * def_new_from_doc() extracts the fields and fills in what libvirt would
 * (a generated <uuid>). The document's canonical text is kept for
 * GetXMLDesc; the tree is freed, and read again from the text for an edit. */
#include <string.h>

#include <libxml/SAX2.h>
#include <libxml/parser.h>
#include <libxml/xmlsave.h>

#include "domain-def.h"
#include "domain-def-private.h"
#include "domain-schema.h"
#include "domain-xml.h"
#include "i18n.h"
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

void domain_def_free(DomainDef *def) {
        if (!def)
                return;
        g_free(def->xml);
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
        g_free(def->pit_tickpolicy);
        g_free(def->cpu_mode);
        g_free(def->cpu_model);
        g_strfreev(def->cpu_features);
        g_free(def->emulator);
        if (def->disks)
                g_ptr_array_unref(def->disks);
        if (def->chardevs)
                g_ptr_array_unref(def->chardevs);
        domain_def_peripherals_clear(def);
        g_free(def);
}

gboolean domain_name_is_valid(const char *name) {
        if (!name || name[0] == '\0' || name[0] == '.')
                return FALSE;
        if (strlen(name) > DOMAIN_NAME_MAX || !g_utf8_validate(name, -1, NULL))
                return FALSE;
        for (const char *p = name; *p; p = g_utf8_next_char(p)) {
                gunichar c = g_utf8_get_char(p);
                /* U+FFFE and U+FFFF are valid UTF-8 but no XML characters:
                 * the definition's text would no longer read back. */
                if (c == '/' || g_unichar_iscntrl(c) || c == 0xFFFE || c == 0xFFFF)
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
                                    _("Invalid domain XML at line %ld: %s"), state.line, message);
                else
                        g_set_error(error, MD_ERROR, MD_ERROR_INVALID_XML,
                                    _("Invalid domain XML: %s"), message);
                return NULL;
        }
        return g_steal_pointer(&doc);
}

/* ---- Extracting the fields (the devices: domain-def-devices.c) ---- */

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

gboolean domain_def_parse_uint(xmlNode *node, const char *raw, guint64 min, guint64 max,
                               const char *path, guint64 *ret, GError **error) {
        g_autofree char *s = g_strstrip(g_strdup(raw));
        g_autofree char *q = NULL;

        if (g_ascii_string_to_unsigned(s, 10, min, max, ret, NULL))
                return TRUE;
        q = domain_schema_quote(s);
        return domain_xml_invalid(error, node, _("%s must be an integer from %llu to %llu, not '%s'"), path,
                                  (unsigned long long) min, (unsigned long long) max, q);
}

gboolean domain_def_parse_size(xmlNode *node, const char *raw, const char *unit, const char *path,
                               const char *element_path, guint64 *ret_kib, GError **error) {
        guint64 value, scale;

        if (!domain_def_parse_uint(node, raw, 0, G_MAXUINT64, path, &value, error))
                return FALSE;
        if (!unit_scale(unit, &scale)) {
                g_autofree char *q = domain_schema_quote(unit);
                return domain_xml_invalid(error, node, _("%s/@unit='%s' is not a unit (use b, KiB, MiB, GiB, TiB, or KB, MB, GB, TB)"),
                                          element_path, q);
        }
        if (value > (guint64) G_MAXINT64 / scale)
                return domain_xml_invalid(error, node, _("%s is too large"), path);
        *ret_kib = (value * scale + 1023) / 1024;
        return TRUE;
}

static gboolean parse_memory_size(xmlNode *node, const char *path, guint64 *ret_kib, GError **error) {
        g_autofree char *text = domain_xml_text(node);
        g_autofree char *unit = domain_xml_prop(node, "unit");

        return domain_def_parse_size(node, text, unit, path, path, ret_kib, error);
}

static gboolean extract_identity(DomainDef *def, xmlNode *root, GError **error) {
        xmlNode *name = domain_xml_child(root, "name");
        xmlNode *uuid = domain_xml_child(root, "uuid");
        xmlNode *title = domain_xml_child(root, "title");
        g_autofree char *uuid_text = NULL;

        def->virt_type = domain_xml_prop(root, "type");
        if (!def->virt_type)
                return domain_xml_invalid(error, root, _("/domain/@type is missing (use 'kvm' or 'qemu')"));

        if (!name)
                return domain_xml_invalid(error, root, _("/domain/name is missing"));
        def->name = domain_xml_text(name);
        if (!domain_name_is_valid(def->name)) {
                g_autofree char *q = domain_schema_quote(def->name);
                return domain_xml_invalid(error, name, _("/domain/name '%s' is not a valid domain name: use 1 to %d bytes without '/' or control characters, not starting with '.'"),
                                          q, DOMAIN_NAME_MAX);
        }

        /* Like libvirt, an empty <uuid/> means "make one up". */
        uuid_text = g_strstrip(domain_xml_text(uuid) ?: g_strdup(""));
        if (uuid_text[0] == '\0') {
                g_autofree char *generated = g_uuid_string_random();
                g_strlcpy(def->uuid, generated, sizeof def->uuid);
        } else if (g_uuid_string_is_valid(uuid_text)) {
                g_autofree char *lower = g_ascii_strdown(uuid_text, -1);
                g_strlcpy(def->uuid, lower, sizeof def->uuid);
        } else {
                g_autofree char *q = domain_schema_quote(uuid_text);
                return domain_xml_invalid(error, uuid, _("/domain/uuid '%s' is not a UUID (use the form xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx, or leave it out to have one generated)"),
                                          q);
        }
        /* The canonical document carries the canonical UUID, where libvirt puts it. */
        if (!uuid) {
                uuid = xmlNewDocNode(root->doc, NULL, BAD_CAST "uuid", NULL);
                xmlAddNextSibling(name, uuid);
        }
        domain_xml_set_text(uuid, def->uuid);

        def->title = domain_xml_text(title);
        if (def->title && strpbrk(def->title, "\r\n"))
                return domain_xml_invalid(error, title, _("/domain/title must be a single line"));
        def->description = domain_xml_text(domain_xml_child(root, "description"));
        return TRUE;
}

static gboolean extract_resources(DomainDef *def, xmlNode *root, GError **error) {
        xmlNode *memory = domain_xml_child(root, "memory");
        xmlNode *current = domain_xml_child(root, "currentMemory");
        xmlNode *max = domain_xml_child(root, "maxMemory");
        xmlNode *vcpu = domain_xml_child(root, "vcpu");
        guint64 v;

        /* A missing <memory> parses (libvirt's minimal-no-memory); Start refuses it. */
        if (memory && !parse_memory_size(memory, "/domain/memory", &def->memory_kib, error))
                return FALSE;
        def->current_memory_kib = def->memory_kib;
        if (current) {
                if (!parse_memory_size(current, "/domain/currentMemory", &def->current_memory_kib, error))
                        return FALSE;
                if (memory && def->current_memory_kib > def->memory_kib)
                        return domain_xml_invalid(error, current,
                                                  _("/domain/currentMemory must not exceed /domain/memory"));
        }
        if (max) {
                g_autofree char *slots = domain_xml_prop(max, "slots");
                if (!parse_memory_size(max, "/domain/maxMemory", &def->max_memory_kib, error))
                        return FALSE;
                if (def->max_memory_kib < def->memory_kib)
                        return domain_xml_invalid(error, max,
                                                  _("/domain/maxMemory must not be less than /domain/memory"));
                if (slots) {
                        if (!domain_def_parse_uint(max, slots, 0, G_MAXUINT, "/domain/maxMemory/@slots", &v, error))
                                return FALSE;
                        def->memory_slots = (guint) v;
                }
        }

        def->vcpus = def->current_vcpus = 1;
        if (vcpu) {
                g_autofree char *text = domain_xml_text(vcpu);
                g_autofree char *cur = domain_xml_prop(vcpu, "current");

                if (!domain_def_parse_uint(vcpu, text, 1, DOMAIN_VCPUS_MAX, "/domain/vcpu", &v, error))
                        return FALSE;
                def->vcpus = def->current_vcpus = (guint) v;
                if (cur) {
                        if (!domain_def_parse_uint(vcpu, cur, 1, def->vcpus, "/domain/vcpu/@current", &v, error))
                                return FALSE;
                        def->current_vcpus = (guint) v;
                }
        }
        return TRUE;
}

gboolean domain_def_is_plain_name(const char *name) {
        if (!name || !*name)
                return FALSE;
        for (const char *p = name; *p; p++)
                if (!g_ascii_isalnum(*p) && !strchr("._-", *p))
                        return FALSE;
        return TRUE;
}

static gboolean extract_os(DomainDef *def, xmlNode *root, GError **error) {
        xmlNode *os = domain_xml_child(root, "os");
        xmlNode *type = domain_xml_child(os, "type");

        if (!type)
                return domain_xml_invalid(error, os ?: root,
                                          _("/domain/os/type is missing (use <os><type>hvm</type></os>)"));
        def->os_type = domain_xml_text(type);
        def->arch = domain_xml_prop(type, "arch");
        def->machine = domain_xml_prop(type, "machine");
        /* It goes to -machine ("pc,accel=kvm" would add an option). */
        if (def->machine && !domain_def_is_plain_name(def->machine)) {
                g_autofree char *q = domain_schema_quote(def->machine);
                return domain_xml_invalid(error, type, _("/domain/os/type/@machine '%s' is not a machine type name (use letters, digits, '.', '_' and '-', like 'pc' or 'pc-q35-7.2')"),
                                          q);
        }
        def->kernel = domain_xml_text(domain_xml_child(os, "kernel"));
        def->initrd = domain_xml_text(domain_xml_child(os, "initrd"));
        def->cmdline = domain_xml_text(domain_xml_child(os, "cmdline"));
        return TRUE;
}

/* From @doc, which domain_schema_check() has accepted; the node pointers of
 * the result point into @doc, which stays the caller's. */
static DomainDef *def_new_from_doc(xmlDoc *doc, GError **error) {
        g_autoptr(DomainDef) def = g_new0(DomainDef, 1);
        xmlNode *root = xmlDocGetRootElement(doc);

        domain_def_devices_init(def);
        domain_def_peripherals_init(def);

        if (!extract_identity(def, root, error) ||
            !extract_resources(def, root, error) ||
            !domain_def_extract_memory_backing(def, root, error) ||
            !extract_os(def, root, error) ||
            !domain_def_extract_machine(def, root, error) ||
            !domain_def_extract_devices(def, root, error) ||
            !domain_def_extract_peripherals(def, root, error))
                return NULL;
        return g_steal_pointer(&def);
}

/* The canonical text: no XML declaration, like virsh dumpxml; UTF-8 rather
 * than &#...; escapes. */
static char *format_document(xmlDoc *doc) {
        xmlBuffer *buf;
        xmlSaveCtxt *save;
        char *ret;

        buf = xmlBufferCreate();
        save = xmlSaveToBuffer(buf, "UTF-8", XML_SAVE_FORMAT | XML_SAVE_NO_DECL);
        if (!buf || !save)
                g_error("Failed to allocate an XML output buffer");
        xmlSaveDoc(save, doc);
        xmlSaveClose(save);
        ret = g_strndup((const char *) xmlBufferContent(buf), xmlBufferLength(buf));
        xmlBufferFree(buf);
        return ret;
}

/* The node pointers point into a document about to be freed. */
static void forget_nodes(DomainDef *def) {
        for (guint i = 0; i < def->chardevs->len; i++)
                ((DomainChardev *) def->chardevs->pdata[i])->node = NULL;
        for (guint i = 0; i < def->graphics->len; i++)
                ((DomainGraphics *) def->graphics->pdata[i])->node = NULL;
        for (guint i = 0; i < def->channels->len; i++)
                ((DomainChannel *) def->channels->pdata[i])->node = NULL;
}

DomainDef *domain_def_parse(const char *xml, gssize len, GError **error) {
        g_autoptr(xmlDoc) doc = NULL;
        DomainDef *def;
        size_t size;

        g_return_val_if_fail(xml, NULL);

        size = len < 0 ? strnlen(xml, DOMAIN_XML_MAX_SIZE + 1) : (size_t) len;
        if (size > DOMAIN_XML_MAX_SIZE) {
                g_set_error(error, MD_ERROR, MD_ERROR_INVALID_XML,
                            _("Invalid domain XML: too large (more than %d bytes)"), DOMAIN_XML_MAX_SIZE);
                return NULL;
        }
        if (size == 0) {
                g_set_error_literal(error, MD_ERROR, MD_ERROR_INVALID_XML,
                                    _("Invalid domain XML: the document is empty"));
                return NULL;
        }

        doc = read_document(xml, size, error);
        if (!doc || !domain_schema_check(doc, error))
                return NULL;
        def = def_new_from_doc(doc, error);
        if (!def)
                return NULL;
        def->xml = format_document(doc);
        forget_nodes(def);
        return def;
}

xmlDoc *domain_def_read_again(const DomainDef *def) {
        g_autoptr(GError) error = NULL;
        xmlDoc *doc;

        /* Text this module formatted from a document it accepted, so neither
         * step can fail. The check also strips the indentation the text got
         * (domain-schema.c), so the tree is the one formatted, and an edit
         * that adds an element gets it indented like the rest. */
        doc = read_document(def->xml, strlen(def->xml), &error);
        if (!doc || !domain_schema_check(doc, &error))
                g_error("Failed to read domain definition %s again: %s", def->name, error->message);
        return doc;
}

/* The definition read again from @doc (the canonical text of @def); the
 * extraction only fills in what the text already has. */
static DomainDef *def_new_again(const DomainDef *def, xmlDoc *doc) {
        g_autoptr(GError) error = NULL;
        DomainDef *again = def_new_from_doc(doc, &error);

        if (!again)
                g_error("Failed to read domain definition %s again: %s", def->name, error->message);
        return again;
}

DomainDef *domain_def_edit_begin(const DomainDef *def, xmlDoc **ret_doc) {
        *ret_doc = domain_def_read_again(def);
        return def_new_again(def, *ret_doc);
}

void domain_def_edit_end(DomainDef *def, DomainDef *edit, xmlDoc *doc) {
        g_free(def->xml);
        def->xml = format_document(doc);
        domain_def_free(edit);
        xmlFreeDoc(doc);
}

char *domain_def_format(const DomainDef *def) {
        g_return_val_if_fail(def && def->xml, NULL);

        return g_strdup(def->xml);
}

DomainDef *domain_def_copy(const DomainDef *def) {
        g_autoptr(xmlDoc) doc = NULL;
        DomainDef *copy;

        g_return_val_if_fail(def && def->xml, NULL);

        /* Extracting again from the text keeps fields and text in step by
         * construction; the text formats to itself (domain_def_format()). */
        doc = domain_def_read_again(def);
        copy = def_new_again(def, doc);
        copy->xml = g_strdup(def->xml);
        forget_nodes(copy);
        return copy;
}

static gboolean has_passwd(const DomainDef *def) {
        for (guint i = 0; i < def->graphics->len; i++)
                if (((DomainGraphics *) def->graphics->pdata[i])->passwd)
                        return TRUE;
        return FALSE;
}

char *domain_def_format_public(const DomainDef *def) {
        g_autoptr(xmlDoc) doc = NULL;
        xmlNode *devices;

        g_return_val_if_fail(def, NULL);

        if (!has_passwd(def))
                return domain_def_format(def);
        /* Every <graphics> of <devices> is one of def->graphics. */
        doc = domain_def_read_again(def);
        devices = domain_xml_child(xmlDocGetRootElement(doc), "devices");
        for (xmlNode *n = devices->children; n; n = n->next)
                if (n->type == XML_ELEMENT_NODE && xmlStrEqual(n->name, BAD_CAST "graphics"))
                        xmlUnsetProp(n, BAD_CAST "passwd");
        return format_document(doc);
}

void domain_def_set_name(DomainDef *def, const char *name) {
        xmlDoc *doc;

        g_return_if_fail(def && domain_name_is_valid(name));

        doc = domain_def_read_again(def);
        domain_xml_set_text(domain_xml_child(xmlDocGetRootElement(doc), "name"), name);
        domain_def_edit_end(def, NULL, doc);
        g_free(def->name);
        def->name = g_strdup(name);
}
