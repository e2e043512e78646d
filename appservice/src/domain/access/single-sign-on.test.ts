import { describe, expect, it } from "vitest";
import { FakeClock, RecordingAudit } from "../../testing/fakes.js";
import { HandoverError } from "../errors.js";
import type { SignedIn } from "./sign-in.js";
import { SignInLimiter } from "./sign-in-limits.js";
import { type HomeserverSingleSignOn, type LoginFlows, SingleSignOn } from "./single-sign-on.js";

const CALLBACK = "https://handover.trust.nhs.uk/auth/sso/callback";
const CLIENT = "198.51.100.7";

function setup(flows: LoginFlows = { password: false, sso: { identityProviders: [{ id: "oidc-entra", name: "Entra ID", icon: null }] } }) {
  const audit = new RecordingAudit();
  const redeemed: string[] = [];
  const valid = new Map([["token-for-alice", "@alice:trust-a.test"]]);
  const homeserver: HomeserverSingleSignOn = {
    flows: async () => flows,
    redirectUrl: (idpId, returnTo) => `https://matrix.trust.nhs.uk/sso/${idpId ?? "(default)"}?redirectUrl=${encodeURIComponent(returnTo)}`,
    redeemLoginToken: async (token) => {
      redeemed.push(token);
      const userId = valid.get(token) ?? null;
      valid.delete(token); // single-use, as the homeserver's are
      return userId;
    },
  };
  const opened: string[] = [];
  const sessions = {
    openSession: async (userId: string, method: "password" | "sso"): Promise<SignedIn> => {
      opened.push(`${userId} ${method}`);
      return { token: "session-token", session: { userId, role: "admin", roleFrom: { kind: "config" }, expiresAt: "2026-11-22T17:00:00.000Z" } };
    },
  };
  const sso = new SingleSignOn({ homeserver, sessions, audit, callbackUrl: CALLBACK });
  return { sso, audit, redeemed, opened };
}

async function refusal(promise: Promise<unknown>): Promise<HandoverError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(HandoverError);
  return error as HandoverError;
}

describe("single sign-on through the homeserver", () => {
  it("sends the browser to the homeserver with Handover's own callback carrying a fresh random state", async () => {
    const { sso } = setup();
    const first = await sso.begin("oidc-entra");
    const second = await sso.begin(null);
    expect(first.state).not.toBe(second.state);
    expect(first.state.length).toBeGreaterThanOrEqual(43);
    const returnTo = new URL(new URL(first.location).searchParams.get("redirectUrl") as string);
    expect(`${returnTo.origin}${returnTo.pathname}`).toBe(CALLBACK);
    expect(returnTo.searchParams.get("state")).toBe(first.state);
    expect(new URL(first.location).pathname).toBe("/sso/oidc-entra");
  });

  it("starts nothing for an identity provider the homeserver does not offer, or when it offers no single sign-on", async () => {
    expect((await refusal(setup().sso.begin("../../admin"))).code).toBe("NOT_FOUND");
    expect((await refusal(setup({ password: true, sso: null }).sso.begin(null))).code).toBe("NOT_FOUND");
  });

  it("opens a session for the user the login token stands for when the browser's state matches", async () => {
    const { sso, opened, redeemed } = setup();
    const { state } = await sso.begin(null);
    const signedIn = await sso.complete({ stateInUrl: state, stateInCookie: state, loginToken: "token-for-alice", clientAddress: CLIENT });
    expect(signedIn.session.userId).toBe("@alice:trust-a.test");
    expect(opened).toEqual(["@alice:trust-a.test sso"]);
    expect(redeemed).toEqual(["token-for-alice"]);
  });

  it("refuses a callback whose state is not this browser's, before asking the homeserver, and audits it", async () => {
    const { sso, audit, redeemed, opened } = setup();
    const mine = await sso.begin(null);
    const theirs = await sso.begin(null);
    for (const stateInCookie of [theirs.state, null, ""]) {
      const error = await refusal(sso.complete({ stateInUrl: mine.state, stateInCookie, loginToken: "token-for-alice", clientAddress: CLIENT }));
      expect(error.code).toBe("SIGN_IN_FAILED");
    }
    expect((await refusal(sso.complete({ stateInUrl: undefined, stateInCookie: mine.state, loginToken: "token-for-alice", clientAddress: CLIENT }))).code).toBe(
      "SIGN_IN_FAILED",
    );
    expect(redeemed).toEqual([]);
    expect(opened).toEqual([]);
    expect(audit.events.map((event) => [event.action, event.details?.reason])).toEqual(Array(4).fill(["session.sso_refused", "state mismatch"]));
  });

  it("refuses a login token the homeserver does not accept, such as one used already", async () => {
    const { sso, audit, opened } = setup();
    const { state } = await sso.begin(null);
    await sso.complete({ stateInUrl: state, stateInCookie: state, loginToken: "token-for-alice", clientAddress: CLIENT });
    const error = await refusal(sso.complete({ stateInUrl: state, stateInCookie: state, loginToken: "token-for-alice", clientAddress: CLIENT }));
    expect(error.code).toBe("SIGN_IN_FAILED");
    expect(opened).toHaveLength(1);
    expect(audit.events.at(-1)?.details).toEqual({ reason: "login token refused by the homeserver", clientAddress: CLIENT });
  });

  it("refuses a callback with no usable login token without asking the homeserver", async () => {
    const { sso, redeemed } = setup();
    const { state } = await sso.begin(null);
    for (const loginToken of [undefined, "", "with space", "x".repeat(513)]) {
      expect((await refusal(sso.complete({ stateInUrl: state, stateInCookie: state, loginToken, clientAddress: CLIENT }))).code).toBe("SIGN_IN_FAILED");
    }
    expect(redeemed).toEqual([]);
  });
});

describe("single sign-on refusals from one address", () => {
  it("are limited like failed password sign-ins, so an anonymous client cannot write audit entries or ask the homeserver without end", async () => {
    const clock = new FakeClock();
    const audit = new RecordingAudit();
    let asked = 0;
    const homeserver: HomeserverSingleSignOn = {
      flows: async () => ({ password: false, sso: { identityProviders: [] } }),
      redirectUrl: () => "https://matrix.trust.nhs.uk/sso",
      redeemLoginToken: async () => {
        asked++;
        return null;
      },
    };
    const sessions = { openSession: async (): Promise<SignedIn> => Promise.reject(new Error("not reached")) };
    const limiter = new SignInLimiter({ perAccount: 5, perAddress: 3, windowMs: 15 * 60_000 }, clock);
    const sso = new SingleSignOn({ homeserver, sessions, audit, callbackUrl: CALLBACK, limiter });
    const codes: string[] = [];
    for (let i = 0; i < 10; i++) {
      const withToken = { stateInUrl: "s", stateInCookie: "s", loginToken: `guess-${i}`, clientAddress: CLIENT };
      const noState = { stateInUrl: undefined, stateInCookie: null, loginToken: undefined, clientAddress: CLIENT };
      codes.push((await refusal(sso.complete(i % 2 === 0 ? withToken : noState))).code);
    }
    expect(codes.filter((code) => code === "SIGN_IN_FAILED")).toHaveLength(3);
    expect(codes.slice(3).every((code) => code === "RATE_LIMITED")).toBe(true);
    expect(audit.actions()).toHaveLength(3);
    expect(asked).toBe(2);
    // Another address is not held up by this one.
    const other = await refusal(sso.complete({ stateInUrl: undefined, stateInCookie: null, loginToken: undefined, clientAddress: "203.0.113.9" }));
    expect(other.code).toBe("SIGN_IN_FAILED");
  });
});
