import type { Role, RoleFrom } from "./roles.js";

/** A signed-in person as the portal sees them; the role is looked up again on every request. */
export interface Session {
  userId: string;
  role: Role;
  roleFrom: RoleFrom;
  /** ISO 8601. */
  expiresAt: string;
}
