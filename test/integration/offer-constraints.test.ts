/**
 * Offer constraints (SUBSCRIBE / UPDATE_FRAMEWORK `offer_constraints`) with a
 * real master and two real agents whose `rack` attributes differ: a
 * constrained role is offered only the agents that satisfy its constraints,
 * `/allocator/offer_constraints_debug` shows the excluded ones, and invalid
 * constraints are refused with Mesos' message.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { FrameworkInfo } from "../../src/common/protocol/generated/mesos-v1.js";
import type { Event } from "../../src/common/protocol/generated/mesos-v1-scheduler.js";
import {
  type DaemonHandle,
  getJson,
  startAgent,
  startMaster,
  stopAll,
  waitFor,
} from "../harness/processes.js";
import { subscribe, subscribeCall } from "./master-clients.js";

let master: DaemonHandle;
const agentIds = new Map<string, string>();

before(async () => {
  master = await startMaster({ flags: { allocation_interval: "100ms" } });
  for (const rack of ["r1", "r2"]) {
    await startAgent({ master: master.address, flags: { attributes: `rack:${rack}` } });
  }
  await waitFor("both agents", async () => {
    const state = await getJson<{
      slaves: { id: string; attributes: Record<string, string> }[];
    }>(`${master.url}/master/slaves`);
    for (const s of state?.slaves ?? []) agentIds.set(String(s.attributes.rack), s.id);
    return agentIds.size === 2;
  });
});

after(stopAll);

const rackIs = (value: string) => ({
  role_constraints: {
    web: {
      groups: [
        {
          attribute_constraints: [
            { selector: { attribute_name: "rack" }, predicate: { text_equals: { value } } },
          ],
        },
      ],
    },
  },
});

const webFramework = { roles: ["web"], capabilities: [{ type: "MULTI_ROLE" }] };

function frameworkInfo(name: string): FrameworkInfo {
  const info = subscribeCall(name, webFramework).subscribe?.framework_info;
  assert.ok(info !== undefined);
  return info;
}

function offeredAgents(events: Event[]): Set<string> {
  return new Set(events.flatMap((e) => (e.offers?.offers ?? []).map((o) => o.agent_id.value)));
}

test("offer constraints: a constrained role is offered only the agents that satisfy it; UPDATE_FRAMEWORK changes them", async () => {
  const call = subscribeCall("constrained", webFramework);
  (call.subscribe as { offer_constraints?: unknown }).offer_constraints = rackIs("r2");
  const s = await subscribe(master.url, call);
  await s.nth("OFFERS");
  // Several allocation cycles later still only r2's agent.
  await new Promise((resolve) => setTimeout(resolve, 500));
  assert.deepEqual([...offeredAgents(s.events)], [agentIds.get("r2")]);

  const debug = await getJson<{
    frameworks: Record<string, { excluded_by_attribute_constraints: Record<string, string[]> }>;
  }>(`${master.url}/allocator/offer_constraints_debug`);
  assert.deepEqual(debug?.frameworks[s.frameworkId]?.excluded_by_attribute_constraints, {
    web: [agentIds.get("r1")],
  });

  const updated = await s.call({
    type: "UPDATE_FRAMEWORK",
    update_framework: {
      framework_info: {
        ...frameworkInfo("constrained"),
        id: { value: s.frameworkId },
      },
      offer_constraints: rackIs("r1"),
    },
  });
  assert.equal(updated.status, 200, updated.body);
  await waitFor("an offer from r1's agent", () =>
    offeredAgents(s.events).has(agentIds.get("r1") as string),
  );
  s.close();
});

test("offer constraints: an invalid regex refuses the subscription, and UPDATE_FRAMEWORK answers 400", async () => {
  const bad = {
    role_constraints: {
      web: {
        groups: [
          {
            attribute_constraints: [
              {
                selector: { attribute_name: "rack" },
                predicate: { text_matches: { regex: "(r" } },
              },
            ],
          },
        ],
      },
    },
  };
  const call = subscribeCall("bad-constraints", webFramework);
  (call.subscribe as { offer_constraints?: unknown }).offer_constraints = bad;
  const refused = await subscribe(master.url, call);
  const error = await refused.nth("ERROR");
  assert.equal(
    error.error?.message,
    "Offer constraints are not valid: A role web has an invalid 'AttributeConstraint': " +
      "Failed to construct regex from pattern '(r': missing ): (r",
  );

  const s = await subscribe(master.url, subscribeCall("update-bad", webFramework));
  await s.nth("SUBSCRIBED");
  const answer = await s.call({
    type: "UPDATE_FRAMEWORK",
    update_framework: {
      framework_info: {
        ...frameworkInfo("update-bad"),
        id: { value: s.frameworkId },
      },
      offer_constraints: bad,
    },
  });
  assert.equal(answer.status, 400);
  assert.match(
    answer.body,
    /^'UpdateFramework' call is not valid: Offer constraints are not valid: /,
  );
  s.close();
});
