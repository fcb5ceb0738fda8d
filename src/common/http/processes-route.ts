/**
 * `/__processes__`: libprocess' list of the processes running in a host,
 * one `{id, events}` object each, `events` being what waits in the
 * process' queue (message, HTTP request, dispatch, exited, terminate).
 *
 * The host names what its run queue still holds for each process
 * (`ProcessHost.pendingEvents`: messages and exit notices not yet handled);
 * HTTP requests are dispatched as they arrive, so none is ever queued.
 */
import { ProcessBase } from "../process/process-base.js";
import type { HttpRequest } from "./request.js";
import { type HttpResponse, response } from "./response.js";
import { APPLICATION_JSON } from "./v1-api.js";

/** One queued event, in libprocess' JSON shape. */
export type ProcessEvent =
  | { type: "MESSAGE"; name: string; from: string; to: string; body: string }
  | { type: "HTTP"; method: string; url: string }
  | { type: "DISPATCH" }
  | { type: "EXITED" }
  | { type: "TERMINATE" };

/** One entry of `/__processes__`. */
export interface ProcessEntry {
  readonly events: readonly ProcessEvent[];
  readonly id: string;
}

/** What the endpoint reads from its host. */
export interface ProcessListing {
  /** The running processes. */
  processes(): readonly { readonly id: string }[];
  /** What waits for `id`, oldest first; absent: nothing is ever queued. */
  pendingEvents?(id: string): readonly ProcessEvent[];
}

/** The `/__processes__` document, sorted by id. */
export function processesJson(listing: ProcessListing): ProcessEntry[] {
  return listing
    .processes()
    .map((p) => ({ events: listing.pendingEvents?.(p.id) ?? [], id: p.id }))
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** The process id libprocess gives this route; `/help` leaves it out, as libprocess does. */
export const PROCESSES_ID = "__processes__";

const PROCESSES_HELP =
  "Lists the processes running here and the events queued for each.\n" +
  "A JSON array of {id, events}; not listed by /help, as in libprocess.";

/** The `__processes__` process (any method, no `?jsonp=`, as in libprocess). */
export class ProcessesProcess extends ProcessBase {
  constructor(private readonly listing: ProcessListing) {
    super(PROCESSES_ID);
    this.route("/", { help: PROCESSES_HELP }, (r) => this.serve(r));
  }

  private serve(_request: HttpRequest): HttpResponse {
    return response(200, JSON.stringify(processesJson(this.listing)), {
      "Content-Type": APPLICATION_JSON,
    });
  }
}
