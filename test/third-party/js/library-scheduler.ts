/**
 * Runs a `mesos-framework` (npm, 0.5.3) Scheduler against a test master and
 * records what it emits, for test/integration/third-party-js*.test.ts.
 *
 * The library has no way to stop a Scheduler: when the master closes the
 * event stream (after TEARDOWN, say) it subscribes again, forever, with a
 * growing back-off. `stopLibraryScheduler` turns that re-subscription into a
 * no-op on the instance and drops the open stream, so the test process can
 * exit.
 */

import { Agent } from "node:http";
import {
  type FailureEvent,
  type OffersEvent,
  Scheduler,
  type SchedulerError,
  type SchedulerMessage,
  type SchedulerOptions,
  type SubscribedInfo,
  type WireOffer,
  type WireTaskStatus,
} from "mesos-framework";
import type { DaemonHandle } from "../../harness/processes.js";
import { tempDir, waitFor, waitLong } from "../../harness/processes.js";

/** The library's own events for the calls it sends (`sent_<call>`). */
const SENT_EVENTS = [
  "sent_subscribe",
  "sent_accept",
  "sent_decline",
  "sent_teardown",
  "sent_revive",
  "sent_kill",
  "sent_acknowledge",
  "sent_shutdown",
  "sent_reconcile",
  "sent_message",
] as const;

export interface LibraryScheduler {
  scheduler: Scheduler;
  subscribed: SubscribedInfo[];
  offers: WireOffer[];
  /** Every status the library handed to `update` listeners, in arrival order. */
  updates: WireTaskStatus[];
  messages: SchedulerMessage[];
  failures: FailureEvent[];
  heartbeats: number;
  /** Each `error` the library emitted, as one line. */
  errors: string[];
  /** How many times each `sent_<call>` fired (the master answered 202). */
  sent: Map<string, number>;
  /** Waits for an update of `taskId` in `state` (and matching `extra`), returns it. */
  waitForUpdate(
    taskId: string,
    state: string,
    extra?: (status: WireTaskStatus) => boolean,
  ): Promise<WireTaskStatus>;
  /** Waits until `sent_<call>` fired at least `count` times. */
  waitForSent(call: string, count?: number): Promise<void>;
  /** Waits for an `error` containing `text`. */
  waitForError(text: string): Promise<string>;
}

function errorLine(error: SchedulerError): string {
  if (typeof error === "string") return error;
  return error.message;
}

/**
 * A Scheduler for `master` as the library's README builds one (masterUrl,
 * port, frameworkName, tasks, handlers), subscribed on `ready`. Its log goes
 * to a temporary directory (by default the library writes `logs/` in the
 * current directory). `masterConnectionTimeout` is raised above the
 * master's 15 s heartbeat interval: with the library's default of 10 s, an
 * idle stream makes it drop the connection and, when the redirect probe it
 * then sends gets no answer, call process.exit(1).
 */
export function startLibraryScheduler(
  master: DaemonHandle,
  options: Omit<SchedulerOptions, "masterUrl" | "port">,
): LibraryScheduler {
  const logDir = tempDir("mesos-framework-log-");
  const scheduler = new Scheduler({
    masterUrl: "127.0.0.1",
    port: master.port,
    masterConnectionTimeout: 120,
    logging: { path: logDir, fileName: "scheduler.log", level: "warn" },
    ...options,
  });
  // The library predates Node 19, whose global agent keeps sockets alive and
  // times idle ones out after 5 s: the timeout listener the library puts on
  // its SUBSCRIBE socket would then fire once the stream has ended and the
  // socket idles in the pool, and the library would treat that as a lost
  // master (and exit the process when its redirect probe goes unanswered).
  // Sockets of its own, closed after each response, avoid that.
  scheduler.requestTemplate.agent = new Agent({ keepAlive: false });
  const recorder: LibraryScheduler = {
    scheduler,
    subscribed: [],
    offers: [],
    updates: [],
    messages: [],
    failures: [],
    heartbeats: 0,
    errors: [],
    sent: new Map(),
    waitForUpdate: (taskId, state, extra = () => true) =>
      waitLong(`${taskId} ${state} through mesos-framework`, () =>
        recorder.updates.find((u) => u.task_id.value === taskId && u.state === state && extra(u)),
      ).catch((error: unknown) => {
        const seen = recorder.updates.map((u) => `${u.task_id.value} ${u.state} (${u.message})`);
        throw new Error(`${String(error)}; updates seen: ${seen.join("; ")}`);
      }),
    waitForSent: async (call, count = 1) => {
      await waitFor(
        `mesos-framework's sent_${call} (x${count}); errors so far: ${recorder.errors.join(" | ")}`,
        () => (recorder.sent.get(call) ?? 0) >= count,
      );
    },
    waitForError: (text) =>
      waitFor(`mesos-framework error '${text}'`, () =>
        recorder.errors.find((e) => e.includes(text)),
      ).catch((error: unknown) => {
        throw new Error(`${String(error)}; errors seen: ${recorder.errors.join(" | ")}`);
      }),
  };
  scheduler.on("subscribed", (info) => recorder.subscribed.push(info));
  scheduler.on("offers", (event: OffersEvent) => recorder.offers.push(...event.offers));
  scheduler.on("update", (update) => recorder.updates.push(update.status));
  scheduler.on("message", (message) => recorder.messages.push(message));
  scheduler.on("failure", (failure) => recorder.failures.push(failure));
  scheduler.on("heartbeat", () => {
    recorder.heartbeats++;
  });
  scheduler.on("error", (error) => recorder.errors.push(errorLine(error)));
  for (const name of SENT_EVENTS) {
    const call = name.slice("sent_".length);
    scheduler.on(name, () => recorder.sent.set(call, (recorder.sent.get(call) ?? 0) + 1));
  }
  scheduler.on("ready", () => scheduler.subscribe());
  return recorder;
}

/** The library's own SUBSCRIBE, for a test that subscribes again after `stopResubscribing`. */
export function subscribeAgain(recorder: LibraryScheduler): void {
  Scheduler.prototype.subscribe.call(recorder.scheduler);
}

/**
 * From now on the library's automatic re-subscription (on a closed stream) does
 * nothing; `subscribeAgain` still subscribes.
 */
export function stopResubscribing(recorder: LibraryScheduler): void {
  recorder.scheduler.subscribe = () => {};
}

/** Stops re-subscription, drops the open event stream and closes its ZooKeeper session if any. */
export function stopLibraryScheduler(recorder: LibraryScheduler): void {
  stopResubscribing(recorder);
  recorder.scheduler.httpRequest.destroy?.();
  recorder.scheduler.zkClient?.close();
}
