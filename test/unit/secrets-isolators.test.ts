/**
 * The secret isolators' pure parts: `environment_secret`'s preparation
 * (resolved values, Mesos' failure texts) and `volume/secret`'s flag check
 * and directory names.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { EnvironmentSecretIsolator } from "../../src/agent/containerizer/isolators/environment-secret.js";
import type { ContainerConfig } from "../../src/agent/containerizer/isolators/isolator.js";
import {
  secretDirectoryName,
  volumeSecretFlagsError,
} from "../../src/agent/containerizer/isolators/volume-secret.js";
import type { Environment_Variable } from "../../src/common/protocol/generated/mesos-v1.js";
import { DefaultSecretResolver } from "../../src/common/secrets/resolver.js";

const bytes = (text: string) => new Uint8Array(Buffer.from(text));

function config(variables: Environment_Variable[]): ContainerConfig {
  return {
    containerId: "c1",
    directory: "/sandbox",
    executor: {
      executor_id: { value: "e" },
      resources: [],
      command: { environment: { variables } },
    },
    commandExecutor: true,
    resources: {},
  };
}

test("environment_secret: resolved values for the SECRET variables; a plain variable of the same name wins", async () => {
  const isolator = new EnvironmentSecretIsolator(new DefaultSecretResolver());
  assert.equal(await isolator.prepare(config([{ name: "A", value: "1" }])), undefined);
  const prepared = await isolator.prepare(
    config([
      { name: "TOKEN", type: "SECRET", secret: { type: "VALUE", value: { data: bytes("t0k") } } },
      { name: "BOTH", type: "SECRET", secret: { type: "VALUE", value: { data: bytes("s") } } },
      { name: "BOTH", value: "plain" },
    ]),
  );
  assert.deepEqual(prepared?.environment, { TOKEN: "t0k" });
});

test("environment_secret: validation and resolution failures carry Mesos' texts", async () => {
  const isolator = new EnvironmentSecretIsolator(new DefaultSecretResolver());
  await assert.rejects(
    isolator.prepare(
      config([
        { name: "R", type: "SECRET", secret: { type: "REFERENCE", reference: { name: "/r" } } },
      ]),
    ),
    { message: "Default secret resolver cannot resolve references" },
  );
  await assert.rejects(
    isolator.prepare(config([{ name: "R", type: "SECRET", secret: { type: "VALUE" } }])),
    {
      message:
        "Invalid environment specified: Environment variable 'R' specifies an invalid secret: Secret of type VALUE must have the 'value' field set",
    },
  );
  const without = new EnvironmentSecretIsolator(undefined);
  await assert.rejects(
    without.prepare(
      config([
        { name: "S", type: "SECRET", secret: { type: "VALUE", value: { data: bytes("x") } } },
      ]),
    ),
    { message: "Error: Environment variable 'S' contains secret but no secret resolver provided" },
  );
});

test("volume/secret: needs filesystem/linux and the linux launcher; nested ids as Mesos writes them", () => {
  assert.equal(
    volumeSecretFlagsError(["volume/secret"], "linux"),
    "Volume secret isolation requires filesystem/linux isolator.",
  );
  assert.equal(
    volumeSecretFlagsError(["filesystem/linux", "volume/secret"], "posix"),
    "Volume secret isolation requires filesystem/linux isolator.",
  );
  assert.equal(volumeSecretFlagsError(["filesystem/linux", "volume/secret"], "linux"), undefined);
  assert.equal(secretDirectoryName("abc/mesos/def"), "abc.def");
});
