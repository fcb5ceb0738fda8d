/**
 * ACCESS_SANDBOX and ACCESS_MESOS_LOG on the virtual filesystem: the
 * guards attached with sandboxes and logs, the legacy `/files` handlers,
 * the v1 LIST_FILES / READ_FILE calls and the master's check before it
 * forwards a sandbox path.
 */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { SandboxFiles } from "../../src/agent/http/sandbox-files.js";
import { setPrincipal } from "../../src/common/auth/basic.js";
import { setRequestAuthorizer } from "../../src/common/auth/request-auth.js";
import { FilesHandlers, requestCaller } from "../../src/common/files/files-http.js";
import { FilesError, logAccess, VirtualFiles } from "../../src/common/files/virtual-files.js";
import type { BuildInfo } from "../../src/common/http/common-endpoints.js";
import { commonOperatorCall } from "../../src/common/http/operator-common-calls.js";
import type { OperatorServices } from "../../src/common/http/operator-processes.js";
import { HttpRequest } from "../../src/common/http/request.js";
import { type BodyResponse, type HttpResponse, response } from "../../src/common/http/response.js";
import { silentLogger } from "../../src/common/observability/logger.js";
import type { Master } from "../../src/master/core/master.js";
import { executorUser, forwardGuard } from "../../src/master/http/files-forward.js";
import { localAuthorizer } from "../harness/acls.js";

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "files-acls-"));
  dirs.push(d);
  return d;
}

/** Only `ops` may read sandboxes of executors running as `alice`; nobody else reads the log. */
const ACLS = {
  permissive: false,
  access_sandboxes: [{ principals: { values: ["ops"] }, users: { values: ["alice"] } }],
  access_mesos_logs: [{ principals: { values: ["ops"] }, logs: { type: "ANY" } }],
};

/** `acls` null: no guard saw the request (a daemon without `--acls` behaves alike). */
function get(path: string, principal?: string, acls: unknown = ACLS): HttpRequest {
  const q = path.indexOf("?");
  const r = new HttpRequest({
    method: "GET",
    path: q < 0 ? path : path.slice(0, q),
    rawQuery: q < 0 ? "" : path.slice(q + 1),
    headers: {},
    body: new Uint8Array(),
    remoteAddress: "127.0.0.1",
    remotePort: 1,
  });
  if (acls !== null) setRequestAuthorizer(r, localAuthorizer(acls));
  if (principal !== undefined) setPrincipal(r, principal);
  return r;
}

function body(r: HttpResponse): string {
  assert.equal(r.kind, "body");
  const b = (r as BodyResponse).body;
  return typeof b === "string" ? b : Buffer.from(b).toString("utf8");
}

const SANDBOX = "/frameworks/f1/executors/e1/runs/latest";

/** A VirtualFiles with one sandbox (run by `user`) and the agent log attached. */
async function agentFiles(user: string | undefined): Promise<VirtualFiles> {
  const workDir = tempDir();
  const directory = join(workDir, "sandbox");
  mkdirSync(directory);
  writeFileSync(join(directory, "stdout"), "hello\n");
  const log = join(workDir, "agent.INFO");
  writeFileSync(log, "log line\n");
  const files = new VirtualFiles();
  const sandboxes = new SandboxFiles(files, workDir, silentLogger);
  sandboxes.userOf = () => user;
  await sandboxes.attachRecovered([
    { ids: { agentId: "a1", frameworkId: "f1", executorId: "e1", containerId: "c1" }, directory },
  ]);
  await files.attach(log, "/slave/log");
  return files;
}

test("files acls: a principal the rules allow reads an alice sandbox; others get 403 with a reason", async () => {
  const h = new FilesHandlers(await agentFiles("alice"));
  const ok = await h.read(get(`/files/read?path=${SANDBOX}/stdout&offset=0`, "ops"));
  assert.equal(ok.status, 200);
  assert.deepEqual(JSON.parse(body(ok)), { offset: 0, data: "hello\n" });
  const refused = await h.browse(get(`/files/browse?path=${SANDBOX}`, "eve"));
  assert.equal(refused.status, 403);
  assert.equal(
    body(refused),
    "Principal 'eve' is not authorized to access the sandbox of executor 'e1' of framework f1\n",
  );
  const anonymous = await h.download(get(`/files/download?path=${SANDBOX}/stdout`));
  assert.equal(anonymous.status, 403);
  assert.match(body(anonymous), /^Anonymous is not authorized to access the sandbox/);
});

