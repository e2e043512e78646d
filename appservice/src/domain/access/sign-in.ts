import { createHash, createHmac, randomBytes } from "node:crypto";
import type { AuditRecorder } from "../audit/audit-trail.js";
import type { Clock } from "../clock.js";
import { HandoverError } from "../errors.js";
import type { Standing } from "./account-standing.js";
import type { RoleGrant } from "./group-roles.js";
import type { Role } from "./roles.js";
import type { Session } from "./session.js";
import { accountKey, SignInLimited, type SignInLimiter } from "./sign-in-limits.js";

/** Proves a person's identity with the trust's homeserver: their own Matrix account. */
export interface HomeserverAuthenticator {
  /**
   * Resolves to the Matrix user ID, or null when the homeserver refused the credentials. The
   * client's address goes with the request, so the homeserver's own limits count that client
   * rather than Handover. Throws SignInLimited when the homeserver is limiting that client.
   */
  verifyPassword(username: string, password: string, clientAddress: string): Promise<string | null>;
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
  /** Sessions that have not expired, oldest first. */
  live(now: Date): Promise<StoredSession[]>;
  /** Users with a session that has not expired. */
  liveUsers(now: Date): Promise<string[]>;
  /** Ends every session of a user; returns how many there were. */
  deleteForUser(userId: string): Promise<number>;
}

export interface SignInDeps {
  authenticator: HomeserverAuthenticator;
  sessions: SessionStore;
  audit: AuditRecorder;
  clock: Clock;
  /** Looked up on every request, so removing someone's role from the config takes effect at once. */
  roleOf(userId: string): Role | undefined;
  /**
   * The role with where it comes from, directory groups included (PortalRoles); looked up on
   * every request. Unset: `roleOf`, from the config.
   */
  grantOf?(userId: string): Promise<RoleGrant | undefined>;
  sessionTtlMs: number;
  limiter: SignInLimiter;
  /** The homeserver's name: "alice", "@alice:<serverName>" and "@Alice:<serverName>" are one account. */
  serverName: string;
  /** Whether a signed-in person's account still stands (not a leaver, locked or deactivated); unset: not checked. */
  standing?: { check(userId: string, options?: { remember?: boolean }): Promise<Standing> };
  /** Keys the hash that stands for an unknown account name in the audit trail; random per process unless given. */
  accountHashKey?: Buffer;
}

export interface SignedIn {
  token: string;
  session: Session;
}

