import type { HomeserverSingleSignOn, IdentityProvider, LoginFlows } from "../domain/access/single-sign-on.js";
import { HandoverError } from "../domain/errors.js";

const FLOWS_KEPT_MS = 60_000;

interface FlowsBody {
  flows?: { type?: unknown; identity_providers?: { id?: unknown; name?: unknown; icon?: unknown }[] }[];
}

/**
 * The homeserver's login flows and single sign-on over the client-server API: works the same
 * with Synapse's own OIDC, SAML and CAS and with MAS's compatibility layer, which all offer
 * `m.login.sso` and `m.login.token`.
 */
export class HomeserverSso implements HomeserverSingleSignOn {
  /**
   * The flows change only when the homeserver's config does; kept a minute so the public sign-in
   * page cannot be used to make Handover ask the homeserver on every hit.
   */
  private cachedFlows: { at: number; flows: LoginFlows } | null = null;

  constructor(
    /** Where Handover reaches the homeserver. */
    private readonly baseUrl: string,
    /** Where browsers reach it (the redirect goes there); often the same. */
    private readonly browserUrl: string,
    private readonly serverName: string,
    private readonly clientProtocol: "http" | "https",
  ) {}

  async flows(): Promise<LoginFlows> {
    const now = Date.now();
    if (this.cachedFlows && now - this.cachedFlows.at < FLOWS_KEPT_MS) return this.cachedFlows.flows;
    const flows = await this.askFlows();
    this.cachedFlows = { at: now, flows };
    return flows;
  }

  private async askFlows(): Promise<LoginFlows> {
    const response = await this.call("/_matrix/client/v3/login", { method: "GET" });
    if (!response.ok) throw new HandoverError("HOMESERVER_REFUSED", `The homeserver answered ${response.status} when asked how to sign in`);
    const body = (await response.json().catch(() => ({}))) as FlowsBody;
    const flows = Array.isArray(body.flows) ? body.flows : [];
    const types = new Set(flows.map((flow) => flow.type));
    const sso = flows.find((flow) => flow.type === "m.login.sso");
    // Without m.login.token the homeserver could not finish what its SSO starts.
    if (!sso || !types.has("m.login.token")) return { password: types.has("m.login.password"), sso: null };
    const identityProviders: IdentityProvider[] = (Array.isArray(sso.identity_providers) ? sso.identity_providers : []).flatMap((provider) =>
      typeof provider.id === "string" && typeof provider.name === "string"
        ? [{ id: provider.id, name: provider.name, icon: typeof provider.icon === "string" ? provider.icon : null }]
        : [],
    );
    return { password: types.has("m.login.password"), sso: { identityProviders } };
  }

  redirectUrl(idpId: string | null, returnTo: string): string {
    const path = `/_matrix/client/v3/login/sso/redirect${idpId === null ? "" : `/${encodeURIComponent(idpId)}`}`;
    const url = new URL(path, this.browserUrl);
    url.searchParams.set("redirectUrl", returnTo);
    return url.toString();
  }

  async redeemLoginToken(loginToken: string, clientAddress: string): Promise<string | null> {
    const response = await this.call("/_matrix/client/v3/login", {
      method: "POST",
      clientAddress,
      body: { type: "m.login.token", token: loginToken, initial_device_display_name: "Handover portal sign-in check" },
    });
    if (response.status === 403 || response.status === 401 || response.status === 400) return null;
    if (!response.ok) throw new HandoverError("HOMESERVER_REFUSED", `The homeserver answered ${response.status} to the sign-in`);
    const { user_id: userId, access_token: token } = (await response.json()) as { user_id: string; access_token: string };
    // Handover keeps nobody's access token: the device this login made goes at once.
    await this.call("/_matrix/client/v3/logout", { method: "POST", clientAddress, body: {}, token }).catch(() => undefined);
    return userId.endsWith(`:${this.serverName}`) ? userId : null;
  }

  private async call(path: string, options: { method: "GET" | "POST"; clientAddress?: string; body?: unknown; token?: string }): Promise<Response> {
    const headers: Record<string, string> = { "x-forwarded-proto": this.clientProtocol };
    if (options.clientAddress) headers["x-forwarded-for"] = options.clientAddress;
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    if (options.body !== undefined) headers["content-type"] = "application/json";
    try {
      return await fetch(new URL(path, this.baseUrl), {
        method: options.method,
        headers,
        ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
        signal: AbortSignal.timeout(15_000),
      });
    } catch (error) {
      throw new HandoverError("HOMESERVER_UNAVAILABLE", `Could not reach the homeserver to sign in: ${(error as Error).message}`);
    }
  }
}
