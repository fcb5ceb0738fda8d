/**
 * SECRET variables of a task group's task that the default executor runs
 * as a child process: resolved by the default resolver's rules, or the
 * reason the task cannot start.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { resolveTaskSecrets } from "../../src/executor/default-executor-secrets.js";

const base64 = (text: string) => Buffer.from(text).toString("base64");

test("default executor secrets: VALUE secrets resolve to their data (base64 JSON or bytes); plain variables are left to the command", () => {
  const resolved = resolveTaskSecrets({
    value: "true",
    environment: {
      variables: [
        {
          name: "TOKEN",
          type: "SECRET",
          secret: { type: "VALUE", value: { data: base64("s3cr3t") } },
        },
        {
          name: "RAW",
          type: "SECRET",
          secret: { type: "VALUE", value: { data: new Uint8Array([104, 105]) } },
        },
        { name: "PLAIN", value: "plain" },
      ],
    },
  });
  assert.deepEqual(resolved, {
    environment: {
      variables: [
        { name: "TOKEN", value: "s3cr3t" },
        { name: "RAW", value: "hi" },
      ],
    },
  });
  assert.equal(resolveTaskSecrets({ value: "true" }), undefined);
  assert.equal(
    resolveTaskSecrets({ value: "true", environment: { variables: [{ name: "A", value: "a" }] } }),
    undefined,
  );
});

test("default executor secrets: a REFERENCE secret or a malformed one is an error, not a dropped variable", () => {
  const reference = resolveTaskSecrets({
    value: "true",
    environment: {
      variables: [
        {
          name: "TOKEN",
          type: "SECRET",
          secret: { type: "REFERENCE", reference: { name: "/vault/x" } },
        },
      ],
    },
  });
  assert.deepEqual(reference, {
    error:
      "Failed to resolve the secret of environment variable 'TOKEN': Default secret resolver cannot resolve references",
  });
  const noSecret = resolveTaskSecrets({
    value: "true",
    environment: { variables: [{ name: "TOKEN", type: "SECRET" }] },
  });
  assert.deepEqual(noSecret, {
    error:
      "Invalid environment specified: Environment variable 'TOKEN' of type 'SECRET' must have a secret set",
  });
  const nul = resolveTaskSecrets({
    value: "true",
    environment: {
      variables: [
        {
          name: "TOKEN",
          type: "SECRET",
          secret: { type: "VALUE", value: { data: base64("a\0b") } },
        },
      ],
    },
  });
  assert.ok(
    nul !== undefined && "error" in nul && /null bytes/.test(nul.error),
    JSON.stringify(nul),
  );
});
