/**
 * `mesos config` against what the Mesos CLI offers: `config plugins`, and
 * reading the Mesos CLI's own TOML config file (~/.mesos/config.toml or
 * MESOS_CLI_CONFIG) so an operator's existing file keeps working.
 */
import assert from "node:assert/strict";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { configPath, parseConfigFile } from "../../src/cli/mesos/support/profile.js";
import { main } from "../../src/cli/mesos.js";
import { systemClock } from "../../src/common/time/clock.js";

const root = mkdtempSync(join(tmpdir(), "mesos-cli-config-"));
after(() => rmSync(root, { recursive: true, force: true }));

async function mesos(env: Record<string, string>, home: string, ...argv: string[]) {
  let stdout = "";
  let stderr = "";
  const code = await main(argv, {
    out: (t) => {
      stdout += t;
    },
    err: (t) => {
      stderr += t;
    },
    env: { PATH: "", ...env },
    homeDir: home,
    clock: systemClock,
  });
  return { code, stdout, stderr };
}

describe("mesos config plugins", () => {
  it("lists the built-in commands and the mesos-<name> plugins found on PATH", async () => {
    const bin = join(root, "bin");
    mkdirSync(bin, { recursive: true });
    writeFileSync(join(bin, "mesos-hello"), "#!/bin/sh\necho hi\n");
    chmodSync(join(bin, "mesos-hello"), 0o755);
    const r = await mesos({ PATH: bin }, join(root, "home"), "config", "plugins");
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trimEnd().split("\n");
    assert.match(lines[0] ?? "", /^NAME +DESCRIPTION$/);
    assert.ok(
      lines.some((l) => /^agent +inspect the agents$/.test(l)),
      r.stdout,
    );
    assert.ok(
      lines.some((l) => /^task +/.test(l)),
      r.stdout,
    );
    assert.ok(
      lines.some((l) => l.startsWith("hello ") && l.includes(join(bin, "mesos-hello"))),
      r.stdout,
    );
  });
});

describe("mesos config: the Mesos CLI's TOML file", () => {
  it("[master] address is the profile's master", () => {
    const text =
      '# my cluster\n[master]\naddress = "10.0.0.5:5050"  # leader\n\n[agent]\nssl = false\ntimeout = 5\n';
    const cfg = parseConfigFile(text, "/home/op/.mesos/config.toml");
    assert.deepEqual(cfg.profiles.default, { master: "10.0.0.5:5050" });
  });

  it("[master.zookeeper] becomes a zk:// master, which mesos resolve reads", () => {
    const text =
      '[master.zookeeper]\naddresses = [\'10.0.0.1:2181\', "10.0.0.2:2181"]\npath = "/mesos"\n';
    const cfg = parseConfigFile(text, "/x/config.toml");
    assert.equal(cfg.profiles.default?.master, "zk://10.0.0.1:2181,10.0.0.2:2181/mesos");
  });

  it("a broken TOML file or a master with both address and zookeeper is named", () => {
    assert.throws(
      () => parseConfigFile("[master\naddress = 1\n", "/x/config.toml"),
      /\/x\/config\.toml.*line 1/,
    );
    assert.throws(
      () =>
        parseConfigFile(
          '[master]\naddress = "a:1"\n[master.zookeeper]\naddresses = ["z:2181"]\npath = "/m"\n',
          "/x/config.toml",
        ),
      /either 'address' or 'zookeeper'/,
    );
  });

  it("~/.mesos/config.toml is read when there is no ~/.mesos.json", () => {
    const home = join(root, "home-toml");
    mkdirSync(join(home, ".mesos"), { recursive: true });
    assert.equal(configPath({}, home), join(home, ".mesos.json"));
    writeFileSync(join(home, ".mesos", "config.toml"), '[master]\naddress = "10.0.0.9:5050"\n');
    assert.equal(configPath({}, home), join(home, ".mesos", "config.toml"));
    writeFileSync(join(home, ".mesos.json"), "{}\n");
    assert.equal(configPath({}, home), join(home, ".mesos.json"));
  });

  it("MESOS_CLI_CONFIG may name a TOML file; config show reads it, config set refuses to rewrite it", async () => {
    const file = join(root, "cli.toml");
    writeFileSync(file, '[master]\naddress = "10.0.0.7:5050"\n');
    const show = await mesos({ MESOS_CLI_CONFIG: file }, root, "config", "show", "-o", "json");
    assert.equal(show.code, 0, show.stderr);
    assert.deepEqual((JSON.parse(show.stdout) as { master: unknown }).master, {
      value: "10.0.0.7:5050",
      source: "profile",
    });
    const set = await mesos({ MESOS_CLI_CONFIG: file }, root, "config", "set", "timeout", "5secs");
    assert.equal(set.code, 1);
    assert.match(set.stderr, /^mesos: .*cli\.toml.*TOML.*\n$/);
  });
});

describe("mesos: a zk:// master", () => {
  it("every command looks the leader up in ZooKeeper instead of refusing zk://", async () => {
    const r = await mesos(
      { MESOS_MASTER: "zk://127.0.0.1:1/mesos" },
      join(root, "home"),
      "agent",
      "list",
      "--timeout",
      "1secs",
    );
    assert.equal(r.code, 1);
    assert.equal(
      r.stderr,
      "mesos: cannot reach ZooKeeper at zk://127.0.0.1:1/mesos (waited 1 s)\n",
    );
  });
});

describe("mesos slave", () => {
  it("warns that 'slave' is deprecated in favour of 'agent', then runs mesos-slave", async () => {
    const bin = join(root, "bin-slave");
    mkdirSync(bin, { recursive: true });
    writeFileSync(join(bin, "mesos-slave"), "#!/bin/sh\nexit 7\n");
    chmodSync(join(bin, "mesos-slave"), 0o755);
    const r = await mesos({ PATH: bin }, join(root, "home"), "slave", "--help");
    assert.equal(r.code, 7);
    assert.match(r.stderr, /^mesos: warning: 'mesos slave' is deprecated.*'mesos-agent'/);
  });
});
