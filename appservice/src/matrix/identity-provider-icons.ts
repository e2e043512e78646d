import type { HomeserverSingleSignOn } from "../domain/access/single-sign-on.js";

/** Raster images only: an SVG opened on its own is a document that can carry script. */
const IMAGE_TYPES = new Set(["image/png", "image/jpeg", "image/gif", "image/webp"]);
const MAX_ICON_BYTES = 256 * 1024;
const MXC = /^mxc:\/\/([A-Za-z0-9.:[\]-]+)\/([A-Za-z0-9_-]+)$/;
/**
 * /auth/sso/icon is public: without this, every hit would be a download from the homeserver with
 * the admin token. An icon changes only when the homeserver's config does.
 */
const ICON_KEPT_MS = 10 * 60_000;

export interface IdentityProviderIcon {
  contentType: string;
  body: Buffer;
}

/**
 * The identity providers' icons, which the homeserver names as mxc:// URIs. The portal may load
 * images only from its own origin (CSP), and the homeserver's media may need a token, so Handover
 * fetches the icon (with its admin token, from the homeserver's authenticated media) and serves it.
 */
export class IdentityProviderIcons {
  /** By mxc URI; the pending download is kept too, so hits at the same moment share it. */
  private readonly kept = new Map<string, { at: number; icon: Promise<IdentityProviderIcon | null> }>();

  constructor(
    private readonly homeserver: Pick<HomeserverSingleSignOn, "flows">,
    private readonly baseUrl: string,
    private readonly adminToken: string,
    private readonly now: () => number = Date.now,
  ) {}

  /** null when the provider is unknown, names no icon, or the icon is not a small raster image. */
  async icon(idpId: string): Promise<IdentityProviderIcon | null> {
    const provider = (await this.homeserver.flows()).sso?.identityProviders.find((candidate) => candidate.id === idpId);
    const match = MXC.exec(provider?.icon ?? "");
    if (!match) return null;
    const [uri, server = "", mediaId = ""] = match;
    const kept = this.kept.get(uri);
    if (kept && this.now() - kept.at < ICON_KEPT_MS) return kept.icon;
    const icon = this.download(server, mediaId);
    this.kept.set(uri, { at: this.now(), icon });
    return icon;
  }

  private async download(server: string, mediaId: string): Promise<IdentityProviderIcon | null> {
    let response: Response;
    try {
      response = await fetch(new URL(`/_matrix/client/v1/media/download/${encodeURIComponent(server)}/${encodeURIComponent(mediaId)}`, this.baseUrl), {
        headers: { authorization: `Bearer ${this.adminToken}` },
        signal: AbortSignal.timeout(5_000),
      });
    } catch {
      return null;
    }
    const contentType = (response.headers.get("content-type") ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
    if (!response.ok || !IMAGE_TYPES.has(contentType) || !response.body) {
      await response.body?.cancel().catch(() => undefined);
      return null;
    }
    const body = await readAtMost(response.body, MAX_ICON_BYTES).catch(() => null);
    return body === null ? null : { contentType, body };
  }
}

/** The whole body, or null as soon as it passes `limit` bytes (the rest is not read). */
async function readAtMost(stream: ReadableStream<Uint8Array>, limit: number): Promise<Buffer | null> {
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let length = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return Buffer.concat(chunks);
    length += value.length;
    if (length > limit) {
      await reader.cancel().catch(() => undefined);
      return null;
    }
    chunks.push(value);
  }
}
