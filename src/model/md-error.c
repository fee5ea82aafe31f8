#include "md-error.h"

G_DEFINE_QUARK(migrationd-error-quark, md_error)

#define PREFIX "org.example.Migration1.Error."

static const char *const bus_names[_MD_ERROR_MAX] = {
        [MD_ERROR_NO_SUCH_DOMAIN] = PREFIX "NoSuchDomain",
        [MD_ERROR_DOMAIN_EXISTS] = PREFIX "DomainExists",
        [MD_ERROR_INVALID_XML] = PREFIX "InvalidXML",
        [MD_ERROR_INVALID_COOKIE] = PREFIX "InvalidCookie",
        [MD_ERROR_UNSUPPORTED] = PREFIX "Unsupported",
        [MD_ERROR_OPERATION_INVALID] = PREFIX "OperationInvalid",
        [MD_ERROR_JOB_ACTIVE] = PREFIX "JobActive",
        [MD_ERROR_SAME_HOST] = PREFIX "SameHost",
        [MD_ERROR_MIGRATION_FAILED] = PREFIX "MigrationFailed",
        [MD_ERROR_MIGRATION_ABORTED] = PREFIX "MigrationAborted",
        [MD_ERROR_PEER_UNREACHABLE] = PREFIX "PeerUnreachable",
        [MD_ERROR_PEER_REJECTED] = PREFIX "PeerRejected",
        [MD_ERROR_PROTOCOL_MISMATCH] = PREFIX "ProtocolMismatch",
        [MD_ERROR_QEMU_FAILED] = PREFIX "QemuFailed",
        [MD_ERROR_INVALID_ARGS] = "org.freedesktop.DBus.Error.InvalidArgs",
        [MD_ERROR_ACCESS_DENIED] = "org.freedesktop.DBus.Error.AccessDenied",
        [MD_ERROR_INTERACTIVE_AUTHORIZATION_REQUIRED] =
                "org.freedesktop.DBus.Error.InteractiveAuthorizationRequired",
        [MD_ERROR_UNSAFE] = PREFIX "Unsafe",
        [MD_ERROR_INTERNAL] = PREFIX "Internal",
        [MD_ERROR_LIMITS_EXCEEDED] = "org.freedesktop.DBus.Error.LimitsExceeded",
};

const char *md_error_to_bus_name(MdError code) {
        if ((unsigned) code >= _MD_ERROR_MAX)
                return "org.freedesktop.DBus.Error.Failed";
        return bus_names[code];
}

MdError md_error_from_bus_name(const char *name) {
        for (int code = 0; name && code < _MD_ERROR_MAX; code++)
                if (g_str_equal(bus_names[code], name))
                        return code;
        return _MD_ERROR_MAX;
}