test("files acls: a refused caller learns nothing of what exists in the sandbox", async () => {
  const h = new FilesHandlers(await agentFiles("alice"));
  const r = await h.read(get(`/files/read?path=${SANDBOX}/no-such-file&offset=0`, "eve"));
  assert.equal(r.status, 403);
});

test("files acls: the sandbox's object is the executor's user, so ops cannot read bob's", async () => {
  const h = new FilesHandlers(await agentFiles("bob"));
  const r = await h.read(get(`/files/read?path=${SANDBOX}/stdout&offset=0`, "ops"));
  assert.equal(r.status, 403);
});

test("files acls: the real sandbox path is guarded as the virtual one", async () => {
  const files = await agentFiles("bob");
  const real = Object.entries(files.debug()).find(([v]) => v.endsWith("/sandbox"))?.[0];
  assert.ok(real !== undefined, JSON.stringify(files.debug()));
  const r = await new FilesHandlers(files).browse(get(`/files/browse?path=${real}`, "ops"));
  assert.equal(r.status, 403);
});

test("files acls: /slave/log is refused to principals without access_mesos_logs", async () => {
  const h = new FilesHandlers(await agentFiles("alice"));
  const ok = await h.read(get("/files/read?path=/slave/log&offset=0", "ops"));
  assert.equal(ok.status, 200);
  const refused = await h.read(get("/files/read?path=/slave/log&offset=0", "eve"));
  assert.equal(refused.status, 403);
  assert.equal(body(refused), "Principal 'eve' is not authorized to access the Mesos log\n");
});

test("files acls: /master/log is guarded by access_mesos_logs even when attached without a guard", async () => {
  const dir = tempDir();
  writeFileSync(join(dir, "master.INFO"), "x\n");
  const files = new VirtualFiles();
  await files.attach(join(dir, "master.INFO"), "/master/log");
  const h = new FilesHandlers(files);
  assert.equal((await h.read(get("/files/read?path=/master/log&offset=0", "eve"))).status, 403);
  assert.equal((await h.read(get("/files/read?path=/master/log&offset=0", "ops"))).status, 200);
});

test("files acls: without --acls, or permissive with no matching rule, everyone reads", async () => {
  const h = new FilesHandlers(await agentFiles("bob"));
  const noAcls = get(`/files/read?path=${SANDBOX}/stdout&offset=0`, undefined, null);
  assert.equal((await h.read(noAcls)).status, 200);
  const permissive = { permissive: true, view_flags: [] };
  assert.equal(
    (await h.read(get(`/files/read?path=${SANDBOX}/stdout&offset=0`, "eve", permissive))).status,
    200,
  );
  assert.equal(
    (await h.read(get("/files/read?path=/slave/log&offset=0", undefined, permissive))).status,
    200,
  );
});

test("files acls: an unauthenticated caller matches rules for ANY principals", async () => {
  const h = new FilesHandlers(await agentFiles("alice"));
  const anyone = {
    permissive: false,
    access_sandboxes: [{ principals: { type: "ANY" }, users: { values: ["alice"] } }],
    access_mesos_logs: [{ principals: { type: "ANY" }, logs: { type: "NONE" } }],
  };
  const r = get(`/files/read?path=${SANDBOX}/stdout&offset=0`, undefined, anyone);
  assert.equal((await h.read(r)).status, 200);
  const log = get("/files/read?path=/slave/log&offset=0", undefined, anyone);
  assert.equal((await h.read(log)).status, 403);
});

test("files acls: a sandbox whose user is unknown matches only rules for ANY users", async () => {
  const h = new FilesHandlers(await agentFiles(undefined));
  assert.equal(
    (await h.read(get(`/files/read?path=${SANDBOX}/stdout&offset=0`, "ops"))).status,
    403,
  );
  const anyUser = {
    permissive: false,
    access_sandboxes: [{ principals: { values: ["ops"] }, users: { type: "ANY" } }],
  };
  assert.equal(
    (await h.read(get(`/files/read?path=${SANDBOX}/stdout&offset=0`, "ops", anyUser))).status,
    200,
  );
});

