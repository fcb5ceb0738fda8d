/**
 * `--gc_non_executor_container_sandboxes`: the sandbox of a container
 * started with LAUNCH_NESTED_CONTAINER (`<parent sandbox>/containers/<id>`)
 * is scheduled for removal once the container ends, as Mesos does.
 * Hooked around the nested containers' `launch`, so the containerizer
 * needs no garbage collection code of its own.
 */
import { join } from "node:path";
import type {
  NestedContainers,
  NestedError,
  NestedLaunch,
  SessionIo,
} from "../containerizer/nested-containers.js";
import type { SandboxGc } from "./sandbox-gc.js";

type NestedHooks = Pick<NestedContainers, "launch" | "wait" | "parent">;

/** Wraps `nested.launch` so every nested container that starts has its sandbox scheduled when it ends. */
export function collectNestedSandboxes(nested: NestedHooks, gc: SandboxGc): void {
  const launch = nested.launch.bind(nested);
  nested.launch = async (l: NestedLaunch): Promise<{ ok: true; io?: SessionIo } | NestedError> => {
    const parent = nested.parent(l.parentId);
    const result = await launch(l);
    if (!("ok" in result) || parent === undefined) return result;
    const directory = join(parent.directory, "containers", l.childId);
    void nested.wait(l.parentId, l.childId)?.then(() => gc.schedule(directory));
    return result;
  };
}
