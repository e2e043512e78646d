import { describe, expect, it } from "vitest";
import type { Role } from "../../http/contract.js";
import { FakeClock, RecordingAudit } from "../../testing/fakes.js";
import { HandoverError } from "../errors.js";
import { PortalSignIn, type SessionStore, type StoredSession } from "./sign-in.js";

class MemorySessions implements SessionStore {
  readonly rows = new Map<string, StoredSession>();
  async create(session: StoredSession) {
    this.rows.set(session.tokenHash, session);
  }
  async find(hash: string) {
    return this.rows.get(hash) ?? null;
  }
  async delete(hash: string) {
    this.rows.delete(hash);
  }
  async deleteExpired() {
    return 0;
  }
}

function setup(roles: Record<string, Role>) {
  const clock = new FakeClock();
  const audit = new RecordingAudit();
  const sessions = new MemorySessions();
  const signIn = new PortalSignIn({
    authenticator: { verifyPassword: async (user, password) => (password === "right" ? (user.startsWith("@") ? user : `@${user}:trust-a.test`) : null) },
    sessions,
    audit,
    clock,
    roleOf: (userId) => roles[userId],
    sessionTtlMs: 3_600_000,
  });
  return { clock, audit, sessions, signIn };
}

describe("portal sign-in", () => {
  it("signs in a person with a role and stores only a hash of the token", async () => {
    const { signIn, sessions, audit } = setup({ "@alice:trust-a.test": "admin" });
    const { token, session } = await signIn.signIn("alice", "right");
    expect(session).toEqual({ userId: "@alice:trust-a.test", role: "admin", expiresAt: "2026-11-22T10:00:00.000Z" });
    expect([...sessions.rows.keys()]).not.toContain(token);
    expect(await signIn.resolve(token)).toEqual(session);
    expect(audit.actions()).toEqual(["session.sign_in"]);
  });

  it("refuses a wrong password and a person without a role, creating no session", async () => {
    const { signIn, sessions, audit } = setup({});
    await expect(signIn.signIn("alice", "wrong")).rejects.toMatchObject({ code: "SIGN_IN_FAILED" });
    await expect(signIn.signIn("bob", "right")).rejects.toMatchObject({ code: "NO_ROLE" });
    expect(sessions.rows.size).toBe(0);
    expect(audit.actions()).toEqual(["session.sign_in_failed", "session.refused"]);
  });

  it("expires sessions and drops them when the role is withdrawn", async () => {
    const roles: Record<string, Role> = { "@alice:trust-a.test": "auditor" };
    const { signIn, clock } = setup(roles);
    const { token } = await signIn.signIn("alice", "right");
    delete roles["@alice:trust-a.test"];
    expect(await signIn.resolve(token)).toBeNull();
    roles["@alice:trust-a.test"] = "ig-lead";
    expect((await signIn.resolve(token))?.role).toBe("ig-lead");
    clock.advance(3_600_000);
    expect(await signIn.resolve(token)).toBeNull();
  });

  it("rejects unknown tokens", async () => {
    const { signIn } = setup({});
    expect(await signIn.resolve("nope")).toBeNull();
    expect(new HandoverError("NOT_FOUND", "x")).toBeInstanceOf(Error);
  });
});
