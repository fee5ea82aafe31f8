/* Typed migration parameters: one table of keys and the checks run over it
 * in the order documented in migration-params.h (the flags' steps are in
 * migration-flags.c). Implementing a key later means flipping its
 * `implemented`; a new key is one row and its field in MigrationParams. */
#define G_LOG_DOMAIN "migrationd"

#include <stddef.h>
#include <string.h>

#include "domain-def.h"
#include "domain-schema.h"
#include "i18n.h"
#include "md-error.h"
#include "migration-disks-uri.h"
#include "migration-params.h"

#define MIGRATE_DISKS_MAX 256

/* ---- Values ---- */


gboolean migration_uri_parse(const char *uri, char **ret_host, guint16 *ret_port, GError **error) {
        g_autofree char *full = NULL, *userinfo = NULL, *host = NULL, *path = NULL;
        g_autofree char *query = NULL, *fragment = NULL;
        int port = -1;

        /* libvirt's and QEMU's short form tcp:HOST:PORT is not a URI that
         * GUri can split; as tcp://HOST:PORT it is. */
        if (g_str_has_prefix(uri, "tcp://"))
                full = g_strdup(uri);
        else if (g_str_has_prefix(uri, "tcp:"))
                full = g_strconcat("tcp://", uri + strlen("tcp:"), NULL);

        if (!full ||
            !g_uri_split(full, G_URI_FLAGS_NONE, NULL, &userinfo, &host, &port, &path, &query, &fragment, NULL) ||
            userinfo || query || fragment || (path && path[0] != '\0') ||
            !host || !migration_host_is_valid(host) || port < 1 || port > 65535) {
                g_autofree char *q = domain_schema_quote(uri);
                g_set_error(error, MD_ERROR, MD_ERROR_INVALID_ARGS,
                            _("Migration parameter 'migrate_uri' must look like tcp:HOST:PORT or tcp://HOST:PORT (IPv6 in brackets, port 1-65535, nothing after it), not '%s'"),
                            q);
                return FALSE;
        }
        if (ret_host)
                *ret_host = g_steal_pointer(&host);
        if (ret_port)
                *ret_port = (guint16) port;
        return TRUE;
}

/* ---- Parameters ---- */

typedef struct ParamInfo ParamInfo;
typedef gboolean (*ParamCheckFunc)(const ParamInfo *info, GVariant *value, GError **error);

/* How a value of one GVariant type sits in MigrationParams. A pointer field
 * (string, string list) is set when non-NULL; any other field has a
 * has_ field beside it. */
typedef struct {
        const char *signature;          /* GVariant type string */
        const char *word;               /* the same, for those who do not read type strings */
        gboolean pointer;
        void (*store)(gpointer field, GVariant *value);
        GVariant *(*get)(gconstpointer field);          /* floating */
        void (*copy)(gpointer to, gconstpointer from);
        GDestroyNotify free_value;      /* of a pointer field's value */
} ParamType;

static void store_string(gpointer field, GVariant *value) {
        *(char **) field = g_variant_dup_string(value, NULL);
}

static GVariant *get_string(gconstpointer field) {
        return g_variant_new_string(*(char *const *) field);
}

static void copy_string(gpointer to, gconstpointer from) {
        *(char **) to = g_strdup(*(char *const *) from);
}

static void store_strv(gpointer field, GVariant *value) {
        *(char ***) field = g_variant_dup_strv(value, NULL);
}

static GVariant *get_strv(gconstpointer field) {
        return g_variant_new_strv(*(const char *const *const *) field, -1);
}

static void copy_strv(gpointer to, gconstpointer from) {
        *(char ***) to = g_strdupv(*(char **const *) from);
}

static void store_uint64(gpointer field, GVariant *value) {
        *(guint64 *) field = g_variant_get_uint64(value);
}

static GVariant *get_uint64(gconstpointer field) {
        return g_variant_new_uint64(*(const guint64 *) field);
}

static void copy_uint64(gpointer to, gconstpointer from) {
        *(guint64 *) to = *(const guint64 *) from;
}

static void store_int32(gpointer field, GVariant *value) {
        *(gint32 *) field = g_variant_get_int32(value);
}

static GVariant *get_int32(gconstpointer field) {
        return g_variant_new_int32(*(const gint32 *) field);
}

static void copy_int32(gpointer to, gconstpointer from) {
        *(gint32 *) to = *(const gint32 *) from;
}

