/**
 * A DEBUG session's stdin is a named pipe in the session's sandbox, which
 * belongs to the task's user, and root's first step of the session opens
 * it (before entering the container and switching user). Should the user
 * put a link at the pipe's name in between, root must not open what the
 * link leads to (root's secret would become the user's command's input).
 *
 * The attacker is a real unprivileged user (nobody, through setpriv); the
 * session's stdin is opened by root as the DEBUG command's first step does.
 */
import assert from "node:assert/strict";
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import type { LauncherClient } from "../../src/agent/containerizer/launcher.js";
import { endLauncherTest, nestedContainersFixture } from "../harness/nested-containers-fixture.js";
import { asNobody, attackRoot, needsRoot, nobodyId, nobodysDir } from "../harness/nobody.js";

const started: ChildProcess[] = [];
const root = attackRoot("sandbox-attacks-stdin-");

after(() => endLauncherTest(started, root));

test(
  "root opens a DEBUG session's stdin pipe itself, not a link the user put at its name",
  needsRoot,
  async () => {
    const sandbox = nobodysDir(root, "exec");
    const secret = join(root, "secret");
    writeFileSync(secret, "root's secret\n", { mode: 0o600 });
    let read: string | undefined;
    const launcher = {
      async spawn(req: { file: string; args: string[]; cwd?: string }) {
        if (req.args[0] === "mesos-containerizer") {
          // The user wins the race: a link at the pipe's name once it is made.
          const fifo = join(sandbox, "containers", "task", "containers", "check", "stdin.fifo");
          asNobody(`rm -f '${fifo}' && ln -s '${secret}' '${fifo}'`);
          // Root's first step opens the session's stdin as the command says; nobody
          // writes to the pipe here, so a real pipe gives nothing until the timeout.
          const stdin = /exec 0<('[^']*'|\S+)/.exec(req.args[2] ?? "")?.[1];
          assert.ok(stdin !== undefined, `no stdin step in: ${req.args[2]}`);
          const r = spawnSync("timeout", ["2", "sh", "-c", `exec 0<${stdin}; cat`], {
            encoding: "utf8",
          });
          read = r.stdout;
        }
        const c = spawn("sleep", ["1000"], { cwd: req.cwd ?? root, stdio: "ignore" });
        started.push(c);
        return { id: 0, pid: c.pid ?? -1 };
      },
      async run(req: { file: string; args: string[] }) {
        execFileSync(req.file, req.args);
        return { id: 0, code: 0, output: "" };
      },
      async user(name: string) {
        return { uid: nobodyId("-u"), gid: nobodyId("-g"), home: "/", name };
      },
    } as unknown as LauncherClient;
    const nested = nestedContainersFixture(launcher, sandbox, { switchUser: true });
    try {
      const task = await nested.launch({
        parentId: "exec",
        childId: "task",
        command: { value: "sleep 1000", user: "nobody" },
      });
      assert.ok("ok" in task, JSON.stringify(task));
      const session = await nested.launch({
        parentId: "exec.task",
        childId: "check",
        command: { value: "cat", user: "nobody" },
        session: true,
      });
      // Nobody here reads the session: its writer would keep trying to open the pipe.
      if ("ok" in session) {
        for (const stream of [session.io?.stdin, session.io?.stdout, session.io?.stderr]) {
          stream?.destroy();
        }
      }
      assert.ok(read !== undefined, "the DEBUG command was spawned");
      assert.doesNotMatch(read, /secret/, "root read the link's target into the session");
    } finally {
      nested.stop();
    }
  },
);
