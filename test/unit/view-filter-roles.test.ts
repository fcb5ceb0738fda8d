/**
 * VIEW_ROLE on resources (view-filter.ts): which resources a principal may
 * view, and how the agents of `/master/slaves` and v1 GetAgents are cut.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  filterSlavesJson,
  filterV1Agents,
  resourceVisible,
  viewPermissions,
  viewsEverything,
} from "../../src/common/auth/view-filter.js";
import { localAuthorizer } from "../harness/acls.js";

// dev may view `eng/web` (and roles below `eng/web`) but not `eng` itself or `ops`.
const auth = localAuthorizer({
  view_roles: [
    { principals: { values: ["dev"] }, roles: { values: ["eng/web", "eng/web/%"] } },
    { principals: { values: ["dev"] }, roles: { type: "NONE" } },
  ],
});
const dev = viewPermissions(auth, "dev");

const reserved = (...roles: string[]) => ({
  name: "cpus",
  type: "SCALAR",
  scalar: { value: 1 },
  reservations: roles.map((role) => ({ type: "DYNAMIC", role })),
});

describe("view filter: VIEW_ROLE on resources", () => {
  it("a refined reservation needs every level; an allocation its role; `*` is anyone's", () => {
    assert.equal(resourceVisible(reserved("eng/web"), dev), true);
    assert.equal(resourceVisible(reserved("eng", "eng/web"), dev), false);
    assert.equal(resourceVisible(reserved("ops"), dev), false);
    assert.equal(resourceVisible({ name: "mem", role: "*" }, dev), true);
    assert.equal(resourceVisible({ name: "mem", role: "ops" }, dev), false);
    assert.equal(resourceVisible({ name: "mem", allocation_info: { role: "ops" } }, dev), false);
    assert.equal(
      resourceVisible({ ...reserved("eng/web"), allocation_info: { role: "eng/web/x" } }, dev),
      true,
    );
  });

  it("viewsEverything looks only at the actions asked about", () => {
    assert.equal(viewsEverything(auth, "dev", ["view_frameworks", "view_tasks"]), true);
    assert.equal(viewsEverything(auth, "dev", ["view_roles"]), false);
    assert.equal(viewsEverything(auth, "ops", ["view_roles"]), true);
  });

  it("/master/slaves: roles by key, resources one by one; totals untouched", () => {
    const doc = {
      slaves: [
        {
          id: "a1",
          resources: { cpus: 3 },
          reserved_resources: { "eng/web": { cpus: 1 }, ops: { cpus: 2 } },
          reserved_resources_full: {
            "eng/web": [reserved("eng/web"), reserved("eng", "eng/web")],
            ops: [reserved("ops")],
          },
          unreserved_resources_full: [{ name: "mem", role: "*" }],
          used_resources_full: [
            { name: "mem", allocation_info: { role: "ops" } },
            { name: "mem", allocation_info: { role: "eng/web" } },
          ],
          offered_resources_full: [],
        },
      ],
      recovered_slaves: [{ id: "a2" }],
    };
    const [agent] = filterSlavesJson(doc, dev).slaves as Record<string, unknown>[];
    assert.deepEqual(agent?.resources, { cpus: 3 });
    assert.deepEqual(agent?.reserved_resources, { "eng/web": { cpus: 1 } });
    assert.deepEqual(agent?.reserved_resources_full, { "eng/web": [reserved("eng/web")] });
    assert.deepEqual(agent?.unreserved_resources_full, [{ name: "mem", role: "*" }]);
    assert.deepEqual(agent?.used_resources_full, [
      { name: "mem", allocation_info: { role: "eng/web" } },
    ]);
  });

  it("v1 GetAgents: agent_info, total, allocated, offered and recovered agents' resources", () => {
    const g = {
      agents: [
        {
          agent_info: { hostname: "h", resources: [reserved("ops"), reserved("eng/web")] },
          total_resources: [reserved("ops"), { name: "mem" }],
          allocated_resources: [{ name: "mem", allocation_info: { role: "ops" } }],
          offered_resources: [{ name: "mem", allocation_info: { role: "eng/web" } }],
        },
      ],
      recovered_agents: [{ hostname: "r", resources: [reserved("ops"), { name: "disk" }] }],
    };
    const out = filterV1Agents(g, dev) as {
      agents: Record<string, unknown>[];
      recovered_agents: Record<string, unknown>[];
    };
    const [a] = out.agents;
    assert.deepEqual(a?.agent_info, { hostname: "h", resources: [reserved("eng/web")] });
    assert.deepEqual(a?.total_resources, [{ name: "mem" }]);
    assert.deepEqual(a?.allocated_resources, []);
    assert.deepEqual(a?.offered_resources, [{ name: "mem", allocation_info: { role: "eng/web" } }]);
    assert.deepEqual(out.recovered_agents[0]?.resources, [{ name: "disk" }]);
  });
});
