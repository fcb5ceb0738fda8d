import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { type AgentFlags, agentFlagSchema, loadAgentFlags } from "../../src/agent/flags.js";
import { parseDaemonCommandLine } from "../../src/common/flags/daemon-cli.js";
import type { Duration } from "../../src/common/flags/duration.js";
import { renderAllFlagDocs, staleFlagDocs } from "../../src/common/flags/gen-docs.js";
import { binDir } from "../../src/common/flags/install-paths.js";
import { loadMasterFlags, type MasterFlags, masterFlagSchema } from "../../src/master/flags.js";

function master(argv: string[], env: Record<string, string> = {}) {
  return loadMasterFlags({ argv, env });
}

function masterLoaded(argv: string[], env: Record<string, string> = {}) {
  const r = master(argv, env);
  if (!r.ok) throw new Error(r.error);
  return r.flags;
}

function masterValues(argv: string[], env: Record<string, string> = {}): MasterFlags {
  return masterLoaded(argv, env).values;
}

function errorOf(r: { ok: true } | { ok: false; error: string }): string {
  return r.ok ? "accepted" : r.error;
}

function agentValues(argv: string[], env: Record<string, string> = {}): AgentFlags {
  const r = loadAgentFlags({ argv: ["--work_dir=/w", "--master=m:5050", ...argv], env });
  if (!r.ok) throw new Error(r.error);
  return r.flags.values;
}

test("master flags: defaults are Mesos 1.12's", () => {
  const loaded = masterLoaded(["--work_dir=/w"]);
  const v = loaded.values;
  const strings = loaded.toStrings();
  assert.equal(v.registry, "replicated_log");
  assert.equal(v.port, 5050);
  const interval: Duration = v.allocation_interval;
  assert.equal(interval.toString(), "1secs");
  assert.equal(v.offer_timeout, undefined);
  assert.equal(v.max_completed_frameworks, 50);
  assert.equal(v.max_completed_tasks_per_framework, 1000);
  assert.equal(v.agent_ping_timeout.toString(), "15secs");
  assert.equal(v.max_agent_ping_timeouts, 5);
  assert.equal(v.agent_reregister_timeout.toString(), "10mins");
  assert.equal(v.registry_max_agent_age.toString(), "2weeks");
  assert.equal(v.registry_max_agent_count, 102400);
  assert.equal(v.role_sorter, "drf");
  assert.equal(v.allocator, "hierarchical");
  assert.equal(v.min_allocatable_resources, "cpus:0.01|mem:32");
  assert.equal(v.zk_session_timeout.toString(), "10secs");
  assert.equal(v.offer_constraints_re2_max_mem.toString(), "4KB");
  assert.equal(v.logging_level, "INFO");
  assert.equal(v.logbufsecs, 0);
  assert.equal(v.http_authenticators, "basic");
  assert.equal(strings.recovery_agent_removal_limit, "100%");
  assert.equal(strings.allocator_agent_recovery_factor, "0.8");
});

test("master flags: --work_dir is required unless --registry=in_memory", () => {
  assert.deepEqual(master([]), {
    ok: false,
    error: "--work_dir needed for replicated log based registry",
  });
  assert.equal(master(["--work_dir=/var/lib/mesos"]).ok, true);
  assert.equal(master(["--registry=in_memory"]).ok, true);
});

test("master flags: --zk needs --quorum with the replicated log, and excludes contender modules", () => {
  assert.match(errorOf(master(["--work_dir=/w", "--zk=zk://h:2181/mesos"])), /--quorum/);
  assert.equal(master(["--work_dir=/w", "--zk=zk://h:2181/mesos", "--quorum=2"]).ok, true);
  assert.match(
    errorOf(master(["--registry=in_memory", "--master_contender=x"])),
    /Both --master_contender and --master_detector/,
  );
});

test("master flags: deprecated agent names still work", () => {
  const r = master(["--registry=in_memory", "--slave_ping_timeout=30secs", "--user_sorter=random"]);
  assert.ok(r.ok);
  assert.equal(r.flags.values.agent_ping_timeout.toString(), "30secs");
  assert.equal(r.flags.values.role_sorter, "random");
  assert.equal(r.flags.warnings.length, 2);
});

