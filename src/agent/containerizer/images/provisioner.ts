/**
 * The image provisioner (copy backend): builds a container's root
 * filesystem at `<work_dir>/provisioner/containers/<id>/backends/copy/rootfses/<uuid>`
 * (Mesos' layout) by copying the image's unpacked layers from the store in
 * order. Before a layer is copied, its whiteouts are applied to what lies
 * below (`.wh.<name>` removes `<name>`, `.wh..wh..opq` empties its
 * directory), and a symlink, or a file where the layer has a directory (or
 * the reverse), is removed so the copy never writes through a link. The
 * whiteout files themselves are removed after the copy. The rootfs is
 * removed when the container is destroyed. A nested container's id is
 * `<parent>/containers/<child>`: its rootfses live below its parent's
 * directory, which recovery keeps while the parent lives.
 */
import { randomUUID } from "node:crypto";
import { type Dirent, statSync } from "node:fs";
import { lstat, mkdir, readdir, readFile, rm, rmdir, statfs, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { removeTree } from "../../gc/remove-path.js";
import { IMAGE_SANDBOX } from "../launch-shim.js";
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
  /** Provisions under way; a prune waits for them and holds new ones back. */
  private readonly inflight = new Set<Promise<unknown>>();
  private pruning: Promise<void> | undefined;
  /** `excluded_images` of `--image_gc_config`: PRUNE_IMAGES keeps them too, as in Mesos. */
  gcExcluded: readonly string[] = [];

  /**
   * @param sandboxDirectory `--sandbox_directory`: where the launch mounts a
   *   container's sandbox in the root filesystems built here.
   */
  constructor(
    private readonly workDir: string,
    private readonly store: DockerStore,
    private readonly run: CommandRunner,
    readonly sandboxDirectory: string = IMAGE_SANDBOX,
  ) {}

  /** Reports each image pull's duration in ms (`containerizer/mesos/provisioner/docker_store/image_pull`). */
  set onPull(observer: ((ms: number) => void) | undefined) {
    this.store.onPull = observer;
  }

  /** The Docker store's directory (`--docker_store_dir`). */
  get storeDir(): string {
    return this.store.dir;
  }

  private containerDir(containerId: string): string {
    return join(this.workDir, "provisioner", "containers", containerId);
  }

  /** Builds the rootfs of `containerId` from the Docker image `name`. */
  async provision(containerId: string, name: string, cached = true): Promise<Rootfs> {
    while (this.pruning !== undefined) await this.pruning.catch(() => undefined);
    const work = this.provisionNow(containerId, name, cached);
    this.inflight.add(work);
    try {
      return await work;
    } finally {
      this.inflight.delete(work);
    }
  }

  /**
   * PRUNE_IMAGES: removes every stored image but `excluded` and those of
   * live containers, and every layer no remaining image or live container
   * uses. Runs alone: provisions wait for it, and it for them.
   */
  async pruneImages(excluded: readonly string[]): Promise<void> {
    while (this.pruning !== undefined) await this.pruning.catch(() => undefined);
    const run = (async () => {
      await Promise.allSettled([...this.inflight]);
      const keep = [...excluded, ...this.gcExcluded];
      const activeLayers = new Set<string>();
      const containers = join(this.workDir, "provisioner", "containers");
      for (const dir of await containerDirs(containers)) {
        for (const used of (await readLayers(join(dir, "layers"))) ?? []) {
          keep.push(used.image);
          for (const path of used.paths) activeLayers.add(basename(dirname(path)));
        }
      }
      await this.store.prune(keep, activeLayers);
    })();
    this.pruning = run;
    try {
      await run;
    } finally {
      this.pruning = undefined;
    }
  }

  private async provisionNow(containerId: string, name: string, cached: boolean): Promise<Rootfs> {
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
    // Which layers this container uses (its image, its image volumes): a prune
    // keeps them (Mesos checkpoints the same). A container's rootfses are built one by one.
    const layersFile = join(this.containerDir(containerId), "layers");
    const used = (await readLayers(layersFile)) ?? [];
    used.push({ image: name, paths: image.layers });
    await writeFile(layersFile, JSON.stringify(used));
    // Mount points the launch needs inside the image (the sandbox's is made with its mount).
    for (const dir of ["proc", "dev", "tmp"]) {
      await mkdir(join(rootfs, dir), { recursive: true });
    }
    return { path: rootfs, image };
  }

  /**
   * After an agent restart: removes the root filesystems of containers that
   * are gone (Mesos' provisioner recovery destroys unknown containers).
   */
  async recover(alive: ReadonlySet<string>): Promise<void> {
    const containers = join(this.workDir, "provisioner", "containers");
    for (const id of existsSyncDir(containers) ? await readdir(containers) : []) {
      if (!alive.has(id)) await this.destroy(id);
    }
  }

  /**
   * Removes the container's rootfs (its mounts lived in its own mount
   * namespace). The task's user could write in it (its /tmp at least) and
   * may still have processes elsewhere that swap a directory there for a
   * link: removed through open directories, following no link.
   */
  async destroy(containerId: string): Promise<void> {
    await removeTree(
      join(this.workDir, "provisioner", "containers"),
      this.containerDir(containerId),
    );
  }

  /**
   * A parent container ended whose nested containers had images: the
   * directories left from them go, unless the parent's own rootfs (or a
   * nested one still there) is in them.
   */
  async removeEmpty(containerId: string): Promise<void> {
    const dir = this.containerDir(containerId);
    await rmdir(join(dir, "containers")).catch(() => undefined);
    await rmdir(dir).catch(() => undefined);
  }
}

