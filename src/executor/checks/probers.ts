/**
 * Real probes, run from the executor against its own task (Mesos runs them
 * the same way for tasks without their own network namespace):
 * COMMAND spawns the command in the task's environment and sandbox (its
 * output goes to the executor's stderr, where Mesos' checker sends it), or,
 * for a task in a nested container, runs it in a check container nested in
 * the task's (nested-command-prober.ts), HTTP
 * GETs `scheme://127.0.0.1:port/path` (following redirects), TCP opens a
 * connection to 127.0.0.1:port.
 */
import { spawn } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import { createRequire } from "node:module";
import { connect } from "node:net";
import type { LaunchContext, LaunchSpec } from "../launch-spec.js";
import { buildLaunchSpec } from "../launch-spec.js";
import type { CommandInfo } from "../protocol.js";
import type { CheckInfo, HealthCheckInfo } from "./check-info.js";
import { type NestedCheckTarget, nestedCommandProber } from "./nested-command-prober.js";
import type { ProbeResult, Prober, RunningProbe } from "./probe.js";

/**
 * Where a check command's stdout and stderr go: a file (appended to), the
 * executor's own stderr (fd 2, the default, as Mesos' checker), or nowhere.
 */
export type ProbeOutput = string | 2 | "ignore";

/** Runs a command to completion; exit status 0 is a success. */
export function commandProber(spec: LaunchSpec, output: ProbeOutput = 2): Prober {
  return {
    kind: "COMMAND",
    start(): RunningProbe {
      let pid: number | undefined;
      const result = new Promise<ProbeResult>((resolve) => {
        let fd: number | undefined;
        if (typeof output === "string" && output !== "ignore") {
          try {
            fd = openSync(output, "a");
          } catch {
            // Output is a convenience: the probe runs without it.
          }
        }
        const sink = fd ?? (output === 2 ? 2 : "ignore");
        let child: ReturnType<typeof spawn>;
        try {
          child = spawn(spec.file, spec.args, {
            argv0: spec.argv0,
            env: spec.env,
            ...(spec.cwd !== undefined ? { cwd: spec.cwd } : {}),
            detached: true,
            stdio: ["ignore", sink, sink],
          });
        } finally {
          if (fd !== undefined) closeSync(fd);
        }
        pid = child.pid;
        child.once("error", (err) =>
          resolve({ error: `failed to run the command: ${err.message}` }),
        );
        child.once("exit", (code, signal) =>
          resolve(
            code !== null ? { exitCode: code } : { error: `command terminated by ${signal}` },
          ),
        );
      });
      return {
        result,
        cancel() {
          if (pid === undefined) return;
          try {
            process.kill(-pid, "SIGKILL");
          } catch {
            // Already gone.
          }
        },
      };
    },
  };
}

/**
 * `node:http`/`node:https`, loaded only when an HTTP(S) check runs: the
 * command executor starts without them (~5 and ~8 ms of CPU;
 * docs/architecture/command-executor.md). Built-ins resolve from any base path.
 */
function requestFor(url: string): typeof import("node:https").request {
  const load = createRequire("file:///");
  return url.startsWith("https:")
    ? (load("node:https") as typeof import("node:https")).request
    : ((load("node:http") as typeof import("node:http"))
        .request as typeof import("node:https").request);
}

/** How many redirects an HTTP probe follows (curl's default `--max-redirs`). */
export const MAX_HTTP_REDIRECTS = 50;

/**
 * GETs `url`, following 3xx answers that carry a `Location` (Mesos runs
 * `curl -L`); the last answer's status is the result and decides health.
 * Each probe uses its own connections and closes them (as a curl run
 * does): no socket of the executor lingers on the task's server.
 */
