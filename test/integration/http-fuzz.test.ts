/**
 * Malformed requests against a real master and agent: valid calls of every
 * kind, mutated at random (values replaced by values of other types, keys
 * removed or added, bodies cut short, garbage protobuf, odd headers and
 * query strings). Every answer must be a status below 500 with a one-line
 * reason when refused, within a timeout, and both processes must still
 * answer afterwards. fast-check prints the seed and the shrunk request of a
 * failure.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import fc from "fast-check";
import { codecFor, type MessageTypeName } from "../../src/common/protocol/index.js";
import {
  type DaemonHandle,
  freePort,
  getJson,
  startAgent,
  startMaster,
  stopAll,
  waitForAgents,
} from "../harness/processes.js";
import { type Subscription, subscribe, subscribeCall } from "./master-clients.js";

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

let master: DaemonHandle;
let agent: DaemonHandle;
let agentId: string;
let framework: Subscription;

/** A request as sent, shown by fast-check when a property fails. */
interface Sent {
  method: string;
  url: string;
  headers: Record<string, string>;
  body?: string | Uint8Array;
}

interface Answer {
  status: number;
  text: string;
}

/**
 * Sends `r`; reads the body only when refused (a 200 may be a stream that
 * never ends: SUBSCRIBE, ATTACH_CONTAINER_OUTPUT, ...).
 */
async function send(r: Sent): Promise<Answer> {
  const res = await fetch(r.url, {
    method: r.method,
    headers: r.headers,
    ...(r.body === undefined ? {} : { body: r.body }),
    signal: AbortSignal.timeout(20_000),
  });
  if (res.status < 400) {
    await res.body?.cancel();
    return { status: res.status, text: "" };
  }
  return { status: res.status, text: await res.text() };
}

/**
 * 500s Mesos answers too (a failed future in its handler): the reason is the
 * failure's message.
 */
const MESOS_SERVER_ERRORS = [
  /^Missing required flag --resource_provider_config_dir$/,
  /^Unknown root container$/,
  /^Nested container has not terminated yet$/,
];

/** What every answer to any input must be. */
function checkAnswer(r: Sent, a: Answer): void {
  const shown = `${r.method} ${r.url} ${JSON.stringify(r.headers)} ${
    typeof r.body === "string" ? r.body.slice(0, 300) : `(${r.body?.length ?? 0} bytes)`
  } -> ${a.status} ${a.text.slice(0, 300)}`;
  const known = a.status === 500 && MESOS_SERVER_ERRORS.some((e) => e.test(a.text.trim()));
  // 501: a call mesos-ts does not implement (yet) says so, which is an answer too.
  assert.ok(a.status < 500 || a.status === 501 || known, `server error: ${shown}`);
  if (a.status >= 400) {
    const reason = a.text.trim();
    assert.ok(!reason.includes("\n"), `reason spans lines: ${shown}`);
    // Mesos answers an unknown path (404) and a call of type UNKNOWN (501) with an
    // empty body; anything else says why.
    if (a.status !== 404 && a.status !== 405 && a.status !== 501) {
      assert.ok(reason.length > 0, `refused without a reason: ${shown}`);
    }
  }
}

async function bothAlive(): Promise<void> {
  for (const d of [master, agent]) {
    const r = await fetch(`${d.url}/health`, { signal: AbortSignal.timeout(20_000) });
    await r.body?.cancel();
    assert.equal(r.status, 200, `${d.name} stopped answering /health:\n${d.logs().slice(-3000)}`);
  }
}

// ---------------------------------------------------------------------------
// Mutations of JSON values.

/** Values of every type, and the edge cases parsers and validators trip on. */
const nasty: fc.Arbitrary<Json> = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }) as fc.Arbitrary<Json>,
  fc.constantFrom<Json>(
    -1,
    0,
    2 ** 31,
    2 ** 53 + 2,
    1e308,
    -1e308,
    0.5,
    "",
    "\u0000",
    "../../../../etc/passwd",
    "/",
    "x".repeat(70_000),
    "-1",
    "1e400",
    "NaN",
    [],
    {},
    null,
    true,
    JSON.parse(`${"[".repeat(40)}${"]".repeat(40)}`) as Json,
    { value: "" },
    { value: null },
    { nanoseconds: -1 },
    { nanoseconds: 9.3e18 },
  ),
  fc.string({ unit: "binary", maxLength: 40 }),
);

type Op =
  | { kind: "replace"; at: number; value: Json }
  | { kind: "delete"; at: number }
  | { kind: "add"; at: number; key: string; value: Json };

const keyNames = fc.oneof(
  fc.constantFrom(
    "type",
    "value",
    "role",
    "roles",
    "resources",
    "agent_id",
    "framework_id",
    "offer_ids",
    "scalar",
    "ranges",
    "reservations",
    "__proto__",
    "constructor",
  ),
  fc.string({ maxLength: 12 }),
);

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant("replace" as const), at: fc.nat(), value: nasty }),
  fc.record({ kind: fc.constant("delete" as const), at: fc.nat() }),
  fc.record({ kind: fc.constant("add" as const), at: fc.nat(), key: keyNames, value: nasty }),
);

