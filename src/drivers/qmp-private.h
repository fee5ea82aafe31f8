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

        /* Installed by the socket transport (qmp-socket.c) when it attaches:
         * the protocol reaches the socket only through these. flush: output
         * has grown; detach: drop the sources and close the socket. */
        void (*transport_flush)(QmpClient *client);
        void (*transport_detach)(QmpClient *client);

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
