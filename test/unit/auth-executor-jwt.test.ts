import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { test } from "node:test";
import { ExecutorTokens } from "../../src/common/auth/executor-auth.js";
import { signJwt, verifyJwt } from "../../src/common/auth/jwt.js";

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");

test("jwt: a signed token verifies with its key and gives back its claims", () => {
  const token = signJwt({ fid: "f", eid: "e", cid: "c" }, "key");
  assert.equal(token.split(".").length, 3);
  assert.deepEqual(verifyJwt(token, "key", 0), {
    ok: true,
    claims: { fid: "f", eid: "e", cid: "c" },
  });
  const header = JSON.parse(Buffer.from(token.split(".")[0] ?? "", "base64url").toString());
  assert.deepEqual(header, { alg: "HS256", typ: "JWT" });
});

test("jwt: another key, a changed payload, another algorithm, garbage and expired tokens are refused", () => {
  const token = signJwt({ fid: "f" }, "key");
  const [head, , sig] = token.split(".");
  const check = (t: string) => {
    const r = verifyJwt(t, "key", 1000);
    return r.ok ? "ok" : r.error;
  };
  assert.match(check(signJwt({ fid: "f" }, "other")), /signature/);
  assert.match(check(`${head}.${b64({ fid: "g" })}.${sig}`), /signature/);
  const none = `${b64({ alg: "none", typ: "JWT" })}.${b64({ fid: "f" })}.`;
  assert.match(check(none), /algorithm 'none'/);
  assert.match(check("not-a-token"), /three parts/);
  const expiredHead = `${b64({ alg: "HS256", typ: "JWT" })}.${b64({ fid: "f", exp: 999 })}`;
  const expired = `${expiredHead}.${createHmac("sha256", "key").update(expiredHead).digest("base64url")}`;
  assert.match(check(expired), /expired/);
});

test("executor tokens: claims name the framework, executor and container", () => {
  const tokens = new ExecutorTokens(Buffer.from("k"));
  const checked = tokens.check(
    tokens.token({ frameworkId: "F", executorId: "E", containerId: "C" }),
    0,
  );
  assert.deepEqual(checked, { ok: true, claims: { fid: "F", eid: "E", cid: "C" } });
});
