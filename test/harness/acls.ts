/** ACLs as the unit tests of authorization build them. */
import assert from "node:assert/strict";
import { LocalAuthorizer, parseAcls } from "../../src/common/auth/acls.js";

/** The local authorizer of the ACLs `json` (as `--acls` takes them), which must be valid. */
export function localAuthorizer(json: unknown): LocalAuthorizer {
  const parsed = parseAcls(json);
  assert.ok(parsed.ok, parsed.ok ? "" : parsed.error);
  return new LocalAuthorizer(parsed.value);
}
