/**
 * Executor tokens are implicitly authorized for nested-container calls
 * under their own container (the `cid` claim), as Mesos' local authorizer
 * does for claims-only subjects: with --acls that deny every principal the
 * default executor may still launch, wait for, kill and remove its own
 * children; it may not touch another executor's, nor do anything else that
 * is authorized; without --acls nothing changes.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { LocalAuthorizer, NO_ACLS, parseAcls } from "../../src/common/auth/acls.js";
import { setPrincipal } from "../../src/common/auth/basic.js";
import { CredentialStore } from "../../src/common/auth/credentials.js";
import { authenticateCombined, ExecutorTokens } from "../../src/common/auth/executor-auth.js";
import { requestAuthorized, setRequestAuthorizer } from "../../src/common/auth/request-auth.js";
import { HttpRequest } from "../../src/common/http/request.js";

const tokens = new ExecutorTokens(Buffer.from("a key that is long enough for HS256 tokens"));

function request(token?: string): HttpRequest {
  return new HttpRequest({
    method: "POST",
    path: "/api/v1",
    rawQuery: "",
    headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
    body: new Uint8Array(),
    remoteAddress: "127.0.0.1",
    remotePort: 1,
  });
}

/** A request authenticated with the token of the executor in container `cid`. */
function executorRequest(cid: string, authorizer: LocalAuthorizer): HttpRequest {
  const token = tokens.token({ frameworkId: "f1", executorId: "e1", containerId: cid });
  const r = request(token);
  const none = new CredentialStore();
  assert.equal(authenticateCombined(r, "mesos-agent-readwrite", none, tokens, 0), undefined);
  setRequestAuthorizer(r, authorizer);
  return r;
}

const denyAll = (() => {
  const acls = parseAcls({
    permissive: false,
    launch_nested_containers_as_user: [{ principals: { type: "ANY" }, users: { type: "NONE" } }],
    wait_nested_containers: [{ principals: { type: "ANY" }, users: { type: "NONE" } }],
    kill_nested_containers: [{ principals: { type: "ANY" }, users: { type: "NONE" } }],
    remove_nested_containers: [{ principals: { type: "ANY" }, users: { type: "NONE" } }],
  });
  assert.ok(acls.ok);
  return new LocalAuthorizer(acls.value);
})();

test("executor token: nested-container actions under its own container pass ACLs that deny everyone", () => {
  const own = executorRequest("c-exec", denyAll);
  for (const action of [
    "launch_nested_containers_as_user",
    "wait_nested_containers",
    "kill_nested_containers",
    "remove_nested_containers",
  ] as const) {
    assert.equal(requestAuthorized(own, action, "nobody", "c-exec"), true, action);
    // Another executor's container, or no container named: refused.
    assert.equal(requestAuthorized(own, action, "nobody", "c-other"), false, action);
    assert.equal(requestAuthorized(own, action, "nobody"), false, action);
  }
  // Other actions are refused for a token caller when ACLs are in force.
  assert.equal(requestAuthorized(own, "view_flags"), false);
  // A principal (Basic) is still judged by the ACLs: denied here.
  const operator = request();
  setPrincipal(operator, "ops");
  setRequestAuthorizer(operator, denyAll);
  assert.equal(requestAuthorized(operator, "wait_nested_containers", "nobody", "c-exec"), false);
});

test("executor token: without --acls every call is allowed, as for any caller", () => {
  const own = executorRequest("c-exec", new LocalAuthorizer(NO_ACLS));
  assert.equal(requestAuthorized(own, "kill_nested_containers", undefined, "c-other"), true);
  assert.equal(requestAuthorized(own, "view_flags"), true);
});
