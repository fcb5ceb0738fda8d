/**
 * The web UI's sandbox browser and file viewer in Chromium, against a stub
 * that answers like a Mesos master and agent (`/master/state`, the agent's
 * `/slave(1)/state` and `/files/browse|read|download` with JSONP, as the
 * Mesos docs describe them). It checks the click path task -> Sandbox ->
 * stdout, paging back, following a growing file, and the download link,
 * independently of when the real agent serves `/files`.
 */
import assert from "node:assert/strict";
import {
  appendFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { createServer, type Server } from "node:http";
import { extname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { BrowserContext, Page } from "playwright-core";
import { chromiumSkip, openChromium } from "../harness/chromium.js";
import { repoRoot, tempDir, waitFor } from "../harness/processes.js";

const DIST = join(repoRoot, "webui", "dist");
const skip = chromiumSkip;

const AGENT_ID = "11111111-2222-3333-4444-555555555555-S0";
const FRAMEWORK_ID = "11111111-2222-3333-4444-555555555555-0000";

function stateDoc(port: number) {
  const now = Date.now() / 1000;
  return {
    version: "1.12.0",
    id: "11111111-2222-3333-4444-555555555555",
    pid: `master@127.0.0.1:${port}`,
    leader: `master@127.0.0.1:${port}`,
    hostname: "127.0.0.1",
    start_time: now,
    activated_slaves: 1,
    slaves: [
      {
        id: AGENT_ID,
        pid: `slave(1)@127.0.0.1:${port}`,
        hostname: "stub-agent",
        port,
        resources: { cpus: 1, mem: 128, disk: 0, gpus: 0 },
        active: true,
      },
    ],
    frameworks: [
      {
        id: FRAMEWORK_ID,
        name: "stub-framework",
        active: true,
        roles: ["*"],
        tasks: [
          {
            id: "sandbox-task",
            name: "sandbox-task",
            framework_id: FRAMEWORK_ID,
            executor_id: "",
            slave_id: AGENT_ID,
            state: "TASK_RUNNING",
            resources: { cpus: 1, mem: 32 },
            statuses: [{ state: "TASK_RUNNING", timestamp: now }],
          },
        ],
      },
    ],
    completed_frameworks: [],
  };
}

const TYPES: Record<string, string> = {
  ".html": "text/html",
  ".js": "text/javascript",
  ".css": "text/css",
};

/** A Mesos-shaped master + agent on one port; the sandbox is a real directory. */
function stub(sandbox: string): Promise<{ server: Server; port: number }> {
  let port = 0;
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    const jsonp = url.searchParams.get("jsonp");
    const reply = (value: unknown): void => {
      const json = JSON.stringify(value);
      res.writeHead(200, { "Content-Type": jsonp ? "text/javascript" : "application/json" });
      res.end(jsonp ? `${jsonp}(${json})` : json);
    };
    const path = url.pathname;
    const file = url.searchParams.get("path") ?? "";
    const inside = file === sandbox || file.startsWith(`${sandbox}/`);
    if (path === "/master/state") return reply(stateDoc(port));
    if (path === "/master/state-summary") {
      // The UI's quick first view: agents and frameworks with task counts.
      const state = stateDoc(port);
      return reply({
        hostname: state.hostname,
        slaves: state.slaves,
        frameworks: state.frameworks.map((f) => ({
          id: f.id,
          name: f.name,
          active: f.active,
          TASK_RUNNING: f.tasks.length,
        })),
      });
    }
    if (path === "/version") return reply({ version: "1.12.0" });
    if (path === "/slave(1)/state") {
      return reply({
        frameworks: [
          {
            id: FRAMEWORK_ID,
            executors: [
              { id: "sandbox-task", directory: sandbox, tasks: [{ id: "sandbox-task" }] },
            ],
          },
        ],
      });
    }
    if (path === "/files/browse" && inside) {
      const names = ["stdout", "stderr"];
      return reply(
        names.map((n) => {
          const s = statSync(join(sandbox, n));
          return {
            path: join(sandbox, n),
            nlink: 1,
            size: s.size,
            mtime: s.mtimeMs / 1000,
            mode: "-rw-r--r--",
            uid: "root",
            gid: "root",
          };
        }),
      );
    }
    if (path === "/files/read" && inside) {
      const bytes = readFileSync(file);
      const offset = Number(url.searchParams.get("offset") ?? "0");
      if (offset === -1) return reply({ offset: bytes.length, data: "" });
      const length = Number(url.searchParams.get("length") ?? String(bytes.length));
      const data = bytes.subarray(offset, Math.min(bytes.length, offset + length)).toString("utf8");
      return reply({ offset, data });
    }
    if (path === "/files/download" && inside) {
      res.writeHead(200, { "Content-Type": "application/octet-stream" });
      res.end(readFileSync(file));
      return;
    }
    const asset = path === "/" ? join(DIST, "index.html") : join(DIST, path);
    if (asset.startsWith(DIST) && existsSync(asset) && statSync(asset).isFile()) {
      res.writeHead(200, { "Content-Type": TYPES[extname(asset)] ?? "application/octet-stream" });
      res.end(readFileSync(asset));
      return;
    }
    res.writeHead(404);
    res.end();
  });
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => {
      const a = server.address();
      port = typeof a === "object" && a !== null ? a.port : 0;
      resolve({ server, port });
    });
  });
}

