/**
 * A mesos-ts agent with `--credential` authenticates (CRAM-MD5) with a
 * master that requires it (`--authenticate_agents`) and registers; one
 * with a wrong secret is refused, says so and exits with failure.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  type DaemonHandle,
  freePort,
  runBinary,
  startAgent,
  startMaster,
  stopAll,
  tempDir,
  waitForAgents,
} from "../harness/processes.js";

let master: DaemonHandle;
let dir = "";

before(async () => {
  dir = tempDir();
  const credentials = join(dir, "credentials.json");
  writeFileSync(
    credentials,
    JSON.stringify({ credentials: [{ principal: "agent", secret: "agent-secret" }] }),
  );
  master = await startMaster({ flags: { credentials, authenticate_agents: true } });
});

after(stopAll);

describe("auth: mesos-ts agents authenticate with --credential", () => {
  it("the right credential registers", async () => {
    const credential = join(dir, "agent-credential.json");
    writeFileSync(credential, JSON.stringify({ principal: "agent", secret: "agent-secret" }));
    const agent = await startAgent({
      master: master.address,
      flags: { credential: `file://${credential}`, registration_backoff_factor: "100ms" },
    });
    const ids = await waitForAgents(master, 1);
    assert.equal(ids.length, 1);
    assert.match(agent.logs(), /Successfully authenticated with master/);
  });

  it("a wrong secret is refused: the agent exits with failure, as Mesos' agent does, and does not register", async () => {
    const credential = join(dir, "bad-credential");
    writeFileSync(credential, "agent wrong-secret\n");
    const run = await runBinary(
      "mesos-agent",
      [
        `--master=${master.address}`,
        "--ip=127.0.0.1",
        `--port=${await freePort()}`,
        `--work_dir=${tempDir("mesos-agent-refused-")}`,
        "--resources=cpus:1;mem:256",
        `--credential=${credential}`,
        "--registration_backoff_factor=100ms",
      ],
      { timeoutMs: 60_000 },
    );
    assert.equal(run.code, 1, run.stdout + run.stderr);
    assert.match(run.stdout + run.stderr, /refused authentication/);
    const slaves = (await (await fetch(`${master.url}/master/slaves`)).json()) as {
      slaves: unknown[];
    };
    assert.equal(slaves.slaves.length, 1);
  });
});
