import { describe, expect, it } from "vitest";
import { FakeClock, MemorySessions, RecordingAudit } from "../../testing/fakes.js";
import { AccountStanding, type HomeserverAccountState } from "./account-standing.js";
import { PortalSignIn } from "./sign-in.js";
import { SignInLimiter } from "./sign-in-limits.js";

const ALICE = "@alice:trust-a.test";
const RECHECK_MS = 30_000;

function setup() {
  const clock = new FakeClock();
  const audit = new RecordingAudit();
  const sessions = new MemorySessions();
  const states = new Map<string, HomeserverAccountState>([[ALICE, "active"]]);
  const left = new Set<string>();
  let reachable = true;
  let asked = 0;
  const standing = new AccountStanding({
    homeserver: {
      accountState: async (userId) => {
        asked++;
        if (!reachable) throw new Error("connection refused");
        return states.get(userId) ?? "missing";
      },
    },
    leavers: { hasLeft: async (userId) => left.has(userId) },
    clock,
    recheckMs: RECHECK_MS,
  });
  const signIn = new PortalSignIn({
    authenticator: { verifyPassword: async (user) => user },
    sessions,
    audit,
    clock,
    roleOf: () => "admin",
    sessionTtlMs: 8 * 3_600_000,
    limiter: new SignInLimiter({ perAccount: 5, perAddress: 10, windowMs: 60_000 }, clock),
    serverName: "trust-a.test",
    standing,
  });
  return {
    clock,
    audit,
    sessions,
    signIn,
    states,
    left,
    asked: () => asked,
    setReachable: (value: boolean) => {
      reachable = value;
    },
  };
}

describe("sessions end with the account", () => {
  for (const [state, reason] of [
    ["locked", "locked"],
    ["deactivated", "deactivated"],
    ["missing", "no account"],
  ] as const) {
    it(`ends the session of an account ${state} in the homeserver within the recheck time, long before sessionTtl`, async () => {
      const { signIn, states, clock, sessions, audit } = setup();
      const { token } = await signIn.signIn(ALICE, "pw", "198.51.100.7");
      expect(await signIn.resolve(token)).not.toBeNull();
      states.set(ALICE, state);
      clock.advance(RECHECK_MS);
      expect(await signIn.resolve(token)).toBeNull();
      expect(sessions.rows.size).toBe(0);
      expect(audit.events.at(-1)).toMatchObject({ action: "session.ended", target: ALICE, details: { reason, sessions: 1 } });
    });
  }

  it("ends a directory leaver's session on their next request, without waiting for the recheck", async () => {
    const { signIn, left } = setup();
    const { token } = await signIn.signIn(ALICE, "pw", "198.51.100.7");
    expect(await signIn.resolve(token)).not.toBeNull();
    left.add(ALICE);
    expect(await signIn.resolve(token)).toBeNull();
  });

  it("asks the homeserver at most once per recheck time for each person", async () => {
    const { signIn, asked, clock } = setup();
    const { token } = await signIn.signIn(ALICE, "pw", "198.51.100.7");
    // Once at sign-in (an answer not kept), then once per recheck time.
    for (let i = 0; i < 5; i++) await signIn.resolve(token);
    expect(asked()).toBe(2);
    clock.advance(RECHECK_MS);
    await signIn.resolve(token);
    expect(asked()).toBe(3);
  });

  it("keeps the last answer while the homeserver cannot be asked: the portal stays usable, a locked account stays out", async () => {
    const { signIn, states, clock, setReachable } = setup();
    const { token } = await signIn.signIn(ALICE, "pw", "198.51.100.7");
    expect(await signIn.resolve(token)).not.toBeNull();
    setReachable(false);
    clock.advance(RECHECK_MS);
    expect(await signIn.resolve(token)).not.toBeNull();

    setReachable(true);
    states.set(ALICE, "locked");
    clock.advance(RECHECK_MS);
    await expect(signIn.signIn(ALICE, "pw", "198.51.100.7")).rejects.toMatchObject({ code: "SIGN_IN_FAILED" });
    setReachable(false);
    clock.advance(RECHECK_MS);
    await expect(signIn.signIn(ALICE, "pw", "198.51.100.7")).rejects.toMatchObject({ code: "SIGN_IN_FAILED" });
  });

  it("ends the sessions of closed accounts without a request from them", async () => {
    const { signIn, states, clock, sessions } = setup();
    states.set("@bob:trust-a.test", "active");
    await signIn.signIn(ALICE, "pw", "198.51.100.7");
    await signIn.signIn("@bob:trust-a.test", "pw", "198.51.100.7");
    states.set(ALICE, "deactivated");
    clock.advance(RECHECK_MS);
    expect(await signIn.endSessionsOfClosedAccounts()).toBe(1);
    expect([...sessions.rows.values()].map((row) => row.userId)).toEqual(["@bob:trust-a.test"]);
  });
});
