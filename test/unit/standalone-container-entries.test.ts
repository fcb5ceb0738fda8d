/**
 * GET_CONTAINERS' entries of standalone containers and of what is nested
 * in them: a DEBUG container (a session in a nested container of a
 * standalone one) is listed with its whole id, and its statistics are
 * asked of the container it runs in.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type {
  NestedContainers,
  NestedContainerView,
  NestedParent,
} from "../../src/agent/containerizer/nested-containers.js";
import { standaloneContainerEntries } from "../../src/agent/http/nested-container-calls.js";
import { HttpRequest } from "../../src/common/http/request.js";

const parent: NestedParent = {
  containerId: "sa",
  directory: "/nonexistent/sa",
  frameworkId: "",
  executorId: "",
  executorName: "",
  standalone: true,
};

test("GET_CONTAINERS lists a DEBUG container in a standalone container's nested container with its whole id", async () => {
  const views: NestedContainerView[] = [
    { parent, childId: "child", pid: 11, directory: "/nonexistent/sa/containers/child" },
    {
      parent,
      nestedIn: "child",
      childId: "debug",
      pid: 12,
      directory: "/nonexistent/sa/containers/child/containers/debug",
    },
  ];
  const asked: string[] = [];
  const nested = {
    list: () => views,
    listStandalone: () => [{ parent, childId: "sa", pid: 10, directory: parent.directory }],
    usage: async (parentId: string | undefined, childId: string) => {
      asked.push(`${parentId ?? "-"}/${childId}`);
      return { timestamp: 0, processes: 1 };
    },
  } as unknown as NestedContainers;
  const request = new HttpRequest({
    method: "POST",
    path: "/api/v1",
    rawQuery: "",
    headers: {},
    body: new Uint8Array(),
    remoteAddress: "127.0.0.1",
    remotePort: 1,
  });
  const entries = await standaloneContainerEntries(
    nested,
    request,
    { nested: true, standalone: true },
    5,
  );
  assert.deepEqual(
    entries.map((e) => e.container_id),
    [
      { value: "sa" },
      { value: "child", parent: { value: "sa" } },
      { value: "debug", parent: { value: "child", parent: { value: "sa" } } },
    ],
  );
  assert.deepEqual(asked, ["-/sa", "sa/child", "sa.child/debug"]);
  assert.equal(entries[2]?.resource_statistics?.processes, 1);
});
