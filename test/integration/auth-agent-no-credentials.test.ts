/**
 * A master started without `--credentials` still answers CRAM-MD5 (Mesos'
 * authenticator is always loaded and refuses every principal then): an
 * agent with `--credential` is refused and exits with failure, instead of
 * retrying an unanswered handshake forever. The agent also warns, as
 * Mesos does, that its credential file is readable by others.
 */
import assert from "node:assert/strict";
import { chmodSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { freePort, runBinary, startMaster, stopAll, tempDir } from "../harness/processes.js";

after(stopAll);

describe("auth: a master without credentials", () => {
  it("refuses an agent that authenticates: the agent exits with failure", async () => {
    const master = await startMaster();
    const credential = join(tempDir("h3-no-credentials-"), "credential.json");
    writeFileSync(credential, JSON.stringify({ principal: "agent", secret: "s" }));
    chmodSync(credential, 0o644);
    const run = await runBinary(
      "mesos-agent",
      [
        `--master=${master.address}`,
        "--ip=127.0.0.1",
        `--port=${await freePort()}`,
        `--work_dir=${tempDir("h3-agent-refused-")}`,
        "--resources=cpus:1;mem:256",
        `--credential=${credential}`,
        "--registration_backoff_factor=100ms",
      ],
      { timeoutMs: 60_000 },
    );
    assert.equal(run.code, 1, run.stdout + run.stderr);
    assert.match(
      run.stdout + run.stderr,
      /Permissions on credential file '.*credential\.json' are too open; it is recommended that your credential file is NOT accessible by others/,
    );
    assert.match(run.stdout + run.stderr, /Master master@127\.0\.0\.1:\d+ refused authentication/);
    assert.match(
      master.logs(),
      /Authentication of slave\(1\)@127\.0\.0\.1:\d+ failed: unknown principal 'agent'/,
    );
    const slaves = (await (await fetch(`${master.url}/master/slaves`)).json()) as {
      slaves: unknown[];
    };
    assert.equal(slaves.slaves.length, 0);
  });
});
