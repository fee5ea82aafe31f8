// SPDX-License-Identifier: LGPL-2.1-or-later
// Headless Chromium for the Cockpit page tests, driven by playwright-core
// from the Python test (cockpittest.py): one JSON request a line on stdin,
// one JSON answer a line on stdout. Elements are found by role and
// accessible name, as a person with a screen reader would find them.
//
// A target is a list of steps, each narrowing the one before:
//   {"role": "button", "name": "Migrate"}       getByRole (exact name unless "exact": false)
//   {"row": "guest-1"}                          the table row whose cell is named guest-1
//   {"text": "Migrated to", "regex": true}      getByText
//
// Environment: MD_NODE_MODULES (where playwright-core is installed),
// MD_CHROMIUM (default /usr/bin/chromium).

import { createRequire } from "node:module";
import * as readline from "node:readline";

const require = createRequire(process.env.MD_NODE_MODULES.replace(/\/?$/, "/"));
const { chromium } = require("playwright-core");

function locate(page, steps) {
    let loc = page;
    for (const s of steps) {
        if (s.row !== undefined)
            loc = loc.getByRole("row").filter({ has: page.getByRole("cell", { name: s.row, exact: true }) });
        else if (s.role !== undefined)
            loc = loc.getByRole(s.role, s.name === undefined ? {} : { name: s.name, exact: s.exact !== false });
        else if (s.text !== undefined)
            loc = loc.getByText(s.regex ? new RegExp(s.text) : s.text);
        else
            throw new Error("a step without row, role or text: " + JSON.stringify(s));
    }
    return loc;
}

const browser = await chromium.launch({
    executablePath: process.env.MD_CHROMIUM || "/usr/bin/chromium",
    headless: true,
    // The tests run as root, where Chromium's sandbox cannot start.
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
});
// English whatever the machine's locale, as the tests read the page's
// English text; a test asks for another language with Cockpit's cookie.
const context = await browser.newContext({ viewport: { width: 1100, height: 720 }, locale: "en-US" });
const page = await context.newPage();
page.on("console", msg => process.stderr.write(`[page ${msg.type()}] ${msg.text()}\n`));
page.on("pageerror", err => process.stderr.write(`[page error] ${err.message}\n`));

async function handle(req) {
    const t = req.timeout ?? 30000;
    const loc = req.target ? locate(page, req.target) : null;
    switch (req.cmd) {
    case "open":
        await page.goto(req.url, { timeout: t });
        return null;
    case "click":
        await loc.click({ timeout: t });
        return null;
    case "fill":
        await loc.fill(req.value, { timeout: t });
        return null;
    case "check":
        await loc.setChecked(req.on, { timeout: t });
        return null;
    case "wait":
        await loc.first().waitFor({ state: req.state || "visible", timeout: t });
        return null;
    case "count":
        return await loc.count();
    case "text":
        return await loc.innerText({ timeout: t });
    case "texts":
        return await loc.allInnerTexts();
    case "attr":
        return await loc.getAttribute(req.name, { timeout: t });
    case "attrs":
        // A snapshot without waiting: the element may come and go meanwhile.
        return await loc.evaluateAll((els, name) => els.map(e => e.getAttribute(name)), req.name);
    case "enabled":
        return await loc.isEnabled({ timeout: t });
    case "screenshot":
        if (loc)
            await loc.screenshot({ path: req.path, timeout: t });
        else
            await page.screenshot({ path: req.path, fullPage: !!req.full });
        return req.path;
    case "cookie":
        // e.g. CockpitLang=de-de: cockpit-ws makes it the Accept-Language of
        // what the bridge serves (po.js in that language).
        await context.addCookies([{ name: req.name, value: req.value, url: req.url }]);
        return null;
    case "lang":
        return await page.evaluate(() => document.documentElement.lang);
    case "reload":
        await page.reload({ timeout: t });
        return null;
    default:
        throw new Error("unknown command " + req.cmd);
    }
}

const lines = readline.createInterface({ input: process.stdin });
process.stdout.write(JSON.stringify({ ready: true, version: browser.version() }) + "\n");
for await (const line of lines) {
    if (!line.trim())
        continue;
    const req = JSON.parse(line);
    if (req.cmd === "quit")
        break;
    let answer;
    try {
        answer = { ok: true, value: await handle(req) };
    } catch (e) {
        answer = { ok: false, error: String(e.message || e) };
    }
    process.stdout.write(JSON.stringify(answer) + "\n");
}
await browser.close();
