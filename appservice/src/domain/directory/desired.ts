import type { IdentityTemplate } from "./identity.js";
import { attributeOf, type DirectoryGroup, type DirectorySnapshot, type JoinMode, type SyncRule } from "./model.js";

/** Why someone should be in a room: the rule and the source that put them there. */
export interface MembershipReason {
  rule: string;
  source: string;
}

export interface DesiredMember {
  level: number;
  joinMode: JoinMode;
  reasons: MembershipReason[];
}

export interface DirectoryIdentity {
  userId: string;
  source: string;
  personId: string;
  /** Effective group names (nested membership resolved), lower case. */
  groups: Set<string>;
  attributes: Record<string, string>;
}

export interface DesiredState {
  /** Managed room -> user -> desired membership. Every room a rule names has an entry. */
  rooms: Map<string, Map<string, DesiredMember>>;
  /** Active people by Matrix user ID. */
  people: Map<string, DirectoryIdentity>;
  /** Users every source that knows them reports disabled. */
  disabled: Set<string>;
  /** People whose identity template gave no valid user ID. */
  unmapped: number;
}

/** Group id -> names of the group and every group it sits inside, lower case; cycles are cut. */
export function groupClosure(groups: readonly DirectoryGroup[]): Map<string, Set<string>> {
  const byId = new Map(groups.map((group) => [group.id, group]));
  const parents = new Map<string, string[]>();
  for (const group of groups) {
    for (const child of group.subgroupIds) {
      const list = parents.get(child) ?? [];
      list.push(group.id);
      parents.set(child, list);
    }
  }
  const closure = new Map<string, Set<string>>();
  for (const group of groups) {
    const names = new Set<string>();
    const seen = new Set<string>([group.id]);
    const queue = [group.id];
    while (queue.length > 0) {
      const id = queue.pop() as string;
      const found = byId.get(id);
      if (found) names.add(found.name.toLowerCase());
      for (const parent of parents.get(id) ?? []) {
        if (!seen.has(parent)) {
          seen.add(parent);
          queue.push(parent);
        }
      }
    }
    closure.set(group.id, names);
  }
  return closure;
}

function matchesPower(identity: DirectoryIdentity, rule: SyncRule["power"][number]): boolean {
  if (rule.group !== undefined && !identity.groups.has(rule.group.toLowerCase())) return false;
  if (rule.attribute !== undefined) {
    const value = attributeOf(identity.attributes, rule.attribute);
    if (value === undefined || value.toLowerCase() !== (rule.equals ?? "").toLowerCase()) return false;
  }
  return rule.group !== undefined || rule.attribute !== undefined;
}

/**
 * Who should be in which managed room at what power level, from every source's snapshot and
 * the rules. People in several sources are merged by user ID: groups and attributes unite, and
 * they count as disabled only when every source says so.
 */
export function desiredState(snapshots: readonly DirectorySnapshot[], rules: readonly SyncRule[], identity: IdentityTemplate): DesiredState {
  const people = new Map<string, DirectoryIdentity>();
  const disabledIn = new Map<string, boolean>();
  let unmapped = 0;
  for (const snapshot of snapshots) {
    const closure = groupClosure(snapshot.groups);
    for (const person of snapshot.people) {
      const userId = identity.userId(person);
      if (userId === null) {
        unmapped++;
        continue;
      }
      disabledIn.set(userId, (disabledIn.get(userId) ?? true) && person.disabled);
      if (person.disabled) continue;
      const groups = new Set<string>();
      for (const groupId of person.groupIds) for (const name of closure.get(groupId) ?? []) groups.add(name);
      const existing = people.get(userId);
      if (existing) {
        for (const name of groups) existing.groups.add(name);
        existing.attributes = { ...person.attributes, ...existing.attributes };
      } else {
        people.set(userId, { userId, source: snapshot.source, personId: person.id, groups, attributes: person.attributes });
      }
    }
  }
  const disabled = new Set([...disabledIn].filter(([, isDisabled]) => isDisabled).map(([userId]) => userId));

  const byGroup = new Map<string, DirectoryIdentity[]>();
  for (const person of people.values()) {
    for (const name of person.groups) {
      const list = byGroup.get(name) ?? [];
      list.push(person);
      byGroup.set(name, list);
    }
  }

  const rooms = new Map<string, Map<string, DesiredMember>>();
  for (const rule of rules) {
    if (!rule.enabled) continue;
    for (const roomId of rule.rooms) if (!rooms.has(roomId)) rooms.set(roomId, new Map());
    const candidates = rule.group !== null ? (byGroup.get(rule.group.toLowerCase()) ?? []) : rule.attribute !== null ? people.values() : [];
    for (const person of candidates) {
      if (rule.attribute !== null) {
        const value = attributeOf(person.attributes, rule.attribute.name);
        if (value === undefined || value.toLowerCase() !== rule.attribute.equals.toLowerCase()) continue;
      }
      let level = 0;
      for (const power of rule.power) if (matchesPower(person, power)) level = Math.max(level, power.level);
      for (const roomId of rule.rooms) {
        const members = rooms.get(roomId) as Map<string, DesiredMember>;
        const current = members.get(person.userId);
        const reason = { rule: rule.id, source: person.source };
        if (current) {
          current.level = Math.max(current.level, level);
          if (rule.joinMode === "force-join") current.joinMode = "force-join";
          current.reasons.push(reason);
        } else {
          members.set(person.userId, { level, joinMode: rule.joinMode, reasons: [reason] });
        }
      }
    }
  }
  return { rooms, people, disabled, unmapped };
}
