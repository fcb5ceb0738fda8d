/**
 * Secrets: the default resolver, Mesos' validation texts (shared and in
 * the master) and `--secret_resolver`.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { loadAgentFlags } from "../../src/agent/flags.js";
import type { Environment_Variable } from "../../src/common/protocol/generated/mesos-v1.js";
import {
  createSecretResolver,
  DefaultSecretResolver,
  secretData,
} from "../../src/common/secrets/resolver.js";
import { validateEnvironment, validateSecret } from "../../src/common/secrets/validation.js";
import { validateCommandInfo } from "../../src/master/validation/task.js";

const bytes = (text: string) => new Uint8Array(Buffer.from(text));

test("default secret resolver: a VALUE secret resolves to its data, a REFERENCE is refused as in Mesos", async () => {
  const resolver = new DefaultSecretResolver();
  const data = await resolver.resolve({ type: "VALUE", value: { data: bytes("s3cr3t") } });
  assert.equal(data.toString(), "s3cr3t");
  await assert.rejects(
    resolver.resolve({ type: "REFERENCE", reference: { name: "/my/secret", key: "username" } }),
    { message: "Default secret resolver cannot resolve references" },
  );
  await assert.rejects(resolver.resolve({ type: "VALUE" }), { message: "Secret has no value" });
});

test("secret data: protobuf bytes, base64 JSON and a stringified Uint8Array all read back", () => {
  assert.equal(secretData(bytes("abc")).toString(), "abc");
  assert.equal(secretData(Buffer.from("abc").toString("base64")).toString(), "abc");
  assert.equal(secretData(JSON.parse(JSON.stringify(bytes("abc")))).toString(), "abc");
});

test("--secret_resolver: unset is the default resolver; a module name stops the agent at start", () => {
  assert.equal(createSecretResolver(undefined).ok, true);
  const base = ["--master=127.0.0.1:5050", "--work_dir=/tmp/mesos-secrets-flags-test"];
  assert.equal(loadAgentFlags({ argv: base }).ok, true);
  const loaded = loadAgentFlags({ argv: [...base, "--secret_resolver=org_example_Vault"] });
  assert.equal(loaded.ok, false);
  const error = loaded.ok ? "" : loaded.error;
  assert.match(error, /Failed to initialize secret resolver: Module 'org_example_Vault' unknown/);
  assert.match(error, /cannot load modules/);
});

test("validateSecret: the type must match the field set (Mesos' texts)", () => {
  assert.equal(validateSecret({ type: "VALUE", value: { data: bytes("x") } }), undefined);
  assert.equal(validateSecret({ type: "REFERENCE", reference: { name: "n" } }), undefined);
  assert.equal(
    validateSecret({ type: "REFERENCE" }),
    "Secret of type REFERENCE must have the 'reference' field set",
  );
  assert.equal(
    validateSecret({ type: "REFERENCE", reference: { name: "n" }, value: { data: bytes("x") } }),
    "Secret 'n' of type REFERENCE must not have the 'value' field set",
  );
  assert.equal(
    validateSecret({ type: "VALUE" }),
    "Secret of type VALUE must have the 'value' field set",
  );
  assert.equal(
    validateSecret({ type: "VALUE", value: { data: bytes("x") }, reference: { name: "n" } }),
    "Secret of type VALUE must not have the 'reference' field set",
  );
});

test("master: a SECRET variable's secret is validated with Mesos' wording", () => {
  const check = (variable: Environment_Variable) =>
    validateCommandInfo({ value: "true", environment: { variables: [variable] } });
  assert.equal(
    check({ name: "T", type: "SECRET" }),
    "Environment variable 'T' of type 'SECRET' must have a secret set",
  );
  assert.equal(
    check({
      name: "T",
      type: "SECRET",
      value: "v",
      secret: { type: "VALUE", value: { data: bytes("x") } },
    }),
    "Environment variable 'T' of type 'SECRET' must not have a value set",
  );
  assert.equal(
    check({ name: "T", type: "SECRET", secret: { type: "VALUE" } }),
    "Environment variable 'T' specifies an invalid secret: Secret of type VALUE must have the 'value' field set",
  );
  assert.equal(
    check({ name: "T", type: "SECRET", secret: { type: "VALUE", value: { data: bytes("a\0b") } } }),
    "Environment variable 'T' specifies a secret containing null bytes, which is not allowed in the environment",
  );
  assert.equal(
    check({ name: "T", type: "SECRET", secret: { type: "REFERENCE", reference: { name: "/x" } } }),
    undefined,
  );
  // The plain-value rules stay as they were.
  assert.equal(
    validateEnvironment({ variables: [{ name: "V" }] }),
    "Environment variable 'V' of type 'VALUE' must have a value set",
  );
});
