/**
 * A stand-in for the agent's executor API (`POST /api/v1/executor`), for
 * testing executors before the real agent exists. It answers SUBSCRIBE with
 * a RecordIO stream starting with SUBSCRIBED, records every call, and lets
 * a test push events (LAUNCH, KILL, ACKNOWLEDGED, SHUTDOWN, raw bytes),
 * withhold acknowledgements, refuse subscriptions or drop the stream.
 * Replace with the real agent once it lands.
 */
import { EventEmitter } from "node:events";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { encodeRecord } from "../../src/common/recordio/encoder.js";
import type {
  ExecutorCall,
  IdValue,
  KillPolicy,
  TaskInfo,
  TaskStatus,
} from "../../src/executor/protocol.js";

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
