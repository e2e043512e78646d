import type { HomeserverAccountState, HomeserverAccounts } from "../domain/access/account-standing.js";
import { HandoverError } from "../domain/errors.js";

/** An account's state from Synapse's admin API (`GET /_synapse/admin/v2/users/<user>`). */
export class SynapseAccountState implements HomeserverAccounts {
  constructor(
    private readonly baseUrl: string,
    private readonly adminToken: string,
  ) {}

  async accountState(userId: string): Promise<HomeserverAccountState> {
    let response: Response;
    try {
      response = await fetch(new URL(`/_synapse/admin/v2/users/${encodeURIComponent(userId)}`, this.baseUrl), {
        headers: { authorization: `Bearer ${this.adminToken}` },
        signal: AbortSignal.timeout(5_000),
      });
    } catch (error) {
      throw new HandoverError("HOMESERVER_UNAVAILABLE", `Could not ask the homeserver about ${userId}: ${(error as Error).message}`);
    }
    if (response.status === 404) return "missing";
    if (!response.ok) throw new HandoverError("HOMESERVER_REFUSED", `The homeserver answered ${response.status} when asked about ${userId}`);
    const account = (await response.json()) as { deactivated?: unknown; locked?: unknown };
    if (account.deactivated === true || account.deactivated === 1) return "deactivated";
    if (account.locked === true || account.locked === 1) return "locked";
    return "active";
  }
}
