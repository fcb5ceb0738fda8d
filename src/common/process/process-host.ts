/**
 * A host is one listener (ip:port) and the processes it serves, like one
 * libprocess instance: `mesos-master` runs one with `master` (and helpers),
 * `mesos-local` one with `master`, `slave(1)`, `slave(2)`, ...
 *
 * Inbound: every request on the listener is either a message (a POST that
 * carries `Libprocess-From` or `User-Agent: libprocess/...`) or an HTTP
 * request routed to a process by the first path segment; unknown first
 * segments go to the delegate (main) process, so `/state` is `/master/state`.
 *
 * Outbound: one connection per peer host (see PeerConnection). Messages
 * between processes of the same host never touch a socket: they go through
 * a FIFO run queue drained on the event loop (setImmediate), which keeps the
 * send order, never re-enters a handler, and lets I/O run between batches.
 */

import { decodeSegment, isRelativePath } from "../http/path.js";
import type { ProcessEvent } from "../http/processes-route.js";
import type { HttpRequest } from "../http/request.js";
import {
  type BodyResponse,
  badRequest,
  forbidden,
  type HttpResponse,
  notFound,
  response,
} from "../http/response.js";
import { DEFAULT_MAX_BODY_BYTES, HttpServer } from "../http/server.js";
import type { Logger } from "../observability/logger.js";
import type { Clock } from "../time/clock.js";
import { type BackoffOptions, DEFAULT_BACKOFF } from "./backoff.js";
import { EndpointFirewall, type FirewallRules } from "./firewall.js";
import { isAnyIp, type ListenAddress, lookupHostIp } from "./listen-address.js";
import { isMessageHead, MessageConnection, type MessageVerdict } from "./message-connection.js";
import { encodeMessage } from "./message-encoder.js";
import {
  DEFAULT_QUEUE_LIMITS,
  PeerConnection,
  type PeerStats,
  type QueueLimits,
} from "./peer-connection.js";
import type { ProcessBase, ProcessContext } from "./process-base.js";
import { libprocessSender, routeHttp } from "./routing.js";
import { type TlsSettings, tlsFromEnv } from "./tls.js";
import { parseUpid, Upid } from "./upid.js";

export interface ProcessHostOptions {
  logger: Logger;
  clock: Clock;
  /** Where to bind and what to advertise (see resolveListenAddress). */
  listen: ListenAddress;
  /** The main process: HTTP paths whose first segment names no process go to it. */
  delegate?: string;
  /** Request body limit (messages and HTTP). Default 64 MiB. */
  maxBodyBytes?: number;
  headersTimeoutMs?: number;
  backoff?: Partial<BackoffOptions>;
  queueLimits?: Partial<QueueLimits>;
  /** LIBPROCESS_REQUIRE_PEER_ADDRESS_IP_MATCH: reject messages whose sender IP is not the socket's. */
  requirePeerAddressIpMatch?: boolean;
  /** Finds the IP to advertise when bound to 0.0.0.0 (default: resolve the host name). */
  resolveAnyIp?: () => Promise<string>;
  /** TLS settings; default: read from LIBPROCESS_SSL_* in the environment; null: never TLS. */
  tls?: TlsSettings | null;
}

/** A message in flight, as message filters see it. */
export interface MessageEnvelope {
  readonly from: Upid;
  readonly to: Upid;
  readonly name: string;
  readonly body: Uint8Array;
}

/** Returns true to drop a message before delivery (test harness: drop/await messages). */
export type MessageFilter = (message: MessageEnvelope) => boolean;

/** Counters of a host, for metrics and tests. */
export interface HostStats {
  /** Messages that arrived over HTTP (202 answered). */
  received: number;
  /** Messages handed to a handler that accepted them. */
  delivered: number;
  /** Messages for a type the process does not handle (dropped). */
  unhandled: number;
  /** Messages whose body did not decode (dropped, logged). */
  undecodable: number;
  /** Messages for a process this host does not run (404 / dropped). */
  unknownProcess: number;
  /** Messages dropped by the message filter. */
  filtered: number;
  /** Messages sent to other hosts. */
  sentRemote: number;
  /** Messages sent to processes of this host. */
  sentLocal: number;
  /** Inbound connections served by the message fast path. */
  messageConnections: number;
}

