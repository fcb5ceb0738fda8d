/**
 * Builds the NestedContainers unit tests use: a fake (or partial) launcher,
 * no isolators unless given, and one running executor container `parentId`
 * (default "exec") whose sandbox is `sandbox`. Any other option overrides.
 */
import type { LauncherClient } from "../../src/agent/containerizer/launcher.js";
import {
  NestedContainers,
  type NestedContainersOptions,
} from "../../src/agent/containerizer/nested-containers.js";
import { ProcessSweeper } from "../../src/agent/containerizer/process-sweeper.js";
import { silentLogger } from "../../src/common/observability/logger.js";

export interface NestedFixtureOptions extends Partial<Omit<NestedContainersOptions, "launcher">> {
  /** The executor container's id that `parentOf` knows (default "exec"). */
  parentId?: string;
}

/** A NestedContainers whose only known parent is `parentId` with sandbox `sandbox`. */
export function nestedContainersFixture(
  launcher: LauncherClient,
  sandbox: string,
  options: NestedFixtureOptions = {},
): NestedContainers {
  const { parentId = "exec", ...rest } = options;
  return new NestedContainers({
    launcher,
    logger: silentLogger,
    isolators: [],
    sweeper: new ProcessSweeper(silentLogger),
    parentOf: (id) =>
      id === parentId
        ? {
            containerId: id,
            directory: sandbox,
            frameworkId: "f",
            executorId: "e",
            executorName: "",
          }
        : undefined,
    ...rest,
  });
}
