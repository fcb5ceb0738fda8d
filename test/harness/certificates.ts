/** Test certificates made with the `openssl` command (tests skip when it is missing). */
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";

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
 * `node.crt` / `node.key` in `dir` for 127.0.0.1 (common name and IP
 * subjectAltName), signed by the CA `<ca>.crt` made with `makeCa`.
 */
export function makeNodeCertificate(dir: string, ca = "ca"): void {
  const key = ["-newkey", "rsa:2048", "-nodes", "-keyout", "node.key"];
  openssl(dir, ["req", ...key, "-out", "node.csr", "-subj", "/CN=127.0.0.1"]);
  writeFileSync(join(dir, "ext.cnf"), "subjectAltName=IP:127.0.0.1\n");
  const signer = ["-CA", `${ca}.crt`, "-CAkey", `${ca}.key`, "-CAcreateserial"];
  const out = ["-out", "node.crt", "-days", "2", "-extfile", "ext.cnf"];
  openssl(dir, ["x509", "-req", "-in", "node.csr", ...signer, ...out]);
}
