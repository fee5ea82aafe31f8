/* migrationctl: the command line client of migrationd. */
#include <errno.h>
#include <getopt.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "config.h"
#include "ctl.h"
#include "ctl-bus.h"
#include "i18n.h"

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
        { "list",     "[--all|--inactive]", N_("List running and paused domains"), 0, 0, verb_list },
        { "info",     "NAME", N_("Show the state and job of a domain"),            1, 1, verb_info },
        { "dumpxml",  "NAME", N_("Print the domain XML"),                          1, 1, verb_dumpxml },
        { "define",   "FILE", N_("Define a domain from libvirt XML (- = stdin)"),  1, 1, verb_define },
        { "undefine", "NAME", N_("Remove the definition of a domain"),             1, 1, verb_undefine },
        { "start",    "NAME", N_("Start a shut-off domain"),                       1, 1, verb_start },
        { "shutdown", "NAME", N_("Ask the guest of a domain to power off"),        1, 1, verb_shutdown },
        { "destroy",  "NAME", N_("Stop a domain immediately"),                     1, 1, verb_destroy },
        { "suspend",  "NAME", N_("Pause a running domain"),                        1, 1, verb_suspend },
        { "resume",   "NAME", N_("Let a paused domain run again"),                 1, 1, verb_resume },
        {}
};

static const CtlVerb migration_verbs[] = {
        { "migrate",      "NAME --to-bus=ADDR|--to=URI", N_("Move a domain to the migrationd at ADDRESS"), 1, 1, verb_migrate_any },
        { "abort",        "NAME", N_("Abort the migration job of a domain"),       1, 1, verb_abort },
        { "jobinfo",      "NAME [--completed]", N_("Show the statistics of a domain's job"), 1, 1, verb_jobinfo },
        { "set-speed",    "NAME MIB/S", N_("Limit the bandwidth of migrations (0: none)"), 2, 2, verb_set_speed },
        { "set-downtime", "NAME MS", N_("Set the longest pause a live migration may take"), 2, 2, verb_set_downtime },
        {}
};

static const CtlVerb host_verbs[] = {
        { "version",      "", N_("Show the client and daemon versions"),           0, 0, verb_version },
        { "capabilities", "", N_("Show the host's migration capabilities"),        0, 0, verb_capabilities },
        {}
};

static const CtlVerbSection sections[] = {
        { N_("Domain Commands"), domain_verbs },
        { N_("Migration Commands"), migration_verbs },
        { N_("Host Commands"),   host_verbs },
};

static void print_verbs(void) {
        for (size_t s = 0; s < G_N_ELEMENTS(sections); s++) {
                printf("\n%s:\n", _(sections[s].title));
                for (const CtlVerb *v = sections[s].verbs; v->name; v++) {
                        g_autofree char *synopsis = g_strjoin(" ", v->name, v->operands, NULL);

                        printf("  %-30s %s\n", synopsis, _(v->summary));
                }
        }
}

