/* Fuzzes the parsers of the peer link: the peer URI
 * (migration+tls://HOST[:PORT]), [bridge] listen, and the allowed_peers DN
 * patterns. Input: line 1 is the URI (and the listen address), line 2 a DN,
 * the rest ';'-separated patterns. Checks that nothing crashes, that errors
 * are the documented ones with UTF-8 messages, that what parses round-trips,
 * and that the patterns match as globs do. */
#include <stdint.h>
#include <string.h>
#include <glib.h>

#include "md-error.h"
#include "peer-link.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_error(const GError *error) {
        g_assert_nonnull(error);
        g_assert_true(error->domain == MD_ERROR);
        g_assert_cmpint(error->code, ==, MD_ERROR_INVALID_ARGS);
        g_assert_true(g_utf8_validate(error->message, -1, NULL));
}

static void check_uri(const char *uri) {
        g_autoptr(GError) error = NULL;
        g_autofree char *host = NULL, *again = NULL, *host2 = NULL;
        guint16 port = 0, port2 = 0;

        if (!peer_uri_parse(uri, &host, &port, &error)) {
                check_error(error);
                return;
        }
        g_assert_no_error(error);
        g_assert_nonnull(host);
        g_assert_true(host[0] != '\0' && g_utf8_validate(host, -1, NULL));
        g_assert_cmpuint(port, >=, 1);
        /* What parsed, printed again, parses to the same. */
        again = g_strdup_printf(PEER_URI_SCHEME "://%s%s%s:%u", strchr(host, ':') ? "[" : "", host,
                                strchr(host, ':') ? "]" : "", port);
        g_assert_true(peer_uri_parse(again, &host2, &port2, NULL));
        g_assert_cmpstr(host2, ==, host);
        g_assert_cmpuint(port2, ==, port);
}

static void check_listen(const char *listen) {
        g_autoptr(GError) error = NULL;
        g_autoptr(GSocketAddress) address = NULL;

        if (!peer_listen_parse(listen, &address, &error)) {
                check_error(error);
                return;
        }
        g_assert_true(G_IS_INET_SOCKET_ADDRESS(address));
        g_assert_cmpuint(g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(address)), >=, 1);
}

static void check_patterns(const char *dn, const char *list) {
        g_auto(GStrv) patterns = g_strsplit(list, ";", -1);
        char *star[] = { (char *) "*", NULL };
        char *exact[] = { (char *) dn, NULL };
        gboolean valid = g_utf8_validate(dn, -1, NULL);
        g_autofree char *stripped = g_strstrip(g_strdup(dn));

        (void) peer_dn_allowed(dn, patterns);
        g_assert_false(peer_dn_allowed(dn, NULL));
        g_assert_cmpint(peer_dn_allowed(dn, star), ==, valid);
        /* A DN without glob characters or outer blanks allows itself. */
        if (valid && *dn && !strpbrk(dn, "*?") && g_str_equal(stripped, dn))
                g_assert_true(peer_dn_allowed(dn, exact));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        g_autofree char *text = g_strndup((const char *) data, size);
        g_auto(GStrv) lines = g_strsplit(text, "\n", 3);

        if (!lines[0])
                return 0;
        check_uri(lines[0]);
        check_listen(lines[0]);
        if (lines[1])
                check_patterns(lines[1], lines[2] ? lines[2] : "");
        return 0;
}