test("files acls: an internal read (no caller) is not checked", async () => {
  const files = await agentFiles("bob");
  const chunk = await files.read(`${SANDBOX}/stdout`, 0);
  assert.equal(chunk.data.toString(), "hello\n");
  await assert.rejects(
    files.read(`${SANDBOX}/stdout`, 0, undefined, requestCaller(get("/", "ops"))),
    (e: unknown) => e instanceof FilesError && e.status === 403,
  );
  assert.equal(logAccess.allows(requestCaller(get("/", "ops"))), true);
});

const BUILD: BuildInfo = { version: "1.12.0", buildDate: "", buildTime: 0, buildUser: "" };

async function v1(files: VirtualFiles, call: unknown, request?: HttpRequest) {
  const ctx = { services: { files } as unknown as OperatorServices, flags: {}, build: BUILD };
  const r = await commonOperatorCall(
    call as Parameters<typeof commonOperatorCall>[0],
    ctx,
    (m) => response(200, JSON.stringify(m)),
    request,
  );
  assert.ok(r !== undefined);
  return r;
}

test("files acls: v1 LIST_FILES and READ_FILE apply the same guards", async () => {
  const files = await agentFiles("alice");
  const list = { type: "LIST_FILES", list_files: { path: SANDBOX } };
  const read = { type: "READ_FILE", read_file: { path: "/slave/log", offset: 0 } };
  assert.equal((await v1(files, list, get("/api/v1", "ops"))).status, 200);
  const refused = await v1(files, list, get("/api/v1", "eve"));
  assert.equal(refused.status, 403);
  assert.match(body(refused), /^Principal 'eve' is not authorized to access the sandbox/);
  assert.equal((await v1(files, read, get("/api/v1", "ops"))).status, 200);
  assert.equal((await v1(files, read, get("/api/v1", "eve"))).status, 403);
  assert.equal((await v1(files, read, get("/api/v1"))).status, 403);
});

/** A master with framework f1 (user bob) running executor e1 as alice, and command task t1. */
function fakeMaster(): Master {
  const framework = {
    id: "f1",
    info: { user: "bob" },
    executors: new Map([["a1", new Map([["e1", { command: { user: "alice" } }]])]]),
    tasks: new Map([["t1", { task_id: { value: "t1" }, agent_id: { value: "a1" } }]]),
    completedTasks: [],
    unreachableTasks: new Map(),
  };
  return {
    frameworks: new Map([["f1", framework]]),
    completedFrameworks: [],
  } as unknown as Master;
}

test("files acls: the master knows an executor's user: its command's, else its framework's", () => {
  const m = fakeMaster();
  assert.equal(executorUser(m, "f1", "e1"), "alice");
  assert.equal(executorUser(m, "f1", "t1"), "bob");
  assert.equal(executorUser(m, "nope", "e1"), undefined);
});

test("files acls: the master checks sandbox and agent log paths before forwarding them", () => {
  const m = fakeMaster();
  const ops = requestCaller(get("/", "ops"));
  const eve = requestCaller(get("/", "eve"));
  const virtual = forwardGuard(m, "/frameworks/f1/executors/e1/runs/latest/stdout");
  assert.equal(virtual?.allows(ops), true);
  assert.equal(virtual?.allows(eve), false);
  const commandTask = forwardGuard(m, "/frameworks/f1/executors/t1/runs/latest");
  assert.equal(commandTask?.allows(ops), false, "t1 runs as bob");
  const real = forwardGuard(m, "/tmp/w/slaves/a1/frameworks/f1/executors/e1/runs/c1/stdout");
  assert.equal(real?.allows(ops), true);
  assert.equal(real?.allows(eve), false);
  const log = forwardGuard(m, "/agents/a1/slave/log");
  assert.equal(log?.allows(ops), true);
  assert.equal(log?.allows(eve), false);
  assert.equal(forwardGuard(m, "/agents/a1/other"), undefined);
});
