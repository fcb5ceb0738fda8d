/**
 * The v1 operator API's TEARDOWN and DRAIN_AGENT ask the ACLs themselves at
 * the moment they act. The security layer in front of them does not ask
 * about a framework it did not find or a drain it found invalid (the
 * handler's 400 comes first, as Mesos), and the handler only runs after an
 * `await`: by then the framework may have subscribed, or the drain become
 * valid. Here the handler is called as it is after such a skip: with the
 * caller's authorizer attached but nothing asked yet.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { LocalAuthorizer, parseAcls } from "../../src/common/auth/acls.js";
import { setPrincipal } from "../../src/common/auth/basic.js";
import { setRequestAuthorizer } from "../../src/common/auth/request-auth.js";
import { HttpRequest } from "../../src/common/http/request.js";
import type { HttpResponse } from "../../src/common/http/response.js";
import { type OperatorApiContext, operatorApiHandler } from "../../src/master/http/operator-api.js";
import { type Fixture, frameworkInfo, makeMaster, resources, subscribe } from "./master-fixture.js";

function authorizer(acls: unknown): LocalAuthorizer {
  const parsed = parseAcls(acls);
  if (!parsed.ok) throw new Error(parsed.error);
  return new LocalAuthorizer(parsed.value);
}

/** Everything allowed, except that `dev` may tear down and drain nothing. */
const DEV_REFUSED = authorizer({
  permissive: true,
  teardown_frameworks: [
    { principals: { values: ["dev"] }, framework_principals: { type: "NONE" } },
  ],
  drain_agents: [{ principals: { values: ["dev"] }, agents: { type: "NONE" } }],
});

function call(f: Fixture, principal: string, body: unknown): Promise<HttpResponse> {
  const request = new HttpRequest({
    method: "POST",
    path: "/master/api/v1",
    rawQuery: "",
    headers: { "content-type": "application/json" },
    body: Buffer.from(JSON.stringify(body)),
    remoteAddress: "127.0.0.1",
    remotePort: 1,
  });
  setRequestAuthorizer(request, DEV_REFUSED);
  setPrincipal(request, principal);
  // Only what TEARDOWN and DRAIN_AGENT use.
  const ctx = { master: f.master, changed: () => {} } as unknown as OperatorApiContext;
  return operatorApiHandler(ctx)(request);
}

test("v1 TEARDOWN: the handler refuses a principal the ACLs refuse, and tears down for one they allow", async () => {
  const f = makeMaster();
  const { frameworkId } = subscribe(f, frameworkInfo({ principal: "web" }));
  const teardown = { type: "TEARDOWN", teardown: { framework_id: { value: frameworkId } } };
  const refused = await call(f, "dev", teardown);
  assert.equal(refused.status, 403);
  assert.ok(f.master.frameworks.has(frameworkId), "a refused teardown leaves the framework");
  const done = await call(f, "ops", teardown);
  assert.equal(done.status, 200);
  assert.equal(f.master.frameworks.has(frameworkId), false);
});

test("v1 DRAIN_AGENT: the handler refuses a principal the ACLs refuse; a drain it refuses anyway stays 400", async () => {
  const f = makeMaster();
  f.master.registerAgent("slave(1)@127.0.0.1:5051", {
    slave: { hostname: "agent-host", port: 5051, resources: resources("cpus:2;mem:512") },
    version: "1.12.0",
    agent_capabilities: [{ type: "MULTI_ROLE" }, { type: "AGENT_DRAINING" }],
  });
  await f.settle();
  const agentId = [...f.master.agents.keys()][0] ?? "";
  assert.notEqual(agentId, "");
  const drain = (extra: Record<string, unknown> = {}) => ({
    type: "DRAIN_AGENT",
    drain_agent: { agent_id: { value: agentId }, ...extra },
  });
  const refused = await call(f, "dev", drain());
  assert.equal(refused.status, 403);
  const invalid = await call(f, "dev", drain({ max_grace_period: { seconds: -1 } }));
  assert.equal(invalid.status, 400, "the handler's own refusal still comes first");
  assert.equal(f.sentOfType("mesos.internal.DrainSlaveMessage").length, 0, "nothing drained");
  const done = await call(f, "ops", drain());
  assert.equal(done.status, 200);
  assert.equal(f.sentOfType("mesos.internal.DrainSlaveMessage").length, 1);
});
