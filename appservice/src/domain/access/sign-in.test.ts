import { describe, expect, it } from "vitest";
import { FakeClock, MemorySessions, RecordingAudit } from "../../testing/fakes.js";
import { HandoverError } from "../errors.js";
import type { Role } from "./roles.js";
import { PortalSignIn } from "./sign-in.js";
import { addressKey, SignInLimited, SignInLimiter } from "./sign-in-limits.js";

const WINDOW_MS = 15 * 60_000;

function setup(roles: Record<string, Role>) {
  const clock = new FakeClock();
  const audit = new RecordingAudit();
  const sessions = new MemorySessions();
  const asked: { user: string; clientAddress: string }[] = [];
  const signIn = new PortalSignIn({
    authenticator: {
      verifyPassword: async (user, password, clientAddress) => {
        asked.push({ user, clientAddress });
        return password === "right" ? (user.startsWith("@") ? user : `@${user}:trust-a.test`) : null;
      },
    },
    sessions,
    audit,
    clock,
    roleOf: (userId) => roles[userId],
    sessionTtlMs: 3_600_000,
    limiter: new SignInLimiter({ perAccount: 5, perAddress: 10, windowMs: WINDOW_MS }, clock),
    serverName: "trust-a.test",
  });
  return { clock, audit, sessions, signIn, asked };
}

const CLIENT = "198.51.100.7";