type RunItem =
  | { kind: "message"; message: MessageEnvelope }
  | { kind: "exited"; process: ProcessBase; pid: Upid };

const ACCEPTED: BodyResponse = response(202);

function isLoopback(ip: string): boolean {
  return ip.startsWith("127.") || ip === "::1" || ip === "localhost";
}

function plainIp(ip: string): string {
  return ip.startsWith("::ffff:") ? ip.slice(7) : ip;
}

/** A listener and the processes it serves. */
export class ProcessHost {
  readonly stats: HostStats = {
    received: 0,
    delivered: 0,
    unhandled: 0,
    undecodable: 0,
    unknownProcess: 0,
    filtered: 0,
    sentRemote: 0,
    sentLocal: 0,
    messageConnections: 0,
  };
  readonly logger: Logger;
  private readonly clock: Clock;
  private readonly server: HttpServer;
  private readonly processesById = new Map<string, ProcessBase>();
  private readonly peers = new Map<string, PeerConnection>();
  private readonly backoff: BackoffOptions;
  private readonly limits: QueueLimits;
  /** Remote links: linkee pid text -> the pid and the processes watching it. */
  private readonly links = new Map<string, { pid: Upid; linkers: Set<ProcessBase> }>();
  /** Remote links by peer address: address -> linkee pid texts. */
  private readonly linksByAddress = new Map<string, Set<string>>();
  /** Links to processes of this host: process id -> watchers. */
  private readonly localLinks = new Map<string, Set<ProcessBase>>();
  private readonly unhandledSeen = new Set<string>();
  private runQueue: RunItem[] = [];
  private drainScheduled = false;
  private filter: MessageFilter | undefined;
  private started = false;
  private firewall: EndpointFirewall | undefined;
  private stopped = false;
  private advertisedIp = "";
  private advertisedPort = 0;
  private bound = 0;
  private readonly context: ProcessContext;
  private readonly tls: TlsSettings | undefined;
  private readonly tlsError: string | undefined;

  constructor(private readonly options: ProcessHostOptions) {
    const tls =
      options.tls === undefined
        ? tlsFromEnv()
        : { ok: true as const, value: options.tls === null ? undefined : options.tls };
    this.tls = tls.ok ? tls.value : undefined;
    this.tlsError = tls.ok ? undefined : tls.error;
    this.logger = options.logger;
    this.clock = options.clock;
    this.backoff = { ...DEFAULT_BACKOFF, ...options.backoff };
    this.limits = { ...DEFAULT_QUEUE_LIMITS, ...options.queueLimits };
    this.server = new HttpServer((r) => this.dispatch(r), {
      logger: options.logger,
      clock: options.clock,
      claimer: {
        claims: isMessageHead,
        adopt: (socket, initial, handBack) => {
          this.stats.messageConnections++;
          new MessageConnection(socket, {
            clock: this.clock,
            maxBodyBytes: options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
            deliver: (from, path, body, remote) => this.acceptMessage(from, path, body, remote),
            handBack,
            onProtocolError: (m) => this.logger.warn(`Bad message request: ${m}`),
          }).start(initial);
        },
      },
      ...(options.maxBodyBytes === undefined ? {} : { maxBodyBytes: options.maxBodyBytes }),
      ...(options.headersTimeoutMs === undefined
        ? {}
        : { headersTimeoutMs: options.headersTimeoutMs }),
      tls: this.tls,
    });
    this.context = {
      logger: this.logger,
      address: (id) => new Upid(id, this.advertisedIp, this.advertisedPort),
      send: (from, to, name, body) => this.send(from, to, name, body),
      link: (p, to, reconnect) => this.link(p, to, reconnect),
    };
  }

