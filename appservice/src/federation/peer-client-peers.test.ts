import { describe, expect, it } from "vitest";
import { FakeClock } from "../testing/fakes.js";
import { PeerClient } from "./peer-client.js";

describe("partner base URLs from federation.peers (issue 12.2)", () => {
  const client = new PeerClient({
    peers: { "matrix.partner.nhs.uk": "https://handover.partner.nhs.uk" },
    allowInsecure: false,
    allowLocalAddresses: false,
    pins: { get: async () => null, pin: async () => {} },
    clock: new FakeClock(),
  });

  it("uses a configured entry, and never one Object.prototype has for a server name like constructor", () => {
    expect(client.baseUrl("matrix.partner.nhs.uk")).toBe("https://handover.partner.nhs.uk");
    expect(client.baseUrl("other.nhs.uk:8448")).toBe("https://other.nhs.uk");
    for (const serverName of ["constructor", "toString", "__proto__"]) expect(client.baseUrl(serverName)).toBe(`https://${serverName}`);
  });
});
