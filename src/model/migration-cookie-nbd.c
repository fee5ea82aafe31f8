/* The cookie's "nbd" member: what a storage migration tells the other side
 * (libvirt's <nbd> element). The source lists the disks it copies, with
 * format and virtual size, so that the destination can create missing
 * images (on top of the image's backing file, for NON_SHARED_INC); the
 * destination answers with its NBD server's port. Checked like the rest of
 * the cookie: the same rules for decoding and encoding. */
#define G_LOG_DOMAIN "migrationd"

#include <string.h>

#include "i18n.h"
#include "migration-cookie-private.h"

static void disk_free(MigrationCookieDisk *disk) {
        g_free(disk->target);
        g_free(disk->format);
        g_free(disk->backing);
        g_free(disk->backing_format);
        g_free(disk);
}

MigrationCookieDisk *migration_cookie_add_nbd_disk(MigrationCookie *cookie, const char *target,
                                                   const char *format, gint64 capacity) {
        MigrationCookieDisk *disk = g_new0(MigrationCookieDisk, 1);

        if (!cookie->nbd_disks)
                cookie->nbd_disks = g_ptr_array_new_with_free_func((GDestroyNotify) disk_free);
        disk->target = g_strdup(target);
        disk->format = g_strdup(format);
        disk->capacity = capacity;
        g_ptr_array_add(cookie->nbd_disks, disk);
        return disk;
}

void migration_cookie_set_nbd_backing(MigrationCookieDisk *disk, const char *backing, const char *format) {
        g_free(disk->backing);
        g_free(disk->backing_format);
        disk->backing = g_strdup(backing);
        disk->backing_format = g_strdup(format);
}

const MigrationCookieDisk *migration_cookie_find_nbd_disk(const MigrationCookie *cookie, const char *target) {
        for (guint i = 0; cookie->nbd_disks && i < cookie->nbd_disks->len; i++) {
                const MigrationCookieDisk *disk = cookie->nbd_disks->pdata[i];

                if (g_strcmp0(disk->target, target) == 0)
                        return disk;
        }
        return NULL;
}

/* The destination hands the path to qemu-img create -b: an absolute,
 * canonical file name (no "..", ".", "//"), no protocol prefix or JSON
 * ("json:{...}" does not start with '/'), no control characters. */
static gboolean is_backing_path(const char *path) {
        g_autofree char *canonical = NULL;

        if (strlen(path) > MIGRATION_COOKIE_MAX_PATH || !g_utf8_validate(path, -1, NULL) || path[0] != '/')
                return FALSE;
        for (const char *c = path; *c; c++)
                if ((guchar) *c < 0x20 || *c == 0x7f)
                        return FALSE;
        canonical = g_canonicalize_filename(path, "/");
        return g_str_equal(canonical, path);
}

static gboolean check_backing(const MigrationCookieDisk *disk, GError **error) {
        if (!disk->backing && !disk->backing_format)
                return TRUE;
        if (!disk->backing || !disk->backing_format)
                return invalid(error, _("Disk %s of the migration cookie's 'nbd' has a backing file without "
                                        "its format or a format without a backing file"), disk->target);
        if (!is_backing_path(disk->backing))
                return invalid(error, _("Disk %s of the migration cookie's 'nbd' has an invalid backing file; "
                                        "it must be an absolute, canonical path of at most %d bytes without "
                                        "control characters"), disk->target, MIGRATION_COOKIE_MAX_PATH);
        if (!migration_cookie_is_identifier(disk->backing_format))
                return invalid(error, _("Disk %s of the migration cookie's 'nbd' has an invalid backing format; "
                                        "it is 1 to %d characters of A-Z, a-z, 0-9, '.', '_' and '-'"),
                               disk->target, IDENTIFIER_MAX_BYTES);
        return TRUE;
}

gboolean migration_cookie_check_nbd(const MigrationCookie *cookie, GError **error) {
        g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);

        if (cookie->nbd_port < 0 || cookie->nbd_port > 65535)
                return invalid(error, _("Migration cookie member 'nbd' has a port out of range 1..65535"));
        if (!cookie->nbd_disks)
                return TRUE;
        if (cookie->nbd_disks->len > MIGRATION_COOKIE_MAX_DISKS)
                return invalid(error, _("Migration cookie member 'nbd' lists more than %d disks"),
                               MIGRATION_COOKIE_MAX_DISKS);
        for (guint i = 0; i < cookie->nbd_disks->len; i++) {
                const MigrationCookieDisk *disk = cookie->nbd_disks->pdata[i];

                if (!disk->target || !disk->format || !migration_cookie_is_identifier(disk->target) ||
                    !migration_cookie_is_identifier(disk->format))
                        return invalid(error, _("Disk %u of the migration cookie's 'nbd' has an invalid target or "
                                                "format; each is 1 to %d characters of A-Z, a-z, 0-9, '.', '_' "
                                                "and '-'"), i, IDENTIFIER_MAX_BYTES);
                if (disk->capacity <= 0)
                        return invalid(error, _("Disk %s of the migration cookie's 'nbd' has no positive "
                                                "capacity"), disk->target);
                if (!check_backing(disk, error))
                        return FALSE;
                if (!g_hash_table_add(seen, disk->target))
                        return invalid(error, _("Migration cookie's 'nbd' lists disk %s twice"), disk->target);
        }
        return TRUE;
}

