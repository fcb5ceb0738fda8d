/**
 * Every flag `mesos-master` takes: the Mesos 1.12 master flags, the logging
 * flags and the shared (libprocess-level) ones. Names, defaults and aliases
 * follow Mesos; the help text is ours. Read values from
 * `loadMasterFlags(...)`: `flags.values.allocation_interval` is a `Duration`,
 * `flags.values.work_dir` a `string | undefined`, and so on.
 */
import { join } from "node:path";
import { Duration } from "../common/flags/duration.js";
import { packageRoot } from "../common/flags/install-paths.js";
import { defineFlags, type LoadOptions, type LoadResult, loadFlags } from "../common/flags/load.js";
import { loggingFlags } from "../common/flags/logging-flags.js";
import { checkSharedFlags, expectJsonObject, sharedFlags } from "../common/flags/shared-flags.js";
import { type FlagValues, flag } from "../common/flags/spec.js";

const MIN_AGENT_REREGISTER_TIMEOUT = Duration.minutes(10);

const oneOf =
  (name: string, allowed: readonly string[]) =>
  (v: string): string | undefined =>
    allowed.includes(v)
      ? undefined
      : `Invalid value '${v}' for --${name}: expected one of ${allowed.join(", ")}`;

function checkPercent(v: string): string | undefined {
  const prefix = `Invalid value '${v}' for --recovery_agent_removal_limit:`;
  if (!v.endsWith("%")) return `${prefix} missing '%'`;
  const number = v.slice(0, -1);
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(number)) {
    return `${prefix} Failed to convert '${number}' to number`;
  }
  const n = Number(number);
  return n < 0 || n > 100 ? `${prefix} Must be within [0%-100%]` : undefined;
}

