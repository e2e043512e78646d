import { createPublicKey, type JsonWebKey, randomBytes, verify } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";

export interface TokenEndpointOptions {
  /** The client id registered for Handover. */
  clientId: string;
  /** The client's public keys, as the record system holds them (a JWK set). */
  jwks: { keys: (JsonWebKey & { kid?: string })[] };
  /** Lifetime of issued access tokens; default 300 s. */
  tokenLifetimeSeconds?: number;
}

const JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/** SMART Backend Services: the assertion must expire no more than five minutes ahead. */
const MAX_ASSERTION_LIFETIME_S = 300;

class Refusal extends Error {
  constructor(
    readonly status: number,
    readonly error: string,
    description: string,
  ) {
    super(description);
  }
}

const fromBase64url = (part: string | undefined) => Buffer.from(part ?? "", "base64url");

/**
 * The token endpoint of a record system that follows SMART Backend Services: OAuth2 client
 * credentials where the client proves itself with a JWT it signs (RS384 or ES384) and the
 * server checks against the client's registered public key. Issues short-lived bearer tokens
 * that the FHIR endpoints then require.
 */
export class SmartTokenEndpoint {
  jwks: TokenEndpointOptions["jwks"];
  /** Every access token issued, oldest first. */
  readonly issued: { token: string; expiresAt: number }[] = [];
  /** Why assertions were refused, oldest first. */
  readonly refusals: string[] = [];
  private readonly seenJti = new Set<string>();

  constructor(
    private readonly options: TokenEndpointOptions,
    private readonly tokenUrl: () => string,
  ) {
    this.jwks = options.jwks;
  }

  /** Makes every token issued so far expired, as time passing would. */
  expireTokens(): void {
    for (const token of this.issued) token.expiresAt = 0;
  }

  /** Whether an Authorization header carries a token this endpoint issued that has not expired. */
  accepts(authorization: string | undefined): boolean {
    const token = /^Bearer (.+)$/i.exec(authorization ?? "")?.[1];
    return this.issued.some((issued) => issued.token === token && issued.expiresAt > Date.now());
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const form = new URLSearchParams(Buffer.concat(chunks).toString("utf8"));
    try {
      if (req.method !== "POST") throw new Refusal(405, "invalid_request", "the token endpoint takes POST");
      this.check(form);
      const lifetime = this.options.tokenLifetimeSeconds ?? 300;
      const token = randomBytes(24).toString("base64url");
      this.issued.push({ token, expiresAt: Date.now() + lifetime * 1000 });
      const answer = { access_token: token, token_type: "bearer", expires_in: lifetime, scope: form.get("scope") ?? "" };
      res.writeHead(200, { "content-type": "application/json", "cache-control": "no-store" }).end(JSON.stringify(answer));
    } catch (error) {
      const refusal = error instanceof Refusal ? error : new Refusal(400, "invalid_request", String(error));
      this.refusals.push(refusal.message);
      res.writeHead(refusal.status, { "content-type": "application/json" }).end(JSON.stringify({ error: refusal.error, error_description: refusal.message }));
    }
  }

  private check(form: URLSearchParams): void {
    if (form.get("grant_type") !== "client_credentials") throw new Refusal(400, "unsupported_grant_type", "grant_type must be client_credentials");
    if (form.get("client_assertion_type") !== JWT_BEARER) throw new Refusal(400, "invalid_request", `client_assertion_type must be ${JWT_BEARER}`);
    const parts = (form.get("client_assertion") ?? "").split(".");
    if (parts.length !== 3) throw new Refusal(400, "invalid_request", "client_assertion is not a signed JWT");
    const [headerPart, claimsPart, signaturePart] = parts as [string, string, string];
    let header: { alg?: string; kid?: string };
    let claims: { iss?: string; sub?: string; aud?: string; exp?: number; jti?: string };
    try {
      header = JSON.parse(fromBase64url(headerPart).toString("utf8"));
      claims = JSON.parse(fromBase64url(claimsPart).toString("utf8"));
    } catch {
      throw new Refusal(400, "invalid_request", "client_assertion is not a JWT");
    }
    if (header.alg !== "RS384" && header.alg !== "ES384") throw new Refusal(401, "invalid_client", `unsupported alg ${String(header.alg)}: RS384 or ES384`);
    const candidates = this.jwks.keys.filter((key) => header.kid === undefined || key.kid === header.kid);
    if (candidates.length === 0) throw new Refusal(401, "invalid_client", `no registered key with kid ${String(header.kid)}`);
    const signed = Buffer.from(`${headerPart}.${claimsPart}`);
    const signature = fromBase64url(signaturePart);
    const verified = candidates.some((jwk) => {
      try {
        const key = createPublicKey({ key: jwk, format: "jwk" });
        return verify("sha384", signed, header.alg === "ES384" ? { key, dsaEncoding: "ieee-p1363" } : key, signature);
      } catch {
        return false;
      }
    });
    if (!verified) throw new Refusal(401, "invalid_client", "the client assertion's signature does not verify against the registered key");
    if (claims.iss !== this.options.clientId || claims.sub !== this.options.clientId)
      throw new Refusal(401, "invalid_client", "iss and sub must both be the registered client_id");
    if (claims.aud !== this.tokenUrl()) throw new Refusal(401, "invalid_client", `aud must be the token URL ${this.tokenUrl()}`);
    const now = Math.floor(Date.now() / 1000);
    if (typeof claims.exp !== "number" || claims.exp <= now) throw new Refusal(401, "invalid_client", "the client assertion has expired");
    if (claims.exp > now + MAX_ASSERTION_LIFETIME_S) throw new Refusal(401, "invalid_client", "exp must be no more than five minutes ahead");
    if (typeof claims.jti !== "string" || claims.jti === "") throw new Refusal(401, "invalid_client", "jti is required");
    if (this.seenJti.has(claims.jti)) throw new Refusal(401, "invalid_client", "jti has been used before");
    this.seenJti.add(claims.jti);
  }
}
