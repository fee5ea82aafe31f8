/* migrationctl: the domain verbs (list, info, dumpxml, define and lifecycle). */
#include <errno.h>
#include <stdio.h>
#include <unistd.h>

#include "ctl.h"
#include "ctl-bus.h"
#include "ctl-output.h"
#include "ctl-variant.h"
#include "i18n.h"

/* Calls a lifecycle method (Start, Shutdown, ...: "u flags", no reply) on the
 * domain called @name. */
static int call_lifecycle(CtlContext *ctx, const char *name, const char *member, sd_bus_error *error) {
        g_autofree char *path = NULL;
        int r;

        r = ctl_lookup_domain(ctx->bus, name, error, &path);
        if (r < 0)
                return r;

        return ctl_call(ctx->bus, path, MIGRATION1_DOMAIN_INTERFACE, member, error, NULL, "u", 0u);
}

int verb_start(CtlContext *ctx, int argc, char **argv) {
        g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
        int r;

        r = call_lifecycle(ctx, argv[1], "Start", &error);
        if (r < 0)
                return ctl_log_error(r, &error, _("Failed to start domain '%s'"), argv[1]);
        return 0;
}

int verb_shutdown(CtlContext *ctx, int argc, char **argv) {
        g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
        int r;

        r = call_lifecycle(ctx, argv[1], "Shutdown", &error);
        if (r < 0)
                return ctl_log_error(r, &error, _("Failed to shut down domain '%s'"), argv[1]);
        return 0;
}

int verb_destroy(CtlContext *ctx, int argc, char **argv) {
        g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
        int r;

        r = call_lifecycle(ctx, argv[1], "Destroy", &error);
        if (r < 0)
                return ctl_log_error(r, &error, _("Failed to destroy domain '%s'"), argv[1]);
        return 0;
}

int verb_suspend(CtlContext *ctx, int argc, char **argv) {
        g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
        int r;

        r = call_lifecycle(ctx, argv[1], "Suspend", &error);
        if (r < 0)
                return ctl_log_error(r, &error, _("Failed to suspend domain '%s'"), argv[1]);
        return 0;
}

int verb_resume(CtlContext *ctx, int argc, char **argv) {
        g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
        int r;

        r = call_lifecycle(ctx, argv[1], "Resume", &error);
        if (r < 0)
                return ctl_log_error(r, &error, _("Failed to resume domain '%s'"), argv[1]);
        return 0;
}

int verb_undefine(CtlContext *ctx, int argc, char **argv) {
        g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
        int r;

        r = call_lifecycle(ctx, argv[1], "Undefine", &error);
        if (r < 0)
                return ctl_log_error(r, &error, _("Failed to undefine domain '%s'"), argv[1]);
        return 0;
}

int verb_dumpxml(CtlContext *ctx, int argc, char **argv) {
        g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
        g_autoptr(sd_bus_message) reply = NULL;
        g_autofree char *path = NULL;
        const char *xml;
        int r;

        r = ctl_lookup_domain(ctx->bus, argv[1], &error, &path);
        if (r >= 0)
                r = ctl_call(ctx->bus, path, MIGRATION1_DOMAIN_INTERFACE, "GetXMLDesc",
                             &error, &reply, "u", 0u);
        if (r >= 0)
                r = sd_bus_message_read(reply, "s", &xml);
        if (r < 0)
                return ctl_log_error(r, &error, _("Failed to get the XML of domain '%s'"), argv[1]);

        fputs(xml, stdout);
        if (!g_str_has_suffix(xml, "\n"))
                fputc('\n', stdout);
        return 0;
}

static void print_domain_info(GVariant *properties) {
        const int width = 12;
        const char *job_type = ctl_dict_get_string(properties, "JobType", "none");

        ctl_print_field(width, _("Name"), "%s", ctl_dict_get_string(properties, "Name", "-"));
        ctl_print_field(width, _("UUID"), "%s", ctl_dict_get_string(properties, "UUID", "-"));
        ctl_print_field(width, _("State"), "%s (%s)",
                        ctl_dict_get_string(properties, "State", "-"),
                        ctl_dict_get_string(properties, "StateReason", "-"));
        ctl_print_field(width, _("Persistent"), "%s",
                        ctl_dict_get_boolean(properties, "Persistent", FALSE) ? _("yes") : _("no"));
        if (g_str_equal(job_type, "none"))
                ctl_print_field(width, _("Job"), "%s", _("none"));
        else
                ctl_print_field(width, _("Job"), _("%s, phase %s, %.1f%%"), job_type,
                                ctl_dict_get_string(properties, "JobPhase", "-"),
                                ctl_dict_get_double(properties, "JobProgress", 0.0));
        ctl_print_field(width, _("Max downtime"), "%" G_GUINT64_FORMAT " ms",
                        ctl_dict_get_uint64(properties, "MaxDowntime", 0));
        ctl_print_field(width, _("Max speed"), "%" G_GUINT64_FORMAT " MiB/s",
                        ctl_dict_get_uint64(properties, "MaxSpeed", 0));
}

int verb_info(CtlContext *ctx, int argc, char **argv) {
        g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
        g_autoptr(GVariant) properties = NULL;
        g_autofree char *path = NULL;
        int r;

        r = ctl_lookup_domain(ctx->bus, argv[1], &error, &path);
        if (r >= 0)
                r = ctl_get_all_properties(ctx->bus, path, MIGRATION1_DOMAIN_INTERFACE, &error, &properties);
        if (r < 0)
                return ctl_log_error(r, &error, _("Failed to get the properties of domain '%s'"), argv[1]);

        if (ctx->json)
                ctl_json_print_variant(properties);
        else
                print_domain_info(properties);
        return 0;
}

