/** Test certificates made with the `openssl` command (tests skip when it is missing). */
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { reverseNameSync } from "../../src/common/process/tls-client.js";

/** Whether the `openssl` command runs here. */
export const haveOpenssl: boolean = (() => {
  try {
    execFileSync("openssl", ["version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
})();

function openssl(dir: string, args: string[]): void {
  execFileSync("openssl", args, { cwd: dir, stdio: "ignore" });
}

/** A self-signed CA in `dir`: `<name>.crt` and `<name>.key` (RSA 2048, valid 2 days). */
export function makeCa(dir: string, name: string, commonName = `mesos-ts ${name}`): void {
  const key = ["-newkey", "rsa:2048", "-nodes", "-keyout", `${name}.key`];
  openssl(dir, [
    "req",
    "-x509",
    ...key,
    "-out",
    `${name}.crt`,
    "-days",
    "2",
    "-subj",
    `/CN=${commonName}`,
  ]);
}

/**
 * The DNS names a certificate for 127.0.0.1 carries: `localhost` and the
 * name 127.0.0.1 has here by reverse lookup (what libprocess' default
 * `legacy` hostname validation matches; `localhost.localdomain` on some
 * machines).
 */
export function loopbackDnsNames(): string[] {
  const reverse = reverseNameSync("127.0.0.1");
  return reverse === undefined || reverse === "localhost" || reverse === "127.0.0.1"
    ? ["localhost"]
    : ["localhost", reverse];
}

/**
 * `<name>.crt` / `<name>.key` in `dir` (default `node`) for 127.0.0.1,
 * signed by the CA `<ca>.crt` made with `makeCa`. By default the common
 * name is 127.0.0.1 and the subjectAltNames are that IP and
 * `loopbackDnsNames()`.
 */
export function makeNodeCertificate(
  dir: string,
  ca = "ca",
  name = "node",
  subject = {
    cn: "127.0.0.1",
    san: ["IP:127.0.0.1", ...loopbackDnsNames().map((n) => `DNS:${n}`)].join(","),
  },
): void {
  const key = ["-newkey", "rsa:2048", "-nodes", "-keyout", `${name}.key`];
  openssl(dir, ["req", ...key, "-out", `${name}.csr`, "-subj", `/CN=${subject.cn}`]);
  writeFileSync(join(dir, `${name}.cnf`), `subjectAltName=${subject.san}\n`);
  const signer = ["-CA", `${ca}.crt`, "-CAkey", `${ca}.key`, "-CAcreateserial"];
  const out = ["-out", `${name}.crt`, "-days", "2", "-extfile", `${name}.cnf`];
  openssl(dir, ["x509", "-req", "-in", `${name}.csr`, ...signer, ...out]);
}
