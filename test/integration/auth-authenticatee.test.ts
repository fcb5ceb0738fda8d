/**
 * An agent's CRAM-MD5 authenticatee answers only the challenge of its own
 * handshake, from the authenticator that started it. Were it to answer
 * any AuthenticationStepMessage, a stranger could start a handshake with
 * the master for a pid of its own, have the agent sign the master's
 * challenge, and be authenticated as the agent's principal (and register
 * as an agent with it). The stranger here is a libprocess process in the
 * test; the agent and master are real daemons.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { CramMd5Authenticatee } from "../../src/common/auth/cram-md5.js";
import { silentLogger } from "../../src/common/observability/logger.js";
import { ProcessBase } from "../../src/common/process/process-base.js";
import { ProcessHost } from "../../src/common/process/process-host.js";
import { parseUpid, type Upid } from "../../src/common/process/upid.js";
import { codecFor } from "../../src/common/protocol/index.js";
import { SystemClock } from "../../src/common/time/clock.js";
import { startOneAgentCluster } from "../harness/cluster.js";
import { stopAll, tempDir, waitLong } from "../harness/processes.js";

const hosts: ProcessHost[] = [];
after(async () => {
  for (const h of hosts) await h.stop();
  await stopAll();
});

const STEP = "mesos.internal.AuthenticationStepMessage";

async function startHost(): Promise<ProcessHost> {
  const host = new ProcessHost({
    logger: silentLogger,
    clock: new SystemClock(),
    listen: { bindIp: "127.0.0.1", bindPort: 0, advertiseIp: undefined, advertisePort: undefined },
  });
  hosts.push(host);
  await host.start();
  return host;
}

describe("auth: the agent's CRAM-MD5 authenticatee", () => {
  it("hears the error of a master without an authenticator, which answers the request itself", {
    timeout: 30_000,
  }, async () => {
    // As a Mesos master without an authenticator: the master process itself answers.
    const masterHost = await startHost();
    const master = new ProcessBase("master");
    const ERROR = "mesos.internal.AuthenticationErrorMessage";
    master.install(
      "mesos.internal.AuthenticateMessage",
      (bytes) => ({ ok: true, value: bytes }),
      (from) =>
        master.send(
          from,
          ERROR,
          codecFor(ERROR).encodeProtobuf({ error: "No authenticator loaded" }),
        ),
    );
    masterHost.spawn(master);
    const agentHost = await startHost();
    const authenticatee = agentHost.spawn(new CramMd5Authenticatee());
    const outcome = await authenticatee.authenticate(
      `master@127.0.0.1:${masterHost.port}`,
      `slave(1)@127.0.0.1:${agentHost.port}`,
      { principal: "agent", secret: "s" },
    );
    assert.equal(outcome, "authentication error: No authenticator loaded");
  });

  it("does not sign a challenge a stranger sends it", async () => {
    const dir = tempDir("h3-authenticatee-");
    const credentials = join(dir, "credentials");
    writeFileSync(credentials, "agent agent-secret\n", { mode: 0o600 });
    const credential = join(dir, "credential");
    writeFileSync(credential, "agent agent-secret\n", { mode: 0o600 });
    const { agent } = await startOneAgentCluster(
      { credential },
      { masterFlags: { credentials, authenticate_agents: true } },
    );

    // The stranger: sends the agent's authenticatee a challenge and records any answer.
    const host = await startHost();
    const stranger = new ProcessBase("stranger");
    const answers: Uint8Array[] = [];
    stranger.install(
      STEP,
      (bytes) => ({ ok: true, value: bytes }),
      (_from, body) => answers.push(body),
    );
    host.spawn(stranger);
    const authenticatee = parseUpid(`crammd5-authenticatee(1)@${agent.address}`);
    assert.ok(authenticatee.ok);
    const to: Upid = authenticatee.value;
    stranger.send(
      to,
      STEP,
      codecFor(STEP).encodeProtobuf({ data: Buffer.from("<1234.5678@stranger>", "utf8") }),
    );

    await waitLong(
      "the agent to ignore the stranger's challenge (or answer it)",
      () =>
        answers.length > 0 ||
        /Ignoring AuthenticationStepMessage from stranger@/.test(agent.logs()),
    );
    assert.equal(answers.length, 0, "the agent signed a stranger's challenge");
    assert.match(
      agent.logs(),
      /Ignoring AuthenticationStepMessage from stranger@127\.0\.0\.1:\d+: not the authenticator of a handshake under way/,
    );
  });
});
