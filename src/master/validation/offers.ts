/**
 * Validation of the offer ids of an ACCEPT (Mesos `validation::offer`):
 * no duplicates, all still outstanding, all made to this framework, for one
 * role and one agent. A failure drops every task of the call with
 * TASK_DROPPED (TASK_LOST for frameworks that are not partition-aware).
 */

/** What the validator needs to know about an outstanding offer. */
export interface OfferView {
  readonly frameworkId: string;
  readonly agentId: string;
  readonly role: string;
}

/** Undefined when the offers can be used together by `frameworkId`. */
export function validateOfferIds(
  offerIds: readonly string[],
  frameworkId: string,
  lookup: (offerId: string) => OfferView | undefined,
): string | undefined {
  if (offerIds.length === 0) return "No offers specified";
  const seen = new Set<string>();
  for (const id of offerIds) {
    if (seen.has(id)) return `Duplicate offer ${id} in offer list`;
    seen.add(id);
  }
  for (const id of offerIds) {
    if (lookup(id) === undefined) return `Offer ${id} is no longer valid`;
  }
  for (const id of offerIds) {
    const offer = lookup(id) as OfferView;
    if (offer.frameworkId !== frameworkId) {
      return (
        `Offer ${id} has invalid framework ${offer.frameworkId} while framework ` +
        `${frameworkId} is expected`
      );
    }
  }
  let role: string | undefined;
  for (const id of offerIds) {
    const offer = lookup(id) as OfferView;
    if (role === undefined) role = offer.role;
    else if (offer.role !== role) {
      return (
        `Aggregated offers must be allocated to the same role. Offer ${id} uses role ` +
        `'${offer.role} but another is using role '${role}`
      );
    }
  }
  let agentId: string | undefined;
  for (const id of offerIds) {
    const offer = lookup(id) as OfferView;
    if (agentId === undefined) agentId = offer.agentId;
    else if (offer.agentId !== agentId) {
      return (
        `Aggregated offers must belong to one single agent. Offer ${id} uses agent ` +
        `${offer.agentId} and agent ${agentId}`
      );
    }
  }
  return undefined;
}
