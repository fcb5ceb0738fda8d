/**
 * Every flag `mesos-agent` (and `mesos-slave`) takes: the Mesos 1.12 agent
 * flags (including those Mesos only builds on Linux or with optional
 * isolators), the logging flags and the shared (libprocess-level) ones.
 * Names, defaults and aliases follow Mesos; the help text is ours.
 */
import { accessSync, constants } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { Duration } from "../common/flags/duration.js";
import { binDir } from "../common/flags/install-paths.js";
import { defineFlags, type LoadOptions, type LoadResult, loadFlags } from "../common/flags/load.js";
import { loggingFlags } from "../common/flags/logging-flags.js";
import { checkSharedFlags, sharedFlags } from "../common/flags/shared-flags.js";
import { type FlagValues, flag, type JsonValue } from "../common/flags/spec.js";
import { codecFor } from "../common/protocol/index.js";
import { secretResolverModuleError } from "../common/secrets/resolver.js";
import { parseImageGcConfig } from "./containerizer/images/provisioner.js";
import { parseAllowedDevices } from "./containerizer/isolators/cgroups-devices.js";
import { checkCapabilityFlags } from "./containerizer/isolators/linux-capabilities.js";
import { parseDefaultContainerDns } from "./containerizer/isolators/network-cni.js";
import { LOGROTATE_MODULE_NAME } from "./containerizer/logger/logrotate-settings.js";
import { FIXED_ESTIMATOR_MODULE, LOAD_QOS_MODULE } from "./oversubscription/modules.js";
import { REGISTER_RETRY_INTERVAL_MAX_MS } from "./registration.js";
import { parseVolumeGidRange } from "./volume-gid-manager.js";

const MAX_EXECUTOR_REREGISTRATION_TIMEOUT = Duration.seconds(15);
/** The longest wait between registration retries; --registration_backoff_factor may not exceed it. */
const REGISTER_RETRY_INTERVAL_MAX = Duration.milliseconds(REGISTER_RETRY_INTERVAL_MAX_MS);
/** Unix socket paths must fit in `sockaddr_un.sun_path`. */
const DOMAIN_SOCKET_MAX_PATH_LENGTH = 108;

/** Mesos' `os::temp()`: `$TMPDIR`, else `/tmp`. */
const tempPath =
  (...parts: string[]) =>
  () =>
    join(tmpdir(), ...parts);

/** `/var/run/mesos` when `/var/run` is writable, else `<tmp>/mesos/runtime` (as Mesos picks). */
function defaultRuntimeDir(): string {
  try {
    accessSync("/var/run", constants.R_OK | constants.W_OK);
    return "/var/run/mesos";
  } catch {
    return join(tmpdir(), "mesos", "runtime");
  }
}

/** Mesos uses its Linux launcher when it can (as root on Linux), else the POSIX one. */
function defaultLauncher(): string {
  return process.platform === "linux" && process.getuid?.() === 0 ? "linux" : "posix";
}

/** The error in a capabilities flag's JSON, if any. */
function capabilityFlagError(effective: unknown, bounding: unknown): string | undefined {
  const r = checkCapabilityFlags(effective, bounding);
  return r.ok ? undefined : r.error;
}

function stringValuedObject(v: JsonValue): string | undefined {
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    return "Failed to load flag 'executor_environment_variables': expected a JSON object";
  }
  return Object.values(v).every((x) => typeof x === "string")
    ? undefined
    : "`executor_environment_variables` must only contain string values";
}

const REQUIRED_AGENT_FEATURES = [
  "MULTI_ROLE",
  "HIERARCHICAL_ROLE",
  "RESERVATION_REFINEMENT",
  "AGENT_OPERATION_FEEDBACK",
  "RESOURCE_PROVIDER",
  "AGENT_DRAINING",
  "TASK_RESOURCE_LIMITS",
];

function checkAgentFeatures(v: JsonValue): string | undefined {
  const list =
    typeof v === "object" && v !== null && !Array.isArray(v) ? v.capabilities : undefined;
  const types = Array.isArray(list)
    ? list.map((c) => (typeof c === "object" && c !== null && !Array.isArray(c) ? c.type : null))
    : [];
  return REQUIRED_AGENT_FEATURES.every((t) => types.includes(t))
    ? undefined
    : "At least the following agent features need to be enabled: MULTI_ROLE, HIERARCHICAL_ROLE, " +
        "RESERVATION_REFINEMENT, AGENT_OPERATION_FEEDBACK, RESOURCE_PROVIDER, AGENT_DRAINING, " +
        "and TASK_RESOURCE_LIMITS";
}

const oneOf =
  (allowed: readonly string[], message: (v: string) => string) =>
  (v: string): string | undefined =>
    allowed.includes(v) ? undefined : message(v);

