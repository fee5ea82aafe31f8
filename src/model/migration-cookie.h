/* The migration cookie: opaque bytes to clients, carried between the phases
 * of a migration (Begin -> Prepare -> Perform -> Finish -> Confirm). Our own
 * versioned JSON format (json-glib), bounded in size.
 *
 * libvirt's mandatory-feature rule holds: a receiver that does not know a
 * feature marked mandatory refuses the cookie (MD_ERROR_UNSUPPORTED). */
#pragma once

#include <glib.h>

#include "domain-def.h"
#include "md-config.h"

#define MIGRATION_COOKIE_FORMAT "migrationd-cookie"
#define MIGRATION_COOKIE_VERSION 1
#define MIGRATION_COOKIE_MAX_SIZE (64 * 1024)
/* Arrays and objects nest at most this deep (the format itself needs 3). */
#define MIGRATION_COOKIE_MAX_DEPTH 32

typedef struct {
        char *name;
        gboolean mandatory;
} MigrationCookieFeature;

/* The destination's display, libvirt's graphics cookie: where a connected
 * client (SPICE) is to reconnect after the move. */
typedef struct {
        char *type;              /* "vnc" or "spice"; a receiver acts only on what it knows */
        char *listen;            /* IP address or host name, never a wildcard; NULL = the
                                  * sender's hostname */
        gint64 port;             /* 1..65535 */
        gint64 tls_port;         /* 1..65535; 0 = none */
} MigrationCookieGraphics;

void migration_cookie_graphics_free(MigrationCookieGraphics *graphics);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MigrationCookieGraphics, migration_cookie_graphics_free)
/* A disk the source copies over NBD (storage migration), from Begin: the
 * destination creates a missing image like it. */
typedef struct {
        char *target;            /* <target dev=...>, e.g. "vda" */
        char *format;            /* image format, e.g. "qcow2" or "raw" */
        gint64 capacity;         /* virtual size in bytes, > 0 */
        /* The image's backing file (qemu-img's full-backing-filename: an
         * absolute, canonical path) and its format; both NULL or both set.
         * NON_SHARED_INC creates the destination's image on top of it. */
        char *backing;
        char *backing_format;
} MigrationCookieDisk;

#define MIGRATION_COOKIE_MAX_PATH 4096

#define MIGRATION_COOKIE_MAX_DISKS 64

typedef struct {
        guint version;           /* format version, MIGRATION_COOKIE_VERSION when encoding */
        char *name;              /* domain name */
        char *uuid;              /* domain UUID; lower-case when decoded */
        char *hostname;          /* sender's host */
        char *host_uuid;         /* sender's host identity; equal on both sides = SameHost;
                                  * lower-case when decoded */
        guint protocol;          /* 2 or 3 */
        char *phase;             /* nullable: the phase whose answer carries the cookie
                                  * ("begin3", "prepare3", "perform3", "finish3") */
        GPtrArray *features;     /* MigrationCookieFeature*, owned; unknown optional ones included */
        /* Source statistics after Perform, from which the destination computes
         * the real downtime: wall-clock ms (g_get_real_time()/1000) at which
         * the source guest stopped; 0 when unknown. */
        gint64 source_stop_time_ms;
        GVariant *stats;         /* a{sv} job statistics of the sender, nullable, a strong reference;
                                  * values of type t, x, u, i, d, b or s only */
        char *persistent_xml;    /* nullable: definition to make persistent on the destination */
        gint64 ram_kib;          /* RAM the source's QEMU was given (-m); 0 = unknown */
        MigrationCookieGraphics *graphics; /* nullable: the destination's display (Prepare) */
        /* Storage migration, libvirt's <nbd>: */
        gint64 nbd_port;         /* the destination's NBD server (Prepare); 0 = none */
        GPtrArray *nbd_disks;    /* MigrationCookieDisk*, owned, nullable: the disks to copy (Begin) */
} MigrationCookie;

MigrationCookie *migration_cookie_new(void);
void migration_cookie_free(MigrationCookie *cookie);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MigrationCookie, migration_cookie_free)

void migration_cookie_add_feature(MigrationCookie *cookie, const char *name, gboolean mandatory);
gboolean migration_cookie_has_feature(const MigrationCookie *cookie, const char *name);
/* Appends a disk to nbd_disks (created on first use); returns it, for
 * migration_cookie_set_nbd_backing(). */
MigrationCookieDisk *migration_cookie_add_nbd_disk(MigrationCookie *cookie, const char *target, const char *format,
                                   gint64 capacity);
/* The disk of @target in nbd_disks, or NULL. */
const MigrationCookieDisk *migration_cookie_find_nbd_disk(const MigrationCookie *cookie, const char *target);
/* The backing file of @disk (both nullable: none). */
void migration_cookie_set_nbd_backing(MigrationCookieDisk *disk, const char *backing, const char *format);

/* Checks the cookie by the same rules as decoding, so that whatever it
 * produces decodes again: MD_ERROR_INVALID_COOKIE saying what is wrong (a
 * missing or invalid field, a statistic of another type, a non-finite
 * double), or if the result would exceed MIGRATION_COOKIE_MAX_SIZE bytes. */
GBytes *migration_cookie_encode(const MigrationCookie *cookie, GError **error);

/* Anything malformed -> MD_ERROR_INVALID_COOKIE saying what; a mandatory
 * feature not in @known_features (NULL-terminated) -> MD_ERROR_UNSUPPORTED
 * naming it. */
MigrationCookie *migration_cookie_decode(const guint8 *data, gsize len,
                                         const char *const *known_features, GError **error);

/* ---- One host's view (migration-cookie-host.c) ---- */

/* The cookie this host (@host's hostname and host UUID) sends in the answer
 * of @phase ("begin3", "prepare3", "perform3", "finish3"): domain and host
 * identity, protocol 3. */
MigrationCookie *migration_cookie_for_host(const MdConfig *host, const char *phase, const char *name,
                                           const char *uuid);
/* Decodes a peer's cookie, with the features this side knows: malformed ->
 * InvalidCookie; @host's own host UUID -> SameHost; another domain than
 * @uuid (when given) -> InvalidCookie. */
MigrationCookie *migration_cookie_from_peer(const MdConfig *host, GBytes *bytes, const char *uuid,
                                            GError **error);
/* The display a client should follow the guest to (migration-cookie-graphics.c):
 * of @live (ports chosen), SPICE before VNC; a wildcard listen address becomes
 * @host, the address the source reaches this host at. NULL without a display. */
MigrationCookieGraphics *migration_cookie_graphics_from_def(const DomainDef *live, const char *host);

/* persistent_xml (of PERSIST_DEST) must parse and describe the migrated
 * domain as the destination knows it, @name and @uuid: MD_ERROR_INVALID_ARGS
 * (or the parser's error) otherwise. Begin and Prepare check it, so that a
 * wrong one fails before anything runs. */
gboolean migration_persistent_xml_check(const char *xml, const char *name, const char *uuid, GError **error);
