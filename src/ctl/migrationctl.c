/* migrationctl: the command line client of migrationd. */
#include <errno.h>
#include <getopt.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "config.h"
#include "ctl.h"
#include "ctl-bus.h"

typedef struct {
        const char *name;
        const char *operands;           /* for the help text */
        const char *summary;
        int min_operands, max_operands;
        CtlVerbFunction run;
} CtlVerb;

typedef struct {
        const char *title;
        const CtlVerb *verbs;           /* terminated by an entry without name */
} CtlVerbSection;

static const CtlVerb domain_verbs[] = {
        { "list",     "[--all|--inactive]", "List running and paused domains", 0, 0, verb_list },
        { "info",     "NAME", "Show the state and job of a domain",            1, 1, verb_info },
        { "dumpxml",  "NAME", "Print the domain XML",                          1, 1, verb_dumpxml },
        { "define",   "FILE", "Define a domain from libvirt XML (- = stdin)",  1, 1, verb_define },
        { "undefine", "NAME", "Remove the definition of a domain",             1, 1, verb_undefine },
        { "start",    "NAME", "Start a shut-off domain",                       1, 1, verb_start },
        { "shutdown", "NAME", "Ask the guest of a domain to power off",        1, 1, verb_shutdown },
        { "destroy",  "NAME", "Stop a domain immediately",                     1, 1, verb_destroy },
        { "suspend",  "NAME", "Pause a running domain",                        1, 1, verb_suspend },
        { "resume",   "NAME", "Let a paused domain run again",                 1, 1, verb_resume },
        {}
};

static const CtlVerb host_verbs[] = {
        { "version",      "", "Show the client and daemon versions",           0, 0, verb_version },
        { "capabilities", "", "Show the host's migration capabilities",        0, 0, verb_capabilities },
        {}
};

static const CtlVerbSection sections[] = {
        { "Domain Commands", domain_verbs },
        { "Host Commands",   host_verbs },
};

static void print_help(void) {
        printf("%s [OPTIONS...] COMMAND ...\n\n"
               "Manage the QEMU guests of migrationd.\n",
               g_get_prgname());

        for (size_t s = 0; s < G_N_ELEMENTS(sections); s++) {
                printf("\n%s:\n", sections[s].title);
                for (const CtlVerb *v = sections[s].verbs; v->name; v++) {
                        g_autofree char *synopsis = g_strjoin(" ", v->name, v->operands, NULL);

                        printf("  %-30s %s\n", synopsis, v->summary);
                }
        }

        printf("\nOptions:\n"
               "  -h --help                      Show this help\n"
               "     --version                   Show the version of this program\n"
               "     --bus=ADDRESS               Talk to migrationd on the bus at ADDRESS\n"
               "                                 instead of the system bus\n"
               "     --json                      Print machine-readable JSON\n"
               "  -a --all                       list: show all domains\n"
               "     --inactive                  list: show only shut-off domains\n"
               "     --no-ask-password           Do not ask for authorization interactively\n"
               "\nNAME is the name or the UUID of a domain.\n");
}

static const CtlVerb *find_verb(const char *name) {
        for (size_t s = 0; s < G_N_ELEMENTS(sections); s++)
                for (const CtlVerb *v = sections[s].verbs; v->name; v++)
                        if (g_str_equal(v->name, name))
                                return v;
        return NULL;
}

enum {
        ARG_VERSION = 0x100,
        ARG_BUS,
        ARG_JSON,
        ARG_INACTIVE,
        ARG_NO_ASK_PASSWORD,
};

/* Returns 1 to go on with a verb, 0 when done (--help), -EINVAL on bad usage. */
static int parse_argv(CtlContext *ctx, int argc, char **argv) {
        static const struct option options[] = {
                { "help",            no_argument,       NULL, 'h'                 },
                { "version",         no_argument,       NULL, ARG_VERSION         },
                { "bus",             required_argument, NULL, ARG_BUS             },
                { "json",            no_argument,       NULL, ARG_JSON            },
                { "all",             no_argument,       NULL, 'a'                 },
                { "inactive",        no_argument,       NULL, ARG_INACTIVE        },
                { "no-ask-password", no_argument,       NULL, ARG_NO_ASK_PASSWORD },
                {}
        };
        int c;

        while ((c = getopt_long(argc, argv, "ha", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        print_help();
                        return 0;
                case ARG_VERSION:
                        printf("migrationctl %s\n", PACKAGE_VERSION);
                        return 0;
                case ARG_BUS:
                        ctx->bus_address = optarg;
                        break;
                case ARG_JSON:
                        ctx->json = TRUE;
                        break;
                case 'a':
                        ctx->list_flags = CTL_LIST_ALL;
                        break;
                case ARG_INACTIVE:
                        ctx->list_flags = CTL_LIST_INACTIVE;
                        break;
                case ARG_NO_ASK_PASSWORD:
                        ctx->ask_password = FALSE;
                        break;
                default:
                        /* getopt_long() has told what is wrong */
                        return -EINVAL;
                }

        return 1;
}

static int run_verb(CtlContext *ctx, int argc, char **argv) {
        const CtlVerb *verb;
        int n_operands, r;

        if (argc < 1) {
                g_printerr("No command given; see '%s --help'.\n", g_get_prgname());
                return -EINVAL;
        }

        verb = find_verb(argv[0]);
        if (!verb) {
                g_printerr("Unknown command '%s'; see '%s --help'.\n", argv[0], g_get_prgname());
                return -EINVAL;
        }

        n_operands = argc - 1;
        if (n_operands < verb->min_operands || n_operands > verb->max_operands) {
                g_printerr("Wrong number of arguments; usage: %s %s %s\n",
                           g_get_prgname(), verb->name, verb->operands);
                return -EINVAL;
        }

        r = ctl_bus_open(ctx->bus_address, ctx->ask_password, &ctx->bus);
        if (r < 0) {
                g_printerr("Failed to connect to %s: %s\n",
                           ctx->bus_address ?: "the system bus", g_strerror(-r));
                return r;
        }

        return verb->run(ctx, argc, argv);
}

int main(int argc, char **argv) {
        CtlContext ctx = {
                .list_flags = CTL_LIST_ACTIVE,
                .ask_password = isatty(STDIN_FILENO),
        };
        int r;

        setlocale(LC_ALL, "");
        g_set_prgname(program_invocation_short_name);

        r = parse_argv(&ctx, argc, argv);
        if (r > 0)
                r = run_verb(&ctx, argc - optind, argv + optind);

        g_clear_pointer(&ctx.bus, sd_bus_flush_close_unref);

        if (fflush(stdout) != 0 && r >= 0) {
                g_printerr("Failed to write the output: %s\n", g_strerror(errno));
                r = -errno;
        }

        return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
