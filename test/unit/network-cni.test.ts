/**
 * The pure parts of the `network/cni` isolator: configuration parsing and
 * loading (Mesos' skip-and-log rules), the start-up checks, plugin answers
 * (CNI 0.2.0 and 0.3+ forms), resolv.conf text and interface counters.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import type { ContainerConfig } from "../../src/agent/containerizer/isolators/isolator.js";
import {
  cniRootDir,
  formatResolverConfig,
  hostnameError,
  interfaceStatistics,
  loadNetworkConfigs,
  NetworkCniIsolator,
  networkCniOptions,
  parseDefaultContainerDns,
  parseNetworkConfig,
  pluginAddresses,
  pluginDns,
} from "../../src/agent/containerizer/isolators/network-cni.js";
import type { Logger } from "../../src/common/observability/logger.js";
import { tempDir } from "../harness/processes.js";

function recordingLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const push = (m: string) => {
    lines.push(m);
  };
  return { lines, info: push, warn: push, error: push, verbose: () => {} };
}

/** A plugins directory holding executable files `names`. */
function pluginsDir(...names: string[]): string {
  const dir = tempDir("cni-plugins-");
  for (const name of names) {
    writeFileSync(join(dir, name), "#!/bin/sh\n");
    chmodSync(join(dir, name), 0o755);
  }
  return dir;
}

test("network/cni: a configuration needs a JSON object with a name and a type", () => {
  assert.match(String(parseNetworkConfig("{ nope")), /^JSON parse failed/);
  assert.match(String(parseNetworkConfig("[]")), /^JSON parse failed/);
  assert.match(String(parseNetworkConfig('{"type":"bridge"}')), /'name'/);
  assert.match(String(parseNetworkConfig('{"name":"n"}')), /'type'/);
  const ok = parseNetworkConfig('{"name":"n","type":"bridge","ipam":{"type":"host-local"}}');
  assert.equal(typeof ok, "object");
});

test("network/cni: loading skips and logs bad files, second names and missing plugins (as Mesos)", () => {
  const dir = tempDir("cni-conf-");
  const plugins = pluginsDir("bridge", "host-local");
  writeFileSync(
    join(dir, "1.conf"),
    '{"name":"good","type":"bridge","ipam":{"type":"host-local"}}',
  );
  writeFileSync(join(dir, "2.conf"), '{"name":"good","type":"bridge"}');
  writeFileSync(join(dir, "3.conf"), "not json");
  writeFileSync(join(dir, "4.conf"), '{"name":"p","type":"macvlan"}');
  writeFileSync(join(dir, "5.conf"), '{"name":"i","type":"bridge","ipam":{"type":"dhcp"}}');
  mkdirSync(join(dir, "subdir"));
  const logger = recordingLogger();
  const configs = loadNetworkConfigs(dir, `/nonexistent:${plugins}`, logger);
  assert.deepEqual([...configs.keys()], ["good"]);
  assert.equal(configs.get("good"), join(dir, "1.conf"));
  const text = logger.lines.join("\n");
  assert.match(text, /Multiple network configuration for a CNI network is not allowed.*2\.conf/);
  assert.match(text, /Failed to parse CNI network configuration file '.*3\.conf'/);
  assert.match(text, /failed to find CNI plugin 'macvlan'/);
  assert.match(text, /failed to find IPAM plugin 'dhcp'/);
});

test("network/cni: start-up checks give Mesos' messages", () => {
  const base = { network_cni_root_dir_persist: false, work_dir: "/w", runtime_dir: "/r" };
  const logger = recordingLogger();
  // Neither flag: loaded, no networks (as Mesos).
  const none = networkCniOptions(base, true, logger);
  assert.deepEqual(none, { ok: true, options: undefined });
  const withBoth = { ...base, network_cni_plugins_dir: "/p", network_cni_config_dir: "/c" };
  assert.deepEqual(networkCniOptions(withBoth, false, logger), {
    ok: false,
    error: "The 'network/cni' isolator requires root permissions",
  });
  const noPlugins = networkCniOptions({ ...base, network_cni_config_dir: "/c" }, true, logger);
  assert.equal(
    !noPlugins.ok && noPlugins.error,
    "Missing required '--network_cni_plugins_dir' flag",
  );
  const noConfig = networkCniOptions({ ...base, network_cni_plugins_dir: "/p" }, true, logger);
  assert.equal(!noConfig.ok && noConfig.error, "Missing required '--network_cni_config_dir' flag");
  const missing = networkCniOptions(
    { ...withBoth, network_cni_config_dir: "/nonexistent-cni" },
    true,
    logger,
  );
  assert.equal(
    !missing.ok && missing.error,
    "The CNI network configuration directory '/nonexistent-cni' does not exist",
  );
  assert.equal(cniRootDir(base), "/r/isolators/network/cni");
  assert.equal(
    cniRootDir({ ...base, network_cni_root_dir_persist: true }),
    "/w/isolators/network/cni",
  );
});

