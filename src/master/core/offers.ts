/**
 * Offers: turning the allocator's decisions into OFFERS events, and taking
 * offers back (DECLINE, RESCIND on `--offer_timeout` or when the agent or
 * framework goes away, or silently when they are used or discarded).
 */
import type { Filters, Offer, Resource } from "../../common/protocol/generated/mesos-v1.js";
import type { Call_Decline } from "../../common/protocol/generated/mesos-v1-scheduler.js";
import {
  type Resource as CoreResource,
  downgradeResource,
  validateRole,
} from "../../common/resources/index.js";
import type { OfferAllocation } from "../allocator/index.js";
import type { Master } from "./master.js";
import type { AgentRecord, FrameworkRecord, OfferRecord } from "./records.js";

/** Makes offers from allocations; resources that cannot be offered go straight back. */
export function makeOffers(m: Master, allocations: readonly OfferAllocation[]): void {
  const byFramework = new Map<string, Offer[]>();
  for (const allocation of allocations) {
    const framework = m.frameworks.get(allocation.frameworkId);
    const agent = m.agents.get(allocation.agentId);
    if (framework === undefined || !framework.connected || !framework.active) {
      m.logger.warn(
        `Master returning resources offered to framework ${allocation.frameworkId} because the ` +
          "framework has terminated, is not connected, or is inactive",
      );
      m.allocator.recoverResources(
        allocation.frameworkId,
        allocation.agentId,
        allocation.resources,
      );
      continue;
    }
    if (agent === undefined || !agent.active) {
      m.logger.warn(
        `Master returning resources offered because agent ${allocation.agentId} is ` +
          `${agent === undefined ? "not valid" : agent.connected ? "deactivated" : "disconnected"}`,
      );
      m.allocator.recoverResources(
        allocation.frameworkId,
        allocation.agentId,
        allocation.resources,
      );
      continue;
    }
    const record = createOffer(m, framework, agent, allocation);
    let list = byFramework.get(framework.id);
    if (list === undefined) {
      list = [];
      byFramework.set(framework.id, list);
    }
    list.push(record.offer);
  }
  for (const [frameworkId, offers] of byFramework) {
    const framework = m.frameworks.get(frameworkId);
    if (framework === undefined) continue;
    m.logger.info(
      `Sending offers [ ${offers.map((o) => o.id.value).join(", ")} ] to framework ${frameworkId}`,
    );
    m.sendEvent(framework, { type: "OFFERS", offers: { offers } });
  }
}

function createOffer(
  m: Master,
  framework: FrameworkRecord,
  agent: AgentRecord,
  allocation: OfferAllocation,
): OfferRecord {
  const address = agent.address();
  const id = m.ids.nextOfferId();
  // ephemeral_ports are the agent's business; Mesos hides them from offers too.
  let resources = allocation.resources
    .toArray()
    .filter((r) => r.name !== "ephemeral_ports") as Resource[];
  // Schedulers without RESERVATION_REFINEMENT read the old format (`role: "*"`,
  // `reservation`), as Mesos sends it to them.
  if (!framework.hasCapability("RESERVATION_REFINEMENT")) {
    resources = resources.map((r) => {
      const old = downgradeResource(r as CoreResource);
      return old.ok ? (old.value as Resource) : r;
    });
  }
  const offer: Offer = {
    id: { value: id },
    framework_id: { value: framework.id },
    agent_id: { value: agent.id },
    hostname: agent.info.hostname,
    url: {
      scheme: "http",
      address: { hostname: agent.info.hostname, ip: address.ip, port: address.port },
      path: `/${address.id}`,
    },
    resources,
    attributes: agent.info.attributes ?? [],
    allocation_info: { role: allocation.role },
  };
  if (agent.info.domain !== undefined) offer.domain = agent.info.domain;
  const executors = agent.executors.get(framework.id);
  if (executors !== undefined && executors.size > 0) {
    offer.executor_ids = [...executors.keys()].map((value) => ({ value }));
  }
  if (allocation.unavailability !== undefined) {
    offer.unavailability = allocation.unavailability as Offer["unavailability"];
  }
  const record: OfferRecord = {
    offer,
    id,
    frameworkId: framework.id,
    agentId: agent.id,
    role: allocation.role,
    resources: allocation.resources,
    timer: undefined,
  };
  m.offers.set(id, record);
  framework.offers.set(id, record);
  agent.offers.add(record);
  const timeout = m.config.offerTimeoutMs;
  if (timeout !== undefined) {
    record.timer = m.clock.setTimer(timeout, () => {
      record.timer = undefined;
      if (m.offers.get(id) !== record) return;
      m.logger.info(`Offer ${id} of framework ${framework.id} timed out; rescinding it`);
      rescindOffer(m, record);
    });
  }
  return record;
}