static void print_help(void) {
        printf(_("%s [OPTIONS...] COMMAND ...\n\n"
                 "Manage the QEMU guests of migrationd.\n"),
               g_get_prgname());
        print_verbs();

        /* TRANSLATORS: keep the option names and the alignment of the descriptions. */
        printf(_("\nOptions:\n"
                 "  -h --help                      Show this help\n"
                 "     --version                   Show the version of this program\n"
                 "     --bus=ADDRESS               Talk to migrationd on the bus at ADDRESS\n"
                 "                                 instead of the system bus\n"
                 "     --json                      Print machine-readable JSON\n"
                 "  -a --all                       list: show all domains\n"
                 "     --inactive                  list: show only shut-off domains\n"
                 "     --no-ask-password           Do not ask for authorization interactively\n"
                 "     --completed                 jobinfo: show the last completed job\n"
                 "\nMigration options:\n"
                 "     --to-bus=ADDRESS            The bus of the destination's migrationd\n"
                 "     --live                      Let the guest run during the transfer\n"
                 "     --persistent                Define the domain on the destination\n"
                 "     --undefine-source           Remove the definition from the source\n"
                 "     --paused                    Leave the guest paused on the destination\n"
                 "     --bandwidth=MIB             Transfer at most MIB MiB/s (0: no limit)\n"
                 "     --max-downtime=MS           Pause the guest for at most MS ms at the end\n"
                 "     --dname=NAME                Name the domain NAME on the destination\n"
                 "     --xml=FILE                  Domain XML for the destination (same UUID)\n"
                 "     --plain                     Call Begin3, Prepare3, ... with plain arguments\n"
                 "                                 instead of Begin3Params, Prepare3Params, ...\n"
                 "     --protocol=2                Use migration protocol 2 (Prepare2, Perform2,\n"
                 "                                 Finish2) instead of 3, for old peers\n"
                 "     --offline                   Move only the definition of a shut-off domain\n"
                 "                                 (needs --persistent)\n"
                 "     --copy-storage-all          Copy the disks to the destination (non-shared\n"
                 "                                 storage; missing images are created there)\n"
                 "     --copy-storage-inc          Copy only the disks' top images (the backing\n"
                 "                                 files exist at the destination)\n"
                 "     --postcopy                  Allow switching the migration to post-copy\n"
                 "     --postcopy-after=SECONDS    Switch to post-copy SECONDS after the transfer\n"
                 "                                 started (implies --postcopy)\n"
                 "     --parallel=N                Transfer over N parallel connections\n"
                 "     --compress=METHOD           Compress with METHOD: xbzrle (default), or zlib\n"
                 "                                 or zstd (with --parallel); may be repeated\n"
                 "     --auto-converge             Slow the guest down if it does not converge\n"
                 "     --change-protection         Refuse changes to the domain's definition\n"
                 "                                 while it migrates\n"
                 "\nNAME is the name or the UUID of a domain.\n"));
        /* TRANSLATORS: keep the option names and the alignment of the descriptions. */
        printf(_("\nPeer-to-peer migration (instead of --to-bus):\n"
                 "     --to=migration+tls://HOST[:PORT]\n"
                 "                                 The source's migrationd migrates the domain\n"
                 "                                 itself, through the migration-bridge at HOST\n"
                 "                                 (port 16519 by default)\n"
                 "     --tls                       Encrypt the migration stream (both hosts need\n"
                 "                                 [tls] in their configuration); also with --to-bus\n"
                 "     --check                     Migrate nothing: open the link to HOST and show\n"
                 "                                 whether the domain could go there (exit status\n"
                 "                                 1 if not)\n"));
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
        ARG_COMPLETED,
        ARG_TO_BUS,
        ARG_LIVE,
        ARG_PERSISTENT,
        ARG_UNDEFINE_SOURCE,
        ARG_PAUSED,
        ARG_BANDWIDTH,
        ARG_MAX_DOWNTIME,
        ARG_DNAME,
        ARG_XML,
        ARG_PLAIN,
        ARG_PROTOCOL,
        ARG_OFFLINE,
        ARG_POSTCOPY,
        ARG_POSTCOPY_AFTER,
        ARG_PARALLEL,
        ARG_COMPRESS,
        ARG_AUTO_CONVERGE,
        ARG_CHANGE_PROTECTION,
        ARG_TO,
        ARG_TLS,
        ARG_COPY_STORAGE_ALL,
        ARG_COPY_STORAGE_INC,
        ARG_CHECK,
};

/* A number for @option in [@min, @max]; says what is wrong otherwise. */
static int parse_number(const char *option, const char *text, guint64 min, guint64 max, guint64 *ret) {
        g_autoptr(GError) error = NULL;

        if (!g_ascii_string_to_unsigned(text, 10, min, max, ret, &error)) {
                g_printerr(_("Invalid value for %s: %s\n"), option, error->message);
                return -EINVAL;
        }
        return 0;
}

static const struct option options[] = {
        { "help",            no_argument,       NULL, 'h'                 },
        { "version",         no_argument,       NULL, ARG_VERSION         },
        { "bus",             required_argument, NULL, ARG_BUS             },
        { "json",            no_argument,       NULL, ARG_JSON            },
        { "all",             no_argument,       NULL, 'a'                 },
        { "inactive",        no_argument,       NULL, ARG_INACTIVE        },
        { "no-ask-password", no_argument,       NULL, ARG_NO_ASK_PASSWORD },
        { "completed",       no_argument,       NULL, ARG_COMPLETED       },
        { "to-bus",          required_argument, NULL, ARG_TO_BUS          },
        { "live",            no_argument,       NULL, ARG_LIVE            },
        { "persistent",      no_argument,       NULL, ARG_PERSISTENT      },
        { "undefine-source", no_argument,       NULL, ARG_UNDEFINE_SOURCE },
        { "paused",          no_argument,       NULL, ARG_PAUSED          },
        { "bandwidth",       required_argument, NULL, ARG_BANDWIDTH       },
        { "max-downtime",    required_argument, NULL, ARG_MAX_DOWNTIME    },
        { "dname",           required_argument, NULL, ARG_DNAME           },
        { "xml",             required_argument, NULL, ARG_XML             },
        { "plain",           no_argument,       NULL, ARG_PLAIN           },
        { "protocol",        required_argument, NULL, ARG_PROTOCOL        },
        { "offline",         no_argument,       NULL, ARG_OFFLINE         },
        { "copy-storage-all", no_argument,      NULL, ARG_COPY_STORAGE_ALL },
        { "copy-storage-inc", no_argument,      NULL, ARG_COPY_STORAGE_INC },
        { "postcopy",        no_argument,       NULL, ARG_POSTCOPY        },
        { "postcopy-after",  required_argument, NULL, ARG_POSTCOPY_AFTER  },
        { "parallel",        required_argument, NULL, ARG_PARALLEL        },
        { "compress",        required_argument, NULL, ARG_COMPRESS        },
        { "auto-converge",   no_argument,       NULL, ARG_AUTO_CONVERGE   },
        { "change-protection", no_argument,     NULL, ARG_CHANGE_PROTECTION },
        { "to",              required_argument, NULL, ARG_TO              },
        { "tls",             no_argument,       NULL, ARG_TLS             },
        { "check",           no_argument,       NULL, ARG_CHECK           },
        {}
};

