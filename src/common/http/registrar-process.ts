/**
 * `/registrar(1)/registry`: the master's registry as JSON (the protobuf
 * `mesos.internal.Registry` in Mesos' JSON form), served by a process named
 * as Mesos names its registrar. Mesos records the leading master's info in
 * the registry when it recovers it; ours keeps that out of the stored
 * registry, so the endpoint adds it.
 */

import { ProcessBase } from "../process/process-base.js";
import type { Registry } from "../protocol/generated/mesos-internal.js";
import type { MasterInfo } from "../protocol/generated/mesos-v1.js";
import { codecFor } from "../protocol/index.js";
import type { HttpRequest } from "./request.js";
import type { HttpResponse } from "./response.js";
import { jsonResponse } from "./v1-api.js";

/** Process id of the registrar (the first one libprocess generates). */
export const REGISTRAR_ID = "registrar(1)";

const REGISTRY_HELP =
  "Returns the current contents of the Registry in JSON.\n" +
  "The mesos.internal.Registry message: master (the leading master's info), slaves, " +
  "unreachable, gone, machines, schedules, quota_configs, weights; unset parts are left " +
  "out. Any method. ?jsonp=fn wraps the JSON.";

/** What the route reads: the registry now, and the info of the master that recovered it. */
export interface RegistrarView {
  snapshot(): Registry;
  readonly masterInfo: MasterInfo;
}

/** The registry document: the stored registry with `master.info` filled in. */
export function registryJson(view: RegistrarView): string {
  const registry: Registry = { ...view.snapshot(), master: { info: view.masterInfo } };
  return codecFor<Registry>("mesos.internal.Registry").encodeJson(registry);
}

/** The `registrar(1)` process with its `/registry` route. */
export function registrarProcess(view: RegistrarView): ProcessBase {
  const p = new ProcessBase(REGISTRAR_ID);
  p.route(
    "/registry",
    { help: REGISTRY_HELP },
    (request: HttpRequest): HttpResponse => jsonResponse(request, registryJson(view)),
  );
  return p;
}
