/**
 * `--roles` and `--weights` as the master reads them at start-up: the
 * whitelist always has `*`, its tokens are role names as given (Mesos does
 * not trim them), and weights must name whitelisted roles and be positive.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { loadMasterFlags } from "../../src/master/flags.js";
import { masterSettings } from "../../src/master/settings.js";

function settings(argv: string[]) {
  const flags = loadMasterFlags({ argv: ["--registry=in_memory", ...argv], env: {} });
  if (!flags.ok) throw new Error(flags.error);
  return masterSettings(flags.flags.values);
}

test("--roles: the whitelist has the listed roles and '*'", () => {
  const got = settings(["--roles=a,eng/dev,,a"]);
  assert.ok(got.ok);
  assert.deepEqual([...(got.value.config.roleWhitelist ?? [])].sort(), ["*", "a", "eng/dev"]);
});

test("--roles: a token with a space is an invalid role, as in Mesos", () => {
  assert.deepEqual(settings(["--roles=a, b"]), {
    ok: false,
    error:
      "Failed to parse roles: Role component ' b' is invalid because it contains backspace or whitespace",
  });
});

test("--weights: roles outside --roles and non-positive weights are refused", () => {
  assert.deepEqual(settings(["--roles=a", "--weights=b=2"]), {
    ok: false,
    error: "Invalid weight: 'b=2'. b is not a valid role",
  });
  assert.deepEqual(settings(["--weights=a=0"]), {
    ok: false,
    error: "Invalid weight: 'a=0'. Weights must be positive",
  });
  const ok = settings(["--roles=a", "--weights=a=2.5"]);
  assert.ok(ok.ok);
  assert.deepEqual(ok.value.weights, [{ role: "a", weight: 2.5 }]);
});
