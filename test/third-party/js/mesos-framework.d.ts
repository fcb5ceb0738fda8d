/**
 * Types for the parts of `mesos-framework` 0.5.3 (npm; plain JavaScript, no
 * types of its own) that the third-party compatibility tests use. The event
 * payloads are the JSON objects the library parses off the master's and the
 * agent's streams: the fields listed are the ones the library itself reads
 * (lib/schedulerHandlers.js, lib/scheduler.js), which the tests assert are
 * really there.
 */
declare module "mesos-framework" {
  import type { EventEmitter } from "node:events";
  import type { ClientRequest, RequestOptions } from "node:http";

  export interface Value {
    value: string;
  }

  export interface WireResource {
    name: string;
    type: string;
    scalar?: { value: number };
    ranges?: { range: { begin: number; end: number }[] };
    role?: string;
  }

  export interface WireOffer {
    id: Value;
    framework_id: Value;
    agent_id: Value;
    hostname: string;
    url: {
      scheme: string;
      address: { hostname?: string; ip: string; port: number };
      path?: string;
    };
    resources: WireResource[];
  }

  export interface WireTaskStatus {
    task_id: Value;
    state: string;
    message?: string;
    source?: string;
    reason?: string;
    agent_id?: Value;
    executor_id?: Value;
    timestamp?: number;
    healthy?: boolean;
    container_status?: { executor_pid?: number };
    /** Base64 of the 16 bytes; absent on updates that need no acknowledgement. */
    uuid?: string;
  }

  export interface OffersEvent {
    offers: WireOffer[];
  }

  export interface UpdateEvent {
    status: WireTaskStatus;
  }

  export interface FailureEvent {
    agent_id?: Value;
    executor_id?: Value;
    status?: number;
  }

  export interface SubscribedInfo {
    frameworkId: string;
    mesosStreamId: string;
  }

  export interface SchedulerMessage {
    agentId: Value;
    executorId: Value;
    /** The message's bytes, decoded as ASCII by the library. */
    data: string;
  }

  /** What the library emits as `error`: an Error, or an object with a message, or a string. */
  export type SchedulerError = Error | { message: string; stack?: string } | string;

  /** A protobuf.js 5 message built by one of `Mesos.getMesos()`'s classes. */
  export interface ProtoMessage {
    toRaw(): Record<string, unknown>;
  }

  /** A protobuf.js 5 message class: its constructor takes the fields in .proto order. */
  export type ProtoClass = new (...fields: unknown[]) => ProtoMessage;

  /** The generated classes the tests build messages with. */
  export interface MesosProtos {
    AgentID: ProtoClass;
    CommandInfo: ProtoClass;
    Environment: ProtoClass & { Variable: ProtoClass };
    ExecutorID: ProtoClass;
    ExecutorInfo: ProtoClass;
    FrameworkID: ProtoClass;
    Resource: ProtoClass;
    TaskID: ProtoClass;
    TaskInfo: ProtoClass;
    Value: ProtoClass & { Scalar: ProtoClass; Type: { SCALAR: number; RANGES: number } };
    Offer: ProtoClass & {
      Operation: ProtoClass & { Launch: ProtoClass; Type: { LAUNCH: number } };
    };
  }

  export interface TaskSpec {
    priority?: number;
    instances?: number;
    commandInfo: ProtoMessage;
    executorInfo?: ProtoMessage;
    resources: { cpus: number; mem: number; disk: number; ports?: number };
    /** An HTTP health check on the task's `port`-th allocated port (the README says `healthChecks`; the code reads this). */
    healthCheck?: { http: { path: string; port?: number } };
  }

  /** A task the Scheduler keeps track of (its `launchedTasks`). */
  export interface TrackedTask {
    name: string;
    taskId?: string;
    isSubmitted?: boolean;
    runtimeInfo?: {
      agentId?: string;
      executorId?: string;
      state?: string;
      network?: { hostname?: string; ip?: string | null; ports?: number[] };
    };
  }

  /** The library's ZooKeeper client (node-zookeeper-client 0.2), when `useZk` is set. */
  export interface ZkClient {
    getData(path: string, callback: (error: Error | null, data?: Buffer) => void): void;
    close(): void;
  }