/** Every container (object or array) in `v`, with the value inside it, depth first. */
function nodes(v: Json, out: Json[] = []): Json[] {
  out.push(v);
  if (Array.isArray(v)) for (const x of v) nodes(x, out);
  else if (v !== null && typeof v === "object") for (const x of Object.values(v)) nodes(x, out);
  return out;
}

/** Applies `ops` to a copy of `seed`; each op picks its node modulo the node count. */
function mutate(seed: Json, ops: readonly Op[]): Json {
  const root: Json = structuredClone(seed);
  for (const o of ops) {
    // A copy: the same generated value may come in several ops (a value inside itself is a cycle).
    const value: Json = o.kind === "delete" ? null : structuredClone(o.value);
    const containers = nodes(root).filter((n) => n !== null && typeof n === "object");
    const target = containers[o.at % containers.length] as Json[] | { [key: string]: Json };
    if (Array.isArray(target)) {
      const i = target.length === 0 ? 0 : o.at % target.length;
      if (o.kind === "delete") target.splice(i, 1);
      else if (o.kind === "replace") target[i] = value;
      else target.push(value);
    } else {
      const keys = Object.keys(target);
      const key = keys.length === 0 ? "x" : (keys[o.at % keys.length] as string);
      if (o.kind === "delete") delete target[key];
      else if (o.kind === "replace") target[key] = value;
      else
        Object.defineProperty(target, o.key, {
          value,
          enumerable: true,
          writable: true,
          configurable: true,
        });
    }
  }
  return root;
}

/** A body: a mutated seed, a cut-short or unchanged one, or bytes of no format at all. */
type Body = { text: string } | { bytes: Uint8Array; protobuf?: true };

/** Byte edits of a protobuf encoding: a flipped, dropped or added byte. */
const byteEdit = fc.record({
  at: fc.nat(),
  kind: fc.constantFrom("flip", "drop", "add"),
  byte: fc.nat({ max: 255 }),
});

function editBytes(
  bytes: Uint8Array,
  edits: readonly { at: number; kind: string; byte: number }[],
): Uint8Array {
  const out = [...bytes];
  for (const e of edits) {
    const i = out.length === 0 ? 0 : e.at % out.length;
    if (e.kind === "flip") out[i] = (out[i] ?? 0) ^ (e.byte | 1);
    else if (e.kind === "drop") out.splice(i, 1);
    else out.splice(i, 0, e.byte);
  }
  return Uint8Array.from(out);
}

/**
 * Bodies for calls of `message` (e.g. "mesos.v1.scheduler.Call"): a mutated
 * seed, a cut-short or unchanged one, a seed's protobuf encoding with bytes
 * edited, or bytes of no format at all.
 */
function bodies(seeds: readonly Json[], message: MessageTypeName): fc.Arbitrary<Body> {
  const seed = fc.constantFrom(...seeds);
  const codec = codecFor(message);
  const encoded = seeds.flatMap((s) => {
    const decoded = codec.decodeJson(s);
    return decoded.ok ? [codec.encodeProtobuf(decoded.value)] : [];
  });
  assert.ok(encoded.length > 0, `no seed of ${message} decodes`);
  return fc.oneof(
    {
      weight: 3,
      arbitrary: fc
        .tuple(fc.constantFrom(...encoded), fc.array(byteEdit, { maxLength: 3 }))
        .map(([b, edits]): Body => ({ bytes: editBytes(b, edits), protobuf: true })),
    },
    {
      weight: 6,
      arbitrary: fc
        .tuple(seed, fc.array(op, { minLength: 1, maxLength: 4 }))
        .map(([s, ops]) => ({ text: JSON.stringify(mutate(s, ops)) })),
    },
    {
      weight: 1,
      arbitrary: fc.tuple(seed, fc.nat()).map(([s, n]) => {
        const t = JSON.stringify(s);
        return { text: t.slice(0, n % (t.length + 1)) };
      }),
    },
    { weight: 1, arbitrary: seed.map((s) => ({ text: JSON.stringify(s) })) },
    {
      weight: 1,
      arbitrary: fc.string({ unit: "binary", maxLength: 200 }).map((text) => ({ text })),
    },
    {
      weight: 1,
      arbitrary: fc
        .nat({ max: 100_000 })
        .map((n) => ({ text: `${"[".repeat(n)}${"]".repeat(n)}` })),
    },
    {
      weight: 1,
      arbitrary: fc
        .nat({ max: 100_000 })
        .map((n) => ({ text: `${'{"a":'.repeat(n)}1${"}".repeat(n)}` })),
    },
    { weight: 2, arbitrary: fc.uint8Array({ maxLength: 300 }).map((bytes) => ({ bytes })) },
  );
}

