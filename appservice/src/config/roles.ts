import type { HandoverConfig } from "./schema.js";

type Role = HandoverConfig["access"]["roles"][string];

/**
 * The portal role `access.roles` gives a user, if any. Own entries only: a key inherited from
 * Object.prototype (`constructor`, or an entry a prototype write left there) is nobody's role.
 */
export function configuredRole(access: Pick<HandoverConfig["access"], "roles">, userId: string): Role | undefined {
  return Object.hasOwn(access.roles, userId) ? access.roles[userId] : undefined;
}
