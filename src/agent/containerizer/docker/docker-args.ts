/**
 * The Docker containerizer's command lines, as pure functions: container
 * names, `docker run` options from a ContainerInfo and CommandInfo (the same
 * translation Mesos makes: resources to `--cpu-shares`/`--memory`, the
 * sandbox mapped into the container, `MESOS_SANDBOX`, network modes, port
 * mappings, parameters, entrypoint for shell commands), the argv of the
 * other subcommands, and parsers for what `docker inspect` and `docker ps`
 * print. Nothing here runs a process; see docker-cli.ts.
 */
import type {
  CommandInfo,
  ContainerInfo,
  Resource,
} from "../../../common/protocol/generated/mesos-v1.js";

/** Every container the agent starts is named `mesos-<container id>`. */
export const DOCKER_NAME_PREFIX = "mesos-";

/** Mesos' CPU_SHARES_PER_CPU and MIN_CPU_SHARES. */
const CPU_SHARES_PER_CPU = 1024;
const MIN_CPU_SHARES = 2;
/** Mesos' MIN_MEMORY (32 MB). */
const MIN_MEMORY_BYTES = 32 * 1024 * 1024;
/** CFS period and minimum quota, in microseconds (100 ms, 1 ms). */
const CFS_PERIOD_US = 100_000;
const MIN_CFS_QUOTA_US = 1_000;
const MB = 1024 * 1024;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** `mesos-<container id>`. */
export function dockerContainerName(containerId: string): string {
  return `${DOCKER_NAME_PREFIX}${containerId}`;
}

/**
 * The Mesos container id a Docker container name stands for, or undefined
 * when the container was not started by an agent. Accepts a leading `/`
 * (as `docker inspect` prints names) and the older
 * `mesos-<agent id>.<container id>[.executor]` form; the id must be a UUID.
 */
export function containerIdOfName(name: string): string | undefined {
  let rest = name.startsWith("/") ? name.slice(1) : name;
  if (!rest.startsWith(DOCKER_NAME_PREFIX)) return undefined;
  rest = rest.slice(DOCKER_NAME_PREFIX.length);
  let id: string | undefined = rest;
  if (rest.includes(".")) {
    const parts = rest.split(".");
    id = parts.length === 2 || parts.length === 3 ? parts[1] : undefined;
  }
  return id !== undefined && UUID.test(id) ? id : undefined;
}

/** What `docker run` is given (before it becomes an argv). */
export interface DockerRunOptions {
  privileged: boolean;
  cpuShares?: number;
  cpuQuota?: number;
  memoryReservation?: number;
  memory?: number;
  /** Sorted by name when rendered. */
  env: Record<string, string>;
  volumes: string[];
  volumeDriver?: string;
  network?: string;
  hostname?: string;
  portMappings: { hostPort: number; containerPort: number; protocol?: string }[];
  entrypoint?: string;
  name: string;
  /** `--key=value` from DockerInfo.parameters. */
  additionalOptions: string[];
  image: string;
  arguments: string[];
}

/** Inputs of `dockerRunOptions`. */
export interface DockerRunInput {
  container: ContainerInfo;
  command: CommandInfo;
  /** The Docker container's name (`mesos-<id>`). */
  name: string;
  /** The sandbox on the host. */
  sandboxDirectory: string;
  /** Where the sandbox appears inside the container (`--sandbox_directory`). */
  mappedDirectory: string;
  /** Resources the container is given (cpus, mem, ports); undefined: no limits. */
  resources?: readonly Resource[] | undefined;
  /** TaskInfo.limits (cpus, mem). */
  limits?: Readonly<Record<string, { value: number }>> | undefined;
  /** `--cgroups_enable_cfs`: hard-cap CPU at the cpus resource. */
  enableCfsQuota: boolean;
  /** Variables that win over the command's own (the executor's or the task's environment). */
  env?: Readonly<Record<string, string>> | undefined;
}

export type Result<T> = { ok: true; value: T } | { ok: false; error: string };

function scalar(resources: readonly Resource[], name: string): number | undefined {
  let total: number | undefined;
  for (const r of resources) {
    if (r.name === name && r.scalar !== undefined) total = (total ?? 0) + r.scalar.value;
  }
  return total;
}

