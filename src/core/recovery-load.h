/* The daemon's start: the definitions from the state store become domains,
 * and every guest with a status record is found again (its QEMU attached,
 * its state asked) and handed with its job's journal to recovery
 * (recovery_recover_domain). This is the recovery glue between the
 * store, the registry and the job; the rules themselves are recovery.c's. */
#pragma once

#include <gio/gio.h>

#include "registry.h"

/* Completes when every guest's monitor has answered or the guest was found gone. */
void recovery_load_async(Registry *registry, GAsyncReadyCallback callback, gpointer user_data);
gboolean recovery_load_finish(Registry *registry, GAsyncResult *result, GError **error);
