// SPDX-License-Identifier: LGPL-2.1-or-later
// One row of the domains table. Built once and updated in place, so that a
// statistics update every quarter second neither flickers nor moves a
// button from under the pointer.

import * as fmt from "./format.js";
import { createChart, drawChart } from "./chart.js";

const cockpit = window.cockpit;
const _ = cockpit.gettext;

function make(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls)
        e.className = cls;
    if (text !== undefined)
        e.textContent = text;
    return e;
}

function button(label, cls, onclick) {
    const b = make("button", "btn " + cls, label);
    b.type = "button";
    b.addEventListener("click", onclick);
    return b;
}

// Disabled with the reason said, to the eye (title) and to assistive
// technology (aria-description, read with the button's name).
function allow(btn, reason) {
    btn.disabled = !!reason;
    if (reason) {
        btn.title = reason;
        btn.setAttribute("aria-description", reason);
    } else {
        btn.removeAttribute("title");
        btn.removeAttribute("aria-description");
    }
}

const NO_ADMIN = _("This needs administrative access: turn it on in Cockpit's top bar.");

export class DomainRow {
    constructor(path, actions) {
        this.path = path;
        this.name = null;
        this.tr = make("tr");
        this.nameCell = make("td", "name");
        this.stateCell = make("td", "state");
        this.jobCell = make("td", "job");
        this.actionsCell = make("td", "actions");
        this.tr.append(this.nameCell, this.stateCell, this.jobCell, this.actionsCell);

        this.jobLine = make("div", "job-line");
        this.progress = make("div", "job-progress");
        this.bar = make("div", "progressbar");
        this.bar.setAttribute("role", "progressbar");
        this.bar.setAttribute("aria-valuemin", "0");
        this.bar.setAttribute("aria-valuemax", "100");
        this.fill = make("div", "progressbar-fill");
        this.bar.append(this.fill);
        this.percent = make("span", "progress-percent");
        this.numbers = make("div", "job-numbers");
        this.chart = createChart(_("Data remaining over time"));
        this.progress.append(this.bar, this.percent, this.numbers, this.chart);
        this.jobCell.append(this.jobLine, this.progress);

        this.migrate = button(_("Migrate"), "btn-secondary", () => actions.migrate(path));
        this.abort = button(_("Abort"), "btn-danger", () => actions.abort(path));
        this.postcopy = button(_("Switch to post-copy"), "btn-secondary", () => actions.postcopy(path));
        this.actionsCell.append(this.migrate, this.abort, this.postcopy);
    }

    update(proxy, job, admin) {
        this.name = proxy.Name;
        this.tr.dataset.name = proxy.Name;
        this.nameCell.textContent = proxy.Name;
        this.stateCell.textContent = fmt.stateLabel(proxy.State);
        if (proxy.StateReason && proxy.State !== "running")
            this.stateCell.title = cockpit.format(_("Reason: $0"), proxy.StateReason);
        else
            this.stateCell.removeAttribute("title");

        const busy = proxy.JobType && proxy.JobType !== "none";
        const ours = job && job.own && !job.finished;
        if (busy && job)
            job.sawActive = true;
        if (busy)
            this.lastJobType = proxy.JobType;
        // Our call is out but the daemon's job has not begun, or has ended
        // and the reply is on its way: only the first shows a bar.
        const starting = ours && !busy && !job.sawActive && !job.completed;
        const ending = ours && !busy && !starting;
        this.updateJob(proxy, job, busy || starting, ending);
        this.updateButtons(proxy, job, busy, ours, admin);
    }

    updateJob(proxy, job, active, ending) {
        const phase = fmt.phaseLabel(proxy.JobPhase);
        let line = fmt.jobLabel(proxy.JobType);
        if (ending)
            line = _("Finishing the migration");
        else if (active && proxy.JobType === "none")
            line = _("Starting the migration");
        else if (active && phase)
            line += ` · ${phase}`;
        if (active && job && job.own)
            // Translators: $0 is what the job does ("Migrating out · Copying memory"), $1 the destination host.
            line = cockpit.format(_("$0 to $1"), line, job.own.host);
        this.jobLine.textContent = line;
        this.progress.hidden = !active;
        if (!active)
            return;

        const value = typeof proxy.JobProgress === "number" ? proxy.JobProgress : 0;
        this.bar.setAttribute("aria-valuenow", String(value));
        this.bar.setAttribute("aria-valuetext", `${Math.floor(value)} %`);
        this.bar.setAttribute("aria-label", cockpit.format(_("Migration progress of $0"), proxy.Name));
        this.fill.style.width = `${Math.min(100, Math.max(0, value))}%`;
        this.percent.textContent = `${Math.floor(value)} %`;

        const s = (job && job.stats) || {};
        if (typeof s.data_remaining !== "number") {
            this.numbers.textContent = _("Waiting for the first statistics");
            drawChart(this.chart, []);
            return;
        }
        let eta = s.time_remaining;
        if (typeof eta !== "number" && s.memory_bps > 0 && typeof s.data_remaining === "number")
            eta = s.data_remaining / s.memory_bps * 1000;
        const parts = [cockpit.format(_("Data remaining $0"), fmt.bytes(s.data_remaining)),
            cockpit.format(_("speed $0"), fmt.rate(s.memory_bps)),
            cockpit.format(_("about $0 left"), fmt.duration(eta))];
        if (typeof s.memory_iteration === "number")
            // Translators: $0 counts the passes over the guest's memory.
            parts.push(cockpit.format(_("pass $0"), s.memory_iteration));
        this.numbers.textContent = parts.join(" · ");
        drawChart(this.chart, job ? job.samples : []);
    }

    updateButtons(proxy, job, busy, ours, admin) {
        const noAdmin = admin ? "" : NO_ADMIN;
        const movable = proxy.State === "running" || proxy.State === "paused";
        this.migrate.hidden = !movable || busy || ours;
        allow(this.migrate, noAdmin);
        this.migrate.setAttribute("aria-label", _("Migrate"));

        this.abort.hidden = !(proxy.JobType === "migration-out" || ours);
        allow(this.abort, noAdmin);

        const postcopy = ours && job.own.flags & fmt.POSTCOPY;
        this.postcopy.hidden = !postcopy;
        if (postcopy) {
            let reason = noAdmin;
            if (!reason && proxy.JobPhase !== "perform3")
                reason = _("Post-copy can start once the memory is being copied.");
            if (!reason && (job.postcopyRequested || proxy.StateReason === "postcopy"))
                reason = _("The migration runs in post-copy already.");
            allow(this.postcopy, reason);
        }
    }
}
