/**
 * Hooks around routed requests: a process may have one guard that sees
 * every HTTP request routed to it (after the route matched, before its
 * handler runs). Authentication, authorization and response filtering use
 * it; the guard calls `next()` to run the route's handler, or answers
 * itself (401, 403).
 */
import type { HttpRequest } from "./request.js";
import type { HttpResponse } from "./response.js";

/** Runs the matched route's handler. */
export type NextHandler = () => HttpResponse | Promise<HttpResponse>;

/** Wraps a process' routes. */
export type HttpGuard = (
  request: HttpRequest,
  next: NextHandler,
) => HttpResponse | Promise<HttpResponse>;

const guards = new WeakMap<object, HttpGuard>();

/** Installs (or with undefined removes) the guard of `process`. */
export function setHttpGuard(process: object, guard: HttpGuard | undefined): void {
  if (guard === undefined) guards.delete(process);
  else guards.set(process, guard);
}

/** The guard of `process`, if any. */
export function httpGuardOf(process: object): HttpGuard | undefined {
  return guards.get(process);
}

/**
 * Decides whether a libprocess message may reach a process' handler
 * (`from` is the sender's pid text, `name` the message type). Dropped
 * messages are the guard's to log.
 */
export type MessageGuard = (from: string, name: string, body: Uint8Array) => boolean;

const messageGuards = new WeakMap<object, MessageGuard>();

/** Installs (or with undefined removes) the message guard of `process`. */
export function setMessageGuard(process: object, guard: MessageGuard | undefined): void {
  if (guard === undefined) messageGuards.delete(process);
  else messageGuards.set(process, guard);
}

/** The message guard of `process`, if any. */
export function messageGuardOf(process: object): MessageGuard | undefined {
  return messageGuards.get(process);
}
