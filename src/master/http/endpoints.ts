/**
 * The small read-only endpoints of the master: `/health`, `/version`,
 * `/redirect`, `/flags`, and the state document routes.
 */
import type { HttpRequest } from "../../common/http/request.js";
import { type HttpResponse, notFound, ok, temporaryRedirect } from "../../common/http/response.js";
import { checkMethod, jsonResponse } from "../../common/http/v1-api.js";
import type { MasterInfo } from "../../common/protocol/generated/mesos-v1.js";
import { type BuildInfo, type StateContext, stateJson } from "./state-json.js";

/** `/version`: the Mesos version we follow, plus our own in `mesos_ts_version`. */
export function versionHandler(
  build: BuildInfo,
  ownVersion: string,
): (request: HttpRequest) => HttpResponse {
  return (request) =>
    checkMethod(request, ["GET"]) ??
    jsonResponse(
      request,
      JSON.stringify({
        version: build.version,
        build_date: build.buildDate,
        build_time: build.buildTime,
        build_user: build.buildUser,
        mesos_ts_version: ownVersion,
      }),
    );
}

/** `/health`: 200 with an empty body while the master answers at all. */
export function healthHandler(request: HttpRequest): HttpResponse {
  return checkMethod(request, ["GET"]) ?? ok();
}

/**
 * `/redirect`: 307 to the leading master, `//<hostname>:<port>` (protocol
 * relative). A standalone master leads, so it points at itself.
 */
export function redirectHandler(info: MasterInfo): (request: HttpRequest) => HttpResponse {
  return (request) => {
    const base = `//${info.hostname ?? info.address?.ip ?? ""}:${info.port}`;
    // Anything below /redirect would loop.
    if (request.remainder !== "" && request.remainder !== "/") return notFound();
    return temporaryRedirect(base);
  };
}

/** `/flags`: every flag with a value, as text. */
export function flagsHandler(
  flags: Record<string, string>,
): (request: HttpRequest) => HttpResponse {
  return (request) =>
    checkMethod(request, ["GET"]) ?? jsonResponse(request, JSON.stringify({ flags }));
}

/** `/state` and its aliases. */
export function stateHandler(ctx: StateContext): (request: HttpRequest) => HttpResponse {
  return (request) =>
    checkMethod(request, ["GET"]) ?? jsonResponse(request, JSON.stringify(stateJson(ctx)));
}
