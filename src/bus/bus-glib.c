#define G_LOG_DOMAIN "migrationd"

#include "bus-glib.h"

/* Messages handled per dispatch before giving other sources a turn. */
#define MAX_MESSAGES_PER_DISPATCH 64

typedef struct {
        GSource source;
        sd_bus *bus;
        gpointer fd_tag;
        GIOCondition events;      /* last set; changing either wakes the loop */
        gint64 ready_time;
        BusDisconnectedFunc on_disconnect;
        gpointer user_data;
} BusSource;

static gboolean bus_source_prepare(GSource *source, gint *timeout) {
        BusSource *s = (BusSource *) source;
        int r = sd_bus_get_events(s->bus);
        GIOCondition events = r > 0 ? (GIOCondition) r : 0;
        gint64 ready_time = -1;
        uint64_t until;

        /* Both setters wake the main loop, so only real changes are passed on. */
        if (events != s->events) {
                g_source_modify_unix_fd(source, s->fd_tag, events);
                s->events = events;
        }
        /* sd-bus' deadline is CLOCK_MONOTONIC in µs, as GLib's ready time;
         * 0 means messages are already queued and want dispatching now. */
        if (sd_bus_get_timeout(s->bus, &until) >= 0 && until != UINT64_MAX)
                ready_time = (gint64) MIN(until, (uint64_t) G_MAXINT64);
        if (ready_time != s->ready_time) {
                g_source_set_ready_time(source, ready_time);
                s->ready_time = ready_time;
        }
        *timeout = -1;
        return FALSE;
}

static gboolean bus_source_check(GSource *source) {
        BusSource *s = (BusSource *) source;

        return g_source_query_unix_fd(source, s->fd_tag) != 0;
}

static gboolean bus_source_dispatch(GSource *source, GSourceFunc callback, gpointer user_data) {
        BusSource *s = (BusSource *) source;

        for (int i = 0; i < MAX_MESSAGES_PER_DISPATCH; i++) {
                int r = sd_bus_process(s->bus, NULL);
                if (r < 0 && r != -ECONNRESET && r != -ENOTCONN) {
                        /* A malformed message leaves the stream out of step,
                         * and sd-bus would fail the same way on every wake-up:
                         * the connection is over (as sd-event's integration does). */
                        g_warning("Failed to process bus, closing it: %s", g_strerror(-r));
                        sd_bus_close(s->bus);
                }
                if (r <= 0)
                        break;
        }
        /* Its owner may have gone away inside a callback it ran. */
        if (g_source_is_destroyed(source))
                return G_SOURCE_REMOVE;
        if (!sd_bus_is_open(s->bus)) {
                g_debug("Bus connection closed");
                if (s->on_disconnect)
                        s->on_disconnect(s->user_data);
                return G_SOURCE_REMOVE;
        }
        return G_SOURCE_CONTINUE;
}

static void bus_source_finalize(GSource *source) {
        BusSource *s = (BusSource *) source;

        sd_bus_unref(s->bus);
}

static GSourceFuncs bus_source_funcs = {
        .prepare = bus_source_prepare,
        .check = bus_source_check,
        .dispatch = bus_source_dispatch,
        .finalize = bus_source_finalize,
};

guint bus_attach_glib(sd_bus *bus, BusDisconnectedFunc on_disconnect, gpointer user_data) {
        GSource *source = g_source_new(&bus_source_funcs, sizeof(BusSource));
        BusSource *s = (BusSource *) source;
        guint id;

        s->bus = sd_bus_ref(bus);
        s->on_disconnect = on_disconnect;
        s->user_data = user_data;
        s->events = G_IO_IN;
        s->ready_time = -1;
        s->fd_tag = g_source_add_unix_fd(source, sd_bus_get_fd(bus), s->events);
        g_source_set_name(source, "sd-bus");
        id = g_source_attach(source, NULL);
        g_source_unref(source);
        return id;
}