describe("portal sign-in", () => {
  it("lists who is signed in with each role as it stands now, leaving out anyone whose role is gone", async () => {
    const roles: Record<string, Role> = { "@alice:trust-a.test": "admin", "@bob:trust-a.test": "auditor", "@cat:trust-a.test": "ig-lead" };
    const { signIn, clock } = setup(roles);
    await signIn.signIn("alice", "right", CLIENT);
    clock.advance(60_000);
    await signIn.signIn("bob", "right", CLIENT);
    await signIn.signIn("cat", "right", CLIENT);
    delete roles["@cat:trust-a.test"];
    roles["@bob:trust-a.test"] = "ig-lead";
    const live = await signIn.liveSessions();
    expect(live.map(({ session, signedInAt }) => [session.userId, session.role, session.roleFrom, signedInAt.toISOString()])).toEqual([
      ["@alice:trust-a.test", "admin", { kind: "config" }, "2026-11-22T09:00:00.000Z"],
      ["@bob:trust-a.test", "ig-lead", { kind: "config" }, "2026-11-22T09:01:00.000Z"],
    ]);
  });

  it("signs in a person with a role and stores only a hash of the token", async () => {
    const { signIn, sessions, audit } = setup({ "@alice:trust-a.test": "admin" });
    const { token, session } = await signIn.signIn("alice", "right", CLIENT);
    expect(session).toEqual({ userId: "@alice:trust-a.test", role: "admin", roleFrom: { kind: "config" }, expiresAt: "2026-11-22T10:00:00.000Z" });
    expect([...sessions.rows.keys()]).not.toContain(token);
    expect(await signIn.resolve(token)).toEqual(session);
    expect(audit.actions()).toEqual(["session.sign_in"]);
  });

  it("refuses a wrong password and a person without a role, creating no session", async () => {
    const { signIn, sessions, audit } = setup({});
    await expect(signIn.signIn("alice", "wrong", CLIENT)).rejects.toMatchObject({ code: "SIGN_IN_FAILED" });
    await expect(signIn.signIn("bob", "right", CLIENT)).rejects.toMatchObject({ code: "NO_ROLE" });
    expect(sessions.rows.size).toBe(0);
    expect(audit.actions()).toEqual(["session.sign_in_failed", "session.refused"]);
  });

  it("expires sessions and drops them when the role is withdrawn", async () => {
    const roles: Record<string, Role> = { "@alice:trust-a.test": "auditor" };
    const { signIn, clock } = setup(roles);
    const { token } = await signIn.signIn("alice", "right", CLIENT);
    delete roles["@alice:trust-a.test"];
    expect(await signIn.resolve(token)).toBeNull();
    roles["@alice:trust-a.test"] = "ig-lead";
    expect((await signIn.resolve(token))?.role).toBe("ig-lead");
    clock.advance(3_600_000);
    expect(await signIn.resolve(token)).toBeNull();
  });

  it("keeps no raw unknown name in the audit row of a failed sign-in, only a keyed hash; a configured person's ID is kept", async () => {
    const { signIn, audit } = setup({ "@alice:trust-a.test": "admin" });
    const typedPassword = "Tr0ub4dor&3";
    await expect(signIn.signIn(typedPassword, "wrong", CLIENT)).rejects.toMatchObject({ code: "SIGN_IN_FAILED" });
    await expect(signIn.signIn(typedPassword, "wrong", CLIENT)).rejects.toMatchObject({ code: "SIGN_IN_FAILED" });
    await expect(signIn.signIn("@Alice:trust-a.test", "wrong", CLIENT)).rejects.toMatchObject({ code: "SIGN_IN_FAILED" });
    const [first, second, admin] = audit.events;
    expect(JSON.stringify(audit.events).toLowerCase()).not.toContain(typedPassword.toLowerCase());
    expect(first).toMatchObject({ action: "session.sign_in_failed", target: "unknown account", details: { clientAddress: CLIENT } });
    expect(first?.details?.accountHash).toMatch(/^[0-9a-f]{16}$/);
    expect(second?.details?.accountHash).toBe(first?.details?.accountHash);
    expect(admin).toMatchObject({ action: "session.sign_in_failed", target: "@alice:trust-a.test" });
  });

  it("refuses with Retry-After once an account has five failures, without asking the homeserver; other accounts still sign in", async () => {
    const { signIn, clock, asked } = setup({ "@alice:trust-a.test": "admin" });
    for (let i = 0; i < 5; i++) await expect(signIn.signIn("made-up", "wrong", `198.51.100.${i}`)).rejects.toMatchObject({ code: "SIGN_IN_FAILED" });
    clock.advance(60_000);
    const refused = await signIn.signIn("@MADE-UP:trust-a.test", "wrong", "203.0.113.1").catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(SignInLimited);
    expect(refused).toMatchObject({ code: "RATE_LIMITED", retryAfterSeconds: 14 * 60 });
    expect(asked).toHaveLength(5);
    await expect(signIn.signIn("alice", "right", "203.0.113.1")).resolves.toMatchObject({ session: { userId: "@alice:trust-a.test" } });
    clock.advance(14 * 60_000);
    await expect(signIn.signIn("made-up", "wrong", CLIENT)).rejects.toMatchObject({ code: "SIGN_IN_FAILED" });
  });

  it("someone guessing at an admin's name does not keep the admin out from where they signed in before", async () => {
    const { signIn, clock } = setup({ "@alice:trust-a.test": "admin" });
    await signIn.signIn("alice", "right", CLIENT);
    clock.advance(3_600_000);
    for (let i = 0; i < 5; i++) await expect(signIn.signIn("alice", "guess", `203.0.113.${i}`)).rejects.toMatchObject({ code: "SIGN_IN_FAILED" });
    await expect(signIn.signIn("alice", "right", "203.0.113.99")).rejects.toMatchObject({ code: "RATE_LIMITED" });
    await expect(signIn.signIn("alice", "right", CLIENT)).resolves.toMatchObject({ session: { role: "admin" } });
    // An address proven more than 30 days ago is held back like any other.
    clock.advance(31 * 24 * 3_600_000);
    for (let i = 0; i < 5; i++) await expect(signIn.signIn("alice", "guess", `203.0.113.${i}`)).rejects.toMatchObject({ code: "SIGN_IN_FAILED" });
    await expect(signIn.signIn("alice", "right", CLIENT)).rejects.toMatchObject({ code: "RATE_LIMITED" });
  });

  it("limits one client address across account names, and counts parallel guesses before any of them fails", async () => {
    const { signIn, asked } = setup({ "@alice:trust-a.test": "admin" });
    const results = await Promise.allSettled(Array.from({ length: 15 }, (_, i) => signIn.signIn(`name${i}`, "wrong", `::ffff:${CLIENT}`)));
    const codes = results.map((result) => (result.status === "rejected" ? (result.reason as HandoverError).code : "ok"));
    expect(codes.filter((code) => code === "SIGN_IN_FAILED")).toHaveLength(10);
    expect(codes.filter((code) => code === "RATE_LIMITED")).toHaveLength(5);
    expect(asked).toHaveLength(10);
    await expect(signIn.signIn("alice", "right", CLIENT)).rejects.toMatchObject({ code: "RATE_LIMITED" });
    await expect(signIn.signIn("alice", "right", "203.0.113.9")).resolves.toMatchObject({ session: { role: "admin" } });
  });

  it("counts an IPv6 client by its /64: the addresses one device or network rotates through are one client", async () => {
    const { signIn, asked } = setup({});
    // Each guess from another address of the same /64 (SLAAC privacy addresses, or anyone holding the prefix).
    const results = await Promise.allSettled(Array.from({ length: 15 }, (_, i) => signIn.signIn(`name${i}`, "wrong", `2001:db8:1:2::${(i + 1).toString(16)}`)));
    expect(results.filter((result) => result.status === "rejected" && (result.reason as HandoverError).code === "RATE_LIMITED")).toHaveLength(5);
    expect(asked).toHaveLength(10);
    await expect(signIn.signIn("other", "wrong", "2001:DB8:1:2:0:0:0:ff")).rejects.toMatchObject({ code: "RATE_LIMITED" });
    await expect(signIn.signIn("other", "wrong", "2001:db8:1:3::1")).rejects.toMatchObject({ code: "SIGN_IN_FAILED" });
    expect(["::1", "fe80::1%eth0", "::ffff:10.0.0.1", "2001:db8::", "1:2:3:4:5:6:1.2.3.4", "198.51.100.7"].map(addressKey)).toEqual([
      "0:0:0:0::/64",
      "fe80:0:0:0::/64",
      "10.0.0.1",
      "2001:db8:0:0::/64",
      "1:2:3:4::/64",
      "198.51.100.7",
    ]);
  });

  it("rejects unknown tokens", async () => {
    const { signIn } = setup({});
    expect(await signIn.resolve("nope")).toBeNull();
    expect(new HandoverError("NOT_FOUND", "x")).toBeInstanceOf(Error);
  });
});

describe("portal sign-in of an account that no longer stands", () => {
  it("refuses a single sign-on by a directory leaver the homeserver still vouches for, opening no session and auditing no sign-in", async () => {
    const clock = new FakeClock();
    const audit = new RecordingAudit();
    const sessions = new MemorySessions();
    const signIn = new PortalSignIn({
      authenticator: { verifyPassword: async () => null },
      sessions,
      audit,
      clock,
      roleOf: () => "admin",
      sessionTtlMs: 3_600_000,
      limiter: new SignInLimiter({ perAccount: 5, perAddress: 10, windowMs: WINDOW_MS }, clock),
      serverName: "trust-a.test",
      standing: { check: async () => ({ active: false, reason: "directory leaver" }) },
    });
    await expect(signIn.openSession("@leaver:trust-a.test", "sso")).rejects.toMatchObject({ code: "SIGN_IN_FAILED" });
    expect(sessions.rows.size).toBe(0);
    expect(audit.actions()).toEqual(["session.refused"]);
  });
});
