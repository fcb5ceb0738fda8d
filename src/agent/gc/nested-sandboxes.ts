/**
 * `--gc_non_executor_container_sandboxes`: the sandbox of a container
 * started with LAUNCH_NESTED_CONTAINER (`<parent sandbox>/containers/<id>`)
 * is scheduled for removal once the container ends, as Mesos does; after
 * an agent restart, those of nested containers that had already ended are
 * scheduled by their age, at any depth (`.../containers/<a>/containers/<b>`). Hooked around the nested containers' `launch`,
 * so the containerizer needs no garbage collection code of its own.
 */
import { readdirSync } from "node:fs";
import { join } from "node:path";
import {
  MAX_NESTING_DEPTH,
  type NestedContainers,
  type NestedContainerView,
  type NestedError,
  type NestedLaunch,
  type SessionIo,
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
    const running = new Set(nested.list().map(keyOfView));
    // One level of `containers` below `parentDir`, then what is nested in
    // each container found there, as deep as containers nest.
    const visit = (parentKey: string, parentDir: string, depth: number): void => {
      let children: string[];
      try {
        children = readdirSync(join(parentDir, "containers"));
      } catch {
        return;
      }
      for (const childId of children) {
        const key = `${parentKey}.${childId}`;
        if (launchedHere.has(key)) continue;
        const ended = nested.wait(parentKey, childId);
        if (ended === undefined) continue; // No record: not ours to judge.
        const directory = join(parentDir, "containers", childId);
        void ended.then(() =>
          running.has(key) ? gc.schedule(directory) : gc.scheduleByAge(directory),
        );
        if (depth < MAX_NESTING_DEPTH) visit(key, directory, depth + 1);
      }
    };
    for (const parent of recovered) visit(parent.containerId, parent.directory, 1);
  });
}

/** The whole id (`<executor>.<a>.<b>`) of a listed nested container; a DEBUG one's includes its task. */
function keyOfView(v: NestedContainerView): string {
  const parts = [v.parent.containerId];
  if (v.nestedIn !== undefined) parts.push(v.nestedIn);
  parts.push(v.childId);
  return parts.join(".");
}
