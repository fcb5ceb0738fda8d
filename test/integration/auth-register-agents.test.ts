/**
 * The `register_agents` ACL applies to every agent, as Mesos asks its
 * authorizer for each registration whether or not agents authenticate: an
 * agent without a principal that the ACLs refuse is not registered, and the
 * master logs Mesos' line.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { startAgent, startMaster, stopAll, waitLong } from "../harness/processes.js";

after(stopAll);

describe("auth: register_agents without --authenticate_agents", () => {
  it("an unauthenticated agent the ACLs refuse does not register", async () => {
    const master = await startMaster({
      flags: {
        acls: JSON.stringify({
          register_agents: [{ principals: { type: "ANY" }, agents: { type: "NONE" } }],
        }),
      },
    });
    const agent = await startAgent({ master: master.address });
    await waitLong("the master to refuse the agent", () =>
      new RegExp(
        `Refusing registration of agent at slave\\(1\\)@127\\.0\\.0\\.1:${agent.port} \\([^)]*\\): ` +
          "Not authorized to register agent providing resources 'cpus:2; mem:1024; disk:1024; " +
          "ports:\\[31000-32000\\]' without a principal",
      ).test(master.logs()),
    );
    const slaves = (await (await fetch(`${master.url}/master/slaves`)).json()) as {
      slaves: unknown[];
    };
    assert.equal(slaves.slaves.length, 0);
  });
});
