/**
 * VIEW_* filtering of state documents (v0 and v1 shapes) and the TLS
 * settings read from LIBPROCESS_SSL_*.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  filterStateJson,
  filterV1State,
  viewPermissions,
  viewsEverything,
} from "../../src/common/auth/view-filter.js";
import { tlsFromEnv } from "../../src/common/process/tls.js";
import { localAuthorizer } from "../harness/acls.js";

const ACLS = {
  view_frameworks: [
    { principals: { values: ["dev"] }, users: { values: ["alice"] } },
    { principals: { values: ["dev"] }, users: { type: "NONE" } },
  ],
  view_tasks: [
    { principals: { values: ["dev"] }, users: { values: ["alice"] } },
    { principals: { values: ["dev"] }, users: { type: "NONE" } },
  ],
  view_flags: [{ principals: { values: ["dev"] }, flags: { type: "NONE" } }],
};

describe("auth view filter", () => {
  it("/master/state: frameworks, tasks (by task user) and flags", () => {
    const a = localAuthorizer(ACLS);
    const doc = {
      flags: { port: "5050" },
      frameworks: [
        {
          user: "alice",
          name: "a",
          tasks: [{ id: "t1" }, { id: "t2", user: "bob" }],
          completed_tasks: [],
          executors: [],
        },
        { user: "bob", name: "b", tasks: [{ id: "t3" }] },
      ],
      completed_frameworks: [{ user: "bob", name: "old" }],
    };
    const out = filterStateJson(doc, viewPermissions(a, "dev")) as {
      frameworks: { name: string; tasks: { id: string }[] }[];
      completed_frameworks: unknown[];
      flags?: unknown;
    };
    assert.deepEqual(
      out.frameworks.map((f) => f.name),
      ["a"],
    );
    assert.deepEqual(
      out.frameworks[0]?.tasks.map((t) => t.id),
      ["t1"],
    );
    assert.equal(out.completed_frameworks.length, 0);
    assert.equal(out.flags, undefined);
    assert.equal(viewsEverything(a, "dev"), false);
    assert.equal(viewsEverything(a, "ops"), true);
  });

  it("v1 GET_STATE: frameworks, tasks and executors by framework id", () => {
    const a = localAuthorizer(ACLS);
    const state = {
      get_frameworks: {
        frameworks: [
          { framework_info: { id: { value: "f1" }, user: "alice" } },
          { framework_info: { id: { value: "f2" }, user: "bob" } },
        ],
      },
      get_tasks: {
        tasks: [
          { framework_id: { value: "f1" }, task_id: { value: "t1" } },
          { framework_id: { value: "f2" }, task_id: { value: "t2" } },
        ],
      },
      get_executors: {
        executors: [
          { executor_info: { framework_id: { value: "f2" }, executor_id: { value: "e" } } },
        ],
      },
      get_agents: { agents: [{ id: 1 }] },
    };
    const out = filterV1State(state, viewPermissions(a, "dev")) as typeof state;
    assert.equal(out.get_frameworks.frameworks.length, 1);
    assert.deepEqual(
      out.get_tasks.tasks.map((t) => t.task_id.value),
      ["t1"],
    );
    assert.equal(out.get_executors.executors.length, 0);
    assert.equal(out.get_agents.agents.length, 1);
  });
});

describe("TLS settings", () => {
  it("off unless LIBPROCESS_SSL_ENABLED", () => {
    const r = tlsFromEnv({});
    assert.ok(r.ok);
    assert.equal(r.value, undefined);
  });

  it("enabled without certificate and key is an error", () => {
    const r = tlsFromEnv({ LIBPROCESS_SSL_ENABLED: "1" });
    assert.equal(r.ok, false);
    assert.match(r.ok ? "" : r.error, /LIBPROCESS_SSL_CERT_FILE and LIBPROCESS_SSL_KEY_FILE/);
  });

  it("unreadable files and bad booleans are named", () => {
    const missing = tlsFromEnv({
      SSL_ENABLED: "true",
      SSL_CERT_FILE: "/nonexistent/c.pem",
      SSL_KEY_FILE: "/nonexistent/k.pem",
    });
    assert.match(missing.ok ? "" : missing.error, /'\/nonexistent\/c\.pem'/);
    const bad = tlsFromEnv({ LIBPROCESS_SSL_ENABLED: "yes" });
    assert.match(bad.ok ? "" : bad.error, /LIBPROCESS_SSL_ENABLED='yes'/);
  });
});
