import { createServer } from "node:net";
import { describe, expect, it } from "vitest";
import { StandbyServer } from "./standby-server.js";

/** Binds and releases a port, proving it free now. */
async function bindable(port: number): Promise<boolean> {
  const probe = createServer();
  return new Promise((resolve) => {
    probe.once("error", () => resolve(false));
    probe.listen(port, "127.0.0.1", () => probe.close(() => resolve(true)));
  });
}

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", () => resolve()));
  const address = probe.address();
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  if (address === null || typeof address === "string") throw new Error("no port");
  return address.port;
}

describe("the standby's web server", () => {
  it("stopped while it is still opening the port, it leaves the port free for the active process", async () => {
    const port = await freePort();
    const standby = new StandbyServer();
    // What becomeActive does when the lease comes before the standby's port has opened.
    const starting = standby.start(port, "127.0.0.1");
    await standby.stop();
    await starting.catch(() => undefined);
    expect(await bindable(port)).toBe(true);
  });

  it("answers a standby's health: alive, not ready, everything else 503", async () => {
    const port = await freePort();
    const standby = new StandbyServer();
    await standby.start(port, "127.0.0.1");
    try {
      const health = await fetch(`http://127.0.0.1:${port}/healthz`);
      const ready = await fetch(`http://127.0.0.1:${port}/readyz?x=1`);
      const other = await fetch(`http://127.0.0.1:${port}/api/v1/rooms`, { method: "POST", body: "x" });
      expect([health.status, ready.status, other.status]).toEqual([200, 503, 503]);
      expect(await ready.json()).toMatchObject({ role: "standby" });
    } finally {
      await standby.stop();
    }
  });
});
