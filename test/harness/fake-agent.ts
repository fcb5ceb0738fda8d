/**
 * Fake agents for tests.
 *
 * `OperationFakeAgent` speaks libprocess to a real master as an agent that
 * takes operations itself: it registers with a `resource_version_uuid` and
 * the feedback capabilities, records ApplyOperationMessage,
 * AcknowledgeOperationStatusMessage and ReconcileOperationsMessage, and lets
 * a test answer with UpdateOperationStatusMessage / UpdateSlaveMessage.
 *
 * `FakeAgent` is a stand-in for the agent's executor API (`POST /api/v1/executor`), for
 * testing executors before the real agent exists. It answers SUBSCRIBE with
 * a RecordIO stream starting with SUBSCRIBED, records every call, and lets
 * a test push events (LAUNCH, KILL, ACKNOWLEDGED, SHUTDOWN, raw bytes),
 * withhold acknowledgements, refuse subscriptions or drop the stream.
 * Replace with the real agent once it lands.
 */
import { EventEmitter } from "node:events";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { silentLogger } from "../../src/common/observability/logger.js";
import { ProcessBase } from "../../src/common/process/process-base.js";
import { ProcessHost } from "../../src/common/process/process-host.js";
import { parseUpid, type Upid } from "../../src/common/process/upid.js";
import type {
  ApplyOperationMessage,
  UpdateOperationStatusMessage,
} from "../../src/common/protocol/generated/mesos-internal.js";
import type {
  Operation,
  OperationState,
  Resource,
} from "../../src/common/protocol/generated/mesos-v1.js";
import {
  codecFor,
  type MessageTypeMap,
  type MessageTypeName,
} from "../../src/common/protocol/index.js";
import { encodeRecord } from "../../src/common/recordio/encoder.js";
import { SystemClock } from "../../src/common/time/clock.js";
import type {
  ExecutorCall,
  IdValue,
  KillPolicy,
  TaskInfo,
  TaskStatus,
} from "../../src/executor/protocol.js";
import { waitFor } from "./processes.js";

/** One SUBSCRIBE the agent received. */
export interface SubscribeRecord {
  call: Extract<ExecutorCall, { type: "SUBSCRIBE" }>;
  /** `performance.now()` when the request arrived. */
  at: number;
}

export interface FakeAgentOptions {
  frameworkId?: string;
  /** FrameworkInfo.capabilities types, e.g. `["TASK_KILLING_STATE"]`. */
  frameworkCapabilities?: string[];
  /** Send ACKNOWLEDGED for every UPDATE as soon as it arrives (default true). */
  autoAcknowledge?: boolean;
}

/** The fake agent. Start with `FakeAgent.start()`, end with `stop()`. */
export class FakeAgent {
  static async start(options: FakeAgentOptions = {}): Promise<FakeAgent> {
    const agent = new FakeAgent(options);
    await new Promise<void>((resolve) => agent.server.listen(0, "127.0.0.1", resolve));
    return agent;
  }

  readonly frameworkId: string;
  autoAcknowledge: boolean;
  frameworkCapabilities: string[];
  /** Answer the next N SUBSCRIBEs with this status (e.g. 503) instead of subscribing. */
  rejectSubscribes: { count: number; status: number } = { count: 0, status: 503 };
  /** Answer the next N UPDATEs 503, as an agent that has not finished its recovery. */
  rejectUpdates = 0;
  /** Answer the next MESSAGE with this status and reason instead of taking it. */
  rejectMessage: { status: number; reason: string } | undefined;

  readonly subscribes: SubscribeRecord[] = [];
  /** Statuses of all UPDATE calls, in arrival order. */
  readonly updates: TaskStatus[] = [];
  readonly messages: string[] = [];
  readonly heartbeats: number[] = [];
  /** Calls answered with an error, with the reason. */
  readonly rejectedCalls: { status: number; reason: string }[] = [];

  private readonly server: Server;
  /** Open event streams by executor id; `latest` is where events go by default. */
  private readonly streams = new Map<string, ServerResponse>();
  private latest: string | undefined;
  private readonly changed = new EventEmitter();
  private readonly sockets = new Set<import("node:net").Socket>();

  private constructor(options: FakeAgentOptions) {
    this.frameworkId = options.frameworkId ?? "fake-framework-0000";
    this.autoAcknowledge = options.autoAcknowledge ?? true;
    this.frameworkCapabilities = options.frameworkCapabilities ?? [];
    this.changed.setMaxListeners(100);
    this.server = createServer((req, res) => this.handle(req, res));
    this.server.on("connection", (s) => {
      this.sockets.add(s);
      s.on("close", () => this.sockets.delete(s));
    });
  }