const masterOnlyFlags = {
  root_submissions: flag.bool({
    help: "Whether frameworks may run as user root.",
    default: true,
  }),
  work_dir: flag.string({
    help:
      "Directory for the master's persistent state (the registry). Required unless " +
      "--registry=in_memory. Avoid directories the system cleans, such as /tmp. " +
      "Example: /var/lib/mesos/master.",
  }),
  registry: flag.string({
    help:
      "Where the registry of agents, quota, weights and maintenance is kept: " +
      "`replicated_log` (durable, in --work_dir, or in ZooKeeper with --zk) or " +
      "`in_memory` (lost on restart; for tests).",
    default: "replicated_log",
    validate: (v) =>
      ["replicated_log", "in_memory", "log_storage"].includes(v)
        ? undefined
        : `'${v}' is not a supported option for registry persistence`,
  }),
  quorum: flag.int({
    help:
      "Number of masters (more than half of them) that must be up for the leader to recover " +
      "and write the registry, counted in the ZooKeeper group <--zk path>/log_replicas; a " +
      "registry never written needs all 2*quorum-1. Needed with --zk; not used by a " +
      "standalone master.",
    // Mesos takes any number here; 0 or less would let a leader use the
    // registry with no other master up, which no one means.
    validate: (v) => (v < 1 ? `Invalid value '${v}' for --quorum: must be at least 1` : undefined),
  }),
  zk: flag.pathOrValue({
    help:
      "ZooKeeper URL for electing the leading master: zk://host1:port1,host2:port2,.../path, " +
      "zk://user:password@host1:port1,.../path, or file:///path holding one of those. " +
      "Unset: standalone master.",
  }),
  registry_strict: flag.bool({
    help: "Obsolete: only `false` is accepted.",
    default: false,
    validate: (v) =>
      v
        ? "Support for '--registry_strict' has been disabled and will be removed in a future version of Mesos"
        : undefined,
  }),
  registry_fetch_timeout: flag.duration({
    help: "How long reading the registry at start may take; longer and the master stops.",
    default: "1mins",
  }),
  registry_store_timeout: flag.duration({
    help:
      "How long a write to the registry may take; longer and it counts as failed, and the " +
      "master stops.",
    default: "20secs",
  }),
  log_auto_initialize: flag.bool({
    help:
      "Create an empty registry when there is none (first start). False: a master that " +
      "finds no registry (<work_dir>/registry.db, or <--zk path>/registry) waits and exits " +
      "after --registry_fetch_timeout instead, so a lost work dir or ZooKeeper data is " +
      "noticed rather than silently replaced.",
    default: true,
  }),
  agent_reregister_timeout: flag.duration({
    alias: "slave_reregister_timeout",
    help:
      "After a master failover or a disconnection, how long an agent has to re-register " +
      "before it is marked unreachable (its non-partition-aware tasks are then killed " +
      "if it comes back). At least 10mins.",
    default: MIN_AGENT_REREGISTER_TIMEOUT,
    // Tests of real processes may go lower with MESOS_TS_TESTING_SHORT_TIMEOUTS=1.
    validate: (v) =>
      v.compare(MIN_AGENT_REREGISTER_TIMEOUT) < 0 &&
      process.env.MESOS_TS_TESTING_SHORT_TIMEOUTS !== "1"
        ? `Invalid value '${v}' for --agent_reregister_timeout: Must be at least ${MIN_AGENT_REREGISTER_TIMEOUT}`
        : undefined,
  }),
  recovery_agent_removal_limit: flag.string({
    alias: "recovery_slave_removal_limit",
    help:
      "After a failover, the largest share of known agents (0%-100%) the master may remove " +
      "for not re-registering; above it the master exits instead, so a person looks at " +
      "the cluster.",
    default: "100%",
    validate: checkPercent,
  }),
  agent_removal_rate_limit: flag.string({
    alias: "slave_removal_rate_limit",
    help:
      "Highest rate at which agents that fail health checks are removed, as " +
      "<count>/<duration> (e.g. 1/10mins). Unset: remove at once.",
  }),
  webui_dir: flag.string({
    help: "Directory of the web UI files.",
    default: () => join(packageRoot(), "webui"),
    docDefault: "<mesos-ts>/webui",
  }),
  whitelist: flag.path({
    help:
      "File listing the agents (one hostname per line) whose resources may be offered; " +
      "re-read periodically. Unset: all agents.",
  }),
  role_sorter: flag.string({
    alias: "user_sorter",
    help: "How resources are shared between roles: `drf` or `random`.",
    default: "drf",
    validate: oneOf("role_sorter", ["drf", "random"]),
  }),
  framework_sorter: flag.string({
    help: "How a role's resources are shared between its frameworks: `drf` or `random`.",
    default: "drf",
    validate: oneOf("framework_sorter", ["drf", "random"]),
  }),
  allocation_interval: flag.duration({
    help: "Time between batch allocations (e.g. 500ms, 1secs).",
    default: "1secs",
  }),
  cluster: flag.string({
    help: "Human-readable name of the cluster, shown in the web UI and /state.",
  }),
  roles: flag.string({
    help: "Deprecated: comma-separated list of the only roles frameworks may use. Unset: any role.",
  }),
  weights: flag.string({
    help:
      "Deprecated: role weights as role=weight,role=weight. Use the /weights endpoint " +
      "or UPDATE_WEIGHTS instead.",
  }),
  authenticate_frameworks: flag.bool({
    alias: "authenticate",
    help:
      "Only authenticated v0 frameworks may register. For HTTP frameworks see " +
      "--authenticate_http_frameworks. mesos-ts has no v0 (driver) framework API.",
    default: false,
    notYet: true,
  }),
  authenticate_agents: flag.bool({
    alias: "authenticate_slaves",
    help: "Only authenticated agents may register.",
    default: false,
  }),
  authentication_v0_timeout: flag.duration({
    help:
      "How long a v0 framework or agent authentication (CRAM-MD5) may take; a handshake " +
      "not done in time is discarded and the peer tries again.",
    default: "15secs",
  }),
  authenticate_http_frameworks: flag.bool({
    help: "Only HTTP frameworks that present credentials may subscribe.",
    default: false,
  }),
  credentials: flag.path({
    help:
      'JSON file of credentials: {"credentials":[{"principal":"...","secret":"..."}]}. ' +
      "May be written as file:///path.",
  }),
  rate_limits: flag.json({
    help:
      "Framework rate limits as JSON (or file://), see RateLimits in mesos.proto: " +
      '{"limits":[{"principal":"foo","qps":55.5}],"aggregate_default_qps":33.3}.',
    validate: expectJsonObject("rate_limits"),
  }),
  max_executors_per_agent: flag.uint({
    alias: "max_executors_per_slave",
    help: "Most executors per agent (for the network port-mapping isolator).",
    notYet: true,
  }),
  offer_timeout: flag.duration({
    help:
      "Rescind an offer a framework has held this long, so frameworks that sit on " +
      "offers do not starve others. Unset: offers never time out.",
  }),
  authenticators: flag.string({
    help: "Authenticator for v0 frameworks and agents: `crammd5` or a module.",
    default: "crammd5",
  }),
  allocator: flag.string({
    help:
      "Allocator: the built-in hierarchical DRF allocator (`hierarchical`). Any other name " +
      "(a Mesos allocator module) stops the master at start.",
    default: "hierarchical",
  }),
  allocator_agent_recovery_factor: flag.double({
    help:
      "After a leader election, the share of known agents that must re-register before " +
      "offers resume (or --allocator_recovery_timeout passes).",
    default: 0.8,
    validate: (v) =>
      v < 0 || v > 1
        ? "Expected `--allocator_agent_recovery_factor` to be between 0 and 1"
        : undefined,
  }),
  allocator_recovery_timeout: flag.duration({
    help: "After a leader election, the longest time offers are held back while agents re-register.",
    default: "10mins",
  }),
  fair_sharing_excluded_resource_names: flag.list({
    help: "Comma-separated resource names (e.g. gpus) left out of fair sharing (DRF shares).",
  }),
  filter_gpu_resources: flag.bool({
    help:
      "Offer agents that have GPUs only to frameworks with the GPU_RESOURCES capability. " +
      "False: offer them to all frameworks.",
    default: true,
  }),
  min_allocatable_resources: flag.string({
    help:
      "Smallest resource bundles worth offering: sets separated by `|` (any set suffices), " +
      "quantities within a set by `;` (all needed), e.g. disk:1|cpus:1;mem:32;ports:1. " +
      "Ranges and sets count their items.",
    default: "cpus:0.01|mem:32",
  }),
  agent_ping_timeout: flag.duration({
    alias: "slave_ping_timeout",
    help:
      "How long an agent has to answer a ping from the master. After " +
      "--max_agent_ping_timeouts missed pings the agent is marked unreachable. Keep " +
      "timeout x count above the ZooKeeper session timeout. Between 1secs and 15mins.",
    default: "15secs",
    validate: (v) =>
      v.compare(Duration.seconds(1)) < 0 || v.compare(Duration.minutes(15)) > 0
        ? "Expected `--agent_ping_timeout` to be between 1secs and 15mins"
        : undefined,
  }),
  max_agent_ping_timeouts: flag.uint({
    alias: "max_slave_ping_timeouts",
    help: "How many pings in a row an agent may miss before it is marked unreachable.",
    default: 5,
    validate: (v) => (v < 1 ? "Expected `--max_agent_ping_timeouts` to be at least 1" : undefined),
  }),
  authorizers: flag.string({
    help:
      "Authorizer: `local` (uses --acls) or a module; with a module --acls is ignored. " +
      "Only one is supported.",
    default: "local",
  }),
  http_framework_authenticators: flag.string({
    help:
      "HTTP authenticator for schedulers: `basic` (mesos-ts has no other). Required with " +
      "--authenticate_http_frameworks, as in Mesos. Only one is supported.",
  }),
  max_operator_event_stream_subscribers: flag.uint({
    help:
      "Most simultaneous subscribers to the operator event stream; beyond it the oldest " +
      "connections are closed.",
    default: 1000,
  }),
  max_completed_frameworks: flag.uint({
    help: "How many completed frameworks the master keeps in memory.",
    default: 50,
  }),
  max_completed_tasks_per_framework: flag.uint({
    help: "How many completed tasks per framework the master keeps in memory.",
    default: 1000,
  }),
  max_unreachable_tasks_per_framework: flag.uint({
    help: "How many unreachable tasks per framework the master keeps in memory.",
    default: 1000,
  }),
  master_contender: flag.string({
    help: "Module symbol for leader election instead of --zk; needs --master_detector.",
    notYet: true,
  }),
  master_detector: flag.string({
    help: "Module symbol for finding the leader instead of --zk; needs --master_contender.",
    notYet: true,
  }),
  registry_gc_interval: flag.duration({
    help: "How often the leading master prunes old entries from the registry.",
    default: "15mins",
  }),
  registry_max_agent_age: flag.duration({
    help:
      "How long the registry remembers unreachable and gone agents (so frameworks can " +
      "learn their fate). Connected agents are always kept.",
    default: "2weeks",
  }),
  registry_max_agent_count: flag.uint({
    help: "How many unreachable and gone agents the registry remembers at most.",
    default: 102400,
  }),
  require_agent_domain: flag.bool({
    help: "Only agents that have a --domain may register.",
    default: false,
  }),
  publish_per_framework_metrics: flag.bool({
    help:
      "Publish detailed metrics for each active framework (master/frameworks/...). " +
      "Turn off with very many frameworks.",
    default: true,
  }),
  offer_constraints_re2_max_mem: flag.bytes({
    help: "Memory limit of each regular expression in a framework's offer constraints.",
    default: "4KB",
  }),
  offer_constraints_re2_max_program_size: flag.int({
    help: "Program size limit of each regular expression in a framework's offer constraints.",
    default: 100,
  }),
};

