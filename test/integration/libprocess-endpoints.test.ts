/**
 * The endpoints of the processes libprocess runs beside every daemon, on a
 * real master and agent: `/system/stats.json`, `/__processes__`,
 * `/profiler/*`, `/memory-profiler/*` (agent started with
 * `--memory_profiling`), `/version`, the master's `/registrar(1)/registry`, and how
 * `/help` lists them. Expected shapes are written from Mesos' sources
 * (libprocess system.hpp, process.cpp, help.cpp, profiler.cpp; registrar.cpp).
 */
import assert from "node:assert/strict";
import { cpus, totalmem } from "node:os";
import { after, before, describe, test } from "node:test";
import { processesJson } from "../../src/common/http/processes-route.js";
import { memFreeBytes } from "../../src/common/http/system-process.js";
import { startOneAgentCluster } from "../harness/cluster.js";
import { type DaemonHandle, getJson, stopAll } from "../harness/processes.js";

type Json = Record<string, unknown>;

let master: DaemonHandle;
let agent: DaemonHandle;
let agentId = "";

before(async () => {
  ({ master, agent, agentId } = await startOneAgentCluster({
    registration_backoff_factor: "100ms",
    memory_profiling: true,
  }));
});

after(stopAll);

async function get(
  daemon: DaemonHandle,
  path: string,
  init: RequestInit = {},
): Promise<{ status: number; type: string; text: string }> {
  const res = await fetch(`${daemon.url}${path}`, init);
  return {
    status: res.status,
    type: res.headers.get("content-type") ?? "",
    text: await res.text(),
  };
}

const STATS_KEYS = [
  "avg_load_15min",
  "avg_load_1min",
  "avg_load_5min",
  "cpus_total",
  "mem_free_bytes",
  "mem_total_bytes",
];

function checkStats(stats: Json): void {
  assert.deepEqual(Object.keys(stats).sort(), STATS_KEYS);
  // Mesos counts online CPUs (sysconf), which os.cpus() lists.
  assert.equal(stats.cpus_total, cpus().length);
  assert.equal(stats.mem_total_bytes, totalmem());
  const free = stats.mem_free_bytes;
  assert.ok(typeof free === "number" && Number.isInteger(free) && free > 0 && free <= totalmem());
  for (const k of ["avg_load_1min", "avg_load_5min", "avg_load_15min"]) {
    const v = stats[k];
    assert.ok(typeof v === "number" && v >= 0, `${k}: ${String(v)}`);
  }
}

describe("system", () => {
  test("system: /system/stats.json answers Mesos' keys with this machine's facts on both daemons", async () => {
    for (const daemon of [master, agent]) {
      const res = await get(daemon, "/system/stats.json");
      assert.equal(res.status, 200);
      assert.match(res.type, /^application\/json/);
      checkStats(JSON.parse(res.text) as Json);
    }
  });

  test("system: ?jsonp=fn wraps the document; any method is served, as the route takes all", async () => {
    const res = await get(master, "/system/stats.json?jsonp=show");
    assert.equal(res.status, 200);
    assert.match(res.type, /^text\/javascript/);
    const m = /^show\((.*)\)$/s.exec(res.text);
    assert.ok(m?.[1] !== undefined, res.text);
    checkStats(JSON.parse(m[1]) as Json);
    const post = await get(agent, "/system/stats.json", { method: "POST" });
    assert.equal(post.status, 200);
    checkStats(JSON.parse(post.text) as Json);
    assert.equal((await get(master, "/system/nothing")).status, 404);
  });

  test("system: the system/* gauges come from the same facts", async () => {
    const snap = await getJson<Record<string, number>>(`${master.url}/metrics/snapshot`);
    assert.ok(snap !== undefined);
    assert.equal(snap["system/cpus_total"], cpus().length);
    assert.equal(snap["system/mem_total_bytes"], totalmem());
    for (const k of ["load_1min", "load_5min", "load_15min", "mem_free_bytes"]) {
      assert.equal(typeof snap[`system/${k}`], "number", k);
    }
  });

  test("system: free memory is MemFree of /proc/meminfo (free RAM), not MemAvailable", () => {
    const meminfo = "MemTotal:  1000 kB\nMemFree:   300 kB\nMemAvailable:   700 kB\n";
    assert.equal(memFreeBytes(meminfo), 300 * 1024);
    assert.equal(memFreeBytes("MemTotal: 1 kB\n"), undefined);
  });
});

