/**
 * The scheduler client: one framework's connection to the master over the
 * v1 scheduler HTTP API.
 *
 *   const client = new SchedulerClient({ master: "127.0.0.1:5050", framework: { user: "", name: "demo" } });
 *   client.start({
 *     subscribed: (info) => console.log(`Registered as ${info.framework_id.value}`),
 *     offers: (offers) => void client.decline(offers.map((o) => o.id)),
 *   });
 *
 * It subscribes (following redirects to the leading master), keeps the
 * `Mesos-Stream-Id`, delivers events to callbacks and async iterators,
 * watches heartbeats, and when the stream breaks re-subscribes with backoff
 * under the same framework id (framework failover). Calls go on a second
 * connection, in order. With `zk://`, it follows the leader ZooKeeper
 * names: as Mesos' library, a change of leader, or none (no master leads,
 * or the client's own ZooKeeper session expired), drops the subscription
 * (`disconnected`) and it subscribes again once a leader is known. See
 * docs/scheduler-library.md.
 */
import type { IncomingMessage } from "node:http";
import { statusLine } from "../common/http/response.js";
import type { Logger } from "../common/observability/logger.js";
import { silentLogger } from "../common/observability/logger.js";
import type {
  AgentID,
  ExecutorID,
  ExecutorInfo,
  Filters,
  FrameworkID,
  FrameworkInfo,
  KillPolicy,
  Offer_Operation,
  OfferID,
  OperationID,
  Request,
  TaskID,
  TaskInfo,
} from "../common/protocol/generated/mesos-v1.js";
import type {
  Call,
  Call_Reconcile_Task,
  Event,
  Event_Subscribed,
} from "../common/protocol/generated/mesos-v1-scheduler.js";
import { RecordIoDecoder } from "../common/recordio/index.js";
import { type Clock, systemClock, type TimerHandle } from "../common/time/clock.js";
import { EventFanout } from "./event-fanout.js";
import {
  formatMasterAddress,
  type LeaderSource,
  type MasterAddress,
  parseMasterSpec,
  zooKeeperLeaderSource,
} from "./master-address.js";
import { MasterConnection } from "./master-connection.js";
import type {
  AcknowledgeTarget,
  CallResult,
  SchedulerClientState,
  SchedulerEvent,
  SchedulerHandlers,
} from "./types.js";
import { type ContentType, type SchedulerWire, schedulerWire } from "./wire.js";

/** Reconnection timing. */
export interface BackoffSettings {
  /** Upper bound of the first wait after a failure (ms); the wait is random in [0, bound]. */
  readonly initialMs: number;
  /** The bound doubles per failure up to this (ms). */
  readonly maxMs: number;
}

/** How a client is set up. Only `master` and `framework` are required. */
export interface SchedulerClientOptions {
  /**
   * The master: `host:port`, `http://host:port`, `zk://host:port/path` (the
   * leader elected there), or `file:///path` holding one of those. A
   * non-leading master redirects the client to the leader.
   */
  readonly master: string;
  /**
   * With `zk://`: the client's ZooKeeper session timeout (default 10 s, as
   * Mesos' detector). Disconnected from ZooKeeper longer than this, the
   * session counts as expired: the client knows no leader and drops its
   * subscription until ZooKeeper names one again.
   */
  readonly zkSessionTimeoutMs?: number;
  /**
   * The framework to subscribe. Set `id` to fail over an existing framework
   * (the previous instance's id); an empty `user` is sent as is.
   */
  readonly framework: FrameworkInfo;
  /** Roles whose offers start suppressed. */
  readonly suppressedRoles?: readonly string[];
  /** Encoding of calls and events (default `protobuf`, as Mesos' own library). */
  readonly contentType?: ContentType;
  /**
   * Acknowledge each status update that carries a uuid right after the
   * callbacks and iterators got it (the old driver's implicit
   * acknowledgements). Default true; set false to call `acknowledge()` yourself.
   */
  readonly autoAcknowledge?: boolean;
  /** Re-subscribe after the stream breaks (default true). */
  readonly reconnect?: boolean;
  /** Reconnection backoff (default 1 s doubling to 30 s). */
  readonly backoff?: Partial<BackoffSettings>;
  /**
   * Heartbeats that may be missed before the connection counts as lost and
   * the client reconnects (default 5).
   */
  readonly missedHeartbeats?: number;
  /** A call with no answer after this long fails (default 60 s). */
  readonly callTimeoutMs?: number;
  /** Most redirects followed in a row before backing off (default 10). */
  readonly maxRedirects?: number;
  /** HTTP basic credentials, sent with every request when set. */
  readonly credential?: { readonly principal: string; readonly secret: string };
  readonly clock?: Clock;
  /** Source of [0, 1) for the backoff jitter (default Math.random). */
  readonly random?: () => number;
  readonly logger?: Logger;
}