test("network/cni: plugin answers in the 0.2.0 and 0.3+ forms give addresses without prefix", () => {
  assert.deepEqual(pluginAddresses({ ip4: { ip: "10.0.0.2/24" }, ip6: { ip: "fd00::2/64" } }), {
    ip4: ["10.0.0.2"],
    ip6: ["fd00::2"],
  });
  assert.deepEqual(
    pluginAddresses({
      ips: [{ version: "4", address: "10.1.0.5/16" }, { address: "fd01::5/64" }],
    }),
    { ip4: ["10.1.0.5"], ip6: ["fd01::5"] },
  );
  assert.deepEqual(pluginAddresses("garbage"), { ip4: [], ip6: [] });
});

test("network/cni: resolv.conf in Mesos' order from a plugin's dns", () => {
  const dns = pluginDns({
    dns: {
      nameservers: ["192.0.2.1", "192.0.2.2"],
      domain: "d",
      search: ["a", "b"],
      options: ["ndots:2"],
    },
  });
  assert.ok(dns !== undefined);
  assert.equal(
    formatResolverConfig(dns),
    "domain d\nsearch a b\noptions ndots:2\nnameserver 192.0.2.1\nnameserver 192.0.2.2\n",
  );
  assert.equal(pluginDns({ dns: {} })?.nameservers.length, 0);
  assert.equal(pluginDns({}), undefined);
});

test("network/cni: interface counters are summed over the container's interfaces only", () => {
  const procNetDev = [
    "Inter-|   Receive                                                |  Transmit",
    " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed",
    "    lo:     100       1    0    0    0     0          0         0      100       1    0    0    0     0       0          0",
    "  eth0:    2000      20    1    2    0     0          0         0     3000      30    3    4    0     0       0          0",
    "  eth1:      10       1    0    0    0     0          0         0       20       2    0    0    0     0       0          0",
  ].join("\n");
  const stats = interfaceStatistics(procNetDev, new Set(["eth0", "eth1"]));
  assert.equal(stats.net_rx_bytes, 2010);
  assert.equal(stats.net_rx_packets, 21);
  assert.equal(stats.net_rx_errors, 1);
  assert.equal(stats.net_rx_dropped, 2);
  assert.equal(stats.net_tx_bytes, 3020);
  assert.equal(stats.net_tx_packets, 32);
  assert.equal(stats.net_tx_errors, 3);
  assert.equal(stats.net_tx_dropped, 4);
});

test("network/cni: --default_container_dns is checked with Mesos' rules; its CNI part is kept", () => {
  const ok = parseDefaultContainerDns({
    mesos: [
      { network_mode: "CNI", dns: { nameservers: ["192.0.2.1"] } },
      {
        network_mode: "CNI",
        network_name: "n1",
        dns: { nameservers: ["192.0.2.2"], search: ["s"] },
      },
    ],
    docker: [{ network_mode: "BRIDGE", dns: { nameservers: ["192.0.2.3"] } }],
  });
  assert.ok(ok.ok);
  assert.deepEqual(ok.dns.fallback?.nameservers, ["192.0.2.1"]);
  assert.deepEqual(ok.dns.byNetwork.get("n1")?.search, ["s"]);
  const error = (value: unknown) => {
    const r = parseDefaultContainerDns(value);
    return r.ok ? undefined : r.error;
  };
  assert.equal(
    error({ mesos: [{ network_mode: "HOST" }] }),
    "Configuring DNS for HOST network with `--default_container_dns` is not yet supported",
  );
  assert.equal(
    error({ mesos: [{ network_mode: "UNKNOWN" }] }),
    "UNKNOWN network mode configured in `--default_container_dns`",
  );
  assert.match(
    String(error({ mesos: [{ network_mode: "CNI" }, { network_mode: "CNI" }] })),
    /^Multiple DNS configuration without network name for CNI network/,
  );
  assert.match(
    String(
      error({
        mesos: [
          { network_mode: "CNI", network_name: "a" },
          { network_mode: "CNI", network_name: "a" },
        ],
      }),
    ),
    /^Multiple DNS configuration with the same network name 'a' for CNI network/,
  );
  assert.match(
    String(error({ docker: [{ network_mode: "BRIDGE" }, { network_mode: "BRIDGE" }] })),
    /^Multiple DNS configuration for Docker default bridge network/,
  );
});

