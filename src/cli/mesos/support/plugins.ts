/**
 * Plugins: `mesos foo ARGS` runs an executable `mesos-foo` found in the
 * launcher's own directory or on PATH, as Mesos' `mesos` did. The plugin
 * inherits the terminal and its exit code becomes ours.
 */
import { spawn } from "node:child_process";
import { accessSync, constants, readdirSync, statSync } from "node:fs";
import { constants as osConstants } from "node:os";
import { delimiter, join } from "node:path";

/** Directories searched, in order: the launcher's own, then PATH. */
export function pluginDirs(pathEnv: string | undefined, launcherDir: string | undefined): string[] {
  const dirs = (pathEnv ?? "").split(delimiter).filter((d) => d !== "");
  return launcherDir === undefined ? dirs : [launcherDir, ...dirs.filter((d) => d !== launcherDir)];
}

function isExecutableFile(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The path of `mesos-<name>`, or undefined. */
export function findPlugin(name: string, dirs: readonly string[]): string | undefined {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) return undefined;
  for (const dir of dirs) {
    const candidate = join(dir, `mesos-${name}`);
    if (isExecutableFile(candidate)) return candidate;
  }
  return undefined;
}

/** Names of every plugin found (`mesos-foo` gives `foo`), sorted, without duplicates. */
export function listPlugins(dirs: readonly string[], exclude: ReadonlySet<string>): string[] {
  const names = new Set<string>();
  for (const dir of dirs) {
    let entries: string[];
    try {
      entries = readdirSync(dir);
    } catch {
      continue;
    }
    for (const entry of entries) {
      if (!entry.startsWith("mesos-")) continue;
      const name = entry.slice("mesos-".length);
      // mesos-slave is the deprecated name of mesos-agent, as Mesos' own listing skipped it.
      if (name === "" || name === "slave" || exclude.has(name) || names.has(name)) continue;
      if (isExecutableFile(join(dir, entry))) names.add(name);
    }
  }
  return [...names].sort();
}

/** Runs a plugin with the terminal attached; resolves with its exit code (128+n for signal n). */
export function runPlugin(
  path: string,
  args: readonly string[],
  env: Record<string, string | undefined>,
): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(path, [...args], { stdio: "inherit", env });
    // While the plugin runs, Ctrl-C is its business: the signal reaches it through the terminal.
    const ignore = () => {};
    process.on("SIGINT", ignore);
    const done = (code: number) => {
      process.off("SIGINT", ignore);
      resolve(code);
    };
    child.once("error", (e) => {
      process.stderr.write(`mesos: cannot run ${path}: ${e.message}\n`);
      done(1);
    });
    child.once("exit", (code, signal) => {
      if (signal !== null) {
        const n = (osConstants.signals as Record<string, number>)[signal] ?? 0;
        done(128 + n);
        return;
      }
      done(code ?? 1);
    });
  });
}