/** Flags of the agent core: identity, resources, executors, recovery, GC. */
const agentCoreFlags = {
  master: flag.pathOrValue({
    help:
      "The master to register with: host:port, zk://host1:port1,host2:port2,.../path, " +
      "zk://user:password@host1:port1,.../path, or file:///path holding one of those. " +
      "Required unless --master_detector is given.",
  }),
  work_dir: flag.string({
    help:
      "Directory for executor sandboxes and the agent's checkpointed state. Avoid " +
      "directories the system cleans, such as /tmp. Example: /var/lib/mesos/agent.",
    required: true,
  }),
  runtime_dir: flag.string({
    help:
      "Directory for runtime state that must survive an agent crash but not a reboot " +
      "(it is cleared on reboot).",
    default: defaultRuntimeDir,
    docDefault: "/var/run/mesos, or <tmp>/mesos/runtime when /var/run is not writable",
    notYet: true,
  }),
  resources: flag.string({
    help:
      "Total resources this agent offers, as name(role):value;... (e.g. " +
      "cpus:4;mem:8192;disk:(*):20000;ports:[31000-32000]) or a JSON array of Resource " +
      "objects (inline or file://). Unset: detected from the machine.",
  }),
  default_role: flag.string({
    help: "Role given to resources without one, in --resources or detected.",
    default: "*",
  }),
  attributes: flag.string({
    help: "Attributes of this agent, as key:value;key:value (e.g. rack:2;os:ubuntu).",
  }),
  isolation: flag.string({
    help:
      "Comma-separated isolators for the Mesos containerizer, e.g. posix/cpu,posix/mem, " +
      "cgroups/cpu,cgroups/mem, filesystem/linux, network/cni, or a module. Each at most once.",
    default: "posix/cpu,posix/mem",
    // Mesos' containerizer refuses a repeated isolator before it looks at any.
    validate: (v) => {
      const tokens = v.split(",").filter((t) => t !== "");
      return new Set(tokens).size === tokens.length
        ? undefined
        : "Failed to create a containerizer: Duplicate entries found in --isolation flag " +
            `'[ ${tokens.join(", ")} ]'`;
    },
  }),
  launcher: flag.string({
    help: "Process launcher of the Mesos containerizer: `linux` (cgroups, namespaces) or `posix`.",
    default: defaultLauncher,
    docDefault: "linux when run as root on Linux, else posix",
  }),
  launcher_dir: flag.string({
    help:
      "Directory holding mesos-executor, mesos-default-executor and the other programs " +
      "the agent starts.",
    default: binDir,
    docDefault: "<mesos-ts>/bin (found at run time)",
  }),
  containerizers: flag.string({
    help: "Comma-separated containerizers to use, tried in order: `mesos`, `docker`.",
    default: "mesos",
  }),
  switch_user: flag.bool({
    help:
      "Run each task as the user its framework names (needs setuid rights and that user " +
      "on this host). False: run tasks as the agent's own user.",
    default: true,
  }),
  frameworks_home: flag.string({
    help: "Directory put in front of relative executor URIs.",
    default: "",
  }),
  hadoop_home: flag.string({
    help:
      "Hadoop installation whose bin/hadoop fetches URIs of other schemes (hdfs://, s3://, " +
      "...). Unset: HADOOP_HOME from the environment, or hadoop on PATH.",
  }),
  executor_registration_timeout: flag.duration({
    help: "How long a new executor has to subscribe before the agent kills it as hung.",
    default: "1mins",
  }),
  executor_launch_concurrency: flag.uint({
    help:
      "Beyond Mesos: at most this many command executors start at a time; the others wait " +
      "their turn. A launch storm is CPU-bound, and executors starting all at once each " +
      "take longer and all finish late. 0: no limit (as Mesos).",
    default: () => 2 * availableParallelism(),
    docDefault: "2 x the number of CPUs",
  }),
  executor_pool_size: flag.uint({
    help:
      "Beyond Mesos: how many idle command executors the agent keeps started (from its first " +
      "command task on), so a command task without user switch or isolation starts without " +
      "waiting for Node to boot (~60 ms instead of ~150-250 ms to TASK_RUNNING). Each costs " +
      "~45 MiB RSS (~10 MiB PSS) charged to no container. A task whose executor environment " +
      "sets a variable read only at process start (LD_*, NODE_*, OPENSSL_*, ...) gets an " +
      "executor of its own. 0: none (as Mesos).",
    default: 1,
  }),
  command_executors_per_process: flag.uint({
    help:
      "Beyond Mesos: how many command executors one Node process may host. Above 1, command " +
      "tasks without user switch, isolation shim, cgroups or image share executor hosts: each " +
      "keeps its own executor id, sandbox, v1 API connection and task process, but Node's " +
      "start-up (~75 ms of CPU) is paid once per host. 1: one process per executor (as Mesos).",
    default: 16,
  }),
  executor_reregistration_timeout: flag.duration({
    help:
      "After an agent restart, how long executors have to re-subscribe before they count " +
      "as gone. At most 15secs.",
    default: "2secs",
    validate: (v) =>
      v.compare(MAX_EXECUTOR_REREGISTRATION_TIMEOUT) > 0
        ? `Expected \`--executor_reregistration_timeout\` to be not more than ${MAX_EXECUTOR_REREGISTRATION_TIMEOUT}`
        : undefined,
  }),
  executor_reregistration_retry_interval: flag.duration({
    help:
      "During recovery, resend the reconnect message to PID-based (v0) executors at this " +
      "interval. Unset: send it once.",
    notYet: true,
  }),
  executor_shutdown_grace_period: flag.duration({
    help:
      "Default time an executor gets between the shutdown request and being killed; " +
      "ExecutorInfo.shutdown_grace_period overrides it.",
    default: "5secs",
  }),
  executor_environment_variables: flag.json({
    help:
      "Environment for executors and their tasks, as a JSON object of strings, e.g. " +
      '{"PATH":"/bin:/usr/bin"}. Unset: executors get a minimal environment.',
    validate: stringValuedObject,
  }),
  http_command_executor: flag.bool({
    help: "The command executor uses the v1 HTTP executor API instead of the v0 driver.",
    default: false,
  }),
  http_heartbeat_interval: flag.duration({
    help:
      "Interval of heartbeats on the agent's streaming responses " +
      "(LAUNCH_NESTED_CONTAINER_SESSION, ATTACH_CONTAINER_OUTPUT).",
    default: "30secs",
  }),
  max_completed_executors_per_framework: flag.uint({
    help: "How many completed executors per framework the agent keeps in memory.",
    default: 150,
  }),
  sandbox_directory: flag.string({
    help:
      "Absolute path inside containers with their own root filesystem (a container image, " +
      "a Docker container) where the sandbox is mounted; MESOS_SANDBOX says the same there.",
    default: "/mnt/mesos/sandbox",
    // Relative, the mount point and MESOS_SANDBOX would depend on the working directory;
    // at '/', the sandbox would hide the whole image.
    validate: (v) =>
      !v.startsWith("/")
        ? "Expected `--sandbox_directory` to be an absolute path"
        : v.replace(/\/+/g, "/") === "/"
          ? "Expected `--sandbox_directory` to be a directory below '/'"
          : undefined,
  }),
  gc_delay: flag.duration({
    help:
      "Longest time a finished sandbox is kept before it is removed (e.g. 3days, 2weeks); " +
      "shorter when the disk fills up.",
    default: "1weeks",
  }),
  gc_disk_headroom: flag.double({
    help:
      "Disk headroom (0.0-1.0) for garbage collection: sandboxes are kept for " +
      "gc_delay x max(0, 1 - gc_disk_headroom - disk usage), checked every --disk_watch_interval.",
    default: 0.1,
    validate: (v) =>
      v < 0 || v > 1
        ? "Invalid value for --gc_disk_headroom. Must be between 0.0 and 1.0"
        : undefined,
  }),
  gc_non_executor_container_sandboxes: flag.bool({
    help:
      "Also garbage-collect the sandboxes of containers started with " +
      "LAUNCH_(NESTED_)CONTAINER once they end.",
    default: false,
  }),
  disk_watch_interval: flag.duration({
    help: "How often the agent checks disk usage, which drives sandbox garbage collection.",
    default: "1mins",
  }),
  recover: flag.string({
    help:
      "On restart: `reconnect` to executors still running, or `cleanup` to kill them and " +
      "exit (for incompatible upgrades).",
    default: "reconnect",
    validate: oneOf(
      ["reconnect", "cleanup"],
      (v) =>
        `Unknown option for 'recover' flag ${v}. Please run the agent with '--help' to see the valid options`,
    ),
  }),
  recovery_timeout: flag.duration({
    help:
      "Longest time the agent may take to recover; executors waiting longer to reconnect " +
      "end themselves.",
    default: "15mins",
  }),
  strict: flag.bool({
    help:
      "Treat every recovery error as fatal. False: skip what cannot be recovered and keep " +
      "the rest.",
    default: true,
  }),
  reconfiguration_policy: flag.string({
    help:
      "Which changes to the agent's resources, attributes and domain are allowed on " +
      "restart: `equal` (none) or `additive` (only additions).",
    default: "equal",
    validate: oneOf(
      ["equal", "additive"],
      (v) => `Unknown option for 'reconfiguration_policy' flag ${v}`,
    ),
  }),
  registration_backoff_factor: flag.duration({
    help:
      "The first (re-)registration attempt waits a random time in [0, factor]; each retry " +
      "doubles the bound, up to 1mins. At most 1mins.",
    default: "1secs",
    validate: (v) =>
      v.compare(REGISTER_RETRY_INTERVAL_MAX) > 0
        ? `Invalid value '${v}' for --registration_backoff_factor: Must be less than ${REGISTER_RETRY_INTERVAL_MAX}`
        : undefined,
  }),
  fetcher_cache_size: flag.bytes({
    help: "Size of the fetcher's URI cache.",
    default: "2GB",
  }),
  fetcher_cache_dir: flag.string({
    help:
      "Directory of the fetcher's cache, cleared when the agent starts. A separate volume " +
      "is best.",
    default: tempPath("mesos", "fetch"),
    docDefault: "<tmp>/mesos/fetch",
  }),
  fetcher_stall_timeout: flag.duration({
    help: "Abort a download that stays below one byte per second for this long (not HDFS).",
    default: "1mins",
  }),
  agent_features: flag.json({
    help:
      "JSON list of agent capabilities to advertise, " +
      '{"capabilities":[{"type":"MULTI_ROLE"},...]}. MULTI_ROLE, HIERARCHICAL_ROLE, ' +
      "RESERVATION_REFINEMENT, AGENT_OPERATION_FEEDBACK, RESOURCE_PROVIDER, " +
      "AGENT_DRAINING and TASK_RESOURCE_LIMITS are always required.",
    validate: checkAgentFeatures,
    notYet: true,
  }),
  container_disk_watch_interval: flag.duration({
    help: "How often the disk/du and disk/xfs isolators check containers' disk use.",
    default: "15secs",
  }),
  enforce_container_disk_quota: flag.bool({
    help: "Kill containers that use more disk than they were given (disk/du, disk/xfs).",
    default: false,
  }),
};