const contentTypes = fc.constantFrom(
  "application/json",
  "application/json",
  "application/json; charset=utf-8",
  "application/x-protobuf",
  "text/plain",
  "application/recordio",
  "",
);
const accepts = fc.constantFrom(
  "application/json",
  "application/x-protobuf",
  "*/*",
  "text/html",
  "application/recordio",
  "",
);

function headersOf(contentType: string, accept: string, extra: Record<string, string> = {}) {
  const h: Record<string, string> = { ...extra };
  if (contentType !== "") h["Content-Type"] = contentType;
  if (accept !== "") h.Accept = accept;
  return h;
}

/** The property for one API endpoint: any body, any headers, a sane answer. */
async function fuzzCalls(
  url: () => string,
  message: MessageTypeName,
  seeds: readonly Json[],
  numRuns: number,
  extraHeaders: fc.Arbitrary<Record<string, string>> = fc.constant({}),
): Promise<void> {
  await fc.assert(
    fc.asyncProperty(
      bodies(seeds, message),
      contentTypes,
      accepts,
      extraHeaders,
      async (b, ct, ac, extra) => {
        const r: Sent = {
          method: "POST",
          url: url(),
          // An edited encoding is sent as protobuf, else it would only test the JSON parser.
          headers: headersOf("protobuf" in b ? "application/x-protobuf" : ct, ac, extra),
          body: "text" in b ? b.text : b.bytes,
        };
        checkAnswer(r, await send(r));
      },
    ),
    { numRuns },
  );
  await bothAlive();
}

/**
 * The property for internal (libprocess) messages sent as `from` to
 * `url(type)`: mutated seeds, protobuf-encoded when they still decode (then
 * they reach the handlers; else a seed's encoding reaches the decoder),
 * with bytes edited; every answer sane, and enough of them delivered.
 */
async function fuzzMessages(
  url: (type: MessageTypeName) => string,
  from: string,
  seeds: readonly [MessageTypeName, Json][],
): Promise<void> {
  const encodedSeeds = seeds.map(([type, seed]) => {
    const decoded = codecFor(type).decodeJson(seed);
    assert.ok(
      decoded.ok,
      `seed of ${type} does not decode: ${decoded.ok ? "" : decoded.error.message}`,
    );
    return codecFor(type).encodeProtobuf(decoded.value);
  });
  let delivered = 0;
  await fc.assert(
    fc.asyncProperty(
      fc.nat(),
      fc.array(op, { maxLength: 3 }),
      fc.array(byteEdit, { maxLength: 2 }),
      async (i, ops, edits) => {
        const [type, seed] = seeds[i % seeds.length] as [MessageTypeName, Json];
        const codec = codecFor(type);
        const decoded = codec.decodeJson(mutate(seed, ops));
        const bytes = decoded.ok
          ? codec.encodeProtobuf(decoded.value)
          : (encodedSeeds[i % seeds.length] as Uint8Array);
        if (decoded.ok) delivered++;
        const r: Sent = {
          method: "POST",
          url: url(type),
          headers: { "Libprocess-From": from },
          body: editBytes(bytes, edits),
        };
        checkAnswer(r, await send(r));
      },
    ),
    { numRuns: 600 },
  );
  assert.ok(delivered > 100, `only ${delivered} mutated messages decoded`);
}

// ---------------------------------------------------------------------------

const RESOURCES: Json = [
  { name: "cpus", type: "SCALAR", scalar: { value: 0.1 } },
  { name: "mem", type: "SCALAR", scalar: { value: 32 } },
  { name: "ports", type: "RANGES", ranges: { range: [{ begin: 31000, end: 31001 }] } },
];
const RESERVED: Json = [
  {
    name: "cpus",
    type: "SCALAR",
    scalar: { value: 0.1 },
    reservations: [{ type: "DYNAMIC", role: "fuzz", principal: "p" }],
  },
];
const VOLUME: Json = [
  {
    name: "disk",
    type: "SCALAR",
    scalar: { value: 8 },
    reservations: [{ type: "DYNAMIC", role: "fuzz" }],
    disk: {
      persistence: { id: "v1", principal: "p" },
      volume: { mode: "RW", container_path: "v" },
    },
  },
];
const NS = { nanoseconds: 1_000_000_000 };

before(async () => {
  master = await startMaster();
  agent = await startAgent({ master: master.address });
  [agentId] = (await waitForAgents(master, 1)) as [string];
  framework = await subscribe(
    master.url,
    subscribeCall("fuzz", { roles: ["fuzz"], capabilities: [{ type: "MULTI_ROLE" }] }),
  );
  await framework.nth("SUBSCRIBED");
});

after(async () => {
  framework?.close();
  await stopAll();
});