/** The master's flag schema. */
export const masterFlagSchema = defineFlags(
  { ...sharedFlags("master"), ...loggingFlags, ...masterOnlyFlags },
  (v, origin) => {
    const shared = checkSharedFlags(v, origin);
    if (shared !== undefined) return shared;
    if (v.registry !== "in_memory" && v.work_dir === undefined) {
      return "--work_dir needed for replicated log based registry";
    }
    if (v.zk === undefined) {
      if ((v.master_contender === undefined) !== (v.master_detector === undefined)) {
        return "Both --master_contender and --master_detector should be specified or omitted.";
      }
    } else {
      if (v.master_contender !== undefined || v.master_detector !== undefined) {
        return "Only one of --zk or the --master_contender/--master_detector pair should be specified.";
      }
      if (v.registry !== "in_memory" && v.quorum === undefined) {
        return "Need to specify --quorum for replicated log based registry when using ZooKeeper";
      }
    }
    return undefined;
  },
);

/** Typed master flag values. */
export type MasterFlags = FlagValues<typeof masterFlagSchema.flags>;

/** Loads the master's flags from `argv` and the environment (`MESOS_*`). */
export function loadMasterFlags(options: LoadOptions): LoadResult<typeof masterFlagSchema.flags> {
  return loadFlags(masterFlagSchema, options);
}
