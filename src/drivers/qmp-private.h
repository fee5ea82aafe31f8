/* What qmp.c (the protocol) and qmp-socket.c (the transport on a socket)
 * share. Not for use outside these files. */
#pragma once

#include "qmp.h"

typedef enum {
        QMP_STATE_GREETING,             /* waiting for {"QMP": ...} */
        QMP_STATE_CAPABILITIES,         /* qmp_capabilities sent, waiting for its answer */
        QMP_STATE_READY,
        QMP_STATE_CLOSED,
        _QMP_STATE_MAX,
} QmpState;

typedef struct QmpCommand {
        QmpClient *client;
        char *command;
        JsonNode *arguments;            /* until sent */
        char *id;                       /* NULL until sent */
        GTask *task;                    /* NULL for our own qmp_capabilities */
        GSource *cancel_source;
} QmpCommand;

struct QmpClient {
        /* Every callback may free the client; whoever calls one holds a
         * reference so that the memory outlives the call. */
        unsigned n_ref;
        QmpState state;
        gboolean freed;
        gboolean ready_called;
        guint64 next_id;
        guint qemu_version;             /* major * 100 + minor, from the greeting */
        GQueue commands;                /* QmpCommand, in wire order, unsent ones last */
        GByteArray *input;              /* an incomplete line, never holds '\n' */
        GByteArray *output;             /* fd transport: not yet written */

        int fd;
        GMainContext *context;
        GSource *read_source;
        GSource *write_source;

        QmpWriteFunc write_func;
        gpointer write_data;
        QmpEventFunc event_func;
        gpointer event_data;
        QmpReadyFunc ready_func;
        gpointer ready_data;
        QmpClosedFunc closed_func;
        gpointer closed_data;
};

QmpClient *qmp_client_ref(QmpClient *client);
void qmp_client_unref(QmpClient *client);
/* Fails every pending command and notifies the owner once; @error says why. */
void qmp_client_close(QmpClient *client, const GError *error);

/* Drops the sources and closes the socket, if any. */
void qmp_socket_detach(QmpClient *client);
/* Queues @text and a newline for the socket. */
void qmp_socket_write(QmpClient *client, const char *text, gsize len);
