/**
 * The web UI in a real browser (Debian's Chromium driven by playwright-core)
 * against a real master, agent and a task run by mesos-execute: the
 * dashboard, the click path framework -> task -> sandbox -> stdout, every
 * page rendering, keyboard use, and the "not connected" banner when the
 * master goes away (and its disappearance when a master is back).
 *
 * Set WEBUI_SCREENSHOTS=<dir> to save a screenshot of each page there
 * (docs/images holds the ones the docs use).
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { BrowserContext, Page } from "playwright-core";
import { assertUiBuilt, chromiumSkip, openChromium } from "../harness/chromium.js";
import {
  binPath,
  type DaemonHandle,
  getJson,
  runBinary,
  startAgent,
  startMaster,
  stopAll,
  waitFor,
  waitForAgents,
} from "../harness/processes.js";

const skip = chromiumSkip;
const SHOTS = process.env.WEBUI_SCREENSHOTS;

interface StateDoc {
  frameworks?: {
    id: string;
    name: string;
    tasks?: { id: string; state: string }[];
  }[];
  slaves?: { id: string }[];
}

describe("web UI in Chromium", { skip, timeout: 180_000 }, () => {
  let master: DaemonHandle;
  let agent: DaemonHandle;
  let execute: ChildProcess | undefined;
  let context: BrowserContext;
  let page: Page;
  let frameworkId = "";
  const consoleErrors: { text: string; url: string }[] = [];

  before(async () => {
    assertUiBuilt();
    master = await startMaster();
    agent = await startAgent({ master: master.address });
    await waitForAgents(master, 1);
    execute = spawn(
      process.execPath,
      [
        binPath("mesos-execute"),
        `--master=${master.address}`,
        "--name=ui-test",
        "--command=echo ui-test-output; sleep 90",
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let executeOutput = "";
    execute.stdout?.setEncoding("utf8").on("data", (d: string) => {
      executeOutput += d;
    });
    execute.stderr?.setEncoding("utf8").on("data", (d: string) => {
      executeOutput += d;
    });
    frameworkId = await waitFor(
      "task ui-test to run",
      async () => {
        const state = await getJson<StateDoc>(`${master.url}/master/state`);
        const f = state?.frameworks?.find((x) =>
          (x.tasks ?? []).some((t) => t.id === "ui-test" && t.state === "TASK_RUNNING"),
        );
        return f?.id;
      },
      { timeoutMs: 60_000 },
    ).catch((error: unknown) => {
      throw new Error(`${String(error)}\n--- mesos-execute ---\n${executeOutput}`);
    });
    ({ context, page } = await openChromium("webui-chromium-", {
      quiet: true,
      viewport: { width: 1360, height: 860 },
    }));
    page.on("console", (message) => {
      if (message.type() === "error") {
        consoleErrors.push({ text: message.text(), url: message.location().url });
      }
    });
    page.on("pageerror", (error) =>
      consoleErrors.push({ text: `uncaught: ${error.message}`, url: "" }),
    );
    if (SHOTS !== undefined) mkdirSync(SHOTS, { recursive: true });
  });

  after(async () => {
    await context?.close();
    execute?.kill("SIGKILL");
    await stopAll();
  });

  async function shot(name: string): Promise<void> {
    if (SHOTS === undefined) return;
    await page.waitForTimeout(300);
    await page.screenshot({ path: join(SHOTS, `webui-${name}.png`), fullPage: true });
  }

  it("the master serves the UI at / and the dashboard shows 1 activated agent and the task", async () => {
    const response = await page.goto(`${master.url}/`);
    assert.equal(response?.status(), 200);
    assert.match(response?.headers()["content-type"] ?? "", /^text\/html/);
    const activated = page.locator('[data-count="Activated"] dd');
    await activated.waitFor();
    await waitFor(
      "1 activated agent on the dashboard",
      async () => (await activated.textContent()) === "1",
    );
    const row = page.locator('[data-table="Active tasks"] tbody tr', { hasText: "ui-test" });
    await row.waitFor({ timeout: 10_000 });
    assert.match((await row.textContent()) ?? "", /Running/);
    assert.equal(await page.locator('[data-count="Running"] dd').textContent(), "1");
    // The task's cpus:1 shows as Allocated in the resource summary.
    const used = page.locator("[data-resources] tbody tr", { hasText: "Allocated" });
    await waitFor(
      "the task's 1 CPU as Allocated",
      async () => (await used.locator("td").first().textContent()) === "1",
    );
    await shot("dashboard");
  });

  it("framework -> task -> Sandbox -> stdout shows the task's output", async (t) => {
    await page
      .locator('[data-table="Active frameworks"] a', { hasText: "mesos-execute" })
      .first()
      .click();
    await page.waitForURL(/#\/frameworks\//);
    assert.ok(
      page.url().includes(encodeURIComponent(frameworkId)) || page.url().includes(frameworkId),
    );
    await page.locator("h1", { hasText: "Framework" }).waitFor();
    await shot("framework");
    const taskRow = page.locator('[data-table="Active tasks"] tbody tr', { hasText: "ui-test" });
    await taskRow.getByRole("link", { name: /Sandbox of task ui-test/ }).click();
    // The rerouter asks the agent for the sandbox directory, then lists it.
    await page.waitForURL(/#\/agents\/[^/]+\/browse\?path=/, { timeout: 15_000 });
    const dir = new URL(page.url().replace("#/", "")).searchParams.get("path") ?? "/";
    const served = async (base: string): Promise<boolean> => {
      const r = await fetch(`${base}/files/browse?path=${encodeURIComponent(dir)}`).catch(
        () => undefined,
      );
      return r?.status === 200;
    };
    if (!(await served(agent.url)) && !(await served(master.url))) {
      // Neither the agent nor the master serves /files yet: the page must say so, not break.
      await page.locator(".notice.unavailable", { hasText: "not available yet" }).waitFor();
      await shot("sandbox-unavailable");
      t.skip(
        "neither agent nor master serves /files/browse yet (operator surface); the UI says so",
      );
      return;
    }
    await page.getByRole("link", { name: "stdout", exact: true }).waitFor();
    await shot("sandbox");
    await page.getByRole("link", { name: "stdout", exact: true }).click();
    await page.waitForURL(/#\/agents\/[^/]+\/view\?path=/);
    const file = page.locator("pre[data-file]");
    await waitFor("stdout to show the task's output", async () =>
      ((await file.textContent()) ?? "").includes("ui-test-output"),
    );
    await shot("sandbox-stdout");
  });

  it("maintenance: a scheduled window and its draining machine show on the page", async () => {
    const startNs = (Date.now() + 3_600_000) * 1_000_000;
    const schedule = {
      windows: [
        {
          machine_ids: [{ hostname: "maint-host.example", ip: "10.0.0.9" }],
          unavailability: {
            start: { nanoseconds: startNs },
            duration: { nanoseconds: 3_600_000_000_000 },
          },
        },
      ],
    };
    const posted = await fetch(`${master.url}/master/maintenance/schedule`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(schedule),
    });
    assert.equal(posted.status, 200, await posted.text());
    try {
      await page.goto(`${master.url}/#/maintenance`);
      await page
        .locator('[data-table="Maintenance windows"] tbody tr', { hasText: "maint-host.example" })
        .waitFor();
      await page
        .locator('[data-table="Machines in maintenance"] tbody tr', {
          hasText: "maint-host.example",
        })
        .waitFor();
      await shot("maintenance-scheduled");
    } finally {
      const cleared = await fetch(`${master.url}/master/maintenance/schedule`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: "{}",
      });
      assert.equal(cleared.status, 200, await cleared.text());
    }
  });

  it("every page renders: frameworks, agents, agent, roles, offers, maintenance", async () => {
    const pages: [string, string][] = [
      ["#/frameworks", "Frameworks"],
      ["#/agents", "Agents"],
      ["#/roles", "Roles"],
      ["#/offers", "Offers"],
      ["#/maintenance", "Maintenance"],
    ];
    for (const [hash, title] of pages) {
      await page.goto(`${master.url}/${hash}`);
      await page.locator("h1", { hasText: title }).waitFor();
      await page.waitForTimeout(500);
      assert.equal(await page.locator(".notice.failed").count(), 0, `${hash} shows a failure`);
      await shot(hash.slice(2));
    }
    await page.goto(`${master.url}/#/agents`);
    await page.locator('[data-table="Agents"] tbody tr a').first().click();
    await page.locator("h1", { hasText: "Agent" }).waitFor();
    await page
      .locator('[data-table="Tasks on this agent"] tbody tr', { hasText: "ui-test" })
      .waitFor();
    const agentTotal = page.locator('table[aria-label="Agent resources"] tbody tr', {
      hasText: "Total",
    });
    assert.match((await agentTotal.textContent()) ?? "", /\[31000-32000\]/);
    const statistics = await Promise.all(
      [`${agent.url}/slave(1)/monitor/statistics`, `${agent.url}/monitor/statistics`].map((u) =>
        fetch(u).then(
          (r) => r.status === 200,
          () => false,
        ),
      ),
    );
    if (statistics.includes(true)) {
      // Live usage from /monitor/statistics: memory in bytes against the limit.
      await page
        .locator('[data-table="Executors"] tbody tr', { hasText: "ui-test" })
        .filter({ hasText: /B \/ / })
        .waitFor({ timeout: 15_000 });
    }
    await page.waitForTimeout(5500);
    await shot("agent");
  });

  it("tables sort and filter, and the keyboard reaches pages and filters", async () => {
    await page.goto(`${master.url}/#/`);
    await page.locator('[data-table="Active tasks"] tbody tr', { hasText: "ui-test" }).waitFor();
    await page.keyboard.press("g");
    await page.keyboard.press("a");
    await page.waitForURL(/#\/agents$/);
    await page.locator('[data-table="Agents"] input[data-filter]').waitFor();
    await page.keyboard.press("/");
    assert.equal(
      await page.locator("input[data-filter]:focus").count(),
      1,
      "'/' focuses the filter",
    );
    await page.keyboard.type("no-such-host");
    await page.locator('[data-table="Agents"] td.empty', { hasText: "No row matches" }).waitFor();
    await page.keyboard.press("Escape");
    const header = page.locator('[data-table="Agents"] th', { hasText: "Version" });
    await header.getByRole("button").click();
    assert.equal(await header.getAttribute("aria-sort"), "ascending");
    await header.getByRole("button").click();
    assert.equal(await header.getAttribute("aria-sort"), "descending");
  });

  it("the browser console shows no errors (endpoints not built yet aside)", async () => {
    const unexpected: string[] = [];
    for (const e of consoleErrors) {
      // Chromium logs every non-2xx resource; those of endpoints the master
      // or agent does not serve yet are expected until they land.
      if (e.text.startsWith("Failed to load resource") && e.url !== "") {
        const status = await fetch(e.url.replace(/([?&])jsonp=[^&]*/, "$1"), {
          method: e.url.includes("/api/v1") ? "POST" : "GET",
        })
          .then((r) => r.status)
          .catch(() => 0);
        if (status === 404 || status === 405 || status === 501 || status === 415) continue;
      }
      unexpected.push(`${e.text} ${e.url}`);
    }
    assert.deepEqual(unexpected, []);
  });

  it("the dashboard updates without a reload when a task finishes", async () => {
    await page.goto(`${master.url}/#/`);
    await page.locator('[data-connection="connected"]').waitFor();
    const finished = page.locator('[data-count="Finished"] dd');
    const before = Number(await finished.textContent());
    const completed = page.locator('[data-table="Completed tasks"] tbody tr', {
      hasText: "ui-quick",
    });
    assert.equal(await completed.count(), 0);
    const run = await runBinary(
      "mesos-execute",
      [`--master=${master.address}`, "--name=ui-quick", "--command=true"],
      { timeoutMs: 60_000 },
    );
    assert.equal(run.code, 0, run.stdout + run.stderr);
    // Polling masters re-read every 3 s; a loaded machine stretches that.
    await completed.waitFor({ timeout: 30_000 });
    assert.match((await completed.textContent()) ?? "", /Finished/);
    assert.ok(Number(await finished.textContent()) > before, "the Finished count went up");
  });

  it("stopping the master shows the banner; a master back on the port clears it", async () => {
    await page.goto(`${master.url}/#/`);
    await page.locator('[data-connection="connected"]').waitFor();
    const port = master.port;
    await master.stop();
    await page.locator('[data-banner="disconnected"]').waitFor({ timeout: 15_000 });
    assert.match(
      (await page.locator('[data-banner="disconnected"]').textContent()) ?? "",
      /Not connected to a leading master/,
    );
    await shot("disconnected");
    master = await startMaster({ port });
    await page
      .locator('[data-banner="disconnected"]')
      .waitFor({ state: "detached", timeout: 20_000 });
    await page.locator('[data-connection="connected"]').waitFor();
  });
});
