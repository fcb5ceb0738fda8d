/**
 * The sweeper finds a cgroup-less container's processes by the marker they
 * carry (`CONTAINER_ID_VARIABLE` and `CONTAINER_TOKEN_VARIABLE`): the
 * carriers, and what they lead or started even when that dropped the
 * variables; other containers' processes stay, also those of a container of
 * the same id launched by another agent (another token).
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { describe, it } from "node:test";
import {
  CONTAINER_ID_VARIABLE,
  CONTAINER_TOKEN_VARIABLE,
  type ContainerMarker,
  markersOfEnvironment,
  readProcEntry,
} from "../../src/agent/containerizer/proc.js";
import { ProcessSweeper } from "../../src/agent/containerizer/process-sweeper.js";
import { silentLogger } from "../../src/common/observability/logger.js";

async function until<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * A shell carrying `marker` that starts a `sleep` with an empty environment
 * (`env -i`) and prints that sleep's pid.
 */
function container(marker: ContainerMarker) {
  const id = `${marker.id} (${marker.token})`;
  const child = spawn("/bin/sh", ["-c", "env -i sleep 30 & echo $!; wait"], {
    detached: true,
    stdio: ["ignore", "pipe", "ignore"],
    env: {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      [CONTAINER_ID_VARIABLE]: marker.id,
      [CONTAINER_TOKEN_VARIABLE]: marker.token,
    },
  });
  let out = "";
  child.stdout?.on("data", (d: Buffer) => {
    out += d.toString();
  });
  const exit = new Promise<string | null>((r) => child.once("exit", (_c, signal) => r(signal)));
  const grandchild = until(`the sleep of ${id}`, async () => {
    const pid = Number(out.trim());
    return out.includes("\n") && (await readProcEntry(pid)) !== undefined ? pid : undefined;
  });
  return { child, exit, grandchild, pid: child.pid ?? 0 };
}

describe("process sweeper: container ids", () => {
  it("reads MESOS_DIRECTORY and the container id out of an environment block", () => {
    const env = Buffer.from(
      `A=1\0MESOS_DIRECTORY=/w/s\0${CONTAINER_ID_VARIABLE}=exec.task\0MESOS_SANDBOX=/mnt/mesos/sandbox\0${CONTAINER_TOKEN_VARIABLE}=t1\0`,
    );
    assert.deepEqual(markersOfEnvironment(env), {
      directory: "/w/s",
      container: "exec.task",
      token: "t1",
    });
    assert.deepEqual(markersOfEnvironment(Buffer.from("A=1\0")), {});
  });

  it("kills the processes carrying a container's marker and what they started, not another container's", async () => {
    const mine = container({ id: "parent.child", token: "t1" });
    const other = container({ id: "parent.other", token: "t2" });
    // Another agent's container of the same id (e.g. a standalone one).
    const namesake = container({ id: "parent.child", token: "t3" });
    try {
      const mineSleep = await mine.grandchild;
      const otherSleep = await other.grandchild;
      const namesakeSleep = await namesake.grandchild;
      const killed = await new ProcessSweeper(silentLogger).kill(
        undefined,
        "/nonexistent/sandbox",
        undefined,
        { id: "parent.child", token: "t1" },
      );
      assert.equal(killed, 2, "the shell and the sleep that dropped the variable");
      assert.equal(await mine.exit, "SIGKILL");
      await until("the sleep to be killed", async () =>
        (await readProcEntry(mineSleep)) === undefined ? true : undefined,
      );
      assert.notEqual(await readProcEntry(other.pid), undefined, "another container's shell stays");
      assert.notEqual(await readProcEntry(otherSleep), undefined, "and its sleep");
      assert.notEqual(await readProcEntry(namesake.pid), undefined, "a namesake's shell stays");
      assert.notEqual(await readProcEntry(namesakeSleep), undefined, "and its sleep");
    } finally {
      for (const c of [mine, other, namesake]) {
        try {
          process.kill(-c.pid, "SIGKILL");
        } catch {
          // Gone already.
        }
      }
    }
  });
});
