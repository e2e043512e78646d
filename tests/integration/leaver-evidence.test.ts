import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { Handover } from "../../appservice/src/app.js";
import type { DirectoryRunDetail } from "../../appservice/src/http/contract.js";
import { type SlapdServer, startSlapd } from "../harness/slapd.js";
import { freshDatabase } from "../support/fresh-database.js";
import { startHandover } from "../support/handover-instance.js";
import { ldapSource } from "../support/ldap-source.js";
import { TestUser } from "../support/matrix-user.js";
import { PortalSession } from "../support/portal-session.js";

// Hazard H-13 (docs/safety/hazard-log.md): a leaver's clinical messages are evidence. Removing a
// leaver must never redact them (MSC4293's redact-on-kick) nor erase the account's content.
const stack = inject("stack");
const trust = stack.trusts.a;
const databaseUrl = await freshDatabase(stack.databaseUrls.a, "leaver_evidence");
const tag = Date.now().toString(36);

let slapd: SlapdServer;
let handover: Handover;
let portal: PortalSession;
let alice: TestUser;
let leaver: TestUser;
let ward: string;

const person = (name: string) => `uid=${name}${tag},ou=people,${slapd.baseDn}`;

beforeAll(async () => {
  slapd = await startSlapd();
  alice = await TestUser.register(trust, `lalice${tag}`);
  leaver = await TestUser.register(trust, `lamy${tag}`);
  await slapd.add(person("lamy"), { objectClass: ["inetOrgPerson"], uid: `lamy${tag}`, cn: "amy", sn: "amy", title: "Staff Nurse" });
  await slapd.add(`cn=Ward3-${tag},ou=groups,${slapd.baseDn}`, { objectClass: ["groupOfNames"], cn: `Ward3-${tag}`, member: [person("lamy")] });
  ward = await alice.createRoom("Ward 3");
  handover = await startHandover(trust, databaseUrl, {
    roles: { [alice.userId]: "admin" },
    directory: {
      schedule: "1h",
      exempt: [alice.userId],
      maxRemovalShare: 1,
      writesPerSecond: 50,
      leavers: { endSessions: true, action: "deactivate", grace: "0s" },
      ldap: [ldapSource(slapd, tag)],
    },
  });
  portal = await PortalSession.signIn(handover.webPort, alice.userId, alice.user.password);
  await portal.ok("PUT", `/directory/rules/ward3-${tag}`, {
    id: `ward3-${tag}`,
    group: `Ward3-${tag}`,
    attribute: null,
    rooms: [ward],
    joinMode: "force-join",
  });
}, 240_000);

afterAll(async () => {
  await handover?.stop();
  await slapd?.stop();
});

describe("leavers' messages are evidence", () => {
  it("a leaver removed, logged out and deactivated by the directory keeps every message they sent, unredacted and not erased", async () => {
    const joined = await portal.ok<DirectoryRunDetail>("POST", "/directory/runs", { dryRun: false });
    expect(joined.status).toBe("applied");
    expect((await alice.members(ward))[leaver.userId]).toBe("join");
    const said = await leaver.send(ward, "Bed 4: furosemide 40 mg given at 14:00");

    await slapd.modify(person("lamy"), [{ operation: "add", attribute: "employeeType", values: ["disabled"] }]);
    const removed = await portal.ok<DirectoryRunDetail>("POST", "/directory/runs", { dryRun: false });
    expect(removed.status).toBe("applied");
    expect(removed.actions.map((action) => action.kind).sort()).toEqual(["deactivate", "end-sessions", "kick"]);
    expect((await alice.members(ward))[leaver.userId]).toBe("leave");

    const message = (await alice.messages(ward)).find((event) => event.event_id === said);
    expect(message?.content.body).toBe("Bed 4: furosemide 40 mg given at 14:00");
    const kick = (await alice.timeline(ward)).find((event) => event.type === "m.room.member" && event.content.membership === "leave");
    expect(kick?.content).not.toHaveProperty("org.matrix.msc4293.redact_events");
    const account = await fetch(`${trust.clientUrl}/_synapse/admin/v2/users/${encodeURIComponent(leaver.userId)}`, {
      headers: { authorization: `Bearer ${trust.admin.accessToken}` },
    });
    const details = (await account.json()) as { deactivated: boolean; erased?: boolean };
    expect(details.deactivated).toBe(true);
    expect(details.erased ?? false).toBe(false);
  });
});
