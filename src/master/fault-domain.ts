/**
 * Fault-domain rules of the master that do not belong to one request: the
 * region check between masters of one cluster (Mesos' master exits when the
 * elected leader sits in another region than its own `--domain`).
 */
import type { DomainInfo, MasterInfo } from "../common/protocol/generated/mesos-v1.js";

/** `{region: eu, zone: rack1}`, for log lines. */
export function formatDomain(domain: DomainInfo): string {
  const fault = domain.fault_domain;
  return fault === undefined
    ? "(no fault domain)"
    : `{region: ${fault.region?.name ?? ""}, zone: ${fault.zone?.name ?? ""}}`;
}

/**
 * Why this master must stop when `leader` was elected, if it must: both
 * have a fault domain and the regions differ (quorum writes across regions
 * are what Mesos forbids). A master or leader without a fault domain never
 * conflicts. The text is the line to exit with.
 */
export function leaderRegionConflict(leader: MasterInfo, self: MasterInfo): string | undefined {
  const theirs = leader.domain;
  const mine = self.domain;
  const theirRegion = theirs?.fault_domain?.region.name;
  const myRegion = mine?.fault_domain?.region.name;
  if (theirs === undefined || mine === undefined) return undefined;
  if (theirRegion === undefined || myRegion === undefined || theirRegion === myRegion) {
    return undefined;
  }
  return (
    `Leading master uses domain ${formatDomain(theirs)}; this master is configured ` +
    `to use domain ${formatDomain(mine)}; all masters in the same cluster must use ` +
    "the same region"
  );
}
