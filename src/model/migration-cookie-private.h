/* What the cookie's files share: migration-cookie.c (format, structure,
 * the rules both directions check, decoding) and migration-cookie-encode.c
 * check by the same rules, so that every encoded cookie decodes. Not for use
 * outside these files. */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

#include "migration-cookie.h"

#define IDENTIFIER_MAX_BYTES 64         /* feature names and statistics keys */
#define STAT_TYPES "txuidbs"

/* Sets MD_ERROR_INVALID_COOKIE; returns FALSE. */
G_GNUC_PRINTF(2, 3) gboolean migration_cookie_invalid(GError **error, const char *format, ...);
/* The short name the cookie's files use. */
#define invalid migration_cookie_invalid

/* 1 to IDENTIFIER_MAX_BYTES of A-Z a-z 0-9 . _ - */
gboolean migration_cookie_is_identifier(const char *s);
/* Feature names valid and unique. */
gboolean migration_cookie_check_features(const MigrationCookie *cookie, GError **error);
/* Every member but features and statistics. */
gboolean migration_cookie_check_fields(const MigrationCookie *cookie, GError **error);

/* ---- The "graphics" member (migration-cookie-graphics.c) ---- */

gboolean migration_cookie_check_graphics(const MigrationCookieGraphics *graphics, GError **error);
/* @node: the member, never NULL; *@ret set only on success. */
gboolean migration_cookie_parse_graphics(JsonNode *node, MigrationCookieGraphics **ret, GError **error);
void migration_cookie_add_graphics(JsonBuilder *builder, const MigrationCookieGraphics *graphics);

/* Readers of one member, shared with migration-cookie-nbd.c. */
const char *migration_cookie_json_kind(JsonNode *node);
gboolean migration_cookie_get_string(JsonObject *object, const char *name, gboolean required,
                                     const char **ret, GError **error);
/* *ret stays 0 when the member is absent and not required. */
gboolean migration_cookie_get_integer(JsonObject *object, const char *name, gboolean required,
                                      gint64 *ret, GError **error);

/* The "nbd" member (migration-cookie-nbd.c): @node NULL when absent. */
gboolean migration_cookie_parse_nbd(MigrationCookie *cookie, JsonNode *node, GError **error);
gboolean migration_cookie_check_nbd(const MigrationCookie *cookie, GError **error);
void migration_cookie_add_nbd(JsonBuilder *builder, const MigrationCookie *cookie);
