// SPDX-License-Identifier: LGPL-2.1-or-later
// Pure helpers of the Migrations page: numbers for people, the destination
// URI, the migration flags. No DOM, no bus (tested through the page).

// libvirt's flag bits (../shared api contract, "Flags").
export const LIVE = 1 << 0;
export const PEER2PEER = 1 << 1;
export const PERSIST_DEST = 1 << 3;
export const UNDEFINE_SOURCE = 1 << 4;
export const POSTCOPY = 1 << 15;
export const TLS = 1 << 16;

export const URI_SCHEME = "migration+tls://";

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB"];

export function bytes(n) {
    if (typeof n !== "number" || !isFinite(n) || n < 0)
        return "–";
    let i = 0;
    while (n >= 1024 && i < UNITS.length - 1) {
        n /= 1024;
        i++;
    }
    return (i === 0 || n >= 100 ? Math.round(n) : n.toFixed(1)) + " " + UNITS[i];
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
    return m < 60 ? `${m} min ${s % 60} s` : `${Math.floor(m / 60)} h ${m % 60} min`;
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
    const m = /^(\[[0-9A-Fa-f:.]+\]|[^\s/:@[\]]+)(?::(\d{1,5}))?$/.exec(t);
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

// "Migrated to HOST in N s (downtime N ms)" from JobCompleted's statistics.
export function migratedLine(host, stats, fallbackMs) {
    const ms = typeof stats.time_elapsed === "number" ? stats.time_elapsed : fallbackMs;
    let line = `Migrated to ${host} in ${(ms / 1000).toFixed(1)} s`;
    if (typeof stats.downtime === "number")
        line += ` (downtime ${stats.downtime} ms)`;
    return line;
}

// The destination's side of a migration started elsewhere.
export function arrivedLine(stats) {
    let line = "Arrived from another host";
    if (typeof stats.time_elapsed === "number")
        line += ` in ${(stats.time_elapsed / 1000).toFixed(1)} s`;
    if (typeof stats.downtime === "number")
        line += ` (downtime ${stats.downtime} ms)`;
    return line;
}

const PHASES = {
    none: "",
    begin3: "Preparing",
    perform3: "Copying memory",
    perform3_done: "Stream done",
    confirm3: "Confirming",
    confirm3_cancelled: "Cancelling",
    prepare: "Receiving",
    finish3: "Finishing",
};

export function phaseLabel(phase) {
    return phase in PHASES ? PHASES[phase] : phase;
}

export function jobLabel(jobType) {
    if (jobType === "migration-out")
        return "Migrating out";
    if (jobType === "migration-in")
        return "Migrating in";
    return "No job";
}

const STATES = { running: "Running", paused: "Paused", shutoff: "Shut off" };

export function stateLabel(state) {
    return STATES[state] || state || "–";
}