/** Authentication and authorization towards and on the agent. */
const agentAuthFlags = {
  authenticatee: flag.string({
    help:
      "How the agent authenticates to the master (with --credential): `crammd5`, the only " +
      "authenticatee built in (mesos-ts cannot load Mesos modules).",
    default: "crammd5",
    validate: (v) =>
      v === "crammd5"
        ? undefined
        : `Could not create authenticatee module '${v}': mesos-ts has only the built-in 'crammd5'`,
  }),
  authentication_backoff_factor: flag.duration({
    help:
      "Authentication to the master times out after a random time in " +
      "[min, min + factor x 2^n], n being the failed attempts so far.",
    default: "1secs",
  }),
  authentication_timeout_min: flag.duration({
    help: "Shortest wait before retrying authentication with the master.",
    default: "5secs",
  }),
  authentication_timeout_max: flag.duration({
    help: "Longest wait before retrying authentication with the master.",
    default: "1mins",
  }),
  credential: flag.path({
    help:
      'JSON file with the credential the agent presents to the master: {"principal":"...",' +
      '"secret":"..."}. May be written as file:///path.',
  }),
  http_credentials: flag.path({
    help: "JSON file of credentials for the agent's own HTTP endpoints.",
  }),
  authorizer: flag.string({
    help:
      "Authorizer of the agent's HTTP endpoints: `local`, which applies --acls. Mesos also " +
      "takes an authorizer module here; mesos-ts cannot load modules, so any other name " +
      "stops the agent at start.",
    default: "local",
    validate: (v) =>
      v === "local"
        ? undefined
        : `Could not create '${v}' authorizer: only the built-in 'local' authorizer exists ` +
          "in mesos-ts (authorizer modules cannot be loaded)",
  }),
  authenticate_http_executors: flag.bool({
    help:
      "Executors must present the token the agent gave them to use the executor API " +
      "(needs --jwt_secret_key).",
    default: false,
  }),
  jwt_secret_key: flag.path({
    alias: "executor_secret_key",
    help:
      "File holding the key that signs executor tokens (HS256 JWTs given to every executor as " +
      "MESOS_EXECUTOR_AUTHENTICATION_TOKEN).",
  }),
  executor_secret_generator: flag.string({
    help:
      "Mesos: the name of a module that generates executor secrets. mesos-ts cannot load " +
      "C++ modules, so giving it stops the agent at start; executor tokens come from " +
      "--jwt_secret_key.",
    validate: (v) =>
      `--executor_secret_generator='${v}' names a Mesos module, and mesos-ts cannot load ` +
      "modules; remove it and give --jwt_secret_key (the built-in executor token generator)",
  }),
  http_executor_domain_sockets: flag.bool({
    help: "Serve the executor API on a Unix socket as well as TCP.",
    default: false,
    notYet: true,
  }),
  domain_socket_location: flag.string({
    help:
      "Path of that Unix socket (or systemd:<name> for one passed by systemd); shorter " +
      "than 108 characters. Unset: <runtime_dir>/agent.sock.",
    notYet: true,
    validate: (v) =>
      v.length >= DOMAIN_SOCKET_MAX_PATH_LENGTH
        ? "Domain socket location cannot be longer than 108 characters."
        : undefined,
  }),
  secret_resolver: flag.string({
    help:
      "Mesos: the name of a secret resolver module (e.g. one that looks REFERENCE secrets " +
      "up in a vault). mesos-ts cannot load modules, so giving it stops the agent at start; " +
      "unset, the default resolver resolves VALUE secrets (docs/secrets.md).",
    validate: (v) => secretResolverModuleError(v),
  }),
  ip6: flag.string({
    help:
      "IPv6 address to advertise for containers on the host network (not listened on). " +
      "Cannot be combined with --ip6_discovery_command.",
  }),
  ip6_discovery_command: flag.string({
    help: "Program whose output is the IPv6 address. Cannot be combined with --ip6.",
  }),
  master_detector: flag.string({
    help: "Module symbol for finding the master instead of --master.",
    notYet: true,
  }),
};

