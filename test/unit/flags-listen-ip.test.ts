import assert from "node:assert/strict";
import { test } from "node:test";
import { runShell, settleListenIp } from "../../src/common/flags/listen-ip.js";
import { loadMasterFlags } from "../../src/master/flags.js";

const never = (): string => {
  throw new Error("the discovery command must not run");
};

test("ip_discovery_command: the trimmed output becomes LIBPROCESS_IP", () => {
  const env: Record<string, string | undefined> = {};
  const values = { ip_discovery_command: "discover" };
  const error = settleListenIp(values, env, (command) => {
    assert.equal(command, "discover");
    return "  10.1.2.3\n";
  });
  assert.equal(error, undefined);
  assert.equal(env.LIBPROCESS_IP, "10.1.2.3");
});

test("ip_discovery_command: wins over an --ip that came from LIBPROCESS_IP", () => {
  const loaded = loadMasterFlags({
    argv: ["--ip_discovery_command=echo 127.0.0.9", "--registry=in_memory"],
    env: { LIBPROCESS_IP: "127.0.0.5" },
  });
  assert.ok(loaded.ok, loaded.ok ? "" : loaded.error);
  const env: Record<string, string | undefined> = { LIBPROCESS_IP: "127.0.0.5" };
  assert.equal(settleListenIp(loaded.flags.values, env), undefined);
  assert.equal(env.LIBPROCESS_IP, "127.0.0.9");
  assert.equal(loaded.flags.values.ip, undefined);
  assert.equal(loaded.flags.toStrings().ip, undefined);
  assert.equal(loaded.flags.toStrings().ip_discovery_command, "echo 127.0.0.9");
});

test("ip_discovery_command: output that is not an IP address is refused", () => {
  const env: Record<string, string | undefined> = {};
  const error = settleListenIp({ ip_discovery_command: "x" }, env, () => "eth0 has no address\n");
  assert.match(error ?? "", /--ip_discovery_command 'x' printed 'eth0 has no address'/);
  assert.match(error ?? "", /not an IP address/);
  assert.equal(env.LIBPROCESS_IP, undefined);
});

test("ip_discovery_command: a command that fails is reported (real /bin/sh)", () => {
  const env: Record<string, string | undefined> = {};
  const error = settleListenIp({ ip_discovery_command: "exit 3" }, env);
  assert.match(error ?? "", /^Failed to run --ip_discovery_command 'exit 3': /);
  assert.equal(env.LIBPROCESS_IP, undefined);
});

test("ip_discovery_command: runs through the shell (pipes work)", () => {
  assert.equal(runShell("echo ' 192.0.2.7 ' | tr -d ' '").trim(), "192.0.2.7");
  const env: Record<string, string | undefined> = {};
  assert.equal(settleListenIp({ ip_discovery_command: "printf '::1\\n'" }, env), undefined);
  assert.equal(env.LIBPROCESS_IP, "::1");
});

test("ip: --ip is copied into LIBPROCESS_IP (executors inherit it, as in Mesos)", () => {
  const env: Record<string, string | undefined> = {};
  assert.equal(settleListenIp({ ip: "127.0.0.1" }, env, never), undefined);
  assert.equal(env.LIBPROCESS_IP, "127.0.0.1");
});

test("ip: with neither flag the environment is left alone", () => {
  const env: Record<string, string | undefined> = { OTHER: "1" };
  assert.equal(settleListenIp({}, env, never), undefined);
  assert.deepEqual(env, { OTHER: "1" });
});