static int compare_by_name(gconstpointer a, gconstpointer b) {
        GVariant *const *x = a, *const *y = b;

        return g_strcmp0(ctl_dict_get_string(*x, "Name", NULL), ctl_dict_get_string(*y, "Name", NULL));
}

/* The properties of each domain ListDomains(@flags) returns, sorted by name.
 * Domains that vanish meanwhile are left out. */
static int list_domains(CtlContext *ctx, CtlListFlags flags, sd_bus_error *error, GPtrArray **ret_domains) {
        g_autoptr(GPtrArray) domains = g_ptr_array_new_with_free_func((GDestroyNotify) g_variant_unref);
        g_autoptr(sd_bus_message) reply = NULL;
        g_auto(GStrv) paths = NULL;
        int r;

        r = ctl_call(ctx->bus, MIGRATION1_MANAGER_PATH, MIGRATION1_MANAGER_INTERFACE, "ListDomains",
                     error, &reply, "u", (uint32_t) flags);
        if (r < 0)
                return r;
        r = sd_bus_message_read_strv(reply, &paths);
        if (r < 0)
                return r;

        for (char **path = paths; path && *path; path++) {
                GVariant *properties = NULL;

                r = ctl_get_all_properties(ctx->bus, *path, MIGRATION1_DOMAIN_INTERFACE, error, &properties);
                if (r < 0 && ctl_error_is_vanished_object(error)) {
                        sd_bus_error_free(error);
                        continue;
                }
                if (r < 0)
                        return r;
                g_ptr_array_add(domains, properties);
        }

        g_ptr_array_sort(domains, compare_by_name);
        *ret_domains = g_steal_pointer(&domains);
        return 0;
}

static void print_domain_table(GPtrArray *domains) {
        g_autoptr(CtlTable) table = ctl_table_new("NAME", "STATE", "UUID", NULL);

        for (guint i = 0; i < domains->len; i++) {
                GVariant *properties = g_ptr_array_index(domains, i);

                ctl_table_add_row(table,
                                  ctl_dict_get_string(properties, "Name", "-"),
                                  ctl_dict_get_string(properties, "State", "-"),
                                  ctl_dict_get_string(properties, "UUID", "-"),
                                  NULL);
        }
        ctl_table_print(table);
}

static void print_domain_json(GPtrArray *domains) {
        g_autoptr(JsonBuilder) builder = json_builder_new();
        g_autoptr(JsonNode) root = NULL;

        json_builder_begin_array(builder);
        for (guint i = 0; i < domains->len; i++)
                json_builder_add_value(builder, json_gvariant_serialize(g_ptr_array_index(domains, i)));
        json_builder_end_array(builder);

        root = json_builder_get_root(builder);
        ctl_json_print(root);
}

int verb_list(CtlContext *ctx, int argc, char **argv) {
        g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
        g_autoptr(GPtrArray) domains = NULL;
        int r;

        r = list_domains(ctx, ctx->list_flags, &error, &domains);
        if (r < 0)
                return ctl_log_error(r, &error, _("Failed to list domains"));

        if (ctx->json)
                print_domain_json(domains);
        else
                print_domain_table(domains);
        return 0;
}

static int read_definition(const char *file, char **ret_xml, GError **error) {
        g_autoptr(GIOChannel) channel = NULL;
        gsize length;

        if (!g_str_equal(file, "-"))
                return g_file_get_contents(file, ret_xml, NULL, error) ? 0 : -EIO;

        channel = g_io_channel_unix_new(STDIN_FILENO);
        if (g_io_channel_read_to_end(channel, ret_xml, &length, error) != G_IO_STATUS_NORMAL)
                return -EIO;
        return 0;
}

int verb_define(CtlContext *ctx, int argc, char **argv) {
        g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
        g_autoptr(sd_bus_message) reply = NULL;
        g_autoptr(GVariant) properties = NULL;
        g_autoptr(GError) read_error = NULL;
        g_autofree char *xml = NULL;
        const char *file = argv[1], *path;
        int r;

        r = read_definition(file, &xml, &read_error);
        if (r < 0) {
                g_printerr(_("Failed to read '%s': %s\n"), file, read_error->message);
                return r;
        }

        r = ctl_call(ctx->bus, MIGRATION1_MANAGER_PATH, MIGRATION1_MANAGER_INTERFACE, "DefineXML",
                     &error, &reply, "s", xml);
        if (r >= 0)
                r = sd_bus_message_read(reply, "o", &path);
        if (r < 0)
                return ctl_log_error(r, &error, _("Failed to define a domain from '%s'"), file);

        r = ctl_get_all_properties(ctx->bus, path, MIGRATION1_DOMAIN_INTERFACE, &error, &properties);
        if (r < 0)
                return ctl_log_error(r, &error, _("Defined %s, but failed to read its properties"), path);

        if (ctx->json)
                ctl_json_print_variant(properties);
        else
                printf(_("Defined domain '%s' (UUID %s).\n"),
                       ctl_dict_get_string(properties, "Name", "-"),
                       ctl_dict_get_string(properties, "UUID", "-"));
        return 0;
}
