/**
 * The image provisioner (copy backend): builds a container's root
 * filesystem at `<work_dir>/provisioner/containers/<id>/backends/copy/rootfses/<uuid>`
 * (Mesos' layout) by copying the image's unpacked layers from the store in
 * order. Before a layer is copied, its whiteouts are applied to what lies
 * below (`.wh.<name>` removes `<name>`, `.wh..wh..opq` empties its
 * directory), and a symlink, or a file where the layer has a directory (or
 * the reverse), is removed so the copy never writes through a link. The
 * whiteout files themselves are removed after the copy. The rootfs is
 * removed when the container is destroyed.
 */
import { randomUUID } from "node:crypto";
import type { Dirent } from "node:fs";
import { lstat, mkdir, readdir, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { CommandRunner, DockerStore, StoredImage } from "./docker-store.js";

const WHITEOUT_PREFIX = ".wh.";
const OPAQUE_WHITEOUT = ".wh..wh..opq";

/** A provisioned root filesystem. */
export interface Rootfs {
  path: string;
  image: StoredImage;
}

/** What to do in the rootfs before a layer is copied onto it. */
export interface LayerPlan {
  /** rootfs-relative paths to remove before the copy. */
  remove: string[];
  /** rootfs-relative whiteout files to remove after the copy. */
  whiteouts: string[];
}

/** Walks a layer directory depth-first (a directory before its contents). */
async function* walk(root: string, rel = ""): AsyncGenerator<{ rel: string; entry: Dirent }> {
  const entries = await readdir(join(root, rel), { withFileTypes: true });
  for (const entry of entries) {
    const path = rel === "" ? entry.name : `${rel}/${entry.name}`;
    yield { rel: path, entry };
    if (entry.isDirectory()) yield* walk(root, path);
  }
}

async function lstatOrUndefined(path: string) {
  try {
    return await lstat(path);
  } catch {
    return undefined;
  }
}

/** The removals a layer needs in `rootfs` (only reads the filesystem). */
export async function planLayer(layer: string, rootfs: string): Promise<LayerPlan> {
  const remove: string[] = [];
  const whiteouts: string[] = [];
  for await (const { rel, entry } of walk(layer)) {
    if (!entry.isDirectory() && entry.name.startsWith(WHITEOUT_PREFIX)) {
      whiteouts.push(rel);
      const parent = rel.includes("/") ? dirname(rel) : "";
      remove.push(
        entry.name === OPAQUE_WHITEOUT
          ? parent
          : join(parent, entry.name.slice(WHITEOUT_PREFIX.length)),
      );
      continue;
    }
    const below = await lstatOrUndefined(join(rootfs, rel));
    if (
      below !== undefined &&
      (below.isSymbolicLink() || below.isDirectory() !== entry.isDirectory())
    ) {
      remove.push(rel);
    }
  }
  return { remove, whiteouts };
}

export class Provisioner {
  constructor(
    private readonly workDir: string,
    private readonly store: DockerStore,
    private readonly run: CommandRunner,
  ) {}

  private containerDir(containerId: string): string {
    return join(this.workDir, "provisioner", "containers", containerId);
  }

  /** Builds the rootfs of `containerId` from the Docker image `name`. */
  async provision(containerId: string, name: string, cached = true): Promise<Rootfs> {
    const image = await this.store.get(name, cached);
    const rootfs = join(
      this.containerDir(containerId),
      "backends",
      "copy",
      "rootfses",
      randomUUID(),
    );
    await mkdir(rootfs, { recursive: true });
    for (const layer of image.layers) {
      // Removals run one by one: an opaque directory removed first may hold later ones.
      const plan = await planLayer(layer, rootfs);
      for (const path of plan.remove) {
        if (path === "" || path === ".") {
          // An opaque whiteout at the layer's top empties the whole rootfs.
          for (const e of await readdir(rootfs))
            await rm(join(rootfs, e), { recursive: true, force: true });
        } else {
          await rm(join(rootfs, path), { recursive: true, force: true });
        }
      }
      const copied = await this.run("cp", ["-aT", layer, rootfs]);
      if (copied.code !== 0) {
        throw new Error(
          `Failed to copy layer '${layer}' to rootfs '${rootfs}': ${copied.output.trim()}`,
        );
      }
      for (const path of plan.whiteouts) await rm(join(rootfs, path), { force: true });
    }
    // Mount points the launch needs inside the image.
    for (const dir of ["mnt/mesos/sandbox", "proc", "dev", "tmp"]) {
      await mkdir(join(rootfs, dir), { recursive: true });
    }
    return { path: rootfs, image };
  }

  /** Removes the container's rootfs (its mounts lived in its own mount namespace). */
  async destroy(containerId: string): Promise<void> {
    await rm(this.containerDir(containerId), { recursive: true, force: true });
  }
}
