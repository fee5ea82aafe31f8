/* A scripted QEMU monitor for unit tests of the layers above the driver:
 * an in-process QMP server on one end of a socketpair, the daemon's
 * QemuProcess on the other, no QEMU.
 *
 *   g_autoptr(FakeMonitor) fm = fake_monitor_new();
 *   QemuProcess *qemu = fake_monitor_connect(fm);      // greeting + handshake
 *   fake_monitor_expect(fm, "stop", NULL);             // answers {"return": {}}
 *   fake_monitor_expect(fm, "query-status", "{\"running\": false, \"status\": \"paused\"}");
 *   ... drive the code under test ...
 *   fake_monitor_wait(fm, 2);                          // main loop until 2 commands came
 *   fake_monitor_emit(fm, "MIGRATION", "{\"status\": \"completed\"}");
 *   fake_monitor_assert_received(fm, "stop", "query-status", NULL);
 *
 * Commands are answered in the order expected; a command that does not
 * match the next expectation (or comes when none is left) is recorded as
 * unexpected and answered with a GenericError, and fake_monitor_assert_done()
 * fails. qmp_capabilities is answered by itself and not recorded. */
#pragma once

#include <glib.h>

#include "qemu-process.h"

typedef struct FakeMonitor FakeMonitor;

FakeMonitor *fake_monitor_new(void);
/* Checks nothing: call fake_monitor_assert_done() for that. */
void fake_monitor_free(FakeMonitor *fm);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FakeMonitor, fake_monitor_free)

/* QEMU's version in the greeting (default 7.2.0); before connecting. */
void fake_monitor_set_version(FakeMonitor *fm, guint major, guint minor);

/* A QemuProcess talking to this monitor, after the QMP handshake (runs the
 * main loop until then). The caller owns it (qemu_process_free(), or hand
 * it to a domain). */
QemuProcess *fake_monitor_connect(FakeMonitor *fm);

/* QEMU launches (qemu_process_launch_async(), as the destination's
 * Prepare does) spawn nothing and connect to this monitor instead, until
 * fake_monitor_free(). One connection at a time. */
void fake_monitor_serve_launches(FakeMonitor *fm);
/* Listens on the unix socket @path (QEMU's -qmp socket, where the daemon
 * reconnects after a restart, qemu_process_attach_async()) and serves one
 * connection at a time; the socket file goes with fake_monitor_free(). */
void fake_monitor_listen(FakeMonitor *fm, const char *path);
/* Attaches to a QEMU after a daemon restart (qemu_process_attach_async())
 * check no process and connect to the monitor socket at the path they are
 * given, on which this monitor listens (@monitor_path: where the daemon
 * must look), until fake_monitor_free(). The QEMU found is as
 * fake_monitor_connect()'s: it "exits" only when killed. */
void fake_monitor_serve_attaches(FakeMonitor *fm, const char *monitor_path);
/* The guest UUID of the last attach served (NULL before one). */
const char *fake_monitor_attached_uuid(FakeMonitor *fm);
/* The client is connected (it closes the monitor when its QEMU has gone). */
gboolean fake_monitor_is_connected(FakeMonitor *fm);
/* The next connection's greeting waits until fake_monitor_greet(): a QEMU
 * that is still starting (its monitor is not up yet). */
void fake_monitor_hold_greeting(FakeMonitor *fm);
void fake_monitor_greet(FakeMonitor *fm);
/* The command line of the last launch served (empty before one). */
const char *const *fake_monitor_launch_argv(FakeMonitor *fm);

/* QEMU "dies": qemu_process_kill(process, 0) on a fake process runs its
 * exit func from an idle; fake_monitor_hang_up() only closes the monitor. */

/* The next command must be @command; it is answered with {"return":
 * @return_json} (NULL: {}). */
void fake_monitor_expect(FakeMonitor *fm, const char *command, const char *return_json);
/* ... answered with a QMP error of @error_class ("GenericError", ...). */
void fake_monitor_expect_error(FakeMonitor *fm, const char *command, const char *error_class,
                               const char *desc);
/* ... object-del of migrationd's TLS object, refused as QEMU 7.2 refuses
 * it when there is none (every reset sends it, last). */
void fake_monitor_expect_no_tls_object(FakeMonitor *fm);
/* ... a reset of the migration settings on a QEMU without the TLS object:
 * capabilities, parameters, object-del. */
void fake_monitor_expect_reset(FakeMonitor *fm);
/* ... not answered until fake_monitor_release() (a QEMU that is slow, or
 * hangs); as QEMU, it answers in order: the commands after it are
 * recorded, but their replies wait for this one. */
void fake_monitor_expect_held(FakeMonitor *fm, const char *command, const char *return_json);
/* Sends the reply of the oldest held command, and those queued behind it
 * up to the next held one. */
void fake_monitor_release(FakeMonitor *fm);

/* Sends event @event with @data_json (NULL: no data). */
void fake_monitor_emit(FakeMonitor *fm, const char *event, const char *data_json);
/* Closes the server end: the client sees EOF, as when QEMU dies. */
void fake_monitor_hang_up(FakeMonitor *fm);

/* Runs the main loop until @n commands have come in all (fails the test
 * after 5 s). */
void fake_monitor_wait(FakeMonitor *fm, guint n);
/* Runs the main loop until nothing is pending. */
void fake_monitor_flush(FakeMonitor *fm);

/* The command names received so far, in order (NULL-terminated, owned by @fm). */
const char *const *fake_monitor_received(FakeMonitor *fm);
/* The arguments of the @i-th command, as compact JSON ("" when none). */
const char *fake_monitor_received_args(FakeMonitor *fm, guint i);
/* Asserts the commands received are exactly the NULL-terminated list. */
void fake_monitor_assert_received(FakeMonitor *fm, ...) G_GNUC_NULL_TERMINATED;
/* Asserts every expectation was used and no command was unexpected. */
void fake_monitor_assert_done(FakeMonitor *fm);
