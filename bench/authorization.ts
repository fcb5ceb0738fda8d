/**
 * Authorization overhead: the same workload against two real masters, one
 * with no security flags and one with HTTP authentication on every realm
 * and a 100-rule ACL set (most rules for other principals, so every check
 * walks a long list, and VIEW_* rules that make `/master/state` filtered
 * per principal). Cases:
 *
 * - `state`: sequential GET /master/state with F frameworks subscribed (half
 *   of them invisible to the reading principal under the ACLs);
 * - `scheduler`: sequential REVIVE calls of one framework (authentication,
 *   principal counters, rate-limit lookup on the way);
 * - `authorizer`: raw LocalAuthorizer checks per second over the 100 rules.
 *
 * Both masters run side by side and are measured in alternating rounds;
 * each case reports both means and their ratio (acl / none), from one run.
 * `node dist/bench/run.js authorization [frameworks=100] [requests=200]`.
 */

import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { LocalAuthorizer, parseAcls } from "../src/common/auth/acls.js";
import { codecFor } from "../src/common/protocol/index.js";
import { type DaemonHandle, startMaster, stopAll, tempDir } from "../test/harness/processes.js";
import {
  post,
  type Subscription,
  subscribe,
  subscribeCall,
} from "../test/integration/master-clients.js";
import { round2 } from "./lib/cluster.js";
import { reportCase } from "./lib/report.js";

const NAME = "authorization";
const callCodec = codecFor("mesos.v1.scheduler.Call");
const AUTH = { Authorization: `Basic ${Buffer.from("reader:pw").toString("base64")}` };

/** 100 rules: filler principals first, then the rules that decide for `reader` and `fw`. */
export function hundredRules(): Record<string, unknown> {
  const filler = (key: string, objects: string, n: number) =>
    Array.from({ length: n }, (_, i) => ({
      principals: { values: [`other-${key}-${i}`] },
      [objects]: { values: [`value-${i}`] },
    }));
  return {
    permissive: true,
    view_frameworks: [
      ...filler("vf", "users", 22),
      { principals: { values: ["reader"] }, users: { values: ["visible"] } },
      { principals: { values: ["reader"] }, users: { type: "NONE" } },
    ],
    view_tasks: filler("vt", "users", 24),
    view_executors: filler("ve", "users", 10),
    register_frameworks: [
      ...filler("rf", "roles", 19),
      { principals: { type: "ANY" }, roles: { type: "ANY" } },
    ],
    run_tasks: filler("rt", "users", 20),
    teardown_frameworks: filler("tf", "framework_principals", 3),
  };
}

async function populate(master: DaemonHandle, frameworks: number, auth: boolean) {
  const subs: Subscription[] = [];
  for (let i = 0; i < frameworks; i++) {
    const user = i % 2 === 0 ? "visible" : "hidden";
    const s = await subscribe(
      master.url,
      subscribeCall(`bench-${i}`, { user, ...(auth ? { principal: "reader" } : {}) }),
      { headers: auth ? AUTH : {} },
    );
    await s.nth("SUBSCRIBED");
    subs.push(s);
  }
  return subs;
}

async function timeState(master: DaemonHandle, requests: number, auth: boolean): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < requests; i++) {
    const r = await fetch(`${master.url}/master/state`, { headers: auth ? AUTH : {} });
    if (r.status !== 200) throw new Error(`/master/state answered ${r.status}`);
    await r.arrayBuffer();
  }
  return (performance.now() - t0) / requests;
}

async function timeCalls(sub: Subscription, requests: number, auth: boolean): Promise<number> {
  const body = callCodec.encodeJson({ type: "REVIVE", framework_id: { value: sub.frameworkId } });
  const headers = {
    "Content-Type": "application/json",
    "Mesos-Stream-Id": sub.streamId,
    ...(auth ? AUTH : {}),
  };
  const t0 = performance.now();
  for (let i = 0; i < requests; i++) {
    const r = await post(sub.url, body, headers);
    if (r.status !== 202) throw new Error(`REVIVE answered ${r.status}: ${r.body}`);
  }
  return (performance.now() - t0) / requests;
}

