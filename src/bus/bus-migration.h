/* The migration methods of the Domain (source phases, job controls) and
 * Manager (destination phases) interfaces; the vtables list them. */
#pragma once

#include <systemd/sd-bus.h>

#include "registry.h"

int method_begin3(sd_bus_message *m, void *userdata, sd_bus_error *error);
int method_begin3_params(sd_bus_message *m, void *userdata, sd_bus_error *error);
int method_perform3(sd_bus_message *m, void *userdata, sd_bus_error *error);
int method_perform3_params(sd_bus_message *m, void *userdata, sd_bus_error *error);
int method_confirm3(sd_bus_message *m, void *userdata, sd_bus_error *error);
int method_confirm3_params(sd_bus_message *m, void *userdata, sd_bus_error *error);
int method_abort_job(sd_bus_message *m, void *userdata, sd_bus_error *error);
int method_migrate_set_max_downtime(sd_bus_message *m, void *userdata, sd_bus_error *error);
int method_migrate_get_max_downtime(sd_bus_message *m, void *userdata, sd_bus_error *error);
int method_migrate_set_max_speed(sd_bus_message *m, void *userdata, sd_bus_error *error);
int method_migrate_get_max_speed(sd_bus_message *m, void *userdata, sd_bus_error *error);
int method_get_job_stats(sd_bus_message *m, void *userdata, sd_bus_error *error);

/* Manager; userdata is the BusService. */
int method_prepare3(sd_bus_message *m, void *userdata, sd_bus_error *error);
int method_prepare3_params(sd_bus_message *m, void *userdata, sd_bus_error *error);
int method_finish3(sd_bus_message *m, void *userdata, sd_bus_error *error);
int method_finish3_params(sd_bus_message *m, void *userdata, sd_bus_error *error);

int method_migrate_to_uri3(sd_bus_message *m, void *userdata, sd_bus_error *error);
int method_migrate_start_post_copy(sd_bus_message *m, void *userdata, sd_bus_error *error);
int method_perform2(sd_bus_message *m, void *userdata, sd_bus_error *error);
int method_prepare2(sd_bus_message *m, void *userdata, sd_bus_error *error);
int method_finish2(sd_bus_message *m, void *userdata, sd_bus_error *error);

/* [migration] protocol_versions restricts what this host accepts:
 * MD_ERROR_PROTOCOL_MISMATCH otherwise. */
gboolean bus_protocol_accepted(MdConfig *config, ProtocolMask protocol, GError **error);

/* Watches clients leaving the bus: a managed job must not outlive its driver. */
int bus_migration_watch_clients(sd_bus *bus, Registry *registry);
/* Asks the bus whether the client @name is still on it; if it is not, its
 * jobs are abandoned now (its NameOwnerChanged came before its job, or
 * while this daemon was down). @user_data is the BusService. */
void bus_migration_watch_client(const char *name, gpointer user_data);