function portRanges(resources: readonly Resource[]): { begin: number; end: number }[] {
  const out: { begin: number; end: number }[] = [];
  for (const r of resources) {
    if (r.name !== "ports") continue;
    for (const range of r.ranges?.range ?? []) out.push({ begin: range.begin, end: range.end });
  }
  return out;
}

function isAbsolute(path: string): boolean {
  return path.startsWith("/");
}

function joinPath(base: string, rest: string): string {
  return `${base.replace(/\/+$/, "")}/${rest.replace(/^\/+/, "")}`;
}

/**
 * Translates a DOCKER ContainerInfo and a CommandInfo into `docker run`
 * options, or a one-line error naming what is wrong (the same checks Mesos
 * makes: one network for USER mode, no hostname with host networking, port
 * mappings only on bridge/user networks and within the port resources, ...).
 */
export function dockerRunOptions(input: DockerRunInput): Result<DockerRunOptions> {
  const docker = input.container.docker;
  if (docker === undefined) return { ok: false, error: "No docker info found in container info" };
  const options: DockerRunOptions = {
    privileged: docker.privileged ?? false,
    env: {},
    volumes: [],
    portMappings: [],
    name: input.name,
    additionalOptions: [],
    image: docker.image,
    arguments: [],
  };
  const resources = input.resources;
  const cpuRequest = resources === undefined ? undefined : scalar(resources, "cpus");
  const memRequest = resources === undefined ? undefined : scalar(resources, "mem");
  const cpuLimit = input.limits?.cpus?.value;
  const memLimit = input.limits?.mem?.value;
  if (cpuRequest !== undefined) {
    options.cpuShares = Math.max(Math.floor(CPU_SHARES_PER_CPU * cpuRequest), MIN_CPU_SHARES);
  }
  if (cpuLimit !== undefined) {
    if (Number.isFinite(cpuLimit)) {
      options.cpuQuota = Math.floor(Math.max(CFS_PERIOD_US * cpuLimit, MIN_CFS_QUOTA_US));
    }
  } else if (input.enableCfsQuota && cpuRequest !== undefined) {
    options.cpuQuota = Math.floor(Math.max(CFS_PERIOD_US * cpuRequest, MIN_CFS_QUOTA_US));
  }
  if (memLimit !== undefined) {
    if (Number.isFinite(memLimit)) {
      options.memory = Math.max(Math.floor(memLimit) * MB, MIN_MEMORY_BYTES);
    }
    if (memRequest !== undefined) {
      options.memoryReservation = Math.max(Math.floor(memRequest * MB), MIN_MEMORY_BYTES);
    }
  } else if (memRequest !== undefined) {
    options.memory = Math.max(Math.floor(memRequest * MB), MIN_MEMORY_BYTES);
  }

  for (const [k, v] of Object.entries(input.env ?? {})) options.env[k] = v;
  for (const variable of input.command.environment?.variables ?? []) {
    if (variable.type === "SECRET") continue;
    if (input.env !== undefined && variable.name in input.env) continue;
    options.env[variable.name] = variable.value ?? "";
  }
  options.env.MESOS_SANDBOX = input.mappedDirectory;
  options.env.MESOS_CONTAINER_NAME = input.name;
  const role = resources?.[0]?.allocation_info?.role;
  if (resources !== undefined && resources.length > 0) {
    options.env.MESOS_ALLOCATION_ROLE = role ?? "";
  }

  let volumeDriver: string | undefined;
  for (const volume of input.container.volumes ?? []) {
    let config = isAbsolute(volume.container_path)
      ? volume.container_path
      : joinPath(input.mappedDirectory, volume.container_path);
    const mode = volume.mode === "RO" ? ":ro" : ":rw";
    if (volume.host_path !== undefined) {
      if (!isAbsolute(volume.host_path) && !isAbsolute(volume.container_path)) {
        return {
          ok: false,
          error: `Both host_path '${volume.host_path}' and container_path '${volume.container_path}' of a volume are relative`,
        };
      }
      const source =
        !isAbsolute(volume.host_path) && docker.volume_driver === undefined
          ? joinPath(input.sandboxDirectory, volume.host_path)
          : volume.host_path;
      config = `${source}:${config}${mode}`;
    } else if (volume.source !== undefined) {
      const dockerVolume = volume.source.docker_volume;
      if (volume.source.type !== "DOCKER_VOLUME" || dockerVolume === undefined) continue;
      config = `${dockerVolume.name}:${config}${mode}`;
      if (dockerVolume.driver !== undefined) {
        if (volumeDriver !== undefined && volumeDriver !== dockerVolume.driver) {
          return { ok: false, error: "Only one volume driver is supported" };
        }
        volumeDriver = dockerVolume.driver;
      }
    } else {
      return { ok: false, error: "Host path or volume source is required" };
    }
    options.volumes.push(config);
  }
  options.volumes.push(`${input.sandboxDirectory}:${input.mappedDirectory}`);
  if (docker.volume_driver !== undefined) {
    if (volumeDriver !== undefined && volumeDriver !== docker.volume_driver) {
      return { ok: false, error: "Only one volume driver per task is supported" };
    }
    volumeDriver = docker.volume_driver;
  }
  if (volumeDriver !== undefined) options.volumeDriver = volumeDriver;

  switch (docker.network ?? "HOST") {
    case "HOST":
      options.network = "host";
      break;
    case "BRIDGE":
      options.network = "bridge";
      break;
    case "NONE":
      options.network = "none";
      break;
    case "USER": {
      const networks = input.container.network_infos ?? [];
      if (networks.length === 0)
        return { ok: false, error: "No network info found in container info" };
      if (networks.length > 1) {
        return { ok: false, error: "Only a single network can be defined in Docker run" };
      }
      const name = networks[0]?.name;
      if (name === undefined) return { ok: false, error: "No network name found in network info" };
      options.network = name;
      break;
    }
  }
  if (input.container.hostname !== undefined) {
    if (options.network === "host") {
      return { ok: false, error: "Unable to set hostname with host network mode" };
    }
    options.hostname = input.container.hostname;
  }
  const mappings = docker.port_mappings ?? [];
  if (mappings.length > 0) {
    if (options.network === "host" || options.network === "none") {
      return {
        ok: false,
        error: "Port mappings are only supported for bridge and user-defined networks",
      };
    }
    if (resources === undefined) return { ok: false, error: "Port mappings require resources" };
    const ranges = portRanges(resources);
    if (ranges.length === 0) return { ok: false, error: "Port mappings require port resources" };
    for (const m of mappings) {
      if (!ranges.some((r) => m.host_port >= r.begin && m.host_port <= r.end)) {
        return { ok: false, error: `Port [${m.host_port}] not included in resources` };
      }
      options.portMappings.push({
        hostPort: m.host_port,
        containerPort: m.container_port,
        ...(m.protocol === undefined ? {} : { protocol: m.protocol }),
      });
    }
  }

  let networkSet = false;
  for (const p of docker.parameters ?? []) {
    if (!networkSet && (p.key === "net" || p.key === "network")) {
      options.network = p.value;
      networkSet = true;
    } else {
      options.additionalOptions.push(`--${p.key}=${p.value}`);
    }
  }

  const command = input.command;
  if (command.shell ?? true) {
    // A shell command replaces the image's entrypoint: the user means their command.
    if (command.value === undefined) {
      return { ok: false, error: "Shell specified but no command value provided" };
    }
    options.entrypoint = "/bin/sh";
    options.arguments.push("-c", command.value);
  } else {
    if (command.value !== undefined) options.arguments.push(command.value);
    options.arguments.push(...(command.arguments ?? []));
  }
  return { ok: true, value: options };
}

