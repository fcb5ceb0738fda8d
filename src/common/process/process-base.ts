/**
 * The base of every long-lived actor (master, agent, registrar, ...), in the
 * manner of libprocess' ProcessBase: it has an id, handles messages by type
 * name, serves HTTP routes, sends messages and links to peers. A process is
 * driven by one event at a time on the event loop, so a handler's state
 * changes never interleave with another's.
 */

import {
  type RouteHandler,
  type RouteInfo,
  type RouteMatch,
  type RouteOptions,
  RouteTable,
} from "../http/route-table.js";
import { messageGuardOf } from "../http/router.js";
import type { Logger } from "../observability/logger.js";
import { silentLogger } from "../observability/logger.js";
import type { Result } from "./result.js";
import { isValidProcessId, type Upid } from "./upid.js";

/** Turns a message body into a typed value, or an error for a malformed body. */
export type MessageDecoder<T> = (bytes: Uint8Array) => Result<T, Error>;

/** Handles one decoded message from `from`. */
export type MessageHandler<T> = (from: Upid, message: T) => void;

/** A decoder that hands the body over as is. */
export const rawBody: MessageDecoder<Uint8Array> = (bytes) => ({ ok: true, value: bytes });

/** What a process needs from the host it runs in (implemented by ProcessHost). */
export interface ProcessContext {
  readonly logger: Logger;
  address(id: string): Upid;
  send(from: Upid, to: Upid, name: string, body: Uint8Array): void;
  link(process: ProcessBase, to: Upid, reconnect: boolean): void;
}

interface InstalledHandler {
  decode: MessageDecoder<unknown>;
  handle: MessageHandler<unknown>;
}

/** How a message was received, as reported to the host. */
export type ReceiveOutcome = "handled" | "unhandled" | "undecodable" | "failed";

/** Extend this (or create one and install handlers on it) to make a process. */
export class ProcessBase {
  readonly id: string;
  private context: ProcessContext | undefined;
  private selfPid: Upid | undefined;
  private readonly handlers = new Map<string, InstalledHandler>();
  private readonly routeTable = new RouteTable();
  private readonly exitedCallbacks: ((pid: Upid) => void)[] = [];

  /** @param id e.g. `master`, `slave(1)`; must not contain `/`, `@`, `%`, `?`, `#` or spaces. */
  constructor(id: string) {
    if (!isValidProcessId(id)) throw new Error(`invalid process id '${id}'`);
    this.id = id;
  }

  /** This process' advertised address. Only valid once spawned. */
  get self(): Upid {
    if (this.selfPid === undefined) throw new Error(`process '${this.id}' is not spawned`);
    return this.selfPid;
  }

  /** True between spawn and terminate. */
  get spawned(): boolean {
    return this.context !== undefined;
  }

  /** The host's logger (a silent one before spawn). */
  protected get logger(): Logger {
    return this.context?.logger ?? silentLogger;
  }

  /**
   * Handles messages named `messageType` (e.g. `mesos.internal.RegisterSlaveMessage`).
   * A body that does not decode is logged and dropped. Installing a type twice is a bug.
   */
  install<T>(messageType: string, decode: MessageDecoder<T>, handler: MessageHandler<T>): void {
    if (this.handlers.has(messageType)) {
      throw new Error(`process '${this.id}' already handles '${messageType}'`);
    }
    this.handlers.set(messageType, {
      decode: decode as MessageDecoder<unknown>,
      handle: handler as MessageHandler<unknown>,
    });
  }

  /** True if a handler is installed for `messageType`. */
  handles(messageType: string): boolean {
    return this.handlers.has(messageType);
  }

  /**
   * Serves `path` (relative to the process: `/state` is `/master/state` on
   * the master). The longest declared prefix of a request path wins.
   */
  route(path: string, options: RouteOptions, handler: RouteHandler): void {
    this.routeTable.add(path, options, handler);
  }

  /** Declared routes, for `/help`. */
  routes(): RouteInfo[] {
    return this.routeTable.list();
  }

  /** Sends a message; order is kept per destination host. Never throws for network trouble. */
  send(to: Upid, messageType: string, body: Uint8Array): void {
    this.requireContext().send(this.self, to, messageType, body);
  }

  /**
   * Watches `to`: `exited(to)` runs once when the connection to its host
   * breaks or cannot be made (or, for a process in this host, when it
   * terminates). Link again after it fired to keep watching. `reconnect`
   * replaces an existing connection by a fresh one (to recover from a
   * connection that may be half-open).
   */
  link(to: Upid, options: { reconnect?: boolean } = {}): void {
    this.requireContext().link(this, to, options.reconnect ?? false);
  }

  /** Registers a callback for exited notifications (in addition to overriding `exited`). */
  onExited(callback: (pid: Upid) => void): void {
    this.exitedCallbacks.push(callback);
  }

  /** Runs after the process is spawned; override to set up. */
  protected initialize(): void {}

  /** Runs when the process terminates; override to clean up. */
  protected finalize(): void {}

  /** A linked process went away; override to react. */
  protected exited(_pid: Upid): void {}

  /** @internal Finds the route for a path inside this process (see RouteTable.lookup). */
  lookupRoute(name: string, method: string): RouteMatch {
    return this.routeTable.lookup(name, method);
  }

  /** @internal Called by the host. */
  attach(context: ProcessContext): void {
    this.context = context;
    this.selfPid = context.address(this.id);
    this.initialize();
  }

  /** @internal Called by the host. */
  detach(): void {
    try {
      this.finalize();
    } finally {
      this.context = undefined;
    }
  }

  /** @internal The host delivers an exited notification. */
  notifyExited(pid: Upid): void {
    this.guard(`exited(${pid})`, () => {
      this.exited(pid);
      for (const cb of this.exitedCallbacks) cb(pid);
    });
  }

  /** @internal The host delivers a message. */
  receive(from: Upid, name: string, body: Uint8Array): ReceiveOutcome {
    const h = this.handlers.get(name);
    if (h === undefined) return "unhandled";
    const admit = messageGuardOf(this);
    if (admit !== undefined && !admit(from.toString(), name, body)) return "handled";
    const decoded = h.decode(body);
    if (!decoded.ok) {
      this.logger.error(
        `Dropping message ${name} from ${from} to ${this.id}: cannot decode its ${body.byteLength}-byte body: ${decoded.error.message}`,
      );
      return "undecodable";
    }
    return this.guard(`handler of ${name} from ${from}`, () => h.handle(from, decoded.value))
      ? "handled"
      : "failed";
  }

  /** Runs `fn`; a throw is a bug in the handler: log it with its stack and keep serving. */
  private guard(what: string, fn: () => void): boolean {
    try {
      fn();
      return true;
    } catch (e) {
      const detail = e instanceof Error ? (e.stack ?? e.message) : String(e);
      this.logger.error(`Process ${this.id}: ${what} failed: ${detail}`);
      return false;
    }
  }

  private requireContext(): ProcessContext {
    if (this.context === undefined) throw new Error(`process '${this.id}' is not spawned`);
    return this.context;
  }
}