describe("malformed requests", () => {
  test("scheduler API: mutated calls of every type get a status below 500 and a one-line reason", async () => {
    const fw = { value: framework.frameworkId };
    const agentRef = { value: agentId };
    const task: Json = {
      name: "t",
      task_id: { value: "t1" },
      agent_id: agentRef,
      resources: RESOURCES,
      command: { value: "true" },
    };
    const seeds: Json[] = [
      subscribeCall("fuzz-other") as unknown as Json,
      {
        framework_id: fw,
        type: "DECLINE",
        decline: { offer_ids: [{ value: "o1" }], filters: { refuse_seconds: 5 } },
      },
      {
        framework_id: fw,
        type: "ACCEPT",
        accept: {
          offer_ids: [{ value: "o1" }],
          operations: [
            { type: "LAUNCH", launch: { task_infos: [task] } },
            { type: "RESERVE", reserve: { resources: RESERVED } },
            { type: "CREATE", create: { volumes: VOLUME } },
          ],
          filters: {},
        },
      },
      {
        framework_id: fw,
        type: "ACCEPT",
        accept: {
          offer_ids: [{ value: "o1" }],
          operations: [
            {
              type: "LAUNCH_GROUP",
              launch_group: {
                executor: { type: "DEFAULT", executor_id: { value: "e" }, resources: RESOURCES },
                task_group: { tasks: [task] },
              },
            },
          ],
        },
      },
      { framework_id: fw, type: "REVIVE", revive: { roles: ["fuzz"] } },
      { framework_id: fw, type: "SUPPRESS", suppress: { roles: ["fuzz"] } },
      {
        framework_id: fw,
        type: "KILL",
        kill: { task_id: { value: "t1" }, agent_id: agentRef, kill_policy: { grace_period: NS } },
      },
      {
        framework_id: fw,
        type: "SHUTDOWN",
        shutdown: { executor_id: { value: "e" }, agent_id: agentRef },
      },
      {
        framework_id: fw,
        type: "ACKNOWLEDGE",
        acknowledge: {
          agent_id: agentRef,
          task_id: { value: "t1" },
          uuid: "AAECAwQFBgcICQoLDA0ODw==",
        },
      },
      {
        framework_id: fw,
        type: "ACKNOWLEDGE_OPERATION_STATUS",
        acknowledge_operation_status: {
          agent_id: agentRef,
          uuid: "AAECAwQFBgcICQoLDA0ODw==",
          operation_id: { value: "op" },
        },
      },
      {
        framework_id: fw,
        type: "RECONCILE",
        reconcile: { tasks: [{ task_id: { value: "t1" }, agent_id: agentRef }] },
      },
      {
        framework_id: fw,
        type: "RECONCILE_OPERATIONS",
        reconcile_operations: {
          operations: [{ operation_id: { value: "op" }, agent_id: agentRef }],
        },
      },
      {
        framework_id: fw,
        type: "MESSAGE",
        message: { agent_id: agentRef, executor_id: { value: "e" }, data: "aGk=" },
      },
      {
        framework_id: fw,
        type: "REQUEST",
        request: { requests: [{ agent_id: agentRef, resources: RESOURCES }] },
      },
      {
        framework_id: fw,
        type: "UPDATE_FRAMEWORK",
        update_framework: {
          framework_info: {
            user: "root",
            name: "fuzz",
            id: fw,
            roles: ["fuzz", "other"],
            capabilities: [{ type: "MULTI_ROLE" }],
          },
          offer_constraints: {
            role_constraints: {
              fuzz: {
                groups: [
                  {
                    attribute_constraints: [
                      {
                        selector: { attribute_name: "rack" },
                        predicate: { text_matches: { regex: "a.*" } },
                      },
                    ],
                  },
                ],
              },
            },
          },
        },
      },
    ];
    const streamIds = fc.constantFrom<Record<string, string>>(
      { "Mesos-Stream-Id": framework.streamId },
      { "Mesos-Stream-Id": framework.streamId },
      { "Mesos-Stream-Id": "not-a-stream" },
      {},
    );
    await fuzzCalls(
      () => `${master.url}/api/v1/scheduler`,
      "mesos.v1.scheduler.Call",
      seeds,
      1000,
      streamIds,
    );
  });

  test("master operator API: mutated calls of every type get a status below 500 and a one-line reason", async () => {
    const agentRef = { value: agentId };
    const seeds: Json[] = [
      ...[
        "GET_HEALTH",
        "GET_FLAGS",
        "GET_VERSION",
        "GET_LOGGING_LEVEL",
        "GET_STATE",
        "GET_AGENTS",
        "GET_FRAMEWORKS",
        "GET_EXECUTORS",
        "GET_TASKS",
        "GET_ROLES",
        "GET_WEIGHTS",
        "GET_MASTER",
        "GET_MAINTENANCE_STATUS",
        "GET_MAINTENANCE_SCHEDULE",
        "GET_QUOTA",
        "GET_OPERATIONS",
      ].map((type) => ({ type })),
      { type: "GET_METRICS", get_metrics: { timeout: NS } },
      { type: "SET_LOGGING_LEVEL", set_logging_level: { level: 0, duration: NS } },
      { type: "LIST_FILES", list_files: { path: "/master/log" } },
      { type: "READ_FILE", read_file: { path: "/master/log", offset: 0, length: 10 } },
      { type: "UPDATE_WEIGHTS", update_weights: { weight_infos: [{ role: "fuzz", weight: 2 }] } },
      {
        type: "UPDATE_MAINTENANCE_SCHEDULE",
        update_maintenance_schedule: {
          schedule: {
            windows: [
              {
                machine_ids: [{ hostname: "nohost", ip: "10.9.9.9" }],
                unavailability: { start: { nanoseconds: 1 }, duration: NS },
              },
            ],
          },
        },
      },
      {
        type: "START_MAINTENANCE",
        start_maintenance: { machines: [{ hostname: "nohost", ip: "10.9.9.9" }] },
      },
      {
        type: "STOP_MAINTENANCE",
        stop_maintenance: { machines: [{ hostname: "nohost", ip: "10.9.9.9" }] },
      },
      {
        type: "UPDATE_QUOTA",
        update_quota: {
          force: false,
          quota_configs: [
            { role: "fuzz", guarantees: { cpus: { value: 0.1 } }, limits: { cpus: { value: 1 } } },
          ],
        },
      },
      {
        type: "SET_QUOTA",
        set_quota: {
          quota_request: {
            role: "fuzz2",
            force: true,
            guarantee: [{ name: "cpus", type: "SCALAR", scalar: { value: 0.1 } }],
          },
        },
      },
      { type: "REMOVE_QUOTA", remove_quota: { role: "fuzz2" } },
      {
        type: "RESERVE_RESOURCES",
        reserve_resources: { agent_id: agentRef, source: [], resources: RESERVED },
      },
      {
        type: "UNRESERVE_RESOURCES",
        unreserve_resources: { agent_id: agentRef, resources: RESERVED },
      },
      { type: "CREATE_VOLUMES", create_volumes: { agent_id: agentRef, volumes: VOLUME } },
      { type: "DESTROY_VOLUMES", destroy_volumes: { agent_id: agentRef, volumes: VOLUME } },
      {
        type: "GROW_VOLUME",
        grow_volume: {
          agent_id: agentRef,
          volume: (VOLUME as Json[])[0] as Json,
          addition: { name: "disk", type: "SCALAR", scalar: { value: 1 } },
        },
      },
      {
        type: "SHRINK_VOLUME",
        shrink_volume: {
          agent_id: agentRef,
          volume: (VOLUME as Json[])[0] as Json,
          subtract: { value: 1 },
        },
      },
      { type: "DEACTIVATE_AGENT", deactivate_agent: { agent_id: { value: "no-such-agent" } } },
      { type: "REACTIVATE_AGENT", reactivate_agent: { agent_id: agentRef } },
      {
        type: "DRAIN_AGENT",
        drain_agent: {
          agent_id: { value: "no-such-agent" },
          max_grace_period: NS,
          mark_gone: false,
        },
      },
      { type: "MARK_AGENT_GONE", mark_agent_gone: { agent_id: { value: "no-such-agent" } } },
      { type: "TEARDOWN", teardown: { framework_id: { value: "no-such-framework" } } },
      { type: "SUBSCRIBE" },
    ];
    await fuzzCalls(() => `${master.url}/api/v1`, "mesos.v1.master.Call", seeds, 1000);
  });

  test("agent operator API: mutated calls of every type get a status below 500 and a one-line reason", async () => {
    const parent = { value: "no-such-container" };
    const nested = { value: "n1", parent };
    const seeds: Json[] = [
      ...[
        "GET_HEALTH",
        "GET_FLAGS",
        "GET_VERSION",
        "GET_LOGGING_LEVEL",
        "GET_STATE",
        "GET_CONTAINERS",
        "GET_FRAMEWORKS",
        "GET_EXECUTORS",
        "GET_TASKS",
        "GET_AGENT",
        "GET_RESOURCE_PROVIDERS",
        "GET_OPERATIONS",
        "PRUNE_IMAGES",
      ].map((type) => ({ type })),
      { type: "GET_METRICS", get_metrics: { timeout: NS } },
      { type: "SET_LOGGING_LEVEL", set_logging_level: { level: 0, duration: NS } },
      { type: "LIST_FILES", list_files: { path: "/slave/log" } },
      { type: "READ_FILE", read_file: { path: "/slave/log", offset: 0, length: 10 } },
      { type: "GET_CONTAINERS", get_containers: { show_nested: true, show_standalone: true } },
      {
        type: "LAUNCH_NESTED_CONTAINER",
        launch_nested_container: { container_id: nested, command: { value: "true" } },
      },
      {
        type: "LAUNCH_NESTED_CONTAINER_SESSION",
        launch_nested_container_session: { container_id: nested, command: { value: "true" } },
      },
      { type: "WAIT_NESTED_CONTAINER", wait_nested_container: { container_id: nested } },
      { type: "KILL_NESTED_CONTAINER", kill_nested_container: { container_id: nested, signal: 9 } },
      { type: "REMOVE_NESTED_CONTAINER", remove_nested_container: { container_id: nested } },
      { type: "WAIT_CONTAINER", wait_container: { container_id: parent } },
      { type: "KILL_CONTAINER", kill_container: { container_id: parent, signal: 15 } },
      { type: "REMOVE_CONTAINER", remove_container: { container_id: parent } },
      { type: "ATTACH_CONTAINER_OUTPUT", attach_container_output: { container_id: parent } },
      {
        type: "ADD_RESOURCE_PROVIDER_CONFIG",
        add_resource_provider_config: {
          info: {
            type: "org.apache.mesos.rp.local.storage",
            name: "fuzz",
            default_reservations: [{ type: "DYNAMIC", role: "fuzz" }],
          },
        },
      },
      {
        type: "UPDATE_RESOURCE_PROVIDER_CONFIG",
        update_resource_provider_config: {
          info: { type: "org.apache.mesos.rp.local.storage", name: "fuzz" },
        },
      },
      {
        type: "REMOVE_RESOURCE_PROVIDER_CONFIG",
        remove_resource_provider_config: {
          type: "org.apache.mesos.rp.local.storage",
          name: "fuzz",
        },
      },
      {
        type: "MARK_RESOURCE_PROVIDER_GONE",
        mark_resource_provider_gone: { resource_provider_id: { value: "no-such-provider" } },
      },
    ];
    await fuzzCalls(() => `${agent.url}/api/v1`, "mesos.v1.agent.Call", seeds, 1000);
  });

  test("executor API: mutated calls get a status below 500 and a one-line reason", async () => {
    const ids = {
      framework_id: { value: framework.frameworkId },
      executor_id: { value: "e-fuzz" },
    };
    const status: Json = {
      task_id: { value: "t-fuzz" },
      state: "TASK_RUNNING",
      source: "SOURCE_EXECUTOR",
      uuid: "AAECAwQFBgcICQoLDA0ODw==",
      executor_id: { value: "e-fuzz" },
    };
    const seeds: Json[] = [
      {
        ...ids,
        type: "SUBSCRIBE",
        subscribe: { unacknowledged_tasks: [], unacknowledged_updates: [] },
      },
      { ...ids, type: "UPDATE", update: { status } },
      { ...ids, type: "MESSAGE", message: { data: "aGk=" } },
      { ...ids, type: "HEARTBEAT" },
    ];
    await fuzzCalls(() => `${agent.url}/api/v1/executor`, "mesos.v1.executor.Call", seeds, 600);
  });

  test("endpoints with query strings and form bodies: odd parameters get a status below 500", async () => {
    const value = fc.oneof(
      fc.constantFrom(
        "",
        "-1",
        "0",
        "1",
        "99999999999999999999",
        "1e400",
        "NaN",
        "/",
        "..",
        "../../../etc/passwd",
        "%00",
        "%ZZ",
        "x".repeat(5000),
        "asc",
        "des",
        "true",
        "1secs",
        "-5secs",
        "1days",
        "20",
        "ERROR",
      ),
      fc.string({ maxLength: 20 }),
      fc.string({ unit: "binary", maxLength: 20 }),
    );
    const getters: [() => string, string[]][] = [
      [
        () => master.url,
        [
          "/master/state",
          "/master/state.json",
          "/master/state-summary",
          "/master/tasks",
          "/master/frameworks",
          "/master/slaves",
          "/master/roles",
          "/master/quota",
          "/master/weights",
          "/master/maintenance/status",
          "/master/maintenance/schedule",
          "/files/browse",
          "/files/read",
          "/files/download",
          "/files/debug",
          "/metrics/snapshot",
          "/logging/toggle",
          "/master/redirect",
          "/master/flags",
          "/version",
          "/master/api/v1/scheduler",
          "/nosuch",
        ],
      ],
      [
        () => agent.url,
        [
          "/slave(1)/state",
          "/slave(1)/flags",
          "/files/browse",
          "/files/read",
          "/files/download",
          "/metrics/snapshot",
          "/containers",
          "/monitor/statistics",
          "/slave(1)/health",
          "/logging/toggle",
        ],
      ],
    ];
    const params = [
      "jsonp",
      "limit",
      "offset",
      "order",
      "framework_id",
      "task_id",
      "slave_id",
      "path",
      "length",
      "timeout",
      "level",
      "duration",
      "roles",
      "nosuch",
    ];
    const request = fc.tuple(
      fc.nat(),
      fc.nat(),
      fc.array(fc.tuple(fc.constantFrom(...params), value), { maxLength: 4 }),
      fc.constantFrom("GET", "GET", "POST", "PUT", "DELETE"),
    );
    await fc.assert(
      fc.asyncProperty(request, async ([d, e, ps, method]) => {
        const [base, paths] = getters[d % getters.length] as [() => string, string[]];
        const path = paths[e % paths.length] as string;
        const query = ps.map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join("&");
        const r: Sent = {
          method,
          url: `${base()}${path}${query === "" ? "" : `?${query}`}`,
          headers: {},
        };
        if (method !== "GET") {
          // A form body, as the legacy POST endpoints take.
          r.body = query;
          r.headers["Content-Type"] = "application/x-www-form-urlencoded";
        }
        checkAnswer(r, await send(r));
      }),
      { numRuns: 400 },
    );
    await bothAlive();
  });

  test("legacy POST endpoints: mutated JSON and form bodies get a status below 500", async () => {
    const schedule: Json = {
      windows: [
        {
          machine_ids: [{ hostname: "nohost", ip: "10.9.9.9" }],
          unavailability: { start: { nanoseconds: 1 }, duration: NS },
        },
      ],
    };
    const posts: [string, string, Json][] = [
      ["POST", "/master/maintenance/schedule", schedule],
      ["POST", "/master/machine/down", [{ hostname: "nohost", ip: "10.9.9.9" }]],
      ["POST", "/master/machine/up", [{ hostname: "nohost", ip: "10.9.9.9" }]],
      [
        "POST",
        "/master/quota",
        { role: "fuzz3", guarantee: [{ name: "cpus", type: "SCALAR", scalar: { value: 0.1 } }] },
      ],
      ["PUT", "/master/weights", [{ role: "fuzz", weight: 3 }]],
      ["POST", "/master/reserve", { slaveId: agentId, resources: RESERVED }],
      ["POST", "/master/unreserve", { slaveId: agentId, resources: RESERVED }],
      ["POST", "/master/create-volumes", { slaveId: agentId, volumes: VOLUME }],
      ["POST", "/master/destroy-volumes", { slaveId: agentId, volumes: VOLUME }],
      ["POST", "/master/teardown", { frameworkId: "no-such-framework" }],
    ];
    await fc.assert(
      fc.asyncProperty(
        fc.nat(),
        fc.array(op, { minLength: 1, maxLength: 3 }),
        fc.boolean(),
        async (i, ops, form) => {
          const [method, path, seed] = posts[i % posts.length] as [string, string, Json];
          const body = mutate(seed, ops);
          let text: string;
          let contentType: string;
          if (form && body !== null && typeof body === "object" && !Array.isArray(body)) {
            // The reserve/volume endpoints take form fields whose values are JSON.
            text = Object.entries(body)
              .map(
                ([k, v]) =>
                  `${encodeURIComponent(k)}=${encodeURIComponent(typeof v === "string" ? v : JSON.stringify(v))}`,
              )
              .join("&");
            contentType = "application/x-www-form-urlencoded";
          } else {
            text = JSON.stringify(body);
            contentType = "application/json";
          }
          const r: Sent = {
            method,
            url: `${master.url}${path}`,
            headers: { "Content-Type": contentType },
            body: text,
          };
          checkAnswer(r, await send(r));
        },
      ),
      { numRuns: 300 },
    );
    await bothAlive();
    // The master still serves its state after all of it.
    const state = await getJson<{ slaves?: unknown[] }>(`${master.url}/master/state`);
    assert.ok(Array.isArray(state?.slaves), "the master's state is still served");
  });
});

