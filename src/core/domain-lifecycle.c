/* The guest's lifecycle operations as the bus calls them: Start, Destroy,
 * Shutdown, Suspend and Resume (launching QEMU and its events are in
 * domain.c). */
#define G_LOG_DOMAIN "migrationd"

#include "domain-private.h"
#include "i18n.h"
#include "md-error.h"

/* libvirt gives QEMU this long to honour SIGTERM before Destroy uses SIGKILL. */
#define DESTROY_GRACE_MS 10000

/* Fails @task unless the domain is in @state and no start is under way. */
static gboolean require_state(Domain *d, GTask *task, DomainState state) {
        if (d->starting) {
                g_task_return_new_error(task, MD_ERROR, MD_ERROR_OPERATION_INVALID,
                                        _("Domain '%s' is starting; try again when that has finished"),
                                        domain_name(d));
                return FALSE;
        }
        if (d->destroying) {
                g_task_return_new_error(task, MD_ERROR, MD_ERROR_OPERATION_INVALID,
                                        _("Domain '%s' is being destroyed; try again when that has "
                                          "finished"), domain_name(d));
                return FALSE;
        }
        if (d->state != state) {
                g_task_return_new_error(task, MD_ERROR, MD_ERROR_OPERATION_INVALID,
                                        _("Domain '%s' is %s, not %s"), domain_name(d),
                                        domain_state_to_string(d->state),
                                        domain_state_to_string(state));
                return FALSE;
        }
        return TRUE;
}

/* ---- Start ---- */

static void on_start_cont(GObject *source, GAsyncResult *result, gpointer user_data) {
        GTask *task = user_data;
        g_autoptr(GError) error = NULL;
        gboolean ok = qemu_monitor_command_finish(result, &error);
        Domain *d = domain_task_domain(task);

        if (!d) {
        } else if (!ok) {
                /* The exit handler reports the shutoff state and cleans up. */
                domain_kill(d, NULL, 0);
                g_task_return_error(task, g_steal_pointer(&error));
        } else {
                domain_set_state(d, DOMAIN_STATE_RUNNING, "booted");
                g_task_return_boolean(task, TRUE);
        }
        g_object_unref(task);
}

static void on_start_launched(GObject *source, GAsyncResult *result, gpointer user_data) {
        GTask *task = user_data;
        g_autoptr(GError) error = NULL;
        guint flags = GPOINTER_TO_UINT(g_object_get_data(G_OBJECT(task), "flags"));
        Domain *d = domain_task_domain(task);

        if (!d) {
                g_object_unref(task);
                return;
        }
        if (!domain_launch_finish(d, result, &error)) {
                g_task_return_error(task, g_steal_pointer(&error));
                g_object_unref(task);
                return;
        }
        if (flags & DOMAIN_START_PAUSED) {
                domain_set_state(d, DOMAIN_STATE_PAUSED, "user");
                g_task_return_boolean(task, TRUE);
                g_object_unref(task);
                return;
        }
        qemu_monitor_cont_async(qemu_process_get_qmp(d->qemu), on_start_cont, task);
}

void domain_start_async(Domain *d, guint flags, GAsyncReadyCallback callback, gpointer user_data) {
        GTask *task = domain_operation_new(d, domain_start_async, callback, user_data);
        g_autoptr(GError) error = NULL;

        if (!domain_check_flags(flags, DOMAIN_START_PAUSED, &error) || !require_no_job(d, &error)) {
                g_task_return_error(task, g_steal_pointer(&error));
                g_object_unref(task);
                return;
        }
        if (!require_state(d, task, DOMAIN_STATE_SHUTOFF)) {
                g_object_unref(task);
                return;
        }
        g_object_set_data(G_OBJECT(task), "flags", GUINT_TO_POINTER(flags));
        domain_launch_async(d, domain_def_copy(d->def), NULL, 0, on_start_launched, task);
}

/* ---- Destroy, Shutdown ---- */

void domain_destroy_async(Domain *d, guint flags, GAsyncReadyCallback callback, gpointer user_data) {
        GTask *task = domain_operation_new(d, domain_destroy_async, callback, user_data);
        g_autoptr(GError) error = NULL;

        if (!domain_check_flags(flags, DOMAIN_DESTROY_GRACEFUL, &error)) {
                g_task_return_error(task, g_steal_pointer(&error));
                g_object_unref(task);
                return;
        }
        /* As libvirt: a QEMU still starting is killed too, the Start failing. */
        if (!d->qemu && d->starting && d->launching) {
                domain_destroy_launch(d, task);
                return;
        }
        if (!d->qemu) {
                g_task_return_new_error(task, MD_ERROR, MD_ERROR_OPERATION_INVALID,
                                        _("Domain '%s' is not running"), domain_name(d));
                g_object_unref(task);
                return;
        }
        d->destroying = TRUE;
        g_ptr_array_add(d->exit_waiters, task);
        /* GRACEFUL: SIGTERM only, as libvirt; otherwise SIGKILL after the grace time. */
        domain_kill(d, NULL, flags & DOMAIN_DESTROY_GRACEFUL ? G_MAXUINT : DESTROY_GRACE_MS);
}

