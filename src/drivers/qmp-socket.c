/* The QMP client's transport on a real socket: a read source that feeds
 * what arrives, and an output buffer a write source empties (the protocol
 * itself is in qmp.c and never touches the socket). */
#define G_LOG_DOMAIN "migrationd"

#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <glib-unix.h>

#include "md-error.h"
#include "qmp.h"
#include "qmp-private.h"

#define QMP_READ_CHUNK (64 * 1024)

/* Drops the sources and closes the socket, if any. */
static void qmp_socket_detach(QmpClient *client) {
        if (client->read_source) {
                g_source_destroy(client->read_source);
                g_clear_pointer(&client->read_source, g_source_unref);
        }
        if (client->write_source) {
                g_source_destroy(client->write_source);
                g_clear_pointer(&client->write_source, g_source_unref);
        }
        if (client->fd >= 0) {
                (void) close(client->fd);
                client->fd = -1;
        }
        g_clear_pointer(&client->context, g_main_context_unref);
}

static gboolean qmp_client_on_writable(int fd, GIOCondition condition, gpointer user_data) {
        QmpClient *client = user_data;

        while (client->output->len > 0) {
                /* MSG_NOSIGNAL: a dead QEMU is EPIPE here, not SIGPIPE for the daemon. */
                ssize_t n = send(fd, client->output->data, client->output->len, MSG_NOSIGNAL);

                if (n < 0) {
                        g_autoptr(GError) error = NULL;

                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN)
                                return G_SOURCE_CONTINUE;
                        if (errno == EPIPE || errno == ECONNRESET) {
                                /* QEMU is gone, but what it wrote before may
                                 * still wait to be read (the answer to "quit"):
                                 * the read side closes at its EOF. */
                                g_debug("QEMU's monitor hung up, dropping %u bytes of output",
                                        client->output->len);
                                g_byte_array_set_size(client->output, 0);
                                break;
                        }
                        error = g_error_new(MD_ERROR, MD_ERROR_QEMU_FAILED,
                                            "Failed to write to QEMU's monitor: %s",
                                            g_strerror(errno));
                        qmp_client_close(client, error);
                        return G_SOURCE_REMOVE;
                }
                g_byte_array_remove_range(client->output, 0, n);
        }
        g_clear_pointer(&client->write_source, g_source_unref);
        return G_SOURCE_REMOVE;
}

static void qmp_client_update_write_source(QmpClient *client) {
        if (client->fd < 0 || client->write_source || client->output->len == 0)
                return;
        client->write_source = g_unix_fd_source_new(client->fd, G_IO_OUT);
        g_source_set_callback(client->write_source, G_SOURCE_FUNC(qmp_client_on_writable),
                              client, NULL);
        g_source_set_static_name(client->write_source, "qmp-write");
        g_source_attach(client->write_source, client->context);
}

static gboolean qmp_client_on_readable(int fd, GIOCondition condition, gpointer user_data) {
        QmpClient *client = user_data;
        g_autofree char *buf = g_malloc(QMP_READ_CHUNK);
        ssize_t n;

        n = read(fd, buf, QMP_READ_CHUNK);
        /* A QEMU that exits with our bytes unread resets the connection:
         * that is its way of hanging up, not a failure of ours. */
        if (n < 0 && errno == ECONNRESET)
                n = 0;
        if (n < 0) {
                g_autoptr(GError) error = NULL;

                if (errno == EINTR || errno == EAGAIN)
                        return G_SOURCE_CONTINUE;
                error = g_error_new(MD_ERROR, MD_ERROR_QEMU_FAILED,
                                    "Failed to read from QEMU's monitor: %s", g_strerror(errno));
                qmp_client_close(client, error);
                return G_SOURCE_REMOVE;
        }
        if (n == 0) {
                qmp_client_feed_eof(client);
                return G_SOURCE_REMOVE;
        }
        /* The client may be closed or freed afterwards; returning CONTINUE
         * for a destroyed source is harmless. */
        (void) qmp_client_feed(client, buf, n, NULL);
        return G_SOURCE_CONTINUE;
}

void qmp_client_drain(QmpClient *client) {
        char buf[4096];

        while (client->fd >= 0 && client->state != QMP_STATE_CLOSED) {
                ssize_t n = read(client->fd, buf, sizeof(buf));

                if (n < 0 && errno == EINTR)
                        continue;
                /* Nothing more now (EAGAIN), or the end: the read source reports that. */
                if (n <= 0)
                        return;
                if (!qmp_client_feed(client, buf, (gsize) n, NULL))
                        return;
        }
}

void qmp_client_attach_fd(QmpClient *client, int fd) {
        g_autoptr(GError) error = NULL;

        g_return_if_fail(client);
        g_return_if_fail(fd >= 0);
        g_return_if_fail(client->fd < 0 && !client->read_source);

        if (client->state == QMP_STATE_CLOSED) {
                (void) close(fd);
                return;
        }
        /* Failures here show up as read errors in the main loop, never as a
         * callback from inside this call. */
        if (!g_unix_set_fd_nonblocking(fd, TRUE, &error))
                g_debug("Failed to make QEMU's monitor socket non-blocking: %s", error->message);
        (void) fcntl(fd, F_SETFD, FD_CLOEXEC);

        client->fd = fd;
        client->transport_flush = qmp_client_update_write_source;
        client->transport_detach = qmp_socket_detach;
        client->context = g_main_context_ref_thread_default();
        client->read_source = g_unix_fd_source_new(fd, G_IO_IN | G_IO_HUP | G_IO_ERR);
        g_source_set_callback(client->read_source, G_SOURCE_FUNC(qmp_client_on_readable),
                              client, NULL);
        g_source_set_static_name(client->read_source, "qmp-read");
        g_source_attach(client->read_source, client->context);
        qmp_client_update_write_source(client);
}
