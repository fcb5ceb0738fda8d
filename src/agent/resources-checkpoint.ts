/**
 * The agent's checkpointed resources: the dynamic reservations and
 * persistent volumes the master told it about (CheckpointResourcesMessage)
 * or that operations it applied made (ApplyOperationMessage), kept as Mesos
 * does in two files replaced atomically, so that a restarted agent reports
 * them again when it registers:
 *
 * - `<work_dir>/meta/resources/resources_and_operations.state`: one
 *   `ResourceState` record, the resources and the operations whose status
 *   updates are not acknowledged yet (read first);
 * - `<work_dir>/meta/resources/resources.info`: the resources alone, one
 *   length-prefixed `Resource` record after another (what agents before
 *   operation feedback read).
 */
import { mkdirSync, readFileSync } from "node:fs";
import { readdir } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import type { ResourceState } from "../common/protocol/generated/mesos-internal-slave.js";
import type { Operation, Resource } from "../common/protocol/generated/mesos-v1.js";
import { codecFor } from "../common/protocol/index.js";
import {
  type Resource as CoreResource,
  isPersistentVolume,
  Resources,
  reservationRole,
} from "../common/resources/index.js";
import { frameRecord, scanRecords } from "./checkpoint/framing.js";
import { writeFileAtomically } from "./checkpoint/writer.js";
import { removeTree } from "./gc/remove-path.js";
import { metaRoot, resourceStatePath } from "./paths.js";

const codec = codecFor<Resource>("mesos.v1.Resource");
const stateCodec = codecFor<ResourceState>("mesos.internal.slave.ResourceState");

/** `<work_dir>/meta/resources/resources.info`. */
export function resourcesInfoPath(workDir: string): string {
  return join(metaRoot(workDir), "resources", "resources.info");
}

/**
 * `<root>/volumes/roles/<role>/<persistence id>`: where a volume's data lives
 * (`root` is the work dir, or a PATH disk's root). A `/` in a hierarchical
 * role becomes a space, as in Mesos, so `eng/db` does not nest directories.
 */
export function persistentVolumePath(root: string, role: string, id: string): string {
  return join(root, "volumes", "roles", role.replaceAll("/", " "), id);
}

/**
 * The host directory of a persistent volume resource, if it is one, as
 * Mesos' agent places it: on the root disk under the work dir; on a PATH
 * disk under the disk's root (a relative root is relative to the work
 * dir); on a MOUNT disk the mount point itself, which the volume has whole.
 */
export function volumePathOf(workDir: string, resource: CoreResource): string | undefined {
  const id = resource.disk?.persistence?.id;
  if (id === undefined) return undefined;
  const role = reservationRole(resource) ?? "*";
  const source = resource.disk?.source;
  if (source?.type === "PATH" && source.path?.root !== undefined) {
    return persistentVolumePath(resolve(workDir, source.path.root), role, id);
  }
  if (source?.type === "MOUNT" && source.mount?.root !== undefined) {
    return resolve(workDir, source.mount.root);
  }
  return persistentVolumePath(workDir, role, id);
}

/** Reads the checkpointed resources (none when the file is absent; a torn tail is ignored). */
export function readCheckpointedResources(workDir: string): Resource[] {
  let data: Buffer;
  try {
    data = readFileSync(resourcesInfoPath(workDir));
  } catch {
    return [];
  }
  const out: Resource[] = [];
  for (const record of scanRecords(data).records) {
    const decoded = codec.decodeProtobuf(record);
    if (!decoded.ok) throw new Error(`Corrupt ${resourcesInfoPath(workDir)}: ${decoded.error}`);
    out.push(decoded.value);
  }
  return out;
}

/** The checkpointed resources and operations, as read at start. */
export interface CheckpointedResourceState {
  resources: Resource[];
  operations: Operation[];
}

/**
 * Reads `resources_and_operations.state`, or `resources.info` when there is
 * none (a work dir from before operation feedback).
 */
export function readResourceState(workDir: string): CheckpointedResourceState {
  let data: Buffer;
  try {
    data = readFileSync(resourceStatePath(workDir));
  } catch {
    return { resources: readCheckpointedResources(workDir), operations: [] };
  }
  const record = scanRecords(data).records[0];
  if (record === undefined) {
    return { resources: readCheckpointedResources(workDir), operations: [] };
  }
  const decoded = stateCodec.decodeProtobuf(record);
  if (!decoded.ok) throw new Error(`Corrupt ${resourceStatePath(workDir)}: ${decoded.error}`);
  return { resources: decoded.value.resources ?? [], operations: decoded.value.operations ?? [] };
}

