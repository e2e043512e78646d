import type { RoleFrom } from "@handover/appservice/contract";

/** Where a signed-in person's role comes from, in words for the Overview. */
export function describeRoleFrom(from: RoleFrom): string {
  return from.kind === "config"
    ? "Handover's configuration (access.roles)"
    : `the directory group "${from.group}" (directory source ${from.source}, access.roleGroups)`;
}
