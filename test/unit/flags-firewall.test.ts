import assert from "node:assert/strict";
import { after, test } from "node:test";
import { agentFlagSchema } from "../../src/agent/flags.js";
import { ok } from "../../src/common/http/response.js";
import { silentLogger } from "../../src/common/observability/logger.js";
import {
  delegatedPath,
  EndpointFirewall,
  parseFirewallRules,
} from "../../src/common/process/firewall.js";
import { ProcessBase } from "../../src/common/process/process-base.js";
import { ProcessHost } from "../../src/common/process/process-host.js";
import { ManualClock } from "../../src/common/time/clock.js";
import { loadMasterFlags } from "../../src/master/flags.js";

test("firewall_rules: the disabled_endpoints paths are read", () => {
  const r = parseFirewallRules({ disabled_endpoints: { paths: ["/files/browse", "/state"] } });
  assert.deepEqual(r, { ok: true, value: { disabledPaths: ["/files/browse", "/state"] } });
  assert.deepEqual(parseFirewallRules({}), { ok: true, value: { disabledPaths: [] } });
});

test("firewall_rules: malformed rules fail the flag load with one line", () => {
  for (const bad of [
    '{"disabled_endpoints":{"paths":"/state"}}',
    '{"disabled_endpoints":{"paths":[1]}}',
    '{"disabled_endpoints":[]}',
    "[]",
  ]) {
    const r = loadMasterFlags({ argv: [`--firewall_rules=${bad}`, "--registry=in_memory"] });
    assert.equal(r.ok, false, bad);
    if (!r.ok) assert.match(r.error, /^Invalid --firewall_rules: /);
  }
});

test("firewall_rules: paths are compared after delegation", () => {
  const isProcess = (id: string) => id === "master" || id === "files";
  assert.equal(delegatedPath("/state", isProcess, "master"), "/master/state");
  assert.equal(delegatedPath("/master/state", isProcess, "master"), "/master/state");
  assert.equal(delegatedPath("/files/browse", isProcess, "master"), "/files/browse");
  assert.equal(delegatedPath("/", isProcess, "master"), "/master");
  const fw = new EndpointFirewall({ disabledPaths: ["/state", "/files/browse"] });
  assert.equal(fw.refuses("/master/state", isProcess, "master"), "/master/state");
  assert.equal(fw.refuses("/state", isProcess, "master"), "/master/state");
  assert.equal(fw.refuses("/files/browse", isProcess, "master"), "/files/browse");
  // Exact matches only: no prefixes, no other endpoints.
  assert.equal(fw.refuses("/master/state-summary", isProcess, "master"), undefined);
  assert.equal(fw.refuses("/files/browse/x", isProcess, "master"), undefined);
  assert.equal(fw.refuses("/files/read", isProcess, "master"), undefined);
});

test("firewall_rules: effective on the agent too (not marked notYet)", () => {
  assert.equal(agentFlagSchema.flags.firewall_rules.notYet, false);
});

class Echo extends ProcessBase {
  constructor(id: string) {
    super(id);
    this.route("/state", { help: "state" }, () => ok("state"));
    this.route("/health", { help: "health" }, () => ok("healthy"));
  }
}

const hosts: ProcessHost[] = [];
after(async () => {
  for (const h of hosts) await h.stop();
});

test("firewall_rules: a host answers 403 for a disabled endpoint, others pass", async () => {
  const host = new ProcessHost({
    logger: silentLogger,
    clock: new ManualClock(),
    listen: { bindIp: "127.0.0.1", bindPort: 0, advertiseIp: undefined, advertisePort: undefined },
    delegate: "master",
    tls: null,
  });
  await host.start();
  hosts.push(host);
  host.spawn(new Echo("master"));
  const base = `http://127.0.0.1:${host.boundPort}`;
  assert.equal((await fetch(`${base}/master/state`)).status, 200);
  host.setFirewall({ disabledPaths: ["/state"] });
  for (const path of ["/master/state", "/state"]) {
    const r = await fetch(`${base}${path}`);
    assert.equal(r.status, 403, path);
    assert.equal(await r.text(), "Endpoint '/master/state' is disabled");
  }
  assert.equal((await fetch(`${base}/master/health`)).status, 200);
  assert.equal((await fetch(`${base}/health`)).status, 200);
  host.setFirewall(undefined);
  assert.equal((await fetch(`${base}/state`)).status, 200);
});