test("master flags: validators reject out-of-range values", () => {
  const error = (argv: string[]) => errorOf(master(["--registry=in_memory", ...argv]));
  assert.equal(
    error(["--agent_ping_timeout=500ms"]),
    "Expected `--agent_ping_timeout` to be between 1secs and 15mins",
  );
  assert.match(error(["--agent_reregister_timeout=5mins"]), /Must be at least 10mins/);
  assert.match(error(["--recovery_agent_removal_limit=50"]), /missing '%'/);
  assert.match(error(["--recovery_agent_removal_limit=150%"]), /Must be within \[0%-100%\]/);
  assert.match(error(["--registry_strict"]), /registry_strict/);
  assert.match(error(["--logging_level=DEBUG"]), /'DEBUG' is not a valid logging level/);
  assert.equal(
    errorOf(master(["--work_dir=/w", "--registry=zookeeper"])),
    "'zookeeper' is not a supported option for registry persistence",
  );
  assert.match(error(['--domain={"x":1}']), /fault_domain/);
  // A fault domain's region and zone are required protobuf fields, names included.
  assert.equal(
    error(['--domain={"fault_domain":{"region":{"name":"r"}}}']),
    "Failed to load flag 'domain': Missing required fields: fault_domain.zone",
  );
  assert.equal(
    error(['--domain={"fault_domain":{"region":{},"zone":{"name":"z"}}}']),
    "Failed to load flag 'domain': Missing required fields: fault_domain.region.name",
  );
  assert.match(
    error(['--domain={"fault_domain":{"region":{"name":1},"zone":{"name":"z"}}}']),
    /string 'name'/,
  );
  assert.equal(
    error(['--domain={"fault_domain":{"region":{"name":"r"},"zone":{"name":"z"}},"x":1}']),
    "accepted",
  );
});

test("master flags: LIBPROCESS_IP/ADVERTISE_* provide defaults below MESOS_* and the command line; LIBPROCESS_PORT does not", () => {
  const env = {
    LIBPROCESS_IP: "10.0.0.1",
    LIBPROCESS_PORT: "5055",
    LIBPROCESS_ADVERTISE_IP: "1.2.3.4",
  };
  const v = masterValues(["--registry=in_memory"], env);
  assert.equal(v.ip, "10.0.0.1");
  // Mesos' master sets LIBPROCESS_PORT from --port (default 5050), so the variable never counts.
  assert.equal(v.port, 5050);
  assert.equal(v.advertise_ip, "1.2.3.4");
  assert.equal(masterValues(["--registry=in_memory"], { ...env, MESOS_PORT: "6000" }).port, 6000);
  assert.equal(masterValues(["--registry=in_memory", "--port=7000"], env).port, 7000);
  // LIBPROCESS_IP is not "--ip", so it does not clash with --ip_discovery_command.
  assert.equal(master(["--registry=in_memory", "--ip_discovery_command=x"], env).ok, true);
  assert.match(
    errorOf(master(["--registry=in_memory", "--ip=1.1.1.1", "--ip_discovery_command=x"])),
    /Only one of `--ip` or `--ip_discovery_command`/,
  );
});

test("agent flags: defaults are Mesos 1.12's", () => {
  const v = agentValues([]);
  assert.equal(v.port, 5051);
  assert.equal(v.isolation, "posix/cpu,posix/mem");
  assert.equal(v.executor_registration_timeout.toString(), "1mins");
  assert.equal(v.executor_shutdown_grace_period.toString(), "5secs");
  assert.equal(v.executor_reregistration_timeout.toString(), "2secs");
  assert.equal(v.gc_delay.toString(), "1weeks");
  assert.equal(v.disk_watch_interval.toString(), "1mins");
  assert.equal(v.recover, "reconnect");
  assert.equal(v.strict, true);
  assert.equal(v.switch_user, true);
  assert.equal(v.default_role, "*");
  assert.equal(v.containerizers, "mesos");
  assert.equal(v.fetcher_cache_size.toString(), "2GB");
  assert.equal(v.docker_remove_delay.toString(), "6hrs");
  assert.equal(v.docker_stop_timeout.toString(), "0ns");
  assert.equal(v.registration_backoff_factor.toString(), "1secs");
  assert.equal(v.max_completed_executors_per_framework, 150);
  assert.equal(v.sandbox_directory, "/mnt/mesos/sandbox");
  assert.equal(v.frameworks_home, "");
  assert.equal(v.resources, undefined);
  assert.equal(v.http_authenticators, undefined);
  assert.equal(v.xfs_quota_headroom.toString(), "10MB");
  assert.ok(["linux", "posix"].includes(v.launcher));
});

test("agent flags: --launcher_dir defaults to the package's bin/ directory", () => {
  const dir = agentValues([]).launcher_dir;
  assert.equal(dir, binDir());
  assert.ok(existsSync(join(dir, "mesos-agent")), dir);
});

test("agent flags: --work_dir and --master are required", () => {
  assert.deepEqual(loadAgentFlags({ argv: ["--master=m:5050"] }), {
    ok: false,
    error: "Flag 'work_dir' is required, but it was not provided",
  });
  assert.deepEqual(loadAgentFlags({ argv: ["--work_dir=/w"] }), {
    ok: false,
    error: "Missing required option `--master` or `--master_detector`",
  });
});

