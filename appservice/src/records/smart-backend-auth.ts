import { createPrivateKey, type KeyObject, randomUUID, sign } from "node:crypto";
import { RecordSystemError } from "../domain/records/record-destination.js";

export interface ClientCredentialsOptions {
  tokenUrl: string;
  clientId: string;
  /** PEM private key registered with the record system (its public half as a JWK). */
  privateKeyPem: string;
  keyId: string;
  algorithm: "RS384" | "ES384";
  scope: string;
  timeoutMs: number;
}

const base64url = (value: string | Buffer) => Buffer.from(value).toString("base64url");

/**
 * OAuth2 client credentials with a signed JWT assertion, as SMART Backend Services specify
 * (RS384 or ES384, `client_assertion_type` jwt-bearer, a fresh `jti`, five-minute expiry).
 * The access token is cached until shortly before it expires.
 */
export class SmartBackendAuth {
  private readonly key: KeyObject;
  private token: { value: string; expiresAt: number } | null = null;

  constructor(
    private readonly options: ClientCredentialsOptions,
    private readonly now: () => number = Date.now,
  ) {
    this.key = createPrivateKey(options.privateKeyPem);
  }

  /** The signed assertion; exposed for tests. */
  assertion(): string {
    const header = { alg: this.options.algorithm, typ: "JWT", kid: this.options.keyId };
    const seconds = Math.floor(this.now() / 1000);
    const claims = { iss: this.options.clientId, sub: this.options.clientId, aud: this.options.tokenUrl, exp: seconds + 300, jti: randomUUID() };
    const signingInput = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(claims))}`;
    const signature =
      this.options.algorithm === "ES384"
        ? sign("sha384", Buffer.from(signingInput), { key: this.key, dsaEncoding: "ieee-p1363" })
        : sign("sha384", Buffer.from(signingInput), this.key);
    return `${signingInput}.${base64url(signature)}`;
  }

  async authorization(): Promise<string> {
    if (this.token && this.token.expiresAt > this.now()) return `Bearer ${this.token.value}`;
    const body = new URLSearchParams({
      grant_type: "client_credentials",
      scope: this.options.scope,
      client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
      client_assertion: this.assertion(),
    });
    let response: Response;
    try {
      response = await fetch(this.options.tokenUrl, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json" },
        body,
        signal: AbortSignal.timeout(this.options.timeoutMs),
      });
    } catch (error) {
      throw new RecordSystemError("unavailable", `could not reach the token endpoint (${error instanceof Error ? error.message : String(error)})`);
    }
    const answer = (await response.json().catch(() => ({}))) as { access_token?: string; expires_in?: number; error?: string; error_description?: string };
    if (!response.ok || typeof answer.access_token !== "string") {
      const why = [answer.error, answer.error_description?.slice(0, 200)].filter(Boolean).join(": ");
      throw new RecordSystemError(
        response.status >= 500 ? "unavailable" : "refused",
        `the token endpoint answered HTTP ${response.status}${why ? ` ${why}` : ""}`,
      );
    }
    const lifetime = (answer.expires_in ?? 300) * 1000;
    this.token = { value: answer.access_token, expiresAt: this.now() + Math.max(0, lifetime - 60_000) };
    return `Bearer ${this.token.value}`;
  }

  forget(): void {
    this.token = null;
  }
}
