/**
 * The launch shim's hand-off of the container's environment
 * (shim-environment.ts): what the launcher helper writes on the descriptor
 * and what the shim's last step makes of it, through the real /bin/sh.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { test } from "node:test";
import {
  CONTAINER_ID_VARIABLE,
  CONTAINER_TOKEN_VARIABLE,
} from "../../src/agent/containerizer/proc.js";
import {
  applyEnvironment,
  ENVIRONMENT_FD,
  environmentScript,
  ROOT_STEP_ENVIRONMENT,
  rootStepEnvironment,
} from "../../src/agent/containerizer/shim-environment.js";

/** Runs the last step as the shim does (fixed environment, script on its descriptor); the env it execs with. */
function lastStep(script: string) {
  const apply = applyEnvironment("{ echo cut short >&2; exit 125; }");
  return spawnSync(
    "/bin/sh",
    [
      "-c",
      `exec /bin/sh -c "$1" last /usr/bin/env -0 ${ENVIRONMENT_FD}<&0`,
      "outer",
      `${apply}; exec "$@"`,
    ],
    { env: { ...ROOT_STEP_ENVIRONMENT }, input: script, encoding: "utf8" },
  );
}

function parse(output: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const entry of output.split("\0")) {
    if (entry === "") continue;
    const at = entry.indexOf("=");
    out[entry.slice(0, at)] = entry.slice(at + 1);
  }
  return out;
}

test("shim environment: every value reaches the program byte for byte, and only the container's PATH", () => {
  const env = {
    PATH: "/opt/task/bin:/usr/bin:/bin",
    NEWLINES: "a\nb\n\nc\n",
    QUOTES: `it's "quoted" '' \\' \\`,
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell expansion that must stay text
    DOLLARS: "$HOME ${PATH} $(id) `id` $$ \\$",
    UNICODE: "é ☃ 😀 \u00a0",
    EQUALS: "a=b==c=",
    EMPTY: "",
    SPACES: "  lead and trail  ",
    BACKSLASH_END: "x\\",
    mesos_env_script_: "a container variable named like the reader's own",
  };
  const r = lastStep(environmentScript(env));
  assert.equal(r.status, 0, r.stderr);
  const seen = parse(r.stdout);
  delete seen.PWD; // the shell's own
  assert.deepEqual(seen, env);
});

test("shim environment: without a PATH of its own the container has none (not the root steps')", () => {
  const r = lastStep(environmentScript({ ONLY: "1" }));
  assert.equal(r.status, 0, r.stderr);
  const seen = parse(r.stdout);
  assert.equal(seen.PATH, undefined);
  assert.equal(seen.ONLY, "1");
});

test("shim environment: a name no shell can export is reported on stderr, the rest still applies", () => {
  const r = lastStep(environmentScript({ "BAD-NAME": "x", GOOD: "y" }));
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /"BAD-NAME" cannot be set/);
  assert.equal(parse(r.stdout).GOOD, "y");
});

test("shim environment: an environment cut short (or none) ends the launch instead of running without it", () => {
  const whole = environmentScript({ A: "1", B: "2" });
  for (const script of [whole.slice(0, whole.indexOf("B=")), ""]) {
    const r = lastStep(script);
    assert.equal(r.status, 125, `${script}: ${r.stdout}`);
    assert.match(r.stderr, /cut short/);
  }
});

test("shim environment: the root steps get the fixed PATH and only what the agent finds processes by", () => {
  const env = {
    PATH: "/evil",
    LD_PRELOAD: "/evil.so",
    NODE_OPTIONS: "--require /evil.js",
    MESOS_DIRECTORY: "/sandbox",
    [CONTAINER_ID_VARIABLE]: "a.b",
    [CONTAINER_TOKEN_VARIABLE]: "t",
  };
  assert.deepEqual(rootStepEnvironment(env), {
    ...ROOT_STEP_ENVIRONMENT,
    MESOS_DIRECTORY: "/sandbox",
    [CONTAINER_ID_VARIABLE]: "a.b",
    [CONTAINER_TOKEN_VARIABLE]: "t",
  });
  assert.deepEqual(rootStepEnvironment({ PATH: "/evil" }), ROOT_STEP_ENVIRONMENT);
});