function hashToken(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

function toSession(stored: StoredSession, grant: RoleGrant): Session {
  return { userId: stored.userId, role: grant.role, roleFrom: grant.from, expiresAt: stored.expiresAt.toISOString() };
}

export class PortalSignIn {
  private readonly accountHashKey: Buffer;

  constructor(private readonly deps: SignInDeps) {
    this.accountHashKey = deps.accountHashKey ?? randomBytes(32);
  }

  async signIn(username: string, password: string, clientAddress: string): Promise<SignedIn> {
    const account = accountKey(username, this.deps.serverName);
    const attempt = this.deps.limiter.begin(account, clientAddress);
    let userId: string | null;
    try {
      userId = await this.deps.authenticator.verifyPassword(username, password, clientAddress);
    } catch (error) {
      // The homeserver limiting this client counts as a failure; an unreachable one does not.
      if (!(error instanceof SignInLimited)) attempt.release();
      throw error;
    }
    if (userId === null) {
      await this.deps.audit.record({ actor: "anonymous", action: "session.sign_in_failed", ...this.failedTarget(account, clientAddress) });
      throw new HandoverError("SIGN_IN_FAILED", "The homeserver did not accept that user ID and password.");
    }
    attempt.succeeded();
    return this.openSession(userId, "password");
  }

  /** A session for someone the homeserver has just vouched for, if they have a role. */
  async openSession(userId: string, method: "password" | "sso"): Promise<SignedIn> {
    const grant = await this.grantOf(userId);
    if (grant === undefined) {
      await this.deps.audit.record({ actor: userId, action: "session.refused", target: userId, details: { reason: "no role", method } });
      throw new HandoverError("NO_ROLE", `${userId} has no role in Handover. Ask your trust's Handover administrator for access.`);
    }
    // The homeserver may still vouch for someone who has left (SSO at the identity provider works
    // until directory sync deactivates them): no session is opened, rather than one that dies on
    // its first request after a "signed in" in the audit trail.
    const standing = await this.deps.standing?.check(userId, { remember: false });
    if (standing !== undefined && !standing.active) {
      await this.deps.audit.record({ actor: userId, action: "session.refused", target: userId, details: { reason: standing.reason, method } });
      throw new HandoverError("SIGN_IN_FAILED", `${userId} can no longer sign in to Handover (${standing.reason}).`);
    }
    const { role } = grant;
    const now = this.deps.clock.now();
    const token = randomBytes(32).toString("base64url");
    const stored: StoredSession = { tokenHash: hashToken(token), userId, role, createdAt: now, expiresAt: new Date(now.getTime() + this.deps.sessionTtlMs) };
    await this.deps.sessions.create(stored);
    const details = {
      role,
      ...(method === "sso" ? { method } : {}),
      ...(grant.from.kind === "group" ? { group: grant.from.group, source: grant.from.source } : {}),
    };
    await this.deps.audit.record({ actor: userId, action: "session.sign_in", target: userId, details });
    return { token, session: toSession(stored, grant) };
  }

  private grantOf(userId: string): Promise<RoleGrant | undefined> {
    if (this.deps.grantOf) return this.deps.grantOf(userId);
    const role = this.deps.roleOf(userId);
    return Promise.resolve(role === undefined ? undefined : { role, from: { kind: "config" } });
  }

  /**
   * What the audit trail keeps of a failed sign-in. A name that is one of Handover's own people
   * (in access.roles) is recorded: someone is guessing at an admin's password. Any other name
   * may be a password typed into the user box, so only a keyed hash of it is kept: enough to
   * see the same name tried again, useless for reading it back.
   */
  private failedTarget(account: string, clientAddress: string): { target: string; details: Record<string, unknown> } {
    const userId = `@${account}:${this.deps.serverName}`;
    if (this.deps.roleOf(userId) !== undefined) return { target: userId, details: { clientAddress } };
    const accountHash = createHmac("sha256", this.accountHashKey).update(account).digest("hex").slice(0, 16);
    return { target: "unknown account", details: { accountHash, clientAddress } };
  }

  /** The session for a cookie token, with the role as configured now; null when absent, expired or revoked. */
  async resolve(token: string): Promise<Session | null> {
    const stored = await this.deps.sessions.find(hashToken(token));
    if (stored === null) return null;
    if (stored.expiresAt.getTime() <= this.deps.clock.now().getTime()) {
      await this.deps.sessions.delete(stored.tokenHash);
      return null;
    }
    const grant = await this.grantOf(stored.userId);
    if (grant === undefined) return null;
    if (!(await this.stillStands(stored.userId))) return null;
    return toSession(stored, grant);
  }

  /** Live sessions with each role as it stands now; sessions whose person has no role any more are left out. */
  async liveSessions(): Promise<{ session: Session; signedInAt: Date }[]> {
    const live: { session: Session; signedInAt: Date }[] = [];
    for (const stored of await this.deps.sessions.live(this.deps.clock.now())) {
      const grant = await this.grantOf(stored.userId);
      if (grant !== undefined) live.push({ session: toSession(stored, grant), signedInAt: stored.createdAt });
    }
    return live;
  }

  /**
   * Ends the sessions of everyone whose account no longer stands, without waiting for them to
   * make a request; run every 30 s, so a session is gone within a minute of the account.
   */
  async endSessionsOfClosedAccounts(): Promise<number> {
    let ended = 0;
    for (const userId of await this.deps.sessions.liveUsers(this.deps.clock.now())) {
      if (!(await this.stillStands(userId))) ended++;
    }
    return ended;
  }

  /** false, with the person's sessions ended and audited, when their account no longer stands. */
  private async stillStands(userId: string): Promise<boolean> {
    const standing = await this.deps.standing?.check(userId);
    if (standing === undefined || standing.active) return true;
    const sessions = await this.deps.sessions.deleteForUser(userId);
    if (sessions > 0) {
      await this.deps.audit.record({ actor: "handover", action: "session.ended", target: userId, details: { reason: standing.reason, sessions } });
    }
    return false;
  }

  async signOut(token: string, userId: string): Promise<void> {
    await this.deps.sessions.delete(hashToken(token));
    await this.deps.audit.record({ actor: userId, action: "session.sign_out", target: userId });
  }
}
