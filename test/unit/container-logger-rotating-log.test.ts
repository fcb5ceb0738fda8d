import assert from "node:assert/strict";
import {
  existsSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { RotatingLog } from "../../src/agent/containerizer/logger/rotating-log.js";

function sandbox(): string {
  return mkdtempSync(join(tmpdir(), "rotating-log-"));
}

test("rotating log: bytes are appended until the next piece would pass the maximum", () => {
  const dir = sandbox();
  try {
    const file = join(dir, "stdout");
    let rotations = 0;
    const log = new RotatingLog(file, 10_000, () => {
      rotations++;
      renameSync(file, `${file}.${rotations}`);
    });
    log.write(Buffer.alloc(6000, "a"));
    assert.equal(rotations, 0);
    // 6000 + 4096 > 10000: the second write's first piece starts a new file.
    log.write(Buffer.alloc(5000, "b"));
    log.close();
    assert.equal(rotations, 1);
    assert.equal(statSync(`${file}.1`).size, 6000);
    assert.equal(readFileSync(file, "latin1"), "b".repeat(5000));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("rotating log: no file grows past the maximum however large the writes", () => {
  const dir = sandbox();
  try {
    const file = join(dir, "stdout");
    const sizes: number[] = [];
    const log = new RotatingLog(file, 8192, () => {
      sizes.push(statSync(file).size);
      rmSync(file);
    });
    for (let i = 0; i < 5; i++) log.write(Buffer.alloc(7000, "x"));
    log.close();
    sizes.push(statSync(file).size);
    for (const size of sizes) assert.ok(size <= 8192, `a file of ${size} bytes`);
    assert.equal(
      sizes.reduce((a, b) => a + b, 0),
      35_000,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("rotating log: a failed rotation keeps logging into the same file", () => {
  const dir = sandbox();
  try {
    const file = join(dir, "stdout");
    let calls = 0;
    const log = new RotatingLog(file, 4096, () => {
      calls++;
    });
    log.write(Buffer.alloc(4096, "a"));
    log.write(Buffer.alloc(100, "b"));
    log.close();
    assert.equal(calls, 1);
    assert.equal(statSync(file).size, 4196);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("rotating log: a logger started on an existing file counts its bytes", () => {
  const dir = sandbox();
  try {
    const file = join(dir, "stdout");
    writeFileSync(file, Buffer.alloc(9000, "o"));
    let rotated = false;
    const log = new RotatingLog(file, 10_000, () => {
      rotated = true;
      renameSync(file, `${file}.1`);
    });
    log.write(Buffer.alloc(2000, "n"));
    log.close();
    assert.equal(rotated, true);
    assert.ok(existsSync(`${file}.1`));
    assert.equal(statSync(file).size, 2000);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
