import { createServer, type Server } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import type { LoginFlows } from "../domain/access/single-sign-on.js";
import { IdentityProviderIcons } from "./identity-provider-icons.js";

const PNG = Buffer.from("89504e470d0a1a0a0000000d4948445200000001000000010806000000", "hex");

let server: Server | null = null;
const requests: { url: string; authorization: string | undefined }[] = [];

/** A stand-in for the homeserver's media download (a unit test: the real one is Synapse). */
async function media(answers: Record<string, { type: string; body: Buffer }>): Promise<string> {
  server = createServer((req, res) => {
    requests.push({ url: req.url ?? "", authorization: req.headers.authorization });
    const answer = answers[req.url ?? ""];
    if (!answer) return res.writeHead(404).end();
    res.writeHead(200, { "content-type": answer.type }).end(answer.body);
  });
  await new Promise<void>((resolve) => server?.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  return `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
}

afterEach(async () => {
  requests.length = 0;
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = null;
});

const flows = (icon: string | null): LoginFlows => ({ password: false, sso: { identityProviders: [{ id: "oidc-entra", name: "Entra ID", icon }] } });

describe("identity provider icons", () => {
  it("fetches a provider's mxc icon from the homeserver's authenticated media with the admin token", async () => {
    const baseUrl = await media({ "/_matrix/client/v1/media/download/trust-a.test/entraLogo": { type: "image/png", body: PNG } });
    const icons = new IdentityProviderIcons({ flows: async () => flows("mxc://trust-a.test/entraLogo") }, baseUrl, "admin-token");
    expect(await icons.icon("oidc-entra")).toEqual({ contentType: "image/png", body: PNG });
    expect(requests).toEqual([{ url: "/_matrix/client/v1/media/download/trust-a.test/entraLogo", authorization: "Bearer admin-token" }]);
  });

  it("serves nothing for an unknown provider, one without an icon, a malformed URI, or an answer that is not a small raster image", async () => {
    const baseUrl = await media({
      "/_matrix/client/v1/media/download/trust-a.test/svg": { type: "image/svg+xml", body: Buffer.from("<svg><script>alert(1)</script></svg>") },
      "/_matrix/client/v1/media/download/trust-a.test/huge": { type: "image/png", body: Buffer.alloc(300 * 1024) },
    });
    const iconsFor = (icon: string | null) => new IdentityProviderIcons({ flows: async () => flows(icon) }, baseUrl, "admin-token");
    expect(await iconsFor("mxc://trust-a.test/entraLogo").icon("oidc-other")).toBeNull();
    expect(await iconsFor(null).icon("oidc-entra")).toBeNull();
    expect(await iconsFor("https://evil.example/logo.png").icon("oidc-entra")).toBeNull();
    expect(await iconsFor("mxc://trust-a.test/../../admin").icon("oidc-entra")).toBeNull();
    expect(await iconsFor("mxc://trust-a.test/svg").icon("oidc-entra")).toBeNull();
    expect(await iconsFor("mxc://trust-a.test/huge").icon("oidc-entra")).toBeNull();
    expect(requests.map((request) => request.url)).toEqual([
      "/_matrix/client/v1/media/download/trust-a.test/svg",
      "/_matrix/client/v1/media/download/trust-a.test/huge",
    ]);
  });
});

describe("identity provider icons, asked by anyone", () => {
  it("asks the homeserver once for an icon however often the public sign-in page asks for it", async () => {
    const baseUrl = await media({ "/_matrix/client/v1/media/download/trust-a.test/entraLogo": { type: "image/png", body: PNG } });
    const icons = new IdentityProviderIcons({ flows: async () => flows("mxc://trust-a.test/entraLogo") }, baseUrl, "admin-token");
    for (let i = 0; i < 5; i++) expect(await icons.icon("oidc-entra")).toEqual({ contentType: "image/png", body: PNG });
    expect(requests).toHaveLength(1);
  });

  it("stops reading an icon at the size limit instead of waiting for the whole download", async () => {
    server = createServer((req, res) => {
      requests.push({ url: req.url ?? "", authorization: req.headers.authorization });
      // Sends more than the limit and never ends: only a reader that stops at the limit answers.
      res.writeHead(200, { "content-type": "image/png" });
      res.write(Buffer.alloc(300 * 1024));
    });
    await new Promise<void>((resolve) => server?.listen(0, "127.0.0.1", resolve));
    const address = server.address();
    const baseUrl = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
    const icons = new IdentityProviderIcons({ flows: async () => flows("mxc://trust-a.test/endless") }, baseUrl, "admin-token");
    expect(await icons.icon("oidc-entra")).toBeNull();
    server.closeAllConnections();
  });
});