/** The heartbeat interval Mesos masters use when SUBSCRIBED does not say (s). */
const DEFAULT_HEARTBEAT_SECONDS = 15;

/** One framework's connection to the master. */
export class SchedulerClient {
  private readonly configuredMaster: MasterAddress;
  /** With `--master=zk://...`: where the current leader is found. */
  private readonly leaderSource: LeaderSource | undefined;
  /** True while `subscribe()` waits for ZooKeeper to name a leader. */
  private awaitingLeader = false;
  private currentMaster: MasterAddress;
  private readonly wire: SchedulerWire;
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly logger: Logger;
  private readonly autoAck: boolean;
  private readonly reconnect: boolean;
  private readonly backoff: BackoffSettings;
  private readonly missedHeartbeats: number;
  private readonly maxRedirects: number;
  private readonly callTimeoutMs: number;
  private readonly authorization: string | undefined;
  private readonly suppressedRoles: readonly string[];
  private framework: FrameworkInfo;

  private handlers: SchedulerHandlers = {};
  private readonly fanout = new EventFanout<SchedulerEvent>();
  private currentState: SchedulerClientState = "idle";
  private connection: MasterConnection | undefined;
  private currentStreamId: string | undefined;
  /** Bumped on every (dis)connection; callbacks of older attempts compare it and stop. */
  private generation = 0;
  private failures = 0;
  private redirects = 0;
  private subscribedOnce = false;
  private tearingDown = false;
  private reconnectTimer: TimerHandle | undefined;
  private heartbeatTimer: TimerHandle | undefined;
  private heartbeatIntervalMs = DEFAULT_HEARTBEAT_SECONDS * 1000;
  private lastEventAt = 0;
  private resolveClosed: (reason: string) => void = () => {};

  /** Resolves with the reason once the client has closed for good. */
  readonly closed: Promise<string>;

  /** Throws a `TypeError` when `options.master` cannot be parsed (a bad argument). */
  constructor(options: SchedulerClientOptions) {
    const parsed = parseMasterSpec(options.master);
    if (!parsed.ok) throw new TypeError(parsed.error);
    this.framework = { ...options.framework };
    this.wire = schedulerWire(options.contentType ?? "protobuf");
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? Math.random;
    this.logger = options.logger ?? silentLogger;
    const spec = parsed.value;
    // With zk://, every (re)subscription dials the leader ZooKeeper names now.
    this.configuredMaster =
      spec.kind === "address" ? spec.address : { host: "leader-not-detected", port: 0 };
    this.currentMaster = this.configuredMaster;
    if (spec.kind === "zk") {
      this.leaderSource = zooKeeperLeaderSource(spec.url, {
        logger: this.logger,
        clock: this.clock,
        sessionTimeoutMs: options.zkSessionTimeoutMs,
      });
      this.leaderSource.onChange((leader) => this.leaderChanged(leader));
    }
    this.autoAck = options.autoAcknowledge ?? true;
    this.reconnect = options.reconnect ?? true;
    this.backoff = { initialMs: 1000, maxMs: 30_000, ...options.backoff };
    this.missedHeartbeats = Math.max(1, options.missedHeartbeats ?? 5);
    this.maxRedirects = options.maxRedirects ?? 10;
    this.callTimeoutMs = options.callTimeoutMs ?? 60_000;
    this.suppressedRoles = [...(options.suppressedRoles ?? [])];
    this.authorization =
      options.credential === undefined
        ? undefined
        : `Basic ${Buffer.from(`${options.credential.principal}:${options.credential.secret}`).toString("base64")}`;
    this.closed = new Promise((resolve) => {
      this.resolveClosed = resolve;
    });
  }

