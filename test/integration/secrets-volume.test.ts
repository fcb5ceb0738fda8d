/**
 * `volume/secret` with a real master and agent
 * (`--isolation=filesystem/linux,volume/secret`): a SECRET volume is a file
 * at its container path holding the resolved secret, visible inside the
 * container only, read-only for `mode: RO`, and gone from the host when
 * the task ends. Needs root on Linux (mounts); skips otherwise.
 */
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { startOneAgentCluster } from "../harness/cluster.js";
import {
  type DaemonHandle,
  runBinary,
  startAgent,
  stopAll,
  tempDir,
  waitFor,
} from "../harness/processes.js";
import { executeTask, sandboxOf, scalar } from "./containerizer-helpers.js";

const skip =
  process.platform !== "linux" || process.getuid?.() !== 0
    ? "needs root on Linux (ramfs and bind mounts)"
    : undefined;
let master: DaemonHandle;
let agent: DaemonHandle;
let runtimeDir: string;

before(async () => {
  if (skip !== undefined) return;
  runtimeDir = tempDir("mesos-secret-runtime-");
  ({ master, agent } = await startOneAgentCluster({
    isolation: "filesystem/linux,volume/secret",
    launcher: "linux",
    runtime_dir: runtimeDir,
  }));
});

after(stopAll);

const small = [scalar("cpus", 0.1), scalar("mem", 32)];
const base64 = (text: string) => Buffer.from(text).toString("base64");
const secretVolume = (containerPath: string, text: string, mode = "RW") => ({
  container_path: containerPath,
  mode,
  source: { type: "SECRET", secret: { type: "VALUE", value: { data: base64(text) } } },
});

/** The host keeps no secrets once the agent cleaned up after the task. */
async function secretsCleanedUp(): Promise<void> {
  await waitFor("the host's secret directories to go", () =>
    readdirSync(join(runtimeDir, ".secret")).length === 0 ? true : undefined,
  );
}

test("volume/secret: relative container paths are files in the sandbox, seen inside the container only", {
  skip,
}, async () => {
  const run = await executeTask(master, {
    name: "volume-secret",
    resources: small,
    command:
      'test "$(cat my_secret)" = "top s3cr3t" && test "$(cat etc/some/my_secret)" = "deep s3cr3t" && ' +
      'test "$(stat -c %a my_secret)" = 644 && ls -d .secret-* && ! echo x > etc/some/my_secret',
    container: {
      type: "MESOS",
      volumes: [
        secretVolume("my_secret", "top s3cr3t"),
        secretVolume("etc/some/my_secret", "deep s3cr3t", "RO"),
      ],
    },
  });
  assert.equal(run.finalState, "TASK_FINISHED", run.stdout);
  const sandbox = await sandboxOf(agent, "volume-secret");
  // On the host the mount points are empty files and the secret root an empty directory.
  assert.equal(readFileSync(join(sandbox, "my_secret"), "utf8"), "");
  assert.equal(readFileSync(join(sandbox, "etc", "some", "my_secret"), "utf8"), "");
  const roots = readdirSync(sandbox).filter((n) => /^\.secret-[0-9a-f-]{36}$/.test(n));
  assert.equal(roots.length, 1, readdirSync(sandbox).join(","));
  assert.deepEqual(readdirSync(join(sandbox, roots[0] as string)), []);
  await secretsCleanedUp();
});

test("volume/secret: an absolute container path must exist and is covered inside the container only", {
  skip,
}, async () => {
  const dir = tempDir("mesos-secret-target-");
  const target = join(dir, "credentials");
  writeFileSync(target, "host content\n");
  const run = await executeTask(master, {
    name: "volume-secret-absolute",
    resources: small,
    command: `test "$(cat ${target})" = "abs s3cr3t"`,
    container: { type: "MESOS", volumes: [secretVolume(target, "abs s3cr3t", "RO")] },
  });
  assert.equal(run.finalState, "TASK_FINISHED", run.stdout);
  assert.equal(readFileSync(target, "utf8"), "host content\n");
  await secretsCleanedUp();

  const missing = join(dir, "missing", "file");
  const failed = await executeTask(master, {
    name: "volume-secret-missing",
    resources: small,
    command: "true",
    container: { type: "MESOS", volumes: [secretVolume(missing, "x")] },
  });
  assert.equal(failed.finalState, "TASK_FAILED", failed.stdout);
  assert.equal(failed.reason, "REASON_CONTAINER_LAUNCH_FAILED", failed.stdout);
  assert.match(
    failed.message ?? "",
    new RegExp(`Absolute container path '${missing}' does not exist`),
  );
  assert.equal(existsSync(join(dir, "missing")), false);
});

test("volume/secret: a task group's task (a nested container) gets its secret file and variable", {
  skip,
}, async () => {
  const group = {
    tasks: [
      {
        name: "group-volume-secret",
        task_id: { value: "group-volume-secret" },
        agent_id: { value: "" },
        resources: small,
        command: {
          value: 'test "$(cat secrets/token)" = "nested file" && test "$TOKEN" = "nested env"',
          environment: {
            variables: [
              {
                name: "TOKEN",
                type: "SECRET",
                secret: { type: "VALUE", value: { data: base64("nested env") } },
              },
            ],
          },
        },
        container: { type: "MESOS", volumes: [secretVolume("secrets/token", "nested file", "RO")] },
      },
    ],
  };
  const run = await runBinary(
    "mesos-execute",
    [`--master=${master.address}`, `--task_group=${JSON.stringify(group)}`],
    { timeoutMs: 45_000 },
  );
  assert.equal(run.code, 0, run.stdout + run.stderr);
  assert.match(run.stdout, /TASK_FINISHED/, run.stdout);
  await secretsCleanedUp();
});

test("volume/secret: a REFERENCE secret fails the launch with the default resolver's message", {
  skip,
}, async () => {
  const run = await executeTask(master, {
    name: "volume-secret-reference",
    resources: small,
    command: "true",
    container: {
      type: "MESOS",
      volumes: [
        {
          container_path: "token",
          mode: "RO",
          source: {
            type: "SECRET",
            secret: { type: "REFERENCE", reference: { name: "/my/token" } },
          },
        },
      ],
    },
  });
  assert.equal(run.finalState, "TASK_FAILED", run.stdout);
  assert.equal(run.reason, "REASON_CONTAINER_LAUNCH_FAILED", run.stdout);
  assert.match(run.message ?? "", /Default secret resolver cannot resolve references/);
});

test("volume/secret: without filesystem/linux the agent refuses to start, as Mesos", {
  skip,
}, async () => {
  const other = await startAgent({
    master: master.address,
    flags: { isolation: "volume/secret", runtime_dir: tempDir("mesos-secret-runtime-") },
    waitReady: false,
  });
  const code = await other.exited;
  assert.notEqual(code, 0);
  assert.match(other.logs(), /Volume secret isolation requires filesystem\/linux isolator\./);
});
