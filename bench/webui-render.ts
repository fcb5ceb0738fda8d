/**
 * Web UI dashboard with a large cluster, measured in Chromium: a stub serves
 * the built UI and a synthetic `/master/state` (default 1,000 agents and
 * 10,000 running tasks), and the page reports its own timings
 * (`window.__mesosUi.timings`: fetch, JSON.parse, model, render to paint).
 *
 *   npm run bench -- webui-render [--agents=1000] [--tasks=10000] [--updates=5]
 *
 * Cases: time to first render (navigation start to the dashboard painted
 * with data: the UI paints from the small `/master/state-summary` first),
 * time to the full state on screen (`/master/state` with every task), time to update (a changed state read and painted, median of
 * `--updates`), sorting and filtering the 10,000-row task table, and the
 * number of task rows in the DOM (virtualised tables keep it small).
 */
import { existsSync, readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { extname, join, normalize } from "node:path";
import type { BrowserContext } from "playwright-core";
import { repoRoot, reportCase } from "./lib/report.js";

const CHROMIUM = "/usr/bin/chromium";

interface Options {
  agents: number;
  tasks: number;
  updates: number;
}

function parseArgs(args: string[]): Options {
  const out: Options = { agents: 1000, tasks: 10_000, updates: 5 };
  for (const a of args) {
    const m = /^--(agents|tasks|updates)=(\d+)$/.exec(a);
    if (m === null) throw new Error(`unknown argument '${a}' (--agents=N --tasks=N --updates=N)`);
    out[m[1] as keyof Options] = Number(m[2]);
  }
  return out;
}

const uuid = (n: number): string => {
  const hex = n.toString(16).padStart(12, "0");
  return `5f0c2a1e-7b3d-4e8a-9c6f-${hex}`;
};

/** A `/master/state` document of the given size, in Mesos' key layout. */
export function syntheticState(agents: number, tasks: number, round: number): unknown {
  const now = Date.now() / 1000;
  const masterId = uuid(0);
  const slaves = [];
  for (let i = 0; i < agents; i++) {
    slaves.push({
      id: `${masterId}-S${i}`,
      pid: `slave(1)@10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}:5051`,
      hostname: `agent-${String(i).padStart(4, "0")}.example.com`,
      port: 5051,
      registered_time: now - 86_400 + i,
      resources: { cpus: 32, gpus: 0, mem: 128_000, disk: 900_000, ports: "[31000-32000]" },
      used_resources: { cpus: 10, gpus: 0, mem: 40_000, disk: 10_000 },
      offered_resources: { cpus: 0, gpus: 0, mem: 0, disk: 0 },
      reserved_resources: {},
      unreserved_resources: { cpus: 32, gpus: 0, mem: 128_000, disk: 900_000 },
      attributes: { rack: `r${i % 40}`, zone: `z${i % 3}` },
      active: true,
      deactivated: false,
      version: "1.12.0",
      capabilities: ["MULTI_ROLE", "HIERARCHICAL_ROLE", "RESERVATION_REFINEMENT"],
    });
  }
  const frameworkCount = Math.max(1, Math.min(50, Math.ceil(tasks / 200)));
  const frameworks = [];
  for (let f = 0; f < frameworkCount; f++) {
    const id = `${masterId}-${String(f).padStart(4, "0")}`;
    const list = [];
    for (let t = f; t < tasks; t += frameworkCount) {
      // Each update round moves a slice of the tasks to another state.
      const state = (t + round) % 23 === 0 ? "TASK_STAGING" : "TASK_RUNNING";
      list.push({
        id: `task-${t}`,
        name: `service-${f}.instance-${t}`,
        framework_id: id,
        executor_id: "",
        slave_id: `${masterId}-S${t % agents}`,
        state,
        resources: { cpus: 1, gpus: 0, mem: 4000, disk: 1000 },
        role: `role-${f % 5}`,
        statuses: [
          { state: "TASK_STARTING", timestamp: now - 3600 + t / 10 },
          { state, timestamp: now - 3500 + t / 10 },
        ],
      });
    }
    frameworks.push({
      id,
      name: `framework-${f}`,
      user: "svc",
      hostname: `scheduler-${f}.example.com`,
      webui_url: "",
      active: true,
      connected: true,
      recovered: false,
      roles: [`role-${f % 5}`],
      principal: `p${f}`,
      capabilities: ["MULTI_ROLE"],
      registered_time: now - 7200,
      failover_timeout: 604_800,
      checkpoint: true,
      used_resources: {
        cpus: list.length,
        gpus: 0,
        mem: list.length * 4000,
        disk: list.length * 1000,
      },
      offered_resources: { cpus: 0, gpus: 0, mem: 0, disk: 0 },
      resources: { cpus: list.length, gpus: 0, mem: list.length * 4000, disk: list.length * 1000 },
      tasks: list,
      completed_tasks: [],
      unreachable_tasks: [],
      offers: [],
      executors: [],
    });
  }
  return {
    version: "1.12.0",
    build_date: "2024-01-01 00:00:00",
    build_time: now - 1e6,
    build_user: "bench",
    start_time: now - 86_400,
    elected_time: now - 86_400,
    id: masterId,
    pid: "master@10.0.0.1:5050",
    hostname: "master.example.com",
    leader: "master@10.0.0.1:5050",
    leader_info: {
      id: masterId,
      pid: "master@10.0.0.1:5050",
      port: 5050,
      hostname: "master.example.com",
    },
    cluster: "bench",
    activated_slaves: agents,
    deactivated_slaves: 0,
    unreachable_slaves: 0,
    flags: {},
    slaves,
    recovered_slaves: [],
    frameworks,
    completed_frameworks: [],
    orphan_tasks: [],
    unregistered_frameworks: [],
  };
}

const SUMMARY_STATES = [
  "TASK_STAGING",
  "TASK_STARTING",
  "TASK_RUNNING",
  "TASK_KILLING",
  "TASK_FINISHED",
  "TASK_KILLED",
  "TASK_FAILED",
  "TASK_LOST",
  "TASK_ERROR",
  "TASK_UNREACHABLE",
];

type Obj = Record<string, unknown>;

/** `/master/state-summary` of a state document (Mesos' shape: per-state task counts). */
export function summaryOf(state: unknown): unknown {
  const s = state as Obj;
  const counts = (tasks: Obj[]): Obj => {
    const out: Obj = {};
    for (const st of SUMMARY_STATES) out[st] = 0;
    for (const t of tasks) out[String(t.state)] = ((out[String(t.state)] as number) ?? 0) + 1;
    return out;
  };
  const byAgent = new Map<string, Obj[]>();
  const fwOnAgent = new Map<string, Set<string>>();
  const frameworks = (s.frameworks as Obj[]).map((f) => {
    const tasks = [
      ...(f.tasks as Obj[]),
      ...(f.unreachable_tasks as Obj[]),
      ...(f.completed_tasks as Obj[]),
    ];
    const agents = new Set<string>();
    for (const t of tasks) {
      const a = String(t.slave_id);
      agents.add(a);
      byAgent.set(a, [...(byAgent.get(a) ?? []), t]);
      fwOnAgent.set(a, (fwOnAgent.get(a) ?? new Set()).add(String(f.id)));
    }
    return {
      id: f.id,
      name: f.name,
      used_resources: f.used_resources,
      offered_resources: f.offered_resources,
      capabilities: f.capabilities,
      hostname: f.hostname,
      webui_url: f.webui_url,
      active: f.active,
      connected: f.connected,
      recovered: f.recovered,
      ...counts(tasks),
      slave_ids: [...agents],
    };
  });
  return {
    hostname: s.hostname,
    cluster: s.cluster,
    slaves: (s.slaves as Obj[]).map((a) => ({
      ...a,
      ...counts(byAgent.get(String(a.id)) ?? []),
      framework_ids: [...(fwOnAgent.get(String(a.id)) ?? [])],
    })),
    frameworks,
  };
}

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
};

