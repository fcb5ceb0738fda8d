/**
 * Builds Docker image archives for the image tests from a static busybox:
 * the layout `docker save` writes and Mesos' local puller reads
 * (`repositories`, and per layer `<id>/layer.tar` and `<id>/json` naming its
 * parent; the top layer's json holds the runtime config), or the
 * `manifest.json` layout of newer `docker save`.
 */
import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { tempDir } from "../harness/processes.js";

export const BUSYBOX = ["/bin/busybox", "/usr/bin/busybox"].find((p) => existsSync(p));

function isStatic(path: string): boolean {
  try {
    return !execFileSync("file", ["-L", path], { encoding: "utf8" }).includes("dynamically");
  } catch {
    return true;
  }
}

/** Why the image tests cannot run here, or undefined. */
export const imageSkip =
  process.platform !== "linux" || process.getuid?.() !== 0
    ? "needs root on Linux (mount namespaces, chroot)"
    : BUSYBOX === undefined || !isStatic(BUSYBOX)
      ? "needs a static busybox (busybox-static)"
      : undefined;

/** A layer's content: path -> file text, `{ dir: true }`, or `{ link: target }`. */
export type LayerFiles = Record<string, string | { dir: true } | { link: string }>;

/** busybox at /bin/busybox with the usual applets as symlinks. */
export function busyboxFiles(): LayerFiles {
  const files: LayerFiles = { "bin/busybox": "" };
  for (const tool of ["sh", "cat", "ls", "echo", "pwd", "env", "test", "id", "sleep", "grep"]) {
    files[`bin/${tool}`] = { link: "busybox" };
  }
  return files;
}

function writeLayer(root: string, files: LayerFiles): void {
  mkdirSync(root, { recursive: true });
  for (const [path, content] of Object.entries(files)) {
    const full = join(root, path);
    mkdirSync(dirname(full), { recursive: true });
    if (typeof content === "string") {
      if (path === "bin/busybox") {
        copyFileSync(BUSYBOX as string, full);
        execFileSync("chmod", ["755", full]);
      } else {
        writeFileSync(full, content);
      }
    } else if ("dir" in content) {
      mkdirSync(full, { recursive: true });
    } else {
      symlinkSync(content.link, full);
    }
  }
}

function tarLayer(root: string, out: string): void {
  mkdirSync(dirname(out), { recursive: true });
  execFileSync("tar", ["-cf", out, "-C", root, "."]);
}

export interface ImageSpec {
  repository: string;
  tag?: string;
  /** Layer ids (legacy layout only) and contents, lowest first. */
  layers: { id?: string; files: LayerFiles }[];
  config?: Record<string, unknown>;
}

/** Writes `<registry>/<file>` in the `repositories` layout (what Mesos reads). */
export function buildLegacyImage(registry: string, file: string, spec: ImageSpec): void {
  const work = tempDir("mesos-image-legacy-");
  const image = join(work, "image");
  let parent: string | undefined;
  spec.layers.forEach((layer, i) => {
    const id = layer.id ?? `${spec.repository}-layer-${i}`.replace(/[^A-Za-z0-9_.-]/g, "-");
    writeLayer(join(work, `root-${i}`), layer.files);
    tarLayer(join(work, `root-${i}`), join(image, id, "layer.tar"));
    const json: Record<string, unknown> = { id };
    if (parent !== undefined) json.parent = parent;
    if (i === spec.layers.length - 1) json.config = spec.config ?? {};
    writeFileSync(join(image, id, "json"), JSON.stringify(json));
    writeFileSync(join(image, id, "VERSION"), "1.0");
    parent = id;
  });
  writeFileSync(
    join(image, "repositories"),
    JSON.stringify({ [spec.repository]: { [spec.tag ?? "latest"]: parent } }),
  );
  mkdirSync(dirname(join(registry, file)), { recursive: true });
  execFileSync("tar", ["-cf", join(registry, file), "-C", image, "."]);
}

/** Writes `<registry>/<file>` in the `manifest.json` layout (as the older image tests do). */
export function buildManifestImage(registry: string, file: string, spec: ImageSpec): void {
  const work = tempDir("mesos-image-manifest-");
  const image = join(work, "image");
  const layers = spec.layers.map((layer, i) => {
    writeLayer(join(work, `root-${i}`), layer.files);
    tarLayer(join(work, `root-${i}`), join(image, `l${i}`, "layer.tar"));
    return `l${i}/layer.tar`;
  });
  writeFileSync(join(image, "config.json"), JSON.stringify({ config: spec.config ?? {} }));
  writeFileSync(
    join(image, "manifest.json"),
    JSON.stringify([
      {
        Config: "config.json",
        RepoTags: [`${spec.repository}:${spec.tag ?? "latest"}`],
        Layers: layers,
      },
    ]),
  );
  execFileSync("tar", ["-cf", join(registry, file), "-C", image, "."]);
}

/** A ContainerInfo running in the Docker image `name`. */
export function imageContainer(name: string, cached?: boolean) {
  return {
    type: "MESOS",
    mesos: {
      image: { type: "DOCKER", docker: { name }, ...(cached === undefined ? {} : { cached }) },
    },
  };
}