/** Container features Mesos builds on Linux (cgroups, namespaces, images, CNI, Docker, ...). */
const agentContainerFlags = {
  image_providers: flag.string({
    help: "Comma-separated container image types to support: APPC, DOCKER.",
  }),
  image_provisioner_backend: flag.string({
    help: "How a container root filesystem is built from an image: aufs, bind, copy or overlay.",
  }),
  image_gc_config: flag.json({
    help:
      "JSON settings for automatic image garbage collection (ImageGcConfig: image_disk_headroom, " +
      "image_disk_watch_interval, excluded_images). Unset: images are pruned only by PRUNE_IMAGES.",
    validate: (v) => {
      const parsed = parseImageGcConfig(v);
      return "error" in parsed ? parsed.error : undefined;
    },
  }),
  appc_simple_discovery_uri_prefix: flag.string({
    help: "URI prefix for simple discovery of appc images (http://, https://, hdfs://...).",
    default: "http://",
    notYet: true,
  }),
  appc_store_dir: flag.string({
    help: "Directory where appc images are stored.",
    default: tempPath("mesos", "store", "appc"),
    docDefault: "<tmp>/mesos/store/appc",
    notYet: true,
  }),
  docker_registry: flag.string({
    help:
      "Where the Mesos containerizer pulls Docker images: a registry URL, or a directory " +
      "or hdfs:// URI holding `docker save` archives.",
    default: "https://registry-1.docker.io",
  }),
  docker_store_dir: flag.string({
    help: "Directory where Docker images for the Mesos containerizer are stored.",
    default: tempPath("mesos", "store", "docker"),
    docDefault: "<tmp>/mesos/store/docker",
  }),
  docker_config: flag.json({
    help: "Docker config (as in ~/.docker/config.json) for pulling images: a path or JSON.",
    notYet: true,
  }),
  docker_ignore_runtime: flag.bool({
    help:
      "Ignore the runtime settings of Docker images (Entrypoint, Cmd, Env, WorkingDir): " +
      "containers get only the image's root filesystem.",
    default: false,
  }),
  docker_volume_checkpoint_dir: flag.string({
    help: "Where the docker/volume isolator records the volumes each container uses.",
    default: "/var/run/mesos/isolators/docker/volume",
    notYet: true,
  }),
  docker_volume_chown: flag.bool({
    help: "Give the mount point of a docker volume to the container user (not recursive).",
    default: false,
    notYet: true,
  }),
  docker: flag.string({
    help: "Path of the docker program, for the Docker containerizer.",
    default: "docker",
  }),
  docker_socket: flag.string({
    help: "Docker daemon socket the agent and executors use.",
    default: "/var/run/docker.sock",
  }),
  docker_remove_delay: flag.duration({
    help: "How long after a Docker container ends it is removed (docker rm).",
    default: "6hrs",
  }),
  docker_stop_timeout: flag.duration({
    help: "Deprecated (use the task's kill policy): time docker waits between stop and kill.",
    default: "0ns",
  }),
  docker_kill_orphans: flag.bool({
    help:
      "Kill Docker containers this agent does not know. Turn off when several agents " +
      "share one host.",
    default: true,
  }),
  docker_mesos_image: flag.string({
    help: "Docker image the agent itself runs in; executors then run in containers too.",
    notYet: true,
  }),
  default_container_info: flag.json({
    help:
      "ContainerInfo JSON given to every executor launched without one, e.g. " +
      '{"type":"MESOS","volumes":[{"host_path":"tmp","container_path":"/tmp","mode":"RW"}]} ' +
      "(a private /tmp in the sandbox, with --isolation=filesystem/linux).",
    validate: (v) => {
      const decoded = codecFor("mesos.v1.ContainerInfo").decodeJson(v);
      return decoded.ok
        ? undefined
        : `Failed to load flag 'default_container_info': ${decoded.error.message}`;
    },
  }),
  default_container_dns: flag.json({
    help:
      "DNS settings JSON (ContainerDNSInfo) for containers on CNI networks whose plugin " +
      'names no nameservers (network/cni), e.g. {"mesos":[{"network_mode":"CNI",' +
      '"network_name":"net1","dns":{"nameservers":["8.8.8.8"]}}]}. Its "docker" part is ' +
      "checked but not applied yet.",
    validate: (v) => {
      const checked = parseDefaultContainerDns(v);
      return checked.ok ? undefined : checked.error;
    },
  }),
  default_container_shm_size: flag.bytes({
    help:
      "Size of /dev/shm (e.g. 64MB) for containers with a /dev/shm of their own that do not " +
      "set LinuxInfo.shm_size (namespaces/ipc isolator). Unset: the kernel's default, half of RAM.",
  }),
  disallow_sharing_agent_ipc_namespace: flag.bool({
    help:
      "Refuse top-level containers that ask to share the agent's IPC namespace and /dev/shm " +
      "(LinuxInfo.ipc_mode SHARE_PARENT; namespaces/ipc isolator).",
    default: false,
  }),
  disallow_sharing_agent_pid_namespace: flag.bool({
    help:
      "Refuse top-level containers that ask to share the agent's pid namespace " +
      "(LinuxInfo.share_pid_namespace; namespaces/pid isolator).",
    default: false,
  }),
  cgroups_hierarchy: flag.string({
    help: "Mount point of the cgroups hierarchies.",
    default: "/sys/fs/cgroup",
  }),
  cgroups_root: flag.string({ help: "Name of the root cgroup.", default: "mesos" }),
  cgroups_destroy_timeout: flag.duration({
    help: "How long destroying a container's cgroups may take before it counts as failed.",
    default: "1mins",
  }),
  cgroups_enable_cfs: flag.bool({
    help: "Hard-limit CPU use with CFS bandwidth control.",
    default: false,
  }),
  cgroups_limit_swap: flag.bool({
    help: "Limit memory plus swap, not only memory (cgroups v1).",
    default: false,
  }),
  cgroups_cpu_enable_pids_and_tids_count: flag.bool({
    help:
      "Count the processes and threads of each container from its cgroup " +
      "(cgroups/cpu; the processes and threads statistics).",
    default: false,
  }),
  cgroups_net_cls_primary_handle: flag.string({
    help: "Non-zero 16-bit primary handle (0xAAAA) for the net_cls cgroup.",
    notYet: true,
  }),
  cgroups_net_cls_secondary_handles: flag.string({
    help: "Range 0xAAAA,0xBBBB of secondary net_cls handles.",
    notYet: true,
  }),
  allowed_devices: flag.json({
    help:
      "Devices containers may use besides the default ones (cgroups/devices), as JSON: " +
      '{"allowed_devices":[{"device":{"path":"/dev/fuse"},"access":{"read":true,"write":true}}]}.',
    validate: (v) => {
      const r = parseAllowedDevices(v);
      return r.ok ? undefined : r.error;
    },
  }),
  agent_subsystems: flag.string({
    alias: "slave_subsystems",
    help: "Comma-separated cgroup subsystems to run the agent itself in (e.g. memory,cpuacct).",
    notYet: true,
  }),
  host_path_volume_force_creation: flag.string({
    help:
      "Colon-separated directories under which a missing host path of a HOST_PATH volume is " +
      "created (as a directory) instead of failing the launch.",
  }),
  volume_gid_range: flag.string({
    help:
      "Range of group ids (e.g. [10000-20000]). A task running as a non-root user that " +
      "uses a persistent volume or a PARENT SANDBOX_PATH volume gets the volume owned by a " +
      "gid from this range (setgid bit, group-writable) and runs with that gid as a " +
      "supplementary group. Needs the agent to run as root.",
    validate: (v) => {
      const r = parseVolumeGidRange(v);
      return r.ok ? undefined : r.error;
    },
  }),
  nvidia_gpu_devices: flag.uintList({
    help: "Comma-separated NVIDIA GPU numbers (as nvidia-smi lists them) to offer as gpus.",
    notYet: true,
  }),
  perf_events: flag.string({
    help: "Comma-separated perf events to sample per container (perf_event isolator).",
    notYet: true,
  }),
  perf_interval: flag.duration({
    help: "Interval between perf samples.",
    default: "1mins",
    notYet: true,
  }),
  perf_duration: flag.duration({
    help: "Length of one perf sample; shorter than --perf_interval.",
    default: "10secs",
    notYet: true,
  }),
  revocable_cpu_low_priority: flag.bool({
    help:
      "Run containers with revocable cpus at a lower priority: cgroups/cpu gives them 10 " +
      "cpu.shares per cpu instead of 1024 (cgroup v2: cpu.weight 1 per cpu).",
    default: true,
  }),
  systemd_enable_support: flag.bool({
    help: "Work with systemd, e.g. keep executors alive across agent restarts.",
    default: true,
    notYet: true,
  }),
  systemd_runtime_directory: flag.string({
    help: "systemd's runtime directory.",
    default: "/run/systemd/system",
    notYet: true,
  }),
  effective_capabilities: flag.json({
    alias: "allowed_capabilities",
    help:
      "Linux capabilities given to tasks that request none (linux/capabilities isolator), " +
      'e.g. {"capabilities":["NET_RAW","NET_BIND_SERVICE"]}. Unset: all of root\'s.',
    validate: (v) => capabilityFlagError(v, undefined),
  }),
  bounding_capabilities: flag.json({
    help:
      "Most Linux capabilities a task may have or request (linux/capabilities isolator; " +
      "same JSON as --effective_capabilities). Unset: all.",
    validate: (v) => capabilityFlagError(undefined, v),
  }),
  network_cni_plugins_dir: flag.string({
    help: "Search path (`:` list) of CNI plugin programs (network/cni isolator).",
  }),
  network_cni_config_dir: flag.string({
    help: "Directory of CNI network configuration files (network/cni isolator).",
  }),
  network_cni_root_dir_persist: flag.bool({
    help:
      "Keep the CNI isolator's container records under --work_dir (survive a reboot) " +
      "instead of --runtime_dir.",
    default: false,
  }),
  network_cni_metrics: flag.bool({
    help:
      "Report the interface counters (net_rx_*, net_tx_*) of containers on CNI networks " +
      "in their statistics (network/cni isolator).",
    default: true,
  }),
  container_logger: flag.string({
    help:
      "Module that handles container stdout/stderr. Unset: files in the sandbox. mesos-ts has " +
      `one built in, ${LOGROTATE_MODULE_NAME} (sandbox files rotated with logrotate), set up ` +
      "by its entry in --modules or --modules_dir as in Mesos; see docs/container-logger.md.",
    validate: (v) =>
      v === LOGROTATE_MODULE_NAME
        ? undefined
        : `--container_logger='${v}' names a Mesos module mesos-ts does not have; the only ` +
          `container logger built in is ${LOGROTATE_MODULE_NAME}`,
  }),
  resource_provider_config_dir: flag.string({
    help: "Directory of local resource provider configurations (JSON ResourceProviderInfo).",
    notYet: true,
  }),
  csi_plugin_config_dir: flag.string({
    help: "Directory of CSI plugin configurations (JSON CSIPluginInfo).",
    notYet: true,
  }),
  disk_profile_adaptor: flag.string({
    help: "Module that maps disk profiles to CSI volume parameters.",
    notYet: true,
  }),
  resource_estimator: flag.string({
    help:
      "Resource estimator for oversubscription. Unset: none (no revocable resources). mesos-ts " +
      `has ${FIXED_ESTIMATOR_MODULE} built in, set up by its entry in --modules or ` +
      "--modules_dir as in Mesos; see docs/oversubscription.md.",
  }),
  qos_controller: flag.string({
    help:
      "QoS controller for oversubscription. Unset: none (revocable executors are never " +
      `killed). mesos-ts has ${LOAD_QOS_MODULE} built in, set up by its entry in --modules or ` +
      "--modules_dir as in Mesos; see docs/oversubscription.md.",
  }),
  qos_correction_interval_min: flag.duration({
    help:
      "Shortest interval between QoS corrections (mesos-ts waits at least 100ms between two " +
      "rounds).",
    default: "0ns",
  }),
  oversubscribed_resources_interval: flag.duration({
    help:
      "How often the agent asks its resource estimator for an estimate; the master hears of " +
      "it when it changed.",
    default: "15secs",
  }),
  xfs_project_range: flag.string({
    help: "Range of XFS project ids for directory quotas (disk/xfs).",
    default: "[5000-10000]",
    notYet: true,
  }),
  xfs_kill_containers: flag.bool({
    help: "Kill containers that exceed their XFS disk quota.",
    default: false,
    notYet: true,
  }),
  xfs_quota_headroom: flag.bytes({
    help: "Headroom of the hard XFS quota.",
    default: "10MB",
    notYet: true,
  }),
  seccomp_config_dir: flag.string({
    help: "Directory of seccomp profiles (linux/seccomp).",
    notYet: true,
  }),
  seccomp_profile_name: flag.string({
    help: "Default seccomp profile, relative to --seccomp_config_dir.",
    notYet: true,
  }),
};

