/** ZooKeeper for high availability: URLs, sessions, group membership, contender, detector. */
export { MasterContender } from "./contender.js";
export { type Leader, MasterDetector } from "./detector.js";
export { MASTER_INFO_JSON_LABEL } from "./group.js";
export {
  decodeMasterInfoJson,
  encodeMasterInfoJson,
  masterInfoAddress,
  masterInfoPid,
} from "./master-info-json.js";
export { ZkSession } from "./session.js";
export { formatZkUrl, isZkUrl, parseZkUrl, parseZkUrlOrFile, type ZkUrl } from "./url.js";
