/**
 * A nested container (a task of a task group, or LAUNCH_NESTED_CONTAINER)
 * with its own container image, as Mesos' containerizer provisions it like
 * a top-level one: the image's root filesystem is built at
 * `<work_dir>/provisioner/containers/<parent>/containers/<child>/…` (Mesos'
 * layout, so that the parent's provisioner directory, and an agent
 * restart's provisioner recovery, cover it), the nested container's own
 * sandbox is bind-mounted inside it at the agent's `--sandbox_directory`
 * (by default /mnt/mesos/sandbox, the provisioner knows it), and the
 * container's command runs there through the launch shim's `chroot`.
 *
 * With `docker/runtime`, the image's settings apply as for a top-level
 * container: its `Env` under the command's own variables, its
 * `WorkingDir` (created when the image lacks it), and its
 * `Entrypoint`/`Cmd` for a CommandInfo with `shell: false` and no value.
 */
import type { CommandInfo, Image, Volume } from "../../../common/protocol/generated/mesos-v1.js";
import type { LaunchPreparation } from "../isolators/isolator.js";
import { IMAGE_SANDBOX } from "../launch-shim.js";
import {
  ensureWorkingDir,
  type ImageRuntime,
  imageEnv,
  imageVolumeMounts,
  imageVolumePreparation,
  runtimeArgv,
  runtimeCommandError,
  sandboxMount,
} from "./image-launch.js";
import type { Provisioner } from "./provisioner.js";

/** The provisioner's id of a nested container: its directory below the parent's. */
export function nestedProvisionId(parentId: string, childId: string): string {
  return `${parentId}/containers/${childId}`;
}

/** What a nested container in an image launches with. */
export interface NestedImageLaunch {
  /** Mounts (sandbox, volumes), the rootfs, the variables and directory inside it. */
  preparation: LaunchPreparation;
  /** The command to run: the CommandInfo's, or the image's Entrypoint/Cmd. */
  command: CommandInfo;
}

/**
 * Provisions the image of a nested container and says how to launch it.
 * Throws with the provisioner's (Mesos-worded) message when the image
 * cannot be had, or docker/runtime's when there is nothing to run.
 */
export async function prepareNestedImage(o: {
  provisioner: Pick<Provisioner, "provision"> & Partial<Pick<Provisioner, "sandboxDirectory">>;
  /** `docker/runtime` is in `--isolation`. */
  dockerRuntime: boolean;
  provisionId: string;
  image: Image;
  command: CommandInfo;
  volumes: readonly Volume[];
  /** The nested container's sandbox on the host. */
  sandbox: string;
  /** Its parent's sandbox (SANDBOX_PATH volumes of type PARENT). */
  parentSandbox?: string;
}): Promise<NestedImageLaunch> {
  const { image } = o;
  if (image.type !== "DOCKER" || image.docker?.name === undefined) {
    throw new Error(`Only DOCKER images are supported (got ${image.type})`);
  }
  const provisioned = await o.provisioner.provision(
    o.provisionId,
    image.docker.name,
    image.cached ?? true,
  );
  const rootfs = provisioned.path;
  let command = o.command;
  let runtime: ImageRuntime | undefined;
  if (o.dockerRuntime) {
    runtime = provisioned.image.config;
    const error = runtimeCommandError(command, runtime);
    if (error !== undefined) throw new Error(`Failed to determine the launch command: ${error}`);
    if (command.shell === false && command.value === undefined) {
      const found = runtimeArgv(command, runtime);
      if ("argv" in found)
        command = { ...command, value: found.argv[0] ?? "", arguments: found.argv };
    }
    const workDir = runtime.WorkingDir;
    if (workDir !== undefined && workDir !== "") await ensureWorkingDir(rootfs, workDir);
  }
  const inside = o.provisioner.sandboxDirectory ?? IMAGE_SANDBOX;
  const preparation: LaunchPreparation = {
    mountNamespace: true,
    mounts: [
      await sandboxMount(o.sandbox, rootfs, inside),
      ...(await imageVolumeMounts(o.volumes, o.sandbox, rootfs, inside, o.parentSandbox)),
      ...(await imageVolumePreparation(
        o.provisioner,
        o.provisionId,
        o.volumes,
        o.sandbox,
        rootfs,
        inside,
      )),
    ],
    rootfs,
    // MESOS_SANDBOX inside is where the sandbox is mounted there.
    rootfsEnv: { ...insideVariables(command, runtime), MESOS_SANDBOX: inside },
    rootfsWorkDir:
      runtime?.WorkingDir !== undefined && runtime.WorkingDir !== "" ? runtime.WorkingDir : inside,
  };
  return { preparation, command };
}

/**
 * The variables set inside the image only (after the shim's host steps,
 * which need the host's PATH): the image's Env where the command does not
 * set the name itself, and the command's own PATH.
 */
function insideVariables(
  command: CommandInfo,
  runtime: ImageRuntime | undefined,
): Record<string, string> {
  const own = new Set((command.environment?.variables ?? []).map((v) => v.name));
  const out: Record<string, string> = {};
  for (const [name, value] of imageEnv(runtime)) {
    if (own.has(name) || name.startsWith("MESOS_")) continue;
    out[name] = value;
  }
  const path = (command.environment?.variables ?? []).find(
    (v) => v.name === "PATH" && v.type !== "SECRET",
  );
  if (path !== undefined) out.PATH = path.value ?? "";
  return out;
}
