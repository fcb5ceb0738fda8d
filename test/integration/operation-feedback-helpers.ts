/**
 * What the end-to-end operation feedback tests share: a dynamically
 * reserved resource for role `web`, the agent's GET_OPERATIONS, and a
 * scheduler's view of its offers and operation statuses with a RESERVE
 * that takes an offer not used yet.
 */
import assert from "node:assert/strict";
import type {
  Offer,
  OperationStatus,
  Resource,
} from "../../src/common/protocol/generated/mesos-v1.js";
import { codecFor } from "../../src/common/protocol/index.js";
import type { SchedulerClient } from "../../src/scheduler/index.js";
import type { SchedulerEvent } from "../../src/scheduler/types.js";
import { typedOperatorCall } from "../harness/operator.js";
import { type DaemonHandle, waitLong } from "../harness/processes.js";

const agentCodecs = {
  call: codecFor("mesos.v1.agent.Call"),
  response: codecFor("mesos.v1.agent.Response"),
};

/** `value` of `name` dynamically reserved for role `web` by `ops`, allocated to `web`. */
export const reserved = (name: string, value: number): Resource => ({
  name,
  type: "SCALAR",
  scalar: { value },
  reservations: [{ type: "DYNAMIC", role: "web", principal: "ops" }],
  allocation_info: { role: "web" },
});

export const hex = (bytes: Uint8Array | undefined): string =>
  bytes === undefined ? "" : Buffer.from(bytes).toString("hex");

/** The agent's GET_OPERATIONS list. */
export async function agentOperations(agent: DaemonHandle) {
  const answer = await typedOperatorCall(agent, agentCodecs, { type: "GET_OPERATIONS" });
  assert.equal(answer.status, 200, answer.text);
  return answer.response?.get_operations?.operations ?? [];
}

/** A scheduler's offers and operation statuses, from the events it got. */
export function operationScheduler(client: SchedulerClient, events: readonly SchedulerEvent[]) {
  const offers = (): Offer[] =>
    events.flatMap((e) => ("offers" in e ? (e.offers?.offers ?? []) : []));
  const statuses = (id: string): OperationStatus[] =>
    events.flatMap((e) =>
      "update_operation_status" in e && e.update_operation_status?.status.operation_id?.value === id
        ? [e.update_operation_status.status]
        : [],
    );
  const used = new Set<string>();
  /** Accepts an offer not used yet with one RESERVE `id` of `resource`. */
  const reserve = async (id: string, resource: Resource): Promise<void> => {
    await client.revive();
    const offer = await waitLong(`an offer for ${id}`, () =>
      offers().find((o) => !used.has(o.id.value)),
    );
    used.add(offer.id.value);
    const accepted = await client.accept(
      [offer.id],
      [{ type: "RESERVE", id: { value: id }, reserve: { resources: [resource] } }],
      { refuse_seconds: 0 },
    );
    assert.ok(accepted.ok, accepted.ok ? "" : accepted.error);
  };
  /** Takes none of the offers seen so far (e.g. a failed master's, gone with it). */
  const skipOffersSoFar = (): void => {
    for (const offer of offers()) used.add(offer.id.value);
  };
  return { offers, statuses, reserve, skipOffersSoFar };
}
