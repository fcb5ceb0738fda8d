/**
 * A one-layer busybox image as a `docker save` archive, built locally from
 * a static busybox (Debian's busybox-static), for benchmarks that run
 * containers from `--docker_registry=<dir>` without pulling anything.
 */
import { execFileSync } from "node:child_process";
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { tempDir } from "../../test/harness/processes.js";

/** Path of a statically linked busybox, or undefined when there is none. */
export function staticBusybox(): string | undefined {
  const found = ["/bin/busybox", "/usr/bin/busybox"].find((p) => existsSync(p));
  if (found === undefined) return undefined;
  try {
    const kind = execFileSync("file", ["-L", found], { encoding: "utf8" });
    return kind.includes("dynamically") ? undefined : found;
  } catch {
    // No `file`: Debian's busybox-static is the usual one, assume static.
    return found;
  }
}

/**
 * Writes `<registry>/<name>:latest.tar` (busybox with sh, sleep, cat and
 * true as links; `PATH=/bin`) and returns the image name. `registry` must
 * exist; the build directory is removed afterwards.
 */
export function buildBusyboxImage(registry: string, busybox: string, name = "busybox"): string {
  const work = tempDir("bench-image-build-");
  try {
    const root = join(work, "root");
    mkdirSync(join(root, "bin"), { recursive: true });
    mkdirSync(join(root, "etc"), { recursive: true });
    mkdirSync(join(root, "tmp"), { recursive: true });
    copyFileSync(busybox, join(root, "bin", "busybox"));
    chmodSync(join(root, "bin", "busybox"), 0o755);
    for (const tool of ["sh", "sleep", "cat", "true"])
      symlinkSync("busybox", join(root, "bin", tool));
    const image = join(work, "image");
    mkdirSync(join(image, "layer"), { recursive: true });
    execFileSync("tar", ["-cf", join(image, "layer", "layer.tar"), "-C", root, "."]);
    writeFileSync(
      join(image, "config.json"),
      JSON.stringify({ config: { Env: ["PATH=/bin"], Cmd: ["/bin/sh"] } }),
    );
    writeFileSync(
      join(image, "manifest.json"),
      JSON.stringify([
        { Config: "config.json", RepoTags: [`${name}:latest`], Layers: ["layer/layer.tar"] },
      ]),
    );
    execFileSync("tar", ["-cf", join(registry, `${name}:latest.tar`), "-C", image, "."]);
    return name;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
