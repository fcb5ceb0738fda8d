/**
 * Persistent volumes, the pure parts: where the agent keeps a volume's data
 * (root disk, PATH disk, MOUNT disk, hierarchical roles), the start-up check
 * of `--resources` disk sources, and the master's CREATE validation in
 * Mesos' order and words.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import type { ContainerLimitation } from "../../src/agent/containerizer/isolators/isolator.js";
import { PosixDiskIsolator } from "../../src/agent/containerizer/isolators/posix-disk.js";
import { containerResources } from "../../src/agent/containerizer/posix-containerizer.js";
import { checkDiskSources, mountPoints } from "../../src/agent/disk-sources.js";
import { AGENT_CAPABILITIES } from "../../src/agent/registration-messages.js";
import { volumePathOf, writeCheckpointedResources } from "../../src/agent/resources-checkpoint.js";
import { silentLogger } from "../../src/common/observability/logger.js";
import type { Resource as WireResource } from "../../src/common/protocol/generated/mesos-v1.js";
import { type DiskSource, type Resource, Resources } from "../../src/common/resources/index.js";
import { validateResourceOperation } from "../../src/master/core/operations.js";
import type { AgentRecord } from "../../src/master/core/records.js";
import { validateCreate } from "../../src/master/validation/operations.js";
import { tempDir, waitFor } from "../harness/processes.js";

const PATH_SOURCE = { type: "PATH" as const, path: { root: "/mnt/path" } };
const MOUNT_SOURCE = { type: "MOUNT" as const, mount: { root: "/mnt/mount" } };

function volume(
  id: string,
  role = "db",
  source?: DiskSource,
  extra: Partial<Resource> = {},
): Resource {
  return {
    name: "disk",
    type: "SCALAR",
    scalar: { value: 64 },
    reservations: role.split("/").map((_, i, parts) => ({
      type: "DYNAMIC" as const,
      role: parts.slice(0, i + 1).join("/"),
      principal: "ops",
    })),
    disk: {
      persistence: { id, principal: "ops" },
      volume: { mode: "RW", container_path: "data" },
      ...(source === undefined ? {} : { source }),
    },
    ...extra,
  };
}

describe("persistent volumes: where the agent keeps the data", () => {
  it("a volume on the root disk lives under the work dir", () => {
    assert.equal(volumePathOf("/w", volume("pg")), "/w/volumes/roles/db/pg");
  });

  it("a volume on a PATH disk lives under the disk's root (a relative root is under the work dir)", () => {
    assert.equal(
      volumePathOf("/w", volume("pg", "db", PATH_SOURCE)),
      "/mnt/path/volumes/roles/db/pg",
    );
    const relative = { type: "PATH" as const, path: { root: "disks/a" } };
    assert.equal(
      volumePathOf("/w", volume("pg", "db", relative)),
      "/w/disks/a/volumes/roles/db/pg",
    );
  });

  it("a volume on a MOUNT disk is the mount point itself", () => {
    assert.equal(volumePathOf("/w", volume("pg", "db", MOUNT_SOURCE)), "/mnt/mount");
  });

  it("a hierarchical role is one directory, its '/' written as a space", () => {
    assert.equal(volumePathOf("/w", volume("pg", "eng/db")), "/w/volumes/roles/eng db/pg");
  });

  it("DESTROY deletes a PATH volume's directory but only empties a MOUNT disk's root", async () => {
    const work = tempDir("pv-unit-work-");
    const pathRoot = tempDir("pv-unit-path-");
    const mountRoot = tempDir("pv-unit-mount-");
    const onPath = volume("p", "db", { type: "PATH", path: { root: pathRoot } });
    const onMount = volume("m", "db", { type: "MOUNT", mount: { root: mountRoot } });
    await writeCheckpointedResources(work, [onPath, onMount] as WireResource[]);
    const pathDir = join(pathRoot, "volumes", "roles", "db", "p");
    assert.ok(existsSync(pathDir));
    writeFileSync(join(pathDir, "f"), "x");
    mkdirSync(join(mountRoot, "sub"));
    writeFileSync(join(mountRoot, "sub", "f"), "x");
    await writeCheckpointedResources(work, [], [onPath, onMount] as WireResource[]);
    assert.equal(existsSync(pathDir), false);
    assert.equal(existsSync(join(mountRoot, "sub")), false);
    assert.ok(existsSync(mountRoot), "the mount point stays");
  });
});

describe("persistent volumes: the sandbox's disk quota", () => {
  it("counts the disk that is not a volume (posix/disk, as Mesos)", () => {
    const plain: Resource = { name: "disk", type: "SCALAR", scalar: { value: 10 } };
    assert.equal(containerResources(Resources.from([plain, volume("pg")])).diskMb, 10);
    assert.equal(containerResources(Resources.from([volume("pg")])).diskMb, undefined);
  });
});

describe("persistent volumes: posix/disk measures each volume apart from the sandbox", () => {
  const du = async (args: string[]) => {
    const r = spawnSync("du", args, { encoding: "utf8" });
    return { code: r.status, output: r.stdout };
  };

  async function run(source?: DiskSource) {
    const sandbox = tempDir("pv-unit-sandbox-");
    const volumeDir = tempDir("pv-unit-volume-");
    writeFileSync(join(volumeDir, "big"), Buffer.alloc(3 * 1024 * 1024, 1));
    symlinkSync(volumeDir, join(sandbox, "data"));
    const limits: ContainerLimitation[] = [];
    const isolator = new PosixDiskIsolator(
      { logger: silentLogger, limit: (_id, limitation) => limits.push(limitation) },
      { intervalMs: 60_000, enforce: true, du },
    );
    const vol = volume("pg", "db", source);
    const resources = containerResources(
      Resources.from([{ name: "disk", type: "SCALAR", scalar: { value: 16 } }, vol]),
    );
    // The volume's quota is its own size, 64 MB: make it 1 MB to exceed it.
    const volumes = (resources.volumes ?? []).map((v) => ({ ...v, limitMb: 1 }));
    await isolator.prepare({
      containerId: "c1",
      directory: sandbox,
      executor: { executor_id: { value: "e" } } as never,
      commandExecutor: true,
      resources: { ...resources, volumes },
    });
    await isolator.isolate("c1", 0);
    const stats = await waitFor("both measured", async () => {
      const usage = await isolator.usage("c1");
      const all = usage.disk_statistics ?? [];
      return all.length === 2 && all.every((d) => d.used_bytes !== undefined) ? usage : undefined;
    });
    await isolator.cleanup("c1");
    return { stats, limits };
  }

  it("reports a volume over its size, names the volume, and lists volume and sandbox", async () => {
    const { stats, limits } = await run();
    const [forVolume, forSandbox] = stats.disk_statistics ?? [];
    assert.equal(forVolume?.persistence?.id, "pg");
    assert.equal(forVolume?.limit_bytes, 1024 * 1024);
    assert.ok((forVolume?.used_bytes ?? 0) >= 3 * 1024 * 1024);
    assert.equal(forSandbox?.limit_bytes, 16 * 1024 * 1024);
    assert.ok(
      (forSandbox?.used_bytes ?? Number.MAX_SAFE_INTEGER) < 1024 * 1024,
      "the link is not followed",
    );
    assert.equal(stats.disk_limit_bytes, 16 * 1024 * 1024);
    assert.equal(limits.length, 1);
    assert.equal(limits[0]?.reason, "REASON_CONTAINER_LIMITATION_DISK");
    assert.match(limits[0]?.message ?? "", /^Disk usage \(\d+(KB|MB)\) exceeds quota \(1MB\)$/);
    assert.equal(limits[0]?.resources?.[0]?.disk?.persistence?.id, "pg");
  });

  it("leaves a volume on a MOUNT disk to its filesystem", async () => {
    const { stats, limits } = await run(MOUNT_SOURCE);
    assert.equal(stats.disk_statistics?.[0]?.source?.type, "MOUNT");
    assert.equal(limits.length, 0);
  });
});

describe("persistent volumes: --resources disk sources at agent start", () => {
  const disk = (source: DiskSource) =>
    Resources.from({ name: "disk", type: "SCALAR", scalar: { value: 10 }, disk: { source } });
  const noMounts = { readMounts: () => "", checksMountTable: true };

  it("creates a missing PATH root (a relative one under the work dir)", () => {
    const root = join(tempDir("pv-unit-src-"), "a", "b");
    assert.equal(
      checkDiskSources(disk({ type: "PATH", path: { root } }), "/", noMounts),
      undefined,
    );
    assert.ok(existsSync(root));
    const work = tempDir("pv-unit-work-");
    assert.equal(
      checkDiskSources(disk({ type: "PATH", path: { root: "disks/p" } }), work, noMounts),
      undefined,
    );
    assert.ok(existsSync(join(work, "disks", "p")));
  });

  it("refuses a MOUNT root that does not exist or is not a mount point", () => {
    const missing = join(tempDir("pv-unit-src-"), "nope");
    assert.equal(
      checkDiskSources(disk({ type: "MOUNT", mount: { root: missing } }), "/", noMounts),
      `Failed to find mount point '${missing}'`,
    );
    const plain = tempDir("pv-unit-src-");
    assert.equal(
      checkDiskSources(disk({ type: "MOUNT", mount: { root: plain } }), "/", noMounts),
      `Failed to find mount '${plain}' in /proc/mounts`,
    );
    const listed = { readMounts: () => `/dev/sdb ${plain} ext4 rw 0 0\n`, checksMountTable: true };
    assert.equal(
      checkDiskSources(disk({ type: "MOUNT", mount: { root: plain } }), "/", listed),
      undefined,
    );
  });

  it("refuses disks without a root and BLOCK/RAW disks", () => {
    assert.match(
      checkDiskSources(disk({ type: "MOUNT" }), "/", noMounts) ?? "",
      /^MOUNT disk root directory is not specified '/,
    );
    assert.match(
      checkDiskSources(disk({ type: "PATH" }), "/", noMounts) ?? "",
      /^PATH disk root directory is not specified '/,
    );
    assert.match(
      checkDiskSources(disk({ type: "RAW" }), "/", noMounts) ?? "",
      /^Unsupported 'DiskInfo.Source.Type' in '/,
    );
  });

  it("reads mount points with their octal escapes", () => {
    const table = "tmpfs /mnt/my\\040disk tmpfs rw 0 0\n/dev/vda / ext4 rw 0 0\n";
    assert.deepEqual([...mountPoints(table)], ["/mnt/my disk", "/"]);
  });
});

describe("persistent volumes: CREATE validation", () => {
  const operator = { principal: undefined, frameworkRoles: undefined };

  it("checks the persistence id with the resources, before the volume rules", () => {
    assert.equal(
      validateCreate([volume("a/b")], operator, new Set(), undefined),
      "Invalid resources: Invalid DiskInfo: Invalid persistence ID for persistent volume: 'a/b' contains invalid characters",
    );
    assert.equal(
      validateCreate([volume("..")], operator, new Set(), undefined),
      "Invalid resources: Invalid DiskInfo: Invalid persistence ID for persistent volume: '..' is disallowed",
    );
  });

  it("refuses a shared volume from a framework without SHARED_RESOURCES, naming it", () => {
    const shared = volume("s", "db", undefined, { shared: {} });
    const error = validateCreate([shared], operator, new Set(), {
      id: "fw-1",
      sharedCapable: false,
    });
    assert.match(
      error ?? "",
      /^Create volume operation for '.*' has been attempted by framework 'fw-1' with no SHARED_RESOURCES capability$/,
    );
    assert.equal(
      validateCreate([shared], operator, new Set(), { id: "fw-1", sharedCapable: true }),
      undefined,
    );
    // Operators may create shared volumes (Mesos checks the capability of frameworks only).
    assert.equal(validateCreate([shared], operator, new Set(), undefined), undefined);
  });
});

describe("persistent volumes: resizing", () => {
  it("the agent advertises RESIZE_VOLUME, as Mesos' agent (a Mesos master resizes only on such agents)", () => {
    assert.ok(AGENT_CAPABILITIES.some((c) => c.type === "RESIZE_VOLUME"));
  });

  const operator = { principal: undefined, frameworkRoles: undefined };
  // Resizes are checked without looking at the agent.
  const agent = {} as AgentRecord;
  const addition = (source?: DiskSource): Resource => ({
    name: "disk",
    type: "SCALAR",
    scalar: { value: 8 },
    reservations: [{ type: "DYNAMIC", role: "db", principal: "ops" }],
    ...(source === undefined ? {} : { disk: { source } }),
  });
  const grow = (source?: DiskSource) =>
    validateResourceOperation(
      {
        type: "GROW_VOLUME",
        grow_volume: {
          volume: volume("g", "db", source) as WireResource,
          addition: addition(source) as WireResource,
        },
      },
      operator,
      agent,
      undefined,
    );

  it("grows a volume on the root disk or a PATH disk by disk of the same kind", () => {
    assert.equal(grow(), undefined);
    assert.equal(grow(PATH_SOURCE), undefined);
  });

  it("cannot grow a volume on a MOUNT disk (it is used whole)", () => {
    assert.equal(
      grow(MOUNT_SOURCE),
      "Incompatible resources in the 'GrowVolume.volume' and 'GrowVolume.addition' fields",
    );
  });
});