describe("__processes__", () => {
  async function processes(daemon: DaemonHandle): Promise<Json[]> {
    const res = await get(daemon, "/__processes__");
    assert.equal(res.status, 200);
    assert.match(res.type, /^application\/json/);
    const list = JSON.parse(res.text) as unknown;
    assert.ok(Array.isArray(list));
    for (const p of list as Json[]) {
      assert.deepEqual(Object.keys(p).sort(), ["events", "id"]);
      assert.equal(typeof p.id, "string");
      assert.ok(Array.isArray(p.events));
    }
    return list as Json[];
  }

  test("__processes__: one {id, events} per running process on the master and the agent", async () => {
    const onMaster = (await processes(master)).map((p) => p.id);
    for (const id of [
      "__processes__",
      "files",
      "help",
      "logging",
      "master",
      "metrics",
      "profiler",
      "registrar(1)",
      "system",
      "version",
    ]) {
      assert.ok(onMaster.includes(id), `master lacks ${id}: ${onMaster.join(",")}`);
    }
    const onAgent = (await processes(agent)).map((p) => p.id);
    for (const id of ["slave(1)", "monitor", "system", "__processes__"]) {
      assert.ok(onAgent.includes(id), `agent lacks ${id}: ${onAgent.join(",")}`);
    }
    assert.ok(!onAgent.includes("master"));
  });

  test("__processes__: a host that names queued events gets them in libprocess' shape", () => {
    const listing = {
      processes: () => [{ id: "slave(1)" }, { id: "master" }],
      pendingEvents: (id: string) =>
        id === "master"
          ? [
              {
                type: "MESSAGE" as const,
                name: "mesos.internal.PingSlaveMessage",
                from: "slave(1)@127.0.0.1:5051",
                to: "master@127.0.0.1:5050",
                body: "",
              },
              { type: "EXITED" as const },
            ]
          : [],
    };
    assert.deepEqual(processesJson(listing), [
      {
        events: [
          {
            type: "MESSAGE",
            name: "mesos.internal.PingSlaveMessage",
            from: "slave(1)@127.0.0.1:5051",
            to: "master@127.0.0.1:5050",
            body: "",
          },
          { type: "EXITED" },
        ],
        id: "master",
      },
      { events: [], id: "slave(1)" },
    ]);
  });

  test("__processes__: no ?jsonp= (libprocess ignores it), and nothing lives below it", async () => {
    const res = await get(master, "/__processes__?jsonp=cb");
    assert.match(res.type, /^application\/json/);
    assert.ok(Array.isArray(JSON.parse(res.text)));
    assert.equal((await get(master, "/__processes__/master")).status, 404);
  });
});

