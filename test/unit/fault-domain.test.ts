import assert from "node:assert/strict";
import { test } from "node:test";
import type { MasterInfo } from "../../src/common/protocol/generated/mesos-v1.js";
import { formatDomain, leaderRegionConflict } from "../../src/master/fault-domain.js";

function master(region?: string, zone = "z"): MasterInfo {
  return {
    id: `m-${region ?? "none"}-${zone}`,
    ip: 0,
    port: 5050,
    ...(region === undefined
      ? {}
      : { domain: { fault_domain: { region: { name: region }, zone: { name: zone } } } }),
  };
}

test("fault domain: masters of one region, in any zones, do not conflict", () => {
  assert.equal(leaderRegionConflict(master("eu", "rack1"), master("eu", "rack2")), undefined);
});

test("fault domain: a leader in another region is a conflict, named as Mesos names it", () => {
  assert.equal(
    leaderRegionConflict(master("us", "z1"), master("eu", "rack1")),
    "Leading master uses domain {region: us, zone: z1}; this master is configured to use " +
      "domain {region: eu, zone: rack1}; all masters in the same cluster must use the same region",
  );
});

test("fault domain: a master or leader without a domain never conflicts", () => {
  assert.equal(leaderRegionConflict(master(), master("eu")), undefined);
  assert.equal(leaderRegionConflict(master("eu"), master()), undefined);
  assert.equal(leaderRegionConflict({ ...master(), domain: {} }, master("eu")), undefined);
});

test("fault domain: log form of a domain", () => {
  assert.equal(formatDomain({}), "(no fault domain)");
  assert.equal(
    formatDomain({ fault_domain: { region: { name: "eu" }, zone: { name: "a" } } }),
    "{region: eu, zone: a}",
  );
});
