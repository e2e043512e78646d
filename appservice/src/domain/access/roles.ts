/**
 * Who may do what in Handover: the three roles, ordered from most to least powerful (a person
 * in several role groups gets the first), and where a person's role comes from. Imports
 * nothing: the admin API's contract builds its schemas from these, and the portal bundles it.
 */
export const ROLES = ["admin", "ig-lead", "auditor"] as const;
export type Role = (typeof ROLES)[number];

/** Where a role comes from now: `access.roles` in the config, or a directory group in `access.roleGroups`. */
export type RoleFrom = { kind: "config" } | { kind: "group"; group: string; source: string };