describe("help", () => {
  test("help: /help lists system, profiler, version (and the registrar on the master), never __processes__", async () => {
    const top = await get(master, "/help");
    assert.equal(top.status, 200);
    for (const id of ["system", "profiler", "version", "registrar(1)", "metrics", "master"]) {
      assert.ok(top.text.includes(`[/${id}](/help/${id})`), `${id} missing:\n${top.text}`);
    }
    assert.doesNotMatch(top.text, /__processes__/);
    const onAgent = await get(agent, "/help");
    for (const id of ["system", "profiler", "version", "slave(1)"]) {
      assert.ok(onAgent.text.includes(`[/${id}](/help/${id})`), `${id} missing:\n${onAgent.text}`);
    }
    assert.doesNotMatch(onAgent.text, /registrar|__processes__/);
    const json = JSON.parse((await get(master, "/help?format=json")).text) as Json;
    assert.ok(!("__processes__" in json));
    assert.ok("system" in json && "profiler" in json);
  });

  test("help: /help/system and /help/system/stats.json describe the route", async () => {
    const system = await get(agent, "/help/system");
    assert.equal(system.status, 200);
    assert.match(
      system.text,
      /\[\/system\/stats\.json\]\(\/help\/system\/stats\.json\) Shows local/,
    );
    const one = await get(agent, "/help/system/stats.json");
    assert.equal(one.status, 200);
    assert.match(one.text, /### USAGE ###\n>\s+\/system\/stats\.json/);
    assert.match(one.text, /avg_load_1min/);
    assert.match((await get(master, "/help/profiler")).text, /\/profiler\/start/);
    // libprocess' help route takes any method.
    const post = await get(agent, "/help/system", { method: "POST" });
    assert.equal(post.status, 200);
    assert.match(post.text, /\/system\/stats\.json/);
  });

  test("help: /help/__processes__ has no help, as in libprocess", async () => {
    const res = await get(master, "/help/__processes__");
    assert.equal(res.status, 400);
    assert.equal(res.text, "No help available for '/__processes__'.\n");
  });
});

describe("profiler and version", () => {
  const disabled =
    "Perftools is disabled. To enable perftools, configure libprocess with --enable-perftools.\n";

  test("profiler: start and stop refuse as Mesos built without perftools does, whatever the method", async () => {
    for (const [path, method] of [
      ["/profiler/start", "GET"],
      ["/profiler/start", "POST"],
      ["/profiler/stop", "GET"],
    ] as const) {
      const res = await get(agent, path, { method });
      assert.equal(res.status, 400, `${method} ${path}`);
      assert.equal(res.text, disabled);
    }
    assert.equal((await get(master, "/profiler")).status, 404);
  });

  test("memory-profiler: only with --memory_profiling; without jemalloc it refuses and says so", async () => {
    assert.equal((await get(master, "/memory-profiler/state")).status, 404);
    assert.doesNotMatch((await get(master, "/help")).text, /memory-profiler/);
    assert.match((await get(agent, "/help")).text, /\[\/memory-profiler\]/);
    const state = await get(agent, "/memory-profiler/state");
    assert.equal(state.status, 200);
    assert.deepEqual(JSON.parse(state.text), {
      memory_profiler: {
        current_run: { id: null },
        jemalloc_detected: false,
        tmp_dir: "Not yet generated",
      },
    });
    for (const path of ["/start", "/stop", "/statistics"]) {
      const res = await get(agent, `/memory-profiler${path}`, { method: "POST" });
      assert.equal(res.status, 400, path);
      assert.match(res.text, /jemalloc was not detected/);
    }
    const raw = await get(agent, "/memory-profiler/download/raw");
    assert.deepEqual(
      [raw.status, raw.text],
      [400, "Cannot access raw profile: Not yet generated.\n"],
    );
    const graph = await get(agent, "/memory-profiler/download/graph?id=12");
    assert.deepEqual(
      [graph.status, graph.text],
      [400, "No source profile exists: Not yet generated.\n"],
    );
    const badId = await get(agent, "/memory-profiler/download/text?id=12x");
    assert.deepEqual(
      [badId.status, badId.text],
      [400, "Invalid parameter 'id': Garbage after parsed id.\n"],
    );
  });

  test("version: /version is the version process; /help/version lists it", async () => {
    const v = await get(agent, "/version?jsonp=cb");
    assert.match(v.text, /^cb\(\{"version":"\d+\.\d+\.\d+"/);
    const plain = JSON.parse((await get(master, "/version")).text) as Json;
    assert.equal(typeof plain.build_time, "number");
    assert.match((await get(master, "/help/version")).text, /\[\/version\]\(\/help\/version\)/);
  });
});

describe("registrar", () => {
  test("registrar: /registrar(1)/registry holds the master's info and the admitted agent", async () => {
    const state = await getJson<Json>(`${master.url}/master/state`);
    const res = await get(master, "/registrar(1)/registry");
    assert.equal(res.status, 200);
    const registry = JSON.parse(res.text) as {
      master?: { info?: { id?: string; pid?: string; port?: number } };
      slaves?: { slaves?: { info?: { id?: { value?: string } } }[] };
    };
    assert.equal(registry.master?.info?.id, state?.id);
    assert.equal(registry.master?.info?.port, master.port);
    const ids = (registry.slaves?.slaves ?? []).map((s) => s.info?.id?.value);
    assert.deepEqual(ids, [agentId]);
    const jsonp = await get(master, "/registrar(1)/registry?jsonp=r");
    assert.match(jsonp.text, /^r\(\{"master":/);
    assert.equal((await get(agent, "/registrar(1)/registry")).status, 404);
  });
});
