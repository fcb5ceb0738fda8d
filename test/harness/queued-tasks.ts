/**
 * The framework most command-task tests run: it launches the tasks a test
 * queues on the next offer and records every status it receives.
 *
 *   const c = new SchedulerClient({ master: master.address, framework });
 *   const tasks = startQueued(c);
 *   tasks.push("first", "exit 0");
 *   await waitFor("first finished", () => tasks.count("first", "TASK_FINISHED") > 0);
 */
import assert from "node:assert/strict";
import {
  findOfferResources,
  type Offer,
  parseResourceText,
  type SchedulerClient,
  type TaskInfo,
  type TaskStatus,
} from "../../src/scheduler/index.js";

/** A task's command: a shell command line, or the whole CommandInfo. */
export type QueuedCommand = string | NonNullable<TaskInfo["command"]>;

/** A started framework that launches queued command tasks on its next offers. */
export interface QueuedTasks {
  /** Launches `command` (0.1 cpus, 32 MB) as task `id` on the next offer. */
  push(id: string, command: QueuedCommand): void;
  /** Every status received, by task id, in order. */
  readonly statuses: Map<string, TaskStatus[]>;
  /** The state of the last status received for task `id`. */
  lastState(id: string): string | undefined;
  /** How many statuses of task `id` in `state` were received. */
  count(id: string, state: string): number;
  /** The agent of the last offer. */
  agentId(): Offer["agent_id"];
}

/**
 * Starts `client` launching what is pushed: all tasks queued when an offer
 * comes go on that offer; an offer with nothing queued is declined for 0.1 s.
 */
export function startQueued(client: SchedulerClient): QueuedTasks {
  const statuses = new Map<string, TaskStatus[]>();
  const queue: { id: string; command: QueuedCommand }[] = [];
  let agentId: Offer["agent_id"] = { value: "" };
  client.start({
    offers: (offers: Offer[]) => {
      for (const offer of offers) {
        agentId = offer.agent_id;
        const batch = queue.splice(0);
        if (batch.length === 0) {
          void client.decline([offer.id], { refuse_seconds: 0.1 });
          continue;
        }
        const wanted = parseResourceText("cpus:0.1;mem:32");
        assert.ok(wanted.ok);
        const tasks: TaskInfo[] = batch.map((t) => ({
          name: t.id,
          task_id: { value: t.id },
          agent_id: offer.agent_id,
          resources: findOfferResources(offer, wanted.resources) ?? [],
          command: typeof t.command === "string" ? { shell: true, value: t.command } : t.command,
        }));
        void client.launch([offer.id], tasks);
      }
    },
    update: (status) => {
      const list = statuses.get(status.task_id.value) ?? [];
      list.push(status);
      statuses.set(status.task_id.value, list);
    },
  });
  return {
    push: (id, command) => queue.push({ id, command }),
    statuses,
    lastState: (id) => statuses.get(id)?.at(-1)?.state,
    count: (id, state) => (statuses.get(id) ?? []).filter((s) => s.state === state).length,
    agentId: () => agentId,
  };
}

/**
 * A shell command task `id` on `offer` using `wanted` of its resources
 * (default 0.1 cpus, 32 MB); undefined when the offer does not hold them.
 */
export function commandTaskFitting(
  offer: Offer,
  id: string,
  command: string,
  wanted = "cpus:0.1;mem:32",
): TaskInfo | undefined {
  const parsed = parseResourceText(wanted);
  assert.ok(parsed.ok);
  const found = findOfferResources(offer, parsed.resources);
  if (found === undefined) return undefined;
  return {
    name: id,
    task_id: { value: id },
    agent_id: offer.agent_id,
    resources: found,
    command: { shell: true, value: command },
  };
}

/** A small (0.1 cpus, 32 MB) shell command task `id` on `offer`, which must fit it. */
export function commandTaskOn(offer: Offer, id: string, command: string): TaskInfo {
  const task = commandTaskFitting(offer, id, command);
  assert.ok(task !== undefined, "the offer fits a small task");
  return task;
}

/**
 * Ends test frameworks whatever state they are in: each subscribed one is
 * torn down (a failed teardown is passed over), then every one is closed.
 */
export async function closeClients(clients: Iterable<SchedulerClient>): Promise<void> {
  for (const c of clients) {
    if (c.state === "subscribed") await c.teardown().catch(() => undefined);
    c.close();
  }
}

/**
 * An offers handler for `client` that launches one small shell command task
 * `id` on the first offer it fits in, and declines every other offer for an
 * hour.
 */
export function launchOnce(
  client: SchedulerClient,
  id: string,
  command: string,
): (offers: Offer[]) => void {
  let launched = false;
  return (offers) => {
    for (const offer of offers) {
      const wanted = parseResourceText("cpus:0.1;mem:32");
      assert.ok(wanted.ok);
      const found = launched ? undefined : findOfferResources(offer, wanted.resources);
      if (found === undefined) {
        void client.decline([offer.id], { refuse_seconds: 3600 });
        continue;
      }
      launched = true;
      void client.launch(
        [offer.id],
        [
          {
            name: id,
            task_id: { value: id },
            agent_id: offer.agent_id,
            resources: found,
            command: { shell: true, value: command },
          },
        ],
      );
    }
  };
}
