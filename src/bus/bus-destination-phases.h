/* The destination's phases of a migration: one list for the three places
 * that export them, the Manager, PeerRelay (the same calls with the peer's
 * certificate DN as a first argument) and migration-bridge (the Manager's
 * calls on a peer's link). The introspection XML files document them. */
#pragma once

#include <systemd/sd-bus.h>

/* X(member, name, in signature, in names, out signature, out names); name
 * is the handler's suffix, e.g. method_##name. The names are SD_BUS_PARAM()
 * lists, as SD_BUS_METHOD_WITH_NAMES() takes them. */
#define BUS_DESTINATION_PHASES(X)                                                                         \
        X("Prepare3", prepare3, "sstaysu",                                                                \
          SD_BUS_PARAM(dom_xml) SD_BUS_PARAM(dname) SD_BUS_PARAM(bandwidth) SD_BUS_PARAM(cookie_in)      \
          SD_BUS_PARAM(uri_in) SD_BUS_PARAM(flags),                                                       \
          "ays", SD_BUS_PARAM(cookie_out) SD_BUS_PARAM(uri_out))                                          \
        X("Prepare3Params", prepare3_params, "a{sv}ayu",                                                  \
          SD_BUS_PARAM(params) SD_BUS_PARAM(cookie_in) SD_BUS_PARAM(flags),                               \
          "ays", SD_BUS_PARAM(cookie_out) SD_BUS_PARAM(uri_out))                                          \
        X("Finish3", finish3, "saysub",                                                                   \
          SD_BUS_PARAM(dname) SD_BUS_PARAM(cookie_in) SD_BUS_PARAM(uri) SD_BUS_PARAM(flags)              \
          SD_BUS_PARAM(cancelled),                                                                        \
          "oay", SD_BUS_PARAM(domain) SD_BUS_PARAM(cookie_out))                                           \
        X("Finish3Params", finish3_params, "a{sv}ayub",                                                   \
          SD_BUS_PARAM(params) SD_BUS_PARAM(cookie_in) SD_BUS_PARAM(flags) SD_BUS_PARAM(cancelled),       \
          "oay", SD_BUS_PARAM(domain) SD_BUS_PARAM(cookie_out))                                           \
        X("Prepare2", prepare2, "sstsu",                                                                  \
          SD_BUS_PARAM(dom_xml) SD_BUS_PARAM(dname) SD_BUS_PARAM(bandwidth) SD_BUS_PARAM(uri_in)         \
          SD_BUS_PARAM(flags),                                                                            \
          "ays", SD_BUS_PARAM(cookie_out) SD_BUS_PARAM(uri_out))                                          \
        X("Finish2", finish2, "saysui",                                                                   \
          SD_BUS_PARAM(dname) SD_BUS_PARAM(cookie_in) SD_BUS_PARAM(uri) SD_BUS_PARAM(flags)              \
          SD_BUS_PARAM(retcode),                                                                          \
          "o", SD_BUS_PARAM(domain))

/* A source gives up on an incoming migration (peers only: PeerRelay and the
 * bridge); same form as an entry above. */
#define BUS_ABORT_INCOMING(X) X("AbortIncoming", abort_incoming, "s", SD_BUS_PARAM(name), "", "")

/* A vtable entry for one phase, as the Manager exports it, handled by
 * @handler; SD_BUS_METHOD_WITH_ARGS() ends the names with one more NUL. */
#define BUS_PHASE_METHOD(member, in, in_names, out, out_names, handler)                                   \
        SD_BUS_METHOD_WITH_NAMES(member, in, in_names, out, out_names "\0", handler, SD_BUS_VTABLE_UNPRIVILEGED)

/* The same call relayed for a peer: its certificate DN comes first. */
#define BUS_PHASE_METHOD_FROM_PEER(member, in, in_names, out, out_names, handler)                         \
        BUS_PHASE_METHOD(member, "s" in, SD_BUS_PARAM(peer) in_names, out, out_names, handler)