test("agent flags: validators reject bad values", () => {
  const error = (argv: string[]) =>
    errorOf(loadAgentFlags({ argv: ["--work_dir=/w", "--master=m:5050", ...argv] }));
  assert.match(error(["--recover=restart"]), /Unknown option for 'recover' flag restart/);
  assert.equal(
    error(["--isolation=posix/cpu,posix/mem,posix/cpu"]),
    "Failed to create a containerizer: Duplicate entries found in --isolation flag " +
      "'[ posix/cpu, posix/mem, posix/cpu ]'",
  );
  assert.equal(error(["--isolation=posix/cpu,,posix/mem"]), "accepted");
  assert.equal(
    error(["--registration_backoff_factor=61secs"]),
    "Invalid value '61secs' for --registration_backoff_factor: Must be less than 1mins",
  );
  assert.equal(error(["--registration_backoff_factor=1mins"]), "accepted");
  assert.match(error(["--executor_reregistration_timeout=1mins"]), /not more than 15secs/);
  assert.match(error(["--gc_disk_headroom=2"]), /gc_disk_headroom/);
  assert.match(error(['--executor_environment_variables={"A":1}']), /only contain string values/);
  assert.equal(error(['--executor_environment_variables={"A":"b"}']), "accepted");
  assert.match(
    error(['--default_container_info={"type":"MESOS","volumes":"x"}']),
    /Failed to load flag 'default_container_info'/,
  );
  assert.equal(error(['--default_container_info={"type":"MESOS","volumes":[]}']), "accepted");
  assert.match(error(["--ip6=::1", "--ip6_discovery_command=x"]), /--ip6/);
  assert.match(error(['--agent_features={"capabilities":[]}']), /MULTI_ROLE/);
});

test("agent flags: deprecated names still work", () => {
  const v = agentValues(["--slave_subsystems=memory", "--allowed_capabilities={}"]);
  assert.equal(v.agent_subsystems, "memory");
  assert.deepEqual(v.effective_capabilities, {});
});

test("flag sets: every flag has help and not-yet flags are marked", () => {
  for (const schema of [masterFlagSchema, agentFlagSchema]) {
    for (const [name, spec] of Object.entries(schema.flags)) {
      assert.ok(spec.help.length > 10, `${name} has help`);
      assert.ok(!spec.help.includes("not yet effective"), `${name}: use notYet instead`);
    }
  }
  assert.equal(agentFlagSchema.flags.perf_interval.notYet, true);
  assert.equal(masterFlagSchema.flags.allocation_interval.notYet, false);
});

test("daemon command line: --help wins over bad flags, errors get the hint, --version prints", () => {
  const out: string[] = [];
  const err: string[] = [];
  const io = {
    stdout: { write: (s: string) => out.push(s) },
    stderr: { write: (s: string) => err.push(s) },
    env: {},
  };
  assert.deepEqual(
    parseDaemonCommandLine(masterFlagSchema, "mesos-master", ["--bogus", "--help"], io),
    {
      exit: 0,
    },
  );
  assert.match(out.join(""), /^Usage: mesos-master \[options\]\n\n/);
  assert.deepEqual(parseDaemonCommandLine(masterFlagSchema, "mesos-master", ["--bogus=1"], io), {
    exit: 1,
  });
  assert.equal(
    err.join(""),
    "Failed to load unknown flag 'bogus'\n\nSee `mesos-master --help` for a list of supported flags.\n",
  );
  out.length = 0;
  assert.deepEqual(parseDaemonCommandLine(masterFlagSchema, "mesos-master", ["--version"], io), {
    exit: 0,
  });
  assert.equal(out.join(""), "mesos 1.12.0\n");
  const ok = parseDaemonCommandLine(masterFlagSchema, "mesos-master", ["--registry=in_memory"], io);
  assert.ok("flags" in ok);
});

test("flag docs: docs/reference/*-flags.md match the declarations (run gen-docs after changing flags)", async () => {
  const stale = await staleFlagDocs();
  assert.deepEqual(
    stale,
    [],
    "regenerate with: npx tsc -p . && node dist/src/common/flags/gen-docs.js",
  );
  const pages = await renderAllFlagDocs();
  const masterPage = pages.find((p) => p.file.endsWith("master-flags.md"))?.content ?? "";
  assert.match(masterPage, /\| `--allocation_interval=VALUE` \| `1secs` \|/);
  assert.match(masterPage, /\| `--port=VALUE` \| `5050` \|/);
  const agentPage = pages.find((p) => p.file.endsWith("agent-flags.md"))?.content ?? "";
  assert.match(agentPage, /\| `--work_dir=VALUE` \| \*\*required\*\* \|/);
  assert.match(agentPage, /`<mesos-ts>\/bin \(found at run time\)`/);
});