  /** Where the client is in its life. */
  get state(): SchedulerClientState {
    return this.currentState;
  }

  /** The framework id, once the master assigned it (or as given for failover). */
  get frameworkId(): FrameworkID | undefined {
    return this.framework.id;
  }

  /** The FrameworkInfo the client subscribes with (its `id` set once known). */
  get frameworkInfo(): FrameworkInfo {
    return this.framework;
  }

  /** `host:port` of the master the client talks to (the leader after a redirect). */
  get master(): string {
    return formatMasterAddress(this.currentMaster);
  }

  /** The `Mesos-Stream-Id` of the open subscription. */
  get streamId(): string | undefined {
    return this.currentStreamId;
  }

  /** The encoding used on the wire. */
  get contentType(): ContentType {
    return this.wire.contentType;
  }

  /** Starts subscribing; events go to `handlers` and to every `events()` iterator. */
  start(handlers: SchedulerHandlers = {}): void {
    if (this.currentState !== "idle") throw new Error("SchedulerClient.start() called twice");
    this.handlers = handlers;
    void this.subscribe();
  }

  /**
   * An async iterator over the events from now on (create it before or right
   * after `start()` to see SUBSCRIBED). It ends when the client closes.
   */
  events(): AsyncIterableIterator<SchedulerEvent> {
    return this.fanout.iterator();
  }

  /**
   * Closes the connection without tearing the framework down: the master
   * keeps its tasks for the failover timeout, and another client with the
   * same framework id may take over.
   */
  close(reason = "closed by the scheduler"): void {
    if (this.currentState === "closed") return;
    this.generation++;
    this.currentState = "closed";
    this.leaderSource?.close();
    this.cancelTimers();
    this.connection?.close();
    this.connection = undefined;
    this.currentStreamId = undefined;
    this.handlers.closed?.(reason);
    this.fanout.end();
    this.resolveClosed(reason);
  }

  // ---- calls -------------------------------------------------------------

  /**
   * Sends any call (its `framework_id` is filled in). Prefer the typed
   * methods below; this is the escape hatch for calls they do not cover.
   */
  async call(call: Call): Promise<CallResult> {
    if (this.currentState !== "subscribed" || this.connection === undefined) {
      return { ok: false, error: `Not subscribed (state: ${this.currentState}); call dropped` };
    }
    const streamId = this.currentStreamId;
    if (streamId === undefined) return { ok: false, error: "No stream id; call dropped" };
    // Object.assign rather than a spread: far cheaper in V8 for every call.
    const full: Call =
      this.framework.id === undefined
        ? call
        : Object.assign({}, call, { framework_id: this.framework.id });
    const outcome = await this.connection.send(full, streamId);
    const type = call.type ?? "UNKNOWN";
    if (outcome.kind === "failed") {
      this.logger.warn(`${type} call failed: ${outcome.error}`);
      return { ok: false, error: `${type} call failed: ${outcome.error}` };
    }
    if (outcome.status === 202) return { ok: true, status: 202 };
    if (outcome.status === 200) {
      if (outcome.body.length === 0) return { ok: true, status: 200 };
      const decoded = this.wire.decodeResponse(outcome.body);
      return decoded.ok
        ? { ok: true, status: 200, response: decoded.value }
        : {
            ok: false,
            status: 200,
            error: `Undecodable answer to ${type}: ${decoded.error.message}`,
          };
    }
    const body = outcome.body.toString("utf8").trim();
    const error = `Received unexpected '${statusLine(outcome.status)}' (${body}) for ${type}`;
    this.logger.warn(error);
    return { ok: false, status: outcome.status, error };
  }

  /** ACCEPT: applies `operations` to the offers (resources left over go back). */
  accept(
    offerIds: readonly OfferID[],
    operations: readonly Offer_Operation[],
    filters?: Filters,
  ): Promise<CallResult> {
    return this.call({
      type: "ACCEPT",
      accept: {
        offer_ids: [...offerIds],
        operations: [...operations],
        ...(filters === undefined ? {} : { filters }),
      },
    });
  }

  /** ACCEPT with one LAUNCH operation: runs `tasks` on the offers' agent. */
  launch(
    offerIds: readonly OfferID[],
    tasks: readonly TaskInfo[],
    filters?: Filters,
  ): Promise<CallResult> {
    return this.accept(offerIds, [{ type: "LAUNCH", launch: { task_infos: [...tasks] } }], filters);
  }

