/**
 * The big read documents of the master, built in slices from cached
 * fragments (see state-cache.ts): `/master/state` (v0 JSON) and the
 * `get_state` object of v1 GET_STATE and SUBSCRIBED (v1 JSON).
 *
 * Task fragments are the bulk (ten or more per agent); each is rendered
 * once and kept until the task changes (`MasterEvents.taskUpdated`).
 * v1 fragments use plain `JSON.stringify` on the message objects (their
 * only bytes fields, status uuids, are turned into base64 first), which
 * gives the same JSON as the protobuf codec at a fraction of its cost; a
 * unit test holds the two equal.
 */
import { GzipPartCache } from "../../common/http/gzip-parts.js";
import type { ResponseStream } from "../../common/http/response.js";
import type { AgentInfo, Task, TaskStatus } from "../../common/protocol/generated/mesos-v1.js";
import { codecFor } from "../../common/protocol/index.js";
import { isTerminalState } from "../../common/protocol/task-states.js";
import { drainInfoOf, drainJson, drainStartOf } from "../core/drain.js";
import type { Master } from "../core/master.js";
import type { AgentRecord, FrameworkRecord } from "../core/records.js";
import {
  type Document,
  DocumentCache,
  FragmentCache,
  ItemRuns,
  PartsWriter,
  RunCache,
  Slicer,
  StateVersion,
  TurnGate,
  writeParts,
} from "./state-cache.js";
import {
  agentJson,
  frameworkHeadJson,
  frameworkTailJson,
  recoveredAgentJson,
  type StateContext,
  stateHeadJson,
  taskJson,
} from "./state-json.js";
import { RevisionCache, Revisions, type SignatureSink } from "./state-revisions.js";
import { agentMessage, executorMessages, frameworkMessage } from "./v1-state.js";

function base64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");
}

function statusForJson(status: TaskStatus): unknown {
  if (status.uuid === undefined && status.data === undefined) return status;
  const out: Record<string, unknown> = { ...status };
  if (status.uuid !== undefined) out.uuid = base64(status.uuid);
  if (status.data !== undefined) out.data = base64(status.data);
  return out;
}

/** A task as v1 JSON (what `codecFor("mesos.v1.Task").encodeJson` gives, faster). */
export function v1TaskJson(original: Task): string {
  // Unset fields with a proto default show it, as in the codec's (and Mesos') JSON.
  const task = taskCodec.withJsonDefaults(original);
  const copy: Record<string, unknown> = { ...task };
  if (task.status_update_uuid !== undefined) {
    copy.status_update_uuid = base64(task.status_update_uuid);
  }
  if (task.statuses !== undefined) {
    if (task.statuses.length === 0) delete copy.statuses;
    else copy.statuses = task.statuses.map(statusForJson);
  }
  return JSON.stringify(copy);
}

/** Drops empty arrays (the codec leaves empty repeated fields out). */
function withoutEmpty(value: Record<string, unknown>): Record<string, unknown> {
  for (const [k, v] of Object.entries(value)) {
    if (Array.isArray(v) && v.length === 0) delete value[k];
  }
  return value;
}

const executorCodec = codecFor("mesos.v1.master.Response.GetExecutors.Executor");
const taskCodec = codecFor("mesos.v1.Task");
const agentCodec = codecFor("mesos.v1.master.Response.GetAgents.Agent");
const frameworkCodec = codecFor("mesos.v1.master.Response.GetFrameworks.Framework");
const agentInfoCodec = codecFor("mesos.v1.AgentInfo");

/** `Response.type = GET_STATE` (field 1, varint 8). */
const GET_STATE_TYPE = Buffer.from([0x08, 8]);