/** The network port-mapping and network/ports isolators (optional Mesos builds). */
const agentNetworkIsolatorFlags = {
  ephemeral_ports_per_container: flag.uint({
    help: "Ephemeral ports given to each container (a power of 2; network/port_mapping).",
    default: 1024,
    notYet: true,
  }),
  eth0_name: flag.string({ help: "Public network interface. Unset: guessed.", notYet: true }),
  lo_name: flag.string({ help: "Loopback interface. Unset: guessed.", notYet: true }),
  egress_rate_limit_per_container: flag.bytes({
    help: "Egress limit per container, bytes per second. Unset or 0: none.",
    notYet: true,
  }),
  egress_rate_per_cpu: flag.string({
    help: "Egress limit per whole CPU, bytes per second, or `auto`.",
    notYet: true,
  }),
  minimum_egress_rate_limit: flag.bytes({
    help: "Lowest egress limit per container.",
    notYet: true,
  }),
  maximum_egress_rate_limit: flag.bytes({
    help: "Highest egress limit per container.",
    notYet: true,
  }),
  egress_ceil_limit: flag.bytes({ help: "Egress burst ceiling rate.", notYet: true }),
  egress_burst: flag.bytes({ help: "Bytes that may be sent at the ceiling rate.", notYet: true }),
  egress_unique_flow_per_container: flag.bool({
    help: "Give each container its own egress flow.",
    default: false,
    notYet: true,
  }),
  egress_flow_classifier_parent: flag.string({
    help: "Where the egress flow classifier qdisc is installed.",
    default: "root",
    notYet: true,
  }),
  ingress_rate_limit_per_container: flag.bytes({
    help: "Ingress limit per container, bytes per second. Unset or 0: none.",
    notYet: true,
  }),
  ingress_rate_per_cpu: flag.string({
    help: "Ingress limit per whole CPU, bytes per second, or `auto`.",
    notYet: true,
  }),
  minimum_ingress_rate_limit: flag.bytes({
    help: "Lowest ingress limit per container.",
    notYet: true,
  }),
  maximum_ingress_rate_limit: flag.bytes({
    help: "Highest ingress limit per container.",
    notYet: true,
  }),
  ingress_ceil_limit: flag.bytes({ help: "Ingress burst ceiling rate.", notYet: true }),
  ingress_burst: flag.bytes({
    help: "Bytes that may be received at the ceiling rate.",
    notYet: true,
  }),
  ingress_isolate_existing_containers: flag.bool({
    help: "Also limit ingress of containers started before ingress isolation was on.",
    default: true,
    notYet: true,
  }),
  network_link_speed: flag.bytes({
    help: "Link speed in bytes per second, for the `auto` rates. Unset: detected.",
    notYet: true,
  }),
  network_enable_socket_statistics_summary: flag.bool({
    help: "Collect a socket statistics summary per container.",
    default: false,
    notYet: true,
  }),
  network_enable_socket_statistics_details: flag.bool({
    help: "Collect detailed socket statistics (e.g. TCP RTT) per container.",
    default: false,
    notYet: true,
  }),
  network_enable_snmp_statistics: flag.bool({
    help: "Collect SNMP statistics per container.",
    default: false,
    notYet: true,
  }),
  network_enable_rate_statistics: flag.bool({
    help: "Collect rate statistics per container.",
    default: false,
    notYet: true,
  }),
  network_rate_statistics_window: flag.duration({
    help: "Window of the rate statistics time series.",
    notYet: true,
  }),
  network_rate_statistics_interval: flag.duration({
    help: "Sampling interval of the rate statistics.",
    notYet: true,
  }),
  container_ports_watch_interval: flag.duration({
    help: "How often network/ports checks for containers listening on ports they were not given.",
    default: "30secs",
  }),
  check_agent_port_range_only: flag.bool({
    help:
      "network/ports only checks ports inside the agent's `ports` resource: tasks may listen " +
      "on other ports. Not with --container_ports_isolated_range.",
    default: false,
  }),
  enforce_container_ports: flag.bool({
    help: "Kill containers listening on ports they were not given (network/ports); else log them.",
    default: false,
  }),
  container_ports_isolated_range: flag.string({
    help:
      "network/ports only checks ports in this range (e.g. [0-35000]). Not with " +
      "--check_agent_port_range_only.",
  }),
};

/** The agent's flag schema. */
export const agentFlagSchema = defineFlags(
  {
    ...sharedFlags("agent"),
    ...loggingFlags,
    ...agentCoreFlags,
    ...agentAuthFlags,
    ...agentContainerFlags,
    ...agentNetworkIsolatorFlags,
  },
  (v, origin) => {
    if (v.master === undefined && v.master_detector === undefined) {
      return "Missing required option `--master` or `--master_detector`";
    }
    if (v.master !== undefined && v.master_detector !== undefined) {
      return "Only one of `--master` or `--master_detector` should be specified";
    }
    const shared = checkSharedFlags(v, origin);
    if (shared !== undefined) return shared;
    if (v.ip6 !== undefined && v.ip6_discovery_command !== undefined) {
      return "Only one of `--ip6` or `--ip6_discovery_command` should be specified";
    }
    return undefined;
  },
);

/** Typed agent flag values. */
export type AgentFlags = FlagValues<typeof agentFlagSchema.flags>;

/** Loads the agent's flags from `argv` and the environment (`MESOS_*`). */
export function loadAgentFlags(options: LoadOptions): LoadResult<typeof agentFlagSchema.flags> {
  return loadFlags(agentFlagSchema, options);
}
