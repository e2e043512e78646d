import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { PersonFactsRecord } from "../../appservice/src/domain/devices/watch.js";
import { createDataSource, migrate } from "../../appservice/src/storage/data-source.js";
import { PostgresDeviceWatch } from "../../appservice/src/storage/device-watch-store.js";
import { freshDatabase } from "../support/fresh-database.js";

// Issue 14: what posture passes keep between runs, on real PostgreSQL. A sign-out Handover makes
// while a pass is reading must send the person back to be read again, or the pass's read (made
// before the sign-out) stands until the next full pass, up to `devices.posture.fullEvery` later.
const stack = inject("stack");
const db = createDataSource(await freshDatabase(stack.databaseUrls.a, "device_watch_store"), 2);

beforeAll(async () => {
  await db.initialize();
  await migrate(db);
});
afterAll(async () => {
  await db.destroy();
});

const phoneAndPusher: PersonFactsRecord = {
  devices: [{ deviceId: "PHONE", displayName: "Amy's phone", lastSeenAt: new Date("2026-12-01T02:59:00Z"), lastAddress: null, userAgent: null }],
  pushers: [{ kind: "http", appId: "org.example.messenger", appDisplayName: null, deviceDisplayName: null, format: null }],
  crossSigning: undefined,
};

describe("the posture watch on PostgreSQL", () => {
  it("a lost-phone sign-out during a person's first read, before the pass saves it, sends them back to be read again", async () => {
    const watch = new PostgresDeviceWatch(db);
    const readStartedAt = new Date("2026-12-01T03:00:00Z");
    // The pass has read Amy's phone and pusher; the admin signs her out before the pass saves.
    await watch.touched(["@amy:t"], new Date("2026-12-01T03:00:05Z"));
    await watch.save([{ userId: "@amy:t", lastSeenTs: 1_000, facts: phoneAndPusher }], readStartedAt);
    expect((await watch.load()).get("@amy:t")).toMatchObject({ touchedSinceRead: true });
  });

  it("a sign-out that ended before the read began leaves the read standing, and one marker for someone never read adds nobody", async () => {
    const watch = new PostgresDeviceWatch(db);
    await watch.touched(["@ben:t"], new Date("2026-12-01T04:00:00Z"));
    expect((await watch.load()).has("@ben:t")).toBe(false);
    await watch.save([{ userId: "@ben:t", lastSeenTs: 1_000, facts: phoneAndPusher }], new Date("2026-12-01T04:00:01Z"));
    expect((await watch.load()).get("@ben:t")).toMatchObject({ touchedSinceRead: false, facts: { devices: [{ deviceId: "PHONE" }] } });
  });
});
