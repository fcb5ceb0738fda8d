/**
 * fifoWriter: what is written and ended before a reader opens the named pipe
 * reaches that reader, followed by EOF; destroying it gives a waiting reader
 * EOF at once. These are the orders a container session's stdin sees when
 * ATTACH_CONTAINER_INPUT is faster than the container's start.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import {
  closeSync,
  createReadStream,
  constants as fsConstants,
  openSync,
  readFileSync,
  readSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { Socket } from "node:net";
import { join } from "node:path";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { fifoWriter } from "../../src/common/io/fifo-writer.js";
import { tempDir } from "../harness/processes.js";

function makeFifo(): string {
  const path = join(tempDir("fifo-writer-"), "stdin.fifo");
  execFileSync("mkfifo", ["-m", "600", path]);
  return path;
}

/** Everything the reader of `path` gets until EOF (its open waits for a writer). */
async function readAll(path: string): Promise<string> {
  let text = "";
  for await (const chunk of createReadStream(path)) text += (chunk as Buffer).toString("utf8");
  return text;
}

test("fifo writer: input and EOF sent before the reader opens the pipe all arrive", async () => {
  const path = makeFifo();
  const writer = fifoWriter(path);
  writer.write("early ");
  writer.end("input\n");
  // The reader is late, as a container that is still starting.
  await sleep(100);
  assert.equal(await readAll(path), "early input\n");
});

test("fifo writer: a reader already waiting gets data as it is written, then EOF", async () => {
  const path = makeFifo();
  const reading = readAll(path);
  const writer = fifoWriter(path);
  for (let i = 0; i < 3; i += 1) {
    writer.write(`line ${i}\n`);
    await sleep(10);
  }
  writer.end();
  assert.equal(await reading, "line 0\nline 1\nline 2\n");
});

test("fifo writer: destroying it stops the attempts to open and a waiting reader sees EOF", async () => {
  const unread = makeFifo();
  const idle = fifoWriter(unread);
  idle.write("never read");
  idle.destroy();
  // A reader appearing later finds no writer: a read is EOF, not the data.
  const fd = openSync(unread, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK);
  try {
    await sleep(50);
    assert.equal(readSync(fd, Buffer.alloc(64)), 0);
  } finally {
    closeSync(fd);
  }

  const path = makeFifo();
  const reading = readAll(path);
  const writer = fifoWriter(path);
  writer.write("partial");
  await sleep(50);
  writer.destroy();
  assert.equal(await reading, "partial");
});

test("fifo writer: once the reader has gone, writing fails with EPIPE instead of blocking", async () => {
  const path = makeFifo();
  // A socket over a non-blocking descriptor: closing it does not wait for a pending read.
  const reader = new Socket({
    fd: openSync(path, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK),
    readable: true,
    writable: false,
  });
  const writer = fifoWriter(path);
  const first = await new Promise<Buffer>((resolve) => {
    reader.once("data", (chunk) => resolve(chunk as Buffer));
    writer.write("one");
  });
  assert.equal(first.toString(), "one");
  reader.destroy();
  await new Promise<void>((resolve) => reader.once("close", () => resolve()));
  const failed = new Promise<NodeJS.ErrnoException>((resolve) => writer.once("error", resolve));
  // The first write after the reader closed may still be taken by the kernel; keep writing.
  const keepWriting = setInterval(() => {
    if (!writer.destroyed) writer.write("more");
  }, 5);
  try {
    assert.equal((await failed).code, "EPIPE");
  } finally {
    clearInterval(keepWriting);
  }
});

test("fifo writer: a link or a regular file where the pipe should be is not written (the pipe lies in a sandbox the task's user may change)", async () => {
  const dir = tempDir("fifo-writer-link-");
  const target = join(dir, "passwd");
  writeFileSync(target, "untouched\n");
  symlinkSync(target, join(dir, "stdin.fifo"));
  writeFileSync(join(dir, "plain.fifo"), "");
  for (const [name, why] of [
    ["stdin.fifo", /ELOOP/],
    ["plain.fifo", /plain\.fifo' is not a named pipe$/],
  ] as const) {
    const writer = fifoWriter(join(dir, name));
    // Without the check it writes and closes without an error.
    const failed = new Promise<Error | undefined>((resolve) => {
      writer.once("error", resolve);
      writer.once("close", () => resolve(undefined));
    });
    writer.end("input\n");
    assert.match((await failed)?.message ?? "no error", why);
  }
  assert.equal(readFileSync(target, "utf8"), "untouched\n");
  assert.equal(readFileSync(join(dir, "plain.fifo"), "utf8"), "");
});
