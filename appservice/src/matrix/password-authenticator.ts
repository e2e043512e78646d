import type { HomeserverAuthenticator } from "../domain/access/sign-in.js";
import { SignInLimited } from "../domain/access/sign-in-limits.js";
import { HandoverError } from "../domain/errors.js";

/**
 * Verifies a person's own Matrix password by logging in to the trust's homeserver, then
 * logs that new device out at once: Handover keeps nobody's access token.
 *
 * The client's address goes to the homeserver in X-Forwarded-For: Synapse counts logins per
 * address, and without it every sign-in through the portal would count against Handover's
 * own address, so five bad attempts by anyone would lock every admin out. Synapse believes
 * the header only on a listener with `x_forwarded: true` (docs/install.md).
 */
export class PasswordAuthenticator implements HomeserverAuthenticator {
  constructor(
    private readonly baseUrl: string,
    private readonly serverName: string,
    /** The scheme people reach the portal with, passed on as X-Forwarded-Proto. */
    private readonly clientProtocol: "http" | "https",
  ) {}

  async verifyPassword(username: string, password: string, clientAddress: string): Promise<string | null> {
    let response: Response;
    try {
      response = await fetch(new URL("/_matrix/client/v3/login", this.baseUrl), {
        method: "POST",
        headers: { "content-type": "application/json", "x-forwarded-for": clientAddress, "x-forwarded-proto": this.clientProtocol },
        body: JSON.stringify({
          type: "m.login.password",
          identifier: { type: "m.id.user", user: username },
          password,
          initial_device_display_name: "Handover portal sign-in check",
        }),
        signal: AbortSignal.timeout(15_000),
      });
    } catch (error) {
      throw new HandoverError("HOMESERVER_UNAVAILABLE", `Could not reach the homeserver to sign in: ${(error as Error).message}`);
    }
    if (response.status === 403 || response.status === 401 || response.status === 400) return null;
    if (response.status === 429) {
      const { retry_after_ms: retryAfterMs } = (await response.json().catch(() => ({}))) as { retry_after_ms?: unknown };
      const header = Number(response.headers.get("retry-after"));
      const seconds = typeof retryAfterMs === "number" ? Math.ceil(retryAfterMs / 1000) : Number.isFinite(header) ? header : 60;
      throw new SignInLimited(Math.max(1, seconds));
    }
    if (!response.ok) throw new HandoverError("HOMESERVER_REFUSED", `The homeserver answered ${response.status} to the sign-in`);
    const { user_id: userId, access_token: token } = (await response.json()) as { user_id: string; access_token: string };
    await fetch(new URL("/_matrix/client/v3/logout", this.baseUrl), {
      method: "POST",
      headers: {
        authorization: `Bearer ${token}`,
        "content-type": "application/json",
        "x-forwarded-for": clientAddress,
        "x-forwarded-proto": this.clientProtocol,
      },
      body: "{}",
      signal: AbortSignal.timeout(15_000),
    }).catch(() => undefined);
    // A homeserver only signs in its own users; checked anyway, as roles are keyed by full user ID.
    if (!userId.endsWith(`:${this.serverName}`)) return null;
    return userId;
  }
}
