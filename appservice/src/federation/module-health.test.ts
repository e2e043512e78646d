import { describe, expect, it } from "vitest";
import type { FederationEnforcement } from "../domain/federation/enforcement.js";
import type { RequestContext } from "../http/web-server.js";
import { type FederationServices, federationHandlers } from "./handlers.js";

const STARTED = new Date("2026-12-05T09:00:00.000Z");
const WINDOW_MS = 120_000;

/** Only what the enforcement health route reads; the other services are never called. */
function healthRoute(lastAskedAt: () => Date | null, now: () => Date) {
  const enforcement = {
    lastStatus: { managedRooms: 0, inSync: 0, failed: [], lastCheckAt: null },
    allowedServers: async () => [],
  } as unknown as FederationEnforcement;
  const services = { enforcement, moduleLastAskedAt: lastAskedAt, moduleCheckWindowMs: WINDOW_MS, now } as unknown as FederationServices;
  const route = federationHandlers(services).federationEnforcement;
  return async () => (await route({} as RequestContext<"federationEnforcement">)).module;
}

describe("the Synapse module's health", () => {
  it("is 'not asked yet', not unreachable, before the module's first question", async () => {
    const module = await healthRoute(
      () => null,
      () => STARTED,
    )();
    expect(module).toEqual({ lastAskedAt: null, reachable: false, status: "not-asked-yet" });
  });

  it("is 'asking' within the check window of the last question, 'not asked recently' after it", async () => {
    let now = STARTED;
    const read = healthRoute(
      () => STARTED,
      () => now,
    );
    expect(await read()).toMatchObject({ reachable: true, status: "asking", lastAskedAt: STARTED.toISOString() });
    now = new Date(STARTED.getTime() + WINDOW_MS + 1);
    expect(await read()).toMatchObject({ reachable: false, status: "not-asked-recently" });
  });
});
