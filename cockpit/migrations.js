// SPDX-License-Identifier: LGPL-2.1-or-later
// The Migrations page: this host's domains from migrationd's ObjectManager,
// kept live by PropertiesChanged and the Domain signals (no polling), and
// peer-to-peer migrations started, followed and aborted from the browser.

import * as fmt from "./format.js";
import { createChart, drawChart } from "./chart.js";
import { DomainRow } from "./row.js";

const cockpit = window.cockpit;
const _ = cockpit.gettext;
const SERVICE = "org.example.Migration1";
const ROOT = "/org/example/Migration1";
const MANAGER_IFACE = SERVICE + ".Manager";
const DOMAIN_IFACE = SERVICE + ".Domain";
// MigrateToURI3 replies when the migration has ended: no time-out of our own.
const NO_TIMEOUT = 2147483647;
const DENIED = new Set(["org.freedesktop.DBus.Error.AccessDenied",
    "org.freedesktop.DBus.Error.InteractiveAuthorizationRequired"]);

const client = cockpit.dbus(SERVICE, { bus: "system", superuser: "try" });
const permission = cockpit.permission({ admin: true });

const rows = new Map();       // object path -> DomainRow
// Object path -> the job we follow: { samples, stats, own, completed, finished }.
// own: { host, uri, flags, started } when this page started it.
const jobs = new Map();

const $ = id => document.getElementById(id);

// index.html's marked text in the session's language. xgettext collapsed
// white space in what it extracted from the HTML; so does the lookup.
function translatePage() {
    for (const el of document.querySelectorAll('[translate="yes"]'))
        el.textContent = el.textContent.replace(/\s+/g, " ").trim();
    cockpit.translate();
    document.documentElement.lang = cockpit.language;
    document.documentElement.dir = cockpit.language_direction;
}

function canManage() {
    // null while Cockpit still finds out: act as allowed, the daemon decides.
    return permission.allowed !== false;
}

function jobOf(path) {
    let job = jobs.get(path);
    if (!job) {
        job = { samples: [], stats: {}, own: null, completed: null, finished: false, firstSeen: Date.now() };
        jobs.set(path, job);
    }
    return job;
}

// --- the table

function sortRow(row) {
    const tbody = $("domains").tBodies[0];
    const name = row.name;
    const next = [...tbody.rows].find(tr => tr !== row.tr && tr.dataset.name.localeCompare(name) > 0);
    tbody.insertBefore(row.tr, next || null);
}

function refreshEmpty() {
    $("no-domains").hidden = rows.size > 0;
}

function onDomain(proxy) {
    let row = rows.get(proxy.path);
    if (!row) {
        row = new DomainRow(proxy.path, {
            migrate: openDialog,
            abort: abortJob,
            postcopy: startPostCopy,
        });
        rows.set(proxy.path, row);
    }
    const renamed = row.name !== proxy.Name;
    row.update(proxy, jobs.get(proxy.path), canManage());
    if (renamed)
        sortRow(row);
    refreshEmpty();
}

function onDomainRemoved(proxy) {
    const row = rows.get(proxy.path);
    if (row) {
        row.tr.remove();
        rows.delete(proxy.path);
    }
    refreshEmpty();
}

function redraw(path) {
    const row = rows.get(path);
    const proxy = domains[path];
    if (row && proxy)
        row.update(proxy, jobs.get(path), canManage());
}

// --- job statistics and the end of a job

function onJobStats(path, stats) {
    const job = jobOf(path);
    job.stats = stats;
    if (typeof stats.data_remaining === "number") {
        const t = typeof stats.time_elapsed === "number" ? stats.time_elapsed : Date.now() - job.firstSeen;
        job.samples.push({ t, remaining: stats.data_remaining, iteration: stats.memory_iteration });
    }
    redraw(path);
}

function onJobCompleted(path, stats) {
    const job = jobOf(path);
    job.completed = stats;
    // A job started elsewhere (migrationctl, another browser) ends here;
    // our own ends with the reply of its call, which knows the error's name.
    if (!job.own)
        finishJob(path, stats.success ? { ok: true } : { message: stats.errmsg || _("The migration failed.") });
}

