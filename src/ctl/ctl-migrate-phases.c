/* migrationctl: the five phase calls of a managed migration, in either form:
 * libvirt's typed parameters (Begin3Params, ...) or plain arguments
 * (Begin3, ...), where empty strings and a zero bandwidth mean "not given". */
#include <errno.h>

#include "bus-variant.h"
#include "ctl-bus.h"
#include "ctl-migrate.h"

/* Perform3 replies when the stream has ended and Finish3 when the guest runs
 * (or has been thrown away): no timeout. 0 would be sd-bus' default, 25 s. */
#define CTL_NO_TIMEOUT UINT64_MAX

/* The typed parameters of a phase; NULL strings are left out. */
typedef struct {
        const char *destination_name;
        const char *destination_xml;
        const char *migrate_uri;        /* NULL or empty: left out */
        gboolean bandwidth;             /* pass --bandwidth, if given */
        gboolean settings;              /* pass --parallel and --compress, if given */
} CtlParams;

const char *ctl_migration_final_name(const CtlMigration *m) {
        return ctl_job_watch_final_name(&m->watch);
}

/* ---- Calls that keep the loop running ---- */

typedef struct {
        gboolean done;
        sd_bus_message *reply;
} CtlPendingCall;

static int on_call_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        CtlPendingCall *pending = userdata;

        pending->reply = sd_bus_message_ref(reply);
        pending->done = TRUE;
        return 0;
}

/* Sends @call and iterates the main loop until its reply has come. */
static int migration_call(CtlMigration *m, sd_bus *bus, sd_bus_message *call, uint64_t timeout_usec,
                          sd_bus_error *error, sd_bus_message **ret_reply) {
        g_autoptr(sd_bus_slot) slot = NULL;
        g_autoptr(sd_bus_message) reply = NULL;
        CtlPendingCall pending = {};
        int r;

        if (m->watch.quit)
                return -ECANCELED;
        r = sd_bus_call_async(bus, &slot, call, on_call_reply, &pending, timeout_usec);
        if (r < 0)
                return r;
        while (!pending.done && !m->watch.quit)
                g_main_context_iteration(NULL, TRUE);

        reply = g_steal_pointer(&pending.reply);
        if (!reply)
                return -ECANCELED;
        if (sd_bus_message_is_method_error(reply, NULL))
                return sd_bus_error_copy(error, sd_bus_message_get_error(reply));
        if (ret_reply)
                *ret_reply = g_steal_pointer(&reply);
        return 0;
}

/* ---- Arguments ---- */

static int new_call(sd_bus *bus, const char *path, const char *interface, const char *member,
                    sd_bus_message **ret) {
        return sd_bus_message_new_method_call(bus, ret, MIGRATION1_SERVICE, path, interface, member);
}

static int new_domain_call(CtlMigration *m, const char *member, sd_bus_message **ret) {
        return new_call(m->watch.source, m->watch.path, MIGRATION1_DOMAIN_INTERFACE, member, ret);
}

static int new_manager_call(CtlMigration *m, const char *member, sd_bus_message **ret) {
        return new_call(m->destination, MIGRATION1_MANAGER_PATH, MIGRATION1_MANAGER_INTERFACE, member, ret);
}

static int append_params(sd_bus_message *call, const CtlMigration *m, const CtlParams *p) {
        g_auto(GVariantDict) dict = G_VARIANT_DICT_INIT(NULL);
        g_autoptr(GVariant) params = NULL;

        if (p->destination_name)
                g_variant_dict_insert(&dict, "destination_name", "s", p->destination_name);
        if (p->destination_xml)
                g_variant_dict_insert(&dict, "destination_xml", "s", p->destination_xml);
        /* An offline migration's Prepare3 returns an empty URI: there is no stream. */
        if (p->migrate_uri && *p->migrate_uri)
                g_variant_dict_insert(&dict, "migrate_uri", "s", p->migrate_uri);
        if (p->bandwidth && m->ctx->has_bandwidth)
                g_variant_dict_insert(&dict, "bandwidth", "t", m->ctx->bandwidth_mib);
        if (p->settings && m->ctx->parallel_connections > 0)
                g_variant_dict_insert(&dict, "parallel.connections", "i", m->ctx->parallel_connections);
        if (p->settings && m->ctx->compression)
                g_variant_dict_insert_value(&dict, "compression",
                                            g_variant_new_strv((const char *const *) m->ctx->compression->pdata,
                                                               m->ctx->compression->len));

        params = g_variant_ref_sink(g_variant_dict_end(&dict));
        return bus_message_append_vardict(call, params);
}

