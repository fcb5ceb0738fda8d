/**
 * `--executor_secret_generator` names a Mesos C++ module; mesos-ts cannot
 * load modules, so the agent refuses the flag at start with a message that
 * points to --jwt_secret_key (from the command line or MESOS_*).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { loadAgentFlags } from "../../src/agent/flags.js";

const base = ["--master=127.0.0.1:5050", "--work_dir=/tmp/mesos-agent-flags-test"];

test("agent flags: --executor_secret_generator is refused with a reason naming --jwt_secret_key", () => {
  const loaded = loadAgentFlags({ argv: [...base, "--executor_secret_generator=org_x_Secrets"] });
  assert.equal(loaded.ok, false);
  const error = loaded.ok ? "" : loaded.error;
  assert.match(error, /executor_secret_generator='org_x_Secrets'/);
  assert.match(error, /cannot load modules/);
  assert.match(error, /--jwt_secret_key/);
  const fromEnv = loadAgentFlags({
    argv: base,
    env: { MESOS_EXECUTOR_SECRET_GENERATOR: "org_x_Secrets" },
  });
  assert.equal(fromEnv.ok, false);
  // Without it the agent's flags load.
  assert.equal(loadAgentFlags({ argv: base }).ok, true);
});
