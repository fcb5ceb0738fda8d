/**
 * Preloaded into a master or agent by the cluster benchmarks
 * (`NODE_OPTIONS=--import=<this file>` with `BENCH_LOOP_PROBE_DIR` set):
 * every 250 ms it appends `<epoch ms> <longest event-loop delay in that
 * window, ms> <most CPU used during one stretch between two ticks of a
 * 10 ms timer, ms>` to `<dir>/<pid>.loop`, so a benchmark can read the
 * longest event-loop block of a daemon over any stretch of time without the
 * daemon carrying code for it. The delay is wall time and grows with the
 * machine's load (a daemon waiting for a core looks blocked); the CPU of a
 * stretch does not, so it tells a long turn from a busy machine. Costs two
 * timers and one small append per 250 ms.
 */
import { appendFileSync } from "node:fs";
import { monitorEventLoopDelay } from "node:perf_hooks";

const dir = process.env.BENCH_LOOP_PROBE_DIR;
if (dir !== undefined && dir !== "") {
  const histogram = monitorEventLoopDelay({ resolution: 5 });
  histogram.enable();
  const file = `${dir}/${process.pid}.loop`;
  // process.cpuUsage counts every thread (GC helpers, the fs thread pool):
  // an upper bound of the main thread's share of a stretch.
  let lastCpu = process.cpuUsage();
  let maxStretchCpu = 0;
  setInterval(() => {
    const cpu = process.cpuUsage();
    const used = (cpu.user - lastCpu.user + cpu.system - lastCpu.system) / 1000;
    if (used > maxStretchCpu) maxStretchCpu = used;
    lastCpu = cpu;
  }, 10).unref();
  setInterval(() => {
    const max = histogram.max / 1e6;
    histogram.reset();
    const stretchCpu = maxStretchCpu;
    maxStretchCpu = 0;
    try {
      appendFileSync(file, `${Date.now()} ${max.toFixed(1)} ${stretchCpu.toFixed(1)}\n`);
    } catch {
      // The benchmark removed its directory: nothing to report to.
    }
  }, 250).unref();
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
