/**
 * The Docker image store of the Mesos containerizer, fed from a local
 * registry: `--docker_registry` names a directory of `docker save`
 * archives (`<repository>:<tag>.tar` or `<repository>.tar`). An archive is
 * unpacked once into `--docker_store_dir/images/<key>`; its `manifest.json`
 * lists the layer tarballs, lowest first, and the image config.
 */
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readFile, rename, rm, stat } from "node:fs/promises";
import { join } from "node:path";

/** Runs a program to completion (through the launcher helper). */
export type CommandRunner = (
  file: string,
  args: string[],
) => Promise<{ code: number | null; output: string }>;

/** What a container needs from an image. */
export interface StoredImage {
  /** Layer tarballs, lowest first. */
  layers: string[];
  /** `config` of the image's config JSON (Env, Cmd, WorkingDir, ...), if any. */
  config: { Env?: string[]; Cmd?: string[]; Entrypoint?: string[]; WorkingDir?: string };
}

/** `busybox`, `busybox:1.36`, `library/busybox:latest` -> repository and tag. */
export function parseImageReference(name: string): { repository: string; tag: string } {
  const slash = name.lastIndexOf("/");
  const colon = name.lastIndexOf(":");
  const at = name.indexOf("@");
  let repository = at >= 0 ? name.slice(0, at) : name;
  let tag = "latest";
  if (at < 0 && colon > slash) {
    repository = name.slice(0, colon);
    tag = name.slice(colon + 1);
  }
  return { repository: repository.replace(/^library\//, ""), tag };
}

/** Archive names to look for, most specific first. */
export function archiveCandidates(name: string): string[] {
  const { repository, tag } = parseImageReference(name);
  return [...new Set([`${repository}:${tag}.tar`, `${repository}.tar`, `${name}.tar`])];
}

/** The local Docker store. */
export class DockerStore {
  private readonly pending = new Map<string, Promise<StoredImage>>();

  constructor(
    private readonly registryDir: string,
    private readonly storeDir: string,
    private readonly run: CommandRunner,
  ) {}

  /** The image `name`, unpacked into the store on first use. */
  get(name: string): Promise<StoredImage> {
    let found = this.pending.get(name);
    if (found === undefined) {
      found = this.load(name);
      this.pending.set(name, found);
      found.catch(() => this.pending.delete(name));
    }
    return found;
  }

  private async load(name: string): Promise<StoredImage> {
    let archive: string | undefined;
    for (const candidate of archiveCandidates(name)) {
      const path = join(this.registryDir, candidate);
      if (existsSync(path)) {
        archive = path;
        break;
      }
    }
    if (archive === undefined) {
      throw new Error(
        `image '${name}' is not in the local registry '${this.registryDir}' (looked for ${archiveCandidates(name).join(", ")})`,
      );
    }
    const info = await stat(archive);
    const key = createHash("sha256")
      .update(`${archive}\0${info.size}\0${info.mtimeMs}`)
      .digest("hex")
      .slice(0, 32);
    const dir = join(this.storeDir, "images", key);
    if (!existsSync(join(dir, "manifest.json"))) {
      const staging = `${dir}.${process.pid}.${Date.now()}`;
      await mkdir(staging, { recursive: true });
      const result = await this.run("tar", ["-xf", archive, "-C", staging]);
      if (result.code !== 0) {
        await rm(staging, { recursive: true, force: true });
        throw new Error(`cannot unpack image archive '${archive}': ${result.output.trim()}`);
      }
      await rm(dir, { recursive: true, force: true });
      await rename(staging, dir);
    }
    return readManifest(dir);
  }
}

async function readManifest(dir: string): Promise<StoredImage> {
  let manifest: unknown;
  try {
    manifest = JSON.parse(await readFile(join(dir, "manifest.json"), "utf8"));
  } catch (e) {
    throw new Error(`the image archive has no readable manifest.json: ${(e as Error).message}`);
  }
  const entry = Array.isArray(manifest) ? (manifest[0] as Record<string, unknown>) : undefined;
  const layers = entry?.Layers;
  if (!Array.isArray(layers) || !layers.every((l) => typeof l === "string")) {
    throw new Error("the image's manifest.json lists no layers");
  }
  let config: StoredImage["config"] = {};
  if (typeof entry?.Config === "string") {
    try {
      const parsed = JSON.parse(await readFile(join(dir, entry.Config), "utf8")) as {
        config?: StoredImage["config"];
      };
      config = parsed.config ?? {};
    } catch {
      // No config: the image has no runtime settings.
    }
  }
  return { layers: (layers as string[]).map((l) => join(dir, l)), config };
}
