// SPDX-License-Identifier: LGPL-2.1-or-later
// The chart of data remaining over time: plain SVG, redrawn from the samples
// of one job ({ t: ms since the job started, remaining: bytes, iteration }).

import { bytes, decimal } from "./format.js";

const _ = window.cockpit.gettext;

const SVG = "http://www.w3.org/2000/svg";
const W = 360, H = 120, LEFT = 64, RIGHT = 8, TOP = 8, BOTTOM = 22;

function el(name, attrs, text) {
    const e = document.createElementNS(SVG, name);
    for (const k in attrs)
        e.setAttribute(k, attrs[k]);
    if (text !== undefined)
        e.textContent = text;
    return e;
}

export function createChart(label) {
    const svg = el("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img", "aria-label": label });
    svg.appendChild(el("title", {}, label));
    return svg;
}

// Redraws @svg from @samples; the y axis from 0 to the largest sample, the
// x axis from the first sample to the last (at least 1 s).
export function drawChart(svg, samples) {
    while (svg.childNodes.length > 1)
        svg.removeChild(svg.lastChild);
    svg.dataset.samples = String(samples.length);
    const plotW = W - LEFT - RIGHT, plotH = H - TOP - BOTTOM;
    svg.appendChild(el("rect", { x: LEFT, y: TOP, width: plotW, height: plotH, class: "chart-frame" }));
    if (samples.length === 0) {
        svg.appendChild(el("text", { x: LEFT + plotW / 2, y: TOP + plotH / 2, class: "chart-note" },
                           _("Waiting for statistics")));
        return;
    }
    const t0 = samples[0].t;
    const tMax = Math.max(1000, samples[samples.length - 1].t - t0);
    const yMax = Math.max(1, ...samples.map(s => s.remaining));
    const x = t => LEFT + (t - t0) / tMax * plotW;
    const y = v => TOP + plotH - v / yMax * plotH;

    for (const frac of [0, 0.5, 1]) {
        const yy = y(yMax * frac);
        svg.appendChild(el("line", { x1: LEFT, x2: LEFT + plotW, y1: yy, y2: yy, class: "chart-grid" }));
        svg.appendChild(el("text", { x: LEFT - 8, y: yy + 4, class: "chart-axis chart-axis-y" }, bytes(yMax * frac)));
    }
    svg.appendChild(el("text", { x: LEFT, y: H - 6, class: "chart-axis" }, "0 s"));
    svg.appendChild(el("text", { x: LEFT + plotW, y: H - 6, class: "chart-axis chart-axis-end" },
                       decimal(tMax / 1000, tMax < 10000 ? 1 : 0) + " s"));

    const points = samples.map(s => `${x(s.t).toFixed(1)},${y(s.remaining).toFixed(1)}`).join(" ");
    svg.appendChild(el("polyline", { points, class: "chart-line" }));
    // One mark where each pass over memory begins: the eye sees the passes shrink.
    let last = null;
    for (const s of samples) {
        if (s.iteration !== last) {
            svg.appendChild(el("circle", { cx: x(s.t), cy: y(s.remaining), r: 3, class: "chart-pass" }));
            last = s.iteration;
        }
    }
}
