/* Unit tests of what a definition keeps: its canonical text, not libxml2's
 * tree. The text GetXMLDesc returns, before and after each edit, is the one
 * the code that kept the tree produced (golden files tests/data/domains/
 * devices-*.xml, made by it from devices.xml); edits leave the definition's
 * devices where they are; copies and edits are independent. */
#include <string.h>

#include "domain-def.h"
#include "md-error.h"

static char *read_data(const char *name) {
        const char *dir = g_getenv("MD_TEST_DATA_DIR");
        g_autofree char *path = NULL;
        g_autoptr(GError) error = NULL;
        char *contents = NULL;

        g_assert_nonnull(dir);
        path = g_build_filename(dir, "domains", name, NULL);
        g_assert_true(g_file_get_contents(path, &contents, NULL, &error));
        g_assert_no_error(error);
        return contents;
}

static DomainDef *parse_fixture(void) {
        g_autofree char *xml = read_data("devices.xml");
        g_autoptr(GError) error = NULL;
        DomainDef *def = domain_def_parse(xml, -1, &error);

        g_assert_no_error(error);
        g_assert_nonnull(def);
        return def;
}

static void assert_text(const DomainDef *def, const char *golden) {
        g_autofree char *expected = read_data(golden);
        g_autofree char *text = domain_def_format(def);

        g_assert_cmpstr(text, ==, expected);
}

/* The edits the daemon makes: a migration's new name, the display ports
 * and agent socket a start chooses, a chardev path at the destination. */
static void edit(DomainDef *def) {
        domain_def_set_name(def, "moved & <renamed>");
        domain_def_set_graphics_port(def, 0, 5901);
        domain_def_set_graphics_port(def, 1, 5902);
        domain_def_set_channel_path(def, 0, "/run/migrationd/guest.ch0.sock");
        g_assert_true(domain_def_set_chardev_path(def, 0, "/srv/dest/serial.log"));
}

static void test_golden(void) {
        g_autoptr(DomainDef) def = parse_fixture();
        g_autoptr(DomainDef) copy = NULL;
        g_autofree char *expected_public = read_data("devices-edited-public.xml");
        g_autofree char *public_text = NULL;

        assert_text(def, "devices-canonical.xml");
        copy = domain_def_copy(def);
        assert_text(copy, "devices-canonical.xml");

        edit(def);
        assert_text(def, "devices-edited.xml");
        public_text = domain_def_format_public(def);
        g_assert_cmpstr(public_text, ==, expected_public);
        /* The secret is still in the definition itself. */
        g_assert_nonnull(strstr(def->xml, "passwd=\"s3cret\""));

        /* The copy taken before the edits is untouched by them, and the same
         * edits on it give the same text. */
        assert_text(copy, "devices-canonical.xml");
        edit(copy);
        assert_text(copy, "devices-edited.xml");
}

/* The daemon holds pointers into a definition's devices across an edit
 * (domain-devices.c picks ports in a loop over them). */
static void test_edit_keeps_devices(void) {
        g_autoptr(DomainDef) def = parse_fixture();
        DomainGraphics *g = def->graphics->pdata[1];
        DomainChannel *ch = def->channels->pdata[0];
        DomainChardev *chr = def->chardevs->pdata[0];
        GPtrArray *graphics = def->graphics;

        edit(def);
        g_assert_true(def->graphics == graphics);
        g_assert_true(def->graphics->pdata[1] == g);
        g_assert_cmpint(g->port, ==, 5902);
        g_assert_true(def->channels->pdata[0] == ch);
        g_assert_cmpstr(ch->path, ==, "/run/migrationd/guest.ch0.sock");
        g_assert_true(def->chardevs->pdata[0] == chr);
        g_assert_cmpstr(chr->path, ==, "/srv/dest/serial.log");
        g_assert_cmpstr(def->name, ==, "moved & <renamed>");
        /* No libxml2 node outlives its document. */
        g_assert_null(g->node);
        g_assert_null(ch->node);
        g_assert_null(chr->node);
}

/* The kept text is what parses again to the same definition: read back,
 * it formats to itself, and edits made on the copy read back too. */
static void test_text_reads_back(void) {
        g_autoptr(DomainDef) def = parse_fixture();
        g_autoptr(DomainDef) again = NULL;
        g_autoptr(GError) error = NULL;
        g_autofree char *text = NULL;

        edit(def);
        text = domain_def_format(def);
        again = domain_def_parse(text, -1, &error);
        g_assert_no_error(error);
        g_assert_cmpstr(again->xml, ==, text);
        g_assert_cmpstr(again->name, ==, def->name);
        g_assert_cmpstr(((DomainChardev *) again->chardevs->pdata[0])->path, ==, "/srv/dest/serial.log");
        g_assert_cmpstr(((DomainChannel *) again->channels->pdata[0])->path, ==,
                        "/run/migrationd/guest.ch0.sock");
        g_assert_false(domain_def_has_unsupported_runtime(again, NULL));
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/domain-def-text/golden", test_golden);
        g_test_add_func("/domain-def-text/edit-keeps-devices", test_edit_keeps_devices);
        g_test_add_func("/domain-def-text/reads-back", test_text_reads_back);
        return g_test_run();
}