static int append_cookie(sd_bus_message *call, GBytes *cookie) {
        gsize size = 0;
        const void *data = cookie ? g_bytes_get_data(cookie, &size) : NULL;

        return sd_bus_message_append_array(call, 'y', data ? data : "", size);
}

static int read_cookie(sd_bus_message *reply, GBytes **ret) {
        const void *data;
        size_t size;
        int r;

        r = sd_bus_message_read_array(reply, 'y', &data, &size);
        if (r < 0)
                return r;
        *ret = g_bytes_new(data, size);
        return 0;
}

static void take_cookie(CtlMigration *m, GBytes *cookie) {
        g_clear_pointer(&m->cookie, g_bytes_unref);
        m->cookie = cookie;
}

static const char *empty_if_null(const char *s) {
        return s ? s : "";
}

static uint64_t plain_bandwidth(const CtlContext *ctx) {
        return ctx->has_bandwidth ? ctx->bandwidth_mib : 0;
}

static uint32_t flags(const CtlMigration *m) {
        return (uint32_t) m->ctx->migrate_flags;
}

/* Prepare3, Prepare3Params and Prepare2 answer alike: a cookie and the
 * URI the source's QEMU is to stream to. */
static int call_prepare(CtlMigration *m, sd_bus_message *call, sd_bus_error *error) {
        g_autoptr(sd_bus_message) reply = NULL;
        g_autoptr(GBytes) cookie = NULL;
        const char *uri;
        int r;

        r = migration_call(m, m->destination, call, CTL_CALL_TIMEOUT_USEC, error, &reply);
        if (r >= 0)
                r = read_cookie(reply, &cookie);
        if (r >= 0)
                r = sd_bus_message_read(reply, "s", &uri);
        if (r < 0)
                return r;
        take_cookie(m, g_steal_pointer(&cookie));
        m->uri = g_strdup(uri);
        return 0;
}

/* ---- The phases ---- */

int ctl_migration_begin(CtlMigration *m, sd_bus_error *error) {
        const CtlContext *ctx = m->ctx;
        g_autoptr(sd_bus_message) call = NULL, reply = NULL;
        const char *xml;
        GBytes *cookie;
        int r;

        r = new_domain_call(m, ctx->plain ? "Begin3" : "Begin3Params", &call);
        if (r < 0)
                return r;
        if (ctx->plain)
                r = sd_bus_message_append(call, "sst", empty_if_null(m->watch.destination_xml),
                                          empty_if_null(ctx->dname), plain_bandwidth(ctx));
        else
                r = append_params(call, m, &(CtlParams) { .destination_name = ctx->dname,
                                                          .destination_xml = m->watch.destination_xml,
                                                          .bandwidth = TRUE,
                                                          .settings = TRUE });
        if (r >= 0)
                r = sd_bus_message_append(call, "u", flags(m));
        if (r >= 0)
                r = migration_call(m, m->watch.source, call, CTL_CALL_TIMEOUT_USEC, error, &reply);
        if (r >= 0)
                r = sd_bus_message_read(reply, "s", &xml);
        if (r >= 0)
                r = read_cookie(reply, &cookie);
        if (r < 0)
                return r;

        take_cookie(m, cookie);
        m->xml = g_strdup(xml);
        return 0;
}