/** `-H unix://<socket>`, put before every subcommand. */
export function globalArgs(socket: string): string[] {
  return ["-H", socket.includes("://") ? socket : `unix://${socket}`];
}

/** The `run ...` part of the argv (after the global arguments). */
export function runArgs(o: DockerRunOptions): string[] {
  const argv = ["run"];
  if (o.privileged) argv.push("--privileged");
  if (o.cpuShares !== undefined) argv.push("--cpu-shares", String(o.cpuShares));
  if (o.cpuQuota !== undefined) argv.push("--cpu-quota", String(o.cpuQuota));
  if (o.memoryReservation !== undefined) {
    argv.push("--memory-reservation", String(o.memoryReservation));
  }
  if (o.memory !== undefined) argv.push("--memory", String(o.memory));
  for (const key of Object.keys(o.env).sort()) argv.push("-e", `${key}=${o.env[key]}`);
  for (const volume of o.volumes) argv.push("-v", volume);
  if (o.volumeDriver !== undefined) argv.push(`--volume-driver=${o.volumeDriver}`);
  if (o.network !== undefined) argv.push("--net", o.network);
  if (o.hostname !== undefined) argv.push("--hostname", o.hostname);
  for (const m of o.portMappings) {
    const protocol = m.protocol === undefined ? "" : `/${m.protocol.toLowerCase()}`;
    argv.push("-p", `${m.hostPort}:${m.containerPort}${protocol}`);
  }
  if (o.entrypoint !== undefined) argv.push("--entrypoint", o.entrypoint);
  argv.push("--name", o.name);
  argv.push(...o.additionalOptions);
  argv.push(o.image);
  argv.push(...o.arguments);
  return argv;
}

