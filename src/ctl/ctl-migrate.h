/* migrationctl: one managed migration (ctl-migrate.c runs it; the phase
 * calls are in ctl-migrate-phases.c). */
#pragma once

#include <glib.h>
#include <systemd/sd-bus.h>

#include "ctl.h"
#include "ctl-watch.h"

/* What a Ctrl-C does now. */
typedef enum {
        CTL_STAGE_CANCELLABLE,          /* Begin3, Prepare3: cancel once the call returns */
        CTL_STAGE_ABORTABLE,            /* Perform3: abort the stream, then cancel */
        CTL_STAGE_DECIDED,              /* Finish3, Confirm3: nothing; wait */
} CtlMigrationStage;

typedef struct {
        CtlContext *ctx;
        CtlJobWatch watch;              /* the source's domain and job */
        sd_bus *destination;
        guint destination_watch;

        /* what one phase hands on to the next */
        char *xml;                      /* Begin3 -> Prepare3 (protocol 2: GetXMLDesc -> Prepare2) */
        char *uri;                      /* Prepare3 -> Perform3, Finish3 */
        GBytes *cookie;                 /* the last phase's cookie_out; NULL after a failure */
        char *destination_path;         /* Finish3's domain ("/" when cancelled) */

        CtlMigrationStage stage;
        int error;                      /* the first failure, a negative errno; 0: none */
        gboolean rolled_back;           /* Confirm3(cancelled) succeeded */
} CtlMigration;

/* The domain's name on the destination: --dname, or the same. */
const char *ctl_migration_final_name(const CtlMigration *m);

/* The phases, in the plain or the ...Params form as --plain says. Each
 * takes m->cookie and leaves its own cookie_out there; on failure @error
 * says why (m->cookie is then unchanged). They serve both buses, their
 * signals and Ctrl-C while they wait; after a second Ctrl-C they give up at
 * once with -ECANCELED. */
int ctl_migration_begin(CtlMigration *m, sd_bus_error *error);
int ctl_migration_prepare(CtlMigration *m, sd_bus_error *error);
int ctl_migration_perform(CtlMigration *m, sd_bus_error *error);
int ctl_migration_finish(CtlMigration *m, gboolean cancelled, sd_bus_error *error);
int ctl_migration_confirm(CtlMigration *m, gboolean cancelled, sd_bus_error *error);

/* Protocol 2 (--protocol=2): no Begin and no Confirm. Prepare2 gets the
 * domain XML from --xml or the source's GetXMLDesc; Perform2 stops the
 * source guest when the stream has completed; Finish2 with @retcode != 0
 * (a failed or cancelled Perform2) throws the incoming guest away. */
int ctl_migration_prepare2(CtlMigration *m, sd_bus_error *error);
int ctl_migration_perform2(CtlMigration *m, sd_bus_error *error);
int ctl_migration_finish2(CtlMigration *m, int retcode, sd_bus_error *error);