/* The options that do nothing but set one migration flag. */
static const struct {
        int option;
        CtlMigrateFlags flag;
} flag_options[] = {
        { ARG_LIVE,              CTL_MIGRATE_LIVE },
        { ARG_PERSISTENT,        CTL_MIGRATE_PERSIST_DEST },
        { ARG_UNDEFINE_SOURCE,   CTL_MIGRATE_UNDEFINE_SOURCE },
        { ARG_PAUSED,            CTL_MIGRATE_PAUSED },
        { ARG_OFFLINE,           CTL_MIGRATE_OFFLINE },
        { ARG_POSTCOPY,          CTL_MIGRATE_POSTCOPY },
        { ARG_AUTO_CONVERGE,     CTL_MIGRATE_AUTO_CONVERGE },
        { ARG_CHANGE_PROTECTION, CTL_MIGRATE_CHANGE_PROTECTION },
        { ARG_TLS,               CTL_MIGRATE_TLS },
        { ARG_COPY_STORAGE_ALL,  CTL_MIGRATE_NON_SHARED_DISK },
        { ARG_COPY_STORAGE_INC,  CTL_MIGRATE_NON_SHARED_INC },
};

static gboolean parse_flag_option(CtlContext *ctx, int c) {
        for (size_t i = 0; i < G_N_ELEMENTS(flag_options); i++)
                if (flag_options[i].option == c) {
                        ctx->migrate_flags |= flag_options[i].flag;
                        return TRUE;
                }
        return FALSE;
}

static int parse_compress(CtlContext *ctx, char *method) {
        if (!*method) {
                g_printerr(_("--compress needs a method: xbzrle, zlib or zstd\n"));
                return -EINVAL;
        }
        if (!ctx->compression)
                ctx->compression = g_ptr_array_new();
        if (!g_ptr_array_find_with_equal_func(ctx->compression, method, g_str_equal, NULL))
                g_ptr_array_add(ctx->compression, method);
        ctx->migrate_flags |= CTL_MIGRATE_COMPRESSED;
        return 0;
}

/* The migration options that take a value to check; 0 or -EINVAL. */
static int parse_value_option(CtlContext *ctx, int c, char *arg) {
        guint64 number;
        int r;

        switch (c) {
        case ARG_BANDWIDTH:
                r = parse_number("--bandwidth", arg, 0, G_MAXUINT64, &ctx->bandwidth_mib);
                if (r < 0)
                        return r;
                ctx->has_bandwidth = TRUE;
                return 0;
        case ARG_MAX_DOWNTIME:
                return parse_number("--max-downtime", arg, 1, G_MAXUINT64, &ctx->max_downtime_ms);
        case ARG_PROTOCOL:
                if (!g_str_equal(arg, "2") && !g_str_equal(arg, "3")) {
                        g_printerr(_("Invalid value for --protocol: '%s'; use 2 or 3\n"), arg);
                        return -EINVAL;
                }
                ctx->protocol = arg[0] - '0';
                return 0;
        case ARG_POSTCOPY_AFTER:
                r = parse_number("--postcopy-after", arg, 0, G_MAXUINT32, &ctx->postcopy_after_s);
                if (r < 0)
                        return r;
                ctx->has_postcopy_after = TRUE;
                ctx->migrate_flags |= CTL_MIGRATE_POSTCOPY;
                return 0;
        case ARG_PARALLEL:
                /* QEMU's multifd-channels: 1 to 255. */
                r = parse_number("--parallel", arg, 1, 255, &number);
                if (r < 0)
                        return r;
                ctx->parallel_connections = (gint32) number;
                ctx->migrate_flags |= CTL_MIGRATE_PARALLEL;
                return 0;
        case ARG_COMPRESS:
                return parse_compress(ctx, arg);
        default:
                /* getopt_long() has told what is wrong */
                return -EINVAL;
        }
}

