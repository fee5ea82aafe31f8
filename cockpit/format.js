// SPDX-License-Identifier: LGPL-2.1-or-later
// Pure helpers of the Migrations page: numbers for people, the destination
// URI, the migration flags. No DOM, no bus (tested through the page).
// Words through Cockpit's gettext (po.js, loaded before the modules).

const cockpit = window.cockpit;
const _ = cockpit.gettext;
// Marks a string for xgettext without translating it (translated when used).
const N_ = cockpit.noop;

// libvirt's flag bits (../shared api contract, "Flags").
export const LIVE = 1 << 0;
export const PEER2PEER = 1 << 1;
export const PERSIST_DEST = 1 << 3;
export const UNDEFINE_SOURCE = 1 << 4;
export const POSTCOPY = 1 << 15;
export const TLS = 1 << 16;

export const URI_SCHEME = "migration+tls://";

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB"];

// @n with @digits decimals in the page's language (1.5 or 1,5), no grouping.
export function decimal(n, digits) {
    return n.toLocaleString(cockpit.language.replace("_", "-"),
                            { minimumFractionDigits: digits, maximumFractionDigits: digits, useGrouping: false });
}

export function bytes(n) {
    if (typeof n !== "number" || !isFinite(n) || n < 0)
        return "–";
    let i = 0;
    while (n >= 1024 && i < UNITS.length - 1) {
        n /= 1024;
        i++;
    }
    return (i === 0 || n >= 100 ? Math.round(n) : decimal(n, 1)) + " " + UNITS[i];
}

export function rate(bytesPerSecond) {
    return typeof bytesPerSecond === "number" ? bytes(bytesPerSecond) + "/s" : "–";
}

export function duration(ms) {
    if (typeof ms !== "number" || !isFinite(ms) || ms < 0)
        return "–";
    const s = Math.round(ms / 1000);
    if (s < 60)
        return s + " s";
    const m = Math.floor(s / 60);
    // No template literals here: xgettext 0.21 loses its way in a division inside one.
    return m < 60 ? m + " min " + (s % 60) + " s" : Math.floor(m / 60) + " h " + (m % 60) + " min";
}

// What the person typed: migration+tls://HOST[:PORT], or HOST[:PORT] for short.
// Returns { uri, host } or null when it names no host.
export function destination(text) {
    let t = (text || "").trim();
    if (t === "")
        return null;
    if (t.includes("://")) {
        if (!t.startsWith(URI_SCHEME))
            return null;
        t = t.slice(URI_SCHEME.length);
    }
    t = t.replace(/\/+$/, "");
    // [v6]:port, host:port or host; no path, no user part.
    const m = /^(\[[0-9A-Fa-f:.]+\]|[^\s\/:@[\]]+)(?::(\d{1,5}))?$/.exec(t);
    if (!m || (m[2] !== undefined && (Number(m[2]) < 1 || Number(m[2]) > 65535)))
        return null;
    return { uri: URI_SCHEME + t, host: m[1] };
}

export function flags(opts) {
    let f = PEER2PEER;
    if (opts.live)
        f |= LIVE;
    if (opts.persist)
        f |= PERSIST_DEST;
    if (opts.undefine)
        f |= UNDEFINE_SOURCE;
    if (opts.tls)
        f |= TLS;
    if (opts.postcopy)
        f |= POSTCOPY;
    return f;
}

// An a{sv} from cockpit.dbus ({ key: { t, v } }) as plain values.
export function unwrap(dict) {
    const out = {};
    for (const k in dict || {}) {
        const v = dict[k];
        out[k] = v && typeof v === "object" && "v" in v ? v.v : v;
    }
    return out;
}

// "Migrated to HOST in N s (downtime N ms)" from JobCompleted's statistics;
// a migration started elsewhere (no @host) went to "another host". Whole
// sentences for the translators, one for each case.
export function migratedLine(host, stats, fallbackMs) {
    const ms = typeof stats.time_elapsed === "number" ? stats.time_elapsed : fallbackMs;
    const secs = decimal(ms / 1000, 1);
    const down = stats.downtime;
    if (typeof down === "number")
        return host ? cockpit.format(_("Migrated to $0 in $1 s (downtime $2 ms)"), host, secs, down)
            : cockpit.format(_("Migrated to another host in $0 s (downtime $1 ms)"), secs, down);
    return host ? cockpit.format(_("Migrated to $0 in $1 s"), host, secs)
        : cockpit.format(_("Migrated to another host in $0 s"), secs);
}

// The destination's side of a migration started elsewhere.
export function arrivedLine(stats) {
    const down = stats.downtime;
    if (typeof stats.time_elapsed !== "number")
        return typeof down === "number"
            ? cockpit.format(_("Arrived from another host (downtime $0 ms)"), down)
            : _("Arrived from another host");
    const secs = decimal(stats.time_elapsed / 1000, 1);
    return typeof down === "number"
        ? cockpit.format(_("Arrived from another host in $0 s (downtime $1 ms)"), secs, down)
        : cockpit.format(_("Arrived from another host in $0 s"), secs);
}

const PHASES = {
    none: "",
    begin3: N_("Preparing"),
    perform3: N_("Copying memory"),
    perform3_done: N_("Stream done"),
    confirm3: N_("Confirming"),
    confirm3_cancelled: N_("Cancelling"),
    prepare: N_("Receiving"),
    finish3: N_("Finishing"),
};

export function phaseLabel(phase) {
    return phase in PHASES ? (PHASES[phase] && _(PHASES[phase])) : phase;
}

export function jobLabel(jobType) {
    if (jobType === "migration-out")
        return _("Migrating out");
    if (jobType === "migration-in")
        return _("Migrating in");
    return _("No job");
}

const STATES = { running: N_("Running"), paused: N_("Paused"), shutoff: N_("Shut off") };

export function stateLabel(state) {
    return state in STATES ? _(STATES[state]) : state || "–";
}
