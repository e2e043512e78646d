import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type { AuditRecorder } from "../audit/audit-trail.js";
import { HandoverError } from "../errors.js";
import type { SignedIn } from "./sign-in.js";
import type { SignInLimiter } from "./sign-in-limits.js";

/** One identity provider a homeserver offers under `m.login.sso`. */
export interface IdentityProvider {
  id: string;
  name: string;
  /** An mxc:// URI, as the homeserver gives it; null when it names none. */
  icon: string | null;
}

/** What the homeserver's `GET /login` offers, in the terms the portal needs. */
export interface LoginFlows {
  password: boolean;
  /** Present when the homeserver offers `m.login.sso` (and `m.login.token` to finish it). */
  sso: { identityProviders: IdentityProvider[] } | null;
}

/** The homeserver's single sign-on, as Element uses it: redirect, then `m.login.token`. */
export interface HomeserverSingleSignOn {
  flows(): Promise<LoginFlows>;
  /** The homeserver's `/login/sso/redirect[/{idpId}]` URL that sends the browser on to `returnTo`. */
  redirectUrl(idpId: string | null, returnTo: string): string;
  /**
   * The user ID a login token stands for (`POST /login` with `m.login.token`); the device that
   * login makes is logged out at once. null when the homeserver refuses the token (unknown,
   * used already or expired: tokens are single-use and short-lived).
   */
  redeemLoginToken(loginToken: string, clientAddress: string): Promise<string | null>;
}

/** Opens a portal session for someone the homeserver has vouched for (PortalSignIn). */
export interface SessionOpener {
  openSession(userId: string, method: "password" | "sso"): Promise<SignedIn>;
}

export interface SingleSignOnDeps {
  homeserver: HomeserverSingleSignOn;
  sessions: SessionOpener;
  audit: AuditRecorder;
  /**
   * Where the homeserver sends the browser back: built from the configured `web.publicUrl`,
   * never from the request, so the homeserver is only ever asked to redirect to Handover.
   */
  callbackUrl: string;
  /**
   * Refused callbacks count as failed sign-ins from the client's address: each one is an audit
   * entry and may be a question to the homeserver, asked by anyone.
   */
  limiter?: Pick<SignInLimiter, "beginFromAddress">;
}

/** Started in a browser: `state` goes into a short-lived cookie, the browser to `location`. */
export interface SsoStart {
  state: string;
  location: string;
}

export interface SsoCallback {
  /** The state the homeserver carried back in the callback URL. */
  stateInUrl: string | undefined;
  /** The state in the cookie of the browser that came back. */
  stateInCookie: string | null;
  loginToken: string | undefined;
  clientAddress: string;
}

const STATE_BYTES = 32;
const LOGIN_TOKEN = /^[\x21-\x7e]{1,512}$/;

function sameState(a: string, b: string): boolean {
  // Hashed first so the comparison takes the same time whatever the lengths.
  const left = createHash("sha256").update(a).digest();
  const right = createHash("sha256").update(b).digest();
  return timingSafeEqual(left, right);
}

/**
 * Single sign-on through the trust's homeserver. Handover never talks to the identity provider:
 * the homeserver does (Synapse's OIDC, SAML or CAS, or MAS's compatibility layer) and hands back
 * a one-time login token. The callback is bound to the browser that started the sign-in by a
 * random state in the callback URL that must equal the one in that browser's cookie: a login
 * token made for someone else's session (an attacker's own, to sign the victim in as the
 * attacker, or one lifted from a log) is refused before the homeserver is asked.
 */
export class SingleSignOn {
  constructor(private readonly deps: SingleSignOnDeps) {}

  async begin(idpId: string | null): Promise<SsoStart> {
    const flows = await this.deps.homeserver.flows();
    if (flows.sso === null) throw new HandoverError("NOT_FOUND", "The homeserver does not offer single sign-on");
    if (idpId !== null && !flows.sso.identityProviders.some((provider) => provider.id === idpId)) {
      throw new HandoverError("NOT_FOUND", `The homeserver offers no identity provider ${idpId}`);
    }
    const state = randomBytes(STATE_BYTES).toString("base64url");
    const returnTo = new URL(this.deps.callbackUrl);
    returnTo.searchParams.set("state", state);
    return { state, location: this.deps.homeserver.redirectUrl(idpId, returnTo.toString()) };
  }

  async complete(callback: SsoCallback): Promise<SignedIn> {
    const { stateInUrl, stateInCookie, loginToken, clientAddress } = callback;
    const attempt = this.deps.limiter?.beginFromAddress(clientAddress);
    if (!stateInUrl || !stateInCookie || !sameState(stateInUrl, stateInCookie)) {
      await this.refused("state mismatch", clientAddress);
      throw new HandoverError("SIGN_IN_FAILED", "This sign-in was not started in this browser, or took too long. Start again from Handover's sign-in page.");
    }
    if (!loginToken || !LOGIN_TOKEN.test(loginToken)) {
      await this.refused("no login token", clientAddress);
      throw new HandoverError("SIGN_IN_FAILED", "The homeserver sent no sign-in back. Start again from Handover's sign-in page.");
    }
    let userId: string | null;
    try {
      userId = await this.deps.homeserver.redeemLoginToken(loginToken, clientAddress);
    } catch (error) {
      // The homeserver could not be asked: not this client's failure.
      attempt?.release();
      throw error;
    }
    if (userId === null) {
      await this.refused("login token refused by the homeserver", clientAddress);
      throw new HandoverError("SIGN_IN_FAILED", "The homeserver did not accept this sign-in (it may have been used already). Start again.");
    }
    attempt?.succeeded();
    return this.deps.sessions.openSession(userId, "sso");
  }

  private async refused(reason: string, clientAddress: string): Promise<void> {
    await this.deps.audit.record({ actor: "anonymous", action: "session.sso_refused", target: "single sign-on", details: { reason, clientAddress } });
  }
}