  /** ACCEPT with one LAUNCH_GROUP operation: runs `tasks` together under `executor`. */
  launchGroup(
    offerIds: readonly OfferID[],
    executor: ExecutorInfo,
    tasks: readonly TaskInfo[],
    filters?: Filters,
  ): Promise<CallResult> {
    return this.accept(
      offerIds,
      [{ type: "LAUNCH_GROUP", launch_group: { executor, task_group: { tasks: [...tasks] } } }],
      filters,
    );
  }

  /** DECLINE: gives the offers back; `filters.refuse_seconds` keeps them away for a while. */
  decline(offerIds: readonly OfferID[], filters?: Filters): Promise<CallResult> {
    return this.call({
      type: "DECLINE",
      decline: { offer_ids: [...offerIds], ...(filters === undefined ? {} : { filters }) },
    });
  }

  /** REVIVE: removes offer filters and unsuppresses `roles` (all roles when empty). */
  revive(roles: readonly string[] = []): Promise<CallResult> {
    return this.call({ type: "REVIVE", revive: { roles: [...roles] } });
  }

  /** SUPPRESS: stops offers for `roles` (all roles when empty) until REVIVE. */
  suppress(roles: readonly string[] = []): Promise<CallResult> {
    return this.call({ type: "SUPPRESS", suppress: { roles: [...roles] } });
  }

  /** KILL: kills a task; `killPolicy` overrides the task's grace period. */
  kill(taskId: TaskID, agentId?: AgentID, killPolicy?: KillPolicy): Promise<CallResult> {
    return this.call({
      type: "KILL",
      kill: {
        task_id: taskId,
        ...(agentId === undefined ? {} : { agent_id: agentId }),
        ...(killPolicy === undefined ? {} : { kill_policy: killPolicy }),
      },
    });
  }

  /** SHUTDOWN: stops an executor and all its tasks. */
  shutdown(executorId: ExecutorID, agentId: AgentID): Promise<CallResult> {
    return this.call({
      type: "SHUTDOWN",
      shutdown: { executor_id: executorId, agent_id: agentId },
    });
  }

  /**
   * ACKNOWLEDGE: tells the agent (through the master) that a status update
   * was handled, so it stops re-sending it. Pass the TaskStatus itself.
   * Updates without a uuid (e.g. from reconciliation) need no acknowledgement.
   */
  acknowledge(status: AcknowledgeTarget): Promise<CallResult> {
    if (status.uuid === undefined || status.agent_id === undefined) {
      return Promise.resolve({
        ok: false,
        error: "This status update carries no uuid or agent id; it needs no acknowledgement",
      });
    }
    return this.call({
      type: "ACKNOWLEDGE",
      acknowledge: {
        agent_id: status.agent_id,
        task_id: { value: status.task_id.value },
        uuid: status.uuid,
      },
    });
  }

  /** ACKNOWLEDGE_OPERATION_STATUS for an offer operation's status update. */
  acknowledgeOperationStatus(
    operationId: OperationID,
    uuid: Uint8Array,
    agentId?: AgentID,
  ): Promise<CallResult> {
    return this.call({
      type: "ACKNOWLEDGE_OPERATION_STATUS",
      acknowledge_operation_status: {
        operation_id: operationId,
        uuid,
        ...(agentId === undefined ? {} : { agent_id: agentId }),
      },
    });
  }

  /**
   * RECONCILE: asks for the latest state of `tasks`; with none, of every
   * task the master knows for this framework (implicit reconciliation).
   * Answers arrive as UPDATE events without a uuid.
   */
  reconcile(tasks: readonly Call_Reconcile_Task[] = []): Promise<CallResult> {
    return this.call({ type: "RECONCILE", reconcile: { tasks: [...tasks] } });
  }

  /** MESSAGE: sends opaque bytes to an executor (best effort). */
  message(
    agentId: AgentID,
    executorId: ExecutorID,
    data: Uint8Array | string,
  ): Promise<CallResult> {
    const bytes = typeof data === "string" ? Buffer.from(data, "utf8") : data;
    return this.call({
      type: "MESSAGE",
      message: { agent_id: agentId, executor_id: executorId, data: bytes },
    });
  }