/**
 * The stub master: the built UI, `/master/state` and `/master/state-summary`
 * from `current()`, `/version`, 404 for the rest.
 */
function stubMaster(
  dist: string,
  current: () => { state: string; summary: string },
): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    const json: Record<string, () => string> = {
      "/master/state": () => current().state,
      "/master/state-summary": () => current().summary,
      "/version": () =>
        '{"version":"1.12.0","build_date":"2024-01-01 00:00:00","build_user":"bench"}',
    };
    const body = json[path];
    if (body !== undefined) {
      const bytes = Buffer.from(body(), "utf8");
      res.writeHead(200, { "Content-Type": "application/json", "Content-Length": bytes.length });
      res.end(bytes);
      return;
    }
    const file = path === "/" ? "index.html" : normalize(path).replace(/^\/+/, "");
    const full = join(dist, file);
    if (file.startsWith("..") || !existsSync(full) || !full.startsWith(dist)) {
      res.writeHead(404);
      res.end();
      return;
    }
    res.writeHead(200, { "Content-Type": TYPES[extname(full)] ?? "application/octet-stream" });
    res.end(readFileSync(full));
  });
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => {
      const a = server.address();
      resolve({ server, port: typeof a === "object" && a !== null ? a.port : 0 });
    });
  });
}

interface Timing {
  kind: string;
  fetchMs: number;
  parseMs: number;
  modelMs: number;
  renderMs: number;
  totalMs: number;
  bytes: number;
  doneAt: number;
}

const round1 = (n: number): number => Math.round(n * 10) / 10;
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
};

