/**
 * Preloaded into a master or agent by the cluster benchmarks
 * (`NODE_OPTIONS=--import=<this file>` with `BENCH_LOOP_PROBE_DIR` set):
 * every 250 ms it appends `<epoch ms> <longest event-loop delay in that
 * window, ms> <most CPU used during one such delay, ms>` to
 * `<dir>/<pid>.loop`, so a benchmark can read the longest event-loop block
 * of a daemon over any stretch of time without the daemon carrying code for
 * it. The delay is how late a 50 ms timer fired: wall time, which grows
 * with the machine's load (a daemon waiting for a core looks blocked); the
 * CPU used between two ticks does not, so it tells a long turn from a busy
 * machine. A timer wake-up costs ~0.2-0.3 ms of CPU on this kind of VM: a
 * 5 ms timer (as `monitorEventLoopDelay({ resolution: 5 })` runs) costs
 * ~40 ms of CPU a second, a 20 ms one ~15, more than an idle daemon's own
 * work, so the probe ticks every 50 ms (~5 ms/s; blocks shorter than that
 * are not seen) and appends one small line per 250 ms.
 */
import { appendFileSync } from "node:fs";

const dir = process.env.BENCH_LOOP_PROBE_DIR;
if (dir !== undefined && dir !== "") {
  const file = `${dir}/${process.pid}.loop`;
  const tickMs = 50;
  // process.cpuUsage counts every thread (GC helpers, the fs thread pool):
  // an upper bound of the main thread's share of a stretch.
  let lastCpu = process.cpuUsage();
  let lastTick = performance.now();
  let maxDelay = 0;
  let maxStretchCpu = 0;
  let windowStart = lastTick;
  setInterval(() => {
    const now = performance.now();
    const cpu = process.cpuUsage();
    const delay = Math.max(0, now - lastTick - tickMs);
    const used = (cpu.user - lastCpu.user + cpu.system - lastCpu.system) / 1000;
    if (delay > maxDelay) maxDelay = delay;
    if (used > maxStretchCpu) maxStretchCpu = used;
    lastCpu = cpu;
    lastTick = now;
    if (now - windowStart < 250) return;
    windowStart = now;
    const line = `${Date.now()} ${maxDelay.toFixed(1)} ${maxStretchCpu.toFixed(1)}\n`;
    maxDelay = 0;
    maxStretchCpu = 0;
    try {
      appendFileSync(file, line);
    } catch {
      // The benchmark removed its directory: nothing to report to.
    }
  }, tickMs).unref();
}

// With BENCH_CPU_PROFILE_DIR set, SIGUSR2 starts a V8 CPU profile and the
// next SIGUSR2 writes it to `<dir>/<pid>-<n>.cpuprofile` (`--cpu-prof` is
// not allowed in NODE_OPTIONS, and this profiles just the window asked for).
const profileDir = process.env.BENCH_CPU_PROFILE_DIR;
if (profileDir !== undefined && profileDir !== "") {
  const { Session } = await import("node:inspector");
  const { writeFileSync } = await import("node:fs");
  const session = new Session();
  session.connect();
  let running = false;
  let n = 0;
  process.on("SIGUSR2", () => {
    if (!running) {
      running = true;
      session.post("Profiler.enable", () =>
        session.post(
          "Profiler.setSamplingInterval",
          { interval: Number(process.env.BENCH_CPU_PROFILE_INTERVAL_US ?? 500) },
          () => session.post("Profiler.start"),
        ),
      );
      return;
    }
    running = false;
    session.post("Profiler.stop", (err, result) => {
      if (err === null && result !== undefined) {
        writeFileSync(
          `${profileDir}/${process.pid}-${++n}.cpuprofile`,
          JSON.stringify(result.profile),
        );
      }
    });
  });
}
