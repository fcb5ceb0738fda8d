/**
 * SANDBOX_PATH volumes of type PARENT and persistent volumes of task-group
 * tasks, on a real master and two agents:
 *
 * - `--isolation=volume/sandbox_path` (no filesystem/linux): the volume is a
 *   symlink in the nested container's sandbox, as Mesos makes it;
 * - `--isolation=filesystem/linux` (root only): a bind mount, read-only for
 *   an `RO` volume.
 *
 * On each, a task of a task group writes into its persistent volume at
 * `$MESOS_SANDBOX/<container_path>` and a later group's task reads it there
 * (the default executor gives each task a PARENT volume for it); a nested
 * container launched through the agent API sees a file of its parent's
 * sandbox through a PARENT volume; invalid SANDBOX_PATH volumes are refused
 * with Mesos' texts; a nobody parent's link out of its sandbox does not lead
 * root (the agent) to make a source out of it.
 */
import assert from "node:assert/strict";
import { existsSync, lstatSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { Offer, Resource } from "../../src/common/protocol/generated/mesos-v1.js";
import type { Call, Event } from "../../src/common/protocol/generated/mesos-v1-scheduler.js";
import { operatorCall } from "../harness/operator.js";
import {
  type DaemonHandle,
  startAgent,
  startMaster,
  stopAll,
  tempDir,
  waitFor,
  waitForAgents,
  waitLong,
} from "../harness/processes.js";
import { type Subscription, subscribe, subscribeCall } from "./master-clients.js";

const ROLE = "db";
const RESERVATION = { type: "DYNAMIC" as const, role: ROLE, principal: "ops" };
const root = process.platform === "linux" && process.getuid?.() === 0;
const NOBODY = 65534;

interface Kind {
  name: "link" | "mount";
  isolation: string;
  skip?: string;
}

const KINDS: Kind[] = [
  { name: "link", isolation: "volume/sandbox_path" },
  {
    name: "mount",
    isolation: "filesystem/linux",
    ...(root ? {} : { skip: "filesystem/linux needs root on Linux" }),
  },
];

let master: DaemonHandle;
const agents = new Map<string, DaemonHandle>();
const open: Subscription[] = [];

before(async () => {
  master = await startMaster({ flags: { allocation_interval: "100ms" } });
  for (const kind of KINDS) {
    if (kind.skip !== undefined) continue;
    agents.set(
      kind.name,
      await startAgent({
        master: master.address,
        flags: {
          isolation: kind.isolation,
          attributes: `kind:${kind.name}`,
          registration_backoff_factor: "10ms",
        },
      }),
    );
  }
  await waitForAgents(master, agents.size);
});

after(async () => {
  for (const s of open) s.close();
  await stopAll();
});

// --- the agent API ---------------------------------------------------------

const SMALL = [
  { name: "cpus", type: "SCALAR", scalar: { value: 0.1 } },
  { name: "mem", type: "SCALAR", scalar: { value: 64 } },
];

function containerId(id: string, parent?: string): Record<string, unknown> {
  return parent === undefined ? { value: id } : { value: id, parent: { value: parent } };
}

function launchCall(
  id: string,
  command: string,
  parent?: string,
  volumes?: unknown[],
): Record<string, unknown> {
  return {
    type: "LAUNCH_CONTAINER",
    launch_container: {
      container_id: containerId(id, parent),
      command: { value: command },
      ...(parent === undefined ? { resources: SMALL } : {}),
      ...(volumes === undefined ? {} : { container: { type: "MESOS", volumes } }),
    },
  };
}

function parentVolume(path: string, containerPath: string, mode: "RW" | "RO" = "RW") {
  return {
    container_path: containerPath,
    mode,
    source: { type: "SANDBOX_PATH", sandbox_path: { type: "PARENT", path } },
  };
}

/** WAIT_CONTAINER's exit status (a raw wait status: 0 is success). */
async function exitStatusOf(on: DaemonHandle, id: string, parent?: string): Promise<number> {
  const r = await operatorCall(on, {
    type: "WAIT_CONTAINER",
    wait_container: { container_id: containerId(id, parent) },
  });
  assert.equal(r.status, 200, r.text);
  const body = JSON.parse(r.text) as { wait_container?: { exit_status?: number } };
  return body.wait_container?.exit_status ?? -1;
}

/** Launches a nested container of `parent` and waits for its end; returns its exit status. */
async function runNested(
  on: DaemonHandle,
  parent: string,
  id: string,
  command: string,
  volumes: unknown[],
): Promise<number> {
  const r = await operatorCall(on, launchCall(id, command, parent, volumes));
  assert.equal(r.status, 200, r.text);
  return exitStatusOf(on, id, parent);
}

/** A refused launch: 400 and its text. */
async function refusedLaunch(
  on: DaemonHandle,
  id: string,
  parent: string | undefined,
  volumes: unknown[],
): Promise<string> {
  const r = await operatorCall(on, launchCall(id, "true", parent, volumes));
  assert.equal(r.status, 400, r.text);
  return r.text;
}

// --- the scheduler side ----------------------------------------------------

function scalar(name: string, value: number): Resource {
  return { name, type: "SCALAR", scalar: { value } };
}

function reserved(name: string, value: number, extra: Partial<Resource> = {}): Resource {
  return { ...scalar(name, value), reservations: [RESERVATION], ...extra };
}

/** A persistent volume (always RW: the master refuses read-only ones, as Mesos'). */
function volume(id: string, containerPath: string): Resource {
  return reserved("disk", 8, {
    disk: {
      persistence: { id, principal: "ops" },
      volume: { mode: "RW", container_path: containerPath },
    },
  });
}

let subscription: Subscription | undefined;
const used = new Set<string>();

/** One framework for every test: offers of both agents come to it. */
async function scheduler(): Promise<Subscription> {
  if (subscription !== undefined) return subscription;
  const s = await subscribe(
    master.url,
    subscribeCall("sandbox-path-volumes", {
      roles: [ROLE],
      principal: "ops",
      checkpoint: true,
      capabilities: [{ type: "MULTI_ROLE" }],
    }),
  );
  s.autoAcknowledge = true;
  open.push(s);
  subscription = s;
  return s;
}

/** The offer has the cpus, mem and disk of a group of one task and its executor. */
function enough(rs: Resource[]): boolean {
  const sum = (name: string) =>
    rs
      .filter((r) => r.name === name && r.disk?.persistence === undefined)
      .reduce((n, r) => n + (r.scalar?.value ?? 0), 0);
  return sum("cpus") >= 0.2 && sum("mem") >= 64 && sum("disk") >= 8;
}

function kindOf(offer: Offer): string | undefined {
  return offer.attributes?.find((a) => a.name === "kind")?.text?.value;
}

/**
 * The live offers of the `kind` agent, once together they hold what `ok`
 * wants (freed resources may come in an offer of their own); all are taken.
 */
async function takeOffers(
  s: Subscription,
  kind: string,
  what: string,
  ok: (resources: Resource[]) => boolean,
): Promise<Offer[]> {
  const offers = await waitFor(
    what,
    () => {
      const rescinded = new Set(
        s.events.flatMap((e) => (e.rescind ? [e.rescind.offer_id.value] : [])),
      );
      const live = s.events
        .flatMap((e) => e.offers?.offers ?? [])
        .filter((o) => !used.has(o.id.value) && !rescinded.has(o.id.value) && kindOf(o) === kind);
      return ok(live.flatMap((o) => o.resources ?? [])) ? live : undefined;
    },
    { timeoutMs: 30_000, intervalMs: 20 },
  );
  for (const o of offers) used.add(o.id.value);
  return offers;
}

function accept(
  s: Subscription,
  offers: Offer[],
  operations: NonNullable<Call["accept"]>["operations"],
) {
  return s.call({
    type: "ACCEPT",
    accept: { offer_ids: offers.map((o) => o.id), operations, filters: { refuse_seconds: 0 } },
  });
}

/** A LAUNCH_GROUP of one task on its own default executor. */
function group(
  s: Subscription,
  offers: Offer[],
  executorId: string,
  taskId: string,
  resources: Resource[],
  shell: string,
) {
  return {
    type: "LAUNCH_GROUP" as const,
    launch_group: {
      executor: {
        type: "DEFAULT" as const,
        executor_id: { value: executorId },
        framework_id: { value: s.frameworkId },
        resources: [scalar("cpus", 0.1), scalar("mem", 32), scalar("disk", 8)],
      },
      task_group: {
        tasks: [
          {
            name: taskId,
            task_id: { value: taskId },
            agent_id: { value: offers[0]?.agent_id.value ?? "" },
            resources: [scalar("cpus", 0.1), scalar("mem", 32), ...resources],
            command: { value: shell },
          },
        ],
      },
    },
  };
}

async function reachEnd(
  s: Subscription,
  taskId: string,
): Promise<NonNullable<Event["update"]>["status"]> {
  return waitLong(`${taskId} to end`, () => {
    const last = s.events.filter((e) => e.update?.status.task_id.value === taskId).at(-1)
      ?.update?.status;
    return last !== undefined && /FINISHED|FAILED|KILLED|LOST|ERROR|DROPPED/.test(last.state)
      ? last
      : undefined;
  });
}

/** The sandbox of executor `executorId` on `agent`, from its /state. */
async function executorSandbox(agent: DaemonHandle, executorId: string): Promise<string> {
  return waitFor(`executor ${executorId} in the agent's state`, async () => {
    const state = (await (await fetch(`${agent.url}/state`)).json()) as {
      frameworks?: { executors?: { id: string; directory: string }[] }[];
      completed_frameworks?: { executors?: { id: string; directory: string }[] }[];
    };
    const all = [...(state.frameworks ?? []), ...(state.completed_frameworks ?? [])].flatMap(
      (f) => [
        ...(f.executors ?? []),
        ...((f as { completed_executors?: { id: string; directory: string }[] })
          .completed_executors ?? []),
      ],
    );
    return all.find((e) => e.id === executorId)?.directory;
  });
}

for (const kind of KINDS) {
  describe(`SANDBOX_PATH volumes with --isolation=${kind.isolation}`, { skip: kind.skip }, () => {
    test("a task-group task writes its persistent volume at $MESOS_SANDBOX/<container_path>; a later group's task reads it there", async () => {
      const agent = agents.get(kind.name);
      assert.ok(agent !== undefined);
      const s = await scheduler();
      const rw = volume(`rw-${kind.name}`, "vol");
      const first = await takeOffers(s, kind.name, "an offer with unreserved disk", (rs) =>
        rs.some((r) => r.name === "disk" && r.disk === undefined && (r.role ?? "*") === "*"),
      );
      const writer = `writer-${kind.name}`;
      const reply = await accept(s, first, [
        { type: "RESERVE", reserve: { resources: [reserved("disk", 8)] } },
        { type: "CREATE", create: { volumes: [rw] } },
        group(
          s,
          first,
          `writer-executor-${kind.name}`,
          writer,
          [rw],
          'echo data > "$MESOS_SANDBOX/vol/f"',
        ),
      ]);
      assert.equal(reply.status, 202, reply.body);
      const written = await reachEnd(s, writer);
      assert.equal(written.state, "TASK_FINISHED", written.message);

      const hostDir = join(agent.workDir, "volumes", "roles", ROLE, `rw-${kind.name}`);
      assert.equal(readFileSync(join(hostDir, "f"), "utf8"), "data\n");
      // How the volume was put in the task's sandbox: a symlink, or a mount point
      // (a directory, empty outside the task's mount namespace).
      const sandbox = await executorSandbox(agent, `writer-executor-${kind.name}`);
      const inTask = lstatSync(join(sandbox, "tasks", writer, "vol"));
      assert.equal(inTask.isSymbolicLink(), kind.name === "link");
      assert.equal(existsSync(join(sandbox, "tasks", writer, "vol", "f")), kind.name === "link");

      const later = await takeOffers(
        s,
        kind.name,
        "an offer with the volume",
        (rs) => rs.some((r) => r.disk?.persistence?.id === `rw-${kind.name}`) && enough(rs),
      );
      const reader = `reader-${kind.name}`;
      const second = await accept(s, later, [
        group(
          s,
          later,
          `reader-executor-${kind.name}`,
          reader,
          [rw],
          'test "$(cat "$MESOS_SANDBOX/vol/f")" = data && echo more >> "$MESOS_SANDBOX/vol/f"',
        ),
      ]);
      assert.equal(second.status, 202, second.body);
      const read = await reachEnd(s, reader);
      assert.equal(read.state, "TASK_FINISHED", read.message);
      assert.equal(readFileSync(join(hostDir, "f"), "utf8"), "data\nmore\n");
    });

    test("a nested container sees its parent's sandbox through a PARENT volume; bad volumes get Mesos' texts", async () => {
      const agent = agents.get(kind.name);
      assert.ok(agent !== undefined);
      const parent = `parent-${kind.name}`;
      const started = await operatorCall(agent, launchCall(parent, "sleep 1000"));
      assert.equal(started.status, 200, started.text);
      try {
        const parentSandbox = join(agent.workDir, "containers", parent);
        mkdirSync(join(parentSandbox, "shared"), { recursive: true });
        writeFileSync(join(parentSandbox, "shared", "hello"), "hello\n");

        const rw = await runNested(
          agent,
          parent,
          "rw",
          "cat p/hello > copy && echo back > p/reply",
          [parentVolume("shared", "p")],
        );
        assert.equal(rw, 0);
        const child = join(parentSandbox, "containers", "rw");
        assert.equal(readFileSync(join(child, "copy"), "utf8"), "hello\n");
        assert.equal(readFileSync(join(parentSandbox, "shared", "reply"), "utf8"), "back\n");
        assert.equal(lstatSync(join(child, "p")).isSymbolicLink(), kind.name === "link");

        // A missing source is created in the parent's sandbox.
        assert.equal(
          await runNested(agent, parent, "fresh", "touch q/made", [parentVolume("new/dir", "q")]),
          0,
        );
        assert.ok(existsSync(join(parentSandbox, "new", "dir", "made")));

        if (kind.name === "mount") {
          const ro = await runNested(agent, parent, "ro", "cat p/hello > copy && ! touch p/x", [
            parentVolume("shared", "p", "RO"),
          ]);
          assert.equal(ro, 0, "the RO volume was readable and refused a write");
          assert.equal(existsSync(join(parentSandbox, "shared", "x")), false);
        }

        assert.match(
          await refusedLaunch(agent, "standalone-parent-volume", undefined, [
            parentVolume("shared", "p"),
          ]),
          /SANDBOX_PATH volume PARENT type only works for nested container/,
        );
        assert.match(
          await refusedLaunch(agent, "absolute", parent, [parentVolume("/etc", "p")]),
          /Path '\/etc' in SANDBOX_PATH volume is absolute/,
        );
        assert.match(
          await refusedLaunch(agent, "self", parent, [
            {
              container_path: "p",
              mode: "RW",
              source: { type: "SANDBOX_PATH", sandbox_path: { type: "SELF", path: "x" } },
            },
          ]),
          /'container_path' is relative for SANDBOX_PATH volume SELF type/,
        );
        assert.match(
          await refusedLaunch(agent, "unset", parent, [
            { container_path: "p", mode: "RW", source: { type: "SANDBOX_PATH" } },
          ]),
          /'source.sandbox_path' is not set for SANDBOX_PATH volume/,
        );
        if (kind.name === "link") {
          assert.match(
            await refusedLaunch(agent, "abs-target", parent, [parentVolume("shared", "/mnt")]),
            /The 'linux' launcher and 'filesystem\/linux' isolator must be enabled to support SANDBOX_PATH volume with absolute container path/,
          );
        } else {
          // An absolute container_path without an image is a mount point on the host.
          const point = tempDir("sandbox-path-mount-point-");
          const abs = await runNested(agent, parent, "abs-target", `test -f ${point}/hello`, [
            parentVolume("shared", point, "RO"),
          ]);
          assert.equal(abs, 0, "the parent's directory was mounted at the absolute path");
          assert.equal(existsSync(join(point, "hello")), false);
        }
      } finally {
        await operatorCall(agent, {
          type: "KILL_CONTAINER",
          kill_container: { container_id: containerId(parent) },
        });
        await exitStatusOf(agent, parent);
      }
    });

    test("a nobody parent that links its sandbox out of it cannot have root make a source there; a plain nested source is made for it", {
      skip: root ? false : "--switch_user to nobody needs root",
    }, async () => {
      const agent = agents.get(kind.name);
      assert.ok(agent !== undefined);
      const parent = `nobody-parent-${kind.name}`;
      // Stands for /root: root's, out of every sandbox.
      const victim = tempDir("sandbox-path-victim-");
      const launch = launchCall(parent, `ln -s ${victim} a && sleep 1000`) as {
        launch_container: { command: Record<string, unknown> };
      };
      launch.launch_container.command.user = "nobody";
      const started = await operatorCall(agent, launch);
      assert.equal(started.status, 200, started.text);
      try {
        const link = join(agent.workDir, "containers", parent, "a");
        await waitLong("the parent's link in its sandbox", () => lstatSync(link).isSymbolicLink());
        assert.equal(lstatSync(link).uid, NOBODY, "the task made its link as nobody");
        assert.match(
          await refusedLaunch(agent, "escape", parent, [parentVolume("a/.ssh", "k")]),
          /Path 'a\/\.ssh' in SANDBOX_PATH volume leads out of the parent's sandbox through the symbolic link '.*\/a'/,
        );
        assert.equal(existsSync(join(victim, ".ssh")), false, "nothing was made through the link");

        const write = kind.name === "mount" ? "touch q/made" : "true";
        const nested = launchCall("plain", write, parent, [parentVolume("ok/dir", "q")]) as {
          launch_container: { command: Record<string, unknown> };
        };
        nested.launch_container.command.user = "nobody";
        const r = await operatorCall(agent, nested);
        assert.equal(r.status, 200, r.text);
        assert.equal(await exitStatusOf(agent, "plain", parent), 0);
        const made = join(agent.workDir, "containers", parent, "ok", "dir");
        assert.equal(statSync(made).uid, NOBODY, "the source is the sandbox owner's");
        // Through a link, nobody would have to pass the test agent's work_dir (0700).
        if (kind.name === "mount") assert.ok(existsSync(join(made, "made")));
      } finally {
        await operatorCall(agent, {
          type: "KILL_CONTAINER",
          kill_container: { container_id: containerId(parent) },
        });
        await exitStatusOf(agent, parent);
      }
    });
  });
}
