/**
 * `network/ports`: every `--container_ports_watch_interval` it finds the TCP
 * ports each container's processes listen on (/proc, see proc-net-tcp.ts)
 * and compares them with the `ports` resources the container was given.
 * A container listening on a port it was not given is logged and, with
 * `--enforce_container_ports`, reported as a limitation
 * (REASON_CONTAINER_LIMITATION): the containerizer destroys it and its
 * tasks fail.
 *
 * Only ports in the isolated range count: the agent's own `ports` resource
 * with `--check_agent_port_range_only`, `--container_ports_isolated_range`
 * when given, else every port.
 *
 * Nested containers are checked against the ports of their top-level
 * (executor) container, which holds the resources, and a violation stops
 * that whole container, as in Mesos. Containers joined to a named network
 * (CNI) have their own network namespace and are not watched.
 */

import type { ContainerInfo } from "../../../common/protocol/generated/mesos-v1.js";
import {
  DEFAULT_AGENT_PORTS,
  type FlatRanges,
  flatFromValueRanges,
  formatFlatRanges,
  parseResource,
  parseResources,
  resourcesFromString,
  subtractRanges,
  valueRangesFromFlat,
} from "../../../common/resources/index.js";
import { processTree, readProcTableInSlices } from "../proc.js";
import {
  BaseIsolator,
  type ContainerConfig,
  type ContainerResources,
  type IsolatorContext,
} from "./isolator.js";
import { listeningPortsOf, readListeningSockets } from "./proc-net-tcp.js";

/** How the isolator is configured (from the agent's flags). */
export interface NetworkPortsOptions {
  intervalMs: number;
  enforce: boolean;
  /** Only ports in these ranges are checked; undefined: every port. */
  isolatedPorts: FlatRanges | undefined;
}

/** The port flags as given, before they are turned into a range. */
export interface PortRangeFlags {
  /** `--check_agent_port_range_only`. */
  checkAgentPortRangeOnly: boolean;
  /** `--container_ports_isolated_range`, e.g. `[0-35000]`. */
  isolatedRange?: string | undefined;
  /** `--resources` (text or JSON), for the agent's own port range. */
  agentResources?: string | undefined;
  /** `--default_role`. */
  defaultRole: string;
}

/**
 * The ports the isolator checks (undefined: all), or a one-line error the
 * agent reports at start-up.
 */
export function isolatedPortRange(
  f: PortRangeFlags,
): { ok: true; ports: FlatRanges | undefined } | { ok: false; error: string } {
  if (f.checkAgentPortRangeOnly && f.isolatedRange !== undefined) {
    return {
      ok: false,
      // Mesos' words, quotes and all.
      error:
        "Only one of `--check_agent_port_range_only` or '--container_ports_isolated_range` should be specified",
    };
  }
  if (f.isolatedRange !== undefined) {
    const parsed = parseResource("ports", f.isolatedRange, "*");
    if (!parsed.ok || parsed.value.type !== "RANGES") {
      return {
        ok: false,
        error: `Invalid --container_ports_isolated_range '${f.isolatedRange}': expected ranges such as [0-35000]`,
      };
    }
    return { ok: true, ports: flatFromValueRanges(parsed.value.ranges) };
  }
  if (!f.checkAgentPortRangeOnly) return { ok: true, ports: undefined };
  const text = f.agentResources ?? "";
  const given = resourcesFromString(text, f.defaultRole);
  const named = given.ok && given.value.some((r) => r.name === "ports");
  if (!named) {
    // The agent offers its default range when --resources names no ports.
    const fallback = parseResource("ports", DEFAULT_AGENT_PORTS, "*");
    return { ok: true, ports: fallback.ok ? flatFromValueRanges(fallback.value.ranges) : [] };
  }
  const parsed = parseResources(text, f.defaultRole);
  if (!parsed.ok) return { ok: false, error: `Failed to parse agent resources: ${parsed.error}` };
  return { ok: true, ports: flatFromValueRanges(parsed.value.ports()) };
}

/**
 * The ports of `listening` that break the container's allocation: inside
 * the isolated range (all ports when undefined) and not in `allocated`.
 * Coalesced ranges; empty when the container behaves.
 */
export function unallocatedPorts(
  listening: readonly number[],
  allocated: FlatRanges,
  isolated: FlatRanges | undefined,
): FlatRanges {
  const inRange = listening.filter((p) => isolated === undefined || inRanges(p, isolated));
  const asRanges = flatFromValueRanges({ range: inRange.map((p) => ({ begin: p, end: p })) });
  return subtractRanges(asRanges, allocated);
}

function inRanges(port: number, ranges: FlatRanges): boolean {
  for (let i = 0; i + 1 < ranges.length; i += 2) {
    if (port >= (ranges[i] as number) && port <= (ranges[i + 1] as number)) return true;
  }
  return false;
}

/** True when the container joins a named (CNI) network: it has a network namespace of its own. */
export function joinsNamedNetwork(container: ContainerInfo | undefined): boolean {
  return (container?.network_infos ?? []).some((n) => n.name !== undefined && n.name !== "");
}

