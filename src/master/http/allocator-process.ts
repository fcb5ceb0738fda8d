/**
 * The `allocator` process of the master, with Mesos' one route:
 * `/allocator/offer_constraints_debug`, which shows per framework its
 * suppressed roles and, per role, the agents its offer constraints exclude.
 * Frameworks the caller may not view (VIEW_FRAMEWORK) are left out.
 */

import type { LocalAuthorizer } from "../../common/auth/acls.js";
import { principalOf } from "../../common/auth/basic.js";
import type { HttpRequest } from "../../common/http/request.js";
import type { HttpResponse } from "../../common/http/response.js";
import { jsonResponse } from "../../common/http/v1-api.js";
import { ProcessBase } from "../../common/process/process-base.js";
import type { HierarchicalAllocator } from "../allocator/index.js";

/** Process id of Mesos' allocator (libprocess drops the `(1)`). */
export const ALLOCATOR_ID = "allocator";

const OFFER_CONSTRAINTS_DEBUG_HELP =
  "Shows which agents each framework's offer constraints exclude.\n" +
  'The JSON is {"frameworks": {<framework id>: {"suppressed_roles": [...], ' +
  '"excluded_by_attribute_constraints": {<role>: [<agent id>, ...]}}}}, for the ' +
  "frameworks the caller may view. ?jsonp=fn wraps the JSON.";

export interface AllocatorProcessOptions {
  allocator: HierarchicalAllocator;
  authorizer: LocalAuthorizer;
  /** The user of a framework the master knows (the object of VIEW_FRAMEWORK). */
  frameworkUser(frameworkId: string): string | undefined;
}

/** The `allocator` process. */
export function allocatorProcess(o: AllocatorProcessOptions): ProcessBase {
  const p = new ProcessBase(ALLOCATOR_ID);
  p.route(
    "/offer_constraints_debug",
    { help: OFFER_CONSTRAINTS_DEBUG_HELP },
    (request: HttpRequest): HttpResponse => {
      const approve = o.authorizer.approver("view_frameworks", principalOf(request));
      const visible = (id: string): boolean => {
        const user = o.frameworkUser(id);
        return user !== undefined && approve(user);
      };
      return jsonResponse(request, JSON.stringify(o.allocator.offerConstraintsDebug(visible)));
    },
  );
  return p;
}