export function httpProber(url: string): Prober {
  return {
    kind: "HTTP",
    start(): RunningProbe {
      let cancelled = false;
      let cancel = (): void => {
        cancelled = true;
      };
      const result = new Promise<ProbeResult>((resolve) => {
        const get = (target: string, redirects: number): void => {
          if (cancelled) return;
          const request = requestFor(target);
          let req: ReturnType<typeof request>;
          try {
            req = request(
              target,
              { method: "GET", rejectUnauthorized: false, agent: false },
              (res) => {
                res.resume();
                const status = res.statusCode ?? 0;
                const location = res.headers.location;
                if (status < 300 || status >= 400 || location === undefined) {
                  resolve({ statusCode: status });
                  return;
                }
                if (redirects >= MAX_HTTP_REDIRECTS) {
                  resolve({
                    error: `GET ${url} failed: more than ${MAX_HTTP_REDIRECTS} redirects`,
                  });
                  return;
                }
                let next: string;
                try {
                  next = new URL(location, target).toString();
                } catch {
                  resolve({ error: `GET ${target} failed: invalid redirect to '${location}'` });
                  return;
                }
                if (!/^https?:$/.test(new URL(next).protocol)) {
                  resolve({ error: `GET ${target} failed: redirect to unsupported '${next}'` });
                  return;
                }
                get(next, redirects + 1);
              },
            );
          } catch (err) {
            // A URL the client refuses (curl refuses it too): a failed probe.
            resolve({ error: `GET ${target} failed: ${(err as Error).message}` });
            return;
          }
          req.once("error", (err) => resolve({ error: `GET ${target} failed: ${err.message}` }));
          req.end();
          cancel = () => {
            cancelled = true;
            req.destroy();
          };
        };
        get(url, 0);
      });
      return { result, cancel: () => cancel() };
    },
  };
}

/** Opens (and closes) a TCP connection to `host` (127.0.0.1 unless told)`:port`. */
export function tcpProber(port: number, host = IPV4_LOOPBACK): Prober {
  return {
    kind: "TCP",
    start(): RunningProbe {
      let cancel = (): void => {};
      const result = new Promise<ProbeResult>((resolve) => {
        if (!validPort(port)) {
          // Mesos' mesos-tcp-connect cannot connect either: a failed connection.
          resolve({ connected: false });
          return;
        }
        const socket = connect({ host, port });
        socket.once("connect", () => {
          socket.destroy();
          resolve({ connected: true });
        });
        socket.once("error", () => resolve({ connected: false }));
        cancel = () => socket.destroy();
      });
      return { result, cancel: () => cancel() };
    },
  };
}

/** Where command probes run: the task's launch context and sandbox. */
export interface ProbeContext {
  launch: LaunchContext;
  /** The sandbox (working directory of command probes). */
  sandbox?: string;
  /** Where command probes write (default: the executor's stderr). */
  output?: ProbeOutput;
  /** The task runs in a container image: command probes run in its root filesystem too. */
  image?: ImageRoot;
  /**
   * The task runs in a nested container: command probes run in DEBUG
   * containers nested in it, through the agent (the fields above do not apply).
   */
  nested?: NestedCheckTarget;
}

/** A command task's image root filesystem, entered with chroot(8) (or capsh, which chroots too). */
export interface ImageRoot {
  chroot: string;
  rootfs: string;
  /** Where the sandbox is inside (the agent's --sandbox_directory). */
  sandbox?: string;
}

/** Where the sandbox is inside an image's root filesystem. */
const IMAGE_SANDBOX = "/mnt/mesos/sandbox";

/**
 * The image root of a command task, read from the `--task_command` the
 * agent gives the command executor for a task with an image: `chroot ROOTFS
 * /bin/sh -c ...` (src/agent/containerizer/images/image-launch.ts).
 */
export function imageRootOf(taskCommand: CommandInfo | undefined): ImageRoot | undefined {
  const args = taskCommand?.arguments ?? [];
  const chroot = taskCommand?.value;
  if (taskCommand?.shell !== false || chroot === undefined) return undefined;
  let rootfs: string | undefined;
  if (chroot.endsWith("/chroot") && args[0] === "chroot") rootfs = args[1];
  // With capabilities: `capsh --chroot=ROOTFS ...`.
  if (chroot.endsWith("/capsh") && args[0] === "capsh") rootfs = args[1]?.slice("--chroot=".length);
  if (rootfs === undefined || !rootfs.startsWith("/")) return undefined;
  // The script's last MESOS_SANDBOX='...' (image Env exports come before it).
  const script = args[args.indexOf("-c") + 1] ?? "";
  const quoted = [...script.matchAll(/MESOS_SANDBOX=('(?:[^']|'\\'')*')/g)].at(-1)?.[1];
  const sandbox = quoted?.slice(1, -1).replaceAll("'\\''", "'");
  return { chroot, rootfs, ...(sandbox === undefined ? {} : { sandbox }) };
}