/** The key and length of a length-delimited protobuf field (field numbers below 16). */
export function lengthKey(field: number, length: number): Buffer {
  const bytes = [(field << 3) | 2];
  let n = length;
  while (n > 0x7f) {
    bytes.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  bytes.push(n);
  return Buffer.from(bytes);
}

function byteSize(parts: readonly Buffer[]): number {
  let n = 0;
  for (const p of parts) n += p.byteLength;
  return n;
}

/** One repeated message field of a section: field number, items, their bytes. */
type PbField = readonly [number, readonly unknown[], (item: never) => Buffer];

export interface StateDocumentsOptions {
  /** The change counter (shared with the edges that bump it); a new one by default. */
  readonly version?: StateVersion;
  /** Monotonic ms, for slicing. */
  readonly now: () => number;
  readonly yieldToEventLoop: () => Promise<void>;
  /** Called for each read served from a finished or running build. */
  readonly onCacheHit?: () => void;
  /** Longest synchronous stretch of a build slice or a write turn, ms (default 5). */
  readonly sliceMs?: number;
}

/** Default length of a build slice or write turn, ms. */
export const DEFAULT_SLICE_MS = 5;

/** The master's big documents, cached per state version. */
export class StateDocuments {
  readonly version: StateVersion;
  readonly cache: DocumentCache;
  /** Turns of the event loop shared by every build slice and response write. */
  readonly gate: TurnGate;
  /** Compressed document parts, for clients that accept gzip. */
  readonly gzip = new GzipPartCache();
  private readonly now: () => number;
  private readonly sliceMs: number;
  private readonly v0TaskRuns = new ItemRuns<Task>((t) => JSON.stringify(taskJson(t)), taskKey);
  private readonly v1TaskRuns = new ItemRuns<Task>(v1TaskJson, taskKey);
  /** Revisions of agents and frameworks, checked once per state version for every document. */
  private readonly agentRevisions: Revisions<AgentRecord>;
  private readonly frameworkRevisions: Revisions<FrameworkRecord>;
  private readonly v0Agents = new RevisionCache<AgentRecord>();
  private readonly v1Agents = new RevisionCache<AgentRecord>();
  /** v0 frameworks' keys before and after their task lists. */
  private readonly v0FrameworkHeads = new RevisionCache<FrameworkRecord>();
  private readonly v0FrameworkTails = new RevisionCache<FrameworkRecord>();
  /** Agents in runs too: an unchanged agent keeps its Buffer, so its run is reused. */
  private readonly v0AgentRuns = new RunCache<AgentRecord>(
    { get: (a) => this.v0Agent(a) },
    agentKey,
    5,
  );
  private readonly v1AgentRuns = new RunCache<AgentRecord>(
    { get: (a) => this.v1Agent(a) },
    agentKey,
    5,
  );
  private readonly v1Frameworks = new RevisionCache<FrameworkRecord>();
  private readonly pbTasks = new FragmentCache<Task>((t) => taskCodec.encodeProtobuf(t));
  private readonly pbAgents = new RevisionCache<AgentRecord>();
  private readonly v1AgentFixed = new WeakMap<
    AgentRecord,
    { info: AgentRecord["info"]; total: AgentRecord["totalResources"]; json: string }
  >();

  constructor(
    private readonly ctx: StateContext,
    options: StateDocumentsOptions,
  ) {
    this.version = options.version ?? new StateVersion();
    this.gate = new TurnGate(options.yieldToEventLoop);
    this.now = options.now;
    this.sliceMs = options.sliceMs ?? DEFAULT_SLICE_MS;
    this.agentRevisions = new Revisions(this.version, (agent, out) =>
      signAgent(ctx.master, agent, out),
    );
    this.frameworkRevisions = new Revisions(this.version, signFramework);
    this.cache = new DocumentCache(
      this.version,
      () => new Slicer(options.now, () => this.gate.turn(), this.sliceMs),
      options.onCacheHit,
    );
    const m = ctx.master;
    const forget = (task: Task): void => {
      this.v0TaskRuns.invalidate(task);
      this.v1TaskRuns.invalidate(task);
      this.pbTasks.invalidate(task);
    };
    m.events.listen({ taskUpdated: forget, taskChanged: forget });
  }

  private get master(): Master {
    return this.ctx.master;
  }

  /** `/master/state` as of now. */
  state(): Promise<Document> {
    return this.cache.get("state", (slicer) => this.buildState(slicer));
  }

  /** The v1 `get_state` object (JSON text parts) as of now. */
  getState(): Promise<Document> {
    return this.cache.get("v1-get-state", (slicer) => this.buildGetState(slicer));
  }

  /**
   * The whole v1 GET_STATE `Response` in protobuf as of now, built in
   * slices from per-task and per-agent protobuf fragments (length-delimited
   * fields concatenate, so only the section lengths are computed per build).
   */
  getStateProtobuf(): Promise<Document> {
    return this.cache.get("v1-get-state-protobuf", (slicer) => this.buildGetStateProtobuf(slicer));
  }

  /**
   * The `GetState` message alone in protobuf (no `Response` around it), from
   * the same cached document: for splicing into other messages (the operator
   * stream's SUBSCRIBED) without encoding the state in one piece.
   */
  async getStateProtobufMessage(): Promise<{
    parts: readonly Buffer[];
    bytes: number;
    version: number;
  }> {
    const doc = await this.getStateProtobuf();
    // The document is [type, get_state key and length, ...the GetState bytes].
    const parts = doc.parts.slice(2);
    return { parts, bytes: byteSize(parts), version: doc.version };
  }

  /** Writes a document (with any wrapping parts) to a response, in turns, and ends it. */
  send(stream: ResponseStream, parts: readonly (string | Uint8Array)[]): Promise<void> {
    return writeParts(stream, parts, this.gate, this.now, this.sliceMs);
  }

  /**
   * A document's parts gzip-encoded, in turns (for a response that says
   * `Content-Encoding: gzip`). Byte parts are compressed once and kept while
   * they are (see gzip-parts.ts), so a rebuilt document costs only its new parts.
   */
  gzipped(parts: readonly (string | Uint8Array)[]): Promise<Buffer[]> {
    return this.gzip.encode(parts, new Slicer(this.now, () => this.gate.turn(), this.sliceMs));
  }

  /**
   * Writes parts to a response in the same turns as `send`, leaving it open
   * (the operator stream's SUBSCRIBED, followed by events).
   */
  write(stream: ResponseStream, parts: readonly (string | Uint8Array)[]): Promise<void> {
    return writeParts(stream, parts, this.gate, this.now, this.sliceMs, false);
  }

  private async buildState(slicer: Slicer): Promise<Buffer[]> {
    const m = this.master;
    // Membership is taken now, so the document lists each entity once.
    const agents = [...m.agents.values()];
    const frameworks = [...m.frameworks.values()];
    const completed = [...m.completedFrameworks];
    const taskSets = new Map<FrameworkRecord, [Task[], Task[], Task[]]>();
    for (const f of [...frameworks, ...completed]) {
      taskSets.set(f, [
        [...f.tasks.values()],
        [...f.unreachableTasks.values()],
        [...f.completedTasks],
      ]);
    }
    const out = new PartsWriter();
    const head = JSON.stringify(stateHeadJson(this.ctx));
    out.write(head.slice(0, -1));
    out.write(',"slaves":');
    await this.v0AgentRuns.array(out, agents, slicer);
    out.write(',"recovered_slaves":');
    out.write(JSON.stringify([...m.recoveredAgents.values()].map(recoveredAgentJson)));
    out.write(',"frameworks":');
    await this.frameworksV0(out, frameworks, taskSets, slicer);
    out.write(',"completed_frameworks":');
    await this.frameworksV0(out, completed, taskSets, slicer);
    out.write(',"orphan_tasks":[],"unregistered_frameworks":[]}');
    return out.finish();
  }

  private async frameworksV0(
    out: PartsWriter,
    frameworks: readonly FrameworkRecord[],
    taskSets: Map<FrameworkRecord, [Task[], Task[], Task[]]>,
    slicer: Slicer,
  ): Promise<void> {
    out.write("[");
    let first = true;
    for (const f of frameworks) {
      const [tasks, unreachable, completed] = taskSets.get(f) ?? [[], [], []];
      const revision = this.frameworkRevisions.of(f);
      // Without its closing brace, and the tail without its opening one.
      const head = this.v0FrameworkHeads.get(f, revision, () =>
        JSON.stringify(frameworkHeadJson(f)).slice(0, -1),
      );
      const tail = this.v0FrameworkTails.get(f, revision, () =>
        JSON.stringify(frameworkTailJson(f)).slice(1),
      );
      if (!first) out.write(COMMA);
      out.write(head);
      first = false;
      out.write(',"tasks":');
      await this.v0TaskRuns.array(out, tasks, slicer);
      out.write(',"unreachable_tasks":');
      await this.v0TaskRuns.array(out, unreachable, slicer);
      out.write(',"completed_tasks":');
      await this.v0TaskRuns.array(out, completed, slicer);
      out.write(COMMA);
      out.write(tail);
      await slicer.maybePause();
    }
    out.write("]");
  }

  private v0Agent(agent: AgentRecord): Buffer {
    return this.v0Agents.get(agent, this.agentRevisions.of(agent), () =>
      JSON.stringify(
        agentJson(
          agent,
          this.master.deactivatedAgents.has(agent.id),
          drainJson(this.master, agent.id),
        ),
      ),
    );
  }

  /**
   * An agent's v1 JSON: the parts that change only with its registration
   * (agent_info, total_resources, capabilities) are rendered once per
   * registration; the rest every time.
   */
  private v1Agent(agent: AgentRecord): Buffer {
    return this.v1Agents.get(agent, this.agentRevisions.of(agent), () => this.v1AgentJson(agent));
  }

  private v1AgentJson(agent: AgentRecord): string {
    const m = this.master;
    let fixed = this.v1AgentFixed.get(agent);
    if (fixed === undefined || fixed.info !== agent.info || fixed.total !== agent.totalResources) {
      const message = agentCodec.withJsonDefaults(agentMessage(m, agent));
      const stable = withoutEmpty({
        agent_info: message.agent_info,
        total_resources: message.total_resources,
        capabilities: message.capabilities,
      });
      fixed = {
        info: agent.info,
        total: agent.totalResources,
        json: JSON.stringify(stable).slice(1, -1),
      };
      this.v1AgentFixed.set(agent, fixed);
    }
    const message = agentCodec.withJsonDefaults(agentMessage(m, agent, false));
    const rest = JSON.stringify(withoutEmpty({ ...message }));
    return `{${fixed.json},${rest.slice(1)}`;
  }

  /** Who is in a v1 document: taken at once, so each entity is listed once. */
  private v1Membership() {
    const m = this.master;
    const agents = [...m.agents.values()];
    const frameworks = [...m.frameworks.values()];
    const completedFrameworks = [...m.completedFrameworks];
    const all = [...frameworks, ...completedFrameworks];
    // Copied per framework (a builtin copy each; the lists may change while
    // the build is paused) and not joined: the JSON document writes them as
    // one array (`ItemRuns.arrays`), only protobuf joins them.
    const tasks = all.map((f) => [...f.tasks.values()]);
    const unreachable = all.map((f) => [...f.unreachableTasks.values()]);
    const completed = all.map((f) => [...f.completedTasks]);
    const executors = executorMessages(m);
    // Agents from the registry that have not re-registered since this master recovered.
    const recovered = [...m.recoveredAgents.values()];
    return {
      agents,
      recovered,
      frameworks,
      completedFrameworks,
      tasks,
      unreachable,
      completed,
      executors,
    };
  }

  /**
   * A framework's v1 JSON, rendered again only when what it shows changed.
   * The codec renders it (few frameworks, rarely changed): the offers inside
   * hold nested empty lists a plain `JSON.stringify` would print.
   */
  private v1Framework(f: FrameworkRecord): Buffer {
    return this.v1Frameworks.get(f, this.frameworkRevisions.of(f), () =>
      frameworkCodec.encodeJson(frameworkMessage(f)),
    );
  }

  private async buildGetStateProtobuf(slicer: Slicer): Promise<Buffer[]> {
    const membership = this.v1Membership();
    const { agents, recovered, frameworks, completedFrameworks, executors } = membership;
    const tasks = joined(membership.tasks);
    const unreachable = joined(membership.unreachable);
    const completed = joined(membership.completed);
    const section = async (fields: readonly PbField[]): Promise<Buffer[]> => {
      const out = new PartsWriter();
      for (const [field, items, render] of fields) {
        for (const item of items) {
          const bytes = render(item as never);
          out.write(lengthKey(field, bytes.byteLength));
          out.write(bytes);
          if (slicer.due) await slicer.pause();
        }
      }
      return out.finish();
    };
    const task = (t: Task): Buffer => this.pbTasks.get(t);
    const framework = (f: FrameworkRecord): Buffer =>
      frameworkCodec.encodeProtobuf(frameworkMessage(f));
    // GetState: get_tasks = 1, get_executors = 2, get_frameworks = 3, get_agents = 4.
    const sections: [number, Buffer[]][] = [
      // GetTasks: tasks = 2, completed_tasks = 3, unreachable_tasks = 5.
      [
        1,
        await section([
          [2, tasks, task],
          [3, completed, task],
          [5, unreachable, task],
        ]),
      ],
      [
        2,
        await section([
          [1, executors, (e: (typeof executors)[number]) => executorCodec.encodeProtobuf(e)],
        ]),
      ],
      [
        3,
        await section([
          [1, frameworks, framework],
          [2, completedFrameworks, framework],
        ]),
      ],
      // GetAgents: agents = 1, recovered_agents = 2.
      [
        4,
        await section([
          [1, agents, (a: AgentRecord) => this.pbAgent(a)],
          [2, recovered, (info: AgentInfo) => agentInfoCodec.encodeProtobuf(info)],
        ]),
      ],
    ];
    let stateBytes = 0;
    const body: Buffer[] = [];
    for (const [field, parts] of sections) {
      const key = lengthKey(field, byteSize(parts));
      stateBytes += key.byteLength + byteSize(parts);
      body.push(key, ...parts);
    }
    // Response: type = 1, get_state = 9.
    return [GET_STATE_TYPE, lengthKey(9, stateBytes), ...body];
  }

  private pbAgent(agent: AgentRecord): Buffer {
    return this.pbAgents.get(agent, this.agentRevisions.of(agent), () =>
      agentCodec.encodeProtobuf(agentMessage(this.master, agent)),
    );
  }

  private async buildGetState(slicer: Slicer): Promise<Buffer[]> {
    const {
      agents,
      recovered,
      frameworks,
      completedFrameworks,
      tasks,
      unreachable,
      completed,
      executors,
    } = this.v1Membership();
    // Every list is written, empty ones too, as Mesos' GET_STATE handler
    // does (its protobuf-to-JSON conversion elsewhere leaves them out).
    const out = new PartsWriter();
    const field = async (
      name: string,
      items: readonly unknown[],
      render: (item: never) => string | Buffer,
      first = false,
    ): Promise<void> => {
      out.write(`${first ? "" : ","}"${name}":`);
      await out.array(lazy(items as never[], render), slicer);
    };
    const taskField = async (name: string, lists: Task[][], first = false): Promise<void> => {
      out.write(`${first ? "" : ","}"${name}":`);
      await this.v1TaskRuns.arrays(out, lists, slicer);
    };
    out.write('{"get_tasks":{');
    await taskField("tasks", tasks, true);
    await taskField("unreachable_tasks", unreachable);
    await taskField("completed_tasks", completed);
    out.write('},"get_executors":{');
    await field(
      "executors",
      executors,
      (e: (typeof executors)[number]) => executorCodec.encodeJson(e),
      true,
    );
    out.write('},"get_frameworks":{');
    const fw = (f: FrameworkRecord): Buffer => this.v1Framework(f);
    await field("frameworks", frameworks, fw, true);
    await field("completed_frameworks", completedFrameworks, fw);
    out.write('},"get_agents":{"agents":');
    await this.v1AgentRuns.array(out, agents, slicer);
    out.write(',"recovered_agents":');
    out.write(JSON.stringify(recovered.map((info) => agentInfoCodec.toJsonValue(info))));
    out.write("}}");
    return out.finish();
  }
}

function agentKey(agent: AgentRecord): string {
  return agent.id;
}

/** A task's run key: its id (unique within its framework; a clash only moves a run boundary). */
function taskKey(task: Task): string {
  return task.task_id.value;
}

/** Stands for an absent resource list in signatures (a fresh `[]` would never compare equal). */
const NO_RESOURCES: readonly unknown[] = [];

const COMMA = Buffer.from(",");

/**
 * What an agent's documents are rendered from, compared by identity: its
 * registration, state, drain, and the resource lists of its running tasks,
 * executors and offers (task resource lists never change in place).
 */
function signAgent(m: Master, agent: AgentRecord, out: SignatureSink): void {
  out.add(agent.info);
  out.add(agent.pid);
  out.add(agent.version);
  out.add(agent.capabilities);
  out.add(agent.registeredTime);
  out.add(agent.reregisteredTime);
  out.add(agent.active);
  out.add(m.deactivatedAgents.has(agent.id));
  out.add(drainInfoOf(m, agent.id));
  out.add(drainStartOf(m, agent.id));
  out.add(agent.totalResources);
  // The lists `agentUsedLists` sums, in its order.
  for (const byId of agent.tasks.values()) {
    for (const task of byId.values()) {
      if (!isTerminalState(task.state)) out.add(task.resources ?? NO_RESOURCES);
    }
  }
  for (const byId of agent.executors.values()) {
    for (const executor of byId.values()) out.add(executor.resources ?? NO_RESOURCES);
  }
  out.add(null);
  for (const offer of agent.offers) out.add(offer.resources);
}

/**
 * What a framework's documents are rendered from, compared by identity:
 * its info and connection state, times, offer constraints, offers, the
 * resource lists of its running tasks and its executors.
 */
function signFramework(f: FrameworkRecord, out: SignatureSink): void {
  out.add(f.info);
  out.add(f.active);
  out.add(f.connection);
  out.add(f.registeredTime);
  out.add(f.reregisteredTime);
  out.add(f.unregisteredTime);
  out.add(f.offerConstraints);
  for (const offer of f.offers.values()) out.add(offer);
  out.add(null);
  // The lists `frameworkUsedLists` sums, in its order.
  for (const task of f.tasks.values()) {
    if (!isTerminalState(task.state) && task.state !== "TASK_UNREACHABLE") {
      out.add(task.resources ?? NO_RESOURCES);
    }
  }
  out.add(null);
  for (const [agentId, byId] of f.executors) {
    for (const executor of byId.values()) {
      out.add(agentId);
      out.add(executor);
      out.add(executor.resources ?? NO_RESOURCES);
    }
  }
}

/** One array of the items of `lists` (one builtin copy each, not a push per item). */
function joined<T>(lists: readonly T[][]): T[] {
  return ([] as T[]).concat(...lists);
}

/** Maps lazily, so each item is rendered inside the slice that writes it. */
function* lazy<T>(
  items: readonly T[],
  render: (item: T) => string | Buffer,
): Iterable<string | Buffer> {
  for (const item of items) yield render(item);
}
