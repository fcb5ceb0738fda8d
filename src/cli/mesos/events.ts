/**
 * `mesos events`: the master's live operator event stream (v1 operator API
 * SUBSCRIBE): one line per event, or one JSON object per line with `-o json`.
 */
import { Command, InvalidArgumentError } from "commander";
import type { Event, Event_Type } from "../../common/protocol/generated/mesos-v1-master.js";
import { CliError } from "./support/cli-error.js";
import type { CommandContext } from "./support/context.js";
import { displayId } from "./support/format.js";
import { HttpStatusError } from "./support/http-client.js";

const EVENT_TYPES: readonly Event_Type[] = [
  "SUBSCRIBED",
  "TASK_ADDED",
  "TASK_UPDATED",
  "AGENT_ADDED",
  "AGENT_REMOVED",
  "FRAMEWORK_ADDED",
  "FRAMEWORK_UPDATED",
  "FRAMEWORK_REMOVED",
  "HEARTBEAT",
];

function parseTypes(value: string): Set<string> {
  const types = new Set<string>();
  for (const part of value.split(",")) {
    const name = part.trim().toUpperCase();
    if (name === "") continue;
    if (!(EVENT_TYPES as readonly string[]).includes(name)) {
      throw new InvalidArgumentError(
        `unknown event type '${part}' (known: ${EVENT_TYPES.join(", ")})`,
      );
    }
    types.add(name);
  }
  return types;
}

function parseCount(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1) {
    throw new InvalidArgumentError("expected a whole number of events, at least 1");
  }
  return Number(value);
}

/** The details of an event on one line, ids short unless `wide`. */
export function describeEvent(event: Event, wide: boolean): string {
  const id = (value: string | undefined) => displayId(value ?? "?", wide);
  switch (event.type) {
    case "SUBSCRIBED": {
      const state = event.subscribed?.get_state;
      const agents = state?.get_agents?.agents?.length ?? 0;
      const frameworks = state?.get_frameworks?.frameworks?.length ?? 0;
      const tasks = state?.get_tasks?.tasks?.length ?? 0;
      const beat = event.subscribed?.heartbeat_interval_seconds;
      return (
        `agents=${agents} frameworks=${frameworks} tasks=${tasks}` +
        (beat === undefined ? "" : ` heartbeat=${beat}s`)
      );
    }
    case "TASK_ADDED": {
      const task = event.task_added?.task;
      return `task=${task?.task_id.value ?? "?"} name=${task?.name ?? ""} framework=${id(task?.framework_id.value)} agent=${id(task?.agent_id.value)} state=${task?.state ?? "?"}`;
    }
    case "TASK_UPDATED": {
      const u = event.task_updated;
      const status = u?.status;
      let text = `task=${status?.task_id.value ?? "?"} framework=${id(u?.framework_id.value)} state=${u?.state ?? status?.state ?? "?"}`;
      if (status?.reason !== undefined) text += ` reason=${status.reason}`;
      if (status?.message !== undefined && status.message !== "") {
        text += ` message=${JSON.stringify(status.message)}`;
      }
      return text;
    }
    case "AGENT_ADDED": {
      const agent = event.agent_added?.agent;
      return `agent=${id(agent?.agent_info.id?.value)} hostname=${agent?.agent_info.hostname ?? "?"}`;
    }
    case "AGENT_REMOVED":
      return `agent=${id(event.agent_removed?.agent_id.value)}`;
    case "FRAMEWORK_ADDED":
    case "FRAMEWORK_UPDATED": {
      const f = (event.framework_added ?? event.framework_updated)?.framework;
      return `framework=${id(f?.framework_info.id?.value)} name=${f?.framework_info.name ?? "?"} active=${f?.active ?? "?"}`;
    }
    case "FRAMEWORK_REMOVED": {
      const info = event.framework_removed?.framework_info;
      return `framework=${id(info?.id?.value)} name=${info?.name ?? "?"}`;
    }
    default:
      return "";
  }
}

function clockTime(ms: number): string {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, "0");
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

export function eventsCommand(ctx: CommandContext): Command {
  return new Command("events")
    .description("follow the master's operator event stream (Ctrl-C to stop)")
    .option(
      "--type <types>",
      "only these event types, comma separated (e.g. TASK_ADDED,TASK_UPDATED)",
      parseTypes,
    )
    .option("--count <n>", "stop after printing n events", parseCount)
    .option("--heartbeats", "also print HEARTBEAT events")
    .addHelpText(
      "after",
      `\nEvent types: ${EVENT_TYPES.join(", ")}.\nThe first event, SUBSCRIBED, carries the whole cluster state (summarised in tables).`,
    )
    .action(async (opts: { type?: Set<string>; count?: number; heartbeats?: boolean }) => {
      const master = await ctx.master();
      const controller = new AbortController();
      let response: Response;
      try {
        response = await ctx.http.open(
          master,
          "/api/v1",
          {
            method: "POST",
            headers: { "Content-Type": "application/json", Accept: "application/json" },
            body: JSON.stringify({ type: "SUBSCRIBE" }),
          },
          controller,
        );
      } catch (e) {
        if (e instanceof HttpStatusError && e.routeMissing) {
          throw new CliError(
            `the master at ${master.address} does not serve the operator API (/api/v1) yet`,
          );
        }
        if (e instanceof HttpStatusError && e.status === 501) {
          throw new CliError(`the master at ${master.address} does not support SUBSCRIBE yet`);
        }
        throw e;
      }
      if (response.body === null) {
        throw new CliError(`the master at ${master.address} answered SUBSCRIBE without a stream`);
      }
      // The codecs cost start-up time every other command can skip.
      const { codecFor } = await import("../../common/protocol/index.js");
      const { readRecords } = await import("../../common/recordio/index.js");
      const codec = codecFor("mesos.v1.master.Event");
      const wanted = (type: string) =>
        opts.type !== undefined
          ? opts.type.has(type)
          : type !== "HEARTBEAT" || opts.heartbeats === true || ctx.json;
      let printed = 0;
      try {
        for await (const record of readRecords(response.body as AsyncIterable<Uint8Array>)) {
          const decoded = codec.decodeJson(record);
          if (!decoded.ok) {
            throw new CliError(
              `the master at ${master.address} sent an event this CLI cannot read: ${decoded.error.message}`,
            );
          }
          const event = decoded.value;
          const type = event.type ?? "UNKNOWN";
          if (!wanted(type)) continue;
          if (ctx.json) {
            ctx.io.out(`${codec.encodeJson(event)}\n`);
          } else {
            ctx.print(
              `${clockTime(ctx.io.clock.now())}  ${type}  ${describeEvent(event, ctx.wide)}`.trimEnd(),
            );
          }
          printed++;
          if (opts.count !== undefined && printed >= opts.count) break;
        }
      } catch (e) {
        if (e instanceof CliError) throw e;
        throw new CliError(
          `the event stream from the master at ${master.address} broke: ${(e as Error).message}`,
        );
      }
      if (opts.count !== undefined && printed >= opts.count) {
        // Enough events: hang up instead of waiting for the next one.
        controller.abort();
        return;
      }
      throw new CliError(`the master at ${master.address} closed the event stream`);
    });
}
