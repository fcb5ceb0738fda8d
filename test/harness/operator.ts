/** v1 operator API calls the tests make against a real master or agent. */
import assert from "node:assert/strict";
import type { Codec } from "../../src/common/protocol/index.js";
import type { DaemonHandle } from "./processes.js";

/** What a typed operator call answered: status, body text, decoded body, content type. */
export interface TypedAnswer<R> {
  status: number;
  text: string;
  response: R | undefined;
  type: string;
}

/**
 * POSTs `call` to `daemon`'s `/api/v1` in JSON or protobuf through the
 * generated codecs; a 200 body must decode as a `Response` of that format.
 */
export async function typedOperatorCall<C, R>(
  daemon: DaemonHandle,
  codecs: { call: Codec<C>; response: Codec<R> },
  call: C,
  format: "json" | "protobuf" = "json",
): Promise<TypedAnswer<R>> {
  const type = format === "json" ? "application/json" : "application/x-protobuf";
  const res = await fetch(`${daemon.url}/api/v1`, {
    method: "POST",
    headers: { "Content-Type": type, Accept: type },
    body: format === "json" ? codecs.call.encodeJson(call) : codecs.call.encodeProtobuf(call),
  });
  const bytes = new Uint8Array(await res.arrayBuffer());
  const text = Buffer.from(bytes).toString("utf8");
  let response: R | undefined;
  if (res.status === 200 && bytes.byteLength > 0) {
    const decoded =
      format === "json" ? codecs.response.decodeJson(text) : codecs.response.decodeProtobuf(bytes);
    assert.ok(decoded.ok, `undecodable response to ${describeCall(call)}: ${text.slice(0, 200)}`);
    response = decoded.value;
  }
  return { status: res.status, text, response, type: res.headers.get("content-type") ?? "" };
}

function describeCall(call: unknown): string {
  const type = (call as { type?: unknown }).type;
  return typeof type === "string" ? type : "the call";
}

/** POSTs `call` to the master's (or an agent's) `/api/v1` in JSON; the status and body text. */
export async function operatorCall(
  master: DaemonHandle,
  call: unknown,
): Promise<{ status: number; text: string }> {
  const response = await fetch(`${master.url}/api/v1`, {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify(call),
  });
  return { status: response.status, text: await response.text() };
}

/**
 * `operatorCall`, asserting the answer's status and, when `text` is given,
 * its whole body; the answer.
 */
export async function expectCall(
  on: DaemonHandle,
  call: unknown,
  status: number,
  text?: string,
): Promise<{ status: number; text: string }> {
  const answer = await operatorCall(on, call);
  assert.equal(answer.status, status, `${JSON.stringify(call)}: ${answer.text}`);
  if (text !== undefined) assert.equal(answer.text, text, JSON.stringify(call));
  return answer;
}

/**
 * LAUNCH_CONTAINER of standalone container `containerId` running
 * `exec sleep 300` (0.1 cpus, 32 MB) on `agent`: a parent for nested
 * containers and sessions. It must be 200.
 */
export async function launchSleepingContainer(
  agent: DaemonHandle,
  containerId: { value: string },
): Promise<void> {
  const launched = await operatorCall(agent, {
    type: "LAUNCH_CONTAINER",
    launch_container: {
      container_id: containerId,
      command: { value: "exec sleep 300" },
      resources: [
        { name: "cpus", type: "SCALAR", scalar: { value: 0.1 } },
        { name: "mem", type: "SCALAR", scalar: { value: 32 } },
      ],
    },
  });
  assert.equal(launched.status, 200, launched.text);
}

/**
 * POSTs LAUNCH_NESTED_CONTAINER_SESSION of `containerId` running `command` to
 * `agent`, asking for its output as RecordIO of JSON records; the streaming
 * response (its body is the session's output until the session ends or
 * `signal` aborts it).
 */
export function launchSession(
  agent: DaemonHandle,
  containerId: unknown,
  command: Record<string, unknown>,
  signal?: AbortSignal,
): Promise<Response> {
  return fetch(`${agent.url}/api/v1`, {
    method: "POST",
    headers: {
      "Content-Type": "application/json",
      Accept: "application/recordio",
      "Message-Accept": "application/json",
    },
    body: JSON.stringify({
      type: "LAUNCH_NESTED_CONTAINER_SESSION",
      launch_nested_container_session: { container_id: containerId, command },
    }),
    ...(signal === undefined ? {} : { signal }),
  });
}

/** What WAIT_CONTAINER answers once a container has ended (the fields the tests read). */
export interface WaitContainerAnswer {
  type: string;
  wait_container?: { exit_status?: number; state?: string; reason?: string };
}

/** A container id with the chain of its parents (`parent` is the next one up). */
export interface ContainerIdChain {
  value: string;
  parent?: ContainerIdChain;
}

/**
 * WAIT_CONTAINER of container `id` (a chain, or a name nested in `parent`
 * if given) on an agent: must be 200.
 */
export async function waitContainer(
  agent: DaemonHandle,
  id: string | ContainerIdChain,
  parent?: string,
): Promise<WaitContainerAnswer> {
  const containerId =
    typeof id !== "string"
      ? id
      : parent === undefined
        ? { value: id }
        : { value: id, parent: { value: parent } };
  const answer = await expectCall(
    agent,
    { type: "WAIT_CONTAINER", wait_container: { container_id: containerId } },
    200,
  );
  return JSON.parse(answer.text) as WaitContainerAnswer;
}

/** What WAIT_CONTAINER of `id` says of the ended container (`{}` when it says nothing). */
export async function waitEnded(
  agent: DaemonHandle,
  id: ContainerIdChain,
): Promise<NonNullable<WaitContainerAnswer["wait_container"]>> {
  return (await waitContainer(agent, id)).wait_container ?? {};
}

/** An agent as GET_AGENTS shows it (the fields the tests read). */
export interface AgentView {
  agent_info: { id: { value: string } };
  active: boolean;
  deactivated?: boolean;
  drain_info?: { state: string };
}

/** GET_AGENTS by agent id; `undefined` when the master does not answer 200 (e.g. not leading). */
export async function agentViews(
  master: DaemonHandle,
): Promise<Map<string, AgentView> | undefined> {
  const answer = await operatorCall(master, { type: "GET_AGENTS" });
  if (answer.status !== 200) return undefined;
  const body = JSON.parse(answer.text) as { get_agents: { agents?: AgentView[] } };
  return new Map((body.get_agents.agents ?? []).map((a) => [a.agent_info.id.value, a]));
}