/** The top-level container of `containerId` (nested ids are `<parent>/mesos/<child>`). */
export function rootContainerOf(containerId: string): string {
  return containerId.split("/mesos/")[0] ?? containerId;
}

interface Watched {
  readonly root: string;
  pid: number | undefined;
  /** The ports given to a top-level container; undefined until known (not checked). */
  allocated: FlatRanges | undefined;
  /** The ports seen at the last reported violation (each new set is logged once). */
  lastListening: string | undefined;
  /** A limitation was raised (only once). */
  limited: boolean;
}

/**
 * Watches the listening ports of the containers it prepared (and of those
 * handed to `recover`); `check` is one look at all of them.
 */
export class NetworkPortsIsolator extends BaseIsolator {
  readonly name = "network/ports";
  private readonly watched = new Map<string, Watched>();
  private timer: NodeJS.Timeout | undefined;
  private checking = false;

  constructor(
    private readonly context: IsolatorContext,
    private readonly options: NetworkPortsOptions,
  ) {
    super();
  }

  override async prepare(config: ContainerConfig): Promise<undefined> {
    const root = rootContainerOf(config.containerId);
    if (root !== config.containerId) {
      // A nested container shares its parent's network; the parent holds the ports.
      if (this.watched.has(root)) this.watch(config.containerId, root, undefined);
      return undefined;
    }
    if (joinsNamedNetwork(config.executor.container)) return undefined;
    this.watch(config.containerId, root, portsOf(config.resources));
    return undefined;
  }

  override async isolate(containerId: string, pid: number): Promise<void> {
    const w = this.watched.get(containerId);
    if (w !== undefined) w.pid = pid;
  }

  override async update(containerId: string, resources: ContainerResources): Promise<void> {
    const w = this.watched.get(containerId);
    if (w === undefined || w.root !== containerId) return;
    w.allocated = portsOf(resources);
    this.context.logger.verbose(
      1,
      `Updated ports to ${formatFlatRanges(w.allocated)} for container ${containerId}`,
    );
  }

  override async recover(containers: ReadonlyMap<string, number>): Promise<void> {
    // The ports of a recovered container are unknown until its next update: not checked till then.
    for (const [id, pid] of containers) {
      this.watch(id, rootContainerOf(id), undefined);
      const w = this.watched.get(id);
      if (w !== undefined) w.pid = pid;
    }
  }

  override async cleanup(containerId: string): Promise<void> {
    this.watched.delete(containerId);
    if (this.watched.size === 0 && this.timer !== undefined) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  /** One look at every watched container (also run by the timer). */
  async check(): Promise<void> {
    if (this.checking) return;
    this.checking = true;
    try {
      const due = [...this.watched].filter(([, w]) => this.checkable(w));
      if (due.length === 0) return;
      const listening = await readListeningSockets();
      if (listening.size === 0) return;
      // Sliced synchronous reads: a fraction of the CPU of one asynchronous read per process.
      const table = await readProcTableInSlices();
      for (const [id, w] of due) {
        const root = this.watched.get(w.root);
        if (w.pid === undefined || root?.allocated === undefined || root.limited) continue;
        const ports = await listeningPortsOf(processTree(w.pid, table), listening);
        const wrong = unallocatedPorts(ports, root.allocated, this.options.isolatedPorts);
        // Gone meanwhile, or within its ports.
        if (wrong.length === 0 || this.watched.get(id) !== w) continue;
        const seen = ports.join(",");
        if (w.lastListening === seen) continue;
        w.lastListening = seen;
        // Mesos writes a nested container's id as `<parent>.<child>`.
        const name = id.split("/mesos/").join(".");
        const message = `Container ${name} is listening on unallocated port(s): ${formatFlatRanges(wrong)}`;
        this.context.logger.warn(message);
        if (this.options.enforce) {
          root.limited = true;
          this.context.limit(w.root, {
            reason: "REASON_CONTAINER_LIMITATION",
            message,
            resources: [{ name: "ports", type: "RANGES", ranges: valueRangesFromFlat(wrong) }],
          });
        }
      }
    } catch (e) {
      this.context.logger.warn(
        `Failed to check the ports containers listen on: ${(e as Error).message}`,
      );
    } finally {
      this.checking = false;
    }
  }

  /** Started, with a known allocation, and not stopped already. */
  private checkable(w: Watched): boolean {
    const root = this.watched.get(w.root);
    return w.pid !== undefined && root?.allocated !== undefined && !root.limited;
  }

  private watch(id: string, root: string, allocated: FlatRanges | undefined): void {
    if (!this.watched.has(id)) {
      this.watched.set(id, {
        root,
        pid: undefined,
        allocated,
        lastListening: undefined,
        limited: false,
      });
    }
    if (this.timer === undefined) {
      this.timer = setInterval(() => void this.check(), this.options.intervalMs);
      this.timer.unref();
    }
  }
}

function portsOf(resources: ContainerResources): FlatRanges {
  return flatFromValueRanges(resources.ports);
}