function finishJob(path, outcome) {
    const job = jobs.get(path);
    if (!job || job.finished)
        return;
    job.finished = true;
    const name = rows.get(path)?.name || job.name || path;
    const stats = job.completed || {};
    const host = job.own ? job.own.host : null;
    const incoming = !job.own && rows.get(path)?.lastJobType === "migration-in";
    let line, details = "";
    if (outcome.ok && incoming) {
        line = fmt.arrivedLine(stats);
    } else if (outcome.ok) {
        line = fmt.migratedLine(host, stats, job.own ? Date.now() - job.own.started : 0);
    } else if (outcome.name && DENIED.has(outcome.name)) {
        line = cockpit.format(_("Not authorized: polkit refused to let you migrate $0."), name);
        details = `${outcome.name}: ${outcome.message}`;
    } else {
        line = outcome.message;
        details = outcome.name || "";
    }
    addResult(name, !!outcome.ok, line, details, job.samples);
    jobs.delete(path);
    redraw(path);
}

function addResult(name, ok, line, details, samples) {
    const li = document.createElement("li");
    li.className = "result " + (ok ? "result-ok" : "result-error");
    const title = document.createElement("span");
    title.className = "result-name";
    title.textContent = name;
    const p = document.createElement("p");
    p.className = "result-line";
    p.textContent = line;
    li.append(title, p);
    if (details) {
        const d = document.createElement("p");
        d.className = "result-details";
        d.textContent = details;
        li.append(d);
    }
    if (samples && samples.length > 1) {
        const chart = createChart(cockpit.format(_("Data remaining over time, migration of $0"), name));
        drawChart(chart, samples);
        li.append(chart);
    }
    const dismiss = document.createElement("button");
    dismiss.type = "button";
    dismiss.className = "btn btn-link btn-small";
    dismiss.textContent = _("Dismiss");
    dismiss.setAttribute("aria-label", cockpit.format(_("Dismiss the result for $0"), name));
    dismiss.addEventListener("click", () => {
        li.remove();
        $("results-card").hidden = $("results").children.length === 0;
    });
    li.append(dismiss);
    $("results").prepend(li);
    $("results-card").hidden = false;
}

// @refused: the line when polkit said no (a whole sentence, for translators).
function callError(path, refused, ex) {
    const name = rows.get(path)?.name || path;
    const denied = DENIED.has(ex.name);
    addResult(name, false, denied ? refused : ex.message,
              ex.name ? `${ex.name}${denied ? ": " + ex.message : ""}` : "", null);
}

// --- actions

let dialogPath = null;

function openDialog(path) {
    dialogPath = path;
    const dialog = $("migrate-dialog");
    $("migrate-title").textContent = cockpit.format(_("Migrate $0"), rows.get(path)?.name || "");
    $("migrate-error").hidden = true;
    const last = window.localStorage.getItem("migrationd-destination");
    if (last && !$("destination").value)
        $("destination").value = last;
    dialog.showModal();
    $("destination").focus();
}

function dialogError(text) {
    $("migrate-error").textContent = text;
    $("migrate-error").hidden = false;
}

function startMigration(ev) {
    ev.preventDefault();
    const path = dialogPath;
    const dest = fmt.destination($("destination").value);
    if (!dest)
        return dialogError(_("Enter the destination as migration+tls://HOST[:PORT] or HOST[:PORT]."));
    const bwText = $("bandwidth").value.trim();
    const bandwidth = bwText === "" ? 0 : Number(bwText);
    if (!Number.isInteger(bandwidth) || bandwidth < 0)
        return dialogError(_("The bandwidth is a whole number of MiB/s, or empty for no limit."));
    const opts = {
        live: $("sw-live").checked,
        persist: $("sw-persist").checked,
        undefine: $("sw-undefine").checked,
        tls: $("sw-tls").checked,
        postcopy: $("sw-postcopy").checked,
    };
    const params = {};
    if (bandwidth > 0)
        params.bandwidth = cockpit.variant("t", bandwidth);
    window.localStorage.setItem("migrationd-destination", $("destination").value.trim());
    $("migrate-dialog").close();

    // A job of ours: a fresh record, so that old samples do not mix in.
    jobs.delete(path);
    const job = jobOf(path);
    job.own = { host: dest.host, uri: dest.uri, flags: fmt.flags(opts), started: Date.now() };
    job.name = rows.get(path)?.name;
    redraw(path);
    client.call(path, DOMAIN_IFACE, "MigrateToURI3", [dest.uri, params, job.own.flags],
                { type: "sa{sv}u", timeout: NO_TIMEOUT })
            .then(() => ownJobDone(path, job))
            .catch(ex => {
                if (jobs.get(path) === job)
                    finishJob(path, { name: ex.name, message: ex.message || String(ex) });
            });
}