export async function run(args: string[]): Promise<void> {
  const options = parseArgs(args);
  if (!existsSync(CHROMIUM)) {
    console.error(`webui-render: skipped, Chromium is not installed at ${CHROMIUM}`);
    return;
  }
  const dist = join(repoRoot(), "webui", "dist");
  if (!existsSync(join(dist, "index.html"))) {
    throw new Error("the web UI is not built: run npm run build:webui");
  }
  const { chromium } = await import("playwright-core");
  const documents = (round: number) => {
    const state = syntheticState(options.agents, options.tasks, round);
    return { state: JSON.stringify(state), summary: JSON.stringify(summaryOf(state)) };
  };
  let body = documents(0);
  const { server, port } = await stubMaster(dist, () => body);
  try {
    const context = await chromium.launchPersistentContext(
      join(tmpdir(), `webui-bench-${process.pid}`),
      {
        executablePath: CHROMIUM,
        args: [
          "--headless",
          "--no-sandbox",
          "--disable-gpu",
          "--disable-background-networking",
          "--disable-component-update",
          "--disable-sync",
          "--no-first-run",
        ],
        viewport: { width: 1360, height: 860 },
      },
    );
    try {
      await measure(context, port, options, (round) => {
        body = documents(round);
      });
    } finally {
      await context.close();
    }
  } finally {
    server.close();
  }
}

async function measure(
  context: BrowserContext,
  port: number,
  options: Options,
  setRound: (round: number) => void,
): Promise<void> {
  const page = context.pages()[0] ?? (await context.newPage());
  await page.goto(`http://127.0.0.1:${port}/`);
  await page.waitForFunction(
    "(window.__mesosUi && window.__mesosUi.timings.length >= 1) || null",
    undefined,
    { timeout: 60_000 },
  );
  const first = (await page.evaluate("window.__mesosUi.timings[0]")) as Timing;
  // The full state (every task) on screen: the "full" timing, or the first when it came first.
  await page.waitForFunction(
    "window.__mesosUi.timings.some((t) => t.kind === 'full') || window.__mesosUi.timings[0].bytes > 0 && !window.__mesosUi.store.cluster.partial || null",
    undefined,
    { timeout: 60_000 },
  );
  const full = (await page.evaluate(
    "window.__mesosUi.timings.find((t) => t.kind === 'full') ?? window.__mesosUi.timings[0]",
  )) as Timing;
  const rows = (await page.evaluate(
    `document.querySelectorAll('[data-table="Active tasks"] tbody tr:not(.spacer)').length`,
  )) as number;
  const updates: Timing[] = [];
  for (let i = 0; i < options.updates; i++) {
    setRound(i + 1);
    await page.evaluate("window.__mesosUi.refresh()");
    updates.push((await page.evaluate("window.__mesosUi.timings.at(-1)")) as Timing);
  }
  // Sorting and filtering the big table, measured to the next painted frame.
  const interact = async (script: string): Promise<number> =>
    (await page.evaluate(`(async () => {
      const t0 = performance.now();
      ${script}
      await new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));
      return performance.now() - t0;
    })()`)) as number;
  const sortMs = await interact(
    `[...document.querySelectorAll('[data-table="Active tasks"] th button')].find((b) => b.textContent.startsWith("Name")).click();`,
  );
  const filterMs = await interact(
    `const input = document.querySelector('[data-table="Active tasks"] input[data-filter]');
     input.value = "instance-77"; input.dispatchEvent(new Event("input", { bubbles: true }));`,
  );
  reportCase("webui-render", `${options.agents} agents, ${options.tasks} tasks: dashboard`, {
    first_mb: round1(first.bytes / 2 ** 20),
    first_render_ms: Math.round(first.doneAt),
    first_fetch_ms: Math.round(first.fetchMs),
    first_parse_ms: Math.round(first.parseMs),
    first_model_ms: Math.round(first.modelMs),
    first_paint_ms: Math.round(first.renderMs),
    state_mb: round1(full.bytes / 2 ** 20),
    full_render_ms: Math.round(full.doneAt),
    full_fetch_ms: Math.round(full.fetchMs),
    full_parse_ms: Math.round(full.parseMs),
    full_model_ms: Math.round(full.modelMs),
    full_paint_ms: Math.round(full.renderMs),
    update_ms_median: Math.round(median(updates.map((u) => u.totalMs))),
    update_parse_ms: Math.round(median(updates.map((u) => u.parseMs))),
    update_model_ms: Math.round(median(updates.map((u) => u.modelMs))),
    update_paint_ms: Math.round(median(updates.map((u) => u.renderMs))),
    sort_ms: Math.round(sortMs),
    filter_ms: Math.round(filterMs),
    task_rows_in_dom: rows,
  });
}
