import type { Clock } from "../domain/clock.js";
import { HandoverError } from "../domain/errors.js";
import { type PinnedKey, verifyOrganisationDocument, WELL_KNOWN_PATH } from "../domain/federation/organisation.js";
import type { PeerDirectory, PeerTransport, VerifiedPeer } from "../domain/federation/ports.js";
import type { SignedMessage } from "../domain/federation/signed-message.js";
import { PeerHttpError, peerRequest } from "./peer-http.js";

export interface PeerKeyPins {
  get(serverName: string): Promise<PinnedKey | null>;
  pin(serverName: string, key: PinnedKey, at: Date): Promise<void>;
}

export interface PeerClientOptions {
  /** Explicit base URLs by server name; others are https://<host of the server name>. */
  peers: Record<string, string>;
  allowInsecure: boolean;
  /** Allow loopback, private and link-local addresses (local tests only). */
  allowLocalAddresses: boolean;
  pins: PeerKeyPins;
  clock: Clock;
  timeoutMs?: number;
  /** Largest organisation document or inbox answer read from a partner. */
  maxResponseBytes?: number;
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

  private limits(timeoutMs: number) {
    return {
      allowLocalAddresses: this.options.allowLocalAddresses,
      timeoutMs: this.options.timeoutMs ?? timeoutMs,
      maxResponseBytes: this.options.maxResponseBytes ?? 256 * 1024,
    };
  }

  async lookup(serverName: string): Promise<VerifiedPeer> {
    const url = new URL(WELL_KNOWN_PATH, this.baseUrl(serverName)).toString();
    this.checkScheme(url, "Partner URL");
    let raw: unknown;
    try {
      const answer = await peerRequest({ method: "GET", url }, this.limits(10_000));
      if (answer.status !== 200) throw new PeerHttpError("unreachable", `the partner answered ${answer.status}`);
      if (answer.json === undefined) throw new PeerHttpError("not_json", "the partner's answer is not JSON");
      raw = answer.json;
    } catch (error) {
      const why = error instanceof PeerHttpError ? error.message : "the request failed";
      throw new HandoverError("PEER_UNAVAILABLE", `Could not read ${serverName}'s organisation at ${url}: ${why}`);
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
    let response: { status: number; json: unknown };
    try {
      response = await peerRequest({ method: "POST", url: inboxUrl, body: JSON.stringify(message) }, this.limits(30_000));
    } catch (error) {
      const why = error instanceof PeerHttpError ? error.message : "the request failed";
      throw new HandoverError("PEER_UNAVAILABLE", `Could not reach ${message.to} at ${inboxUrl}: ${why}`);
    }
    if (response.status >= 200 && response.status < 300) return;
    const answer = (typeof response.json === "object" && response.json !== null ? response.json : {}) as { reason?: string; error?: { message?: string } };
    // The partner already has it: a retry after a lost answer.
    if (answer.reason === "replayed") return;
    throw new HandoverError(
      "PEER_UNAVAILABLE",
      `${message.to} refused the message (${response.status} ${answer.reason ?? ""}: ${answer.error?.message ?? ""})`,
    );
  }
}
