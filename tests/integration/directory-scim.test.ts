import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { Handover } from "../../appservice/src/app.js";
import type { DirectoryRunList } from "../../appservice/src/http/contract.js";
import { freshDatabase } from "../support/fresh-database.js";
import { startHandover } from "../support/handover-instance.js";
import { eventually, TestUser } from "../support/matrix-user.js";
import { PortalSession } from "../support/portal-session.js";

const stack = inject("stack");
const trust = stack.trusts.a;
const databaseUrl = await freshDatabase(stack.databaseUrls.a, "directory_scim");
const tag = `c${Date.now().toString(36)}`;
const TOKEN = "scim-test-token-that-is-long-enough-0123456789";
const ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

let handover: Handover;
let portal: PortalSession;
let alice: TestUser;
let eve: TestUser; // provisioned by Entra ID
let olly: TestUser; // provisioned by Okta
let roomId: string;

async function scim<T = Record<string, unknown>>(method: string, path: string, body?: unknown, token = TOKEN): Promise<{ status: number; body: T }> {
  const response = await fetch(`http://127.0.0.1:${handover.webPort}/scim/v2${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/scim+json" }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, body: (text ? JSON.parse(text) : {}) as T };
}

async function membership(user: TestUser): Promise<string | undefined> {
  return (await alice.members(roomId))[user.userId];
}

beforeAll(async () => {
  alice = await TestUser.register(trust, `salice${tag}`);
  eve = await TestUser.register(trust, `eve.${tag}`);
  olly = await TestUser.register(trust, `olly.${tag}`);
  roomId = await alice.createRoom("Renal outreach");
  handover = await startHandover(trust, databaseUrl, {
    roles: { [alice.userId]: "admin" },
    directory: {
      schedule: "1h",
      exempt: [alice.userId],
      maxRemovalShare: 1,
      leavers: { endSessions: true, action: "none", grace: "0s" },
      scim: { name: "entra", bearerToken: TOKEN, syncDelay: "500ms" },
    },
  });
  portal = await PortalSession.signIn(handover.webPort, alice.userId, alice.user.password);
  await portal.ok("PUT", `/directory/rules/renal-${tag}`, {
    id: `renal-${tag}`,
    group: `Renal-${tag}`,
    attribute: null,
    rooms: [roomId],
    joinMode: "force-join",
    power: [{ attribute: "title", equals: "Consultant Nephrologist", level: 50 }],
  });
}, 240_000);

afterAll(async () => {
  await handover?.stop();
});

describe("SCIM 2.0 provisioning shaped like Entra ID and Okta", () => {
  let eveId: string;
  let ollyId: string;
  let groupId: string;

  it("answers discovery and refuses a wrong bearer token", async () => {
    expect((await scim("GET", "/ServiceProviderConfig")).body).toMatchObject({ patch: { supported: true }, filter: { supported: true } });
    expect((await scim<{ totalResults: number }>("GET", "/ResourceTypes")).body.totalResults).toBe(2);
    expect((await scim<{ Resources: { id: string }[] }>("GET", "/Schemas")).body.Resources.map((schema) => schema.id)).toContain(ENTERPRISE);
    const refused = await scim("GET", "/Users", undefined, "wrong-token");
    expect(refused.status).toBe(401);
    expect(refused.body).toMatchObject({ schemas: ["urn:ietf:params:scim:api:messages:2.0:Error"], status: "401" });
  });

  it("Entra: looks the user up by userName, creates it, refuses a duplicate, creates a group and adds the member with PATCH", async () => {
    const userName = `eve.${tag}@trust.nhs.uk`;
    const lookup = await scim<{ totalResults: number; Resources: unknown[] }>("GET", `/Users?filter=${encodeURIComponent(`userName eq "${userName}"`)}`);
    expect(lookup.body).toMatchObject({ totalResults: 0, Resources: [] });
    const user = {
      schemas: ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
      externalId: "0f3c-entra-object-id",
      userName,
      active: true,
      displayName: "Eve Example",
      title: "Consultant Nephrologist",
      emails: [{ primary: true, type: "work", value: userName }],
      name: { formatted: "Eve Example", familyName: "Example", givenName: "Eve" },
      [ENTERPRISE]: { employeeNumber: "E1001", department: "Renal" },
    };
    const created = await scim<{ id: string; active: boolean }>("POST", "/Users", user);
    expect(created.status).toBe(201);
    eveId = created.body.id;
    expect((await scim("POST", "/Users", user)).body).toMatchObject({ status: "409", scimType: "uniqueness" });
    const found = await scim<{ totalResults: number; Resources: { id: string }[] }>("GET", `/Users?filter=${encodeURIComponent(`userName eq "${userName}"`)}`);
    expect(found.body.Resources[0]?.id).toBe(eveId);

    const groupLookup = await scim<{ totalResults: number }>(
      "GET",
      `/Groups?excludedAttributes=members&filter=${encodeURIComponent(`displayName eq "Renal-${tag}"`)}`,
    );
    expect(groupLookup.body.totalResults).toBe(0);
    const group = await scim<{ id: string }>("POST", "/Groups", {
      schemas: ["urn:ietf:params:scim:schemas:core:2.0:Group"],
      externalId: "group-object-id",
      displayName: `Renal-${tag}`,
      members: [],
    });
    expect(group.status).toBe(201);
    groupId = group.body.id;
    const patched = await scim("PATCH", `/Groups/${groupId}`, {
      schemas: [PATCH_OP],
      Operations: [{ op: "Add", path: "members", value: [{ value: eveId }] }],
    });
    expect(patched.status).toBe(200);

    // The push triggers a sync run by itself.
    await eventually("eve to be joined by the run after the push", async () => (await membership(eve)) === "join", 60_000);
    // The join comes first in the run; the power-levels write follows it.
    await eventually(
      "eve's power level",
      async () => (await alice.state<{ users: Record<string, number> }>(roomId, "m.room.power_levels")).users[eve.userId] === 50,
    );
    // Each push (user, group, membership) may start a run; the one that joined eve was applied.
    await eventually("a SCIM-triggered run to be applied", async () => {
      const runs = await portal.ok<DirectoryRunList>("GET", "/directory/runs");
      return runs.runs.some((run) => run.trigger === "scim" && run.status === "applied");
    });
  });

  it("Okta: creates a user, adds it to the group, and disables it with PUT active=false", async () => {
    const userName = `olly.${tag}@trust.nhs.uk`;
    const body = {
      schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"],
      userName,
      name: { givenName: "Olly", familyName: "Okta" },
      emails: [{ primary: true, value: userName, type: "work" }],
      displayName: "Olly Okta",
      locale: "en-GB",
      externalId: "00u1okta",
      groups: [],
      password: "ignored-by-handover",
      active: true,
    };
    const created = await scim<{ id: string }>("POST", "/Users", body);
    expect(created.status).toBe(201);
    ollyId = created.body.id;
    await scim("PATCH", `/Groups/${groupId}`, {
      schemas: [PATCH_OP],
      Operations: [{ op: "add", path: "members", value: [{ value: ollyId, display: userName }] }],
    });
    await eventually("olly joined", async () => (await membership(olly)) === "join", 60_000);

    const replaced = await scim<{ active: boolean }>("PUT", `/Users/${ollyId}`, { ...body, id: ollyId, active: false });
    expect(replaced.body.active).toBe(false);
    await eventually("olly removed", async () => (await membership(olly)) === "leave", 60_000);
    // Sessions ended (the step after the removal): olly's client is logged out.
    await eventually("olly's client to be logged out", async () =>
      olly.messages(roomId).then(
        () => false,
        (error: Error) => /401|M_UNKNOWN_TOKEN/.test(error.message),
      ),
    );
  });

  it("a __proto__ PATCH is refused and the portal keeps working (issue 12.2)", async () => {
    // Sent as raw JSON: a `__proto__` key in an object literal would set the literal's prototype.
    const raw = async (path: string, operations: string) => {
      const response = await fetch(`http://127.0.0.1:${handover.webPort}/scim/v2${path}`, {
        method: "PATCH",
        headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/scim+json" },
        body: `{"schemas": ["${PATCH_OP}"], "Operations": ${operations}}`,
      });
      return { status: response.status, body: (await response.json()) as { scimType?: string; status?: string } };
    };
    const attempts: [string, string][] = [
      [`/Users/${eveId}`, '[{"op": "add", "path": "__proto__.handoverPolluted", "value": "yes"}]'],
      [`/Users/${eveId}`, '[{"op": "replace", "path": "name.__proto__.handoverPolluted", "value": "yes"}]'],
      [`/Users/${eveId}`, '[{"op": "add", "path": "constructor.prototype.handoverPolluted", "value": "yes"}]'],
      [`/Users/${eveId}`, '[{"op": "add", "path": "emails[type eq \\"work\\"].__proto__", "value": {"handoverPolluted": "yes"}}]'],
      [`/Users/${eveId}`, '[{"op": "add", "value": {"__proto__": {"handoverPolluted": "yes"}}}]'],
      [`/Users/${eveId}`, `[{"op": "add", "path": "${ENTERPRISE}:__proto__.handoverPolluted", "value": "yes"}]`],
      [`/Groups/${groupId}`, '[{"op": "add", "path": "__proto__.handoverPolluted", "value": "yes"}]'],
    ];
    for (const [path, operations] of attempts) {
      const refused = await raw(path, operations);
      expect(refused.status, operations).toBe(400);
      expect(refused.body).toMatchObject({ status: "400", scimType: "invalidPath" });
    }
    // Handover runs in this process: nothing reached the prototype every object shares.
    expect(({} as Record<string, unknown>).handoverPolluted).toBeUndefined();
    // Eve is as she was, SCIM and the portal still answer.
    expect((await scim<{ active: boolean; displayName: string }>("GET", `/Users/${eveId}`)).body).toMatchObject({ active: true, displayName: "Eve Example" });
    expect((await portal.call("GET", "/directory/runs")).status).toBe(200);
    const renamed = await scim("PATCH", `/Users/${eveId}`, { schemas: [PATCH_OP], Operations: [{ op: "replace", path: "name.givenName", value: "Evelyn" }] });
    expect(renamed).toMatchObject({ status: 200, body: { name: { givenName: "Evelyn" } } });
  });

  it('Entra: PATCH active="False" disables; removing a member with a filtered path; DELETE', async () => {
    await scim("PATCH", `/Users/${eveId}`, { schemas: [PATCH_OP], Operations: [{ op: "Replace", path: "active", value: "False" }] });
    expect((await scim<{ active: boolean }>("GET", `/Users/${eveId}`)).body.active).toBe(false);
    await eventually("eve removed", async () => (await membership(eve)) === "leave", 60_000);

    const removed = await scim<{ members: unknown[] }>("PATCH", `/Groups/${groupId}`, {
      schemas: [PATCH_OP],
      Operations: [{ op: "remove", path: `members[value eq "${eveId}"]` }],
    });
    expect(removed.body.members).toEqual([{ value: ollyId }]);
    expect((await scim("DELETE", `/Users/${eveId}`)).status).toBe(204);
    expect((await scim("GET", `/Users/${eveId}`)).status).toBe(404);
    const bad = await scim("PATCH", `/Users/${ollyId}`, { schemas: [PATCH_OP], Operations: [{ op: "jump", path: "active" }] });
    expect(bad.status).toBe(400);
  });
});
