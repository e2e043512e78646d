import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { isLocalAddress, PeerHttpError, peerRequest } from "./peer-http.js";

// Loopback servers stand in for a partner's key server; loopback itself is allowed only where
// the test says so (allowLocalAddresses), as in the test stacks.
const servers: Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

async function serve(handler: Parameters<typeof createServer>[1]): Promise<{ url: string; connections: () => number }> {
  let connections = 0;
  const server = createServer(handler);
  server.on("connection", () => connections++);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, connections: () => connections };
}

const local = { allowLocalAddresses: true, timeoutMs: 10_000, maxResponseBytes: 64 * 1024 };
const problem = (promise: Promise<unknown>) =>
  promise.then(
    () => "answered",
    (error: unknown) => (error instanceof PeerHttpError ? error.problem : String(error)),
  );

describe("requests to partners' servers", () => {
  it("never connects to loopback, private or link-local addresses unless local testing is on", async () => {
    const listener = await serve((_req, res) => res.end("{}"));
    const port = new URL(listener.url).port;
    const strict = { ...local, allowLocalAddresses: false };
    expect(await problem(peerRequest({ method: "GET", url: listener.url }, strict))).toBe("refused_address");
    expect(await problem(peerRequest({ method: "GET", url: `http://localhost:${port}/` }, strict))).toBe("refused_address");
    expect(await problem(peerRequest({ method: "GET", url: `http://[::ffff:127.0.0.1]:${port}/` }, strict))).toBe("refused_address");
    expect(listener.connections()).toBe(0);
    expect(await peerRequest({ method: "GET", url: listener.url }, local)).toEqual({ status: 200, json: {} });
    for (const address of ["10.1.2.3", "172.20.0.1", "192.168.1.1", "169.254.169.254", "224.0.0.1", "fe80::1", "fd00::1", "ff02::1", "::1", "0.0.0.0"])
      expect(isLocalAddress(address)).toBe(true);
    expect(isLocalAddress("93.184.216.34")).toBe(false);
  });

  it("does not follow a redirect", async () => {
    const target = await serve((_req, res) => res.end("{}"));
    const redirecting = await serve((_req, res) => res.writeHead(302, { location: target.url }).end());
    expect(await problem(peerRequest({ method: "GET", url: redirecting.url }, local))).toBe("redirect");
    expect(target.connections()).toBe(0);
  });

  it("cuts off an answer larger than the limit, and one that trickles past the deadline", async () => {
    const huge = await serve((_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.write(`{"padding":"${"x".repeat(128 * 1024)}`);
      // Never ends: only the size limit stops the reading.
    });
    expect(await problem(peerRequest({ method: "GET", url: huge.url }, local))).toBe("too_large");
    const trickle = await serve((_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.write("{");
    });
    expect(await problem(peerRequest({ method: "GET", url: trickle.url }, { ...local, timeoutMs: 200 }))).toBe("timeout");
  });

  it("quotes nothing of the answer in its errors", async () => {
    const leaky = await serve((_req, res) => res.writeHead(302, { location: "http://SECRET.internal/" }).end("SECRET body"));
    const error = await peerRequest({ method: "GET", url: leaky.url }, local).catch((e: unknown) => e as Error);
    expect(String(error)).not.toContain("SECRET");
    expect(await peerRequest({ method: "GET", url: (await serve((_req, res) => res.end("SECRET page"))).url }, local)).toEqual({
      status: 200,
      json: undefined,
    });
  });
});
