/** mesos-ts' own version (package.json), shown as `mesos_ts_version` beside the Mesos one. */
export { ownVersion } from "../common/http/common-endpoints.js";
