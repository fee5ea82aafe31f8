#include "domain-def-test.h"

char *data_path(const char *env, const char *sub, const char *name) {
        const char *dir = g_getenv(env);

        if (!dir)
                return NULL;
        return g_build_filename(dir, sub, name, NULL);
}

DomainDef *parse_ok(const char *xml) {
        g_autoptr(GError) error = NULL;
        DomainDef *def = domain_def_parse(xml, -1, &error);

        g_assert_no_error(error);
        g_assert_nonnull(def);
        return def;
}


static void assert_disks_equal(const DomainDisk *a, const DomainDisk *b) {
        g_assert_cmpstr(a->device, ==, b->device);
        g_assert_cmpstr(a->source_file, ==, b->source_file);
        g_assert_cmpstr(a->format, ==, b->format);
        g_assert_cmpstr(a->target_dev, ==, b->target_dev);
        g_assert_cmpstr(a->target_bus, ==, b->target_bus);
        g_assert_cmpint(a->readonly, ==, b->readonly);
        g_assert_cmpint(a->cache, ==, b->cache);
        g_assert_true(a->shareable == b->shareable);
        g_assert_cmpstr(a->discard, ==, b->discard);
        g_assert_cmpstr(a->io, ==, b->io);
}

static void assert_chardevs_equal(const DomainChardev *a, const DomainChardev *b) {
        g_assert_cmpint(a->type, ==, b->type);
        g_assert_cmpstr(a->path, ==, b->path);
        g_assert_cmpint(a->append, ==, b->append);
        g_assert_cmpint(a->unix_server, ==, b->unix_server);
        g_assert_cmpstr(a->target_type, ==, b->target_type);
        g_assert_cmpint(a->is_console, ==, b->is_console);
        g_assert_cmpstr(a->log_file, ==, b->log_file);
        g_assert_cmpint(a->log_append, ==, b->log_append);
}

void assert_defs_equal(const DomainDef *a, const DomainDef *b) {
        g_assert_cmpstr(a->virt_type, ==, b->virt_type);
        g_assert_cmpstr(a->name, ==, b->name);
        g_assert_cmpstr(a->uuid, ==, b->uuid);
        g_assert_cmpstr(a->title, ==, b->title);
        g_assert_cmpstr(a->description, ==, b->description);
        g_assert_cmpuint(a->memory_kib, ==, b->memory_kib);
        g_assert_cmpuint(a->current_memory_kib, ==, b->current_memory_kib);
        g_assert_cmpuint(a->max_memory_kib, ==, b->max_memory_kib);
        g_assert_cmpuint(a->memory_slots, ==, b->memory_slots);
        g_assert_cmpuint(a->vcpus, ==, b->vcpus);
        g_assert_cmpuint(a->current_vcpus, ==, b->current_vcpus);
        g_assert_cmpstr(a->os_type, ==, b->os_type);
        g_assert_cmpstr(a->arch, ==, b->arch);
        g_assert_cmpstr(a->machine, ==, b->machine);
        g_assert_cmpstr(a->kernel, ==, b->kernel);
        g_assert_cmpstr(a->initrd, ==, b->initrd);
        g_assert_cmpstr(a->cmdline, ==, b->cmdline);
        g_assert_cmpstr(a->emulator, ==, b->emulator);
        g_assert_cmpuint(a->disks->len, ==, b->disks->len);
        for (guint i = 0; i < a->disks->len; i++)
                assert_disks_equal(a->disks->pdata[i], b->disks->pdata[i]);
        g_assert_cmpuint(a->chardevs->len, ==, b->chardevs->len);
        for (guint i = 0; i < a->chardevs->len; i++)
                assert_chardevs_equal(a->chardevs->pdata[i], b->chardevs->pdata[i]);
}

/* parse(format(parse(x))): equal fields and identical text. */
void assert_round_trip(const char *xml) {
        g_autoptr(DomainDef) def = parse_ok(xml);
        g_autofree char *text = domain_def_format(def);
        g_autoptr(DomainDef) again = parse_ok(text);
        g_autofree char *text_again = domain_def_format(again);
        g_autoptr(DomainDef) copy = domain_def_copy(def);
        g_autofree char *text_copy = domain_def_format(copy);

        assert_defs_equal(def, again);
        g_assert_cmpstr(text, ==, text_again);
        assert_defs_equal(def, copy);
        g_assert_cmpstr(text, ==, text_copy);
}
