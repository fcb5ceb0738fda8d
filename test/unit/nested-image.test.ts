/**
 * How a nested container in an image is launched (images/nested-image.ts),
 * against a fake provisioner: its provisioner id below the parent's, the
 * sandbox mount (at the provisioner's --sandbox_directory), the variables
 * set inside the image (the image's Env under the command's own, the
 * command's PATH, MESOS_SANDBOX but no other MESOS_ ones), the
 * image's WorkingDir, and docker/runtime's command rules.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ImageConfig } from "../../src/agent/containerizer/images/docker-store.js";
import {
  nestedProvisionId,
  prepareNestedImage,
} from "../../src/agent/containerizer/images/nested-image.js";
import { tempDir } from "../harness/processes.js";

function fakeProvisioner(config: ImageConfig, rootfs: string, sandboxDirectory?: string) {
  const calls: [string, string, boolean][] = [];
  return {
    calls,
    ...(sandboxDirectory === undefined ? {} : { sandboxDirectory }),
    provision: async (id: string, name: string, cached = true) => {
      calls.push([id, name, cached]);
      return { path: rootfs, image: { layers: [], config } };
    },
  };
}

const image = { type: "DOCKER" as const, docker: { name: "img" } };

describe("nested container images", () => {
  it("provisions below the parent and mounts the container's own sandbox at /mnt/mesos/sandbox", async () => {
    const rootfs = tempDir("nested-image-rootfs-");
    const p = fakeProvisioner({}, rootfs);
    const out = await prepareNestedImage({
      provisioner: p,
      dockerRuntime: false,
      provisionId: nestedProvisionId("parent", "child"),
      image,
      command: { value: "true" },
      volumes: [],
      sandbox: "/sb/containers/child",
    });
    assert.deepEqual(p.calls, [["parent/containers/child", "img", true]]);
    assert.equal(out.preparation.rootfs, rootfs);
    assert.deepEqual(out.preparation.mounts, [
      { source: "/sb/containers/child", target: `${rootfs}/mnt/mesos/sandbox`, readOnly: false },
    ]);
    assert.deepEqual(
      out.preparation.rootfsEnv,
      { MESOS_SANDBOX: "/mnt/mesos/sandbox" },
      "no docker/runtime: no image Env",
    );
    assert.equal(out.preparation.rootfsWorkDir, "/mnt/mesos/sandbox");
  });

  it("mounts the sandbox at the provisioner's --sandbox_directory, and MESOS_SANDBOX says so", async () => {
    const rootfs = tempDir("nested-image-rootfs-");
    const out = await prepareNestedImage({
      provisioner: fakeProvisioner({}, rootfs, "/sandbox"),
      dockerRuntime: false,
      provisionId: "p/containers/c",
      image,
      command: { value: "true" },
      volumes: [{ container_path: "rel", mode: "RW", host_path: "/etc" }],
      sandbox: "/sb",
    });
    assert.deepEqual(out.preparation.mounts, [
      { source: "/sb", target: `${rootfs}/sandbox`, readOnly: false },
      {
        source: "/etc",
        target: `${rootfs}/sandbox/rel`,
        readOnly: false,
        targetSandbox: `${rootfs}/sandbox`,
      },
    ]);
    assert.deepEqual(out.preparation.rootfsEnv, { MESOS_SANDBOX: "/sandbox" });
    assert.equal(out.preparation.rootfsWorkDir, "/sandbox");
  });

  it("docker/runtime: the image's Env under the command's variables, the command's PATH inside, WorkingDir, Entrypoint/Cmd", async () => {
    const rootfs = tempDir("nested-image-rootfs-");
    const p = fakeProvisioner(
      {
        Env: ["PATH=/image/bin", "A=image", "B=image", "MESOS_X=image", "BROKEN"],
        WorkingDir: "/w",
        Entrypoint: ["/bin/echo"],
        Cmd: ["c1"],
      },
      rootfs,
    );
    const out = await prepareNestedImage({
      provisioner: p,
      dockerRuntime: true,
      provisionId: "p/containers/c",
      image: { ...image, cached: false },
      command: {
        shell: false,
        arguments: ["x"],
        environment: {
          variables: [
            { name: "B", value: "task" },
            { name: "PATH", value: "/task/bin" },
          ],
        },
      },
      volumes: [],
      sandbox: "/sb",
    });
    assert.deepEqual(p.calls[0]?.[2], false);
    assert.deepEqual(out.preparation.rootfsEnv, {
      A: "image",
      PATH: "/task/bin",
      MESOS_SANDBOX: "/mnt/mesos/sandbox",
    });
    assert.equal(out.preparation.rootfsWorkDir, "/w");
    assert.equal(out.command.value, "/bin/echo");
    assert.deepEqual(out.command.arguments, ["/bin/echo", "x"]);
  });

  it("docker/runtime: nothing to run, or a shell command without a value, fails as Mesos words it", async () => {
    const rootfs = tempDir("nested-image-rootfs-");
    const launch = (command: object) =>
      prepareNestedImage({
        provisioner: fakeProvisioner({}, rootfs),
        dockerRuntime: true,
        provisionId: "p/containers/c",
        image,
        command,
        volumes: [],
        sandbox: "/sb",
      });
    await assert.rejects(launch({ shell: false }), {
      message: "Failed to determine the launch command: No executable is found",
    });
    await assert.rejects(launch({ shell: true }), {
      message:
        "Failed to determine the launch command: Shell specified but no command value provided",
    });
  });

  it("refuses images other than DOCKER", async () => {
    await assert.rejects(
      prepareNestedImage({
        provisioner: fakeProvisioner({}, "/nowhere"),
        dockerRuntime: false,
        provisionId: "p/containers/c",
        image: { type: "APPC", appc: { name: "x" } },
        command: { value: "true" },
        volumes: [],
        sandbox: "/sb",
      }),
      { message: "Only DOCKER images are supported (got APPC)" },
    );
  });
});