/**
 * `spec` run inside `image` from its sandbox, as Mesos runs a check command
 * in the task's mount namespace (MESOS_SANDBOX is the sandbox seen there).
 */
function inImage(spec: LaunchSpec, image: ImageRoot): LaunchSpec {
  const sandbox = `'${(image.sandbox ?? IMAGE_SANDBOX).replaceAll("'", "'\\''")}'`;
  const enter = `cd ${sandbox} && MESOS_SANDBOX=${sandbox} exec "$@"`;
  const shell = ["-c", enter, "mesos-check", spec.file, ...spec.args];
  // capsh with only --chroot is chroot(8): the probe keeps the executor's privileges.
  return image.chroot.endsWith("/capsh")
    ? {
        ...spec,
        file: image.chroot,
        argv0: "capsh",
        args: [`--chroot=${image.rootfs}`, "--shell=/bin/sh", "--", ...shell],
      }
    : { ...spec, file: image.chroot, argv0: "chroot", args: [image.rootfs, "/bin/sh", ...shell] };
}

function commandFor(
  command: CommandInfo | undefined,
  ctx: ProbeContext,
  name: string,
): Prober | string {
  if (command === undefined) return "the check has no command";
  if (ctx.nested !== undefined) return nestedCommandProber({ ...ctx.nested, name }, command);
  const built = buildLaunchSpec(command, ctx.launch);
  if ("error" in built) return `invalid check command: ${built.error}`;
  const spec = ctx.image !== undefined ? inImage(built, ctx.image) : built;
  return commandProber(
    ctx.sandbox !== undefined ? { ...spec, cwd: ctx.sandbox } : spec,
    ctx.output ?? 2,
  );
}

const IPV4_LOOPBACK = "127.0.0.1";
const IPV6_LOOPBACK = "::1";

function validPort(port: number): boolean {
  return Number.isInteger(port) && port >= 1 && port <= 65535;
}

/**
 * An HTTP probe of `127.0.0.1` (`[::1]` for IPv6). A port no request can
 * reach still makes a probe, one that always fails (as curl would), so a
 * health check on it ends in a kill as in Mesos.
 */
function httpFor(
  http: { scheme?: string; port?: number; path?: string } | undefined,
  ipv6: boolean,
): Prober {
  const port = http?.port ?? 0;
  const scheme = http?.scheme ?? "http";
  const path = http?.path ?? "/";
  const url = `${scheme}://${ipv6 ? `[${IPV6_LOOPBACK}]` : IPV4_LOOPBACK}:${port}${path.startsWith("/") ? path : `/${path}`}`;
  if (!validPort(port)) {
    return {
      kind: "HTTP",
      start: () => ({
        result: Promise.resolve({ error: `GET ${url} failed: invalid port ${port}` }),
        cancel: () => {},
      }),
    };
  }
  return httpProber(url);
}

function tcpFor(tcp: { port?: number } | undefined, ipv6: boolean): Prober {
  return tcpProber(tcp?.port ?? 0, ipv6 ? IPV6_LOOPBACK : IPV4_LOOPBACK);
}

/** The prober of a health check, or why it cannot run. */
export function healthCheckProber(check: HealthCheckInfo, ctx: ProbeContext): Prober | string {
  const type =
    check.type ??
    (check.command !== undefined ? "COMMAND" : check.http !== undefined ? "HTTP" : undefined);
  if (type === "COMMAND") return commandFor(check.command, ctx, "health check");
  // Only health checks have a scheme and an IP protocol (Mesos' CheckInfo has neither).
  if (type === "HTTP") return httpFor(check.http, check.http?.protocol === "IPv6");
  if (type === "TCP") return tcpFor(check.tcp, check.tcp?.protocol === "IPv6");
  return `unsupported health check type '${type ?? "none"}'`;
}

/** The prober of a general check, or why it cannot run. */
export function checkProber(check: CheckInfo, ctx: ProbeContext): Prober | string {
  if (check.type === "COMMAND") return commandFor(check.command?.command, ctx, "check");
  if (check.type === "HTTP") {
    const http = check.http === undefined ? undefined : { ...check.http, scheme: "http" };
    return httpFor(http, false);
  }
  if (check.type === "TCP") return tcpFor(check.tcp, false);
  return `unsupported check type '${check.type ?? "none"}'`;
}
