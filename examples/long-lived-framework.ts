/**
 * A long-lived framework: keeps `--num_tasks` copies of a command running
 * on the cluster, and whenever one ends (finished, failed, killed, lost)
 * launches a replacement on the next offer. This is the shape of a service
 * scheduler (a tiny Marathon). Ctrl-C tears the framework down, which kills
 * its tasks.
 *
 *   npm run build
 *   node dist/examples/long-lived-framework.js --master=127.0.0.1:5050 \
 *     --num_tasks=2 --command='sleep 10'
 *
 * `--max_launches=N` stops after N launches have ended (for demos and tests).
 */
import { userInfo } from "node:os";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { defineFlags, loadFlags, usage, wantsHelp } from "../src/common/flags/index.js";
import { flag } from "../src/common/flags/spec.js";
import { Resources } from "../src/common/resources/index.js";
import type { Resource as CommonResource } from "../src/common/resources/types.js";
import {
  findOfferResources,
  isTerminalState,
  type Offer,
  offerResources,
  parseResourceText,
  SchedulerClient,
  type TaskInfo,
  type TaskStatus,
} from "../src/scheduler/index.js";

const flags = defineFlags({
  master: flag.string({ help: "The master, as host:port.", required: true }),
  num_tasks: flag.uint({ help: "How many tasks to keep running.", default: 2 }),
  command: flag.string({ help: "The command each task runs.", default: "sleep 10" }),
  resources: flag.string({ help: "Resources of each task.", default: "cpus:0.1;mem:32" }),
  role: flag.string({ help: "Role to register with.", default: "*" }),
  max_launches: flag.uint({
    help: "Stop (tear down) once this many launched tasks have ended; 0 runs forever.",
    default: 0,
  }),
});

export async function main(argv: string[]): Promise<number> {
  if (wantsHelp(argv)) {
    process.stdout.write(`${usage(flags, "long-lived-framework")}\n`);
    return 0;
  }
  const loaded = loadFlags(flags, { argv, env: process.env, envPrefix: "MESOS_EXAMPLE_" });
  if (!loaded.ok) {
    process.stderr.write(`${loaded.error}\n`);
    return 1;
  }
  const options = loaded.flags.values;
  const want = parseResourceText(options.resources);
  if (!want.ok) {
    process.stderr.write(`Invalid --resources: ${want.error}\n`);
    return 1;
  }

  const client = new SchedulerClient({
    master: options.master,
    framework: {
      user: userInfo().username,
      name: "Long-lived Framework (TypeScript)",
      role: options.role,
      // Tasks outlive a restart of this scheduler for a week: re-run it with
      // the printed framework id in MESOS_EXAMPLE_FRAMEWORK_ID to take over.
      failover_timeout: 7 * 24 * 3600,
      ...(process.env.MESOS_EXAMPLE_FRAMEWORK_ID === undefined
        ? {}
        : { id: { value: process.env.MESOS_EXAMPLE_FRAMEWORK_ID } }),
    },
  });

  /** Tasks launched and not yet ended, by id. */
  const active = new Set<string>();
  let launches = 0;
  let ended = 0;
  const done = () => options.max_launches > 0 && launches >= options.max_launches;

  const offers = (list: Offer[]) => {
    for (const offer of list) {
      // Fill the missing slots from this offer, as far as it goes.
      const tasks: TaskInfo[] = [];
      let left = offerResources(offer);
      while (active.size < options.num_tasks && !done()) {
        const rest: Offer = { ...offer, resources: left.toArray() as Offer["resources"] };
        const resources = findOfferResources(rest, want.resources, options.role);
        if (resources === undefined) break;
        const id = `task-${++launches}`;
        active.add(id);
        console.log(`Launching ${id} on agent ${offer.agent_id.value} (${offer.hostname})`);
        tasks.push({
          name: id,
          task_id: { value: id },
          agent_id: offer.agent_id,
          resources,
          command: { shell: true, value: options.command },
        });
        left = left.minus(Resources.from(resources as CommonResource[]));
      }
      if (tasks.length > 0) {
        void client.launch([offer.id], tasks);
      } else {
        // Nothing to run here: give the offer back, and keep it away for a while.
        void client.decline([offer.id], { refuse_seconds: 5 });
      }
    }
  };

  const update = (status: TaskStatus) => {
    const id = status.task_id.value;
    console.log(
      `Task ${id} is in state ${status.state}${status.message === undefined ? "" : ` (${status.message})`}`,
    );
    if (!isTerminalState(status.state) || !active.delete(id)) return;
    ended++;
    if (done() && ended >= launches) {
      console.log(`All ${launches} launches have ended; tearing down`);
      void client.teardown();
      return;
    }
    // A slot is free: make sure offers come even if we declined some lately.
    if (!done()) void client.revive();
  };

  client.start({
    subscribed: (info, resubscribed) => {
      console.log(
        `${resubscribed ? "Re-subscribed" : "Subscribed"} as framework ${info.framework_id.value}`,
      );
      // After a failover, ask the master what became of our tasks.
      if (resubscribed) void client.reconcile();
    },
    offers,
    update,
    disconnected: (reason) => console.log(`Disconnected from the master: ${reason}`),
    error: (message) => console.log(`Error: ${message}`),
  });
  process.once("SIGINT", () => void client.teardown());
  const reason = await client.closed;
  console.log(`Stopped: ${reason}`);
  return reason === "framework torn down" ? 0 : 1;
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  process.exitCode = await main(process.argv.slice(2));
}
