import { createHash, randomBytes } from "node:crypto";
import type { Role, Session } from "../../http/contract.js";
import type { AuditRecorder } from "../audit/audit-trail.js";
import type { Clock } from "../clock.js";
import { HandoverError } from "../errors.js";

/** Proves a person's identity with the trust's homeserver: their own Matrix account. */
export interface HomeserverAuthenticator {
  /** Resolves to the Matrix user ID, or null when the homeserver refused the credentials. */
  verifyPassword(username: string, password: string): Promise<string | null>;
}

export interface StoredSession {
  tokenHash: string;
  userId: string;
  role: Role;
  createdAt: Date;
  expiresAt: Date;
}

export interface SessionStore {
  create(session: StoredSession): Promise<void>;
  find(tokenHash: string): Promise<StoredSession | null>;
  delete(tokenHash: string): Promise<void>;
  deleteExpired(now: Date): Promise<number>;
}

export interface SignInDeps {
  authenticator: HomeserverAuthenticator;
  sessions: SessionStore;
  audit: AuditRecorder;
  clock: Clock;
  /** Looked up on every request, so removing someone's role from the config takes effect at once. */
  roleOf(userId: string): Role | undefined;
  sessionTtlMs: number;
}

export interface SignedIn {
  token: string;
  session: Session;
}

function hashToken(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

function toSession(stored: StoredSession): Session {
  return { userId: stored.userId, role: stored.role, expiresAt: stored.expiresAt.toISOString() };
}

export class PortalSignIn {
  constructor(private readonly deps: SignInDeps) {}

  async signIn(username: string, password: string): Promise<SignedIn> {
    const userId = await this.deps.authenticator.verifyPassword(username, password);
    if (userId === null) {
      await this.deps.audit.record({ actor: "anonymous", action: "session.sign_in_failed", target: username.slice(0, 255) });
      throw new HandoverError("SIGN_IN_FAILED", "The homeserver did not accept that user ID and password.");
    }
    const role = this.deps.roleOf(userId);
    if (role === undefined) {
      await this.deps.audit.record({ actor: userId, action: "session.refused", target: userId, details: { reason: "no role" } });
      throw new HandoverError("NO_ROLE", `${userId} has no role in Handover. Ask your trust's Handover administrator for access.`);
    }
    const now = this.deps.clock.now();
    const token = randomBytes(32).toString("base64url");
    const stored: StoredSession = { tokenHash: hashToken(token), userId, role, createdAt: now, expiresAt: new Date(now.getTime() + this.deps.sessionTtlMs) };
    await this.deps.sessions.create(stored);
    await this.deps.audit.record({ actor: userId, action: "session.sign_in", target: userId, details: { role } });
    return { token, session: toSession(stored) };
  }

  /** The session for a cookie token, with the role as configured now; null when absent, expired or revoked. */
  async resolve(token: string): Promise<Session | null> {
    const stored = await this.deps.sessions.find(hashToken(token));
    if (stored === null) return null;
    if (stored.expiresAt.getTime() <= this.deps.clock.now().getTime()) {
      await this.deps.sessions.delete(stored.tokenHash);
      return null;
    }
    const role = this.deps.roleOf(stored.userId);
    if (role === undefined) return null;
    return toSession({ ...stored, role });
  }

  async signOut(token: string, userId: string): Promise<void> {
    await this.deps.sessions.delete(hashToken(token));
    await this.deps.audit.record({ actor: userId, action: "session.sign_out", target: userId });
  }
}
