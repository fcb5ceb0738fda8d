/**
 * Containerizer selection (`--containerizers`, Mesos' composing
 * containerizer): an executor whose ContainerInfo is DOCKER goes to the
 * Docker containerizer, every other one to the Mesos containerizer. When
 * the one it needs is not enabled, the launch fails with Mesos' message
 * ("None of the enabled containerizers (...) could create a container ...")
 * and its tasks end TASK_FAILED with REASON_CONTAINER_LAUNCH_FAILED.
 */
import type { Logger } from "../../../common/observability/logger.js";
import type { Resources } from "../../../common/resources/index.js";
import type { Containerizer, ContainerLaunch } from "../../agent-ports.js";
import type { AgentFlags } from "../../flags.js";
import type { FetcherCache } from "../fetcher-cache.js";
import type { ContainerLogger } from "../logger/container-logger.js";
import type { ContainerEvents } from "../posix-containerizer.js";
import { DockerCli } from "./docker-cli.js";
import { DockerContainerizer } from "./docker-containerizer.js";

/** The names in `--containerizers`. */
export function containerizerNames(flag: string): string[] {
  return flag
    .split(",")
    .map((x) => x.trim())
    .filter((x) => x !== "");
}

/** Routes launches by container type and destroys to whoever launched. */
export class ComposingContainerizer implements Containerizer {
  private events: ContainerEvents | undefined;
  private readonly names: string[];

  constructor(
    private readonly mesos: Containerizer,
    private readonly docker: DockerContainerizer | undefined,
    containerizers: string,
    private readonly logger: Logger,
  ) {
    this.names = containerizerNames(containerizers);
  }

  /** Where refusals are reported (the agent's container events). */
  attach(events: ContainerEvents): void {
    this.events = events;
    this.docker?.attach(events);
  }

  launch(launch: ContainerLaunch): void {
    if (DockerContainerizer.handles(launch)) {
      if (this.docker !== undefined) this.docker.launch(launch);
      else this.refuse(launch);
    } else if (this.names.includes("mesos")) {
      this.mesos.launch(launch);
    } else {
      this.refuse(launch);
    }
  }

  destroy(containerId: string): void {
    if (this.docker?.has(containerId) === true) this.docker.destroy(containerId);
    else this.mesos.destroy(containerId);
  }

  update(containerId: string, resources: Resources): void {
    if (this.docker?.has(containerId) !== true) this.mesos.update?.(containerId, resources);
  }

  private refuse(launch: ContainerLaunch): void {
    const error = `None of the enabled containerizers (${this.names.join(",")}) could create a container for the provided TaskInfo/ExecutorInfo message`;
    this.logger.error(
      `Container '${launch.containerId}' for executor '${launch.executorId}' of framework ${launch.frameworkId} failed to start: ${error}`,
    );
    // Answered later, as every launch is.
    setImmediate(() => {
      this.events?.containerLaunched(launch.containerId, { error });
      this.events?.containerTerminated(launch.containerId, {});
    });
  }
}

/** What the Docker containerizer needs besides the flags. */
export interface DockerContainerizerDeps {
  logger: Logger;
  bootId: string;
  fetcherCache?: FetcherCache;
  /** The agent's `--container_logger` (undefined: output to sandbox files). */
  containerLogger?: ContainerLogger | undefined;
  /** Looks up a task's user (the launcher helper's lookup), for its sandbox and fetch. */
  lookupUser?: ((name: string) => Promise<{ uid: number; gid: number }>) | undefined;
}

/**
 * The Docker containerizer when `docker` is in `--containerizers` (after
 * checking that the docker program answers), else undefined. Throws a
 * one-line Error the agent stops with when docker is unusable or
 * `--containerizers` names something else than `mesos` and `docker`.
 */
export async function buildDockerContainerizer(
  flags: AgentFlags,
  deps: DockerContainerizerDeps,
): Promise<DockerContainerizer | undefined> {
  const names = containerizerNames(flags.containerizers);
  if (new Set(names).size !== names.length) {
    throw new Error(`Duplicate entries found in --containerizers '${flags.containerizers}'`);
  }
  const unknown = names.find((n) => n !== "mesos" && n !== "docker");
  if (unknown !== undefined) throw new Error(`Unknown or unsupported containerizer: ${unknown}`);
  if (names.length === 0) throw new Error("--containerizers names no containerizer");
  if (!names.includes("docker")) return undefined;
  if (flags.docker_mesos_image !== undefined) {
    throw new Error("--docker_mesos_image is not supported: run the agent on the host");
  }
  const docker = new DockerContainerizer({
    docker: new DockerCli({ path: flags.docker, socket: flags.docker_socket }),
    workDir: flags.work_dir,
    logger: deps.logger,
    bootId: deps.bootId,
    sandboxDirectory: flags.sandbox_directory,
    stopTimeoutMs: flags.docker_stop_timeout.toMs(),
    removeDelayMs: flags.docker_remove_delay.toMs(),
    killOrphans: flags.docker_kill_orphans,
    cgroupsEnableCfs: flags.cgroups_enable_cfs,
    launcherDir: flags.launcher_dir,
    frameworksHome: flags.frameworks_home,
    hadoopHome: flags.hadoop_home,
    fetcherStallTimeoutMs: flags.fetcher_stall_timeout.toMs(),
    ...(deps.fetcherCache === undefined ? {} : { fetcherCache: deps.fetcherCache }),
    containerLogger: deps.containerLogger,
    lookupUser: deps.lookupUser,
  });
  try {
    await docker.validate();
  } catch (e) {
    throw new Error(`Failed to create the Docker containerizer: ${(e as Error).message}`);
  }
  return docker;
}