describe("malformed agent messages", () => {
  test("internal messages to the master: mutated (re)registrations and updates never stop it", async () => {
    const deadPort = await freePort();
    const from = `slave(1)@127.0.0.1:${deadPort}`;
    const fw = { value: framework.frameworkId };
    const slaveId = { value: agentId };
    const uuid = "AAECAwQFBgcICQoLDA0ODw==";
    const slave: Json = {
      hostname: "fuzzhost",
      port: deadPort,
      resources: RESOURCES,
      attributes: [{ name: "rack", type: "TEXT", text: { value: "a" } }],
    };
    const capabilities: Json = [
      { type: "MULTI_ROLE" },
      { type: "HIERARCHICAL_ROLE" },
      { type: "RESERVATION_REFINEMENT" },
    ];
    const task: Json = {
      name: "t",
      task_id: { value: "t-fuzz" },
      framework_id: fw,
      executor_id: { value: "e-fuzz" },
      agent_id: { value: "S-fuzz" },
      state: "TASK_RUNNING",
      resources: RESOURCES,
    };
    const seeds: [MessageTypeName, Json][] = [
      [
        "mesos.internal.RegisterSlaveMessage",
        { slave, version: "1.12.0", agent_capabilities: capabilities },
      ],
      [
        "mesos.internal.ReregisterSlaveMessage",
        {
          slave: { ...(slave as object), id: { value: "S-fuzz" } },
          tasks: [task],
          executor_infos: [
            {
              executor_id: { value: "e-fuzz" },
              framework_id: fw,
              command: { value: "true" },
              resources: RESOURCES,
            },
          ],
          frameworks: [
            {
              id: fw,
              user: "root",
              name: "fuzz",
              roles: ["fuzz"],
              capabilities: [{ type: "MULTI_ROLE" }],
            },
          ],
          version: "1.12.0",
          agent_capabilities: capabilities,
        },
      ],
      [
        "mesos.internal.StatusUpdateMessage",
        {
          update: {
            framework_id: fw,
            executor_id: { value: "e-fuzz" },
            slave_id: slaveId,
            status: {
              task_id: { value: "t-fuzz" },
              state: "TASK_FAILED",
              slave_id: slaveId,
              source: "SOURCE_EXECUTOR",
              uuid,
              timestamp: 1,
            },
            timestamp: 1,
            uuid,
          },
          pid: from,
        },
      ],
      [
        "mesos.internal.ExitedExecutorMessage",
        { slave_id: slaveId, framework_id: fw, executor_id: { value: "e-fuzz" }, status: 0 },
      ],
      [
        "mesos.internal.ExecutorToFrameworkMessage",
        { slave_id: slaveId, framework_id: fw, executor_id: { value: "e-fuzz" }, data: "aGk=" },
      ],
      [
        "mesos.internal.UpdateSlaveMessage",
        {
          slave_id: { value: "S-fuzz" },
          update_oversubscribed_resources: true,
          oversubscribed_resources: RESOURCES,
        },
      ],
      ["mesos.internal.UnregisterSlaveMessage", { slave_id: { value: "S-fuzz" } }],
      [
        "mesos.internal.UpdateOperationStatusMessage",
        {
          framework_id: fw,
          slave_id: slaveId,
          status: {
            operation_id: { value: "op" },
            state: "OPERATION_FINISHED",
            uuid: { value: uuid },
          },
          operation_uuid: { value: uuid },
        },
      ],
    ];
    await fuzzMessages((type) => `${master.url}/master/${type}`, from, seeds);
    await bothAlive();
    const state = await getJson<{ slaves?: unknown[] }>(`${master.url}/master/state`);
    assert.ok(Array.isArray(state?.slaves), "the master's state is still served");
  });
});

