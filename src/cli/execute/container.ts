/**
 * Builds the ContainerInfo mesos-execute attaches to its command task from
 * --volumes, --rlimits, --effective_capabilities, --bounding_capabilities,
 * --docker_image, --networks, --tty and --containerizer. Pure: bad input becomes a one-line error.
 */
import type {
  CapabilityInfo,
  ContainerInfo,
  LinuxInfo,
  RLimitInfo,
  Volume,
} from "../../common/protocol/generated/mesos-v1.js";
import { codecFor } from "../../common/protocol/index.js";

/** The container-related flag values, as loaded. */
export interface ContainerFlags {
  readonly containerizer: string;
  readonly docker_image?: string | undefined;
  readonly volumes?: unknown;
  readonly rlimits?: unknown;
  readonly effective_capabilities?: unknown;
  readonly bounding_capabilities?: unknown;
  /** Network names from --networks (blank entries already dropped). */
  readonly networks?: readonly string[];
  readonly tty?: boolean;
}

export type ContainerResult =
  | { readonly ok: true; readonly container?: ContainerInfo }
  | { readonly ok: false; readonly error: string };

/**
 * ContainerInfo for the task, or none when no container feature was asked
 * for (the agent then runs the command without one, as Mesos does).
 */
export function buildContainerInfo(flags: ContainerFlags): ContainerResult {
  const fail = (error: string): ContainerResult => ({ ok: false, error });

  let volumes: Volume[] = [];
  if (flags.volumes !== undefined) {
    if (!Array.isArray(flags.volumes)) {
      return fail("Failed to convert '--volumes' to protobuf: expected a JSON array of volumes");
    }
    const codec = codecFor("mesos.v1.Volume");
    volumes = [];
    for (const [index, item] of flags.volumes.entries()) {
      const decoded = codec.decodeJson(item);
      if (!decoded.ok) {
        return fail(
          `Failed to convert '--volumes' to protobuf: volume ${index}: ${decoded.error.message}`,
        );
      }
      volumes.push(decoded.value);
    }
  }

  let rlimits: RLimitInfo | undefined;
  if (flags.rlimits !== undefined) {
    const decoded = codecFor("mesos.v1.RLimitInfo").decodeJson(flags.rlimits);
    if (!decoded.ok) return fail(`Failed to parse --rlimits: ${decoded.error.message}`);
    // An unknown type name decodes to no type (as in stout); no agent could apply it.
    const untyped = (decoded.value.rlimits ?? []).findIndex((l) => l.type === undefined);
    if (untyped >= 0) {
      return fail(`Failed to parse --rlimits: rlimit ${untyped} has no known 'type'`);
    }
    rlimits = decoded.value;
  }

  // As Mesos' mesos-execute: the sets go into LinuxInfo (the agent applies
  // them with --isolation=linux/capabilities).
  const linux: LinuxInfo = {};
  for (const key of ["effective_capabilities", "bounding_capabilities"] as const) {
    if (flags[key] === undefined) continue;
    const decoded = codecFor("mesos.v1.CapabilityInfo").decodeJson(flags[key]);
    if (!decoded.ok) return fail(`Failed to parse --${key}: ${decoded.error.message}`);
    const info: CapabilityInfo = decoded.value;
    // The decoder drops names it does not know; no agent could grant them.
    const given = (flags[key] as { capabilities?: unknown }).capabilities;
    const names = Array.isArray(given) ? given : [];
    const unknown = names.find(
      (n) => n === "UNKNOWN" || !(info.capabilities ?? []).includes(n as never),
    );
    if (unknown !== undefined) {
      return fail(`Failed to parse --${key}: unknown capability '${String(unknown)}'`);
    }
    linux[key] = info;
  }
  const hasLinux = Object.keys(linux).length > 0;

  if (flags.containerizer === "docker") {
    // As Mesos' mesos-execute: a DOCKER ContainerInfo for the agent's Docker
    // containerizer (`--containerizers=docker,...`), volumes carried over.
    if (flags.docker_image === undefined) {
      return fail("'Docker' containerizer requires docker image name");
    }
    if (rlimits !== undefined) {
      return fail("--rlimits: only the 'mesos' containerizer supports resource limits");
    }
    if (hasLinux) {
      return fail(
        "--effective_capabilities, --bounding_capabilities: only the 'mesos' containerizer supports Linux capabilities",
      );
    }
    // A Docker container joins at most one user-defined network (`docker run --network`).
    const networks = flags.networks ?? [];
    if (networks.length > 1) {
      return fail("'Docker' containerizer can only support a single network");
    }
    if (flags.tty === true) return fail("'Docker' containerizer does not allow attaching a TTY");
    const container: ContainerInfo = {
      type: "DOCKER",
      ...(volumes.length === 0 ? {} : { volumes }),
      docker: {
        image: flags.docker_image,
        ...(networks.length === 0 ? {} : { network: "USER" }),
      },
      ...(networks.length === 0 ? {} : { network_infos: networks.map((name) => ({ name })) }),
    };
    return { ok: true, container };
  }
  if (flags.containerizer !== "mesos") {
    return fail(`Unsupported containerizer: ${flags.containerizer}`);
  }
  // The Mesos containerizer has no TTYs here yet; networks are CNI networks (network/cni).
  const networks = flags.networks ?? [];
  if (flags.tty === true) {
    return fail("--tty is not supported yet (the agent cannot attach a TTY to a task)");
  }

  if (
    flags.docker_image === undefined &&
    rlimits === undefined &&
    !hasLinux &&
    volumes.length === 0 &&
    networks.length === 0
  ) {
    return { ok: true };
  }
  const container: ContainerInfo = {
    type: "MESOS",
    ...(volumes.length === 0 ? {} : { volumes }),
    ...(flags.docker_image === undefined
      ? {}
      : { mesos: { image: { type: "DOCKER", docker: { name: flags.docker_image } } } }),
    ...(hasLinux ? { linux_info: linux } : {}),
    ...(rlimits === undefined ? {} : { rlimit_info: rlimits }),
    ...(networks.length === 0 ? {} : { network_infos: networks.map((name) => ({ name })) }),
  };
  return { ok: true, container };
}