/**
 * Replaces the checkpoint with `resources` and `operations` (the state
 * file first, which readers prefer), then brings the volumes' directories
 * in line, as Mesos' agent does: a volume new in `resources` gets its
 * directory, and one in `previous` but no longer in `resources` was
 * destroyed, so its directory is deleted (for a MOUNT disk only what is in
 * it: the mount point stays).
 */
export async function writeCheckpointedResources(
  workDir: string,
  resources: readonly Resource[],
  previous: readonly Resource[] = [],
  operations: readonly Operation[] = [],
): Promise<void> {
  const state = stateCodec.encodeProtobuf({
    resources: [...resources],
    operations: [...operations],
  });
  await writeFileAtomically(resourceStatePath(workDir), frameRecord(state));
  const data = Buffer.concat(resources.map((r) => frameRecord(codec.encodeProtobuf(r))));
  await writeFileAtomically(resourcesInfoPath(workDir), data);
  createVolumeDirectories(workDir, resources);
  await deleteDestroyedVolumes(workDir, previous, resources);
}

/** Creates `volumes/roles/<role>/<id>` for every persistent volume that has none. */
export function createVolumeDirectories(workDir: string, resources: readonly Resource[]): void {
  for (const path of volumePaths(workDir, resources).keys()) {
    mkdirSync(path, { recursive: true, mode: 0o755 });
  }
}

/** Deletes the directories of the volumes in `previous` that are not in `resources`. */
async function deleteDestroyedVolumes(
  workDir: string,
  previous: readonly Resource[],
  resources: readonly Resource[],
): Promise<void> {
  const kept = volumePaths(workDir, resources);
  for (const [path, volume] of volumePaths(workDir, previous)) {
    if (kept.has(path)) continue;
    // The volume belonged to its tasks' users, who may have left links in it
    // (or swap a directory for one meanwhile): removed through open
    // directories from the agent's own directory above it, following none.
    if (volume.disk?.source?.type === "MOUNT") {
      const entries = await readdir(path).catch(() => [] as string[]);
      for (const e of entries) await removeTree(path, join(path, e));
    } else {
      await removeTree(dirname(path), path);
    }
  }
}

/** Persistent volumes by the path of their directory. */
function volumePaths(workDir: string, resources: readonly Resource[]): Map<string, Resource> {
  const out = new Map<string, Resource>();
  for (const r of resources) {
    if (!isPersistentVolume(r as CoreResource)) continue;
    const path = volumePathOf(workDir, r as CoreResource);
    if (path !== undefined) out.set(path, r);
  }
  return out;
}

/** A checkpointed resource without its dynamic reservations and volume: what it was made from. */
function baseOf(resource: CoreResource): CoreResource {
  const { shared: _shared, disk, reservations, ...rest } = resource;
  const base: CoreResource = { ...rest };
  const statics = (reservations ?? []).filter((r) => r.type === "STATIC");
  if (statics.length > 0) base.reservations = statics;
  if (disk !== undefined) {
    const { persistence: _p, volume: _v, ...diskRest } = disk;
    if (Object.keys(diskRest).length > 0) base.disk = diskRest;
  }
  return base;
}

/**
 * The agent's total with the checkpointed resources applied: each one
 * replaces the plain resources it was made from. Fails when the static
 * resources no longer contain them (the agent's resources shrank).
 */
export function applyCheckpointedResources(
  total: Resources,
  checkpointed: readonly Resource[],
): { ok: true; value: Resources } | { ok: false; error: string } {
  const out = total.clone();
  for (const r of checkpointed) {
    const base = Resources.from(baseOf(r as CoreResource));
    if (!out.contains(base)) {
      return {
        ok: false,
        error: `Incompatible agent resources: ${out.toString()} does not contain ${base.toString()}`,
      };
    }
    out.subtract(base).add(Resources.from(r as CoreResource));
  }
  return { ok: true, value: out };
}

/**
 * Why the checkpointed reservations and volumes no longer fit the agent's
 * `--resources` (a disk removed or shrunk since they were made), in Mesos'
 * words; undefined when they fit. The agent then refuses to start, as
 * Mesos' does, rather than register without them.
 */
export function checkpointedResourcesMismatch(
  total: Resources,
  checkpointed: readonly Resource[],
): string | undefined {
  if (checkpointed.length === 0) return undefined;
  const applied = applyCheckpointedResources(total, checkpointed);
  if (applied.ok) return undefined;
  const listed = Resources.from(checkpointed as CoreResource[]).toString();
  return `Checkpointed resources ${listed} are incompatible with agent resources ${total.toString()}: ${applied.error}`;
}
