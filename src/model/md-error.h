/* The project's one error domain. Codes map 1:1 to the bus error names of
 * the contract; only the bus layer turns them into sd_bus_error. */
#pragma once

#include <glib.h>

#define MD_ERROR (md_error_quark())

typedef enum {
        MD_ERROR_NO_SUCH_DOMAIN,
        MD_ERROR_DOMAIN_EXISTS,
        MD_ERROR_INVALID_XML,
        MD_ERROR_INVALID_COOKIE,
        MD_ERROR_UNSUPPORTED,
        MD_ERROR_OPERATION_INVALID,
        MD_ERROR_JOB_ACTIVE,
        MD_ERROR_SAME_HOST,
        MD_ERROR_MIGRATION_FAILED,
        MD_ERROR_MIGRATION_ABORTED,
        MD_ERROR_PEER_UNREACHABLE,
        MD_ERROR_PEER_REJECTED,
        MD_ERROR_PROTOCOL_MISMATCH,
        MD_ERROR_QEMU_FAILED,
        MD_ERROR_INVALID_ARGS,
        MD_ERROR_ACCESS_DENIED,
        MD_ERROR_INTERACTIVE_AUTHORIZATION_REQUIRED,
        MD_ERROR_UNSAFE,
        /* A disk or system failure on this host; the message names the path
         * and the cause (errno text). */
        MD_ERROR_INTERNAL,
        /* migration-bridge refusing a peer's call beyond its calls in flight
         * per link (docs/recovery.md); not an answer of the daemon's API. */
        MD_ERROR_LIMITS_EXCEEDED,
        _MD_ERROR_MAX,
} MdError;

GQuark md_error_quark(void);

/* The D-Bus error name for a code, e.g. "org.example.Migration1.Error.NoSuchDomain". */
const char *md_error_to_bus_name(MdError code);

/* The code of a bus error name of ours (a peer's answer), or _MD_ERROR_MAX. */
MdError md_error_from_bus_name(const char *name);
