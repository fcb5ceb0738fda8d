/**
 * The logrotate container logger's pipes lie in the sandbox, which the
 * task's user may change: the agent (root) opens them after making them,
 * and hands the read end to the logger, which runs as the user. Should the
 * user swap a pipe for a link (to /etc/shadow, say) or a pipe of its own in
 * between, the launch fails instead of feeding that file to the user's log.
 * A stand-in `mkfifo` on PATH plays the user winning that race.
 */
import assert from "node:assert/strict";
import {
  chmodSync,
  closeSync,
  existsSync,
  constants as fsConstants,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { LogrotateContainerLogger } from "../../src/agent/containerizer/logger/container-logger.js";
import { parseLogrotateParameters } from "../../src/agent/containerizer/logger/logrotate-settings.js";
import { silentLogger } from "../../src/common/observability/logger.js";
import { waitLong } from "../harness/processes.js";

const root = mkdtempSync(join(tmpdir(), "logger-pipes-"));
const isRoot = process.getuid?.() === 0;

after(() => rmSync(root, { recursive: true, force: true }));

function logger(): LogrotateContainerLogger {
  const parameters = parseLogrotateParameters({ logrotate_path: "true" });
  assert.ok(parameters.ok);
  return new LogrotateContainerLogger(parameters.value, silentLogger);
}

/** Runs `body` with a `mkfifo` on PATH that runs `script` (its pipes' paths are $3 and $4). */
async function withMkfifo(script: string, body: () => Promise<void>): Promise<void> {
  const bin = mkdtempSync(join(root, "bin-"));
  writeFileSync(join(bin, "mkfifo"), `#!/bin/sh\n${script}\n`);
  chmodSync(join(bin, "mkfifo"), 0o755);
  const path = process.env.PATH;
  process.env.PATH = `${bin}:${path ?? "/usr/bin:/bin"}`;
  try {
    await body();
  } finally {
    process.env.PATH = path;
  }
}

test("container logger: the container's output goes through the agent's pipes into the sandbox's files", async () => {
  const sandbox = join(root, "plain");
  mkdirSync(sandbox);
  const output = await logger().prepare({ directory: sandbox, environments: [] });
  const fd = openSync(output.stdout, fsConstants.O_WRONLY);
  writeSync(fd, "hello\n");
  closeSync(fd);
  output.release();
  await waitLong("the logger wrote stdout", () => {
    try {
      return readFileSync(join(sandbox, "stdout"), "utf8") === "hello\n";
    } catch {
      return false;
    }
  });
});

test("container logger: a pipe swapped for a link after mkfifo fails the launch; the link's target is not read", async () => {
  const sandbox = join(root, "linked");
  mkdirSync(sandbox);
  const secret = join(root, "shadow");
  writeFileSync(secret, "secret\n", { mode: 0o600 });
  await withMkfifo(`ln -s '${secret}' "$3" && ln -s '${secret}' "$4"`, async () => {
    await assert.rejects(
      logger().prepare({ directory: sandbox, environments: [] }),
      /^Error: Failed to start the container logger: '.*\.logger-stdout\.fifo' is not the agent's named pipe$/,
    );
  });
  assert.equal(readFileSync(secret, "utf8"), "secret\n");
});

test("container logger: a pipe of the user's in place of the agent's fails the launch", {
  skip: isRoot ? false : "needs root (a pipe owned by nobody)",
}, async () => {
  const sandbox = join(root, "users-pipe");
  mkdirSync(sandbox);
  await withMkfifo(
    `/usr/bin/env -i PATH=/usr/bin:/bin mkfifo "$3" "$4" && chown nobody "$3" "$4" && touch "${sandbox}/made"`,
    async () => {
      await assert.rejects(
        logger().prepare({ directory: sandbox, environments: [] }),
        /is not the agent's named pipe$/,
      );
    },
  );
  assert.ok(existsSync(join(sandbox, "made")), "the stand-in mkfifo ran");
});

test("container logger: a sandbox that is a link, or lies below one when its base is given, is refused; nothing is made where the link leads", async () => {
  const elsewhere = join(root, "elsewhere-1"); // Stands for /etc.
  mkdirSync(join(elsewhere, "c"), { recursive: true });
  const linked = join(root, "sandbox-link");
  symlinkSync(elsewhere, linked);
  await assert.rejects(
    logger().prepare({ directory: linked, environments: [] }),
    /^Error: Failed to create the container logger's pipes: The sandbox path '.*sandbox-link' is a symbolic link$/,
  );
  const base = join(root, "executor-sandbox");
  mkdirSync(base);
  symlinkSync(elsewhere, join(base, "containers"));
  await assert.rejects(
    logger().prepare({
      directory: join(base, "containers", "c"),
      sandboxBase: base,
      environments: [],
    }),
    /^Error: Failed to create the container logger's pipes: The sandbox path '.*containers' is a symbolic link$/,
  );
  assert.deepEqual(readdirSync(elsewhere), ["c"]);
  assert.deepEqual(readdirSync(join(elsewhere, "c")), []);
});

test("container logger: a sandbox swapped for a link once the logger has opened it: the pipes, the logger and the output stay in the sandbox opened", async () => {
  const sandbox = join(root, "swapped");
  mkdirSync(sandbox);
  const elsewhere = join(root, "elsewhere-2");
  mkdirSync(elsewhere);
  let output: Awaited<ReturnType<LogrotateContainerLogger["prepare"]>> | undefined;
  await withMkfifo(
    `mv '${sandbox}' '${sandbox}-was' && ln -s '${elsewhere}' '${sandbox}' && /usr/bin/env -i PATH=/usr/bin:/bin mkfifo "$@"`,
    async () => {
      output = await logger().prepare({ directory: sandbox, environments: [] });
    },
  );
  assert.ok(output !== undefined);
  const fd = openSync(output.stdout, fsConstants.O_WRONLY);
  writeSync(fd, "kept\n");
  closeSync(fd);
  output.release();
  await waitLong("the logger wrote stdout in the sandbox opened", () => {
    try {
      return readFileSync(join(`${sandbox}-was`, "stdout"), "utf8") === "kept\n";
    } catch {
      return false;
    }
  });
  assert.deepEqual(readdirSync(elsewhere), []);
});
