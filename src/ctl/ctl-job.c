/* migrationctl: the job verbs (abort, jobinfo, set-speed, set-downtime). */
#include <errno.h>
#include <stdio.h>

#include "ctl.h"
#include "ctl-bus.h"
#include "ctl-output.h"
#include "ctl-progress.h"
#include "ctl-variant.h"
#include "i18n.h"

#define STAT_LABEL_WIDTH 24

typedef enum {
        STAT_PLAIN,             /* counts, strings, yes/no */
        STAT_BYTES,
        STAT_BYTES_PER_SECOND,
        STAT_PAGES_PER_SECOND,
        STAT_MS,
        STAT_PERCENT,
        STAT_OPERATION,
} CtlStatUnit;

/* libvirt's job statistics keys, in the order jobinfo shows them; other keys follow. */
static const struct {
        const char *key;
        const char *label;
        CtlStatUnit unit;
} stat_fields[] = {
        { "operation",                N_("Operation"),                STAT_OPERATION },
        { "phase",                    N_("Phase"),                    STAT_PLAIN },
        { "progress",                 N_("Progress"),                 STAT_PERCENT },
        { "status",                   N_("QEMU status"),              STAT_PLAIN },
        { "success",                  N_("Success"),                  STAT_PLAIN },
        { "errmsg",                   N_("Error"),                    STAT_PLAIN },
        { "time_elapsed",             N_("Time elapsed"),             STAT_MS },
        { "time_remaining",           N_("Time remaining"),           STAT_MS },
        { "downtime",                 N_("Downtime"),                 STAT_MS },
        { "setup_time",               N_("Setup time"),               STAT_MS },
        { "data_total",               N_("Data total"),               STAT_BYTES },
        { "data_processed",           N_("Data processed"),           STAT_BYTES },
        { "data_remaining",           N_("Data remaining"),           STAT_BYTES },
        { "memory_total",             N_("Memory total"),             STAT_BYTES },
        { "memory_processed",         N_("Memory processed"),         STAT_BYTES },
        { "memory_remaining",         N_("Memory remaining"),         STAT_BYTES },
        { "memory_bps",               N_("Memory bandwidth"),         STAT_BYTES_PER_SECOND },
        { "memory_dirty_rate",        N_("Dirty rate"),               STAT_PAGES_PER_SECOND },
        { "memory_iteration",         N_("Iteration"),                STAT_PLAIN },
        { "memory_page_size",         N_("Page size"),                STAT_BYTES },
        { "memory_constant",          N_("Constant pages"),           STAT_PLAIN },
        { "memory_normal",            N_("Normal pages"),             STAT_PLAIN },
        { "memory_normal_bytes",      N_("Normal data"),              STAT_BYTES },
        { "memory_postcopy_requests", N_("Postcopy requests"),        STAT_PLAIN },
        { "auto_converge_throttle",   N_("Auto-converge throttle"),   STAT_PERCENT },
        { "compression_cache",        N_("Compression cache"),        STAT_BYTES },
        { "compression_bytes",        N_("Compressed data"),          STAT_BYTES },
        { "compression_pages",        N_("Compressed pages"),         STAT_PLAIN },
        { "compression_cache_misses", N_("Compression cache misses"), STAT_PLAIN },
        { "compression_overflow",     N_("Compression overflows"),    STAT_PLAIN },
};

/* libvirt's virDomainJobOperation. */
static const char *const operation_names[] = {
        N_("unknown"), N_("start"), N_("save"), N_("restore"), N_("incoming migration"),
        N_("outgoing migration"), N_("snapshot"), N_("snapshot revert"), N_("dump"), N_("backup"),
        N_("snapshot delete"),
};

static char *format_stat(GVariant *stats, const char *key, CtlStatUnit unit) {
        g_autoptr(GVariant) value = g_variant_lookup_value(stats, key, NULL);
        g_autofree char *size = NULL;
        guint64 n;

        if (value && unit == STAT_PERCENT && g_variant_is_of_type(value, G_VARIANT_TYPE_DOUBLE))
                return g_strdup_printf("%.1f%%", g_variant_get_double(value));
        if (value && unit == STAT_PERCENT && g_variant_is_of_type(value, G_VARIANT_TYPE_INT32))
                return g_strdup_printf("%d%%", g_variant_get_int32(value));
        if (value && unit == STAT_OPERATION && g_variant_is_of_type(value, G_VARIANT_TYPE_INT32)) {
                gint32 op = g_variant_get_int32(value);

                if (op >= 0 && op < (gint32) G_N_ELEMENTS(operation_names))
                        return g_strdup(_(operation_names[op]));
        }
        if (!value || !g_variant_is_of_type(value, G_VARIANT_TYPE_UINT64))
                return ctl_dict_format_value(stats, key);

        n = g_variant_get_uint64(value);
        switch (unit) {
        case STAT_BYTES:
                return ctl_format_bytes(n);
        case STAT_BYTES_PER_SECOND:
                size = ctl_format_bytes(n);
                return g_strdup_printf("%s/s", size);
        case STAT_PAGES_PER_SECOND:
                return g_strdup_printf("%" G_GUINT64_FORMAT " pages/s", n);
        case STAT_MS:
                return ctl_format_ms(n);
        default:
                return g_strdup_printf("%" G_GUINT64_FORMAT, n);
        }
}

