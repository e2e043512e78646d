import { describe, expect, it } from "vitest";
import { type DirectoryGroupMemberships, PortalRoles } from "./group-roles.js";
import type { Role } from "./roles.js";

const BOB = "@bob:trust-a.test";

function setup(options: { configured?: Record<string, Role>; groups?: Record<string, string[]>; failing?: boolean } = {}) {
  const groups = new Map(Object.entries(options.groups ?? {}).map(([userId, names]) => [userId, new Set(names)]));
  const failures: unknown[] = [];
  const directory: DirectoryGroupMemberships = {
    membershipsOf: async (userId) => {
      if (options.failing) throw new Error("LDAP server down");
      const names = groups.get(userId);
      return names ? { groups: names, source: "entra" } : null;
    },
  };
  const roles = new PortalRoles({
    configured: (userId) => options.configured?.[userId],
    roleGroups: { "Information Governance": "ig-lead", "Handover Admins": "admin", Auditors: "auditor" },
    directory,
    directoryFailed: (error) => failures.push(error),
  });
  return { roles, groups, failures };
}

describe("portal roles from directory groups", () => {
  it("gives the role of a group the person is in, saying which group and source", async () => {
    const { roles } = setup({ groups: { [BOB]: ["information governance", "all staff"] } });
    expect(await roles.roleOf(BOB)).toEqual({ role: "ig-lead", from: { kind: "group", group: "Information Governance", source: "entra" } });
  });

  it("takes the role away as soon as the directory no longer has the person in the group", async () => {
    const { roles, groups } = setup({ groups: { [BOB]: ["information governance"] } });
    expect((await roles.roleOf(BOB))?.role).toBe("ig-lead");
    groups.set(BOB, new Set(["all staff"]));
    expect(await roles.roleOf(BOB)).toBeUndefined();
    groups.delete(BOB);
    expect(await roles.roleOf(BOB)).toBeUndefined();
  });

  it("takes the strongest role of several groups, and a role in the config over any group", async () => {
    const { roles } = setup({ groups: { [BOB]: ["auditors", "handover admins", "information governance"] }, configured: { "@cat:trust-a.test": "auditor" } });
    expect((await roles.roleOf(BOB))?.role).toBe("admin");
    const both = setup({ groups: { [BOB]: ["handover admins"] }, configured: { [BOB]: "auditor" } });
    expect(await both.roles.roleOf(BOB)).toEqual({ role: "auditor", from: { kind: "config" } });
  });

  it("gives no group role while the directory cannot answer, and reports it; roles in the config still count", async () => {
    const { roles, failures } = setup({ failing: true, configured: { "@cat:trust-a.test": "admin" } });
    expect(await roles.roleOf(BOB)).toBeUndefined();
    expect(failures).toHaveLength(1);
    expect((await roles.roleOf("@cat:trust-a.test"))?.role).toBe("admin");
  });
});