  /** REQUEST: asks the allocator for resources (advisory; Mesos' allocator ignores it). */
  request(requests: readonly Request[]): Promise<CallResult> {
    return this.call({ type: "REQUEST", request: { requests: [...requests] } });
  }

  /** DECLINE_INVERSE_OFFERS. */
  declineInverseOffers(offerIds: readonly OfferID[], filters?: Filters): Promise<CallResult> {
    return this.call({
      type: "DECLINE_INVERSE_OFFERS",
      decline_inverse_offers: {
        inverse_offer_ids: [...offerIds],
        ...(filters === undefined ? {} : { filters }),
      },
    });
  }

  /** ACCEPT_INVERSE_OFFERS. */
  acceptInverseOffers(offerIds: readonly OfferID[], filters?: Filters): Promise<CallResult> {
    return this.call({
      type: "ACCEPT_INVERSE_OFFERS",
      accept_inverse_offers: {
        inverse_offer_ids: [...offerIds],
        ...(filters === undefined ? {} : { filters }),
      },
    });
  }

  /**
   * UPDATE_FRAMEWORK: changes the FrameworkInfo (name, roles, capabilities,
   * ...) without re-subscribing. Later re-subscriptions use the new info.
   */
  async updateFramework(
    framework: FrameworkInfo,
    suppressedRoles: readonly string[] = [],
  ): Promise<CallResult> {
    const info: FrameworkInfo =
      this.framework.id === undefined ? framework : { ...framework, id: this.framework.id };
    const result = await this.call({
      type: "UPDATE_FRAMEWORK",
      update_framework: { framework_info: info, suppressed_roles: [...suppressedRoles] },
    });
    if (result.ok) this.framework = info;
    return result;
  }

  /**
   * TEARDOWN: ends the framework: the master kills all its tasks and
   * executors and forgets it. The client closes afterwards.
   */
  async teardown(): Promise<CallResult> {
    // The master ends the event stream as it tears down; that is no reason
    // to reconnect, nor to drop the TEARDOWN call still waiting for its 202.
    this.tearingDown = this.currentState === "subscribed";
    const result = await this.call({ type: "TEARDOWN" });
    this.close("framework torn down");
    return result;
  }

  // ---- subscription ------------------------------------------------------

  private subscribeCall(): Call {
    const subscribe = {
      framework_info: this.framework,
      ...(this.suppressedRoles.length === 0 ? {} : { suppressed_roles: [...this.suppressedRoles] }),
    };
    return this.framework.id === undefined
      ? { type: "SUBSCRIBE", subscribe }
      : { type: "SUBSCRIBE", framework_id: this.framework.id, subscribe };
  }

  private async subscribe(): Promise<void> {
    const generation = ++this.generation;
    this.currentState = "subscribing";
    if (this.leaderSource !== undefined) {
      this.awaitingLeader = true;
      const leader = await this.leaderSource.leader(this.callTimeoutMs).finally(() => {
        if (generation === this.generation) this.awaitingLeader = false;
      });
      if (generation !== this.generation) return;
      if (leader === undefined) {
        this.lost(generation, "No leading master is elected in ZooKeeper", false);
        return;
      }
      this.currentMaster = leader;
    }
    const connection = new MasterConnection(this.currentMaster, this.wire, {
      callTimeoutMs: this.callTimeoutMs,
      subscribeTimeoutMs: this.callTimeoutMs,
      ...(this.authorization === undefined ? {} : { authorization: this.authorization }),
    });
    this.connection = connection;
    this.logger.info(`Subscribing to the master at ${connection.address}`);
    const outcome = await connection.subscribe(this.subscribeCall());
    if (generation !== this.generation) {
      connection.close();
      return;
    }
    switch (outcome.kind) {
      case "stream":
        this.redirects = 0;
        this.openStream(generation, outcome.streamId, outcome.response);
        return;
      case "redirect": {
        connection.close();
        const leader = outcome.leader;
        if (leader !== undefined && this.redirects < this.maxRedirects) {
          this.redirects++;
          this.logger.info(`Redirected to the leading master at ${formatMasterAddress(leader)}`);
          this.currentMaster = leader;
          void this.subscribe();
          return;
        }
        this.lost(generation, "The master redirected without naming the leader", false);
        return;
      }
      case "refused": {
        connection.close();
        const what = `Received unexpected '${statusLine(outcome.status)}' (${outcome.body.trim()}) for SUBSCRIBE`;
        // 503: not elected or still recovering; 404: routes not up yet; 5xx:
        // a passing fault. Anything else (400, 401, 403, ...) will not heal
        // by retrying the same request.
        if (outcome.status === 503 || outcome.status === 404 || outcome.status >= 500) {
          this.lost(generation, what, false);
        } else {
          this.fail(what);
        }
        return;
      }
      case "failed":
        connection.close();
        this.lost(generation, `Failed to subscribe: ${outcome.error}`, false);
        return;
    }
  }