// The statistics of the finished job: from JobCompleted when it came first,
// else the domain's last completed job (gone when the source was undefined).
function ownJobDone(path, job) {
    if (jobs.get(path) !== job)
        return;
    if (job.completed)
        return finishJob(path, { ok: true });
    client.call(path, DOMAIN_IFACE, "GetJobStats", [1], { type: "u" })
            .then(([, stats]) => { job.completed = fmt.unwrap(stats) })
            .catch(() => {})
            .finally(() => finishJob(path, { ok: true }));
}

function abortJob(path) {
    client.call(path, DOMAIN_IFACE, "AbortJob", [0], { type: "u" })
            .catch(ex => callError(path, _("Not authorized: polkit refused to let you abort this migration."), ex));
}

function startPostCopy(path) {
    const job = jobs.get(path);
    if (job)
        job.postcopyRequested = true;
    redraw(path);
    client.call(path, DOMAIN_IFACE, "MigrateStartPostCopy", [0], { type: "u" })
            .catch(ex => {
                if (job)
                    job.postcopyRequested = false;
                redraw(path);
                callError(path, _("Not authorized: polkit refused to let you switch this migration to post-copy."), ex);
            });
}

// --- start

translatePage();

function serviceProblem(text) {
    const el = $("service-problem");
    el.textContent = text;
    el.hidden = !text;
}

const domains = client.proxies(DOMAIN_IFACE, ROOT);

domains.addEventListener("changed", (ev, proxy) => onDomain(proxy));
domains.addEventListener("removed", (ev, proxy) => onDomainRemoved(proxy));
domains.wait()
        .then(() => refreshEmpty())
        .catch(ex => serviceProblem(cockpit.format(_("Cannot read the domains of migrationd: $0"),
                                                   cockpit.message(ex))));

function readManager() {
    client.call(ROOT, "org.freedesktop.DBus.Properties", "GetAll", [MANAGER_IFACE], { type: "s" })
            .then(([props]) => {
                const p = fmt.unwrap(props);
                $("host-line").textContent = cockpit.format(_("Host $0, migrationd $1"), p.Hostname, p.Version);
                serviceProblem("");
            })
            .catch(ex => serviceProblem(cockpit.format(
                _("migrationd (org.example.Migration1 on the system bus) does not answer on this host: $0. " +
                  "Is it installed, and may the bus start it?"), ex.message || cockpit.message(ex))));
}

// The service's bus name: gone when migrationd stops, back when it starts.
client.addEventListener("owner", (ev, owner) => {
    if (owner === null)
        serviceProblem(_("migrationd is not running on this host; the table shows what it last said."));
    else
        readManager();
});
readManager();

client.subscribe({ interface: DOMAIN_IFACE, path_namespace: ROOT }, (path, iface, signal, args) => {
    if (signal === "JobStatsUpdated")
        onJobStats(path, fmt.unwrap(args[0]));
    else if (signal === "JobCompleted")
        onJobCompleted(path, fmt.unwrap(args[0]));
});

client.addEventListener("close", (ev, options) => {
    serviceProblem(cockpit.format(_("The connection to migrationd was closed: $0"), cockpit.message(options)));
});

permission.addEventListener("changed", () => {
    $("limited-access").hidden = canManage();
    for (const path of rows.keys())
        redraw(path);
});

$("migrate-form").addEventListener("submit", startMigration);
$("cancel-migration").addEventListener("click", () => $("migrate-dialog").close());

