/* The x509 side of the peer link: loading this host's identity and CA,
 * and the identity of a peer (its subject DN, matched against the
 * allowed_peers patterns). */
#define G_LOG_DOMAIN "migrationd-peer"

#include <errno.h>
#include <unistd.h>

#include "md-error.h"
#include "peer-link.h"

static gboolean load_error(GError **error, const char *what, const char *path, const GError *cause) {
        g_set_error(error, MD_ERROR, MD_ERROR_INVALID_ARGS, "Failed to load the TLS %s %s: %s", what, path,
                    cause ? cause->message : "no certificate in the file");
        return FALSE;
}

PeerTls *peer_tls_load(const char *ca_file, const char *cert_file, const char *key_file, GError **error) {
        g_autoptr(PeerTls) tls = g_new0(PeerTls, 1);
        g_autoptr(GError) local = NULL;
        /* GTlsFileDatabase wants an absolute path. */
        g_autofree char *ca_path = g_canonicalize_filename(ca_file, NULL);
        GList *anchors;

        /* Each file alone first, so that the error names the one at fault. */
        anchors = g_tls_certificate_list_new_from_file(ca_path, &local);
        if (!anchors)
                return load_error(error, "CA", ca_file, local), NULL;
        g_list_free_full(anchors, g_object_unref);
        tls->ca = g_tls_file_database_new(ca_path, &local);
        if (!tls->ca)
                return load_error(error, "CA", ca_file, local), NULL;

        if (access(key_file, R_OK) < 0) {
                g_set_error(error, MD_ERROR, MD_ERROR_INVALID_ARGS, "Failed to load the TLS key %s: %s",
                            key_file, g_strerror(errno));
                return NULL;
        }
        anchors = g_tls_certificate_list_new_from_file(cert_file, &local);
        if (!anchors)
                return load_error(error, "certificate", cert_file, local), NULL;
        g_list_free_full(anchors, g_object_unref);
        tls->identity = g_tls_certificate_new_from_files(cert_file, key_file, &local);
        if (!tls->identity) {
                g_set_error(error, MD_ERROR, MD_ERROR_INVALID_ARGS,
                            "Failed to load the TLS certificate %s with the key %s: %s", cert_file, key_file,
                            local->message);
                return NULL;
        }
        tls->handshake_timeout_ms = PEER_HANDSHAKE_TIMEOUT_MS;
        return g_steal_pointer(&tls);
}

void peer_tls_free(PeerTls *tls) {
        if (!tls)
                return;
        g_clear_object(&tls->identity);
        g_clear_object(&tls->ca);
        g_free(tls);
}

char *peer_certificate_dn(GTlsCertificate *cert) {
        return cert ? g_tls_certificate_get_subject_name(cert) : NULL;
}

gboolean peer_dn_allowed(const char *dn, char **patterns) {
        if (!dn || !patterns || !g_utf8_validate(dn, -1, NULL))
                return FALSE;
        for (char **p = patterns; *p; p++) {
                g_autofree char *pattern = g_strstrip(g_strdup(*p));

                /* An empty item (a stray ';') allows nobody, not everybody. */
                if (*pattern == '\0' || !g_utf8_validate(pattern, -1, NULL))
                        continue;
                if (g_pattern_match_simple(pattern, dn))
                        return TRUE;
        }
        return FALSE;
}