int ctl_migration_prepare(CtlMigration *m, sd_bus_error *error) {
        const CtlContext *ctx = m->ctx;
        g_autoptr(sd_bus_message) call = NULL;
        int r;

        r = new_manager_call(m, ctx->plain ? "Prepare3" : "Prepare3Params", &call);
        if (r < 0)
                return r;
        if (ctx->plain)
                r = sd_bus_message_append(call, "sst", m->xml, empty_if_null(ctx->dname),
                                          plain_bandwidth(ctx));
        else
                r = append_params(call, m, &(CtlParams) { .destination_name = ctx->dname,
                                                          .destination_xml = m->xml,
                                                          .bandwidth = TRUE,
                                                          .settings = TRUE });
        if (r >= 0)
                r = append_cookie(call, m->cookie);
        if (r >= 0 && ctx->plain)
                r = sd_bus_message_append(call, "s", "");       /* uri_in: the destination chooses */
        if (r >= 0)
                r = sd_bus_message_append(call, "u", flags(m));
        if (r < 0)
                return r;
        return call_prepare(m, call, error);
}

int ctl_migration_perform(CtlMigration *m, sd_bus_error *error) {
        const CtlContext *ctx = m->ctx;
        g_autoptr(sd_bus_message) call = NULL, reply = NULL;
        GBytes *cookie;
        int r;

        /* The empty dconnuri (no peer-to-peer): this client manages the migration. */
        r = new_domain_call(m, ctx->plain ? "Perform3" : "Perform3Params", &call);
        if (r < 0)
                return r;
        if (ctx->plain) {
                r = sd_bus_message_append(call, "s", "");                       /* xmlin */
                if (r >= 0)
                        r = append_cookie(call, m->cookie);
                if (r >= 0)
                        r = sd_bus_message_append(call, "ssst", "", m->uri, empty_if_null(ctx->dname),
                                                  plain_bandwidth(ctx));
        } else {
                r = sd_bus_message_append(call, "s", "");
                if (r >= 0)
                        r = append_params(call, m, &(CtlParams) { .destination_name = ctx->dname,
                                                                  .migrate_uri = m->uri,
                                                                  .bandwidth = TRUE,
                                                                  .settings = TRUE });
                if (r >= 0)
                        r = append_cookie(call, m->cookie);
        }
        if (r >= 0)
                r = sd_bus_message_append(call, "u", flags(m));
        if (r >= 0)
                r = migration_call(m, m->watch.source, call, CTL_NO_TIMEOUT, error, &reply);
        if (r >= 0)
                r = read_cookie(reply, &cookie);
        if (r < 0)
                return r;

        take_cookie(m, cookie);
        return 0;
}

int ctl_migration_finish(CtlMigration *m, gboolean cancelled, sd_bus_error *error) {
        const CtlContext *ctx = m->ctx;
        g_autoptr(sd_bus_message) call = NULL, reply = NULL;
        const char *path;
        GBytes *cookie;
        int r;

        r = new_manager_call(m, ctx->plain ? "Finish3" : "Finish3Params", &call);
        if (r < 0)
                return r;
        if (ctx->plain)
                r = sd_bus_message_append(call, "s", ctl_migration_final_name(m));
        else
                r = append_params(call, m, &(CtlParams) { .destination_name = ctl_migration_final_name(m),
                                                          .migrate_uri = m->uri });
        if (r >= 0)
                r = append_cookie(call, m->cookie);
        if (r >= 0 && ctx->plain)
                r = sd_bus_message_append(call, "s", empty_if_null(m->uri));
        if (r >= 0)
                r = sd_bus_message_append(call, "ub", flags(m), cancelled);
        if (r >= 0)
                r = migration_call(m, m->destination, call, CTL_NO_TIMEOUT, error, &reply);
        if (r >= 0)
                r = sd_bus_message_read(reply, "o", &path);
        if (r >= 0)
                r = read_cookie(reply, &cookie);
        if (r < 0)
                return r;

        take_cookie(m, cookie);
        m->destination_path = g_strdup(path);
        return 0;
}