test("network/cni: a ContainerInfo.hostname that is an option of hostname(1) is refused, not run as root", async (t) => {
  if (process.getuid?.() !== 0) {
    t.skip("needs root (network and UTS namespaces)");
    return;
  }
  const plugins = tempDir("cni-plugins-");
  writeFileSync(
    join(plugins, "fake"),
    '#!/bin/sh\ncat >/dev/null\necho \'{"cniVersion":"0.3.1"}\'\n',
  );
  chmodSync(join(plugins, "fake"), 0o755);
  const configDir = tempDir("cni-config-");
  writeFileSync(join(configDir, "net.conf"), '{"name":"net","type":"fake"}');
  const work = tempDir("cni-work-");
  const secret = join(tempDir("cni-secret-"), "secret");
  writeFileSync(secret, "rootonlysecret\n", { mode: 0o600 });
  const logger = recordingLogger();
  const made = networkCniOptions(
    {
      network_cni_plugins_dir: plugins,
      network_cni_config_dir: configDir,
      network_cni_root_dir_persist: false,
      work_dir: work,
      runtime_dir: work,
    },
    true,
    logger,
  );
  assert.ok(made.ok && made.options !== undefined);
  const isolator = new NetworkCniIsolator(made.options);
  const config = {
    containerId: "c1",
    directory: work,
    commandExecutor: false,
    resources: {},
    executor: {
      executor_id: { value: "e" },
      command: { value: "true" },
      container: { type: "MESOS", hostname: `-F${secret}`, network_infos: [{ name: "net" }] },
    },
  } as unknown as ContainerConfig;
  let prepared: Awaited<ReturnType<typeof isolator.prepare>> | undefined;
  try {
    prepared = await isolator.prepare(config).catch((e: unknown) => {
      assert.match((e as Error).message, /Invalid hostname/);
      return undefined;
    });
    if (prepared?.utsNamespaceToEnter !== undefined) {
      const r = spawnSync("nsenter", [`--uts=${prepared.utsNamespaceToEnter}`, "hostname"], {
        encoding: "utf8",
      });
      assert.notEqual(
        r.stdout.trim(),
        "rootonlysecret",
        "root read the file named by the hostname",
      );
    }
    assert.equal(prepared, undefined);
  } finally {
    await isolator.cleanup("c1");
  }
});

test("network/cni: hostnames are checked before they reach a root program or /etc/hosts", () => {
  assert.equal(hostnameError("web-1.example"), undefined);
  for (const bad of ["", "-F/etc/shadow", "a\nb", "a b", "a/b", "x".repeat(65)]) {
    assert.match(String(hostnameError(bad)), /^Invalid hostname/, JSON.stringify(bad));
  }
});

test("network/cni: a plugin type naming a path outside --network_cni_plugins_dir is not found", () => {
  const plugins = pluginsDir("bridge");
  const outside = join(plugins, "..", `outside-${process.pid}`);
  writeFileSync(outside, "#!/bin/sh\n");
  chmodSync(outside, 0o755);
  const configDir = tempDir("cni-config-");
  writeFileSync(join(configDir, "a.conf"), `{"name":"a","type":"../outside-${process.pid}"}`);
  writeFileSync(join(configDir, "b.conf"), '{"name":"b","type":"bridge"}');
  const logger = recordingLogger();
  const configs = loadNetworkConfigs(configDir, plugins, logger);
  assert.deepEqual([...configs.keys()], ["b"]);
  assert.ok(
    logger.lines.some((l) => l.includes("failed to find CNI plugin")),
    logger.lines.join("\n"),
  );
});
