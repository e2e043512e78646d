import { ROLES, type Role, type RoleFrom } from "./roles.js";

/** Active people as directory sync's sources report them now, by Matrix user ID. */
export interface DirectoryGroupMemberships {
  /** Effective group names (nested membership resolved, lower case); throws when the directory cannot answer. */
  membershipsOf(userId: string): Promise<{ groups: ReadonlySet<string>; source: string } | null>;
}

export interface RoleGrant {
  role: Role;
  from: RoleFrom;
}

/**
 * A person's portal role: from `access.roles` in the config, or else from a directory group in
 * `access.roleGroups` they are in now. Asked on every request, so someone removed from the group
 * loses the role on their next request after the directory says so. Where several groups give
 * roles, the strongest (admin, then ig-lead, then auditor) counts; a role in the config wins over
 * any group, as the trust wrote it down for that person.
 */
export class PortalRoles {
  private readonly roleGroups: [string, Role, string][];

  constructor(
    private readonly deps: {
      configured(userId: string): Role | undefined;
      /** Group name (any case) -> role. */
      roleGroups: Readonly<Record<string, Role>>;
      directory: DirectoryGroupMemberships | null;
      /** The directory could not answer: group roles count as none until it can. */
      directoryFailed?(error: unknown): void;
    },
  ) {
    this.roleGroups = Object.entries(deps.roleGroups).map(([group, role]) => [group.toLowerCase(), role, group]);
  }

  async roleOf(userId: string): Promise<RoleGrant | undefined> {
    const configured = this.deps.configured(userId);
    if (configured !== undefined) return { role: configured, from: { kind: "config" } };
    if (this.deps.directory === null || this.roleGroups.length === 0) return undefined;
    let person: Awaited<ReturnType<DirectoryGroupMemberships["membershipsOf"]>>;
    try {
      person = await this.deps.directory.membershipsOf(userId);
    } catch (error) {
      // A role is not given on an answer the directory could not give.
      this.deps.directoryFailed?.(error);
      return undefined;
    }
    if (person === null) return undefined;
    let best: RoleGrant | undefined;
    for (const [key, role, group] of this.roleGroups) {
      if (!person.groups.has(key)) continue;
      if (best === undefined || ROLES.indexOf(role) < ROLES.indexOf(best.role)) best = { role, from: { kind: "group", group, source: person.source } };
    }
    return best;
  }
}