  export interface SchedulerOptions {
    masterUrl: string;
    port: number;
    /** Keep the framework id and the tasks in ZooKeeper, to pick them up again after a restart. */
    useZk?: boolean;
    /** `host:port[,host:port...]` */
    zkUrl?: string;
    /** The framework's node is `<zkPrefix><frameworkName>`. */
    zkPrefix?: string;
    frameworkName?: string;
    user?: string;
    masterConnectionTimeout?: number;
    restartStates?: string[];
    logging?: { path?: string; fileName?: string; level?: string };
    tasks?: Record<string, TaskSpec>;
    handlers?: {
      OFFERS?: (this: Scheduler, offers: OffersEvent) => void;
      UPDATE?: (this: Scheduler, update: UpdateEvent) => void;
    };
  }

  export class Scheduler extends EventEmitter {
    constructor(options: SchedulerOptions);
    options: SchedulerOptions & { masterUrl: string; port: number };
    frameworkId: string | null;
    zkClient: ZkClient | null;
    mesosStreamId: string | null | undefined;
    launchedTasks: TrackedTask[];
    pendingTasks: TrackedTask[];
    /** The options of every request it sends to the master (host, port, path, headers). */
    requestTemplate: RequestOptions;
    /** The SUBSCRIBE request whose response is the event stream (an empty object before the first). */
    httpRequest: Partial<ClientRequest>;
    logger: { info(message: string): void; error(message: string): void; close?(): void };
    subscribe(): void;
    accept(offerIds: Value[], operations: unknown, filters: unknown): void;
    decline(offerIds: Value[], filters: unknown): void;
    acknowledge(update: UpdateEvent): void;
    kill(taskId: string, agentId: string): void;
    reconcile(taskId?: string, agentId?: string): void;
    shutdown(agentId: string, executorId: string): void;
    message(agentId: string, executorId: string, data: string): void;
    revive(): void;
    request(requests: unknown[]): void;
    teardown(): void;

    on(event: "ready", listener: () => void): this;
    on(event: "subscribed", listener: (info: SubscribedInfo) => void): this;
    on(event: "offers", listener: (offers: OffersEvent) => void): this;
    on(event: "update", listener: (update: UpdateEvent) => void): this;
    on(event: "message", listener: (message: SchedulerMessage) => void): this;
    on(event: "failure", listener: (failure: FailureEvent) => void): this;
    on(event: "heartbeat", listener: (timestamp: number) => void): this;
    on(event: "task_launched", listener: (task: TrackedTask) => void): this;
    on(event: "error", listener: (error: SchedulerError) => void): this;
    on(event: `sent_${string}`, listener: () => void): this;
  }

  export interface ExecutorLaunch {
    task: { task_id: Value; name: string; agent_id: Value; executor?: { executor_id: Value } };
  }

  /** Each handler must declare exactly one parameter: the library ignores any other (it checks `length`). */
  export interface ExecutorHandlers {
    SUBSCRIBED?: (this: Executor, subscribed: Record<string, unknown>) => void;
    LAUNCH?: (this: Executor, launch: ExecutorLaunch) => void;
    KILL?: (this: Executor, kill: { task_id: Value }) => void;
    ACKNOWLEDGED?: (this: Executor, acknowledged: { task_id: Value; uuid: string }) => void;
    MESSAGE?: (this: Executor, message: { data: string }) => void;
    SHUTDOWN?: (this: Executor, shutdown: Record<string, unknown> | undefined) => void;
    ERROR?: (this: Executor, error: { message: string }) => void;
  }

  export class Executor extends EventEmitter {
    constructor(options: { handlers?: ExecutorHandlers });
    frameworkId: Value;
    executorId: Value;
    subscribe(): void;
    update(status: Record<string, unknown>): void;
    message(data: string): void;
  }

  export const Mesos: { getMesos(): MesosProtos };

  export const helpers: {
    /** Copies a protobuf.js message with its enum numbers replaced by their names (what Mesos' JSON wants). */
    stringifyEnumsRecursive(message: ProtoMessage): ProtoMessage;
  };
}
