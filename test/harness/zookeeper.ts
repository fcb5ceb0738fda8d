/**
 * Test harness: a real ZooKeeper (Debian's `zookeeper` package, 3.8) on a
 * free port with its own temporary data dir, or a three-server ensemble.
 * Each server runs `zkServer.sh start-foreground <cfg>`, so its pid is the
 * JVM's and it can be stopped, killed, paused and restarted by pid.
 *
 *   if (!zookeeperAvailable()) t.skip(ZOOKEEPER_MISSING);
 *   const zk = await startZooKeeper();
 *   ... `zk://${zk.connect}/mesos` ...
 *   after(() => zk.stop());
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import type { NetHost } from "./netns.js";
import { freePort, tempDir, waitFor } from "./processes.js";

const ZK_SERVER = "/usr/share/zookeeper/bin/zkServer.sh";

/** Why ZooKeeper tests skip when it is not installed. */
export const ZOOKEEPER_MISSING = `ZooKeeper is not installed (${ZK_SERVER}); apt-get install zookeeper`;

/** True when the ZooKeeper server script and java are present. */
export function zookeeperAvailable(): boolean {
  return (
    existsSync(ZK_SERVER) && (existsSync("/usr/bin/java") || process.env.JAVA_HOME !== undefined)
  );
}

/** `test`'s skip option for tests that need ZooKeeper: why they cannot run here, or false. */
export const zookeeperSkip: string | false = zookeeperAvailable() ? false : ZOOKEEPER_MISSING;

/** One ZooKeeper server process. */
export interface ZkServer {
  readonly id: number;
  readonly port: number;
  /** `127.0.0.1:<port>` */
  readonly address: string;
  readonly dataDir: string;
  /** The running JVM (undefined while stopped). */
  readonly child: ChildProcess | undefined;
  /** Starts (or restarts) the server; resolves once it answers `ruok`. */
  start(): Promise<void>;
  /** SIGTERM, then SIGKILL; resolves once it is gone. */
  stop(): Promise<void>;
  /** Sends a signal (SIGKILL, SIGSTOP, SIGCONT). */
  signal(signal: NodeJS.Signals): void;
  /** True when it serves clients (a standalone server, or an ensemble member with a leader). */
  serving(): Promise<boolean>;
  logs(): string;
}

/** A single server or an ensemble. */
export interface ZooKeeper {
  readonly servers: readonly ZkServer[];
  /** The connect string: `127.0.0.1:p1,127.0.0.1:p2,...` */
  readonly connect: string;
  /** `zk://<connect><path>` */
  url(path?: string): string;
  /** Stops every server. */
  stop(): Promise<void>;
}

const running = new Set<ZkServer>();

/** Asks a server `ruok`; true if it answers `imok`. */
function ruok(port: number, host = "127.0.0.1"): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    let data = "";
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.on("error", () => done(false));
    socket.on("connect", () => socket.write("ruok"));
    socket.on("data", (d) => {
      data += d.toString();
    });
    socket.on("close", () => resolve(data === "imok"));
  });
}

/** For an ensemble: is this server serving (leader or follower)? */
function srvr(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    let data = "";
    socket.setTimeout(1000, () => socket.destroy());
    socket.on("error", () => resolve(""));
    socket.on("connect", () => socket.write("srvr"));
    socket.on("data", (d) => {
      data += d.toString();
    });
    socket.on("close", () => resolve(data));
  });
}

interface Peer {
  id: number;
  clientPort: number;
  quorumPort: number;
  electionPort: number;
}