  /**
   * Installs `--firewall_rules` (replacing earlier ones; undefined removes
   * them): listed HTTP endpoints answer 403. Messages are not affected.
   */
  setFirewall(rules: FirewallRules | undefined): void {
    const firewall = rules === undefined ? undefined : new EndpointFirewall(rules);
    this.firewall = firewall === undefined || firewall.empty ? undefined : firewall;
  }

  /** Binds the listener and works out the advertised address. */
  async start(): Promise<void> {
    if (this.started) throw new Error("process host already started");
    if (this.tlsError !== undefined) throw new Error(this.tlsError);
    for (const line of this.tls?.warnings ?? []) this.logger.warn(line);
    const l = this.options.listen;
    this.bound = await this.server.listen(l.bindIp, l.bindPort);
    let ip = l.advertiseIp ?? l.bindIp;
    if (isAnyIp(ip)) ip = await (this.options.resolveAnyIp ?? lookupHostIp)();
    this.advertisedIp = ip;
    this.advertisedPort = l.advertisePort ?? this.bound;
    this.started = true;
    this.logger.info(
      `Listening on ${l.bindIp}:${this.bound}; advertising ${this.address}` +
        (this.options.delegate === undefined ? "" : `; main process '${this.options.delegate}'`),
    );
  }

  /** The advertised `ip:port` (what peers use to reach this host). */
  get address(): string {
    return new Upid("", this.advertisedIp, this.advertisedPort).address;
  }

  get ip(): string {
    return this.advertisedIp;
  }

  get port(): number {
    return this.advertisedPort;
  }

  /** The port actually bound (differs from `port` with --advertise_port). */
  get boundPort(): number {
    return this.bound;
  }

  /** Starts serving `process`; its id must be unique in this host. Returns it. */
  spawn<P extends ProcessBase>(process: P): P {
    if (!this.started || this.stopped) throw new Error("process host is not running");
    if (this.processesById.has(process.id)) {
      throw new Error(`a process named '${process.id}' already runs in this host`);
    }
    this.processesById.set(process.id, process);
    process.attach(this.context);
    return process;
  }

  /** Stops `process`: it gets no more events, and processes linked to it see it exit. */
  terminate(process: ProcessBase): void {
    if (this.processesById.get(process.id) !== process) return;
    this.processesById.delete(process.id);
    const watchers = this.localLinks.get(process.id);
    this.localLinks.delete(process.id);
    for (const w of watchers ?? []) {
      if (w !== process) this.enqueue({ kind: "exited", process: w, pid: process.self });
    }
    this.forgetLinker(process);
    process.detach();
  }

  /** The process named `id`, if running here. */
  process(id: string): ProcessBase | undefined {
    return this.processesById.get(id);
  }

  /** Every running process. */
  processes(): ProcessBase[] {
    return [...this.processesById.values()];
  }

  /**
   * What the run queue still holds for process `id`, oldest first, in
   * libprocess' event shape (`/__processes__`).
   */
  pendingEvents(id: string): ProcessEvent[] {
    const out: ProcessEvent[] = [];
    for (const item of this.runQueue) {
      if (item.kind === "exited") {
        if (item.process.id === id) out.push({ type: "EXITED" });
      } else if (item.message.to.id === id) {
        const m = item.message;
        out.push({
          type: "MESSAGE",
          name: m.name,
          from: m.from.toString(),
          to: m.to.toString(),
          body: Buffer.from(m.body.buffer, m.body.byteOffset, m.body.byteLength).toString("utf8"),
        });
      }
    }
    return out;
  }

  /** Installs (or removes) a filter that may drop messages before delivery. */
  setMessageFilter(filter: MessageFilter | undefined): void {
    this.filter = filter;
  }

  /** Counters of each outbound peer connection, by `ip:port`. */
  peerStats(): Map<string, PeerStats> {
    const out = new Map<string, PeerStats>();
    for (const [k, c] of this.peers) out.set(k, { ...c.stats });
    return out;
  }

