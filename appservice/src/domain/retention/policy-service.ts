import { randomUUID } from "node:crypto";
import type { AuditRecorder } from "../audit/audit-trail.js";
import type { Clock } from "../clock.js";
import { HandoverError } from "../errors.js";
import type { RoomStore } from "../rooms/room.js";
import { holdIsActive, type LegalHold, type PlanSettings, planRooms, type RoomPlan } from "./planner.js";
import { type DefaultPolicies, PolicyResolver, type PolicyRules, type PolicyScope, type RetentionPolicy } from "./policy.js";
import type { HoldStore, PolicyStore, RetentionFactsSource } from "./ports.js";

export interface PolicyDraft extends PolicyRules {
  name: string;
  scope: PolicyScope;
}

export interface PolicyServiceDeps {
  policies: PolicyStore;
  holds: HoldStore;
  facts: RetentionFactsSource;
  rooms: RoomStore;
  audit: AuditRecorder;
  clock: Clock;
  defaults: DefaultPolicies;
  settings: PlanSettings;
}

function rulesOf(policy: PolicyRules): PolicyRules {
  return {
    maxAgeMs: policy.maxAgeMs,
    deleteAfterFilingMs: policy.deleteAfterFilingMs,
    allowUnfiledDeletion: policy.allowUnfiledDeletion,
    minAgeMs: policy.minAgeMs,
    warnBeforeMs: policy.warnBeforeMs,
  };
}

/** Rules that contradict each other are refused with the field at fault, before anything changes. */
export function checkDraft(draft: PolicyDraft): void {
  const problems: { path: string; message: string }[] = [];
  if (draft.maxAgeMs === null && draft.deleteAfterFilingMs === null) {
    problems.push({ path: "maxAge", message: "Set a maximum age, a delete-after-filing delay, or both: otherwise the policy deletes nothing" });
  }
  if (draft.maxAgeMs !== null && draft.maxAgeMs < draft.minAgeMs)
    problems.push({ path: "minAge", message: "The minimum age cannot be longer than the maximum age" });
  if (draft.allowUnfiledDeletion && draft.maxAgeMs === null) {
    problems.push({ path: "allowUnfiledDeletion", message: "Unfiled content can only be deleted at a maximum age: set one" });
  }
  if (problems.length > 0) throw new HandoverError("VALIDATION_FAILED", problems.map((problem) => problem.message).join("; "), problems);
}

/** Policies and legal holds: every change is checked, then audited with the person who made it. */
export class RetentionPolicyService {
  constructor(private readonly deps: PolicyServiceDeps) {}

  async list(): Promise<RetentionPolicy[]> {
    const stored = await this.deps.policies.list();
    const resolver = new PolicyResolver([], this.deps.defaults);
    const defaults = (["clinical", "operational"] as const).map((kind) => resolver.effective({ roomId: "", kind, spaceIds: [] }) as RetentionPolicy);
    return [...defaults, ...stored];
  }

  async create(draft: PolicyDraft, actor: string): Promise<RetentionPolicy> {
    checkDraft(draft);
    const policy: RetentionPolicy = { ...draft, id: randomUUID(), builtIn: false, updatedBy: actor, updatedAt: this.deps.clock.now() };
    const saved = await this.deps.policies.save(policy, actor);
    await this.deps.audit.record({
      actor,
      action: "retention.policy.created",
      target: saved.id,
      details: { name: saved.name, scope: saved.scope, rules: rulesOf(saved) },
    });
    return saved;
  }

  async update(id: string, draft: PolicyDraft, actor: string): Promise<RetentionPolicy> {
    const before = await this.existing(id);
    checkDraft(draft);
    const saved = await this.deps.policies.save({ ...before, ...draft, updatedBy: actor, updatedAt: this.deps.clock.now() }, actor);
    await this.deps.audit.record({
      actor,
      action: "retention.policy.updated",
      target: id,
      details: { name: saved.name, scope: saved.scope, before: { name: before.name, scope: before.scope, rules: rulesOf(before) }, rules: rulesOf(saved) },
    });
    return saved;
  }

  async remove(id: string, actor: string): Promise<void> {
    const before = await this.existing(id);
    await this.deps.policies.remove(id);
    await this.deps.audit.record({
      actor,
      action: "retention.policy.deleted",
      target: id,
      details: { name: before.name, scope: before.scope, rules: rulesOf(before) },
    });
  }

  /** The rooms whose effective policy would be this draft, and what it would do to them now. */
  async preview(draft: PolicyDraft, replacingId: string | null): Promise<RoomPlan[]> {
    checkDraft(draft);
    const now = this.deps.clock.now();
    const [facts, stored] = await Promise.all([this.deps.facts.roomFacts(now), this.deps.policies.list()]);
    const candidate: RetentionPolicy = { ...draft, id: replacingId ?? "preview", builtIn: false, updatedBy: "preview", updatedAt: now };
    const others = stored.filter((policy) => policy.id !== replacingId && !sameScope(policy.scope, draft.scope));
    const plans = planRooms(facts, new PolicyResolver([...others, candidate], this.deps.defaults), now, this.deps.settings);
    return plans.filter((plan) => plan.policy === candidate);
  }

  async holds(): Promise<LegalHold[]> {
    const now = this.deps.clock.now();
    return (await this.deps.holds.list()).filter((hold) => holdIsActive(hold, now));
  }

  async placeHold(roomId: string, reason: string, expiresAt: Date | null, actor: string): Promise<LegalHold> {
    const now = this.deps.clock.now();
    if (expiresAt && expiresAt.getTime() <= now.getTime()) {
      throw new HandoverError("VALIDATION_FAILED", "The hold's expiry must be in the future", [{ path: "expiresAt", message: "Must be in the future" }]);
    }
    const room = await this.deps.rooms.get(roomId);
    if (!room || room.botMembership === "leave") throw new HandoverError("NOT_FOUND", `Handover's bot is not in room ${roomId}`);
    const hold: LegalHold = { roomId, reason, setBy: actor, setAt: now, expiresAt };
    await this.deps.holds.put(hold);
    await this.deps.audit.record({ actor, action: "retention.hold.placed", target: roomId, details: { reason, expiresAt: expiresAt?.toISOString() ?? null } });
    return hold;
  }

  async liftHold(roomId: string, actor: string): Promise<void> {
    const lifted = await this.deps.holds.lift(roomId);
    if (!lifted) throw new HandoverError("NOT_FOUND", `Room ${roomId} has no legal hold`);
    await this.deps.audit.record({ actor, action: "retention.hold.lifted", target: roomId, details: { reason: lifted.reason, placedBy: lifted.setBy } });
  }

  private async existing(id: string): Promise<RetentionPolicy> {
    if (id.startsWith("default-")) {
      throw new HandoverError(
        "CONFLICT",
        "The default policies come from Handover's configuration (retention.defaults); add a policy for the room kind to override one",
      );
    }
    const policy = await this.deps.policies.get(id);
    if (!policy) throw new HandoverError("NOT_FOUND", `No retention policy ${id}`);
    return policy;
  }
}

export function sameScope(a: PolicyScope, b: PolicyScope): boolean {
  if (a.type !== b.type) return false;
  if (a.type === "room") return a.roomId === (b as typeof a).roomId;
  if (a.type === "space") return a.spaceId === (b as typeof a).spaceId;
  return a.kind === (b as typeof a).kind;
}
