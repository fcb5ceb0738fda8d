/**
 * Builds the NestedContainers unit tests use: a fake (or partial) launcher,
 * no isolators unless given, and one running executor container `parentId`
 * (default "exec") whose sandbox is `sandbox`. Any other option overrides.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { rmSync } from "node:fs";
import type { Isolator } from "../../src/agent/containerizer/isolators/isolator.js";
import type { LauncherClient } from "../../src/agent/containerizer/launcher.js";
import {
  NestedContainers,
  type NestedContainersOptions,
} from "../../src/agent/containerizer/nested-containers.js";
import { ProcessSweeper } from "../../src/agent/containerizer/process-sweeper.js";
import { silentLogger } from "../../src/common/observability/logger.js";

export interface NestedFixtureOptions extends Partial<Omit<NestedContainersOptions, "launcher">> {
  /** The executor container's id that `parentOf` knows (default "exec"). */
  parentId?: string;
}

/** A NestedContainers whose only known parent is `parentId` with sandbox `sandbox`. */
export function nestedContainersFixture(
  launcher: LauncherClient,
  sandbox: string,
  options: NestedFixtureOptions = {},
): NestedContainers {
  const { parentId = "exec", ...rest } = options;
  return new NestedContainers({
    launcher,
    logger: silentLogger,
    isolators: [],
    sweeper: new ProcessSweeper(silentLogger),
    parentOf: (id) =>
      id === parentId
        ? {
            containerId: id,
            directory: sandbox,
            frameworkId: "f",
            executorId: "e",
            executorName: "",
          }
        : undefined,
    ...rest,
  });
}

/**
 * A fake launcher whose every spawn is `sleep 1000` in the request's cwd
 * (else `defaultCwd`), pushed onto `started` so the test can kill it; `run`
 * runs the command here; `user` looks the user up with `id`, or is refused
 * when `lookUpUsers` is false.
 */
export function sleepingLauncher(
  started: ChildProcess[],
  defaultCwd: string,
  options: { lookUpUsers?: boolean; onUser?: (name: string) => void } = {},
): LauncherClient {
  return {
    async spawn(req: { cwd?: string }) {
      const c = spawn("sleep", ["1000"], { cwd: req.cwd ?? defaultCwd, stdio: "ignore" });
      started.push(c);
      return { id: 0, pid: c.pid ?? -1 };
    },
    async run(req: { file: string; args: string[] }) {
      execFileSync(req.file, req.args);
      return { id: 0, code: 0, output: "" };
    },
    async user(name: string) {
      if (options.lookUpUsers !== true) throw new Error("no users in this test");
      options.onUser?.(name);
      const id = (flag: string) => Number(execFileSync("id", [flag, name]).toString());
      return { uid: id("-u"), gid: id("-g"), home: "/" };
    },
  } as unknown as LauncherClient;
}

/** An isolator whose prepare runs `hook` with the container's sandbox (after it is made, before the launch). */
export function hookIsolator(hook: (directory: string) => void): Isolator {
  return {
    name: "test/hook",
    async prepare(config) {
      hook(config.directory);
      return undefined;
    },
    async isolate() {},
    async update() {},
    async usage() {
      return { timestamp: 0 };
    },
    async cleanup() {},
    async recover() {},
  } as Isolator;
}

/** The end of a fake launcher test: SIGKILLs what it `started` that still runs, removes `root`. */
export function endLauncherTest(started: ChildProcess[], root: string): void {
  for (const c of started) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  rmSync(root, { recursive: true, force: true });
}
