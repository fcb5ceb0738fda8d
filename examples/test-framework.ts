/**
 * The Mesos "test framework" from the first chapter of the Mesos book,
 * written against mesos-ts' scheduler library: it runs 5 tasks on whatever
 * offers arrive (1 cpu and 128 MB each), each task handled by the custom
 * executor in test-executor.ts, prints what happens, and ends the framework
 * when all tasks finished.
 *
 *   npm run build
 *   node dist/examples/test-framework.js --master=127.0.0.1:5050
 *
 * Flags may also come from MESOS_EXAMPLE_<NAME> environment variables.
 */
import { userInfo } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { defineFlags, loadFlags, usage, wantsHelp } from "../src/common/flags/index.js";
import { flag } from "../src/common/flags/spec.js";
import { Resources } from "../src/common/resources/index.js";
import type { Resource as CommonResource } from "../src/common/resources/types.js";
import {
  type ExecutorInfo,
  findOfferResources,
  type Offer,
  parseContentType,
  parseResourceText,
  SchedulerClient,
  type TaskInfo,
  type TaskStatus,
} from "../src/scheduler/index.js";

const flags = defineFlags({
  master: flag.string({ help: "The master, as host:port.", required: true }),
  role: flag.string({ help: "Role to register with.", default: "*" }),
  total_tasks: flag.uint({ help: "How many tasks to run.", default: 5 }),
  explicit_acknowledgements: flag.bool({
    help: "Acknowledge status updates explicitly instead of letting the library do it.",
    default: false,
  }),
  content_type: flag.string({ help: "json or protobuf.", default: "protobuf" }),
  principal: flag.string({ help: "Principal to authenticate as." }),
  secret: flag.string({ help: "Secret of --principal." }),
});

const TASK_RESOURCES = "cpus:1;mem:128";

export async function main(argv: string[]): Promise<number> {
  if (wantsHelp(argv)) {
    process.stdout.write(`${usage(flags, "test-framework")}\n`);
    return 0;
  }
  const loaded = loadFlags(flags, { argv, env: process.env, envPrefix: "MESOS_EXAMPLE_" });
  if (!loaded.ok) {
    process.stderr.write(`${loaded.error}\n`);
    return 1;
  }
  const options = loaded.flags.values;
  const contentType = parseContentType(options.content_type);
  const taskResources = parseResourceText(TASK_RESOURCES);
  if (contentType === undefined || !taskResources.ok) {
    process.stderr.write(`Invalid --content_type '${options.content_type}'\n`);
    return 1;
  }

  // The executor is this directory's test-executor.js, run by the same node.
  const here = dirname(fileURLToPath(import.meta.url));
  const executor: ExecutorInfo = {
    executor_id: { value: "default" },
    name: "Test Executor (TypeScript)",
    command: {
      shell: true,
      value: `'${process.execPath}' '${join(here, "test-executor.js")}'`,
    },
  };

  if (options.explicit_acknowledgements) {
    console.log("Enabling explicit acknowledgements for status updates");
  }
  const client = new SchedulerClient({
    master: options.master,
    framework: {
      // Mesos' old driver filled in the current user; the v1 API leaves it to us.
      user: userInfo().username,
      name: "Test Framework (TypeScript)",
      role: options.role,
      ...(options.principal === undefined ? {} : { principal: options.principal }),
    },
    contentType,
    autoAcknowledge: !options.explicit_acknowledgements,
    ...(options.principal !== undefined && options.secret !== undefined
      ? { credential: { principal: options.principal, secret: options.secret } }
      : {}),
  });

  const total = options.total_tasks;
  let launched = 0;
  let finished = 0;
  let exitCode = 0;

  const resourceOffers = (offers: Offer[]) => {
    for (const offer of offers) {
      const text = Resources.from((offer.resources ?? []) as CommonResource[]).toString();
      console.log(`Received offer ${offer.id.value} with ${text}`);
      // Take 1 cpu / 128 MB at a time out of what is left of the offer.
      let remaining: Offer = offer;
      const tasks: TaskInfo[] = [];
      while (launched < total) {
        const resources = findOfferResources(remaining, taskResources.resources, options.role);
        if (resources === undefined) break;
        const id = launched++;
        console.log(`Launching task ${id} using offer ${offer.id.value}`);
        tasks.push({
          name: `Task ${id}`,
          task_id: { value: String(id) },
          agent_id: offer.agent_id,
          executor,
          resources,
        });
        const left = Resources.from((remaining.resources ?? []) as CommonResource[]).minus(
          resources as CommonResource[],
        );
        remaining = { ...offer, resources: left.toArray() as Offer["resources"] };
      }
      // Launching nothing on an offer declines it.
      void (tasks.length > 0 ? client.launch([offer.id], tasks) : client.decline([offer.id]));
    }
  };

  const statusUpdate = (status: TaskStatus) => {
    const id = status.task_id.value;
    console.log(`Task ${id} is in state ${status.state}`);
    if (status.state === "TASK_FINISHED") finished++;
    if (
      ["TASK_LOST", "TASK_KILLED", "TASK_FAILED", "TASK_ERROR", "TASK_DROPPED"].includes(
        status.state,
      )
    ) {
      console.log(
        `Aborting because task ${id} is in unexpected state ${status.state}` +
          ` with reason ${status.reason ?? "(none)"} from source ${status.source ?? "(none)"}` +
          ` with message '${status.message ?? ""}'`,
      );
      exitCode = 1;
      void client.teardown();
      return;
    }
    if (options.explicit_acknowledgements) void client.acknowledge(status);
    if (finished === total) void client.teardown();
  };

  client.start({
    subscribed: (_info, resubscribed) => {
      if (!resubscribed) console.log("Registered!");
    },
    offers: resourceOffers,
    update: statusUpdate,
    error: (message) => {
      console.log(message);
      exitCode = 1;
    },
  });
  process.once("SIGINT", () => void client.teardown());
  await client.closed;
  return exitCode;
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  process.exitCode = await main(process.argv.slice(2));
}