static gboolean is_known_stat(const char *key) {
        for (size_t i = 0; i < G_N_ELEMENTS(stat_fields); i++)
                if (g_str_equal(stat_fields[i].key, key))
                        return TRUE;
        return FALSE;
}

static void print_job_stats(const char *type, GVariant *stats) {
        GVariantIter iter;
        const char *key;

        ctl_print_field(STAT_LABEL_WIDTH, _("Type"), "%s", type);
        for (size_t i = 0; i < G_N_ELEMENTS(stat_fields); i++) {
                g_autoptr(GVariant) present = g_variant_lookup_value(stats, stat_fields[i].key, NULL);
                g_autofree char *value = NULL;

                /* An empty errmsg says there was no error. */
                if (!present || (g_variant_is_of_type(present, G_VARIANT_TYPE_STRING) &&
                                 !*g_variant_get_string(present, NULL)))
                        continue;
                value = format_stat(stats, stat_fields[i].key, stat_fields[i].unit);
                ctl_print_field(STAT_LABEL_WIDTH, _(stat_fields[i].label), "%s", value);
        }

        g_variant_iter_init(&iter, stats);
        while (g_variant_iter_next(&iter, "{&sv}", &key, NULL))
                if (!is_known_stat(key)) {
                        g_autofree char *value = ctl_dict_format_value(stats, key);

                        ctl_print_field(STAT_LABEL_WIDTH, key, "%s", value);
                }
}

static void print_job_stats_json(const char *type, GVariant *stats) {
        g_autoptr(JsonBuilder) builder = json_builder_new();
        g_autoptr(JsonNode) root = NULL;

        json_builder_begin_object(builder);
        json_builder_set_member_name(builder, "type");
        json_builder_add_string_value(builder, type);
        json_builder_set_member_name(builder, "stats");
        json_builder_add_value(builder, json_gvariant_serialize(stats));
        json_builder_end_object(builder);

        root = json_builder_get_root(builder);
        ctl_json_print(root);
}

int verb_jobinfo(CtlContext *ctx, int argc, char **argv) {
        g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
        g_autoptr(sd_bus_message) reply = NULL;
        g_autoptr(GVariant) stats = NULL;
        g_autofree char *path = NULL;
        const char *type;
        int r;

        r = ctl_lookup_domain(ctx->bus, argv[1], &error, &path);
        if (r >= 0)
                r = ctl_call(ctx->bus, path, MIGRATION1_DOMAIN_INTERFACE, "GetJobStats", &error, &reply,
                             "u", ctx->completed ? 1u : 0u);
        if (r >= 0)
                r = sd_bus_message_read(reply, "s", &type);
        if (r >= 0)
                r = ctl_message_read_variant(reply, &stats);
        if (r < 0)
                return ctl_log_error(r, &error, _("Failed to get the job statistics of domain '%s'"), argv[1]);

        if (ctx->json)
                print_job_stats_json(type, stats);
        else
                print_job_stats(type, stats);
        return 0;
}

int verb_abort(CtlContext *ctx, int argc, char **argv) {
        g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
        g_autofree char *path = NULL;
        int r;

        r = ctl_lookup_domain(ctx->bus, argv[1], &error, &path);
        if (r >= 0)
                r = ctl_call(ctx->bus, path, MIGRATION1_DOMAIN_INTERFACE, "AbortJob",
                             &error, NULL, "u", 0u);
        if (r < 0)
                return ctl_log_error(r, &error, _("Failed to abort the job of domain '%s'"), argv[1]);
        return 0;
}

/* Calls @member ("t value, u flags") on the domain called @name. */
static int set_migration_value(CtlContext *ctx, const char *name, const char *member, guint64 value,
                               sd_bus_error *error) {
        g_autofree char *path = NULL;
        int r;

        r = ctl_lookup_domain(ctx->bus, name, error, &path);
        if (r < 0)
                return r;
        return ctl_call(ctx->bus, path, MIGRATION1_DOMAIN_INTERFACE, member, error, NULL, "tu", value, 0u);
}

static gboolean parse_operand(const char *text, guint64 min, guint64 *ret, GError **error) {
        return g_ascii_string_to_unsigned(text, 10, min, G_MAXUINT64, ret, error);
}

int verb_set_speed(CtlContext *ctx, int argc, char **argv) {
        g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
        g_autoptr(GError) parse_error = NULL;
        guint64 mib_s;
        int r;

        if (!parse_operand(argv[2], 0, &mib_s, &parse_error)) {
                g_printerr(_("Invalid bandwidth: %s\n"), parse_error->message);
                return -EINVAL;
        }
        r = set_migration_value(ctx, argv[1], "MigrateSetMaxSpeed", mib_s, &error);
        if (r < 0)
                return ctl_log_error(r, &error, _("Failed to set the migration bandwidth of domain '%s'"),
                                     argv[1]);
        return 0;
}

int verb_set_downtime(CtlContext *ctx, int argc, char **argv) {
        g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
        g_autoptr(GError) parse_error = NULL;
        guint64 ms;
        int r;

        if (!parse_operand(argv[2], 1, &ms, &parse_error)) {
                g_printerr(_("Invalid downtime: %s\n"), parse_error->message);
                return -EINVAL;
        }
        r = set_migration_value(ctx, argv[1], "MigrateSetMaxDowntime", ms, &error);
        if (r < 0)
                return ctl_log_error(r, &error, _("Failed to set the maximum downtime of domain '%s'"),
                                     argv[1]);
        return 0;
}