interface Side {
  master: DaemonHandle;
  subs: Subscription[];
  secured: boolean;
}

async function startSide(frameworks: number, secured: boolean): Promise<Side> {
  const dir = tempDir();
  const flags: Record<string, string | boolean> = {};
  if (secured) {
    const credentials = join(dir, "credentials");
    writeFileSync(credentials, "reader pw\n");
    const acls = join(dir, "acls.json");
    writeFileSync(acls, JSON.stringify(hundredRules()));
    Object.assign(flags, {
      credentials,
      acls: `file://${acls}`,
      authenticate_http_readonly: true,
      authenticate_http_readwrite: true,
      authenticate_http_frameworks: true,
      http_framework_authenticators: "basic",
    });
  }
  const master = await startMaster({ flags });
  const subs = await populate(master, frameworks, secured);
  return { master, subs, secured };
}

/**
 * Both masters run at once and are measured in alternating rounds, so load
 * from other work on the machine hits both sides alike.
 */
async function measure(frameworks: number, requests: number) {
  const none = await startSide(frameworks, false);
  const acl = await startSide(frameworks, true);
  const totals = { noneState: 0, aclState: 0, noneCall: 0, aclCall: 0 };
  const rounds = 10;
  const per = Math.max(1, Math.round(requests / rounds));
  try {
    for (const side of [none, acl]) {
      await timeState(side.master, 5, side.secured);
      const first = side.subs[0];
      if (first === undefined) throw new Error("no framework");
      await timeCalls(first, 5, side.secured);
    }
    for (let round = 0; round < rounds; round++) {
      totals.noneState += await timeState(none.master, per, false);
      totals.aclState += await timeState(acl.master, per, true);
      totals.noneCall += await timeCalls(none.subs[0] as Subscription, per, false);
      totals.aclCall += await timeCalls(acl.subs[0] as Subscription, per, true);
    }
  } finally {
    for (const side of [none, acl]) {
      for (const s of side.subs) s.close();
      await side.master.stop();
    }
  }
  return {
    none: { stateMs: totals.noneState / rounds, callMs: totals.noneCall / rounds },
    acl: { stateMs: totals.aclState / rounds, callMs: totals.aclCall / rounds },
  };
}

function authorizerRate(): number {
  const parsed = parseAcls(hundredRules());
  if (!parsed.ok) throw new Error(parsed.error);
  const a = new LocalAuthorizer(parsed.value);
  const n = 200_000;
  let allowed = 0;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    if (a.authorized("view_frameworks", "reader", i % 2 === 0 ? "visible" : "hidden")) allowed++;
  }
  const s = (performance.now() - t0) / 1000;
  if (allowed !== n / 2) throw new Error("authorizer bench: unexpected decisions");
  return n / s;
}

export async function run(args: string[]): Promise<void> {
  const frameworks = Number(args[0] ?? 100);
  const requests = Number(args[1] ?? 200);
  try {
    const { none, acl } = await measure(frameworks, requests);
    reportCase(NAME, `state ${frameworks} frameworks, ${requests} GETs`, {
      none_mean_ms: round2(none.stateMs),
      acl_mean_ms: round2(acl.stateMs),
      ratio: round2(acl.stateMs / none.stateMs),
    });
    reportCase(NAME, `scheduler REVIVE x${requests}`, {
      none_mean_ms: round2(none.callMs),
      acl_mean_ms: round2(acl.callMs),
      ratio: round2(acl.callMs / none.callMs),
    });
    reportCase(NAME, "authorizer 100 rules", {
      checks_per_s: Math.round(authorizerRate()),
    });
  } finally {
    await stopAll();
  }
}
