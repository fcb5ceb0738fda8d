/**
 * The Docker image store of the Mesos containerizer, fed from a local
 * registry: `--docker_registry` names a directory of `docker save`
 * archives, `<reference>.tar` (`busybox:latest.tar`, `busybox.tar`).
 *
 * The store keeps Mesos' layout under `--docker_store_dir`:
 *   staging/<tmp>          an archive being unpacked
 *   layers/<id>/rootfs     one unpacked layer, shared by every image that has it
 *   layers/<id>/json       that layer's v1 manifest (runtime config of the top layer)
 *   layers/sha256:<hex>    an image config read from a `manifest.json` archive
 *   storedImages           the images pulled so far: reference -> layer ids
 * A layer already in `layers/` is not unpacked again, and an image named in
 * `storedImages` is not read from the registry again (unless the Image says
 * `cached: false`), also after an agent restart. `storedImages` is JSON
 * here (Mesos writes a protobuf).
 *
 * Archives are read as Mesos reads them: `repositories` names the top layer
 * of `<repository>:<tag>`, each `<id>/json` names its parent. Archives
 * Mesos cannot read (no `repositories`, or no per-layer `json` as Docker
 * 25+ writes them) are read from their `manifest.json` instead; their
 * layers are then keyed by content hash (`sha256:<hex>`).
 */
