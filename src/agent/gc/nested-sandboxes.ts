/**
 * `--gc_non_executor_container_sandboxes`: the sandbox of a container
 * started with LAUNCH_NESTED_CONTAINER (`<parent sandbox>/containers/<id>`)
 * is scheduled for removal once the container ends, as Mesos does; after
 * an agent restart, those of nested containers that had already ended are
 * scheduled by their age. Hooked around the nested containers' `launch`,
 * so the containerizer needs no garbage collection code of its own.
 */
import { readdirSync } from "node:fs";
import { join } from "node:path";
import type {
  NestedContainers,
  NestedError,
  NestedLaunch,
  SessionIo,
} from "../containerizer/nested-containers.js";
import type { SandboxGc } from "./sandbox-gc.js";

type NestedHooks = Pick<NestedContainers, "launch" | "wait" | "parent" | "list" | "ready">;

/** A recovered executor container: its id and sandbox. */
export interface RecoveredParent {
  readonly containerId: string;
  readonly directory: string;
}

/**
 * Wraps `nested.launch` so every nested container that starts has its
 * sandbox scheduled when it ends, and, once the nested containers of the
 * previous agent run are recovered, schedules theirs: by age for those
 * that had ended, when they end for those still running.
 */
export function collectNestedSandboxes(
  nested: NestedHooks,
  gc: SandboxGc,
  recovered: readonly RecoveredParent[] = [],
): Promise<void> {
  const launchedHere = new Set<string>();
  const launch = nested.launch.bind(nested);
  nested.launch = async (l: NestedLaunch): Promise<{ ok: true; io?: SessionIo } | NestedError> => {
    launchedHere.add(`${l.parentId}.${l.childId}`);
    const parent = nested.parent(l.parentId);
    const result = await launch(l);
    if (!("ok" in result) || parent === undefined) return result;
    const directory = join(parent.directory, "containers", l.childId);
    void nested.wait(l.parentId, l.childId)?.then(() => gc.schedule(directory));
    return result;
  };
  return nested.ready().then(() => {
    const running = new Set(nested.list().map((n) => `${n.parent.containerId}.${n.childId}`));
    for (const parent of recovered) {
      let children: string[];
      try {
        children = readdirSync(join(parent.directory, "containers"));
      } catch {
        continue;
      }
      for (const childId of children) {
        const key = `${parent.containerId}.${childId}`;
        if (launchedHere.has(key)) continue;
        const ended = nested.wait(parent.containerId, childId);
        if (ended === undefined) continue; // No record: not ours to judge.
        const directory = join(parent.directory, "containers", childId);
        void ended.then(() =>
          running.has(key) ? gc.schedule(directory) : gc.scheduleByAge(directory),
        );
      }
    }
  });
}