/* Like libvirt, Shutdown only asks: it returns once the request is made,
 * and State turns to shutoff when the guest has really gone. */
void domain_shutdown_async(Domain *d, guint flags, GAsyncReadyCallback callback, gpointer user_data) {
        GTask *task = domain_operation_new(d, domain_shutdown_async, callback, user_data);
        g_autoptr(GError) error = NULL;

        if (!domain_check_flags(flags, DOMAIN_SHUTDOWN_ACPI_POWER_BTN | DOMAIN_SHUTDOWN_SIGNAL, &error) ||
            (flags & DOMAIN_SHUTDOWN_ACPI_POWER_BTN && flags & DOMAIN_SHUTDOWN_SIGNAL)) {
                if (!error)
                        error = g_error_new(MD_ERROR, MD_ERROR_INVALID_ARGS,
                                            _("Choose one shutdown method: ACPI_POWER_BTN or SIGNAL"));
                g_task_return_error(task, g_steal_pointer(&error));
                g_object_unref(task);
                return;
        }
        if (!require_no_job(d, &error)) {
                g_task_return_error(task, g_steal_pointer(&error));
                g_object_unref(task);
                return;
        }
        if (d->state == DOMAIN_STATE_PAUSED && !d->starting && !d->destroying) {
                /* A paused guest cannot see a power button; pressing it would do nothing. */
                if (!(flags & DOMAIN_SHUTDOWN_SIGNAL)) {
                        g_task_return_new_error(task, MD_ERROR, MD_ERROR_OPERATION_INVALID,
                                                _("Domain '%s' is paused and cannot react to the "
                                                  "power button; resume it or use the SIGNAL flag"),
                                                domain_name(d));
                        g_object_unref(task);
                        return;
                }
        } else if (!require_state(d, task, DOMAIN_STATE_RUNNING)) {
                g_object_unref(task);
                return;
        }
        if (flags & DOMAIN_SHUTDOWN_SIGNAL) {
                /* QEMU treats SIGTERM as a clean shutdown request (SHUTDOWN event). */
                domain_kill(d, NULL, G_MAXUINT);
                g_task_return_boolean(task, TRUE);
                g_object_unref(task);
                return;
        }
        qemu_monitor_system_powerdown_async(qemu_process_get_qmp(d->qemu), qemu_monitor_complete_task, task);
}

/* ---- Suspend, Resume ---- */

static void on_pause_done(GObject *source, GAsyncResult *result, gpointer user_data) {
        GTask *task = user_data;
        GError *error = NULL;
        gboolean ok = qemu_monitor_command_finish(result, &error);
        gboolean pausing = g_task_get_source_tag(task) == domain_suspend_async;
        Domain *d = domain_task_domain(task);

        if (!d) {
                g_clear_error(&error);
        } else if (!ok) {
                g_task_return_error(task, error);
        } else {
                /* The STOP/RESUME event may come before or after the reply;
                 * the reply decides the reason. */
                if (pausing)
                        domain_set_state(d, DOMAIN_STATE_PAUSED, "user");
                else
                        domain_set_state(d, DOMAIN_STATE_RUNNING, "unpaused");
                g_task_return_boolean(task, TRUE);
        }
        g_object_unref(task);
}

void domain_suspend_async(Domain *d, guint flags, GAsyncReadyCallback callback, gpointer user_data) {
        GTask *task = domain_operation_new(d, domain_suspend_async, callback, user_data);
        g_autoptr(GError) error = NULL;

        if (!domain_check_flags(flags, 0, &error) || !require_no_job(d, &error)) {
                g_task_return_error(task, g_steal_pointer(&error));
                g_object_unref(task);
                return;
        }
        if (!require_state(d, task, DOMAIN_STATE_RUNNING)) {
                g_object_unref(task);
                return;
        }
        qemu_monitor_stop_async(qemu_process_get_qmp(d->qemu), on_pause_done, task);
}

void domain_resume_async(Domain *d, guint flags, GAsyncReadyCallback callback, gpointer user_data) {
        GTask *task = domain_operation_new(d, domain_resume_async, callback, user_data);
        g_autoptr(GError) error = NULL;

        if (!domain_check_flags(flags, 0, &error) || !require_no_job(d, &error)) {
                g_task_return_error(task, g_steal_pointer(&error));
                g_object_unref(task);
                return;
        }
        if (!require_state(d, task, DOMAIN_STATE_PAUSED)) {
                g_object_unref(task);
                return;
        }
        qemu_monitor_cont_async(qemu_process_get_qmp(d->qemu), on_pause_done, task);
}
