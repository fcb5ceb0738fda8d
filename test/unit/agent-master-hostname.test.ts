import assert from "node:assert/strict";
import { test } from "node:test";
import { MasterHostnames } from "../../src/agent/master-hostname.js";

test("agent master_hostname: looked up once per master IP in the background, left out until known or when the lookup fails", async () => {
  const asked: string[] = [];
  const answers = new Map([["10.0.0.1", "master-1.example"]]);
  const names = new MasterHostnames(async (ip, port) => {
    asked.push(`${ip}:${port}`);
    const name = answers.get(ip);
    if (name === undefined) throw new Error("no PTR record");
    return name;
  });
  assert.equal(names.of(undefined), undefined);
  assert.equal(names.of("master@10.0.0.1:5050"), undefined);
  assert.equal(names.of("master@10.0.0.1:5050"), undefined);
  await new Promise((r) => setImmediate(r));
  assert.equal(names.of("master@10.0.0.1:5050"), "master-1.example");
  assert.equal(names.of("master@10.0.0.2:5050"), undefined);
  await new Promise((r) => setImmediate(r));
  assert.equal(names.of("master@10.0.0.2:5050"), undefined);
  assert.deepEqual(asked, ["10.0.0.1:5050", "10.0.0.2:5050"]);
});
