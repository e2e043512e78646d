import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import Provider, { type Configuration } from "oidc-provider";
import { freePort } from "./util.js";

/** A person the identity provider knows: their login name becomes their Matrix localpart. */
export interface IdpAccount {
  login: string;
  password: string;
  name: string;
  /** The authentication assurance the provider reports for this person (NHS CIS2 returns one in `acr`); default "aal3". */
  acr?: string;
}

export interface OidcProviderOptions {
  /** Synapse's OIDC callback, `<public_baseurl>_synapse/client/oidc/callback`. */
  redirectUri: string;
  port?: number;
}

export interface RunningOidcProvider {
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** Adds or replaces an account; the provider checks its password on the login page. */
  addAccount(account: IdpAccount): void;
  /** How many times the login form was submitted with a password it refused. */
  refusedLogins(): number;
  /** Synapse's `oidc_providers` entry for this provider (tests only: plain http on loopback). */
  synapseConfig(idpId: string, idpName: string, extra?: Record<string, unknown>): Record<string, unknown>;
  stop(): Promise<void>;
}

const htmlText = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function loginPage(action: string, problem: string | null): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Trust identity provider: sign in</title></head>
<body><main><h1>Trust identity provider</h1>${problem ? `<p role="alert">${htmlText(problem)}</p>` : ""}
<form method="post" action="${htmlText(action)}">
<label for="login">Username</label> <input id="login" name="login" autocomplete="username" required>
<label for="password">Password</label> <input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Sign in to the trust</button>
</form></main></body></html>`;
}

async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return new URLSearchParams(Buffer.concat(chunks).toString("utf8"));
}

/**
 * A real OpenID provider (npm oidc-provider, certified) on loopback, standing in for the trust's
 * Entra ID or NHS CIS2: Synapse signs people in through it. Its login page checks passwords
 * against the accounts the test adds; consent is implied for the one client (Synapse), as a
 * trust's IdP does for its own first-party apps.
 */
export async function startOidcProvider(options: OidcProviderOptions): Promise<RunningOidcProvider> {
  const port = options.port ?? (await freePort());
  const issuer = `http://127.0.0.1:${port}`;
  const clientId = "synapse";
  const clientSecret = randomBytes(24).toString("hex");
  const accounts = new Map<string, IdpAccount>();
  let refused = 0;
  const configuration: Configuration = {
    clients: [
      {
        client_id: clientId,
        client_secret: clientSecret,
        redirect_uris: [options.redirectUri],
        grant_types: ["authorization_code"],
        response_types: ["code"],
        token_endpoint_auth_method: "client_secret_basic",
      },
    ],
    // `acr` in the profile claims too, so Synapse's attribute_requirements can check it in userinfo.
    claims: { openid: ["sub"], profile: ["preferred_username", "name", "acr"] },
    cookies: { keys: [randomBytes(32).toString("hex")] },
    features: { devInteractions: { enabled: false } },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    async findAccount(_ctx, sub) {
      const account = accounts.get(sub);
      if (!account) return undefined;
      return { accountId: sub, claims: async () => ({ sub, preferred_username: account.login, name: account.name, acr: account.acr ?? "aal3" }) };
    },
    // First-party client: the grant is given with the login, no consent page.
    async loadExistingGrant(ctx) {
      const { client, session } = ctx.oidc;
      if (!client || !session?.accountId) return undefined;
      const existing = session.grantIdFor(client.clientId);
      if (existing) return ctx.oidc.provider.Grant.find(existing);
      const grant = new ctx.oidc.provider.Grant({ clientId: client.clientId, accountId: session.accountId });
      grant.addOIDCScope("openid profile");
      await grant.save();
      session.grantIdFor(client.clientId, grant.jti);
      return grant;
    },
    ttl: { Interaction: 600, Session: 3600, Grant: 3600, AccessToken: 600, AuthorizationCode: 60, IdToken: 600 },
  };
  const provider = new Provider(issuer, configuration);
  const callback = provider.callback();

  const interaction = async (req: IncomingMessage, res: ServerResponse) => {
    const details = await provider.interactionDetails(req, res);
    const action = `/interaction/${details.uid}`;
    if (req.method === "POST") {
      const form = await readForm(req);
      const account = accounts.get(form.get("login") ?? "");
      if (!account || account.password !== form.get("password")) {
        refused++;
        res.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end(loginPage(action, "That username and password were not recognised."));
        return;
      }
      await provider.interactionFinished(req, res, { login: { accountId: account.login } }, { mergeWithLastSubmission: false });
      return;
    }
    if (details.prompt.name !== "login") {
      // The grant is implied (loadExistingGrant): nothing else to ask.
      await provider.interactionFinished(req, res, {}, { mergeWithLastSubmission: true });
      return;
    }
    res.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end(loginPage(action, null));
  };

  const server: Server = createServer((req, res) => {
    if (req.url?.startsWith("/interaction/")) {
      interaction(req, res).catch((error: unknown) => {
        if (!res.headersSent) res.writeHead(400, { "content-type": "text/plain" });
        res.end(`interaction failed: ${(error as Error).message}`);
      });
      return;
    }
    callback(req, res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve());
  });

  return {
    issuer,
    clientId,
    clientSecret,
    addAccount: (account) => accounts.set(account.login, account),
    refusedLogins: () => refused,
    synapseConfig: (idpId, idpName, extra = {}) => ({
      idp_id: idpId,
      idp_name: idpName,
      issuer,
      client_id: clientId,
      client_secret: clientSecret,
      scopes: ["openid", "profile"],
      // oidc-provider keeps profile claims out of the ID token when an access token is issued
      // (as the spec has it), so Synapse reads them from the userinfo endpoint.
      user_profile_method: "userinfo_endpoint",
      // Tests only: the issuer is plain http on loopback, which Synapse otherwise refuses.
      skip_verification: true,
      user_mapping_provider: { config: { localpart_template: "{{ user.preferred_username }}", display_name_template: "{{ user.name }}" } },
      ...extra,
    }),
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
