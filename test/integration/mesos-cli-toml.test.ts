/**
 * bin/mesos configured by the Mesos CLI's own `~/.mesos/config.toml`, as
 * Mesos' docs/cli.md shows it: a `plugins` array written over several
 * lines, `[master]` with an address, and HTTP credentials for a master and
 * an agent that require authentication (`[master]`/`[agent]` `principal`
 * and `secret`).
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import {
  binPath,
  type DaemonHandle,
  runBinary,
  startAgent,
  startMaster,
  stopAll,
  tempDir,
  waitFor,
} from "../harness/processes.js";

let master: DaemonHandle;
let agent: DaemonHandle;
let home = "";
let pluginDir = "";

const MASTER_CREDENTIAL = { principal: "ops", secret: "master-secret" };
const AGENT_CREDENTIAL = { principal: "agent-ops", secret: "agent-secret" };

function basic(c: { principal: string; secret: string }): string {
  return `Basic ${Buffer.from(`${c.principal}:${c.secret}`).toString("base64")}`;
}

/** An environment without the caller's MESOS_* settings; HOME holds the TOML file. */
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith("MESOS_") && !k.startsWith("LIBPROCESS_")) env[k] = v;
  }
  return { ...env, HOME: home };
}

function mesos(args: string[]) {
  return runBinary("mesos", args, { env: cleanEnv(), timeoutMs: 30_000 });
}

/** Writes `~/.mesos/config.toml` (the file the CLI reads when there is no ~/.mesos.json). */
function writeToml(text: string): void {
  mkdirSync(join(home, ".mesos"), { recursive: true });
  writeFileSync(join(home, ".mesos", "config.toml"), text);
}

function tomlWith(options: { plugins?: string; agent?: boolean; masterSecret?: string }): string {
  const lines = [
    "# As in Mesos' docs/cli.md: one plugin directory per line.",
    "plugins = [",
    `  "${options.plugins ?? pluginDir}",`,
    "]",
    "",
    "[master]",
    `  address = "${master.address}"`,
    `  principal = "${MASTER_CREDENTIAL.principal}"`,
    `  secret = "${options.masterSecret ?? MASTER_CREDENTIAL.secret}"`,
    "  # [master.zookeeper]",
    "  #   addresses = [",
    '  #     "10.10.0.31:5050",',
    "  #   ]",
  ];
  if (options.agent === true) {
    lines.push(
      "[agent]",
      `  principal = "${AGENT_CREDENTIAL.principal}"`,
      `  secret = "${AGENT_CREDENTIAL.secret}"`,
    );
  }
  return `${lines.join("\n")}\n`;
}

before(async () => {
  home = tempDir("mesos-cli-toml-home-");
  pluginDir = tempDir("mesos-cli-plugins-");
  const plugin = join(pluginDir, "mesos-greet");
  writeFileSync(plugin, '#!/bin/sh\necho "greetings: $*"\nexit 3\n');
  chmodSync(plugin, 0o755);

  const credentials = (c: { principal: string; secret: string }, name: string) => {
    const path = join(home, name);
    writeFileSync(path, JSON.stringify({ credentials: [c] }));
    return `file://${path}`;
  };
  master = await startMaster({
    flags: {
      authenticate_http_readonly: true,
      authenticate_http_readwrite: true,
      credentials: credentials(MASTER_CREDENTIAL, "master-credentials.json"),
    },
  });
  agent = await startAgent({
    master: master.address,
    flags: {
      authenticate_http_readonly: true,
      authenticate_http_readwrite: true,
      http_credentials: credentials(AGENT_CREDENTIAL, "agent-credentials.json"),
    },
  });
  await waitFor(`the agent registered with ${master.address}`, async () => {
    const response = await fetch(`${master.url}/master/state`, {
      headers: { Authorization: basic(MASTER_CREDENTIAL) },
    }).catch(() => undefined);
    if (response?.status !== 200) return undefined;
    const state = (await response.json()) as { slaves?: unknown[] };
    return (state.slaves ?? []).length === 1 || undefined;
  });
});

after(stopAll);

test("a plugin from the TOML file's plugins directories runs, and is listed", async () => {
  writeToml(tomlWith({}));
  const run = await mesos(["greet", "a", "b"]);
  assert.deepEqual([run.code, run.stdout, run.stderr], [3, "greetings: a b\n", ""]);
  const listed = await mesos(["config", "plugins"]);
  assert.equal(listed.code, 0, listed.stderr);
  assert.match(listed.stdout, new RegExp(`\\ngreet +plugin: ${join(pluginDir, "mesos-greet")}\\n`));
  // Shell completion offers it too (the script asks `mesos __complete plugins`).
  const words = await mesos(["__complete", "plugins"]);
  assert.ok(words.stdout.split("\n").includes("greet"), words.stdout);
  const script = await mesos(["completion", "bash"]);
  assert.match(script.stdout, /\$\(mesos __complete plugins 2>\/dev\/null\)/);
  const shown = await mesos(["config", "show"]);
  assert.equal(shown.code, 0, shown.stderr);
  assert.match(shown.stdout, new RegExp(`\nmaster +${master.address} +profile\n`));
  assert.match(shown.stdout, new RegExp(`\nplugins: +${pluginDir}\n`));
  assert.match(shown.stdout, /\nmaster principal: ops \(with its secret\)\n/);
  assert.doesNotMatch(shown.stdout, new RegExp(MASTER_CREDENTIAL.secret));
  const help = await mesos(["help"]);
  assert.equal(help.code, 0, help.stderr);
  assert.match(help.stdout, /Plugins \(.*\): .*\bgreet\b/);
});