static const ParamType type_string = {
        "s", "string", TRUE, store_string, get_string, copy_string, g_free,
};
static const ParamType type_strv = {
        "as", "array of strings", TRUE, store_strv, get_strv, copy_strv, (GDestroyNotify) g_strfreev,
};
static const ParamType type_uint64 = { "t", "uint64", FALSE, store_uint64, get_uint64, copy_uint64, NULL };
static const ParamType type_int32 = { "i", "int32", FALSE, store_int32, get_int32, copy_int32, NULL };

#define NO_HAS ((size_t) -1)

struct ParamInfo {
        const char *key;
        const ParamType *type;
        gboolean implemented;
        gboolean plain;                 /* the plain-argument forms can carry it */
        guint requires;                 /* at least one of these flags; 0: none */
        guint excludes;                 /* none of these flags */
        ParamCheckFunc check;           /* value check, step 4; nullable */
        gint64 min, max;                /* for check_range */
        size_t offset;                  /* of the value in MigrationParams */
        size_t has_offset;              /* of its has_ field; NO_HAS for a pointer type */
};

static gboolean check_nonempty(const ParamInfo *info, GVariant *value, GError **error) {
        if (g_variant_get_string(value, NULL)[0] == '\0') {
                g_set_error(error, MD_ERROR, MD_ERROR_INVALID_ARGS,
                            _("Migration parameter '%s' must not be empty; leave it out instead"), info->key);
                return FALSE;
        }
        return TRUE;
}

static gboolean check_name(const ParamInfo *info, GVariant *value, GError **error) {
        const char *name = g_variant_get_string(value, NULL);

        if (!check_nonempty(info, value, error))
                return FALSE;
        if (!domain_name_is_valid(name)) {
                g_autofree char *q = domain_schema_quote(name);
                g_set_error(error, MD_ERROR, MD_ERROR_INVALID_ARGS,
                            _("Migration parameter '%s' is not a valid domain name: use 1 to %d bytes without '/' or control characters, not starting with '.', not '%s'"),
                            info->key, DOMAIN_NAME_MAX, q);
                return FALSE;
        }
        return TRUE;
}

static gboolean check_uri(const ParamInfo *info, GVariant *value, GError **error) {
        return check_nonempty(info, value, error) &&
               migration_uri_parse(g_variant_get_string(value, NULL), NULL, NULL, error);
}

static gboolean check_host(const ParamInfo *info, GVariant *value, GError **error) {
        const char *host = g_variant_get_string(value, NULL);

        if (!check_nonempty(info, value, error))
                return FALSE;
        if (!migration_host_is_valid(host)) {
                g_autofree char *q = domain_schema_quote(host);
                g_set_error(error, MD_ERROR, MD_ERROR_INVALID_ARGS,
                            _("Migration parameter '%s' must be a host name or an IP address, not '%s'"),
                            info->key, q);
                return FALSE;
        }
        return TRUE;
}

static gboolean check_range(const ParamInfo *info, GVariant *value, GError **error) {
        if (g_variant_is_of_type(value, G_VARIANT_TYPE_UINT64)) {
                guint64 v = g_variant_get_uint64(value);
                if (v > (guint64) info->max) {
                        g_set_error(error, MD_ERROR, MD_ERROR_INVALID_ARGS,
                                    _("Migration parameter '%s' must be at most %lld, not %llu"),
                                    info->key, (long long) info->max, (unsigned long long) v);
                        return FALSE;
                }
        } else {
                gint32 v = g_variant_get_int32(value);
                if (v < info->min || v > info->max) {
                        g_set_error(error, MD_ERROR, MD_ERROR_INVALID_ARGS,
                                    _("Migration parameter '%s' must be between %lld and %lld, not %d"),
                                    info->key, (long long) info->min, (long long) info->max, v);
                        return FALSE;
                }
        }
        return TRUE;
}

/* QEMU 7.2's multifd methods plus xbzrle; libvirt's "mt" is gone from QEMU. */
static const char *const compression_methods[] = { "xbzrle", "zlib", "zstd", NULL };

