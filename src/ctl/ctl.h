/* migrationctl: the state of one invocation, and the verbs. */
#pragma once

#include <glib.h>
#include <systemd/sd-bus.h>

/* libvirt's virConnectListAllDomains bits, as ListDomains takes them. */
typedef enum {
        CTL_LIST_ALL = 0,
        CTL_LIST_ACTIVE = 1 << 0,
        CTL_LIST_INACTIVE = 1 << 1,
} CtlListFlags;

typedef struct {
        /* from the command line */
        const char *bus_address;        /* NULL: the system bus */
        gboolean json;
        gboolean ask_password;
        CtlListFlags list_flags;

        /* the connection to migrationd, opened before a verb that needs it runs */
        sd_bus *bus;
} CtlContext;

/* A verb gets its own name in argv[0] and its operands after it. It prints
 * what went wrong itself and returns a negative errno on failure. */
typedef int (*CtlVerbFunction)(CtlContext *ctx, int argc, char **argv);

/* ctl-domain.c */
int verb_list(CtlContext *ctx, int argc, char **argv);
int verb_info(CtlContext *ctx, int argc, char **argv);
int verb_dumpxml(CtlContext *ctx, int argc, char **argv);
int verb_define(CtlContext *ctx, int argc, char **argv);
int verb_undefine(CtlContext *ctx, int argc, char **argv);
int verb_start(CtlContext *ctx, int argc, char **argv);
int verb_shutdown(CtlContext *ctx, int argc, char **argv);
int verb_destroy(CtlContext *ctx, int argc, char **argv);
int verb_suspend(CtlContext *ctx, int argc, char **argv);
int verb_resume(CtlContext *ctx, int argc, char **argv);

/* ctl-host.c */
int verb_version(CtlContext *ctx, int argc, char **argv);
int verb_capabilities(CtlContext *ctx, int argc, char **argv);
