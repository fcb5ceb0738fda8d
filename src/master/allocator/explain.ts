/**
 * "Why did framework X get no offer?": classifies every agent for each of
 * the framework's roles, the way the next cycle would see it, and sums the
 * reasons up in one sentence ("0/3 agents offerable for role web: 2
 * filtered, 1 nothing left"). Costs one pass over the agents; meant for
 * operators and debugging endpoints, not for the allocation path.
 */

import type { AgentState } from "./agent-state.js";
import type { AllocatorCore } from "./allocator-core.js";
import type { FrameworkState } from "./framework-state.js";
import {
  limitsBind,
  limitsOnPath,
  meetsMinimum,
  type QuotaContext,
  quotaContext,
  shapeOffer,
} from "./offer-shaping.js";
import { isEmptyQuantities } from "./quantities.js";
import { profileOf, stripIncapable } from "./resource-math.js";
import type { AllocationReason, Explanation } from "./types.js";
import { REASON_TEXT } from "./types.js";

const SHORT: Partial<Record<AllocationReason, string>> = {
  AGENT_NOT_WHITELISTED: "not whitelisted",
  AGENT_DEACTIVATED: "deactivated",
  NO_AVAILABLE_RESOURCES: "nothing left",
  NOT_ALLOCATABLE_TO_ROLE: "reserved for other roles",
  BELOW_MIN_ALLOCATABLE: "below minimum allocatable",
  GPU_CAPABILITY_MISSING: "GPU agent",
  REMOTE_REGION: "remote region",
  AGENT_NOT_MULTI_ROLE: "agent not MULTI_ROLE",
  AGENT_NOT_HIERARCHICAL_ROLE: "agent not HIERARCHICAL_ROLE",
  EXCLUDED_BY_CONSTRAINTS: "excluded by offer constraints",
  FILTERED: "filtered",
  QUOTA_LIMIT_REACHED: "quota limit reached",
  HELD_FOR_QUOTA_HEADROOM: "held for quota headroom",
  OFFERABLE: "offerable",
};

export function explainFramework(core: AllocatorCore, frameworkId: string): Explanation {
  const fw = core.frameworks.get(frameworkId);
  const blocked = (reason: AllocationReason): Explanation => ({
    frameworkId,
    blocked: reason,
    roles: [],
    summary: `framework ${frameworkId}: ${REASON_TEXT[reason]}`,
  });
  if (fw === undefined) return blocked("FRAMEWORK_UNKNOWN");
  if (core.paused) return blocked("ALLOCATION_PAUSED");
  if (!fw.active) return blocked("FRAMEWORK_INACTIVE");
  if (fw.roles.size === 0) return blocked("NO_ROLES");
  if (core.agents.size === 0) return blocked("NO_AGENTS");

  const quota = core.roleTree.withQuota().size > 0 ? quotaContext(core) : undefined;
  const roles: Explanation["roles"] = [];
  const sentences: string[] = [];
  for (const role of [...fw.roles].sort()) {
    let roleBlocked: AllocationReason | undefined;
    if (fw.suppressed.has(role)) roleBlocked = "ROLE_SUPPRESSED";
    else if (!core.isRoleWhitelisted(role)) roleBlocked = "ROLE_NOT_WHITELISTED";
    if (roleBlocked !== undefined) {
      roles.push({ role, blocked: roleBlocked, agents: {} });
      sentences.push(`role ${role}: ${REASON_TEXT[roleBlocked]}`);
      continue;
    }
    const agents: Partial<Record<AllocationReason, number>> = {};
    for (const agent of core.agents.values()) {
      const reason = classifyAgent(core, quota, agent, role, fw);
      agents[reason] = (agents[reason] ?? 0) + 1;
    }
    roles.push({ role, agents });
    const offerable = agents.OFFERABLE ?? 0;
    const rest = Object.entries(agents)
      .filter(([r]) => r !== "OFFERABLE")
      .sort((a, b) => (b[1] as number) - (a[1] as number))
      .map(([r, n]) => `${n} ${SHORT[r as AllocationReason] ?? r}`);
    sentences.push(
      `${offerable}/${core.agents.size} agents offerable for role ${role}` +
        (rest.length > 0 ? `: ${rest.join(", ")}` : ""),
    );
  }
  return { frameworkId, roles, summary: `framework ${frameworkId}: ${sentences.join("; ")}` };
}

/**
 * Why `framework` would or would not get resources of `agent` for `role`
 * in the fair-share stage, were a cycle to run now (for `explain`).
 */
export function classifyAgent(
  core: AllocatorCore,
  quota: QuotaContext | undefined,
  agent: AgentState,
  role: string,
  framework: FrameworkState,
): AllocationReason {
  if (!core.isAgentWhitelisted(agent)) return "AGENT_NOT_WHITELISTED";
  if (!agent.activated) return "AGENT_DEACTIVATED";
  if (agent.profile().empty) return "NO_AVAILABLE_RESOURCES";
  if (role.includes("/") && !agent.caps.hierarchicalRole) return "AGENT_NOT_HIERARCHICAL_ROLE";
  if (framework.caps.multiRole && !agent.caps.multiRole) return "AGENT_NOT_MULTI_ROLE";
  if (core.filterGpuResources && agent.totalHasGpu && !framework.caps.gpuResources) {
    return "GPU_CAPABILITY_MISSING";
  }
  if (core.isRemote(agent) && !framework.caps.regionAware) return "REMOTE_REGION";
  if (framework.constraints?.isAgentExcluded(role, agent.info) === true) {
    return "EXCLUDED_BY_CONSTRAINTS";
  }
  const base = agent.allocatableTo(role);
  if (base.isEmpty()) return "NOT_ALLOCATABLE_TO_ROLE";
  const baseProfile = base === agent.available ? agent.profile() : profileOf(core.names, base);
  const strip = baseProfile.hasShared || baseProfile.hasRevocable || baseProfile.hasRefined;
  const stripped = strip ? stripIncapable(base, framework.caps) : base;
  if (stripped.isEmpty()) return "NOT_ALLOCATABLE_TO_ROLE";
  const pick = shapeOffer(core, quota, role, 2, base, baseProfile, strip, framework);
  if (pick === undefined || !meetsMinimum(core, pick.profile, role, framework)) {
    const unshaped = profileOf(core.names, stripped);
    if (!meetsMinimum(core, unshaped, role, framework)) return "BELOW_MIN_ALLOCATABLE";
    const limited = limitsOnPath(core, role).length > 0;
    const q = quota;
    const limitedOnly =
      limited &&
      (q === undefined ||
        isEmptyQuantities(q.requiredHeadroom) ||
        limitsBind(core, role, stripped));
    return limitedOnly ? "QUOTA_LIMIT_REACHED" : "HELD_FOR_QUOTA_HEADROOM";
  }
  const version = pick.resources === agent.available ? agent.version : -1;
  if (
    core.filters.isFiltered(
      agent.filters,
      core.roleIndex(role),
      framework.index,
      pick.resources,
      version,
    )
  ) {
    return "FILTERED";
  }
  return "OFFERABLE";
}
