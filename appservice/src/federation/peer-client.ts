import type { Clock } from "../domain/clock.js";
import { HandoverError } from "../domain/errors.js";
import { type PinnedKey, verifyOrganisationDocument, WELL_KNOWN_PATH } from "../domain/federation/organisation.js";
import type { PeerDirectory, PeerTransport, VerifiedPeer } from "../domain/federation/ports.js";
import type { SignedMessage } from "../domain/federation/signed-message.js";

export interface PeerKeyPins {
  get(serverName: string): Promise<PinnedKey | null>;
  pin(serverName: string, key: PinnedKey, at: Date): Promise<void>;
}

export interface PeerClientOptions {
  /** Explicit base URLs by server name; others are https://<host of the server name>. */
  peers: Record<string, string>;
  allowInsecure: boolean;
  pins: PeerKeyPins;
  clock: Clock;
  timeoutMs?: number;
}

function hostOf(serverName: string): string {
  const match = /^(\[[^\]]+\]|[^:]+)(:\d+)?$/.exec(serverName);
  return match?.[1] ?? serverName;
}

/**
 * Reaches partner trusts' Handover instances over HTTP(S): reads and verifies their published
 * organisation (key pinned on first contact, rotations followed) and posts signed messages.
 */
export class PeerClient implements PeerDirectory, PeerTransport {
  constructor(private readonly options: PeerClientOptions) {}

  baseUrl(serverName: string): string {
    // Own entries only: a server name such as `constructor` must not find Object.prototype's.
    const { peers } = this.options;
    return (Object.hasOwn(peers, serverName) ? peers[serverName] : undefined) ?? `https://${hostOf(serverName)}`;
  }

  private checkScheme(url: string, what: string): void {
    const protocol = new URL(url).protocol;
    if (protocol === "https:") return;
    if (protocol === "http:" && this.options.allowInsecure) return;
    throw new HandoverError("VALIDATION_FAILED", `${what} ${url} is not https (set federation.allowInsecurePeers only for local tests)`);
  }

  async lookup(serverName: string): Promise<VerifiedPeer> {
    const url = new URL(WELL_KNOWN_PATH, this.baseUrl(serverName)).toString();
    this.checkScheme(url, "Partner URL");
    let raw: unknown;
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(this.options.timeoutMs ?? 10_000), headers: { accept: "application/json" } });
      if (!response.ok) throw new Error(`answered ${response.status}`);
      raw = await response.json();
    } catch (error) {
      throw new HandoverError("PEER_UNAVAILABLE", `Could not read ${serverName}'s organisation at ${url}: ${(error as Error).message}`);
    }
    const pinned = await this.options.pins.get(serverName);
    const verified = verifyOrganisationDocument(raw, serverName, pinned);
    if (!verified.ok) throw new HandoverError("FORBIDDEN", `${serverName}'s published organisation is not trustworthy (${verified.problem})`);
    const { document, keys } = verified;
    this.checkScheme(document.inbox_url, "Partner inbox");
    if (!pinned || pinned.keyId !== keys.current.keyId) await this.options.pins.pin(serverName, keys.current, this.options.clock.now());
    return { serverName, name: document.name, odsCode: document.ods_code, contact: document.contact, inboxUrl: document.inbox_url, keys };
  }

  async deliver(inboxUrl: string, message: SignedMessage): Promise<void> {
    this.checkScheme(inboxUrl, "Partner inbox");
    let response: Response;
    try {
      response = await fetch(inboxUrl, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(message),
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 30_000),
      });
    } catch (error) {
      throw new HandoverError("PEER_UNAVAILABLE", `Could not reach ${message.to} at ${inboxUrl}: ${(error as Error).message}`);
    }
    if (response.ok) return;
    const answer = (await response.json().catch(() => ({}))) as { reason?: string; error?: { message?: string } };
    // The partner already has it: a retry after a lost answer.
    if (answer.reason === "replayed") return;
    throw new HandoverError(
      "PEER_UNAVAILABLE",
      `${message.to} refused the message (${response.status} ${answer.reason ?? ""}: ${answer.error?.message ?? ""})`,
    );
  }
}