/* One option: 1 to go on, 0 when done (--help, --version), -EINVAL on bad usage. */
static int parse_option(CtlContext *ctx, int c, char *arg) {
        if (parse_flag_option(ctx, c))
                return 1;

        switch (c) {
        case 'h':
                print_help();
                return 0;
        case ARG_VERSION:
                printf("migrationctl %s\n", PACKAGE_VERSION);
                return 0;
        case ARG_BUS:
                ctx->bus_address = arg;
                return 1;
        case ARG_JSON:
                ctx->json = TRUE;
                return 1;
        case 'a':
                ctx->list_flags = CTL_LIST_ALL;
                return 1;
        case ARG_INACTIVE:
                ctx->list_flags = CTL_LIST_INACTIVE;
                return 1;
        case ARG_NO_ASK_PASSWORD:
                ctx->ask_password = FALSE;
                return 1;
        case ARG_COMPLETED:
                ctx->completed = TRUE;
                return 1;
        case ARG_TO_BUS:
                ctx->to_bus_address = arg;
                return 1;
        case ARG_DNAME:
                ctx->dname = arg;
                return 1;
        case ARG_XML:
                ctx->xml_file = arg;
                return 1;
        case ARG_PLAIN:
                ctx->plain = TRUE;
                return 1;
        case ARG_TO:
                ctx->peer_uri = arg;
                return 1;
        case ARG_CHECK:
                ctx->check = TRUE;
                return 1;
        default:
                return parse_value_option(ctx, c, arg) < 0 ? -EINVAL : 1;
        }
}

/* Returns 1 to go on with a verb, 0 when done (--help), -EINVAL on bad usage. */
static int parse_argv(CtlContext *ctx, int argc, char **argv) {
        int c, r;

        while ((c = getopt_long(argc, argv, "ha", options, NULL)) >= 0) {
                r = parse_option(ctx, c, optarg);
                if (r <= 0)
                        return r;
        }
        return 1;
}

static int run_verb(CtlContext *ctx, int argc, char **argv) {
        const CtlVerb *verb;
        int n_operands, r;

        if (argc < 1) {
                g_printerr(_("No command given; see '%s --help'.\n"), g_get_prgname());
                return -EINVAL;
        }

        verb = find_verb(argv[0]);
        if (!verb) {
                g_printerr(_("Unknown command '%s'; see '%s --help'.\n"), argv[0], g_get_prgname());
                return -EINVAL;
        }

        n_operands = argc - 1;
        if (n_operands < verb->min_operands || n_operands > verb->max_operands) {
                g_printerr(_("Wrong number of arguments; usage: %s %s %s\n"),
                           g_get_prgname(), verb->name, verb->operands);
                return -EINVAL;
        }

        r = ctl_bus_open(ctx->bus_address, ctx->ask_password, &ctx->bus);
        if (r < 0) {
                if (ctx->bus_address)
                        g_printerr(_("Failed to connect to %s: %s\n"), ctx->bus_address, g_strerror(-r));
                else
                        g_printerr(_("Failed to connect to the system bus: %s\n"), g_strerror(-r));
                return r;
        }

        return verb->run(ctx, argc, argv);
}

int main(int argc, char **argv) {
        CtlContext ctx = {
                .list_flags = CTL_LIST_ACTIVE,
                .ask_password = isatty(STDIN_FILENO),
                .protocol = 3,
        };
        int r;

        setlocale(LC_ALL, "");
        bindtextdomain(GETTEXT_PACKAGE, LOCALEDIR);
        bind_textdomain_codeset(GETTEXT_PACKAGE, "UTF-8");
        textdomain(GETTEXT_PACKAGE);
        g_set_prgname(program_invocation_short_name);

        r = parse_argv(&ctx, argc, argv);
        if (r > 0)
                r = run_verb(&ctx, argc - optind, argv + optind);

        g_clear_pointer(&ctx.bus, sd_bus_flush_close_unref);
        g_clear_pointer(&ctx.compression, g_ptr_array_unref);

        if (fflush(stdout) != 0 && r >= 0) {
                g_printerr(_("Failed to write the output: %s\n"), g_strerror(errno));
                r = -errno;
        }

        if (ctx.interrupted)
                return 128 + SIGINT;
        return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