/** Forgets an offer without giving its resources back (they were used). */
export function removeOffer(m: Master, offer: OfferRecord): void {
  if (offer.timer !== undefined) m.clock.cancelTimer(offer.timer);
  offer.timer = undefined;
  m.offers.delete(offer.id);
  m.frameworks.get(offer.frameworkId)?.offers.delete(offer.id);
  m.agents.get(offer.agentId)?.offers.delete(offer);
}

/** Takes an offer back, telling the framework (RESCIND). */
export function rescindOffer(m: Master, offer: OfferRecord, filters?: Filters): void {
  const framework = m.frameworks.get(offer.frameworkId);
  if (framework !== undefined) {
    m.sendEvent(framework, { type: "RESCIND", rescind: { offer_id: { value: offer.id } } });
  }
  discardOffer(m, offer, filters);
}

/** Takes an offer back without telling the framework; its resources go back to the allocator. */
export function discardOffer(m: Master, offer: OfferRecord, filters?: Filters): void {
  m.allocator.recoverResources(offer.frameworkId, offer.agentId, offer.resources, filters);
  removeOffer(m, offer);
}

/** DECLINE: the offers' resources go back, with the call's refuse filter. */
export function decline(m: Master, framework: FrameworkRecord, call: Call_Decline): void {
  const ids = (call.offer_ids ?? []).map((o) => o.value);
  m.logger.info(
    `Processing DECLINE call for offers: [ ${ids.join(", ")} ] for framework ${framework.id}`,
  );
  for (const id of ids) {
    const offer = m.offers.get(id);
    if (offer === undefined || offer.frameworkId !== framework.id) {
      m.logger.warn(`Ignoring decline of offer ${id} since it is no longer valid`);
      continue;
    }
    discardOffer(m, offer, call.filters ?? {});
  }
}

/**
 * Mesos' check of REVIVE/SUPPRESS roles: each must be a valid role name and one
 * of the framework's roles; the first bad one drops the whole call (logged).
 */
function rolesError(
  framework: FrameworkRecord,
  roles: readonly string[],
  what: "revive" | "suppression",
): string | undefined {
  const known = new Set(framework.roles());
  for (const role of roles) {
    const invalid = validateRole(role);
    if (invalid !== undefined) return `${what} role '${role}' is invalid: ${invalid}`;
    if (!known.has(role)) {
      return `${what} role '${role}' is not one of the frameworks's subscribed roles`;
    }
  }
  return undefined;
}

/** REVIVE: clears filters and un-suppresses `roles` (all the framework's roles when empty). */
export function revive(m: Master, framework: FrameworkRecord, roles: readonly string[]): void {
  m.logger.info(`Processing REVIVE call for framework ${framework.id}`);
  const error = rolesError(framework, roles, "revive");
  if (error !== undefined) {
    m.logger.warn(`Dropping REVIVE call from framework ${framework.id}: ${error}`);
    return;
  }
  const targets = roles.length === 0 ? framework.roles() : roles;
  for (const role of targets) framework.suppressedRoles.delete(role);
  m.allocator.reviveOffers(framework.id, targets);
}

/** SUPPRESS: no offers for `roles` (all the framework's roles when empty) until REVIVE. */
export function suppress(m: Master, framework: FrameworkRecord, roles: readonly string[]): void {
  m.logger.info(`Processing SUPPRESS call for framework ${framework.id}`);
  const error = rolesError(framework, roles, "suppression");
  if (error !== undefined) {
    m.logger.warn(`Dropping SUPPRESS call from framework ${framework.id}: ${error}`);
    return;
  }
  const targets = roles.length === 0 ? framework.roles() : roles;
  for (const role of targets) framework.suppressedRoles.add(role);
  m.allocator.suppressOffers(framework.id, targets);
}
