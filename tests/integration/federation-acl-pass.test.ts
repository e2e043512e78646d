import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { Handover } from "../../appservice/src/app.js";
import type { EnforcementHealth } from "../../appservice/src/http/contract.js";
import { freePort } from "../harness/util.js";
import { freshDatabase } from "../support/fresh-database.js";
import { startHandover } from "../support/handover-instance.js";
import { eventually, TestUser } from "../support/matrix-user.js";
import { PortalSession } from "../support/portal-session.js";
import { federationConfig } from "./federation-support.js";

const stack = inject("stack");
const { a: trustA, b: trustB } = stack.trusts;
const databaseUrl = await freshDatabase(stack.databaseUrls.a, "federation_acl_pass");
const PASSWORD = "federation-acl-pass-password";
const stamp = Date.now().toString(36);
const ROOMS = 24;
// Passes over many rooms with retries on a shared, loaded machine: well past vitest's default.
const SLOW = 300_000;
const OWN_ONLY = ["trust-a.test", trustA.serverName].sort();

let handover: Handover;
let portal: PortalSession;
const rooms: string[] = [];

const health = async () => (await portal.call<EnforcementHealth>("GET", "/federation/enforcement")).body.acls;
const letPartnerIn = (roomId: string) =>
  handover.bot.setState(roomId, "m.room.server_acl", "", { allow: [...OWN_ONLY, "trust-b.test", trustB.serverName], deny: [], allow_ip_literals: false });
const aclOf = async (roomId: string) => (await handover.bot.stateContent(roomId, "m.room.server_acl")) as { allow: string[] } | null;

beforeAll(async () => {
  const admin = await TestUser.register(trustA, `acl-admin-${stamp}`, PASSWORD);
  handover = await startHandover(trustA, databaseUrl, {
    webPort: await freePort(),
    roles: { [admin.userId]: "admin" },
    // Only the passes this file starts: no periodic pass in between.
    federation: federationConfig(trustA, trustB, await freePort(), "RAA", { aclSyncInterval: "1h" }),
  });
  portal = await PortalSession.signIn(handover.webPort, admin.userId, PASSWORD);
  for (let i = 0; i < ROOMS; i++) {
    const roomId = await handover.bot.createRoom({ name: `ACL pass ${stamp} ${i}`, preset: "private_chat" });
    await handover.rooms.upsert(roomId, { name: `ACL pass ${i}`, botMembership: "join" });
    rooms.push(roomId);
  }
  // The bot's join reaches Handover as an event and gets the room its ACL; wait for all of them,
  // so nothing but the passes below writes ACLs from here on.
  await eventually("every new room to get its ACL", async () => (await Promise.all(rooms.map(aclOf))).every((acl) => acl !== null), 120_000);
  // Each room now lets trust B in, as an active agreement would have left it.
  for (const roomId of rooms) await letPartnerIn(roomId);
}, SLOW);

afterAll(async () => {
  await handover?.stop();
});

describe("an ACL pass over many rooms against a real Synapse", () => {
  it(
    "writes the ACLs of many rooms in one pass side by side, and every room is confirmed and reads back without the partner",
    async () => {
      await handover.jobs.runNow("federation-acl-sync");
      const acls = await health();
      expect(acls.failed).toEqual([]);
      expect(acls.inSync).toBe(acls.managedRooms);
      expect(acls.managedRooms).toBeGreaterThanOrEqual(ROOMS);
      expect(acls.lastPass?.written).toBeGreaterThanOrEqual(ROOMS);
      for (const roomId of rooms) expect((await aclOf(roomId))?.allow.sort()).toEqual(OWN_ONLY);
    },
    SLOW,
  );

  it(
    "a room Synapse refuses is reported with its error, not lost, and the other rooms are still confirmed",
    async () => {
      const missing = `!missing-${stamp}:${trustA.serverName}`;
      await handover.rooms.upsert(missing, { name: "gone", botMembership: "join" });
      // Put the partner back in every real room, so the pass has writes to make beside the failure.
      for (const roomId of rooms) await letPartnerIn(roomId);
      await handover.jobs.runNow("federation-acl-sync");
      const acls = await health();
      expect(acls.failed).toEqual([{ roomId: missing, error: expect.stringMatching(/homeserver refused|M_FORBIDDEN|M_NOT_FOUND/i) }]);
      expect(acls.inSync).toBe(acls.managedRooms - 1);
      for (const roomId of rooms) expect((await aclOf(roomId))?.allow.sort()).toEqual(OWN_ONLY);
      // Once the room is no longer managed, the next pass has nothing left to report.
      await handover.rooms.upsert(missing, { botMembership: "leave" });
      await handover.jobs.runNow("federation-acl-sync");
      expect((await health()).failed).toEqual([]);
    },
    SLOW,
  );
});
