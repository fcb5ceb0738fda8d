import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import type { ContainerLaunch } from "../../src/agent/agent-ports.js";
import { executorVirtualPath, SandboxFiles } from "../../src/agent/http/sandbox-files.js";
import { sandboxPath } from "../../src/agent/paths.js";
import { VirtualFiles } from "../../src/common/files/virtual-files.js";
import { silentLogger } from "../../src/common/observability/logger.js";

const root = mkdtempSync(join(tmpdir(), "sandbox-attach-"));
after(() => rmSync(root, { recursive: true, force: true }));

async function eventually(what: string, check: () => boolean): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function launchIn(workDir: string, containerId: string): ContainerLaunch {
  const ids = { agentId: "A-S0", frameworkId: "F", executorId: "E", containerId };
  return {
    ...ids,
    directory: sandboxPath(workDir, ids),
    executor: { executor_id: { value: "E" } },
    commandExecutor: true,
    environment: {},
    user: undefined,
    checkpoint: false,
  };
}

test("sandbox files: a started container's sandbox is attached at its three paths under the resolved work directory", async () => {
  // The work directory is reached through a symbolic link: /files must show the real path.
  const real = join(root, "real");
  mkdirSync(real);
  const workDir = join(root, "link");
  symlinkSync(real, workDir);
  const files = new VirtualFiles();
  const sandboxes = new SandboxFiles(files, workDir, silentLogger);
  const launched: string[] = [];
  const containerizer = sandboxes.wrap({ launch: () => {}, destroy: () => {} });
  const events = sandboxes.events({
    containerLaunched: (id) => launched.push(id),
    containerTerminated: () => {},
  });
  const launch = launchIn(workDir, "C1");
  mkdirSync(launch.directory, { recursive: true });
  containerizer.launch(launch);
  events.containerLaunched("C1", { pid: 4242 });
  assert.deepEqual(launched, ["C1"]);
  const virtual = executorVirtualPath("F", "E");
  await eventually("the attachment", () => files.isAttached(virtual));
  for (const path of sandboxes.pathsOf(launch)) assert.ok(files.isAttached(path), path);
  assert.equal(files.debug()[virtual], realpathSync(launch.directory));
});

test("sandbox files: a failed launch is attached only if its sandbox exists", async () => {
  const workDir = join(root, "w2");
  mkdirSync(workDir);
  const files = new VirtualFiles();
  const sandboxes = new SandboxFiles(files, workDir, silentLogger);
  const containerizer = sandboxes.wrap({ launch: () => {}, destroy: () => {} });
  const events = sandboxes.events({ containerLaunched: () => {}, containerTerminated: () => {} });
  const missing = launchIn(workDir, "C2");
  containerizer.launch(missing);
  events.containerLaunched("C2", { error: "no sandbox" });
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(files.isAttached(missing.directory), false);
});