import { createHash } from "node:crypto";
import { createReadStream, existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { basename, join } from "node:path";

/** Runs a program to completion (through the launcher helper). */
export type CommandRunner = (
  file: string,
  args: string[],
) => Promise<{ code: number | null; output: string }>;

/** The runtime settings of an image (`config` of its manifest). */
export interface ImageConfig {
  Env?: string[];
  Cmd?: string[];
  Entrypoint?: string[];
  WorkingDir?: string;
  User?: string;
}

/** What a container needs from an image. */
export interface StoredImage {
  /** Unpacked layer directories, lowest first. */
  layers: string[];
  /** `config` of the image's manifest (Env, Cmd, WorkingDir, ...), if any. */
  config: ImageConfig;
}

/** A parsed Docker image reference: `[registry/]repository[:tag|@digest]`. */
export interface ImageReference {
  registry?: string;
  repository: string;
  tag?: string;
  digest?: string;
}

/**
 * Parses a reference as Mesos does (and `docker pull`): the first path
 * component is a registry when it has a `.` or `:` or is `localhost`.
 */
export function parseImageReference(name: string): ImageReference | { error: string } {
  let rest = name;
  let digest: string | undefined;
  if (rest.includes("@")) {
    const parts = rest.split("@");
    if (parts.length !== 2) return { error: "Multiple '@' symbols found" };
    rest = parts[0] as string;
    digest = parts[1] as string;
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(":");
  if (colon >= 0 && !rest.slice(colon + 1).includes("/")) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
  }
  const slash = rest.indexOf("/");
  const first = slash < 0 ? "" : rest.slice(0, slash);
  const ref: ImageReference =
    slash >= 0 && (first.includes(".") || first.includes(":") || first === "localhost")
      ? { registry: first, repository: rest.slice(slash + 1) }
      : { repository: rest };
  if (tag !== undefined) ref.tag = tag;
  if (digest !== undefined) ref.digest = digest;
  return ref;
}

/** The reference as Mesos prints it (and names its archive). */
export function referenceString(ref: ImageReference): string {
  const base = ref.registry === undefined ? ref.repository : `${ref.registry}/${ref.repository}`;
  if (ref.digest !== undefined) return `${base}@${ref.digest}`;
  return ref.tag === undefined ? base : `${base}:${ref.tag}`;
}

/**
 * Archive names to look for, Mesos' own (`<reference>.tar`) first. The
 * others are leniencies of ours: `busybox` also finds `busybox:latest.tar`,
 * `library/busybox` also finds `busybox:latest.tar`.
 */
export function archiveCandidates(ref: ImageReference): string[] {
  const names = [referenceString(ref)];
  const bare = { ...ref, repository: ref.repository.replace(/^library\//, "") };
  if (ref.digest === undefined && ref.tag === undefined) {
    names.push(referenceString({ ...ref, tag: "latest" }));
  }
  names.push(referenceString(bare));
  if (bare.digest === undefined && bare.tag === undefined) {
    names.push(referenceString({ ...bare, tag: "latest" }));
  }
  return [...new Set(names)].map((n) => `${n}.tar`);
}

interface ImageRecord {
  reference: string;
  layer_ids: string[];
  /** Where the config lives when it is not the top layer's `json`. */
  config_digest?: string;
}

/** One layer of an unpacked archive: its id, its tarball and its v1 `json`, if any. */
interface ArchiveLayer {
  id: string;
  tar: string;
  json?: string;
}

/** The local Docker store. */
export class DockerStore {
  private readonly pending = new Map<string, Promise<StoredImage>>();
  private stored: Map<string, ImageRecord> | undefined;
  /** The last write of the list (see saveRecords); settled, never rejected. */
  private saving: Promise<void> = Promise.resolve();
  private saves = 0;
  /** Told how long each successful pull from the registry took (Mesos' image_pull timer). */
  onPull: ((ms: number) => void) | undefined;

  constructor(
    private readonly registryDir: string,
    private readonly storeDir: string,
    private readonly run: CommandRunner,
  ) {}

  /** `--docker_store_dir`. */
  get dir(): string {
    return this.storeDir;
  }

  /** Where layer `id` is kept. */
  layerPath(id: string): string {
    return join(this.storeDir, "layers", id);
  }

  /** The image `name`, pulled into the store unless it is there already. */
  get(name: string, cached = true): Promise<StoredImage> {
    const ref = parseImageReference(name);
    if ("error" in ref) {
      return Promise.reject(new Error(`Failed to parse docker image '${name}': ${ref.error}`));
    }
    const key = referenceString(ref);
    let found = this.pending.get(key);
    if (found === undefined) {
      found = this.load(ref, key, cached).finally(() => this.pending.delete(key));
      this.pending.set(key, found);
    }
    return found;
  }

  private async load(ref: ImageReference, key: string, cached: boolean): Promise<StoredImage> {
    const stored = await this.records();
    const record = stored.get(key);
    if (cached && record !== undefined && this.complete(record)) return this.image(record);
    const started = performance.now();
    const fresh = await this.pull(ref, key);
    this.onPull?.(performance.now() - started);
    stored.set(key, fresh);
    await this.saveRecords(stored);
    return this.image(fresh);
  }

  private complete(record: ImageRecord): boolean {
    return (
      record.layer_ids.every((id) => existsSync(join(this.layerPath(id), "rootfs"))) &&
      (record.config_digest === undefined || existsSync(this.layerPath(record.config_digest)))
    );
  }

  private async image(record: ImageRecord): Promise<StoredImage> {
    const top = record.layer_ids[record.layer_ids.length - 1] as string;
    const configPath =
      record.config_digest !== undefined
        ? this.layerPath(record.config_digest)
        : join(this.layerPath(top), "json");
    let config: ImageConfig = {};
    if (existsSync(configPath)) {
      try {
        config =
          (JSON.parse(await readFile(configPath, "utf8")) as { config?: ImageConfig }).config ?? {};
      } catch (e) {
        throw new Error(
          `Failed to parse docker manifest from '${configPath}': ${(e as Error).message}`,
        );
      }
    }
    return {
      layers: record.layer_ids.map((id) => join(this.layerPath(id), "rootfs")),
      config,
    };
  }

  private async records(): Promise<Map<string, ImageRecord>> {
    if (this.stored !== undefined) return this.stored;
    const map = new Map<string, ImageRecord>();
    const path = join(this.storeDir, "storedImages");
    if (existsSync(path)) {
      try {
        const parsed = JSON.parse(await readFile(path, "utf8")) as { images?: ImageRecord[] };
        for (const r of parsed.images ?? []) {
          if (typeof r.reference === "string" && Array.isArray(r.layer_ids))
            map.set(r.reference, r);
        }
      } catch {
        // An unreadable list only costs a new pull of each image.
      }
    }
    this.stored = map;
    return map;
  }

  /**
   * Writes the list of stored images. Pulls finishing at once (a task
   * group's images) each save: the writes go one after the other, each with
   * its own temporary file (a shared name had one write rename the other's
   * file away, failing its pull), and each writes the list as it is then.
   */
  private saveRecords(map: Map<string, ImageRecord>): Promise<void> {
    const path = join(this.storeDir, "storedImages");
    const write = async () => {
      const temp = `${path}.${process.pid}.${++this.saves}.tmp`;
      try {
        await writeFile(temp, JSON.stringify({ images: [...map.values()] }, null, 2));
        await rename(temp, path);
      } catch (e) {
        await rm(temp, { force: true });
        throw e;
      }
    };
    const saved = this.saving.then(write);
    this.saving = saved.catch(() => undefined);
    return saved;
  }

  /**
   * Image garbage collection (PRUNE_IMAGES), as Mesos: only the `excluded`
   * images stay in `storedImages`; every layer neither theirs nor in
   * `activeLayers` (used by running containers) is moved to `gc/` and
   * removed.
   */
  async prune(excluded: readonly string[], activeLayers: ReadonlySet<string>): Promise<void> {
    if (this.pending.size > 0) throw new Error("Cannot prune and pull at the same time");
    const keys = new Set<string>();
    for (const name of excluded) {
      const ref = parseImageReference(name);
      if ("error" in ref) throw new Error(`Failed to parse docker image '${name}': ${ref.error}`);
      keys.add(referenceString(ref));
    }
    const stored = await this.records();
    const retained = new Set<string>();
    for (const [key, record] of [...stored]) {
      if (!keys.has(key)) {
        stored.delete(key);
        continue;
      }
      for (const id of record.layer_ids) retained.add(id);
      if (record.config_digest !== undefined) retained.add(record.config_digest);
    }
    await mkdir(this.storeDir, { recursive: true });
    await this.saveRecords(stored);
    const layersDir = join(this.storeDir, "layers");
    const gcDir = join(this.storeDir, "gc");
    await mkdir(gcDir, { recursive: true });
    const ids = existsSync(layersDir) ? await readdir(layersDir) : [];
    for (const id of ids) {
      if (retained.has(id) || activeLayers.has(id) || id.endsWith(".tmp")) continue;
      await rename(join(layersDir, id), join(gcDir, `${id}.${Date.now()}`));
    }
    for (const entry of await readdir(gcDir)) {
      await rm(join(gcDir, entry), { recursive: true, force: true });
    }
  }

  private async findArchive(ref: ImageReference): Promise<string> {
    const candidates = archiveCandidates(ref);
    for (const candidate of candidates) {
      const path = join(this.registryDir, candidate);
      if (existsSync(path)) return path;
    }
    throw new Error(
      `Failed to find archive for image '${referenceString(ref)}' at '${join(this.registryDir, candidates[0] as string)}'`,
    );
  }

  /** Unpacks the archive of `ref` and moves the layers the store lacks into it. */
  private async pull(ref: ImageReference, key: string): Promise<ImageRecord> {
    const archive = await this.findArchive(ref);
    const stagingRoot = join(this.storeDir, "staging");
    await mkdir(stagingRoot, { recursive: true });
    await mkdir(join(this.storeDir, "layers"), { recursive: true });
    const staging = await mkdtemp(join(stagingRoot, "pull-"));
    try {
      const untar = await this.run("tar", ["-xf", archive, "-C", staging]);
      if (untar.code !== 0) {
        throw new Error(`Failed to extract archive '${archive}': ${untar.output.trim()}`);
      }
      const found = await archiveLayers(staging, ref);
      for (const layer of found.layers) await this.storeLayer(staging, layer);
      const record: ImageRecord = { reference: key, layer_ids: found.layers.map((l) => l.id) };
      if (found.config !== undefined) {
        const target = this.layerPath(found.config.digest);
        if (!existsSync(target)) {
          await writeFile(`${target}.tmp`, found.config.text);
          await rename(`${target}.tmp`, target);
        }
        record.config_digest = found.config.digest;
      }
      return record;
    } finally {
      await rm(staging, { recursive: true, force: true });
    }
  }

  private async storeLayer(staging: string, layer: ArchiveLayer): Promise<void> {
    const target = this.layerPath(layer.id);
    if (existsSync(join(target, "rootfs"))) return;
    const unpacked = join(staging, `layer-${basename(layer.id)}`);
    await mkdir(join(unpacked, "rootfs"), { recursive: true });
    const untar = await this.run("tar", ["-xf", layer.tar, "-C", join(unpacked, "rootfs")]);
    if (untar.code !== 0) {
      throw new Error(`Failed to extract layer '${layer.id}': ${untar.output.trim()}`);
    }
    if (layer.json !== undefined) await writeFile(join(unpacked, "json"), layer.json);
    // Another pull (an image sharing the layer) may have stored it meanwhile;
    // its copy may be in use, so it is kept and ours dropped with the staging dir.
    if (existsSync(join(target, "rootfs"))) return;
    // A directory without rootfs is debris (nothing renames a partial layer into place).
    if (existsSync(target)) await rm(target, { recursive: true, force: true });
    try {
      await rename(unpacked, target);
    } catch (e) {
      if (!existsSync(join(target, "rootfs"))) throw e;
    }
  }
}

/**
 * The layers of an unpacked archive: from `repositories` as Mesos reads
 * them; when that fails (Docker 25+ writes `repositories` but no per-layer
 * `json`) or there is none, from `manifest.json`.
 */
async function archiveLayers(
  staging: string,
  ref: ImageReference,
): Promise<{ layers: ArchiveLayer[]; config?: { digest: string; text: string } | undefined }> {
  const hasManifest = existsSync(join(staging, "manifest.json"));
  if (existsSync(join(staging, "repositories"))) {
    try {
      return await legacyLayers(staging, ref);
    } catch (e) {
      if (!hasManifest) throw e;
    }
  }
  return manifestLayers(staging, ref);
}

/** Reads a JSON file of an archive, or says which one is broken. */
async function readJson(path: string, what: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    throw new Error(`Failed to read '${what}': ${(e as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(`Failed to parse '${what}': ${(e as Error).message}`);
  }
}

/** The layers of a `repositories` archive: the tag's top layer and its parents. */
async function legacyLayers(
  staging: string,
  ref: ImageReference,
): Promise<{ layers: ArchiveLayer[]; config?: undefined }> {
  const repositories = (await readJson(join(staging, "repositories"), "repositories")) as Record<
    string,
    Record<string, string>
  >;
  const names = [
    ref.repository,
    ...(ref.registry === undefined ? [] : [`${ref.registry}/${ref.repository}`]),
    ref.repository.replace(/^library\//, ""),
  ];
  const repo = names.map((n) => repositories[n]).find((r) => r !== undefined);
  if (repo === undefined || typeof repo !== "object") {
    throw new Error(`Repository '${ref.repository}' does not exist in 'repositories'`);
  }
  const tag = ref.tag ?? "latest";
  const top = repo[tag];
  if (typeof top !== "string") throw new Error(`Layer id '${tag}' is not found`);
  const layers: ArchiveLayer[] = [];
  const seen = new Set<string>();
  let id: string | undefined = top;
  while (id !== undefined && id !== "") {
    if (seen.has(id) || !/^[A-Za-z0-9_.:-]+$/.test(id)) {
      throw new Error(`Failed to find parent layer id for layer '${top}': bad layer id '${id}'`);
    }
    seen.add(id);
    const jsonPath = join(staging, id, "json");
    let text: string;
    try {
      text = await readFile(jsonPath, "utf8");
    } catch (e) {
      throw new Error(`Failed to read manifest from '${jsonPath}': ${(e as Error).message}`);
    }
    let parent: unknown;
    try {
      parent = (JSON.parse(text) as { parent?: unknown }).parent;
    } catch (e) {
      throw new Error(`Failed to parse manifest from '${jsonPath}': ${(e as Error).message}`);
    }
    layers.unshift({ id, tar: join(staging, id, "layer.tar"), json: text });
    id = typeof parent === "string" ? parent : undefined;
  }
  return { layers };
}

/** The layers of a `manifest.json` archive, keyed by content hash, and its config. */
async function manifestLayers(
  staging: string,
  ref: ImageReference,
): Promise<{ layers: ArchiveLayer[]; config?: { digest: string; text: string } }> {
  const manifest = await readJson(join(staging, "manifest.json"), "manifest.json");
  const entries = Array.isArray(manifest) ? (manifest as Record<string, unknown>[]) : [];
  const wanted = referenceString({ ...ref, tag: ref.tag ?? "latest" });
  const entry =
    entries.find(
      (e) =>
        Array.isArray(e.RepoTags) &&
        (e.RepoTags as unknown[]).some(
          (t) => t === wanted || t === wanted.replace(/^library\//, ""),
        ),
    ) ?? entries[0];
  const listed = entry?.Layers;
  if (!Array.isArray(listed) || !listed.every((l) => typeof l === "string" && !l.includes(".."))) {
    throw new Error("The image archive's manifest.json lists no layers");
  }
  const layers: ArchiveLayer[] = [];
  for (const path of listed as string[]) {
    const tar = join(staging, path);
    if (!existsSync(tar)) throw new Error(`Layer '${path}' is missing from the image archive`);
    layers.push({ id: `sha256:${await sha256File(tar)}`, tar });
  }
  let config: { digest: string; text: string } | undefined;
  if (typeof entry?.Config === "string" && !entry.Config.includes("..")) {
    try {
      const text = await readFile(join(staging, entry.Config), "utf8");
      config = { digest: `sha256:${createHash("sha256").update(text).digest("hex")}`, text };
    } catch {
      // No config: the image has no runtime settings.
    }
  }
  return config === undefined ? { layers } : { layers, config };
}

function sha256File(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash("sha256");
    createReadStream(path)
      .on("data", (chunk) => hash.update(chunk))
      .on("error", reject)
      .on("end", () => resolve(hash.digest("hex")));
  });
}
