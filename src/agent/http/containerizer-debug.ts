/**
 * `/containerizer/debug` on the agent: the containerizer operations that
 * have started and not settled yet, as Mesos' agent lists them to help find
 * a container stuck in launch or destroy. The answer is
 * `{"pending": [{"operation": "<isolator>::<step>", "args": {...}}]}`, every
 * arg a string. Mesos gives no fixed schema for an operation; neither do we.
 */
import { getOnlyWithAcls } from "../../common/http/common-endpoints.js";
import type { HttpRequest } from "../../common/http/request.js";
import type { HttpResponse } from "../../common/http/response.js";
import { jsonResponse } from "../../common/http/v1-api.js";
import type { Isolator } from "../containerizer/isolators/isolator.js";

/** Help of `/containerizer/debug`. */
export const CONTAINERIZER_DEBUG_HELP =
  "Pending operations of the containerizer, to investigate stuck containers.\n" +
  'A JSON object {"pending": [{"operation": NAME, "args": {KEY: VALUE}}]}: each isolator ' +
  "step (prepare, isolate, update, usage, cleanup, recover) that has started and not " +
  "finished yet. There is no fixed schema; tools should not depend on it. Query: jsonp=fn.";

/** One operation in flight. */
export interface PendingOperation {
  readonly operation: string;
  readonly args: Readonly<Record<string, string>>;
}

/** The containerizer operations in flight, in the order they started. */
export class PendingOperations {
  private readonly inFlight = new Map<number, PendingOperation>();
  private next = 0;

  /** Lists `operation` until `work` settles; returns `work` unchanged. */
  track<T>(work: Promise<T>, operation: string, args: Record<string, string> = {}): Promise<T> {
    const id = this.next++;
    this.inFlight.set(id, { operation, args: { ...args } });
    const done = () => {
      this.inFlight.delete(id);
    };
    work.then(done, done);
    return work;
  }

  /** What is in flight now. */
  list(): PendingOperation[] {
    return [...this.inFlight.values()];
  }
}

/** The isolator steps Mesos tracks, with the container id as their arg where they take one. */
const PER_CONTAINER = ["isolate", "update", "usage", "cleanup"] as const;

/**
 * Makes every step of `isolators` show in `pending` while it runs (Mesos
 * wraps its isolators in a tracker the same way). Changes the objects.
 */
export function trackIsolators(isolators: readonly Isolator[], pending: PendingOperations): void {
  for (const isolator of isolators) {
    const name = isolator.name;
    const prepare = isolator.prepare.bind(isolator);
    isolator.prepare = (config) =>
      pending.track(prepare(config), `${name}::prepare`, { containerId: config.containerId });
    for (const step of PER_CONTAINER) {
      const original = isolator[step].bind(isolator) as (
        containerId: string,
        ...rest: unknown[]
      ) => Promise<unknown>;
      (isolator as unknown as Record<string, unknown>)[step] = (
        containerId: string,
        ...rest: unknown[]
      ) => pending.track(original(containerId, ...rest), `${name}::${step}`, { containerId });
    }
    const recover = isolator.recover.bind(isolator);
    isolator.recover = (containers) => pending.track(recover(containers), `${name}::recover`);
  }
}

/** Handler of `/containerizer/debug` (any method; GET only with `--acls`, as in Mesos). */
export function containerizerDebugHandler(
  pending: PendingOperations,
  flags: Readonly<Record<string, string>> = {},
): (request: HttpRequest) => HttpResponse {
  const methodCheck = getOnlyWithAcls(flags);
  return (request) =>
    methodCheck(request) ??
    jsonResponse(
      request,
      JSON.stringify({
        pending: pending.list().map((p) => ({ operation: p.operation, args: p.args })),
      }),
    );
}
