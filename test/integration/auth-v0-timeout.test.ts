/**
 * `--authentication_v0_timeout`: a CRAM-MD5 handshake the peer does not
 * finish in time is discarded by the master, as Mesos does; a step sent
 * for it afterwards gets no answer, and a new handshake from the same peer
 * completes. The peer is a libprocess process in the test, talking to a
 * real master.
 */
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { silentLogger } from "../../src/common/observability/logger.js";
import { ProcessBase } from "../../src/common/process/process-base.js";
import { ProcessHost } from "../../src/common/process/process-host.js";
import type { Upid } from "../../src/common/process/upid.js";
import { parseUpid } from "../../src/common/process/upid.js";
import {
  codecFor,
  type MessageTypeMap,
  type MessageTypeName,
} from "../../src/common/protocol/index.js";
import { SystemClock } from "../../src/common/time/clock.js";
import { startMaster, stopAll, tempDir, waitFor, waitLong } from "../harness/processes.js";

const hosts: ProcessHost[] = [];
after(async () => {
  for (const h of hosts) await h.stop();
  await stopAll();
});

const REPLIES = [
  "mesos.internal.AuthenticationMechanismsMessage",
  "mesos.internal.AuthenticationStepMessage",
  "mesos.internal.AuthenticationCompletedMessage",
  "mesos.internal.AuthenticationFailedMessage",
  "mesos.internal.AuthenticationErrorMessage",
] as const;

interface Reply {
  type: (typeof REPLIES)[number];
  from: Upid;
  message: unknown;
}

/** A bare authenticatee: sends what the test says and records what comes back, in order. */
async function startPeer(): Promise<{
  replies: Reply[];
  pid: string;
  send<K extends MessageTypeName>(to: Upid, type: K, message: MessageTypeMap[K]): void;
}> {
  const host = new ProcessHost({
    logger: silentLogger,
    clock: new SystemClock(),
    listen: { bindIp: "127.0.0.1", bindPort: 0, advertiseIp: undefined, advertisePort: undefined },
  });
  hosts.push(host);
  await host.start();
  const peer = new ProcessBase("crammd5-authenticatee(1)");
  const replies: Reply[] = [];
  for (const type of REPLIES) {
    const codec = codecFor(type);
    peer.install(
      type,
      (bytes) => {
        const r = codec.decodeProtobuf(bytes);
        return r.ok ? { ok: true, value: r.value } : { ok: true, value: {} };
      },
      (from, message) => replies.push({ type, from, message }),
    );
  }
  host.spawn(peer);
  return {
    replies,
    pid: `slave(1)@127.0.0.1:${host.port}`,
    send: (to, type, message) => peer.send(to, type, codecFor(type).encodeProtobuf(message)),
  };
}

describe("auth: --authentication_v0_timeout", () => {
  it("a handshake not finished in time is discarded; a new one completes", async () => {
    const credentials = join(tempDir("h3-v0-timeout-"), "credentials.json");
    writeFileSync(
      credentials,
      JSON.stringify({ credentials: [{ principal: "agent", secret: "s" }] }),
      { mode: 0o600 },
    );
    const master = await startMaster({
      flags: { credentials, authentication_v0_timeout: "3secs" },
    });
    const masterPid = parseUpid(`master@${master.address}`);
    assert.ok(masterPid.ok);
    const peer = await startPeer();

    peer.send(masterPid.value, "mesos.internal.AuthenticateMessage", { pid: peer.pid });
    const mechanisms = await waitFor("the mechanisms", () => peer.replies[0]);
    assert.equal(mechanisms.type, "mesos.internal.AuthenticationMechanismsMessage");
    const authenticator = mechanisms.from;
    await waitLong("the master to discard the stalled handshake", () =>
      /Authentication of slave\(1\)@127\.0\.0\.1:\d+ timed out; discarding it/.test(master.logs()),
    );

    // Too late: no challenge comes back for this start. Then a fresh handshake;
    // replies travel in order, so a challenge for the stale start would come first.
    peer.send(authenticator, "mesos.internal.AuthenticationStartMessage", {
      mechanism: "CRAM-MD5",
    });
    peer.send(masterPid.value, "mesos.internal.AuthenticateMessage", { pid: peer.pid });
    const second = await waitFor("the second handshake's mechanisms", () => peer.replies[1]);
    assert.equal(second.type, "mesos.internal.AuthenticationMechanismsMessage");

    peer.send(authenticator, "mesos.internal.AuthenticationStartMessage", {
      mechanism: "CRAM-MD5",
    });
    const challenge = await waitFor("the challenge", () => peer.replies[2]);
    assert.equal(challenge.type, "mesos.internal.AuthenticationStepMessage");
    const text = Buffer.from((challenge.message as { data: Uint8Array }).data).toString("utf8");
    const digest = createHmac("md5", "s").update(text).digest("hex");
    peer.send(authenticator, "mesos.internal.AuthenticationStepMessage", {
      data: Buffer.from(`agent ${digest}`, "utf8"),
    });
    const done = await waitFor("the outcome", () => peer.replies[3]);
    assert.equal(done.type, "mesos.internal.AuthenticationCompletedMessage");
    assert.equal(peer.replies.length, 4);
  });
});