static gboolean check_compression(const ParamInfo *info, GVariant *value, GError **error) {
        g_autofree const char **methods = g_variant_get_strv(value, NULL);

        if (!methods[0]) {
                g_set_error(error, MD_ERROR, MD_ERROR_INVALID_ARGS,
                            _("Migration parameter '%s' lists no method; leave it out for QEMU's default"), info->key);
                return FALSE;
        }
        for (guint i = 0; methods[i]; i++) {
                g_autofree char *q = domain_schema_quote(methods[i]);
                if (!g_strv_contains(compression_methods, methods[i])) {
                        g_set_error(error, MD_ERROR, MD_ERROR_INVALID_ARGS,
                                    _("Unknown compression method '%s' in migration parameter '%s': use xbzrle, zlib or zstd"),
                                    q, info->key);
                        return FALSE;
                }
                for (guint j = 0; j < i; j++)
                        if (g_str_equal(methods[i], methods[j])) {
                                g_set_error(error, MD_ERROR, MD_ERROR_INVALID_ARGS,
                                            _("Compression method '%s' is listed twice in migration parameter '%s'"),
                                            q, info->key);
                                return FALSE;
                        }
        }
        return TRUE;
}

/* Disk targets as in <target dev='vda'/>. */
static gboolean check_disks(const ParamInfo *info, GVariant *value, GError **error) {
        g_autofree const char **disks = g_variant_get_strv(value, NULL);
        g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);
        guint n = g_strv_length((char **) disks);

        if (n == 0 || n > MIGRATE_DISKS_MAX) {
                g_set_error(error, MD_ERROR, MD_ERROR_INVALID_ARGS,
                            _("Migration parameter '%s' must list 1 to %d disk targets, not %u"),
                            info->key, MIGRATE_DISKS_MAX, n);
                return FALSE;
        }
        for (guint i = 0; i < n; i++) {
                gboolean ok = disks[i][0] != '\0';
                g_autofree char *q = domain_schema_quote(disks[i]);

                for (const char *p = disks[i]; ok && *p; p++)
                        ok = g_ascii_isgraph(*p) && *p != '/' && *p != ',';
                if (!ok) {
                        g_set_error(error, MD_ERROR, MD_ERROR_INVALID_ARGS,
                                    _("Migration parameter '%s' has '%s', which is not a disk target such as 'vda'"),
                                    info->key, q);
                        return FALSE;
                }
                if (!g_hash_table_add(seen, (gpointer) disks[i])) {
                        g_set_error(error, MD_ERROR, MD_ERROR_INVALID_ARGS,
                                    _("Disk '%s' is listed twice in migration parameter '%s'"), q, info->key);
                        return FALSE;
                }
        }
        return TRUE;
}

static gboolean check_disks_uri(const ParamInfo *info, GVariant *value, GError **error) {
        return check_nonempty(info, value, error) &&
               migration_disks_uri_parse(g_variant_get_string(value, NULL), NULL, error);
}

#define FIELD(f) offsetof(MigrationParams, f)

/* In the order migration_params_to_variant() writes the keys and
 * migration_params_beyond_plain() looks for them. */