  private openStream(generation: number, streamId: string, response: IncomingMessage): void {
    this.currentState = "subscribed";
    this.currentStreamId = streamId;
    this.lastEventAt = this.clock.monotonic();
    this.armHeartbeat(generation);
    const decoder = new RecordIoDecoder();
    const drop = (reason: string) => {
      response.destroy();
      this.lost(generation, reason, true);
    };
    response.on("data", (chunk: Buffer) => {
      if (generation !== this.generation) return;
      let records: Buffer[];
      try {
        records = decoder.decode(chunk);
      } catch (e) {
        drop(`Failed to decode the stream of events: ${(e as Error).message}`);
        return;
      }
      for (const record of records) {
        if (generation !== this.generation) return;
        const decoded = this.wire.decodeEvent(record);
        if (!decoded.ok) {
          drop(`Failed to decode an event: ${decoded.error.message}`);
          return;
        }
        this.receive(decoded.value);
      }
    });
    response.on("end", () => {
      if (generation === this.generation) {
        drop("End-Of-File received from the master: it closed the event stream");
      }
    });
    response.on("error", (e) => {
      if (generation === this.generation) drop(`The event stream broke: ${e.message}`);
    });
    response.on("close", () => {
      if (generation === this.generation) drop("The event stream closed");
    });
  }

  private receive(event: Event): void {
    this.lastEventAt = this.clock.monotonic();
    const h = this.handlers;
    if (event.type === "SUBSCRIBED" && event.subscribed !== undefined) {
      const info: Event_Subscribed = event.subscribed;
      this.framework = { ...this.framework, id: info.framework_id };
      const seconds = info.heartbeat_interval_seconds ?? DEFAULT_HEARTBEAT_SECONDS;
      this.heartbeatIntervalMs = Math.max(1, seconds * 1000);
      const resubscribed = this.subscribedOnce;
      this.subscribedOnce = true;
      this.failures = 0;
      this.logger.info(
        `${resubscribed ? "Re-subscribed" : "Subscribed"} with framework id ${info.framework_id.value}`,
      );
      this.deliver(event);
      h.subscribed?.(info, resubscribed);
      return;
    }
    this.deliver(event);
    switch (event.type) {
      case "OFFERS":
        h.offers?.(event.offers?.offers ?? []);
        break;
      case "INVERSE_OFFERS":
        h.inverseOffers?.(event.inverse_offers?.inverse_offers ?? []);
        break;
      case "RESCIND":
        if (event.rescind !== undefined) h.rescind?.(event.rescind.offer_id);
        break;
      case "RESCIND_INVERSE_OFFER":
        if (event.rescind_inverse_offer !== undefined) {
          h.rescindInverseOffer?.(event.rescind_inverse_offer.inverse_offer_id);
        }
        break;
      case "UPDATE":
        if (event.update !== undefined) {
          h.update?.(event.update.status);
          if (this.autoAck && event.update.status.uuid !== undefined) {
            void this.acknowledge(event.update.status).then((r) => {
              if (!r.ok) this.logger.warn(`Automatic acknowledgement failed: ${r.error}`);
            });
          }
        }
        break;
      case "UPDATE_OPERATION_STATUS":
        if (event.update_operation_status !== undefined) {
          h.updateOperationStatus?.(event.update_operation_status.status);
        }
        break;
      case "MESSAGE":
        if (event.message !== undefined) {
          const m = event.message;
          h.message?.(m.agent_id, m.executor_id, m.data);
        }
        break;
      case "FAILURE":
        h.failure?.(event.failure ?? {});
        break;
      case "ERROR": {
        const message = event.error?.message ?? "";
        this.logger.error(`Received an ERROR event: ${message}`);
        h.error?.(message);
        this.close(`Received an ERROR event: ${message}`);
        break;
      }
      case "HEARTBEAT":
        h.heartbeat?.();
        break;
      default:
        this.logger.warn(`Ignoring an event of type ${event.type ?? "UNKNOWN"}`);
    }
  }

