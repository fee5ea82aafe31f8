/* Between domain.c and domain-lifecycle.c: the parts of an operation on a
 * guest that both use. Not for the other modules, which have domain.h. */
#pragma once

#include "domain.h"

/* FALSE (and @error set) when @flags has a bit outside @allowed. */
gboolean domain_check_flags(guint flags, guint allowed, GError **error);

/* A task for an operation on @domain, with @tag as its source tag; it keeps
 * only a reference by UUID: a transient domain may be gone by the time QEMU
 * answers. */
GTask *domain_operation_new(Domain *domain, gpointer tag, GAsyncReadyCallback callback, gpointer user_data);

/* The operation's domain, or NULL after failing @task because it has gone. */
Domain *domain_task_domain(GTask *task);

/* Destroy of a domain whose QEMU is still starting: ends its job (as QEMU's
 * exit would), kills the QEMU by cancelling the launch, and completes
 * @task (consumed) once the launch has failed; the launch's own caller
 * (Start, Prepare) fails saying the domain was destroyed. */
void domain_destroy_launch(Domain *domain, GTask *task);