static const ParamInfo param_table[] = {
        { "migrate_uri", &type_string, TRUE, TRUE, 0, MIGRATE_TUNNELLED, check_uri, 0, 0,
          FIELD(migrate_uri), NO_HAS },
        { "destination_name", &type_string, TRUE, TRUE, 0, 0, check_name, 0, 0,
          FIELD(destination_name), NO_HAS },
        { "destination_xml", &type_string, TRUE, TRUE, 0, 0, check_nonempty, 0, 0,
          FIELD(destination_xml), NO_HAS },
        /* Without PERSIST_DEST it would be silently ignored. */
        { "persistent_xml", &type_string, TRUE, FALSE, MIGRATE_PERSIST_DEST, 0, check_nonempty, 0, 0,
          FIELD(persistent_xml), NO_HAS },
        { "listen_address", &type_string, TRUE, FALSE, 0, 0, check_host, 0, 0,
          FIELD(listen_address), NO_HAS },
        { "tls.destination", &type_string, TRUE, FALSE, MIGRATE_TLS, 0, check_host, 0, 0,
          FIELD(tls_destination), NO_HAS },
        { "bandwidth", &type_uint64, TRUE, TRUE, 0, 0, check_range, 0, (gint64) MIGRATION_BANDWIDTH_MAX_MIB,
          FIELD(bandwidth), FIELD(has_bandwidth) },
        { "bandwidth.postcopy", &type_uint64, TRUE, FALSE, MIGRATE_POSTCOPY, 0, check_range,
          0, (gint64) MIGRATION_BANDWIDTH_MAX_MIB, FIELD(bandwidth_postcopy), FIELD(has_bandwidth_postcopy) },
        { "parallel.connections", &type_int32, TRUE, FALSE, MIGRATE_PARALLEL, 0, check_range, 1, 255,
          FIELD(parallel_connections), FIELD(has_parallel_connections) },
        { "auto_converge.initial", &type_int32, TRUE, FALSE, MIGRATE_AUTO_CONVERGE, 0, check_range, 0, 100,
          FIELD(auto_converge_initial), FIELD(has_auto_converge_initial) },
        { "auto_converge.increment", &type_int32, TRUE, FALSE, MIGRATE_AUTO_CONVERGE, 0, check_range, 1, 100,
          FIELD(auto_converge_increment), FIELD(has_auto_converge_increment) },
        { "compression", &type_strv, TRUE, FALSE, MIGRATE_COMPRESSED, 0, check_compression, 0, 0,
          FIELD(compression), NO_HAS },
        /* libvirt copies selected disks only with a storage flag, never tunnelled. */
        { "migrate_disks", &type_strv, TRUE, FALSE, MIGRATE_NON_SHARED_DISK | MIGRATE_NON_SHARED_INC,
          MIGRATE_TUNNELLED, check_disks, 0, 0, FIELD(migrate_disks), NO_HAS },
        /* Where the destination's NBD server listens; 0 lets it choose (libvirt). */
        { "disks_port", &type_int32, TRUE, FALSE, MIGRATE_NON_SHARED_DISK | MIGRATE_NON_SHARED_INC,
          MIGRATE_TUNNELLED, check_range, 0, 65535, FIELD(disks_port), FIELD(has_disks_port) },
        { "disks_uri", &type_string, TRUE, FALSE, MIGRATE_NON_SHARED_DISK | MIGRATE_NON_SHARED_INC,
          MIGRATE_TUNNELLED, check_disks_uri, 0, 0, FIELD(disks_uri), NO_HAS },
};
/* Repeated keys are found with a bit per entry. */
G_STATIC_ASSERT(G_N_ELEMENTS(param_table) <= 32);

static const ParamInfo *param_lookup(const char *key) {
        for (guint i = 0; i < G_N_ELEMENTS(param_table); i++)
                if (g_str_equal(param_table[i].key, key))
                        return &param_table[i];
        return NULL;
}

static gpointer param_field(const MigrationParams *p, const ParamInfo *info) {
        return (char *) p + info->offset;
}

static gboolean param_is_set(const MigrationParams *p, const ParamInfo *info) {
        if (info->type->pointer)
                return *(gpointer *) param_field(p, info) != NULL;
        return info->has_offset != NO_HAS && *(const gboolean *) ((const char *) p + info->has_offset);
}

static void param_mark_set(MigrationParams *p, const ParamInfo *info) {
        if (info->has_offset != NO_HAS)
                *(gboolean *) ((char *) p + info->has_offset) = TRUE;
}

static void param_store(MigrationParams *p, const ParamInfo *info, GVariant *value) {
        info->type->store(param_field(p, info), value);
        param_mark_set(p, info);
}

/* Step 5 for the keys: each key against the flags, then the compression
 * methods against PARALLEL (QEMU compresses multifd streams with zlib or
 * zstd only, and xbzrle only without multifd). */
static gboolean params_check_combinations(const MigrationParams *p, const ParamInfo *const *infos, gsize n,
                                          GError **error) {
        for (gsize i = 0; i < n; i++) {
                const ParamInfo *info = infos[i];

                if (info->requires && !(p->flags & info->requires)) {
                        g_autofree char *names = migration_flag_names(info->requires);
                        g_set_error(error, MD_ERROR, MD_ERROR_INVALID_ARGS,
                                    _("Migration parameter '%s' requires migration flag %s; set the flag or leave the parameter out"),
                                    info->key, names);
                        return FALSE;
                }
                if (p->flags & info->excludes) {
                        g_autofree char *names = migration_flag_names(p->flags & info->excludes);
                        g_set_error(error, MD_ERROR, MD_ERROR_INVALID_ARGS,
                                    _("Migration parameter '%s' cannot be used with migration flag %s"),
                                    info->key, names);
                        return FALSE;
                }
        }
        if (!migration_disks_params_check(p->has_disks_port ? p->disks_port : 0, p->disks_uri, p->flags, error))
                return FALSE;
        for (guint i = 0; p->compression && p->compression[i]; i++) {
                const char *m = p->compression[i];
                gboolean multifd = !g_str_equal(m, "xbzrle");

                if (multifd && !(p->flags & MIGRATE_PARALLEL)) {
                        g_set_error(error, MD_ERROR, MD_ERROR_INVALID_ARGS,
                                    _("Compression method '%s' requires migration flag PARALLEL: QEMU uses it on parallel (multifd) connections only"),
                                    m);
                        return FALSE;
                }
                if (!multifd && (p->flags & MIGRATE_PARALLEL)) {
                        g_set_error(error, MD_ERROR, MD_ERROR_INVALID_ARGS,
                                    _("Compression method '%s' cannot be used with migration flag PARALLEL: parallel migration compresses with zlib or zstd only"),
                                    m);
                        return FALSE;
                }
        }
        return TRUE;
}

