/**
 * The local authorizer's semantics (first match, permissive, ANY/NONE
 * subjects and objects, nested roles) checked against the ACL examples of
 * Mesos' authorization guide, as written there; plus credentials and rate
 * limit parsing and the token bucket.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseAcls } from "../../src/common/auth/acls.js";
import { basicCredentials } from "../../src/common/auth/basic.js";
import { CredentialStore, parseCredentials } from "../../src/common/auth/credentials.js";
import { FrameworkRateLimiter, parseRateLimits } from "../../src/common/auth/rate-limits.js";
import { ManualClock } from "../../src/common/time/clock.js";
import { localAuthorizer } from "../harness/acls.js";

const NONE = { type: "NONE" };
const ANY = { type: "ANY" };

describe("auth acls: the guide's examples", () => {
  it("only foo may register in analytics; everyone may use other roles", () => {
    const a = localAuthorizer({
      register_frameworks: [
        { principals: { values: ["foo"] }, roles: { values: ["analytics"] } },
        { principals: NONE, roles: { values: ["analytics"] } },
      ],
    });
    assert.equal(a.authorized("register_frameworks", "foo", "analytics"), true);
    assert.equal(a.authorized("register_frameworks", "bar", "analytics"), false);
    assert.equal(a.authorized("register_frameworks", undefined, "analytics"), false);
    assert.equal(a.authorized("register_frameworks", "bar", "ads"), true);
    assert.equal(a.authorized("register_frameworks", "foo", "ads"), true);
  });

  it("foo may use analytics and ads and no other role; others anything", () => {
    const a = localAuthorizer({
      register_frameworks: [
        { principals: { values: ["foo"] }, roles: { values: ["analytics", "ads"] } },
        { principals: { values: ["foo"] }, roles: NONE },
      ],
    });
    assert.equal(a.authorizedAll("register_frameworks", "foo", ["analytics", "ads"]), true);
    assert.equal(a.authorized("register_frameworks", "foo", "*"), false);
    assert.equal(a.authorized("register_frameworks", "bar", "*"), true);
    assert.equal(a.authorized("register_frameworks", undefined, "analytics"), true);
  });

  it("permissive false: foo only analytics, nobody else anything (including *)", () => {
    const a = localAuthorizer({
      permissive: false,
      register_frameworks: [{ principals: { values: ["foo"] }, roles: { values: ["analytics"] } }],
    });
    assert.equal(a.authorized("register_frameworks", "foo", "analytics"), true);
    assert.equal(a.authorized("register_frameworks", "foo", "*"), false);
    assert.equal(a.authorized("register_frameworks", "bar", "*"), false);
  });

  it("run_tasks: anyone as guest or bar, no other user", () => {
    const a = localAuthorizer({
      permissive: false,
      run_tasks: [{ principals: ANY, users: { values: ["guest", "bar"] } }],
    });
    assert.equal(a.authorized("run_tasks", "x", "guest"), true);
    assert.equal(a.authorized("run_tasks", undefined, "bar"), true);
    assert.equal(a.authorized("run_tasks", "x", "root"), false);
  });

  it("run_tasks: foo and bar as alice only; no other principal", () => {
    const a = localAuthorizer({
      permissive: false,
      run_tasks: [{ principals: { values: ["foo", "bar"] }, users: { values: ["alice"] } }],
    });
    assert.equal(a.authorized("run_tasks", "foo", "alice"), true);
    assert.equal(a.authorized("run_tasks", "bar", "alice"), true);
    assert.equal(a.authorized("run_tasks", "foo", "root"), false);
    assert.equal(a.authorized("run_tasks", "baz", "alice"), false);
  });

  it("run_tasks: foo only as guest, others as anyone", () => {
    const a = localAuthorizer({
      run_tasks: [
        { principals: { values: ["foo"] }, users: { values: ["guest"] } },
        { principals: { values: ["foo"] }, users: NONE },
      ],
    });
    assert.equal(a.authorized("run_tasks", "foo", "guest"), true);
    assert.equal(a.authorized("run_tasks", "foo", "root"), false);
    assert.equal(a.authorized("run_tasks", "bar", "root"), true);
  });

  it("run_tasks: nobody as root, anything else allowed", () => {
    const a = localAuthorizer({ run_tasks: [{ principals: NONE, users: { values: ["root"] } }] });
    assert.equal(a.authorized("run_tasks", "foo", "root"), false);
    assert.equal(a.authorized("run_tasks", undefined, "root"), false);
    assert.equal(a.authorized("run_tasks", "foo", "alice"), true);
  });

  it("teardown: order matters (NONE first forbids everyone); ops-only works", () => {
    const first = localAuthorizer({
      teardown_frameworks: [
        { principals: NONE, framework_principals: ANY },
        { principals: { values: ["admin"] }, framework_principals: ANY },
      ],
    });
    assert.equal(first.authorized("teardown_frameworks", "admin", "fw"), false);
    const ops = localAuthorizer({
      permissive: false,
      teardown_frameworks: [{ principals: { values: ["ops"] }, framework_principals: ANY }],
    });
    assert.equal(ops.authorized("teardown_frameworks", "ops", "fw"), true);
    assert.equal(ops.authorized("teardown_frameworks", "dev", "fw"), false);
  });

  it("the guide's `type: admin` entity is refused with a clear error (not an entity type)", () => {
    const r = parseAcls({
      teardown_frameworks: [{ principals: { type: "admin" }, framework_principals: ANY }],
    });
    assert.equal(r.ok, false);
    assert.match(
      r.ok ? "" : r.error,
      /teardown_frameworks\[0\]\.principals: 'type' must be one of/,
    );
  });

  it("reserve/unreserve/volumes/quota examples", () => {
    const reserve = localAuthorizer({
      permissive: false,
      reserve_resources: [{ principals: { values: ["foo"] }, roles: { values: ["prod", "dev"] } }],
    });
    assert.equal(reserve.authorized("reserve_resources", "foo", "prod"), true);
    assert.equal(reserve.authorized("reserve_resources", "foo", "qa"), false);
    assert.equal(reserve.authorized("reserve_resources", "bar", "prod"), false);

    const notFoo = localAuthorizer({
      reserve_resources: [{ principals: { values: ["foo"] }, roles: NONE }],
    });
    assert.equal(notFoo.authorized("reserve_resources", "foo", "prod"), false);
    assert.equal(notFoo.authorized("reserve_resources", "bar", "prod"), true);

    const unreserve = localAuthorizer({
      permissive: false,
      unreserve_resources: [
        { principals: { values: ["foo"] }, reserver_principals: { values: ["foo", "bar"] } },
        { principals: { values: ["bar"] }, reserver_principals: { values: ["bar"] } },
      ],
    });
    assert.equal(unreserve.authorized("unreserve_resources", "foo", "bar"), true);
    assert.equal(unreserve.authorized("unreserve_resources", "bar", "foo"), false);
    assert.equal(unreserve.authorized("unreserve_resources", "bar", "bar"), true);

    const destroy = localAuthorizer({
      permissive: false,
      destroy_volumes: [
        { principals: { values: ["foo"] }, creator_principals: { values: ["foo", "bar"] } },
        { principals: { values: ["bar"] }, creator_principals: { values: ["bar"] } },
      ],
    });
    assert.equal(destroy.authorized("destroy_volumes", "foo", "bar"), true);
    assert.equal(destroy.authorized("destroy_volumes", "bar", "foo"), false);

    const quota = localAuthorizer({
      permissive: false,
      get_quotas: [
        { principals: { values: ["ops"] }, roles: ANY },
        { principals: { values: ["foo"] }, roles: { values: ["foo-role"] } },
      ],
    });
    assert.equal(quota.authorized("get_quotas", "ops", "any-role"), true);
    assert.equal(quota.authorized("get_quotas", "foo", "foo-role"), true);
    assert.equal(quota.authorized("get_quotas", "foo", "other"), false);
  });

  it("get_endpoints: ops everything, foo two paths", () => {
    const a = localAuthorizer({
      permissive: false,
      get_endpoints: [
        { principals: { values: ["ops"] }, paths: ANY },
        {
          principals: { values: ["foo"] },
          paths: { values: ["/logging/toggle", "/monitor/statistics"] },
        },
      ],
    });
    assert.equal(a.authorized("get_endpoints", "ops", "/metrics/snapshot"), true);
    assert.equal(a.authorized("get_endpoints", "foo", "/logging/toggle"), true);
    assert.equal(a.authorized("get_endpoints", "foo", "/metrics/snapshot"), false);
  });

  it("nested roles: `a/%` covers roles below a, not a itself", () => {
    const a = localAuthorizer({
      permissive: false,
      register_frameworks: [{ principals: ANY, roles: { values: ["eng/%"] } }],
    });
    assert.equal(a.authorized("register_frameworks", "x", "eng/web"), true);
    assert.equal(a.authorized("register_frameworks", "x", "eng/web/a"), true);
    assert.equal(a.authorized("register_frameworks", "x", "eng"), false);
    assert.equal(a.authorized("register_frameworks", "x", "sales"), false);
  });

  it("allowsEverything: only when the first rule covering the principal allows ANY object", () => {
    const a = localAuthorizer({
      view_frameworks: [
        { principals: { values: ["ops"] }, users: ANY },
        { principals: { values: ["dev"] }, users: { values: ["alice"] } },
        { principals: ANY, users: NONE },
      ],
    });
    assert.equal(a.allowsEverything("view_frameworks", "ops"), true);
    assert.equal(a.allowsEverything("view_frameworks", "dev"), false);
    assert.equal(a.allowsEverything("view_frameworks", "other"), false);
    assert.equal(a.allowsEverything("view_tasks", "dev"), true);
  });

  it("shutdown_frameworks is the old name of teardown_frameworks", () => {
    const a = localAuthorizer({
      permissive: false,
      shutdown_frameworks: [{ principals: { values: ["ops"] }, framework_principals: ANY }],
    });
    assert.equal(a.authorized("teardown_frameworks", "ops", "x"), true);
  });
});

describe("auth acls: keys of no ACLs field are ignored, as stout's JSON-to-protobuf skips them", () => {
  it("an unknown list, rule field or entity field changes nothing", () => {
    const a = localAuthorizer({
      permissive: false,
      run_taskz: [{ principals: ANY, users: ANY }],
      toString: 5,
      view_flags: [{ principals: { values: ["ops"], comment: 1 }, flags: ANY, note: "ops only" }],
    });
    assert.equal(a.authorized("view_flags", "ops", undefined), true);
    assert.equal(a.authorized("view_flags", "dev", undefined), false);
    assert.equal(a.authorized("run_tasks", "ops", "root"), false, "run_taskz is no run_tasks rule");
  });

  it("a rule without its object is still refused, naming the fields a rule has", () => {
    const parsed = parseAcls({ register_frameworks: [{ principals: ANY, role: ANY }] });
    assert.deepEqual(parsed, {
      ok: false,
      error:
        "register_frameworks[0]: 'roles' is required " +
        "(a register_frameworks rule has 'principals' and 'roles')",
    });
  });
});

describe("auth credentials and rate limits", () => {
  it("credentials: JSON and the line form; bad lines are reported", () => {
    const json = parseCredentials('{"credentials":[{"principal":"a","secret":"s"}]}');
    assert.deepEqual(json.ok && json.value, [{ principal: "a", secret: "s" }]);
    const text = parseCredentials("a s\n\nb t\n");
    assert.deepEqual(text.ok && text.value.map((c) => c.principal), ["a", "b"]);
    const bad = parseCredentials("a s\nlonely\n");
    assert.match(bad.ok ? "" : bad.error, /line 2/);
    const store = new CredentialStore([{ principal: "a", secret: "s" }]);
    assert.equal(store.check("a", "s"), true);
    assert.equal(store.check("a", "t"), false);
    assert.equal(store.check("b", "s"), false);
  });

  it("basic: the Authorization header is decoded", () => {
    const header = `Basic ${Buffer.from("ops:pa:ss").toString("base64")}`;
    assert.deepEqual(basicCredentials(header), { principal: "ops", secret: "pa:ss" });
    assert.equal(basicCredentials("Bearer x"), undefined);
  });

  it("rate limits: qps releases one call per interval, capacity bounds the queue", async () => {
    const clock = new ManualClock();
    const parsed = parseRateLimits({
      limits: [{ principal: "a", qps: 2, capacity: 1 }, { principal: "free" }],
    });
    assert.ok(parsed.ok);
    const limiter = new FrameworkRateLimiter(parsed.value, clock);
    assert.equal(limiter.admit("a").kind, "now");
    const queued = limiter.admit("a");
    assert.equal(queued.kind, "later");
    assert.equal(limiter.admit("a").kind, "refused");
    assert.equal(limiter.admit("free").kind, "now");
    assert.equal(limiter.admit("unlisted").kind, "now");
    let released = false;
    if (queued.kind === "later") void queued.ready.then(() => (released = true));
    clock.advance(499);
    await Promise.resolve();
    assert.equal(released, false);
    clock.advance(1);
    await Promise.resolve();
    assert.equal(released, true);
  });

  it("rate limits: keys RateLimits does not have are ignored, as by Mesos", () => {
    const parsed = parseRateLimits({
      limits: [{ principal: "a", qps: 2, note: "x" }],
      aggregate_default_qps: 1,
      comment: ["anything"],
    });
    assert.ok(parsed.ok, parsed.ok ? "" : parsed.error);
    assert.equal(parsed.value.limits[0]?.principal, "a");
    assert.equal(parsed.value.limits[0]?.qps, 2);
  });

  it("rate limits: bad values are refused", () => {
    assert.equal(parseRateLimits({ limits: [{ principal: "a", qps: 0 }] }).ok, false);
    assert.equal(parseRateLimits({ limits: [{ qps: 1 }] }).ok, false);
    assert.equal(parseRateLimits({ aggregate_default_capacity: -1 }).ok, false);
  });
});