describe("web UI sandbox browser (stub master and agent)", { skip, timeout: 120_000 }, () => {
  let server: Server;
  let port = 0;
  let context: BrowserContext;
  let page: Page;
  let sandbox = "";
  const errors: string[] = [];
  const shots = process.env.WEBUI_SCREENSHOTS;
  async function shot(name: string): Promise<void> {
    if (shots === undefined) return;
    mkdirSync(shots, { recursive: true });
    await page.waitForTimeout(300);
    await page.screenshot({ path: join(shots, `webui-${name}.png`) });
  }

  before(async () => {
    assert.ok(existsSync(join(DIST, "index.html")), "the web UI is not built: npm run build:webui");
    sandbox = join(tempDir("webui-sandbox-"), "runs", "latest");
    mkdirSync(sandbox, { recursive: true });
    // 200 KB of numbered lines, so the viewer has earlier pages to load.
    const lines: string[] = [];
    for (let i = 0; i < 8000; i++)
      lines.push(`line ${String(i).padStart(5, "0")} of the task's output`);
    writeFileSync(join(sandbox, "stdout"), `sandbox-first-line\n${lines.join("\n")}\n`);
    writeFileSync(join(sandbox, "stderr"), "");
    ({ server, port } = await stub(sandbox));
    ({ context, page } = await openChromium("webui-chromium-", {
      quiet: true,
      viewport: { width: 1360, height: 860 },
      acceptDownloads: true,
    }));
    page.on("console", (m) => {
      if (m.type() === "error") errors.push(`${m.text()} ${m.location().url}`);
    });
    page.on("pageerror", (e) => errors.push(e.message));
  });

  after(async () => {
    await context?.close();
    server?.close();
  });

  it("webui: task -> Sandbox lists the sandbox, stdout opens at its end and pages back", async () => {
    await page.goto(`http://127.0.0.1:${port}/#/frameworks/${FRAMEWORK_ID}`);
    await page.getByRole("link", { name: "Sandbox of task sandbox-task" }).click();
    await page.waitForURL(/#\/agents\/[^/]+\/browse\?path=/);
    await page.getByRole("link", { name: "stdout", exact: true }).waitFor();
    await shot("sandbox");
    await page.getByRole("link", { name: "stdout", exact: true }).click();
    const file = page.locator("pre[data-file]");
    await waitFor("the end of stdout", async () =>
      ((await file.textContent()) ?? "").includes("line 07999 of the task's output"),
    );
    assert.ok(
      !((await file.textContent()) ?? "").includes("sandbox-first-line"),
      "starts at the end",
    );
    for (let i = 0; i < 5; i++) {
      const button = page.getByRole("button", { name: "Load earlier" });
      if (await button.isDisabled()) break;
      await button.click();
      await page.waitForTimeout(200);
    }
    await waitFor("the start of stdout after paging back", async () =>
      ((await file.textContent()) ?? "").startsWith("sandbox-first-line"),
    );
  });

  it("webui: following stdout shows lines appended to it", async () => {
    const follow = page.getByRole("checkbox", { name: "Follow" });
    await follow.check();
    appendFileSync(join(sandbox, "stdout"), "appended-while-following\n");
    const file = page.locator("pre[data-file]");
    await waitFor("the appended line", async () =>
      ((await file.textContent()) ?? "").includes("appended-while-following"),
    );
    await shot("sandbox-stdout");
  });

  it("webui: the download link fetches the whole file", async () => {
    const [download] = await Promise.all([
      page.waitForEvent("download"),
      page.getByRole("link", { name: "Download" }).click(),
    ]);
    const saved = await download.path();
    assert.equal(readFileSync(saved, "utf8"), readFileSync(join(sandbox, "stdout"), "utf8"));
  });

  it("webui: no console errors on the sandbox pages", () => {
    assert.deepEqual(
      errors.filter((e) => !e.includes("/api/v1")),
      [],
    );
  });
});