/* The table entry of each of the @n keys of @dict, or NULL for an unknown one. */
static const ParamInfo **params_lookup_keys(GVariant *dict, gsize n, GError **error) {
        g_autofree const ParamInfo **infos = g_new0(const ParamInfo *, n + 1);

        for (gsize i = 0; i < n; i++) {
                const char *key;

                g_variant_get_child(dict, i, "{&sv}", &key, NULL);
                infos[i] = param_lookup(key);
                if (!infos[i]) {
                        g_autofree char *q = domain_schema_quote(key);
                        g_set_error(error, MD_ERROR, MD_ERROR_UNSUPPORTED, _("Unknown migration parameter '%s'"), q);
                        return NULL;
                }
        }
        return g_steal_pointer(&infos);
}

/* libvirt repeats a typed parameter for each value of a list; on the bus a
 * list is one 'as'. */
static gboolean params_check_repeats_and_types(GVariant *dict, const ParamInfo *const *infos, gsize n,
                                               GError **error) {
        guint32 seen = 0;

        for (gsize i = 0; i < n; i++) {
                const ParamInfo *info = infos[i];
                guint32 bit = 1u << (info - param_table);
                g_autoptr(GVariant) value = NULL;

                if (seen & bit) {
                        g_set_error(error, MD_ERROR, MD_ERROR_INVALID_ARGS,
                                    _("Migration parameter '%s' is given more than once; give each key once, a list as one array"),
                                    info->key);
                        return FALSE;
                }
                seen |= bit;
                g_variant_get_child(dict, i, "{&sv}", NULL, &value);
                if (!g_variant_is_of_type(value, G_VARIANT_TYPE(info->type->signature))) {
                        g_autofree char *actual = domain_schema_quote(g_variant_get_type_string(value));
                        g_set_error(error, MD_ERROR, MD_ERROR_INVALID_ARGS,
                                    _("Migration parameter '%s' must be of type %s (%s), not %s"),
                                    info->key, info->type->signature, info->type->word, actual);
                        return FALSE;
                }
        }
        return TRUE;
}

static gboolean params_store_values(MigrationParams *p, GVariant *dict, const ParamInfo *const *infos,
                                    gsize n, GError **error) {
        for (gsize i = 0; i < n; i++) {
                g_autoptr(GVariant) value = NULL;

                g_variant_get_child(dict, i, "{&sv}", NULL, &value);
                if (infos[i]->check && !infos[i]->check(infos[i], value, error))
                        return FALSE;
                param_store(p, infos[i], value);
        }
        return TRUE;
}

static gboolean params_check_implemented(const ParamInfo *const *infos, gsize n, GError **error) {
        for (gsize i = 0; i < n; i++)
                if (!infos[i]->implemented) {
                        g_set_error(error, MD_ERROR, MD_ERROR_UNSUPPORTED,
                                    _("Migration parameter '%s' is not supported yet; leave it out"), infos[i]->key);
                        return FALSE;
                }
        return TRUE;
}

MigrationParams *migration_params_new(GVariant *dict, guint flags, GError **error) {
        g_autoptr(MigrationParams) p = NULL;
        g_autofree const ParamInfo **infos = NULL;
        gsize n;

        g_return_val_if_fail(!dict || g_variant_is_of_type(dict, G_VARIANT_TYPE_VARDICT), NULL);
        g_return_val_if_fail(!error || !*error, NULL);
        n = dict ? g_variant_n_children(dict) : 0;

        /* 1. */
        if (!migration_flags_check_known(flags, error))
                return NULL;

        /* 2. Unknown keys. */
        infos = params_lookup_keys(dict, n, error);
        if (!infos)
                return NULL;

        /* 3. Repeated keys, wrong types. */
        if (!params_check_repeats_and_types(dict, infos, n, error))
                return NULL;

        /* 4. Values. */
        p = g_new0(MigrationParams, 1);
        p->flags = flags;
        if (!params_store_values(p, dict, infos, n, error))
                return NULL;

        /* 5. Combinations: flags among themselves, then keys with flags. */
        if (!migration_flags_check_combinations(flags, error) || !params_check_combinations(p, infos, n, error))
                return NULL;

        /* 6. Not implemented yet: flags, then keys. */
        if (!migration_flags_check_implemented(flags, error) || !params_check_implemented(infos, n, error))
                return NULL;

        return g_steal_pointer(&p);
}

