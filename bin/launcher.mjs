// Shared by the thin launchers in bin/: loads a compiled entry point from dist/
// and runs its `main(argv)`. A numeric result becomes the exit code.
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

// A reader that goes away (`mesos-master --help | head`) must not end the
// program with a stack trace (a C++ Mesos binary dies quietly of SIGPIPE, or
// ignores it once libprocess runs). Later writes to that stream are dropped.
function ignoreClosedPipe(stream) {
  stream.on("error", (error) => {
    if (error.code !== "EPIPE") throw error;
  });
}

export async function launch(entry) {
  ignoreClosedPipe(process.stdout);
  ignoreClosedPipe(process.stderr);
  const file = join(root, "dist", "src", entry);
  if (!existsSync(file)) {
    process.stderr.write(
      `mesos-ts is not built (missing ${file}); run 'npm ci && npm run build' first\n`,
    );
    process.exit(1);
  }
  const mod = await import(pathToFileURL(file).href);
  const code = await mod.main(process.argv.slice(2));
  if (typeof code === "number") process.exitCode = code;
}
