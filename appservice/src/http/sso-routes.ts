import express, { type Request, type Response, type Router } from "express";
import type { Logger } from "pino";
import type { HomeserverSingleSignOn, SingleSignOn } from "../domain/access/single-sign-on.js";
import { HandoverError } from "../domain/errors.js";
import type { IdentityProviderIcons } from "../matrix/identity-provider-icons.js";
import type { SignInFlows } from "./contract.js";
import { SESSION_COOKIE } from "./web-server.js";

/** Browser navigations, not API calls: the homeserver and the identity provider sit between them. */
export const SSO_START_PATH = "/auth/sso/start";
export const SSO_CALLBACK_PATH = "/auth/sso/callback";
export const SSO_ICON_PATH = "/auth/sso/icon";
/**
 * Over https the state cookie carries the `__Host-` prefix: a browser accepts such a cookie only
 * from a secure origin of this very host (Secure, Path=/, no Domain). Without it, a network
 * attacker on plain http or any sibling subdomain could plant their own state (with a longer
 * path, so it is sent first) and finish the victim's sign-in with their own login token.
 */
const stateCookieName = (secure: boolean) => (secure ? "__Host-handover_sso_state" : "handover_sso_state");
/** Long enough to sign in at the identity provider (a smartcard PIN, an MFA prompt), no longer. */
const STATE_LIFETIME_MS = 10 * 60_000;

function readCookie(header: string | undefined, name: string): string | null {
  for (const part of (header ?? "").split(";")) {
    const [key, ...rest] = part.trim().split("=");
    if (key === name) return decodeURIComponent(rest.join("="));
  }
  return null;
}

const single = (value: unknown): string | undefined => (typeof value === "string" ? value : undefined);

/**
 * GET /auth/sso/start[?idp=<id>] and GET /auth/sso/callback. The state cookie is SameSite=Lax,
 * not Strict: the callback is a top-level navigation that arrives from the homeserver's (or the
 * identity provider's) site, and a Strict cookie would not come with it. It is scoped to the
 * callback's path (over https, `__Host-` and so Path=/) and lives ten minutes; the session cookie
 * stays Strict.
 */
export function ssoRoutes(options: { sso: SingleSignOn; icons: IdentityProviderIcons; publicUrl: string; logger: Logger }): Router {
  const secure = new URL(options.publicUrl).protocol === "https:";
  const STATE_COOKIE = stateCookieName(secure);
  const stateCookie = { httpOnly: true, sameSite: "lax", secure, path: secure ? "/" : "/auth/sso" } as const;
  const router = express.Router();
  const problem = (res: Response, error: unknown) => {
    const code = error instanceof HandoverError ? error.code : "INTERNAL";
    if (code === "INTERNAL") options.logger.error({ err: error }, "single sign-on failed");
    res.set("cache-control", "no-store").redirect(303, `/sign-in?problem=${code}`);
  };
  const clientAddress = (req: Request) => req.ip ?? req.socket.remoteAddress ?? "unknown";

  router.get(SSO_START_PATH, async (req, res) => {
    try {
      const { state, location } = await options.sso.begin(single(req.query.idp) ?? null);
      res.cookie(STATE_COOKIE, state, { ...stateCookie, maxAge: STATE_LIFETIME_MS });
      res.set("cache-control", "no-store").redirect(303, location);
    } catch (error) {
      problem(res, error);
    }
  });

  router.get(`${SSO_ICON_PATH}/:idpId`, async (req, res) => {
    const icon = await options.icons.icon(req.params.idpId).catch(() => null);
    if (!icon) {
      res.status(404).set("cache-control", "no-store").end();
      return;
    }
    res.set("cache-control", "public, max-age=3600").type(icon.contentType).send(icon.body);
  });

  router.get(SSO_CALLBACK_PATH, async (req, res) => {
    // Whatever happens next, this browser's state is used up: a second callback finds none.
    res.clearCookie(STATE_COOKIE, stateCookie);
    try {
      const { token, session } = await options.sso.complete({
        stateInUrl: single(req.query.state),
        stateInCookie: readCookie(req.headers.cookie, STATE_COOKIE),
        loginToken: single(req.query.loginToken),
        clientAddress: clientAddress(req),
      });
      res.cookie(SESSION_COOKIE, token, { httpOnly: true, sameSite: "strict", secure, path: "/", expires: new Date(session.expiresAt) });
      res.set("cache-control", "no-store").redirect(303, "/");
    } catch (error) {
      problem(res, error);
    }
  });
  return router;
}

/** The portal's sign-in page offers what the homeserver offers. */
export async function signInFlows(homeserver: Pick<HomeserverSingleSignOn, "flows">): Promise<SignInFlows> {
  const flows = await homeserver.flows();
  const startUrl = (idpId: string | null) => (idpId === null ? SSO_START_PATH : `${SSO_START_PATH}?idp=${encodeURIComponent(idpId)}`);
  return {
    password: flows.password,
    sso:
      flows.sso === null
        ? null
        : {
            startUrl: startUrl(null),
            identityProviders: flows.sso.identityProviders.map(({ id, name, icon }) => ({
              id,
              name,
              startUrl: startUrl(id),
              iconUrl: icon === null ? null : `${SSO_ICON_PATH}/${encodeURIComponent(id)}`,
            })),
          },
  };
}