describe("malformed master messages", () => {
  test("internal messages to the agent, sent as its master: mutated launches, kills and updates never stop it", async () => {
    // libprocess trusts the sender's name: anyone reaching the agent can speak as its master.
    const from = `master@${master.address}`;
    const fw = { value: framework.frameworkId };
    const slaveId = { value: agentId };
    const uuid = "AAECAwQFBgcICQoLDA0ODw==";
    const frameworkInfo: Json = {
      id: fw,
      user: "root",
      name: "fuzz",
      roles: ["fuzz"],
      capabilities: [{ type: "MULTI_ROLE" }],
    };
    const allocated = (RESOURCES as Json[]).map((r) => ({
      ...(r as object),
      allocation_info: { role: "fuzz" },
    }));
    const task: Json = {
      name: "t",
      task_id: { value: "t-fuzz" },
      agent_id: slaveId,
      resources: allocated,
      command: { value: "true" },
    };
    const seeds: [MessageTypeName, Json][] = [
      [
        "mesos.internal.RunTaskMessage",
        { framework_id: fw, framework: frameworkInfo, task, pid: "scheduler@127.0.0.1:1" },
      ],
      [
        "mesos.internal.RunTaskGroupMessage",
        {
          framework: frameworkInfo,
          executor: {
            type: "DEFAULT",
            executor_id: { value: "e-fuzz" },
            framework_id: fw,
            resources: allocated,
          },
          task_group: { tasks: [task] },
        },
      ],
      [
        "mesos.internal.KillTaskMessage",
        { framework_id: fw, task_id: { value: "t-fuzz" }, kill_policy: { grace_period: NS } },
      ],
      [
        "mesos.internal.ShutdownExecutorMessage",
        { executor_id: { value: "e-fuzz" }, framework_id: fw },
      ],
      ["mesos.internal.ShutdownFrameworkMessage", { framework_id: { value: "no-such-framework" } }],
      [
        "mesos.internal.FrameworkToExecutorMessage",
        { slave_id: slaveId, framework_id: fw, executor_id: { value: "e-fuzz" }, data: "aGk=" },
      ],
      [
        "mesos.internal.UpdateFrameworkMessage",
        { framework_id: fw, pid: "scheduler@127.0.0.1:1", framework_info: frameworkInfo },
      ],
      [
        "mesos.internal.StatusUpdateAcknowledgementMessage",
        { slave_id: slaveId, framework_id: fw, task_id: { value: "t-fuzz" }, uuid },
      ],
      ["mesos.internal.PingSlaveMessage", { connected: true }],
      ["mesos.internal.CheckpointResourcesMessage", { resources: RESERVED }],
      [
        "mesos.internal.ReconcileOperationsMessage",
        { operations: [{ operation_uuid: { value: uuid } }] },
      ],
      [
        "mesos.internal.AcknowledgeOperationStatusMessage",
        { status_uuid: { value: uuid }, operation_uuid: { value: uuid } },
      ],
    ];
    await fuzzMessages((type) => `${agent.url}/slave(1)/${type}`, from, seeds);
    await bothAlive();
    assert.match(agent.logs(), /Launching executor 't-fuzz'/, "some mutated launches were run");
    const state = await getJson<{ id?: string }>(`${agent.url}/slave(1)/state`);
    assert.equal(state?.id, agentId, "the agent still serves its state under its id");
  });
});