  /** Terminates every process, closes the listener and every connection. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const p of [...this.processesById.values()]) this.terminate(p);
    for (const c of this.peers.values()) c.close();
    this.peers.clear();
    this.runQueue = [];
    if (this.started) await this.server.close();
  }

  // ---- sending and linking ------------------------------------------------

  private isLocal(to: Upid): boolean {
    if (to.ip === this.advertisedIp && to.port === this.advertisedPort) return true;
    if (to.port !== this.bound) return false;
    const bindIp = this.options.listen.bindIp;
    return (
      to.ip === bindIp || to.ip === this.advertisedIp || (isAnyIp(bindIp) && isLoopback(to.ip))
    );
  }

  private send(from: Upid, to: Upid, name: string, body: Uint8Array): void {
    if (this.stopped) return;
    if (this.isLocal(to)) {
      this.stats.sentLocal++;
      this.enqueue({ kind: "message", message: { from, to, name, body } });
      return;
    }
    this.stats.sentRemote++;
    const frame = encodeMessage(from.toString(), to, name, body);
    this.peer(to).send(frame, `${name} to ${to}`);
  }

  private peer(to: Upid): PeerConnection {
    let c = this.peers.get(to.address);
    if (c === undefined) {
      const address = to.address;
      c = new PeerConnection({
        address,
        host: to.ip,
        port: to.port,
        clock: this.clock,
        logger: this.logger,
        backoff: this.backoff,
        limits: this.limits,
        onDown: () => this.peerDown(address),
        tls: this.tls?.client,
        // Forget connections to peers that went away, so a long-running
        // master does not keep one entry per framework it ever talked to.
        onIdle: () => {
          if (this.peers.get(address) === c && !this.linksByAddress.has(address)) {
            this.peers.delete(address);
          }
        },
      });
      this.peers.set(address, c);
    }
    return c;
  }

  private link(process: ProcessBase, to: Upid, reconnect: boolean): void {
    if (this.stopped) return;
    if (this.isLocal(to)) {
      if (!this.processesById.has(to.id)) {
        this.enqueue({ kind: "exited", process, pid: to });
        return;
      }
      const set = this.localLinks.get(to.id) ?? new Set<ProcessBase>();
      this.localLinks.set(to.id, set);
      set.add(process);
      return;
    }
    const key = to.toString();
    let entry = this.links.get(key);
    if (entry === undefined) {
      entry = { pid: to, linkers: new Set() };
      this.links.set(key, entry);
    }
    entry.linkers.add(process);
    const byAddr = this.linksByAddress.get(to.address) ?? new Set<string>();
    this.linksByAddress.set(to.address, byAddr);
    byAddr.add(key);
    const conn = this.peer(to);
    if (reconnect) conn.reconnect();
    else conn.ensureConnected();
  }

  /** The connection to `address` broke or could not be made: every link to it fires once. */
  private peerDown(address: string): void {
    const keys = this.linksByAddress.get(address);
    if (keys === undefined) return;
    this.linksByAddress.delete(address);
    for (const key of keys) {
      const entry = this.links.get(key);
      this.links.delete(key);
      if (entry === undefined) continue;
      for (const linker of entry.linkers) {
        this.enqueue({ kind: "exited", process: linker, pid: entry.pid });
      }
    }
  }

  private forgetLinker(process: ProcessBase): void {
    for (const set of this.localLinks.values()) set.delete(process);
    for (const [key, entry] of this.links) {
      entry.linkers.delete(process);
      if (entry.linkers.size === 0) {
        this.links.delete(key);
        const byAddr = this.linksByAddress.get(entry.pid.address);
        byAddr?.delete(key);
        if (byAddr?.size === 0) this.linksByAddress.delete(entry.pid.address);
      }
    }
  }

  // ---- the run queue (local messages and exited notifications) -------------

  private enqueue(item: RunItem): void {
    this.runQueue.push(item);
    if (!this.drainScheduled) {
      this.drainScheduled = true;
      setImmediate(() => this.drain());
    }
  }

