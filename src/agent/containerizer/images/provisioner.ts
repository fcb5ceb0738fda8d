/**
 * The image provisioner (copy backend): builds a container's root
 * filesystem by unpacking the image's layers in order into
 * `<work_dir>/provisioner/containers/<id>/rootfs`, applying each layer's
 * whiteouts (`.wh.<name>` removes `<name>` from the layers below,
 * `.wh..wh..opq` empties its directory) before unpacking it. The rootfs is
 * removed when the container is destroyed.
 */
import { mkdir, readdir, rm } from "node:fs/promises";
import { dirname, join, normalize } from "node:path";
import type { CommandRunner, DockerStore, StoredImage } from "./docker-store.js";

const WHITEOUT_PREFIX = ".wh.";
const OPAQUE_WHITEOUT = ".wh..wh..opq";

/** The whiteout entries of a layer listing: paths to remove, directories to empty. */
export function whiteouts(listing: string): { remove: string[]; empty: string[] } {
  const remove: string[] = [];
  const empty: string[] = [];
  for (const raw of listing.split("\n")) {
    const path = normalize(raw.replace(/^\.\//, "")).replace(/\/$/, "");
    if (path === "" || path === "." || path.startsWith("..")) continue;
    const base = path.slice(path.lastIndexOf("/") + 1);
    const parent = path.includes("/") ? dirname(path) : "";
    if (base === OPAQUE_WHITEOUT) empty.push(parent);
    else if (base.startsWith(WHITEOUT_PREFIX)) {
      remove.push(join(parent, base.slice(WHITEOUT_PREFIX.length)));
    }
  }
  return { remove, empty };
}

/** A provisioned root filesystem. */
export interface Rootfs {
  path: string;
  image: StoredImage;
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
  async provision(containerId: string, name: string): Promise<Rootfs> {
    const image = await this.store.get(name);
    const rootfs = join(this.containerDir(containerId), "rootfs");
    await rm(rootfs, { recursive: true, force: true });
    await mkdir(rootfs, { recursive: true });
    for (const layer of image.layers) {
      const listed = await this.run("tar", ["-tf", layer]);
      if (listed.code !== 0)
        throw new Error(`cannot read layer '${layer}': ${listed.output.trim()}`);
      const { remove, empty } = whiteouts(listed.output);
      for (const path of remove) await rm(join(rootfs, path), { recursive: true, force: true });
      for (const dir of empty) {
        const full = join(rootfs, dir);
        const entries = await readdir(full).catch(() => [] as string[]);
        for (const e of entries) await rm(join(full, e), { recursive: true, force: true });
      }
      const extracted = await this.run("tar", [
        "-xf",
        layer,
        "-C",
        rootfs,
        `--exclude=${WHITEOUT_PREFIX}*`,
      ]);
      if (extracted.code !== 0) {
        throw new Error(`cannot unpack layer '${layer}': ${extracted.output.trim()}`);
      }
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
