/**
 * The web UI shows what Mesos' web UI shows for the same cluster, in
 * Chromium against a real master and agent: a health-checked task in role
 * `dev` (with a quota), a failing task, a task group (a default executor
 * with two tasks, each with its own sandbox) and a dynamic reservation for
 * role `ops`. Covers the task tables' Role / Health / Stopped columns, the
 * task-group sandbox link, the agent's framework and executor pages that
 * task ids open, the agent's task counters, reservations (allocated / total)
 * and frameworks, the framework's task counters, and roles without quota.
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

interface TaskDoc {
  id: string;
  state: string;
  statuses?: { healthy?: boolean }[];
}
interface StateDoc {
  frameworks?: { id: string; tasks?: TaskDoc[] }[];
  completed_frameworks?: { id: string; completed_tasks?: TaskDoc[] }[];
  slaves?: { id: string; reserved_resources?: Record<string, { cpus?: number }> }[];
}

const scalar = (name: string, value: number) => ({ name, type: "SCALAR", scalar: { value } });

describe("web UI against Mesos' pages (Chromium, real cluster)", { skip, timeout: 240_000 }, () => {
  let master: DaemonHandle;
  let agentId = "";
  let groupFrameworkId = "";
  let devFrameworkId = "";
  const children: ChildProcess[] = [];
  let context: BrowserContext;
  let page: Page;

  function execute(args: string[]): ChildProcess {
    const child = spawn(
      process.execPath,
      [binPath("mesos-execute"), `--master=${master.address}`, ...args],
      { stdio: "ignore", env: environmentWithoutProxies() },
    );
    children.push(child);
    return child;
  }

  const state = (): Promise<StateDoc | undefined> =>
    getJson<StateDoc>(`${master.url}/master/state`);

  before(async () => {
    assertUiBuilt();
    // The master writes a log (--log_dir), the agent does not: LOG shows for the one only.
    master = await startMaster({ flags: { log_dir: tempDir("webui-parity-log-") } });
    const agent = await startAgent({
      master: master.address,
      flags: { resources: "cpus:4;mem:2048;disk:2048;ports:[31000-32000]", attributes: "rack:r1" },
    });
    assert.ok(agent.port > 0);
    [agentId = ""] = await waitForAgents(master, 1);

    const reservation = { type: "DYNAMIC", role: "ops", principal: "ui" };
    const reserved = await fetch(`${master.url}/master/reserve`, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        slaveId: agentId,
        resources: JSON.stringify([
          { ...scalar("cpus", 1), reservations: [reservation] },
          { ...scalar("mem", 256), reservations: [reservation] },
        ]),
      }).toString(),
    });
    assert.equal(reserved.status, 202, await reserved.text());
    const quota = await fetch(`${master.url}/api/v1`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({
        type: "UPDATE_QUOTA",
        update_quota: {
          quota_configs: [
            {
              role: "dev",
              guarantees: { cpus: { value: 1 } },
              limits: { cpus: { value: 2 }, mem: { value: 1024 } },
            },
          ],
        },
      }),
    });
    assert.equal(quota.status, 200, await quota.text());

    execute([
      "--role=dev",
      `--task=${JSON.stringify({
        name: "healthy-one",
        task_id: { value: "healthy-one" },
        agent_id: { value: "" },
        resources: [scalar("cpus", 0.5), scalar("mem", 64)],
        command: { value: "sleep 600" },
        health_check: {
          type: "COMMAND",
          command: { value: "true" },
          delay_seconds: 0,
          interval_seconds: 1,
          grace_period_seconds: 0,
        },
      })}`,
    ]);
    const group = (id: string, command: string) => ({
      name: id,
      task_id: { value: id },
      agent_id: { value: "" },
      resources: [scalar("cpus", 0.2), scalar("mem", 32)],
      command: { value: command },
    });
    execute([
      `--task_group=${JSON.stringify({
        tasks: [group("grp-a", "echo grp-a-output; sleep 600"), group("grp-b", "sleep 600")],
      })}`,
    ]);
    const failing = await runBinary(
      "mesos-execute",
      [`--master=${master.address}`, "--name=failing", "--command=exit 3"],
      { timeoutMs: 90_000 },
    );
    assert.notEqual(failing.code, null, failing.stdout + failing.stderr);

    await waitFor(
      "the health-checked task healthy, both group tasks running, the failed task recorded",
      async () => {
        const s = await state();
        const tasks = (s?.frameworks ?? []).flatMap((f) => f.tasks ?? []);
        const running = (id: string) =>
          tasks.find((t) => t.id === id && t.state === "TASK_RUNNING");
        const healthy = running("healthy-one")?.statuses?.at(-1)?.healthy === true;
        const failed = [...(s?.frameworks ?? []), ...(s?.completed_frameworks ?? [])].some((f) =>
          ((f as { completed_tasks?: TaskDoc[] }).completed_tasks ?? []).some(
            (t) => t.id === "failing" && t.state === "TASK_FAILED",
          ),
        );
        if (!healthy || !running("grp-a") || !running("grp-b") || !failed) return undefined;
        groupFrameworkId =
          s?.frameworks?.find((f) => f.tasks?.some((t) => t.id === "grp-a"))?.id ?? "";
        devFrameworkId =
          s?.frameworks?.find((f) => f.tasks?.some((t) => t.id === "healthy-one"))?.id ?? "";
        return true;
      },
      { timeoutMs: 90_000, intervalMs: 250 },
    );

    ({ context, page } = await openChromium("webui-parity-chromium-", {
      viewport: { width: 1400, height: 900 },
    }));
  });

  after(async () => {
    await context?.close();
    for (const c of children) c.kill("SIGKILL");
    await stopAll();
  });

  const table = (label: string) => page.locator(`[data-table="${label}"]`);
  const row = (label: string, text: string) => table(label).locator("tbody tr", { hasText: text });
  const headers = async (label: string): Promise<string[]> =>
    (await table(label).locator("thead th").allTextContents()).map((h) =>
      h.replace(/[▲▼]/g, "").trim(),
    );

  it("dashboard: tasks show Role and Health, completed tasks Stopped; resources say Allocated", async () => {
    await page.goto(`${master.url}/#/`);
    const healthy = row("Active tasks", "healthy-one");
    await healthy.waitFor({ timeout: 20_000 });
    const active = await headers("Active tasks");
    for (const h of ["Role", "State", "Health", "Started", "Host", "Sandbox"]) {
      assert.ok(active.includes(h), `Active tasks has ${h}: ${active.join(", ")}`);
    }
    const cell = async (r: typeof healthy, column: string): Promise<string | undefined> =>
      (await r.locator("td").allTextContents())[active.indexOf(column)];
    await waitFor(
      "healthy-one to read as healthy in role dev",
      async () => (await cell(healthy, "Health")) === "healthy",
    );
    assert.equal(await cell(healthy, "Role"), "dev");
    // Without a health check there is no verdict, shown as "-" (Mesos' wording).
    assert.equal(await cell(row("Active tasks", "grp-a"), "Health"), "-");
    const completed = await headers("Completed tasks");
    assert.ok(
      completed.includes("Stopped"),
      `Completed tasks has Stopped: ${completed.join(", ")}`,
    );
    const failed = row("Completed tasks", "failing");
    await failed.waitFor();
    const stopped = (await failed.locator("td").allTextContents())[completed.indexOf("Stopped")];
    assert.match(stopped ?? "", /just now|ago/);
    assert.deepEqual(await headers("Unreachable tasks").then((h) => h.includes("Agent ID")), true);
    await page.locator("[data-resources] tbody tr", { hasText: "Allocated" }).waitFor();
  });

  it("a task group task's Sandbox opens its own sandbox (tasks/<id>) and its stdout", async () => {
    await page.goto(`${master.url}/#/`);
    await row("Active tasks", "grp-a").getByRole("link", { name: "Sandbox of task grp-a" }).click();
    await page.waitForURL(/#\/agents\/[^/]+\/browse\?path=/, { timeout: 20_000 });
    const dir = new URL(page.url().replace("#/", "")).searchParams.get("path") ?? "";
    assert.match(dir, /\/executors\/[^/]+\/runs\/[^/]+\/tasks\/grp-a$/);
    await page.getByRole("link", { name: "stdout", exact: true }).click();
    await waitFor("grp-a's stdout", async () =>
      ((await page.locator("pre[data-file]").textContent()) ?? "").includes("grp-a-output"),
    );
  });

  it("a task id opens its executor on the agent; the agent's framework page lists it", async () => {
    await page.goto(`${master.url}/#/frameworks/${groupFrameworkId}`);
    await row("Active tasks", "grp-b")
      .getByRole("link", { name: "grp-b", exact: false })
      .first()
      .click();
    await page.waitForURL(/#\/agents\/[^/]+\/frameworks\/[^/]+\/executors\/[^/]+$/);
    await row("Tasks", "grp-a").waitFor({ timeout: 20_000 });
    await row("Tasks", "grp-b").waitFor();
    assert.equal(await page.locator("[data-active-tasks]").textContent(), "2");
    const href = await row("Tasks", "grp-b")
      .getByRole("link", { name: "Sandbox of task grp-b" })
      .getAttribute("href");
    assert.match(decodeURIComponent(href ?? ""), /\/tasks\/grp-b$/);

    await page.locator("nav.crumbs a", { hasText: "Framework" }).click();
    await page.waitForURL(/#\/agents\/[^/]+\/frameworks\/[^/]+$/);
    const executor = table("Executors").locator("tbody tr").first();
    await executor.waitFor({ timeout: 20_000 });
    assert.match((await executor.textContent()) ?? "", /default-executor/);
    assert.ok((await executor.getByRole("link", { name: /Sandbox of executor/ }).count()) === 1);
  });

  it("agent page: task counters, reservations (allocated / total), frameworks on the agent", async () => {
    await page.goto(`${master.url}/#/agents/${agentId}`);
    const counts = page.locator('[data-counts="Agent tasks"]');
    await waitFor(
      "the agent's Running counter at 3",
      async () => (await counts.locator('[data-count="Running"] dd').textContent()) === "3",
    );
    assert.equal(await counts.locator('[data-count="Failed"] dd').textContent(), "1");
    const ops = row("Resource reservations", "ops");
    await waitFor("ops: 0 of 1 CPU allocated", async () =>
      ((await ops.textContent()) ?? "").includes("0 / 1"),
    );
    await row("Resource reservations", "Unreserved").waitFor();
    await row("Frameworks on this agent", "dev").waitFor({ timeout: 20_000 });
    const resources = page.locator('table[aria-label="Agent resources"] tbody th');
    const names = await resources.allTextContents();
    for (const n of ["Allocated", "Available", "Total"]) assert.ok(names.includes(n), names.join());
  });

  it("framework page: task counters", async () => {
    await page.goto(`${master.url}/#/frameworks/${devFrameworkId}`);
    const counts = page.locator('[data-counts="Framework tasks"]');
    await waitFor(
      "the framework's Running counter at 1",
      async () => (await counts.locator('[data-count="Running"] dd').textContent()) === "1",
    );
  });

  it("roles: a role without quota shows –, a quota its guarantee and limit", async () => {
    await page.goto(`${master.url}/#/roles`);
    const dev = row("Roles", "dev");
    await waitFor("dev's quota", async () => {
      const text = (await dev.textContent()) ?? "";
      return text.includes("2 CPUs · 1 GB mem") ? text : undefined;
    });
    const ops = row("Roles", "ops");
    await ops.waitFor();
    const cells = await ops.locator("td").allTextContents();
    const cols = await headers("Roles");
    assert.equal(cells[cols.indexOf("Quota limit")], "–", cells.join(" | "));
    assert.equal(cells[cols.indexOf("Reserved")], "1 CPUs · 256 MB mem", cells.join(" | "));
  });

  it("LOG: the master's log opens from the dashboard; an agent without --log_dir offers none", async () => {
    await page.goto(`${master.url}/#/`);
    await page.locator('[data-log=""] a', { hasText: "LOG" }).click();
    await page.waitForURL(/#\/log$/);
    await waitFor("the master's log lines", async () =>
      ((await page.locator("pre[data-file]").textContent()) ?? "").includes("Elected"),
    );
    await page.goto(`${master.url}/#/agents/${agentId}`);
    await page.locator('[data-log="none"]').waitFor({ timeout: 20_000 });
    assert.equal(await page.locator('[data-log=""]').count(), 0);
  });

  // Last: draining kills the agent's tasks.
  it("a drained agent reads Draining or Drained, with its drain settings", async () => {
    const drained = await fetch(`${master.url}/api/v1`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({
        type: "DRAIN_AGENT",
        drain_agent: {
          agent_id: { value: agentId },
          max_grace_period: { nanoseconds: 3_600_000_000_000 },
        },
      }),
    });
    assert.equal(drained.status, 200, await drained.text());
    await page.goto(`${master.url}/#/agents`);
    await waitFor(
      "the agent to read Draining or Drained",
      async () => /Draining|Drained/.test((await row("Agents", "").first().textContent()) ?? ""),
      { timeoutMs: 30_000 },
    );
    await page.goto(`${master.url}/#/agents/${agentId}`);
    const draining = page.locator("[data-draining]");
    await draining.waitFor({ timeout: 20_000 });
    assert.match((await draining.textContent()) ?? "", /Mark gone\s*no/);
  });

  it("tasks of an agent marked gone read 'Agent offline' instead of host and Sandbox links", async () => {
    const gone = await fetch(`${master.url}/api/v1`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({
        type: "MARK_AGENT_GONE",
        mark_agent_gone: { agent_id: { value: agentId } },
      }),
    });
    assert.equal(gone.status, 200, await gone.text());
    await waitFor("the agent to leave /master/state", async () => {
      const s = await state();
      return s !== undefined && !(s.slaves ?? []).some((a) => a.id === agentId);
    });
    await page.goto(`${master.url}/#/`);
    const failed = row("Completed tasks", "failing");
    await failed.filter({ hasText: "Agent offline" }).waitFor({ timeout: 20_000 });
    assert.equal(await failed.getByRole("link", { name: /Sandbox of task/ }).count(), 0);
  });
});
