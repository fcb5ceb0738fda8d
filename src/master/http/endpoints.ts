/**
 * The master-only small endpoint: `/redirect`. (`/health`, `/version` and
 * `/flags` are common to master and agent: src/common/http/common-endpoints.ts.)
 */
import type { HttpRequest } from "../../common/http/request.js";
import { type HttpResponse, notFound, temporaryRedirect } from "../../common/http/response.js";
import type { MasterInfo } from "../../common/protocol/generated/mesos-v1.js";

/**
 * `/redirect`: 307 to the leading master, `//<hostname>:<port>` (protocol
 * relative). A standalone master leads, so it points at itself.
 */
export function redirectHandler(info: MasterInfo): (request: HttpRequest) => HttpResponse {
  return (request) => {
    const base = `//${info.hostname ?? info.address?.ip ?? ""}:${info.port}`;
    // Anything below /redirect (even a bare trailing slash) would loop: 404, as in Mesos.
    if (request.remainder !== "" || request.path.endsWith("/")) return notFound();
    return temporaryRedirect(base);
  };
}
