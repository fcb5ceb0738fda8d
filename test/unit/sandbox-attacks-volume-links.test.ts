/**
 * Persistent volumes are linked (as root) into a sandbox at their
 * `container_path`, also into the sandbox of an executor that already runs
 * as its task's user (nobody here, for real) when tasks bring a volume. A
 * `container_path` with directories (`data/pv`) goes through names that
 * user may have made links: root must not make directories, remove a file
 * or make the volume's link wherever they lead.
 */
import assert from "node:assert/strict";
import {
  chownSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import { linkVolumes } from "../../src/agent/volumes.js";
import { type Logger, silentLogger } from "../../src/common/observability/logger.js";
import type { Resource } from "../../src/common/protocol/generated/mesos-v1.js";
import { asNobody, attackRoot, needsRoot, nobodyId } from "../harness/nobody.js";

const root = attackRoot("sandbox-attacks-volumes-");

after(() => rmSync(root, { recursive: true, force: true }));

function volume(containerPath: string): Resource {
  return {
    name: "disk",
    type: "SCALAR",
    scalar: { value: 8 },
    disk: {
      persistence: { id: "pv1", principal: "ops" },
      volume: { mode: "RW", container_path: containerPath },
    },
  } as Resource;
}

/** A logger keeping its error lines. */
function errorsInto(lines: string[]): Logger {
  return { ...silentLogger, error: (m: string) => lines.push(m) } as Logger;
}

test("a volume is not linked through a directory the sandbox's user made a link", needsRoot, () => {
  const workDir = join(root, "work");
  const sandbox = join(workDir, "sandbox");
  mkdirSync(sandbox, { recursive: true });
  chownSync(sandbox, nobodyId("-u"), nobodyId("-g"));
  // Root's directory the link leads to, with a file named as the volume's link.
  const victim = join(root, "cron.d");
  mkdirSync(victim);
  writeFileSync(join(victim, "pv"), "root's\n");
  asNobody(`ln -s '${victim}' data`, sandbox);
  const errors: string[] = [];
  const made = linkVolumes(workDir, sandbox, [volume("data/pv")], errorsInto(errors));
  assert.deepEqual(made, []);
  assert.deepEqual(readdirSync(victim), ["pv"]);
  assert.equal(readFileSync(join(victim, "pv"), "utf8"), "root's\n");
  assert.equal(errors.length, 1);
  assert.match(errors[0] ?? "", /Failed to link persistent volume .* is a symbolic link/);
});

test("a volume is linked at a container_path with directories in the sandbox", needsRoot, () => {
  const workDir = join(root, "work-ok");
  const sandbox = join(workDir, "sandbox");
  mkdirSync(sandbox, { recursive: true });
  chownSync(sandbox, nobodyId("-u"), nobodyId("-g"));
  const made = linkVolumes(workDir, sandbox, [volume("data/pv")], silentLogger);
  assert.deepEqual(made, [join(sandbox, "data", "pv")]);
  assert.ok(lstatSync(join(sandbox, "data", "pv")).isSymbolicLink());
  const target = readlinkSync(join(sandbox, "data", "pv"));
  assert.ok(lstatSync(target).isDirectory());
  // Linked again: kept.
  assert.deepEqual(linkVolumes(workDir, sandbox, [volume("data/pv")], silentLogger), []);
});
