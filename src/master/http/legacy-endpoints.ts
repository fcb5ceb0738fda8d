/**
 * The master's legacy JSON endpoints beyond `/state`: `/state-summary`,
 * `/frameworks`, `/slaves`, `/tasks`, `/roles`, `/weights` and
 * `/teardown`, with Mesos' query parameters and shapes (v0 names). Every
 * JSON read honours `?jsonp=`.
 */

import { shouldGzip } from "../../common/http/content-encoding.js";
import { decodeForm } from "../../common/http/form.js";
import type { HttpRequest } from "../../common/http/request.js";
import {
  badRequest,
  type HttpResponse,
  methodNotAllowed,
  ok,
  streaming,
} from "../../common/http/response.js";
import { checkMethod, jsonResponse } from "../../common/http/v1-api.js";
import type { Task, WeightInfo } from "../../common/protocol/generated/mesos-v1.js";
import { codecFor } from "../../common/protocol/index.js";
import { drainJson } from "../core/drain.js";
import type { Master } from "../core/master.js";
import type { AgentRecord, FrameworkRecord } from "../core/records.js";
import { type RoleWeights, rescindOffersAfterWeights, rolesJson, weightsReply } from "./roles.js";
import type { StateDocuments } from "./state-documents.js";
import {
  agentJson,
  frameworkJson,
  frameworkSummaryJson,
  recoveredAgentJson,
  taskJson,
} from "./state-json.js";

type Json = Record<string, unknown>;

/**
 * `/state`: the cached, sliced document, wrapped for `?jsonp=` (any method,
 * as in Mesos); gzip-encoded for a client that accepts it.
 */
