/**
 * The v1 operator calls the master and the agent answer the same way:
 * GET_HEALTH, GET_FLAGS, GET_VERSION, GET_METRICS, GET_LOGGING_LEVEL,
 * SET_LOGGING_LEVEL, LIST_FILES and READ_FILE. Both daemons' `/api/v1`
 * handlers try these first; their own calls come after.
 */
import { listFilesResult, readFileResult, requestCaller } from "../files/files-http.js";
import { FilesError } from "../files/virtual-files.js";
import type { Call, Response } from "../protocol/generated/mesos-v1-master.js";
import { type BuildInfo, flagsMessage, versionInfoMessage } from "./common-endpoints.js";
import type { OperatorServices } from "./operator-processes.js";
import type { HttpRequest } from "./request.js";
import { type BodyResponse, badRequest, type HttpResponse, ok, response } from "./response.js";

/** The call fields the common calls read (master and agent Calls have them alike). */
export type CommonCall = Pick<
  Call,
  "get_metrics" | "set_logging_level" | "list_files" | "read_file"
> & { readonly type?: string };

/** A Response the common calls produce (assignable to the master's and the agent's Response). */
export type CommonResponse = Pick<
  Response,
  | "get_health"
  | "get_flags"
  | "get_version"
  | "get_metrics"
  | "get_logging_level"
  | "list_files"
  | "read_file"
> & {
  type:
    | "GET_HEALTH"
    | "GET_FLAGS"
    | "GET_VERSION"
    | "GET_METRICS"
    | "GET_LOGGING_LEVEL"
    | "LIST_FILES"
    | "READ_FILE";
};

/** What the common calls read from the daemon. */
export interface CommonCallContext {
  readonly services: OperatorServices;
  readonly flags: Readonly<Record<string, string>>;
  readonly build: BuildInfo;
}

/**
 * Answers `call` when it is one of the common calls; `undefined` when the
 * daemon must answer it itself. `reply` encodes a Response in the client's
 * `Accept` encoding. `request` is the `/api/v1` request: LIST_FILES and
 * READ_FILE check its caller against the files' guards (ACCESS_SANDBOX,
 * ACCESS_MESOS_LOG); without it nothing is checked.
 */
export async function commonOperatorCall(
  call: CommonCall,
  ctx: CommonCallContext,
  reply: (message: CommonResponse) => HttpResponse,
  request?: HttpRequest,
): Promise<HttpResponse | undefined> {
  const caller = request === undefined ? undefined : requestCaller(request);
  switch (call.type) {
    case "GET_HEALTH":
      return reply({ type: "GET_HEALTH", get_health: { healthy: true } });
    case "GET_FLAGS":
      return reply({ type: "GET_FLAGS", get_flags: flagsMessage(ctx.flags) });
    case "GET_VERSION":
      return reply({
        type: "GET_VERSION",
        get_version: { version_info: versionInfoMessage(ctx.build) },
      });
    case "GET_METRICS": {
      const timeout = call.get_metrics?.timeout;
      const snap = await ctx.services.metrics.snapshot(
        timeout === undefined ? undefined : timeout.nanoseconds / 1e6,
      );
      const metrics = Object.entries(snap).map(([name, value]) => ({ name, value }));
      return reply({ type: "GET_METRICS", get_metrics: { metrics } });
    }
    case "GET_LOGGING_LEVEL":
      return reply({
        type: "GET_LOGGING_LEVEL",
        get_logging_level: { level: ctx.services.logging.level },
      });
    case "SET_LOGGING_LEVEL": {
      const set = call.set_logging_level;
      if (set === undefined) return badRequest();
      const reason = ctx.services.logging.set(set.level, set.duration.nanoseconds / 1e6);
      return reason === undefined ? ok() : badRequest(reason);
    }
    case "LIST_FILES":
      try {
        const listed = await listFilesResult(
          ctx.services.files,
          call.list_files?.path ?? "",
          caller,
        );
        return reply({ type: "LIST_FILES", list_files: listed });
      } catch (e) {
        return filesError(e);
      }
    case "READ_FILE": {
      const read = call.read_file;
      if (read === undefined) return badRequest();
      try {
        const got = await readFileResult(
          ctx.services.files,
          read.path,
          read.offset,
          read.length,
          caller,
        );
        return reply({ type: "READ_FILE", read_file: got });
      } catch (e) {
        return filesError(e);
      }
    }
    default:
      return undefined;
  }
}

/** A files failure as the status it carries (404 for a missing path, ...). */
function filesError(e: unknown): BodyResponse {
  if (e instanceof FilesError) return response(e.status, e.message);
  return response(500, (e as Error).message);
}
