import assert from "node:assert/strict";
import { test } from "node:test";
import { BaseIsolator } from "../../src/agent/containerizer/isolators/isolator.js";
import { executorDirectoryMaxAllowedAgeSecs } from "../../src/agent/http/agent-metrics.js";
import {
  containerizerDebugHandler,
  PendingOperations,
  trackIsolators,
} from "../../src/agent/http/containerizer-debug.js";
import { HttpRequest } from "../../src/common/http/request.js";
import type { BodyResponse } from "../../src/common/http/response.js";

function get(rawQuery = ""): HttpRequest {
  return new HttpRequest({
    method: "GET",
    path: "/containerizer/debug",
    rawQuery,
    headers: {},
    body: new Uint8Array(),
    remoteAddress: "127.0.0.1",
    remotePort: 1,
  });
}

function body(request: HttpRequest, pending: PendingOperations): string {
  const r = containerizerDebugHandler(pending)(request) as BodyResponse;
  assert.equal(r.status, 200);
  return Buffer.from(r.body).toString();
}

/** An isolator whose cleanup waits until the test lets it go. */
class HeldIsolator extends BaseIsolator {
  readonly name = "test/held";
  release: () => void = () => undefined;
  override cleanup(_containerId: string): Promise<void> {
    return new Promise((resolve) => {
      this.release = resolve;
    });
  }
}

test("agent metrics: executor_directory_max_allowed_age_secs is gc_delay x max(0, 1 - headroom - usage)", () => {
  assert.equal(executorDirectoryMaxAllowedAgeSecs(604_800, 0.1, 0), 604_800 * 0.9);
  assert.equal(executorDirectoryMaxAllowedAgeSecs(1000, 0.1, 0.4), 500);
  assert.equal(executorDirectoryMaxAllowedAgeSecs(1000, 0.5, 0.7), 0, "a full disk clamps at 0");
  assert.equal(executorDirectoryMaxAllowedAgeSecs(1000, 1, 0), 0);
});

test("containerizer/debug: a pending isolator step is listed with its container id until it settles", async () => {
  const isolator = new HeldIsolator();
  const pending = new PendingOperations();
  trackIsolators([isolator], pending);
  assert.deepEqual(JSON.parse(body(get(), pending)), { pending: [] });

  const cleanup = isolator.cleanup("c1");
  await isolator.isolate("c2", 42);
  assert.deepEqual(JSON.parse(body(get(), pending)), {
    pending: [{ operation: "test/held::cleanup", args: { containerId: "c1" } }],
  });
  isolator.release();
  await cleanup;
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(JSON.parse(body(get(), pending)), { pending: [] });
});

test("containerizer/debug: a failed step leaves the list too, and ?jsonp= wraps the answer", async () => {
  const pending = new PendingOperations();
  const failed = pending.track(Promise.reject(new Error("boom")), "launcher::fork", {
    containerId: "c3",
  });
  await assert.rejects(failed, /boom/);
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(body(get("jsonp=cb"), pending), 'cb({"pending":[]})');
});
