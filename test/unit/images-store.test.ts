/**
 * The Docker store's pure parts and its archive reading without root:
 * Mesos' image reference parsing and archive names, the docker/runtime
 * command rules, Docker 25-style archives (repositories without per-layer
 * json, blobs listed in manifest.json), and the copy backend's plan for a
 * layer (whiteouts, links and type changes below it).
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import {
  archiveCandidates,
  DockerStore,
  parseImageReference,
  referenceString,
} from "../../src/agent/containerizer/images/docker-store.js";
import {
  runtimeArgv,
  runtimeCommandError,
} from "../../src/agent/containerizer/images/image-launch.js";
import { parseImageGcConfig, planLayer } from "../../src/agent/containerizer/images/provisioner.js";

const run = async (file: string, args: string[]) => {
  const r = spawnSync(file, args, { encoding: "utf8" });
  return { code: r.status, output: `${r.stdout}${r.stderr}` };
};

test("images: references parse as Mesos (registry only with '.', ':' or localhost; tag after the last '/')", () => {
  assert.deepEqual(parseImageReference("busybox"), { repository: "busybox" });
  assert.deepEqual(parseImageReference("library/busybox:1.36"), {
    repository: "library/busybox",
    tag: "1.36",
  });
  assert.deepEqual(parseImageReference("localhost:5000/team/app"), {
    registry: "localhost:5000",
    repository: "team/app",
  });
  assert.deepEqual(parseImageReference("registry.example.com/app:2@sha256:ab"), {
    registry: "registry.example.com",
    repository: "app",
    tag: "2",
    digest: "sha256:ab",
  });
  assert.deepEqual(parseImageReference("a@b@c"), { error: "Multiple '@' symbols found" });
  assert.equal(
    referenceString({ repository: "app", tag: "1", digest: "sha256:x" }),
    "app@sha256:x",
  );
});

test("images: the archive named as Mesos names it comes first, then our leniencies", () => {
  assert.deepEqual(archiveCandidates({ repository: "busybox" }), [
    "busybox.tar",
    "busybox:latest.tar",
  ]);
  assert.deepEqual(archiveCandidates({ repository: "library/busybox", tag: "1" }), [
    "library/busybox:1.tar",
    "busybox:1.tar",
  ]);
});

test("docker/runtime: Mesos' table of CommandInfo against Entrypoint and Cmd", () => {
  const both = { Entrypoint: ["/e", "e1"], Cmd: ["c1"] };
  assert.deepEqual(runtimeArgv({ shell: false }, both), { argv: ["/e", "e1", "c1"] });
  assert.deepEqual(runtimeArgv({ shell: false, arguments: ["a"] }, both), {
    argv: ["/e", "e1", "a"],
  });
  assert.deepEqual(runtimeArgv({ shell: false }, { Cmd: ["/c", "c1"] }), { argv: ["/c", "c1"] });
  assert.deepEqual(runtimeArgv({ shell: false, arguments: ["a"] }, { Cmd: ["/c", "c1"] }), {
    argv: ["/c", "a"],
  });
  assert.equal(runtimeCommandError({ shell: false }, {}), "No executable is found");
  assert.equal(runtimeCommandError({ shell: false, value: "/x" }, {}), undefined);
  assert.equal(
    runtimeCommandError({ shell: true }, both),
    "Shell specified but no command value provided",
  );
  assert.equal(runtimeCommandError({}, both), "Shell specified but no command value provided");
  assert.equal(runtimeCommandError({ value: "true" }, {}), undefined);
});

test("images: a Docker 25-style archive (repositories, blobs in manifest.json, no layer json) loads from manifest.json", async () => {
  const work = mkdtempSync(join(tmpdir(), "images-store-unit-"));
  const root = join(work, "root");
  mkdirSync(join(root, "etc"), { recursive: true });
  writeFileSync(join(root, "etc", "hello"), "hi\n");
  const image = join(work, "image");
  mkdirSync(join(image, "blobs", "sha256"), { recursive: true });
  execFileSync("tar", ["-cf", join(image, "blobs", "sha256", "aaaa"), "-C", root, "."]);
  writeFileSync(
    join(image, "blobs", "sha256", "cccc"),
    JSON.stringify({ config: { Env: ["A=1"], Cmd: ["/bin/true"] } }),
  );
  writeFileSync(join(image, "repositories"), JSON.stringify({ app: { latest: "aaaa" } }));
  writeFileSync(
    join(image, "manifest.json"),
    JSON.stringify([
      { Config: "blobs/sha256/cccc", RepoTags: ["app:latest"], Layers: ["blobs/sha256/aaaa"] },
    ]),
  );
  const registry = join(work, "registry");
  mkdirSync(registry);
  execFileSync("tar", ["-cf", join(registry, "app:latest.tar"), "-C", image, "."]);
  const storeDir = join(work, "store");
  const store = new DockerStore(registry, storeDir, run);
  const got = await store.get("app:latest");
  assert.equal(got.layers.length, 1);
  assert.match(got.layers[0] as string, /\/layers\/sha256:[0-9a-f]{64}\/rootfs$/);
  assert.deepEqual(readdirSync(got.layers[0] as string), ["etc"]);
  assert.deepEqual(got.config, { Env: ["A=1"], Cmd: ["/bin/true"] });
  // A second store object (an agent restart) finds it in storedImages.
  const again = await new DockerStore(join(work, "nowhere"), storeDir, run).get("app:latest");
  assert.deepEqual(again, got);
});

test("images: a layer's plan removes whited-out paths, opaque directories, and links or type changes below it", async () => {
  const work = mkdtempSync(join(tmpdir(), "images-plan-unit-"));
  const rootfs = join(work, "rootfs");
  mkdirSync(join(rootfs, "etc"), { recursive: true });
  mkdirSync(join(rootfs, "data"), { recursive: true });
  writeFileSync(join(rootfs, "file-becomes-dir"), "");
  symlinkSync("etc", join(rootfs, "lnk"));
  const layer = join(work, "layer");
  mkdirSync(join(layer, "etc"), { recursive: true });
  writeFileSync(join(layer, "etc", ".wh.passwd"), "");
  mkdirSync(join(layer, "data"), { recursive: true });
  writeFileSync(join(layer, "data", ".wh..wh..opq"), "");
  mkdirSync(join(layer, "file-becomes-dir"), { recursive: true });
  mkdirSync(join(layer, "lnk"), { recursive: true });
  const plan = await planLayer(layer, rootfs);
  assert.deepEqual(plan.remove.sort(), ["data", "etc/passwd", "file-becomes-dir", "lnk"]);
  assert.deepEqual(plan.whiteouts.sort(), ["data/.wh..wh..opq", "etc/.wh.passwd"]);
});

test("images: --image_gc_config reads Mesos' ImageGcConfig with its defaults", () => {
  assert.deepEqual(parseImageGcConfig({}), { headroom: 0.1, intervalMs: 3_600_000, excluded: [] });
  assert.deepEqual(
    parseImageGcConfig({
      image_disk_headroom: 0.2,
      image_disk_watch_interval: { nanoseconds: 5_000_000_000 },
      excluded_images: [{ type: "DOCKER", docker: { name: "busybox" } }, { type: "APPC" }],
    }),
    { headroom: 0.2, intervalMs: 5000, excluded: ["busybox"] },
  );
  assert.ok("error" in parseImageGcConfig({ image_disk_headroom: -1 }));
  assert.ok("error" in parseImageGcConfig([]));
});

test("images: two images pulled at once that share a layer keep the first stored copy (it may be in use)", async () => {
  const work = mkdtempSync(join(tmpdir(), "images-shared-unit-"));
  const registry = join(work, "registry");
  mkdirSync(registry);
  const root = join(work, "root");
  mkdirSync(root);
  writeFileSync(join(root, "shared-file"), "x\n");
  for (const name of ["a", "b"]) {
    const image = join(work, `image-${name}`);
    mkdirSync(join(image, "shared"), { recursive: true });
    execFileSync("tar", ["-cf", join(image, "shared", "layer.tar"), "-C", root, "."]);
    writeFileSync(join(image, "shared", "json"), JSON.stringify({ id: "shared", config: {} }));
    writeFileSync(join(image, "repositories"), JSON.stringify({ [name]: { latest: "shared" } }));
    execFileSync("tar", ["-cf", join(registry, `${name}.tar`), "-C", image, "."]);
  }
  // b's copy of the layer is unpacked only after a's pull has stored its own.
  let aDone: () => void = () => undefined;
  const aStored = new Promise<void>((resolve) => {
    aDone = resolve;
  });
  const stagingOf = new Map<string, string>();
  const gated = async (file: string, args: string[]) => {
    const into = args[args.indexOf("-C") + 1] as string;
    const archive = args[1] as string;
    if (archive.startsWith(registry)) stagingOf.set(into, archive);
    const owner = [...stagingOf].find(([staging]) => into.startsWith(`${staging}/`))?.[1];
    if (owner?.endsWith("/b.tar") === true) await aStored;
    return run(file, args);
  };
  const store = new DockerStore(registry, join(work, "store"), gated);
  const a = store.get("a").then((image) => {
    const inode = statSync(join(image.layers[0] as string, "shared-file")).ino;
    aDone();
    return inode;
  });
  const [inode, b] = await Promise.all([a, store.get("b")]);
  assert.equal(statSync(join(b.layers[0] as string, "shared-file")).ino, inode);
});

test("images: the list of stored images survives writes at once (pulls finishing together)", async () => {
  const work = mkdtempSync(join(tmpdir(), "images-saves-unit-"));
  const registry = join(work, "registry");
  mkdirSync(registry);
  const root = join(work, "root");
  mkdirSync(root);
  writeFileSync(join(root, "file"), "x\n");
  const image = join(work, "image");
  mkdirSync(join(image, "l1"), { recursive: true });
  execFileSync("tar", ["-cf", join(image, "l1", "layer.tar"), "-C", root, "."]);
  writeFileSync(join(image, "l1", "json"), JSON.stringify({ id: "l1", config: {} }));
  writeFileSync(join(image, "repositories"), JSON.stringify({ a: { latest: "l1" } }));
  execFileSync("tar", ["-cf", join(registry, "a.tar"), "-C", image, "."]);
  const storeDir = join(work, "store");
  const store = new DockerStore(registry, storeDir, run);
  await store.get("a");
  // Each keeps 'a' and saves the list, both at once (a shared temporary
  // file name failed one of them with ENOENT).
  await Promise.all([0, 1, 2, 3].map(() => store.prune(["a"], new Set())));
  assert.deepEqual(
    readdirSync(storeDir).filter((n) => n.startsWith("storedImages")),
    ["storedImages"],
  );
  const again = await new DockerStore(join(work, "nowhere"), storeDir, run).get("a");
  assert.equal(again.layers.length, 1);
});