function makeServer(
  peer: Peer,
  peers: readonly Peer[],
  root: string,
  netHost: NetHost | undefined,
): ZkServer {
  const bindIp = netHost?.ip ?? "127.0.0.1";
  const dir = join(root, `zk${peer.id}`);
  const dataDir = join(dir, "data");
  const logDir = join(dir, "logs");
  mkdirSync(dataDir, { recursive: true });
  mkdirSync(logDir, { recursive: true });
  const cfg = join(dir, "zoo.cfg");
  const lines = [
    "tickTime=500",
    "initLimit=20",
    "syncLimit=10",
    `dataDir=${dataDir}`,
    `clientPort=${peer.clientPort}`,
    `clientPortAddress=${bindIp}`,
    "admin.enableServer=false",
    "4lw.commands.whitelist=ruok,srvr,stat,mntr",
    // Sessions between 1 s and 40 s, so tests can use short timeouts.
    "minSessionTimeout=1000",
    "maxSessionTimeout=40000",
  ];
  if (peers.length > 1) {
    writeFileSync(join(dataDir, "myid"), `${peer.id}\n`);
    for (const p of peers) {
      lines.push(`server.${p.id}=127.0.0.1:${p.quorumPort}:${p.electionPort}`);
    }
  }
  writeFileSync(cfg, `${lines.join("\n")}\n`);
  const outFile = join(logDir, "stdout.log");
  let child: ChildProcess | undefined;
  const server: ZkServer = {
    id: peer.id,
    port: peer.clientPort,
    address: `${bindIp}:${peer.clientPort}`,
    dataDir,
    get child() {
      return child;
    },
    async start() {
      if (child !== undefined) return;
      const out = openSync(outFile, "a");
      const options = {
        stdio: ["ignore", out, out] as ["ignore", number, number],
        env: {
          ...process.env,
          ZOO_LOG_DIR: logDir,
          ZOO_LOG4J_PROP: "WARN,CONSOLE",
          JVMFLAGS: "-Xmx128m -XX:+UseSerialGC -XX:TieredStopAtLevel=1",
        },
      };
      child =
        netHost === undefined
          ? spawn(ZK_SERVER, ["start-foreground", cfg], options)
          : netHost.spawn(ZK_SERVER, ["start-foreground", cfg], options);
      const mine = child;
      mine.once("exit", () => {
        if (child === mine) child = undefined;
      });
      running.add(server);
      await waitFor(
        `ZooKeeper ${peer.id} on port ${peer.clientPort}`,
        async () => {
          if (child !== mine) throw new Error(`ZooKeeper exited:\n${server.logs()}`);
          if (peers.length === 1) return ruok(peer.clientPort, bindIp);
          return /Mode: (leader|follower)/.test(await srvr(peer.clientPort));
        },
        { timeoutMs: 60_000, intervalMs: 200 },
      );
    },
    async stop() {
      const c = child;
      if (c === undefined) return;
      running.delete(server);
      const gone = new Promise<void>((resolve) => c.once("exit", () => resolve()));
      if (c.exitCode === null && c.signalCode === null) {
        c.kill("SIGCONT");
        c.kill("SIGTERM");
        const timer = setTimeout(() => c.kill("SIGKILL"), 3000);
        await gone;
        clearTimeout(timer);
      }
      child = undefined;
    },
    signal(signal) {
      child?.kill(signal);
    },
    async serving() {
      if (child === undefined) return false;
      if (peers.length === 1) return ruok(peer.clientPort, bindIp);
      return /Mode: (leader|follower|standalone)/.test(await srvr(peer.clientPort));
    },
    logs: () => (existsSync(outFile) ? readFileSync(outFile, "utf8") : ""),
  };
  return server;
}

/**
 * Starts ZooKeeper: one server, or `servers: 3` for an ensemble (all
 * started together, resolved once each one serves). With `host`, the
 * server runs in that network namespace, on its address.
 */
export async function startZooKeeper(
  options: { servers?: number; host?: NetHost } = {},
): Promise<ZooKeeper> {
  const count = options.servers ?? 1;
  let servers: ZkServer[] = [];
  // A port freePort handed out can be taken by another process before the
  // server binds it (the server then exits at once): start again on new ports.
  for (let attempt = 1; ; attempt++) {
    const root = tempDir("zookeeper-");
    const peers: Peer[] = [];
    for (let id = 1; id <= count; id++) {
      peers.push({
        id,
        clientPort: await freePort(),
        quorumPort: count > 1 ? await freePort() : 0,
        electionPort: count > 1 ? await freePort() : 0,
      });
    }
    servers = peers.map((p) => makeServer(p, peers, root, options.host));
    const started = await Promise.allSettled(servers.map((s) => s.start()));
    const failed = started.find((r) => r.status === "rejected");
    if (failed === undefined) break;
    await Promise.all(servers.map((s) => s.stop()));
    const exited = String(failed.reason).includes("ZooKeeper exited");
    if (!exited || attempt === 3) throw failed.reason;
  }
  const connect = servers.map((s) => s.address).join(",");
  return {
    servers,
    connect,
    url: (path = "/mesos") => `zk://${connect}${path}`,
    stop: async () => {
      await Promise.all(servers.map((s) => s.stop()));
    },
  };
}

process.once("exit", () => {
  for (const s of running) s.signal("SIGKILL");
});

/** One ZooKeeper server a test file shares, started when a test first asks for it. */
export interface SharedZooKeeper {
  /** The server, started on the first call. */
  get(): Promise<ZooKeeper>;
  /** Stops the server if it was started. */
  stop(): Promise<void>;
}

/** A SharedZooKeeper: `get()` it in the tests, `stop()` it after the daemons that use it. */
export function sharedZooKeeper(): SharedZooKeeper {
  let zk: ZooKeeper | undefined;
  return {
    async get() {
      zk ??= await startZooKeeper();
      return zk;
    },
    async stop() {
      await zk?.stop();
    },
  };
}