  private deliver(event: SchedulerEvent): void {
    this.handlers.event?.(event);
    this.fanout.push(event);
  }

  private notifyDisconnected(reason: string, willReconnect: boolean): void {
    this.deliver({ type: "DISCONNECTED", disconnected: { reason, willReconnect } });
    this.handlers.disconnected?.(reason, willReconnect);
  }

  /**
   * ZooKeeper names another leader, or none. As Mesos' library on every new
   * detection: a subscription (or an attempt) to the old one is dropped,
   * with `disconnected` when it was subscribed, and the client subscribes
   * again to whoever leads then (waiting while none does).
   */
  private leaderChanged(leader: MasterAddress | undefined): void {
    // subscribe() waiting for a leader sees it itself.
    if (this.awaitingLeader) return;
    const state = this.currentState;
    if (state !== "subscribing" && state !== "subscribed") return;
    const reason =
      leader === undefined
        ? "Lost leading master (none is elected in ZooKeeper, or the ZooKeeper session expired)"
        : `New master detected at ${formatMasterAddress(leader)}`;
    this.lost(this.generation, reason, state === "subscribed");
  }

  /** The subscription (or the attempt) of `generation` is gone. */
  private lost(generation: number, reason: string, wasSubscribed: boolean): void {
    if (generation !== this.generation || this.currentState === "closed") return;
    if (this.tearingDown) return;
    this.generation++;
    this.cancelTimers();
    this.connection?.close();
    this.connection = undefined;
    this.currentStreamId = undefined;
    this.logger.warn(reason);
    if (!this.reconnect) {
      if (wasSubscribed) this.notifyDisconnected(reason, false);
      this.close(reason);
      return;
    }
    this.currentState = "disconnected";
    if (wasSubscribed) this.notifyDisconnected(reason, true);
    // After a failure, go back to the configured master: the leader we were
    // redirected to may be the one that failed.
    this.currentMaster = this.configuredMaster;
    this.failures++;
    const bound = Math.min(
      this.backoff.maxMs,
      this.backoff.initialMs * 2 ** Math.min(this.failures - 1, 20),
    );
    const delay = Math.floor(bound * this.random());
    this.logger.info(`Re-subscribing in ${delay} ms`);
    this.reconnectTimer = this.clock.setTimer(delay, () => {
      this.reconnectTimer = undefined;
      if (this.currentState === "disconnected") void this.subscribe();
    });
  }

  /** A refusal that retrying will not fix: report it as an ERROR and close. */
  private fail(message: string): void {
    this.logger.error(message);
    const event: Event = { type: "ERROR", error: { message } };
    this.deliver(event);
    this.handlers.error?.(message);
    this.close(message);
  }

  private armHeartbeat(generation: number): void {
    const check = () => {
      this.heartbeatTimer = undefined;
      if (generation !== this.generation) return;
      const silentFor = this.clock.monotonic() - this.lastEventAt;
      const limit = this.heartbeatIntervalMs * this.missedHeartbeats;
      if (silentFor >= limit) {
        this.lost(
          generation,
          `No heartbeat from the master for ${Math.round(silentFor / 1000)} s ` +
            `(${this.missedHeartbeats} missed); reconnecting`,
          true,
        );
        return;
      }
      this.heartbeatTimer = this.clock.setTimer(
        Math.min(this.heartbeatIntervalMs, limit - silentFor),
        check,
      );
    };
    this.heartbeatTimer = this.clock.setTimer(this.heartbeatIntervalMs, check);
  }

  private cancelTimers(): void {
    if (this.reconnectTimer !== undefined) this.clock.cancelTimer(this.reconnectTimer);
    if (this.heartbeatTimer !== undefined) this.clock.cancelTimer(this.heartbeatTimer);
    this.reconnectTimer = undefined;
    this.heartbeatTimer = undefined;
  }
}