MigrationParams *migration_params_new_plain(const char *destination_xml, const char *destination_name,
                                            const char *migrate_uri, guint64 bandwidth, guint flags,
                                            GError **error) {
        const struct {
                const char *key;
                const char *value;
        } strings[] = {
                { "destination_xml", destination_xml },
                { "destination_name", destination_name },
                { "migrate_uri", migrate_uri },
        };
        g_auto(GVariantBuilder) builder = G_VARIANT_BUILDER_INIT(G_VARIANT_TYPE_VARDICT);
        g_autoptr(GVariant) dict = NULL;

        for (guint i = 0; i < G_N_ELEMENTS(strings); i++) {
                if (!strings[i].value || strings[i].value[0] == '\0')
                        continue;
                /* Bus strings are UTF-8 already; other callers get an error, not a critical. */
                if (!g_utf8_validate(strings[i].value, -1, NULL)) {
                        g_set_error(error, MD_ERROR, MD_ERROR_INVALID_ARGS,
                                    _("Migration parameter '%s' is not valid UTF-8"), strings[i].key);
                        return NULL;
                }
                g_variant_builder_add(&builder, "{sv}", strings[i].key, g_variant_new_string(strings[i].value));
        }
        if (bandwidth != 0)
                g_variant_builder_add(&builder, "{sv}", "bandwidth", g_variant_new_uint64(bandwidth));
        dict = g_variant_ref_sink(g_variant_builder_end(&builder));
        return migration_params_new(dict, flags, error);
}

void migration_params_free(MigrationParams *params) {
        if (!params)
                return;
        for (guint i = 0; i < G_N_ELEMENTS(param_table); i++)
                if (param_table[i].type->pointer)
                        param_table[i].type->free_value(*(gpointer *) param_field(params, &param_table[i]));
        g_free(params);
}

void migration_params_fill_from(MigrationParams *p, const MigrationParams *other) {
        for (guint i = 0; i < G_N_ELEMENTS(param_table); i++) {
                const ParamInfo *info = &param_table[i];

                if (param_is_set(p, info) || !param_is_set(other, info))
                        continue;
                info->type->copy(param_field(p, info), param_field(other, info));
                param_mark_set(p, info);
        }
        p->flags |= other->flags;
}

GVariant *migration_params_to_variant(const MigrationParams *p) {
        GVariantBuilder b;

        g_variant_builder_init(&b, G_VARIANT_TYPE_VARDICT);
        for (guint i = 0; i < G_N_ELEMENTS(param_table); i++) {
                const ParamInfo *info = &param_table[i];

                if (param_is_set(p, info))
                        g_variant_builder_add(&b, "{sv}", info->key, info->type->get(param_field(p, info)));
        }
        return g_variant_builder_end(&b);
}

const char *migration_params_beyond_plain(const MigrationParams *p) {
        for (guint i = 0; i < G_N_ELEMENTS(param_table); i++)
                if (!param_table[i].plain && param_is_set(p, &param_table[i]))
                        return param_table[i].key;
        return NULL;
}

gboolean migration_params_nth_key(guint i, const char **ret_key, const char **ret_type) {
        if (i >= G_N_ELEMENTS(param_table))
                return FALSE;
        *ret_key = param_table[i].key;
        *ret_type = param_table[i].type->signature;
        return TRUE;
}

gboolean migration_params_set_unchecked(MigrationParams *p, const char *key, GVariant *value) {
        const ParamInfo *info = param_lookup(key);

        if (!info || !g_variant_is_of_type(value, G_VARIANT_TYPE(info->type->signature)))
                return FALSE;
        param_store(p, info, value);
        return TRUE;
}

gboolean migration_params_use_xbzrle(const MigrationParams *p) {
        if (!(p->flags & MIGRATE_COMPRESSED))
                return FALSE;
        return !p->compression || g_strv_contains((const char *const *) p->compression, "xbzrle");
}