test("a plugins directory that does not exist is an error, as in the Mesos CLI", async () => {
  const missing = join(pluginDir, "no-such-dir");
  writeToml(tomlWith({ plugins: missing }));
  const r = await mesos(["agent", "list"]);
  assert.equal(r.code, 1);
  assert.equal(
    r.stderr,
    `mesos: the CLI config ${join(home, ".mesos", "config.toml")}: plugin directory ${missing} does not exist\n`,
  );
});

test("[master] principal and secret authenticate to a master that requires it", async () => {
  writeToml(tomlWith({}));
  const listed = await mesos(["agent", "list"]);
  assert.equal(listed.code, 0, listed.stderr);
  assert.match(listed.stdout, new RegExp(` ${agent.address} +yes `));

  writeToml(tomlWith({ masterSecret: "wrong" }));
  const refused = await mesos(["agent", "list"]);
  assert.equal(refused.code, 1);
  assert.equal(
    refused.stderr,
    `mesos: the master at ${master.address} refused /master/state without valid credentials (401): ` +
      "set 'principal' and 'secret' under [master] in the CLI's config.toml\n",
  );
});

test("[agent] principal and secret authenticate task exec and sandbox reads", async () => {
  const execution = spawn(
    process.execPath,
    [
      binPath("mesos-execute"),
      `--master=${master.address}`,
      `--principal=${MASTER_CREDENTIAL.principal}`,
      `--secret=${MASTER_CREDENTIAL.secret}`,
      "--name=toml-sleeper",
      "--command=echo from-the-task; sleep 60",
      "--resources=cpus:0.1;mem:32",
    ],
    { env: cleanEnv(), stdio: "ignore" },
  );
  try {
    writeToml(tomlWith({}));
    await waitFor("toml-sleeper running", async () => {
      const r = await mesos(["task", "list"]);
      return /\ntoml-sleeper +\S+ +TASK_RUNNING /.test(r.stdout) || undefined;
    });
    // Without [agent] credentials the agent refuses, and the message says where they go.
    const refused = await mesos(["task", "exec", "toml-sleeper", "echo", "hi"]);
    assert.equal(refused.code, 1);
    assert.match(
      refused.stderr,
      new RegExp(
        `^mesos: the agent at ${agent.address} refused \\S+ without valid credentials \\(401\\): ` +
          "set 'principal' and 'secret' under \\[agent\\] in the CLI's config.toml\\n$",
      ),
    );

    writeToml(tomlWith({ agent: true }));
    const exec = await mesos(["task", "exec", "toml-sleeper", "--", "sh", "-c", "echo hi; exit 5"]);
    assert.deepEqual([exec.code, exec.stdout], [5, "hi\n"], exec.stderr);
    const cat = await waitFor("the task's stdout", async () => {
      const r = await mesos(["cat", "toml-sleeper"]);
      return r.stdout.includes("from-the-task") ? r : undefined;
    });
    assert.equal(cat.code, 0, cat.stderr);
  } finally {
    execution.kill("SIGINT");
    await new Promise((resolve) => execution.once("exit", resolve));
  }
});

test("~/.mesos.json may name plugins directories too; mesos config set keeps them", async () => {
  const json = join(home, "own-config.json");
  writeFileSync(json, JSON.stringify({ plugins: [pluginDir], profiles: { default: {} } }));
  const env = { ...cleanEnv(), MESOS_CLI_CONFIG: json };
  const run = await runBinary("mesos", ["greet", "x"], { env, timeoutMs: 30_000 });
  assert.deepEqual([run.code, run.stdout], [3, "greetings: x\n"], run.stderr);
  const set = await runBinary("mesos", ["config", "set", "timeout", "20secs"], { env });
  assert.equal(set.code, 0, set.stderr);
  const saved = JSON.parse(readFileSync(json, "utf8")) as { plugins?: string[] };
  assert.deepEqual(saved.plugins, [pluginDir]);
  writeFileSync(json, JSON.stringify({ plugins: "not-a-list" }));
  const bad = await runBinary("mesos", ["greet"], { env });
  assert.deepEqual(
    [bad.code, bad.stderr],
    [1, `mesos: the CLI config ${json}: "plugins" must be a list of directories\n`],
  );
});
