/**
 * Web UI details found by walking it next to Mesos' UI, in Chromium against
 * a real master (with a log file) and agent: the master's and agent's log can
 * be downloaded as well as viewed, a completed framework's page says the
 * framework has terminated, the agent page shows when the agent was built, a
 * missing sandbox path on a live agent reads as missing (not as an agent that
 * does not serve files), and the frameworks table fits a 1400 px window.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { after, before, describe, it } from "node:test";
import type { BrowserContext, Page } from "playwright-core";
import { assertUiBuilt, chromiumSkip, openChromium } from "../harness/chromium.js";
import {
  binPath,
  type DaemonHandle,
  environmentWithoutProxies,
  getJson,
  runBinary,
  startAgent,
  startMaster,
  stopAll,
  tempDir,
  waitFor,
  waitForAgents,
} from "../harness/processes.js";

const skip = chromiumSkip;

interface StateDoc {
  frameworks?: { id: string; tasks?: { id: string; state: string }[] }[];
  completed_frameworks?: { id: string; completed_tasks?: { id: string }[] }[];
}

describe("web UI details next to Mesos' UI (Chromium, real cluster)", {
  skip,
  timeout: 240_000,
}, () => {
  let master: DaemonHandle;
  let agentId = "";
  let activeFrameworkId = "";
  let completedFrameworkId = "";
  const children: ChildProcess[] = [];
  let context: BrowserContext;
  let page: Page;

  before(async () => {
    assertUiBuilt();
    master = await startMaster({ flags: { log_dir: tempDir("webui-qa-log-") } });
    await startAgent({
      master: master.address,
      flags: { resources: "cpus:2;mem:1024;disk:1024" },
    });
    [agentId = ""] = await waitForAgents(master, 1);

    children.push(
      spawn(
        process.execPath,
        [
          binPath("mesos-execute"),
          `--master=${master.address}`,
          "--name=stays",
          "--command=sleep 600",
          "--resources=cpus:0.2;mem:32",
        ],
        { stdio: "ignore", env: environmentWithoutProxies() },
      ),
    );
    const done = await runBinary(
      "mesos-execute",
      [
        `--master=${master.address}`,
        "--name=done",
        "--command=true",
        "--resources=cpus:0.1;mem:32",
      ],
      { timeoutMs: 90_000 },
    );
    assert.equal(done.code, 0, done.stdout + done.stderr);
    await waitFor(
      "a running task and a completed framework",
      async () => {
        const s = await getJson<StateDoc>(`${master.url}/master/state`);
        const active = s?.frameworks?.find((f) =>
          f.tasks?.some((t) => t.id === "stays" && t.state === "TASK_RUNNING"),
        );
        const completed = s?.completed_frameworks?.find((f) =>
          f.completed_tasks?.some((t) => t.id === "done"),
        );
        if (active === undefined || completed === undefined) return undefined;
        activeFrameworkId = active.id;
        completedFrameworkId = completed.id;
        return true;
      },
      { timeoutMs: 90_000, intervalMs: 250 },
    );

    ({ context, page } = await openChromium("webui-qa-chromium-", {
      viewport: { width: 1400, height: 900 },
    }));
  });

  after(async () => {
    await context?.close();
    for (const c of children) c.kill("SIGKILL");
    await stopAll();
  });

  it("the dashboard offers the master's log for download as well as viewing", async () => {
    await page.goto(`${master.url}/#/`);
    const download = page.locator('[data-log=""] a', { hasText: "Download" });
    await download.waitFor({ timeout: 20_000 });
    const target = new URL((await download.getAttribute("href")) ?? "", master.url);
    assert.equal(target.pathname, "/files/download");
    assert.equal(target.searchParams.get("path"), "/master/log");
    const response = await fetch(target);
    assert.equal(response.status, 200);
    // The master logs the agent registering: the file is the master's log.
    assert.match(await response.text(), new RegExp(agentId));
  });

  it("a completed framework's page says it has terminated; an active one's does not", async () => {
    await page.goto(`${master.url}/#/frameworks/${completedFrameworkId}`);
    const notice = page.locator("[data-completed]");
    await notice.waitFor({ timeout: 20_000 });
    assert.match((await notice.textContent()) ?? "", /has terminated/);
    await page.goto(`${master.url}/#/frameworks/${activeFrameworkId}`);
    await page.locator('[data-table="Active tasks"] tbody tr', { hasText: "stays" }).waitFor();
    assert.equal(await page.locator("[data-completed]").count(), 0);
  });

  it("the agent page shows when the agent was built", async () => {
    await page.goto(`${master.url}/#/agents/${agentId}`);
    const built = page.locator('section[aria-label="Agent facts"] dt', { hasText: "Built" });
    await built.waitFor({ timeout: 20_000 });
    const value = built.locator("xpath=following-sibling::dd[1]");
    await waitFor("the agent's build time", async () =>
      /ago|just now/.test((await value.textContent()) ?? ""),
    );
  });

  it("a missing sandbox directory or file on a live agent reads as missing", async () => {
    const missingDir = "/no/such/sandbox";
    await page.goto(
      `${master.url}/#/agents/${agentId}/browse?path=${encodeURIComponent(missingDir)}`,
    );
    const failed = page.locator(".notice.failed", { hasText: `has no directory ${missingDir}` });
    await failed.waitFor({ timeout: 30_000 });
    assert.equal(await page.locator(".notice.unavailable").count(), 0);

    const missingFile = "/no/such/sandbox/stdout";
    await page.goto(
      `${master.url}/#/agents/${agentId}/view?path=${encodeURIComponent(missingFile)}`,
    );
    await page
      .locator(".notice.failed", { hasText: `has no file ${missingFile}` })
      .waitFor({ timeout: 30_000 });

    // A directory that is there still lists: the running task's sandbox.
    await page.goto(`${master.url}/#/`);
    await page
      .locator('[data-table="Active tasks"] tbody tr', { hasText: "stays" })
      .getByRole("link", { name: "Sandbox of task stays" })
      .click();
    await page.getByRole("link", { name: "stdout", exact: true }).waitFor({ timeout: 20_000 });
  });

  it("the frameworks table shows all its columns in a 1400 px window", async () => {
    await page.goto(`${master.url}/#/frameworks`);
    const table = page.locator('[data-table="Active frameworks"]');
    await table.locator("tbody tr a").first().waitFor({ timeout: 20_000 });
    const scroll = table.locator(".table-scroll");
    const [scrollWidth, clientWidth] = await scroll.evaluate((el) => [
      el.scrollWidth,
      el.clientWidth,
    ]);
    assert.ok(
      scrollWidth <= clientWidth,
      `the table is ${scrollWidth} px wide in ${clientWidth} px: its last columns are cut off`,
    );
  });
});
