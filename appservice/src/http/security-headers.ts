import { timingSafeEqual } from "node:crypto";
import type { RequestHandler } from "express";

/**
 * The portal is the trust's admin console: no script runs but its own files (the built portal
 * has no inline script), nothing is loaded from elsewhere, and no other site may frame it.
 * Styles are held to the portal's own files too: Vue sets styles through the DOM, which CSP
 * allows, and the build writes every stylesheet to a file.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  // nhsuk-frontend's stylesheet loads the NHS font (Frutiger) from assets.nhs.uk.
  "font-src 'self' https://assets.nhs.uk",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

/** Headers on every answer of the web listener (API, portal, health). */
export function securityHeaders(publicUrl: string): Record<string, string> {
  const headers: Record<string, string> = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=(), payment=()",
  };
  // Browsers ignore HSTS over plain http; sent only when people reach the portal over https.
  if (new URL(publicUrl).protocol === "https:") headers["strict-transport-security"] = "max-age=31536000";
  return headers;
}

/** /metrics tells a reader the rates of sign-ins and transactions; with a token configured, only its holder reads it. */
export function requireMetricsToken(token: string | undefined): RequestHandler {
  const expected = token === undefined ? null : Buffer.from(`Bearer ${token}`);
  return (req, res, next) => {
    if (expected === null) return next();
    const provided = Buffer.from(req.headers.authorization ?? "");
    if (provided.length === expected.length && timingSafeEqual(provided, expected)) return next();
    res.status(401).set({ "www-authenticate": 'Bearer realm="metrics"', "cache-control": "no-store" }).type("text/plain").send("metrics need a bearer token\n");
  };
}