  private drain(): void {
    this.drainScheduled = false;
    const batch = this.runQueue;
    this.runQueue = [];
    for (const item of batch) {
      if (this.stopped) return;
      if (item.kind === "exited") {
        if (this.processesById.get(item.process.id) === item.process) {
          item.process.notifyExited(item.pid);
        }
      } else {
        this.deliver(item.message);
      }
    }
  }

  private deliver(m: MessageEnvelope): boolean {
    const target = this.processesById.get(m.to.id);
    if (target === undefined) {
      this.stats.unknownProcess++;
      this.logger.verbose(1, `Dropping message ${m.name} from ${m.from}: no process '${m.to.id}'`);
      return false;
    }
    if (this.filter?.(m) === true) {
      this.stats.filtered++;
      return true;
    }
    const outcome = target.receive(m.from, m.name, m.body);
    switch (outcome) {
      case "handled":
      case "failed":
        this.stats.delivered++;
        break;
      case "undecodable":
        this.stats.undecodable++;
        break;
      case "unhandled": {
        this.stats.unhandled++;
        const key = `${m.to.id}\u0000${m.name}`;
        const line = `Dropping message ${m.name} from ${m.from}: '${m.to.id}' does not handle it`;
        if (this.unhandledSeen.has(key)) this.logger.verbose(1, line);
        else {
          this.unhandledSeen.add(key);
          this.logger.warn(`${line} (further ones are logged at verbose level 1)`);
        }
        break;
      }
    }
    return true;
  }

  // ---- inbound requests -----------------------------------------------------

  private dispatch(request: HttpRequest): HttpResponse | Promise<HttpResponse> {
    const sender = libprocessSender(request.method, request.headers);
    if (sender !== undefined) return this.receiveMessage(request, sender);
    if (this.firewall !== undefined && !isRelativePath(request.path)) {
      const refused = this.firewall.refuses(
        request.path,
        (id) => this.processesById.has(id),
        this.options.delegate,
      );
      if (refused !== undefined) {
        this.logger.verbose(1, `Returning '403 Forbidden' for '${refused}' (firewall rule)`);
        return forbidden(`Endpoint '${refused}' is disabled`);
      }
    }
    return routeHttp(request, (id) => this.processesById.get(id), this.options.delegate);
  }

  private receiveMessage(request: HttpRequest, fromText: string): HttpResponse {
    const v = this.acceptMessage(fromText, request.path, request.body, request.remoteAddress);
    if (v.status === 202) return ACCEPTED;
    if (v.status === 404) return notFound();
    return badRequest(v.reason ?? "");
  }

  /**
   * Checks and delivers one inbound message (both the fast path and the
   * general HTTP server end here). 202: delivered (or dropped by type or
   * filter, as libprocess does); 404: no such process; 400: bad sender.
   */
  private acceptMessage(
    fromText: string,
    path: string,
    body: Uint8Array,
    remoteAddress: string,
  ): MessageVerdict {
    const from = parseUpid(fromText);
    if (!from.ok) {
      this.logger.warn(`Rejecting message ${path}: bad sender: ${from.error.message}`);
      return {
        status: 400,
        reason: `Failed to determine sender from request headers: ${from.error.message}`,
      };
    }
    const slash = path.indexOf("/", 1);
    const rawId = slash < 0 ? path.slice(1) : path.slice(1, slash);
    const name = slash < 0 ? "" : path.slice(slash + 1);
    const id = decodeSegment(rawId);
    if (id === undefined) return { status: 400, reason: `Failed to decode URL path '${path}'` };
    if (this.options.requirePeerAddressIpMatch === true) {
      const client = plainIp(remoteAddress);
      if (from.value.ip !== client) {
        return {
          status: 400,
          reason: `UPID IP address validation failed: Message from ${from.value} was sent from IP ${client}`,
        };
      }
    }
    this.stats.received++;
    const message = { from: from.value, to: this.context.address(id), name, body };
    return this.deliver(message) ? { status: 202 } : { status: 404 };
  }
}