static gboolean parse_disk(MigrationCookie *cookie, guint i, JsonNode *node, GError **error) {
        const char *target, *format, *backing = NULL, *backing_format = NULL;
        gint64 capacity;
        JsonObject *object;

        if (!JSON_NODE_HOLDS_OBJECT(node))
                return invalid(error, _("Disk %u of the migration cookie's 'nbd' must be an object, not %s"), i,
                               migration_cookie_json_kind(node));
        object = json_node_get_object(node);
        if (!migration_cookie_get_string(object, "target", TRUE, &target, error) ||
            !migration_cookie_get_string(object, "format", TRUE, &format, error) ||
            !migration_cookie_get_integer(object, "capacity", TRUE, &capacity, error) ||
            !migration_cookie_get_string(object, "backing", FALSE, &backing, error) ||
            !migration_cookie_get_string(object, "backing_format", FALSE, &backing_format, error))
                return FALSE;
        migration_cookie_set_nbd_backing(migration_cookie_add_nbd_disk(cookie, target, format, capacity), backing,
                                         backing_format);
        return TRUE;
}

gboolean migration_cookie_parse_nbd(MigrationCookie *cookie, JsonNode *node, GError **error) {
        JsonObject *object;
        JsonNode *disks;
        JsonArray *array;

        if (!node)
                return TRUE;
        if (!JSON_NODE_HOLDS_OBJECT(node))
                return invalid(error, _("Migration cookie member 'nbd' must be an object, not %s"),
                               migration_cookie_json_kind(node));
        object = json_node_get_object(node);
        if (!migration_cookie_get_integer(object, "port", FALSE, &cookie->nbd_port, error))
                return FALSE;
        if (json_object_has_member(object, "port") && cookie->nbd_port == 0)
                return invalid(error, _("Migration cookie member 'nbd' has a port out of range 1..65535"));
        disks = json_object_get_member(object, "disks");
        if (!disks)
                return TRUE;
        if (!JSON_NODE_HOLDS_ARRAY(disks))
                return invalid(error, _("Migration cookie's 'nbd' member 'disks' must be an array, not %s"),
                               migration_cookie_json_kind(disks));
        array = json_node_get_array(disks);
        /* Checked before reading them all: a hostile sender's million entries stop here. */
        if (json_array_get_length(array) > MIGRATION_COOKIE_MAX_DISKS)
                return invalid(error, _("Migration cookie member 'nbd' lists more than %d disks"),
                               MIGRATION_COOKIE_MAX_DISKS);
        cookie->nbd_disks = g_ptr_array_new_with_free_func((GDestroyNotify) disk_free);
        for (guint i = 0; i < json_array_get_length(array); i++)
                if (!parse_disk(cookie, i, json_array_get_element(array, i), error))
                        return FALSE;
        return TRUE;
}

void migration_cookie_add_nbd(JsonBuilder *builder, const MigrationCookie *cookie) {
        if (!cookie->nbd_port && !cookie->nbd_disks)
                return;
        json_builder_set_member_name(builder, "nbd");
        json_builder_begin_object(builder);
        if (cookie->nbd_port) {
                json_builder_set_member_name(builder, "port");
                json_builder_add_int_value(builder, cookie->nbd_port);
        }
        if (cookie->nbd_disks) {
                json_builder_set_member_name(builder, "disks");
                json_builder_begin_array(builder);
                for (guint i = 0; i < cookie->nbd_disks->len; i++) {
                        const MigrationCookieDisk *disk = cookie->nbd_disks->pdata[i];

                        json_builder_begin_object(builder);
                        json_builder_set_member_name(builder, "target");
                        json_builder_add_string_value(builder, disk->target);
                        json_builder_set_member_name(builder, "format");
                        json_builder_add_string_value(builder, disk->format);
                        json_builder_set_member_name(builder, "capacity");
                        json_builder_add_int_value(builder, disk->capacity);
                        if (disk->backing) {
                                json_builder_set_member_name(builder, "backing");
                                json_builder_add_string_value(builder, disk->backing);
                                json_builder_set_member_name(builder, "backing_format");
                                json_builder_add_string_value(builder, disk->backing_format);
                        }
                        json_builder_end_object(builder);
                }
                json_builder_end_array(builder);
        }
        json_builder_end_object(builder);
}
