/**
 * A master core wired to fakes for unit tests: a ManualClock, captured
 * messages to agents, scheduler streams that record events, and the real
 * allocator, whose cycles the test runs by hand (`allocate()`).
 */
import { MasterIds } from "../../src/common/ids/index.js";
import type {
  RegisterSlaveMessage,
  Registry,
  SlaveInfo,
  StatusUpdate,
} from "../../src/common/protocol/generated/mesos-internal.js";
import type {
  FrameworkInfo,
  Resource,
  Task,
} from "../../src/common/protocol/generated/mesos-v1.js";
import type { Event } from "../../src/common/protocol/generated/mesos-v1-scheduler.js";
import type { MessageTypeMap, MessageTypeName } from "../../src/common/protocol/index.js";
import { resourcesFromString } from "../../src/common/resources/index.js";
import { ManualClock } from "../../src/common/time/clock.js";
import { seededRandom } from "../../src/common/time/random.js";
import { HierarchicalAllocator } from "../../src/master/allocator/index.js";
import { defaultMasterConfig, type MasterConfig } from "../../src/master/core/config.js";
import type { SchedulerStream } from "../../src/master/core/io.js";
import { Master } from "../../src/master/core/master.js";
import { buildMasterInfo } from "../../src/master/master-info.js";
import { InMemoryRegistrar } from "../../src/master/registrar/in-memory.js";
import type { Registrar, RegistryOperation } from "../../src/master/registrar/registrar.js";

/** A message the master sent to an agent. */
export interface SentMessage {
  pid: string;
  type: string;
  message: unknown;
}

/** A scheduler stream that keeps what it was sent. */
export class FakeStream implements SchedulerStream {
  readonly events: Event[] = [];
  closed = false;
  constructor(readonly streamId: string) {}
  send(event: Event): void {
    if (!this.closed) this.events.push(event);
  }
  close(): void {
    this.closed = true;
  }
  ofType(type: string): Event[] {
    return this.events.filter((e) => e.type === type);
  }
  last(type: string): Event | undefined {
    const all = this.ofType(type);
    return all[all.length - 1];
  }
  /** Every UPDATE status, oldest first. */
  statuses() {
    return this.ofType("UPDATE").map((e) => e.update?.status);
  }
}

export const MASTER_ID = "11111111-2222-3333-4444-555555555555";
export const AGENT_PID = "slave(1)@127.0.0.1:5051";

export interface Fixture {
  master: Master;
  clock: ManualClock;
  sent: SentMessage[];
  links: string[];
  /** Runs one allocation cycle and hands the offers to the master. */
  allocate(): void;
  /** Lets registrar promises settle. */
  settle(): Promise<void>;
  /** Messages of one type sent to agents. */
  sentOfType<K extends MessageTypeName>(type: K): MessageTypeMap[K][];
}

export function makeMaster(overrides: Partial<MasterConfig> = {}): Fixture {
  const clock = new ManualClock();
  const random = seededRandom(7);
  const sent: SentMessage[] = [];
  const links: string[] = [];
  const allocator = new HierarchicalAllocator({ clock, random });
  const info = buildMasterInfo({
    id: MASTER_ID,
    ip: "127.0.0.1",
    port: 5050,
    hostname: "master-host",
  });
  const master = new Master({
    config: { ...defaultMasterConfig(info), ...overrides },
    clock,
    random,
    logger: { info: () => {}, warn: () => {}, error: () => {}, verbose: () => {} },
    io: {
      sendToAgent: (pid, type, message) => sent.push({ pid, type, message }),
      linkAgent: (pid) => links.push(pid),
    },
    allocator,
    registrar: new InMemoryRegistrar(),
    ids: new MasterIds(MASTER_ID),
  });
  return {
    master,
    clock,
    sent,
    links,
    allocate: () => master.offer(allocator.allocate().offers),
    settle: () => new Promise((resolve) => setImmediate(resolve)),
    sentOfType: <K extends MessageTypeName>(type: K) =>
      sent.filter((s) => s.type === type).map((s) => s.message as MessageTypeMap[K]),
  };
}

export function frameworkInfo(extra: Partial<FrameworkInfo> = {}): FrameworkInfo {
  return { user: "alice", name: "test-framework", ...extra };
}

/** Subscribes a framework on a new stream; returns the stream and the framework id. */
export function subscribe(
  f: Fixture,
  info: FrameworkInfo = frameworkInfo(),
  streamId = `stream-${Math.random()}`,
): { stream: FakeStream; frameworkId: string } {
  const stream = new FakeStream(streamId);
  f.master.subscribe(stream, { framework_info: info });
  const id = stream.events[0]?.subscribed?.framework_id.value ?? "";
  return { stream, frameworkId: id };
}

export function resources(text: string): Resource[] {
  const parsed = resourcesFromString(text);
  if (!parsed.ok) throw new Error(parsed.error);
  return parsed.value as Resource[];
}

