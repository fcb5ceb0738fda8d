/**
 * `--roles`, `--weights` and `--allocator` as the master reads them at
 * start-up: the whitelist always has `*`, its tokens are role names as given
 * (Mesos does not trim them); weights must be positive and, with `--roles`,
 * name whitelisted roles; the built-in allocator needs equal sorters.
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

test("--weights without --roles: any role name goes, as Mesos checks only the whitelist", () => {
  const got = settings(["--weights=a=2,eng/../x=3,.=1.5,a=4"]);
  assert.ok(got.ok);
  // A role given twice keeps its last weight (Mesos keeps the weights in a map).
  assert.deepEqual(got.value.weights, [
    { role: "a", weight: 4 },
    { role: "eng/../x", weight: 3 },
    { role: ".", weight: 1.5 },
  ]);
  assert.deepEqual(settings(["--weights=a=x"]), {
    ok: false,
    error: "Invalid weight: 'a=x'. Weights must be positive",
  });
});

test("--allocator: 'hierarchical' and its old name 'HierarchicalDRF'; the sorters must be equal", () => {
  assert.ok(settings(["--allocator=HierarchicalDRF"]).ok);
  assert.ok(settings(["--role_sorter=random", "--framework_sorter=random"]).ok);
  assert.deepEqual(settings(["--role_sorter=random"]), {
    ok: false,
    error:
      "Failed to create allocator 'hierarchical': Unsupported combination of 'role_sorter' and 'framework_sorter': must be equal (for now)",
  });
  const other = settings(["--allocator=my_module"]);
  assert.ok(!other.ok);
  assert.match(other.error, /^Failed to create allocator 'my_module': /);
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
