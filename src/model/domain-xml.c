/* Small libxml2 helpers for reading a domain definition, shared by
 * domain-def.c and its devices' files (domain-def-devices.c, -disks.c). */
#include "domain-xml.h"
#include "i18n.h"
#include "md-error.h"

gboolean domain_xml_invalid(GError **error, xmlNode *node, const char *fmt, ...) {
        g_autofree char *message = NULL;
        va_list ap;

        va_start(ap, fmt);
        message = g_strdup_vprintf(fmt, ap);
        va_end(ap);
        g_set_error(error, MD_ERROR, MD_ERROR_INVALID_XML, _("Invalid domain XML at line %ld: %s"),
                    xmlGetLineNo(node), message);
        return FALSE;
}

xmlNode *domain_xml_child(xmlNode *parent, const char *name) {
        if (!parent)
                return NULL;
        for (xmlNode *n = parent->children; n; n = n->next)
                if (n->type == XML_ELEMENT_NODE && xmlStrEqual(n->name, BAD_CAST name))
                        return n;
        return NULL;
}

char *domain_xml_text(xmlNode *node) {
        xmlChar *raw;
        char *s;

        if (!node)
                return NULL;
        raw = xmlNodeGetContent(node);
        s = g_strdup(raw ? (const char *) raw : "");
        xmlFree(raw);
        return s;
}

char *domain_xml_prop(xmlNode *node, const char *name) {
        xmlChar *raw;
        char *s;

        if (!node)
                return NULL;
        raw = xmlGetNoNsProp(node, BAD_CAST name);
        s = g_strdup((const char *) raw);
        xmlFree(raw);
        return s;
}

void domain_xml_set_text(xmlNode *node, const char *text) {
        xmlNodeSetContent(node, NULL);
        xmlNodeAddContent(node, BAD_CAST text);
}
