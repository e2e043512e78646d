import type { HomeserverSingleSignOn } from "../domain/access/single-sign-on.js";

/** Raster images only: an SVG opened on its own is a document that can carry script. */
const IMAGE_TYPES = new Set(["image/png", "image/jpeg", "image/gif", "image/webp"]);
const MAX_ICON_BYTES = 256 * 1024;
const MXC = /^mxc:\/\/([A-Za-z0-9.:[\]-]+)\/([A-Za-z0-9_-]+)$/;

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
  constructor(
    private readonly homeserver: Pick<HomeserverSingleSignOn, "flows">,
    private readonly baseUrl: string,
    private readonly adminToken: string,
  ) {}

  /** null when the provider is unknown, names no icon, or the icon is not a small raster image. */
  async icon(idpId: string): Promise<IdentityProviderIcon | null> {
    const provider = (await this.homeserver.flows()).sso?.identityProviders.find((candidate) => candidate.id === idpId);
    const match = MXC.exec(provider?.icon ?? "");
    if (!match) return null;
    const [, server = "", mediaId = ""] = match;
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
    if (!response.ok || !IMAGE_TYPES.has(contentType)) return null;
    const body = Buffer.from(await response.arrayBuffer());
    return body.length <= MAX_ICON_BYTES ? { contentType, body } : null;
  }
}