export function stateHandler(
  documents: StateDocuments,
): (request: HttpRequest) => Promise<HttpResponse> {
  return async (request) => {
    const doc = await documents.state();
    const callback = request.rawQuery === "" ? null : request.query.get("jsonp");
    const parts = callback === null ? doc.parts : [`${callback}(`, ...doc.parts, ")"];
    const type = callback === null ? "application/json" : "text/javascript";
    const gzip = shouldGzip(request.header("accept-encoding"), doc.bytes);
    const headers: Record<string, string> = { "Content-Type": type };
    if (gzip) headers["Content-Encoding"] = "gzip";
    const body = gzip ? await documents.gzipped(parts) : parts;
    return streaming(200, headers, (stream) => {
      void documents.send(stream, body);
    });
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
] as const;

function allTasks(f: FrameworkRecord): Iterable<Task> {
  return [...f.tasks.values(), ...f.unreachableTasks.values(), ...f.completedTasks];
}

function counts(tasks: Iterable<Task>): Json {
  const out: Json = {};
  for (const s of SUMMARY_STATES) out[s] = 0;
  for (const t of tasks) {
    if (t.state in out) out[t.state] = (out[t.state] as number) + 1;
  }
  return out;
}

/** `/state-summary`: agents and frameworks with per-state task counts. */
export function stateSummaryJson(m: Master, cluster: string | undefined): Json {
  const byAgent = new Map<string, Task[]>();
  const frameworksOnAgent = new Map<string, Set<string>>();
  const agentsOfFramework = new Map<string, Set<string>>();
  const push = <K, V>(map: Map<K, V[]>, key: K, value: V): void => {
    const list = map.get(key);
    if (list === undefined) map.set(key, [value]);
    else list.push(value);
  };
  const add = <K, V>(map: Map<K, Set<V>>, key: K, value: V): void => {
    const set = map.get(key);
    if (set === undefined) map.set(key, new Set([value]));
    else set.add(value);
  };
  for (const f of m.frameworks.values()) {
    for (const t of allTasks(f)) {
      const agentId = t.agent_id.value;
      push(byAgent, agentId, t);
      add(frameworksOnAgent, agentId, f.id);
      add(agentsOfFramework, f.id, agentId);
    }
  }
  const out: Json = { hostname: m.config.info.hostname ?? "" };
  if (cluster !== undefined) out.cluster = cluster;
  out.slaves = [...m.agents.values()].map((a) => ({
    ...agentJson(a, m.deactivatedAgents.has(a.id), drainJson(m, a.id)),
    ...counts(byAgent.get(a.id) ?? []),
    framework_ids: [...(frameworksOnAgent.get(a.id) ?? [])],
  }));
  out.frameworks = [...m.frameworks.values()].map((f) => ({
    ...frameworkSummaryJson(f),
    ...counts(allTasks(f)),
    slave_ids: [...(agentsOfFramework.get(f.id) ?? [])],
  }));
  return out;
}

/** `/frameworks?framework_id=`. */
export function frameworksJson(m: Master, frameworkId: string | null): Json {
  const keep = (f: FrameworkRecord): boolean => frameworkId === null || f.id === frameworkId;
  return {
    frameworks: [...m.frameworks.values()].filter(keep).map(frameworkJson),
    completed_frameworks: m.completedFrameworks.filter(keep).map(frameworkJson),
    unregistered_frameworks: [],
  };
}

/** An agent with the `*_full` resource arrays of `/slaves`. */
function fullAgentJson(m: Master, agent: AgentRecord): Json {
  const total = agent.totalResources;
  const reservedFull: Json = {};
  for (const [role, resources] of total.reservations()) {
    reservedFull[role] = resources.toEndpointJson();
  }
  return {
    ...agentJson(agent, m.deactivatedAgents.has(agent.id), drainJson(m, agent.id)),
    reserved_resources_full: reservedFull,
    unreserved_resources_full: total.unreserved().toEndpointJson(),
    used_resources_full: agent.usedResources().toEndpointJson(),
    offered_resources_full: agent.offeredResources().toEndpointJson(),
  };
}

/** `/slaves?slave_id=`. */
export function slavesJson(m: Master, agentId: string | null): Json {
  return {
    slaves: [...m.agents.values()]
      .filter((a) => agentId === null || a.id === agentId)
      .map((a) => fullAgentJson(m, a)),
    recovered_slaves: [...m.recoveredAgents.values()]
      .filter((info) => agentId === null || info.id?.value === agentId)
      .map(recoveredAgentJson),
  };
}

/** Mesos' TASK_LIMIT: the default page size of `/tasks`. */
export const TASK_LIMIT = 100;

function firstTimestamp(t: Task): number | undefined {
  return t.statuses?.[0]?.timestamp;
}

const INT_MIN = -(2 ** 31);
const INT_MAX = 2 ** 31 - 1;

/**
 * A query count as Mesos reads it: a whole C `int` in decimal (optional
 * sign) or hex (`0x`); anything else, or nothing, gives the fallback.
 */
export function parseCount(text: string | null, fallback: number): number {
  if (text === null) return fallback;
  let n: number;
  if (/^[+-]?\d+$/.test(text)) n = Number(text);
  else if (/^-?0[xX][0-9a-fA-F]+$/.test(text)) {
    const negative = text.startsWith("-");
    n = Number.parseInt(text.slice(negative ? 3 : 2), 16);
    if (negative) n = -n;
  } else return fallback;
  return n >= INT_MIN && n <= INT_MAX ? n : fallback;
}

const WORD = 2n ** 64n;

/**
 * The `[start, end)` of the page: Mesos keeps limit and offset as unsigned
 * 64-bit words, so a negative limit means "no limit" unless the wrapped
 * sum falls below the offset, and a negative offset means an empty page.
 */
export function pageBounds(limit: number, offset: number, size: number): [number, number] {
  const o = (BigInt(offset) + WORD) % WORD;
  const sum = (o + BigInt(limit) + WORD) % WORD;
  const end = sum < BigInt(size) ? Number(sum) : size;
  const start = o < BigInt(size) ? Number(o) : size;
  return [start, Math.max(start, end)];
}

/** `/tasks?limit=&offset=&order=&framework_id=&task_id=`. */
export function tasksJson(m: Master, query: URLSearchParams): Json {
  const limit = parseCount(query.get("limit"), TASK_LIMIT);
  const offset = parseCount(query.get("offset"), 0);
  const ascending = query.get("order") === "asc";
  const frameworkId = query.get("framework_id");
  const taskId = query.get("task_id");
  const tasks: Task[] = [];
  for (const f of [...m.frameworks.values(), ...m.completedFrameworks]) {
    if (frameworkId !== null && f.id !== frameworkId) continue;
    for (const t of allTasks(f)) {
      if (taskId === null || t.task_id.value === taskId) tasks.push(t);
    }
  }
  // By the first status' time; tasks without statuses come first when ascending, last otherwise.
  tasks.sort((a, b) => {
    const ta = firstTimestamp(a);
    const tb = firstTimestamp(b);
    if (ta === undefined && tb === undefined) return 0;
    if (ta === undefined) return ascending ? -1 : 1;
    if (tb === undefined) return ascending ? 1 : -1;
    return ascending ? ta - tb : tb - ta;
  });
  const [start, end] = pageBounds(limit, offset, tasks.length);
  return { tasks: tasks.slice(start, end).map(taskJson) };
}

/** A JSON read with `?jsonp=`; any method, as Mesos' read endpoints do not check it. */
export function jsonRead(
  build: (request: HttpRequest) => unknown,
): (request: HttpRequest) => HttpResponse {
  return (request) => jsonResponse(request, JSON.stringify(build(request)));
}

/** `/roles`. */
export function rolesHandler(
  m: Master,
  weights: RoleWeights,
): (request: HttpRequest) => HttpResponse {
  return jsonRead(() => rolesJson(m, weights));
}

const weightInfoCodec = codecFor<WeightInfo>("mesos.v1.WeightInfo");

/** `/weights`: GET lists `[{weight, role}]`; PUT takes the same array. */
export function weightsHandler(
  m: Master,
  weights: RoleWeights,
  changed: () => void,
): (request: HttpRequest) => HttpResponse | Promise<HttpResponse> {
  return (request) => {
    if (request.method === "GET") return jsonResponse(request, JSON.stringify(weights.list()));
    if (request.method !== "PUT") return methodNotAllowed(["GET", "PUT"], request.method);
    const infos = parseWeightsBody(request.text());
    if (!infos.ok) return infos.response;
    changed();
    return weights.update(infos.value, m.config.roleWhitelist).then((error) => {
      if (error === undefined) rescindOffersAfterWeights(m, infos.value);
      return weightsReply(error);
    });
  };
}

/**
 * The body of `PUT /weights` as WeightInfos, or the 400 Mesos answers for
 * it (its wording). The security layer reads the body the same way.
 */
export function parseWeightsBody(
  body: string,
): { ok: true; value: WeightInfo[] } | { ok: false; response: HttpResponse } {
  const refuse = (message: string) => ({ ok: false as const, response: badRequest(message) });
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch (e) {
    return refuse(`Failed to parse update weights request JSON '${body}': ${(e as Error).message}`);
  }
  const infos: WeightInfo[] = [];
  if (!Array.isArray(parsed)) {
    return refuse(
      `Failed to parse update weights request JSON '${body}': Unexpected JSON type parsed`,
    );
  }
  for (const item of parsed) {
    // As Mesos' JSON-to-protobuf conversion words it.
    const decoded =
      typeof item === "object" && item !== null && !Array.isArray(item)
        ? weightInfoCodec.decodeJson(item)
        : undefined;
    if (decoded === undefined || !decoded.ok) {
      const why = decoded === undefined ? "Expecting a JSON object" : decoded.error.stout;
      return refuse(`Failed to convert weights JSON array to protobuf '${body}': ${why}`);
    }
    infos.push(decoded.value);
  }
  return { ok: true, value: infos };
}

/** `/teardown`: POST with form body `frameworkId=<id>`. */
export function teardownHandler(
  m: Master,
  changed: () => void,
): (request: HttpRequest) => HttpResponse {
  return (request) => {
    const bad = checkMethod(request, ["POST"]);
    if (bad !== undefined) return bad;
    const form = decodeForm(request.text());
    if (!form.ok) return badRequest(`Unable to decode query string: ${form.error}`);
    const id = form.value.get("frameworkId");
    if (id === undefined) {
      return badRequest("Missing 'frameworkId' query parameter in the request body");
    }
    const framework = m.frameworks.get(id);
    if (framework === undefined) return badRequest("No framework found with specified ID");
    changed();
    m.teardown(framework);
    return ok();
  };
}