  /** `ip:port` for MESOS_AGENT_ENDPOINT. */
  get endpoint(): string {
    const a = this.server.address() as AddressInfo;
    return `127.0.0.1:${a.port}`;
  }

  /** True while an executor's event stream is open (the latest one, or `executorId`'s). */
  subscribed(executorId?: string): boolean {
    const id = executorId ?? this.latest;
    return id !== undefined && this.streams.has(id);
  }

  private notify(): void {
    this.changed.emit("change");
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      if (req.method !== "POST" || !/^(\/slave\(1\))?\/api\/v1\/executor$/.test(req.url ?? "")) {
        res.writeHead(404).end();
        return;
      }
      let call: ExecutorCall;
      try {
        call = JSON.parse(Buffer.concat(chunks).toString()) as ExecutorCall;
      } catch {
        this.reject(res, 400, "Failed to parse body into JSON");
        return;
      }
      this.dispatch(call, res);
    });
  }

  private reject(res: ServerResponse, status: number, reason: string): void {
    this.rejectedCalls.push({ status, reason });
    res.writeHead(status, { "Content-Type": "text/plain" }).end(reason);
    this.notify();
  }

  private dispatch(call: ExecutorCall, res: ServerResponse): void {
    switch (call.type) {
      case "SUBSCRIBE": {
        if (call.subscribe === undefined) {
          this.reject(res, 400, "Expecting 'subscribe' to be present");
          return;
        }
        if (this.rejectSubscribes.count > 0) {
          this.rejectSubscribes.count--;
          this.reject(res, this.rejectSubscribes.status, "Agent is recovering");
          return;
        }
        this.subscribes.push({ call, at: performance.now() });
        const id = call.executor_id.value;
        this.streams.get(id)?.end();
        res.writeHead(200, { "Content-Type": "application/json" });
        this.streams.set(id, res);
        this.latest = id;
        res.on("close", () => {
          if (this.streams.get(id) === res) this.streams.delete(id);
          this.notify();
        });
        this.send(
          {
            type: "SUBSCRIBED",
            subscribed: {
              executor_info: {
                executor_id: call.executor_id,
                framework_id: call.framework_id,
                command: { value: "mesos-executor" },
              },
              framework_info: {
                id: { value: this.frameworkId },
                user: "nobody",
                name: "fake-framework",
                capabilities: this.frameworkCapabilities.map((type) => ({ type })),
              },
              agent_info: { hostname: "localhost", id: { value: "fake-agent-S0" }, port: 5051 },
              container_id: { value: "fake-container" },
            },
          },
          id,
        );
        this.notify();
        return;
      }
      case "UPDATE": {
        if (this.rejectUpdates > 0) {
          this.rejectUpdates--;
          this.reject(res, 503, "Agent has not finished recovery");
          return;
        }
        const uuid = call.update?.status?.uuid;
        if (uuid === undefined || Buffer.from(uuid, "base64").length !== 16) {
          this.reject(res, 400, "Invalid UUID in status update");
          return;
        }
        res.writeHead(202).end();
        this.updates.push(call.update.status);
        if (this.autoAcknowledge) this.acknowledge(call.update.status, call.executor_id.value);
        this.notify();
        return;
      }
      case "MESSAGE":
        if (this.rejectMessage !== undefined) {
          const { status, reason } = this.rejectMessage;
          this.rejectMessage = undefined;
          this.reject(res, status, reason);
          return;
        }
        res.writeHead(202).end();
        this.messages.push(call.message.data);
        this.notify();
        return;
      case "HEARTBEAT":
        res.writeHead(202).end();
        this.heartbeats.push(Date.now());
        this.notify();
        return;
      default:
        this.reject(res, 400, "Unknown call type");
        return;
    }
  }

  private streamOf(executorId: string | undefined): ServerResponse {
    const id = executorId ?? this.latest;
    const stream = id === undefined ? undefined : this.streams.get(id);
    if (stream === undefined) throw new Error(`executor '${id ?? "?"}' is not subscribed`);
    return stream;
  }

  /**
   * Writes one event (any JSON value) to an executor's stream. Event
   * methods take an optional executor id; the default is the executor that
   * subscribed last.
   */
  send(event: unknown, executorId?: string): void {
    this.sendRaw(JSON.stringify(event), executorId);
  }

  /** Writes one RecordIO record with arbitrary content. */
  sendRaw(record: string, executorId?: string): void {
    this.streamOf(executorId).write(encodeRecord(record));
  }

  /** Writes bytes to the stream without any framing. */
  sendBytes(bytes: string, executorId?: string): void {
    this.streamOf(executorId).write(bytes);
  }

  launch(task: TaskInfo, executorId?: string): void {
    this.send({ type: "LAUNCH", launch: { task } }, executorId);
  }

  kill(taskId: IdValue | string, killPolicy?: KillPolicy, executorId?: string): void {
    const task_id = typeof taskId === "string" ? { value: taskId } : taskId;
    const kill = killPolicy === undefined ? { task_id } : { task_id, kill_policy: killPolicy };
    this.send({ type: "KILL", kill }, executorId);
  }

  shutdown(executorId?: string): void {
    this.send({ type: "SHUTDOWN" }, executorId);
  }

  acknowledge(status: TaskStatus, executorId?: string): void {
    const acknowledged = { task_id: status.task_id, uuid: status.uuid };
    this.send({ type: "ACKNOWLEDGED", acknowledged }, executorId ?? status.executor_id?.value);
  }

  /** Ends every event stream and drops all connections, as a restarting agent would. */
  dropConnections(): void {
    for (const stream of this.streams.values()) stream.destroy();
    this.streams.clear();
    for (const s of this.sockets) s.destroy();
  }

  /**
   * Resolves with the first truthy value of `probe`, checked after every
   * change and every 20 ms (for probes of files such as an executor's log).
   */
  waitFor<T>(what: string, probe: () => T | undefined | false, timeoutMs = 10_000): Promise<T> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const v = probe();
        if (v === undefined || v === false) return false;
        cleanup();
        resolve(v);
        return true;
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      const poll = setInterval(check, 20);
      const cleanup = (): void => {
        clearTimeout(timer);
        clearInterval(poll);
        this.changed.off("change", check);
      };
      if (!check()) this.changed.on("change", check);
    });
  }

  /** Waits for an update of `taskId` in `state`. */
  waitForUpdate(state: string, taskId?: string, timeoutMs?: number): Promise<TaskStatus> {
    return this.waitFor(
      `${state}${taskId === undefined ? "" : ` of ${taskId}`}`,
      () =>
        this.updates.find(
          (u) => u.state === state && (taskId === undefined || u.task_id.value === taskId),
        ),
      timeoutMs,
    );
  }

  /** Waits until `n` SUBSCRIBEs have been accepted. */
  waitForSubscribe(n = 1, timeoutMs?: number): Promise<SubscribeRecord> {
    return this.waitFor(`subscription #${n}`, () => this.subscribes[n - 1], timeoutMs);
  }

  /** Closes everything. */
  async stop(): Promise<void> {
    this.dropConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** What an OperationFakeAgent registers with. */
export interface OperationAgentOptions {
  /** Sent as `resource_version_uuid` (16 bytes); `null` registers without one. */
  resourceVersion?: Uint8Array | null;
  /** Capabilities besides MULTI_ROLE, HIERARCHICAL_ROLE and RESERVATION_REFINEMENT. */
  capabilities?: string[];
}

/** Message types an OperationFakeAgent records. */
const OPERATION_AGENT_RECORDS = [
  "mesos.internal.SlaveRegisteredMessage",
  "mesos.internal.SlaveReregisteredMessage",
  "mesos.internal.ApplyOperationMessage",
  "mesos.internal.AcknowledgeOperationStatusMessage",
  "mesos.internal.ReconcileOperationsMessage",
  "mesos.internal.CheckpointResourcesMessage",
  "mesos.internal.ShutdownMessage",
] as const;

/** A libprocess agent (`slave(1)` in a host of its own) that takes operations. */
export class OperationFakeAgent {
  readonly received: { type: string; message: unknown }[] = [];
  agentId = "";
  readonly resourceVersion: Uint8Array | undefined;
  readonly capabilities: string[];

  private constructor(
    readonly host: ProcessHost,
    readonly process: ProcessBase,
    readonly master: Upid,
    options: OperationAgentOptions,
  ) {
    this.resourceVersion =
      options.resourceVersion === null
        ? undefined
        : (options.resourceVersion ?? new Uint8Array(16).fill(0x5a));
    this.capabilities = options.capabilities ?? ["RESOURCE_PROVIDER", "AGENT_OPERATION_FEEDBACK"];
  }

  static async start(
    masterAddress: string,
    options: OperationAgentOptions = {},
  ): Promise<OperationFakeAgent> {
    const host = new ProcessHost({
      logger: silentLogger,
      clock: new SystemClock(),
      listen: {
        bindIp: "127.0.0.1",
        bindPort: 0,
        advertiseIp: undefined,
        advertisePort: undefined,
      },
    });
    await host.start();
    const process = new ProcessBase("slave(1)");
    const master = parseUpid(`master@${masterAddress}`);
    if (!master.ok) throw master.error;
    const agent = new OperationFakeAgent(host, process, master.value, options);
    for (const type of OPERATION_AGENT_RECORDS) {
      const codec = codecFor(type);
      process.install(
        type,
        (bytes) => {
          const r = codec.decodeProtobuf(bytes);
          return r.ok ? { ok: true, value: r.value } : { ok: false, error: r.error };
        },
        (_from, message) => {
          agent.received.push({ type, message });
          if (type === "mesos.internal.SlaveRegisteredMessage") {
            agent.agentId = (message as MessageTypeMap[typeof type]).slave_id.value;
          }
        },
      );
    }
    process.install(
      "mesos.internal.PingSlaveMessage",
      () => ({ ok: true, value: {} }),
      () => agent.send("mesos.internal.PongSlaveMessage", {}),
    );
    host.spawn(process);
    return agent;
  }

  send<K extends MessageTypeName>(type: K, message: MessageTypeMap[K]): void {
    this.process.send(this.master, type, codecFor(type).encodeProtobuf(message));
  }

  private registration(resources: Resource[]) {
    return {
      slave: { hostname: "fake-agent", port: this.host.port, resources, checkpoint: true },
      version: "1.12.0",
      agent_capabilities: ["MULTI_ROLE", "HIERARCHICAL_ROLE", "RESERVATION_REFINEMENT"]
        .concat(this.capabilities)
        .map((type) => ({ type: type as never })),
      ...(this.resourceVersion === undefined
        ? {}
        : { resource_version_uuid: { value: this.resourceVersion } }),
    };
  }

  /** Registers with the given resources and waits for the agent id. */
  async register(resources: Resource[]): Promise<string> {
    this.send("mesos.internal.RegisterSlaveMessage", this.registration(resources));
    await waitFor("the agent to register", () => this.agentId !== "");
    return this.agentId;
  }

  /** Re-registers (as after an agent restart) and waits for the answer. */
  async reregister(resources: Resource[]): Promise<void> {
    const before = this.ofType("mesos.internal.SlaveReregisteredMessage").length;
    const { slave, ...rest } = this.registration(resources);
    this.send("mesos.internal.ReregisterSlaveMessage", {
      ...rest,
      slave: { ...slave, id: { value: this.agentId } },
    });
    await waitFor(
      "the agent to re-register",
      () => this.ofType("mesos.internal.SlaveReregisteredMessage").length > before,
    );
  }

  /** UpdateSlaveMessage listing `operations` as the agent's. */
  updateSlave(operations: Operation[]): void {
    this.send("mesos.internal.UpdateSlaveMessage", {
      slave_id: { value: this.agentId },
      update_oversubscribed_resources: false,
      operations: { operations },
      ...(this.resourceVersion === undefined
        ? {}
        : { resource_version_uuid: { value: this.resourceVersion } }),
    });
  }

  /**
   * Reports the outcome of an applied operation (sent reliably: with a
   * status uuid, returned for the acknowledgement check).
   */
  reportStatus(apply: ApplyOperationMessage, state: OperationState): Uint8Array {
    const uuid = Uint8Array.from(Buffer.from(randomUuidHex(), "hex"));
    const status = {
      ...(apply.operation_info.id === undefined ? {} : { operation_id: apply.operation_info.id }),
      state,
      uuid: { value: uuid },
      agent_id: { value: this.agentId },
    };
    const message: UpdateOperationStatusMessage = {
      ...(apply.framework_id === undefined ? {} : { framework_id: apply.framework_id }),
      slave_id: { value: this.agentId },
      status,
      latest_status: status,
      operation_uuid: apply.operation_uuid,
    };
    this.send("mesos.internal.UpdateOperationStatusMessage", message);
    return uuid;
  }

  /** Messages of one type received so far. */
  ofType<K extends MessageTypeName>(type: K): MessageTypeMap[K][] {
    return this.received.filter((r) => r.type === type).map((r) => r.message as MessageTypeMap[K]);
  }

  /** Waits for the `n`th message of a type (1-based). */
  nth<K extends MessageTypeName>(type: K, n = 1): Promise<MessageTypeMap[K]> {
    return waitFor(`${n} ${type}`, () => this.ofType(type)[n - 1], { timeoutMs: 30_000 });
  }

  stop(): Promise<void> {
    return this.host.stop();
  }
}

function randomUuidHex(): string {
  return globalThis.crypto.randomUUID().replace(/-/g, "");
}
