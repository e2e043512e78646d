import { describe, expect, it } from "vitest";
import { CONTENT_SECURITY_POLICY, securityHeaders } from "./security-headers.js";

describe("security headers", () => {
  it("send HSTS only when people reach the portal over https", () => {
    expect(securityHeaders("https://handover.trust.example")["strict-transport-security"]).toBe("max-age=31536000");
    expect(securityHeaders("http://127.0.0.1:8090")).not.toHaveProperty("strict-transport-security");
  });

  it("allow no inline or evaluated script and no framing", () => {
    const directives = Object.fromEntries(CONTENT_SECURITY_POLICY.split("; ").map((directive) => [directive.split(" ")[0], directive]));
    expect(directives["script-src"]).toBe("script-src 'self'");
    expect(directives["frame-ancestors"]).toBe("frame-ancestors 'none'");
    expect(CONTENT_SECURITY_POLICY).not.toMatch(/unsafe-(inline|eval)/);
    expect(securityHeaders("https://handover.trust.example")).toMatchObject({
      "x-content-type-options": "nosniff",
      "referrer-policy": "no-referrer",
      "x-frame-options": "DENY",
    });
  });
});
