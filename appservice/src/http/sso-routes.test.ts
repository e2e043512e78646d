import type { Server } from "node:http";
import express from "express";
import { afterEach, describe, expect, it } from "vitest";
import { SingleSignOn } from "../domain/access/single-sign-on.js";
import { createLogger } from "../logger.js";
import { IdentityProviderIcons } from "../matrix/identity-provider-icons.js";
import { RecordingAudit } from "../testing/fakes.js";
import { ssoRoutes } from "./sso-routes.js";

const servers: Server[] = [];
afterEach(() => {
  for (const server of servers.splice(0)) server.close();
});

/** Handover's SSO routes over a homeserver fake that redeems any token, as if the publicUrl were https. */
async function serve(): Promise<{ base: string; redeemed: string[] }> {
  const redeemed: string[] = [];
  const homeserver = {
    flows: async () => ({ password: false, sso: { identityProviders: [] } }),
    redirectUrl: (_idp: string | null, returnTo: string) => `https://matrix.trust-a.test/sso?redirectUrl=${encodeURIComponent(returnTo)}`,
    redeemLoginToken: async (token: string) => {
      redeemed.push(token);
      return "@mallory:trust-a.test";
    },
  };
  const sso = new SingleSignOn({
    homeserver,
    sessions: {
      openSession: async (userId) => ({
        token: "session",
        session: { userId, role: "admin", roleFrom: { kind: "config" }, expiresAt: new Date(0).toISOString() },
      }),
    },
    audit: new RecordingAudit(),
    callbackUrl: "https://handover.trust-a.test/auth/sso/callback",
  });
  const app = express();
  app.use(
    ssoRoutes({
      sso,
      icons: new IdentityProviderIcons(homeserver, "http://127.0.0.1:1", "unused"),
      publicUrl: "https://handover.trust-a.test",
      logger: createLogger("silent"),
    }),
  );
  const server = app.listen(0, "127.0.0.1");
  servers.push(server);
  await new Promise((resolve) => server.once("listening", resolve));
  const address = server.address();
  return { base: `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`, redeemed };
}

describe("single sign-on state cookie", () => {
  it("is a __Host- cookie over https, so one tossed in over plain http or from a sibling subdomain cannot sign this browser in as someone else", async () => {
    const { base, redeemed } = await serve();
    const start = await fetch(`${base}/auth/sso/start`, { redirect: "manual" });
    const setCookie = start.headers.get("set-cookie") ?? "";
    expect(setCookie).toMatch(/^__Host-handover_sso_state=[^;]+;/);
    expect(setCookie).toContain("Path=/;");
    expect(setCookie).toContain("Secure");
    expect(setCookie).toContain("HttpOnly");
    expect(setCookie).toContain("SameSite=Lax");
    expect(setCookie).not.toMatch(/Domain=/i);

    // Mallory started her own sign-in, kept its state and login token, and planted the state in
    // the victim's browser under the unprefixed name (with a longer path, so it is sent first).
    const tossed = await fetch(`${base}/auth/sso/callback?state=mallorys-state&loginToken=mallorys-token`, {
      redirect: "manual",
      headers: { cookie: "handover_sso_state=mallorys-state; __Host-handover_sso_state=victims-state" },
    });
    expect(tossed.headers.get("location")).toBe("/sign-in?problem=SIGN_IN_FAILED");
    expect(redeemed).toEqual([]);
  });
});