int ctl_migration_confirm(CtlMigration *m, gboolean cancelled, sd_bus_error *error) {
        g_autoptr(sd_bus_message) call = NULL;
        int r;

        r = new_domain_call(m, m->ctx->plain ? "Confirm3" : "Confirm3Params", &call);
        if (r < 0)
                return r;
        if (!m->ctx->plain)
                r = append_params(call, m, &(CtlParams) {});
        if (r >= 0)
                r = append_cookie(call, m->cookie);
        if (r >= 0)
                r = sd_bus_message_append(call, "ub", flags(m), cancelled);
        if (r >= 0)
                r = migration_call(m, m->watch.source, call, CTL_CALL_TIMEOUT_USEC, error, NULL);
        return r;
}

/* ---- Protocol 2 ---- */

int ctl_migration_prepare2(CtlMigration *m, sd_bus_error *error) {
        const CtlContext *ctx = m->ctx;
        g_autoptr(sd_bus_message) call = NULL, reply = NULL;
        const char *xml;
        int r;

        /* No Begin: the XML the destination starts from is --xml or the source's own. */
        if (!m->xml && m->watch.destination_xml)
                m->xml = g_strdup(m->watch.destination_xml);
        if (!m->xml) {
                r = new_domain_call(m, "GetXMLDesc", &call);
                if (r >= 0)
                        r = sd_bus_message_append(call, "u", 0u);
                if (r >= 0)
                        r = migration_call(m, m->watch.source, call, CTL_CALL_TIMEOUT_USEC, error, &reply);
                if (r >= 0)
                        r = sd_bus_message_read(reply, "s", &xml);
                if (r < 0)
                        return r;
                m->xml = g_strdup(xml);
                g_clear_pointer(&call, sd_bus_message_unref);
                g_clear_pointer(&reply, sd_bus_message_unref);
        }

        r = new_manager_call(m, "Prepare2", &call);
        if (r >= 0)
                r = sd_bus_message_append(call, "sstsu", m->xml, empty_if_null(ctx->dname),
                                          plain_bandwidth(ctx), "", flags(m));
        if (r < 0)
                return r;
        return call_prepare(m, call, error);
}

int ctl_migration_perform2(CtlMigration *m, sd_bus_error *error) {
        const CtlContext *ctx = m->ctx;
        g_autoptr(sd_bus_message) call = NULL;
        int r;

        /* Prepare2's cookie goes to Perform2 and on to Finish2 unchanged. */
        r = new_domain_call(m, "Perform2", &call);
        if (r >= 0)
                r = append_cookie(call, m->cookie);
        if (r >= 0)
                r = sd_bus_message_append(call, "sstu", empty_if_null(m->uri), empty_if_null(ctx->dname),
                                          plain_bandwidth(ctx), flags(m));
        if (r >= 0)
                r = migration_call(m, m->watch.source, call, CTL_NO_TIMEOUT, error, NULL);
        return r;
}

int ctl_migration_finish2(CtlMigration *m, int retcode, sd_bus_error *error) {
        g_autoptr(sd_bus_message) call = NULL, reply = NULL;
        const char *path;
        int r;

        r = new_manager_call(m, "Finish2", &call);
        if (r >= 0)
                r = sd_bus_message_append(call, "s", ctl_migration_final_name(m));
        if (r >= 0)
                r = append_cookie(call, m->cookie);
        if (r >= 0)
                r = sd_bus_message_append(call, "sui", empty_if_null(m->uri), flags(m), (int32_t) retcode);
        if (r >= 0)
                r = migration_call(m, m->destination, call, CTL_NO_TIMEOUT, error, &reply);
        if (r >= 0)
                r = sd_bus_message_read(reply, "o", &path);
        if (r < 0)
                return r;

        m->destination_path = g_strdup(path);
        return 0;
}
