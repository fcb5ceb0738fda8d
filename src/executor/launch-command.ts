/**
 * How to start the command executor, for the agent: the node binary and
 * the entry script, preferring the single-file bundle (about 20 ms faster
 * to start than the module tree; see docs/architecture/command-executor.md).
 *
 * `ensureCommandExecutorBundle()` (re)writes the bundle next to
 * `command-executor-main.js` when it is missing or out of date; the agent
 * calls it once at start-up. Run `node dist/src/executor/launch-command.js`
 * to do the same from a build script.
 */
import { readFileSync, realpathSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { bundleModules } from "./bundle.js";

const here = dirname(fileURLToPath(import.meta.url));

/** The command executor's entry module (what `bin/mesos-executor` runs). */
export const COMMAND_EXECUTOR_MAIN = join(here, "command-executor-main.js");

/**
 * What the agent runs: the single-file bundle of the entry, as CommonJS
 * (Node then skips its ES module loader: ~5-7 % less CPU per start), beside
 * the entry.
 */
export const COMMAND_EXECUTOR_BUNDLE = join(here, "command-executor.bundle.cjs");

/**
 * The same bundle run through V8's code cache by a small loader
 * (bundle-loader.ts, code-cache.ts). Measured neutral for bundles this
 * small (compile saved ≈ loading and deserializing the cache;
 * docs/architecture/command-executor.md), so not what the agent runs; kept
 * for the benchmark and for larger bundles.
 */
export const COMMAND_EXECUTOR_CACHED = join(here, "command-executor.cached.cjs");

/** The loader's compiled module. */
const BUNDLE_LOADER = join(here, "bundle-loader.js");

/** What the entry loads after subscribing, also bundled. */
const TASK_RUNTIME = join(here, "task-runtime.js");
const TASK_RUNTIME_BUNDLE = join(here, "task-runtime.bundle.cjs");

/** The default executor (task groups): entry module, bundle and cached loader, as above. */
export const DEFAULT_EXECUTOR_MAIN = join(here, "default-executor-main.js");
export const DEFAULT_EXECUTOR_BUNDLE = join(here, "default-executor.bundle.cjs");
const DEFAULT_EXECUTOR_CACHED = join(here, "default-executor.cached.cjs");

/** The docker executor (compiled under src/agent), bundled here beside the others. */
export const DOCKER_EXECUTOR_MAIN = join(
  here,
  "../agent/containerizer/docker/docker-executor-main.js",
);
export const DOCKER_EXECUTOR_BUNDLE = join(here, "docker-executor.bundle.cjs");
const DOCKER_EXECUTOR_CACHED = join(here, "docker-executor.cached.cjs");

/** Writes `text` to `file` unless it already holds exactly that (atomically: temp file, rename). */
function writeIfChanged(file: string, text: string): void {
  let current: string | undefined;
  try {
    current = readFileSync(file, "utf8");
  } catch {
    current = undefined;
  }
  if (current === text) return;
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}

/**
 * Writes the bundle if it is missing or differs from a fresh one. Returns
 * the entry script to run: the bundle, or the plain entry when the bundle
 * cannot be written (e.g. a read-only installation) — with the reason.
 */
export function ensureCommandExecutorBundle(): { entry: string; error?: string } {
  try {
    // Dependencies first: the loader runs the entry's code, which loads the runtime.
    writeIfChanged(TASK_RUNTIME_BUNDLE, bundleModules(TASK_RUNTIME, { format: "cjs" }));
    writeIfChanged(
      COMMAND_EXECUTOR_BUNDLE,
      bundleModules(COMMAND_EXECUTOR_MAIN, {
        rewriteDynamicImports: { "./task-runtime.js": "./task-runtime.bundle.cjs" },
        format: "cjs",
      }),
    );
    writeIfChanged(COMMAND_EXECUTOR_CACHED, bundleModules(BUNDLE_LOADER, { format: "cjs" }));
    return { entry: COMMAND_EXECUTOR_BUNDLE };
  } catch (err) {
    return { entry: COMMAND_EXECUTOR_MAIN, error: (err as Error).message };
  }
}

/**
 * Writes the default executor's bundle (loader + code, as for the command
 * executor) if missing or stale. Returns the entry script to run, or the
 * module tree with the reason the bundle cannot be used.
 */
export function ensureDefaultExecutorBundle(): { entry: string; error?: string } {
  try {
    writeIfChanged(
      DEFAULT_EXECUTOR_BUNDLE,
      bundleModules(DEFAULT_EXECUTOR_MAIN, { format: "cjs" }),
    );
    writeIfChanged(DEFAULT_EXECUTOR_CACHED, bundleModules(BUNDLE_LOADER, { format: "cjs" }));
    return { entry: DEFAULT_EXECUTOR_BUNDLE };
  } catch (err) {
    return { entry: DEFAULT_EXECUTOR_MAIN, error: (err as Error).message };
  }
}

/**
 * Writes the docker executor's bundle (loader + code) if missing or stale;
 * returns the entry to run, or its module with the reason.
 */
export function ensureDockerExecutorBundle(): { entry: string; error?: string } {
  try {
    writeIfChanged(DOCKER_EXECUTOR_BUNDLE, bundleModules(DOCKER_EXECUTOR_MAIN, { format: "cjs" }));
    writeIfChanged(DOCKER_EXECUTOR_CACHED, bundleModules(BUNDLE_LOADER, { format: "cjs" }));
    return { entry: DOCKER_EXECUTOR_BUNDLE };
  } catch (err) {
    return { entry: DOCKER_EXECUTOR_MAIN, error: (err as Error).message };
  }
}

/**
 * The command line that starts the command executor: the current node
 * binary and the entry script, with no Node or V8 flags (any V8 flag makes
 * Node drop its built-in code cache). Call `ensureCommandExecutorBundle()`
 * first to get the faster entry.
 */
export function commandExecutorCommandLine(entry: string = COMMAND_EXECUTOR_BUNDLE): string[] {
  return [process.execPath, entry];
}

function isEntryPoint(): boolean {
  const script = process.argv[1];
  try {
    return script !== undefined && realpathSync(script) === fileURLToPath(import.meta.url);
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  for (const [what, ensure] of [
    ["command executor", ensureCommandExecutorBundle],
    ["default executor", ensureDefaultExecutorBundle],
    ["docker executor", ensureDockerExecutorBundle],
  ] as const) {
    const result = ensure();
    if (result.error !== undefined) {
      process.stderr.write(`Failed to bundle the ${what}: ${result.error}\n`);
      process.exitCode = 1;
    } else {
      process.stdout.write(`${result.entry}\n`);
    }
  }
}