/**
 * The provisioner directories of every container below `containers`: the
 * top-level ones and, below each, `containers/<child>` of its nested ones
 * (Mesos' layout, any depth).
 */
async function containerDirs(containers: string): Promise<string[]> {
  const out: string[] = [];
  const entries = await readdir(containers).catch(() => [] as string[]);
  for (const id of entries) {
    const dir = join(containers, id);
    out.push(dir, ...(await containerDirs(join(dir, "containers"))));
  }
  return out;
}

function existsSyncDir(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** The images a container's rootfses were built from, with their layers. */
async function readLayers(path: string): Promise<{ image: string; paths: string[] }[] | undefined> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(path, "utf8"));
  } catch {
    return undefined;
  }
  if (!Array.isArray(parsed)) return undefined;
  const out: { image: string; paths: string[] }[] = [];
  for (const entry of parsed as { image?: unknown; paths?: unknown }[]) {
    if (typeof entry?.image !== "string" || !Array.isArray(entry.paths)) continue;
    out.push({ image: entry.image, paths: entry.paths.filter((p) => typeof p === "string") });
  }
  return out;
}

/** `--image_gc_config` (Mesos' ImageGcConfig). */
export interface ImageGcConfig {
  /** Free share of the store's disk to keep, 0..1 (Mesos' default 0.1). */
  headroom: number;
  /** How often the store's disk usage is checked (Mesos' default 1 hour). */
  intervalMs: number;
  /** Docker image names never pruned. */
  excluded: string[];
}

/** Reads `--image_gc_config` JSON, or says what is wrong with it. */
export function parseImageGcConfig(json: unknown): ImageGcConfig | { error: string } {
  if (json === null || typeof json !== "object" || Array.isArray(json)) {
    return { error: "--image_gc_config must be a JSON object (ImageGcConfig)" };
  }
  const o = json as {
    image_disk_headroom?: unknown;
    image_disk_watch_interval?: { nanoseconds?: unknown };
    excluded_images?: unknown;
  };
  const headroom = o.image_disk_headroom ?? 0.1;
  if (typeof headroom !== "number" || headroom < 0 || headroom > 1) {
    return { error: "--image_gc_config: image_disk_headroom must be between 0.0 and 1.0" };
  }
  const nanos = Number(o.image_disk_watch_interval?.nanoseconds ?? 3_600_000_000_000);
  if (!Number.isFinite(nanos) || nanos <= 0) {
    return { error: "--image_gc_config: image_disk_watch_interval must be positive" };
  }
  const excluded: string[] = [];
  for (const image of Array.isArray(o.excluded_images) ? o.excluded_images : []) {
    const i = image as { type?: unknown; docker?: { name?: unknown } };
    if (i.type === "DOCKER" && typeof i.docker?.name === "string") excluded.push(i.docker.name);
  }
  return { headroom, intervalMs: Math.max(1, Math.round(nanos / 1e6)), excluded };
}

/** Share of the disk holding `dir` in use, 0..1. */
export async function diskUsage(dir: string): Promise<number> {
  const s = await statfs(dir);
  return s.blocks === 0 ? 0 : 1 - s.bavail / s.blocks;
}

/**
 * Automatic image GC, as Mesos' agent: every interval, when the store's
 * disk usage plus the headroom goes over 100%, prune all images but the
 * excluded ones (and those of live containers). Returns a stop function.
 */
export function startImageGc(
  provisioner: Provisioner,
  config: ImageGcConfig,
  log: { info(m: string): void; warn(m: string): void },
): () => void {
  provisioner.gcExcluded = config.excluded;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const check = async () => {
    try {
      await mkdir(provisioner.storeDir, { recursive: true });
      const usage = await diskUsage(provisioner.storeDir);
      log.info(`Current docker image store disk usage: ${(usage * 100).toFixed(2)}%`);
      if (config.headroom + usage > 1) {
        log.info(
          `Image store disk usage exceeds the threshold '${((1 - config.headroom) * 100).toFixed(2)}%'; pruning images`,
        );
        await provisioner.pruneImages(config.excluded);
      }
    } catch (e) {
      log.warn(`Image garbage collection failed: ${(e as Error).message}`);
    }
    if (stopped) return;
    timer = setTimeout(() => void check(), config.intervalMs);
    timer.unref();
  };
  timer = setTimeout(() => void check(), config.intervalMs);
  timer.unref();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
