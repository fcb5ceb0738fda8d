/**
 * A root agent fetches a nested container's URIs with a worker that starts
 * in the container's sandbox as root and then becomes the task's user. The
 * sandbox lies below the executor's sandbox, which that user owns: the user
 * can swap its `containers` for a link after the agent made the sandbox and
 * before the worker starts. Entering the sandbox by its path, root would
 * follow the link, and the worker (now the user) would read and write in a
 * directory whose parents the user may not pass.
 *
 * The attacker is a real unprivileged user (nobody, through setpriv).
 */
import assert from "node:assert/strict";
import { type ChildProcess, execFileSync } from "node:child_process";
import { chmodSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import type { AgentFetcherSettings } from "../../src/agent/containerizer/fetcher.js";
import {
  endLauncherTest,
  nestedContainersFixture,
  sleepingLauncher,
} from "../harness/nested-containers-fixture.js";
import { attackRoot, needsRoot, nobodyId, nobodysDir } from "../harness/nobody.js";

const started: ChildProcess[] = [];
// nobody must reach the sandboxes and the fetched file below it.
const root = attackRoot("sandbox-attacks-fetch-");
const uri = join(root, "fetched.txt");
writeFileSync(uri, "fetched\n", { mode: 0o644 });

after(() => endLauncherTest(started, root));

/**
 * The agent's fetcher settings, with `beforeWorker` run when the agent
 * reads them: after it made (and checked) the sandbox, right before it
 * starts the worker. The user wins the race there.
 */
function fetcherWith(beforeWorker: () => void): AgentFetcherSettings {
  return {
    get frameworksHome() {
      beforeWorker();
      return undefined;
    },
  };
}

test(
  "a nested container's fetcher does not start where a `containers` swapped for a link leads",
  needsRoot,
  async () => {
    const sandbox = nobodysDir(root, "exec-swap");
    // A directory nobody may write in but cannot reach: its parent is root's 0700.
    const victim = join(root, "private", "open");
    mkdirSync(victim, { recursive: true });
    chmodSync(join(root, "private"), 0o700);
    chmodSync(victim, 0o777);
    let swapped = false;
    const nested = nestedContainersFixture(
      sleepingLauncher(started, sandbox, { lookUpUsers: true }),
      sandbox,
      {
        switchUser: true,
        fetcher: fetcherWith(() => {
          if (swapped) return;
          swapped = true;
          execFileSync("setpriv", [
            "--reuid=nobody",
            "--regid=nogroup",
            "--clear-groups",
            "sh",
            "-c",
            `cd '${sandbox}' && mv containers moved && mkdir evil && ln -s '${victim}' evil/c && ln -s evil containers`,
          ]);
        }),
      },
    );
    try {
      const launched = await nested.launch({
        parentId: "exec",
        childId: "c",
        command: { value: "sleep 1000", user: "nobody", uris: [{ value: uri }] },
      });
      assert.ok(swapped, "the attacker ran");
      assert.deepEqual(readdirSync(victim), [], "the fetcher wrote nothing where the link leads");
      assert.ok(!("ok" in launched), "the fetch through a link is refused");
      assert.match(launched.error, /containers' is a symbolic link/);
    } finally {
      nested.stop();
    }
  },
);

test("a nested container's URIs are fetched into its sandbox, as its user", needsRoot, async () => {
  const sandbox = nobodysDir(root, "exec-ok");
  const nested = nestedContainersFixture(
    sleepingLauncher(started, sandbox, { lookUpUsers: true }),
    sandbox,
    { switchUser: true, fetcher: {} },
  );
  try {
    const launched = await nested.launch({
      parentId: "exec",
      childId: "c",
      command: { value: "sleep 1000", user: "nobody", uris: [{ value: uri }] },
    });
    assert.ok("ok" in launched, JSON.stringify(launched));
    const fetched = join(sandbox, "containers", "c", "fetched.txt");
    assert.equal(readFileSync(fetched, "utf8"), "fetched\n");
    assert.equal(statSync(fetched).uid, nobodyId("-u"), "written by the worker as nobody");
    assert.match(readFileSync(join(sandbox, "containers", "c", "stderr"), "utf8"), /Fetched '/);
  } finally {
    nested.stop();
  }
});
