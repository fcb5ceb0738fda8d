/**
 * After an agent restart, the sandboxes of recovered executors are
 * attached again under their three paths, as Mesos' recovery attaches them.
 */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { after, test } from "node:test";
import { executorVirtualPath, SandboxFiles } from "../../src/agent/http/sandbox-files.js";
import { latestRunLink, type RunIds, sandboxPath } from "../../src/agent/paths.js";
import { VirtualFiles } from "../../src/common/files/virtual-files.js";
import type { Logger } from "../../src/common/observability/logger.js";

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const warnings: string[] = [];
const logger: Logger = {
  info: () => {},
  warn: (m) => warnings.push(m),
  error: () => {},
  verbose: () => {},
};

test("sandbox files: recovered executors' sandboxes are attached under their three paths", async () => {
  const workDir = mkdtempSync(join(tmpdir(), "files-recovery-"));
  dirs.push(workDir);
  const ids: RunIds = { agentId: "A-S0", frameworkId: "F-1", executorId: "e%1", containerId: "c1" };
  const directory = sandboxPath(workDir, ids);
  mkdirSync(directory, { recursive: true });
  writeFileSync(join(directory, "stdout"), "before the restart\n");
  symlinkSync(basename(directory), latestRunLink(workDir, ids));
  assert.equal(dirname(latestRunLink(workDir, ids)), dirname(directory));
  const gone: RunIds = { ...ids, executorId: "gone", containerId: "c2" };

  const files = new VirtualFiles();
  const sandboxes = new SandboxFiles(files, workDir, logger);
  await sandboxes.attachRecovered([
    { ids, directory },
    { ids: gone, directory: sandboxPath(workDir, gone) },
  ]);

  const virtual = executorVirtualPath(ids.frameworkId, ids.executorId);
  for (const path of [virtual, directory, latestRunLink(workDir, ids)]) {
    assert.ok(files.isAttached(path), path);
    const { data } = await files.read(`${path}/stdout`, 0);
    assert.equal(data.toString(), "before the restart\n", path);
  }
  assert.ok(!files.isAttached(executorVirtualPath(gone.frameworkId, gone.executorId)));
  assert.equal(warnings.length, 1);
  assert.match(warnings[0] ?? "", /Cannot attach the recovered sandbox/);
});