/** `stop -t <secs> <name>`: SIGTERM, SIGKILL after `timeoutSecs` (whole seconds, as Mesos). */
export function stopArgs(name: string, timeoutMs: number): string[] {
  return ["stop", "-t", String(Math.max(0, Math.floor(timeoutMs / 1000))), name];
}

/** `kill --signal=<signal> <name>`. */
export function killArgs(name: string, signal: string | number = "KILL"): string[] {
  return ["kill", `--signal=${signal}`, name];
}

/** `rm [-f] -v <name>`: the container and its anonymous volumes. */
export function rmArgs(name: string, force: boolean): string[] {
  return force ? ["rm", "-f", "-v", name] : ["rm", "-v", name];
}

/** `inspect --type=container <name>`. */
export function inspectArgs(name: string): string[] {
  return ["inspect", "--type=container", name];
}

/** `inspect <image>`: is the image present locally. */
export function imageInspectArgs(image: string): string[] {
  return ["inspect", image];
}

/** `pull <image>`. */
export function pullArgs(image: string): string[] {
  return ["pull", image];
}

/** `ps -a` listing ids and names only, one container a line. */
export function psArgs(): string[] {
  return ["ps", "-a", "--no-trunc", "--format", "{{.ID}} {{.Names}}"];
}

/** What the agent reads from `docker inspect`. */
export interface DockerContainerState {
  id: string;
  /** Without the leading `/`. */
  name: string;
  /** The container's main process on the host; undefined before it started or after it ended. */
  pid: number | undefined;
  running: boolean;
  /** It started once (it may have ended since). */
  started: boolean;
  exitCode: number | undefined;
  ipAddress: string | undefined;
}

function record(value: unknown): Record<string, unknown> | undefined {
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

/** Parses `docker inspect` output (a JSON array with one container). */
export function parseInspect(output: string): Result<DockerContainerState> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(output);
  } catch (e) {
    return { ok: false, error: `docker inspect printed no JSON: ${(e as Error).message}` };
  }
  const first = record(Array.isArray(parsed) ? parsed[0] : undefined);
  if (first === undefined) return { ok: false, error: "docker inspect printed no container" };
  const state = record(first.State) ?? {};
  const pid = typeof state.Pid === "number" && state.Pid > 0 ? state.Pid : undefined;
  const network = record(first.NetworkSettings) ?? {};
  const ip =
    typeof network.IPAddress === "string" && network.IPAddress !== ""
      ? network.IPAddress
      : undefined;
  return {
    ok: true,
    value: {
      id: typeof first.Id === "string" ? first.Id : "",
      name: typeof first.Name === "string" ? first.Name.replace(/^\//, "") : "",
      pid,
      running: state.Running === true,
      started:
        state.Running === true ||
        (typeof state.StartedAt === "string" && !state.StartedAt.startsWith("0001-01-01")),
      exitCode: typeof state.ExitCode === "number" ? state.ExitCode : undefined,
      ipAddress: ip,
    },
  };
}

/** Parses the `ps` output of `psArgs()` into id and name pairs. */
export function parsePs(output: string): { id: string; name: string }[] {
  const out: { id: string; name: string }[] = [];
  for (const line of output.split("\n")) {
    const [id, name] = line.trim().split(/\s+/);
    if (id !== undefined && id !== "" && name !== undefined) out.push({ id, name });
  }
  return out;
}