/** Task `taskId` of `framework` running on agent `agentId` (1 cpu, 64 MB), as an agent reports it. */
export function runningTask(agentId: string, framework: FrameworkInfo, taskId: string): Task {
  return {
    name: taskId,
    task_id: { value: taskId },
    framework_id: { value: framework.id?.value ?? "" },
    agent_id: { value: agentId },
    state: "TASK_RUNNING",
    resources: resources("cpus:1;mem:64"),
  };
}

/** Whether a promise has settled, without waiting for it. */
export function tracked<T>(promise: Promise<T>): { done: () => boolean; promise: Promise<T> } {
  let done = false;
  void promise.finally(() => {
    done = true;
  });
  return { done: () => done, promise };
}

/** Registers an agent and lets the registrar answer; returns its id. */
export async function registerAgent(
  f: Fixture,
  text = "cpus:4;mem:1024;disk:1024;ports:[31000-32000]",
  pid = AGENT_PID,
  hostname = "agent-host",
): Promise<string> {
  const message: RegisterSlaveMessage = {
    slave: { hostname, port: 5051, resources: resources(text), checkpoint: true },
    version: "1.12.0",
    agent_capabilities: [
      { type: "MULTI_ROLE" },
      { type: "HIERARCHICAL_ROLE" },
      { type: "RESERVATION_REFINEMENT" },
      { type: "TASK_RESOURCE_LIMITS" },
    ],
  };
  f.master.registerAgent(pid, message);
  await f.settle();
  const registered = f.sentOfType("mesos.internal.SlaveRegisteredMessage");
  const last = registered[registered.length - 1];
  if (last === undefined) throw new Error("agent did not register");
  return last.slave_id.value;
}

/** A status update as an agent sends it. */
export function agentUpdate(
  frameworkId: string,
  agentId: string,
  taskId: string,
  state: StatusUpdate["status"]["state"],
  uuidByte = 1,
): { update: StatusUpdate; pid: string } {
  const uuid = new Uint8Array(16).fill(uuidByte);
  return {
    pid: AGENT_PID,
    update: {
      framework_id: { value: frameworkId },
      slave_id: { value: agentId },
      status: {
        task_id: { value: taskId },
        state,
        source: "SOURCE_EXECUTOR",
        agent_id: { value: agentId },
        uuid,
      },
      timestamp: 1,
      uuid,
      latest_state: state,
    },
  };
}

/** An in-memory registrar whose writes a test can hold back or make fail. */
export class HeldRegistrar implements Registrar {
  readonly durable = true;
  readonly name = "held";
  readonly inner = new InMemoryRegistrar();
  hold = false;
  /** The next write fails with this message. */
  failNext: string | undefined;
  /** Writes of this kind fail. */
  failKind: RegistryOperation["kind"] | undefined;
  private held: (() => void)[] = [];

  recover(): Promise<Registry> {
    return this.inner.recover();
  }
  snapshot(): Registry {
    return this.inner.snapshot();
  }
  apply(operation: RegistryOperation): Promise<boolean> {
    const failure = this.failNext;
    this.failNext = undefined;
    if (failure !== undefined) return Promise.reject(new Error(failure));
    if (operation.kind === this.failKind) return Promise.reject(new Error("refused"));
    if (!this.hold) return this.inner.apply(operation);
    return new Promise((resolve, reject) => {
      this.held.push(() => this.inner.apply(operation).then(resolve, reject));
    });
  }
  /** Lets the held writes complete. */
  release(): void {
    this.hold = false;
    const held = this.held;
    this.held = [];
    for (const write of held) write();
  }
}

/** The SlaveInfo of a checkpointing agent `id` with cpus:4;mem:1024, as stored in a registry. */
export function storedAgentInfo(id: string): SlaveInfo {
  return {
    hostname: `host-${id}`,
    port: 5051,
    id: { value: id },
    resources: resources("cpus:4;mem:1024"),
    checkpoint: true,
  };
}

/**
 * A master with `registrar`, long agent timeouts (recovery tests drive
 * re-registration by hand), messages to agents captured in `sent`.
 */
export function recoveringMaster(options: {
  registrar: Registrar;
  seed: number;
  sent: SentMessage[];
  onFatal: (message: string) => void;
}): { master: Master; clock: ManualClock; allocator: HierarchicalAllocator } {
  const clock = new ManualClock();
  const random = seededRandom(options.seed);
  const allocator = new HierarchicalAllocator({ clock, random });
  const master = new Master({
    config: {
      ...defaultMasterConfig(
        buildMasterInfo({ id: MASTER_ID, ip: "127.0.0.1", port: 5050, hostname: "m" }),
      ),
      agentReregisterTimeoutMs: 600_000,
      agentPingTimeoutMs: 1_000_000,
    },
    clock,
    random,
    logger: { info: () => {}, warn: () => {}, error: () => {}, verbose: () => {} },
    io: {
      sendToAgent: (pid, type, message) => options.sent.push({ pid, type, message }),
      linkAgent: () => {},
    },
    allocator,
    registrar: options.registrar,
    ids: new MasterIds(MASTER_ID),
    onFatal: options.onFatal,
  });
  return { master, clock, allocator };
}
