import { expect, test } from "@playwright/test";
import { E2E_ESR_HEADER, E2E_SCIM_TOKEN, e2eInfo } from "./e2e-info.js";
import { expectAccessible } from "./portal-page.js";

const all = e2eInfo();
const info = { ...all.trusts.a, password: all.password };
const PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const tag = Date.now().toString(36);

async function scim<T>(method: string, path: string, body?: unknown): Promise<T> {
  const response = await fetch(`${info.portalUrl}/scim/v2${path}`, {
    method,
    headers: { authorization: `Bearer ${E2E_SCIM_TOKEN}`, "content-type": "application/scim+json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  if (!response.ok) throw new Error(`SCIM ${method} ${path}: ${response.status} ${await response.text()}`);
  return (await response.json()) as T;
}

async function matrix<T>(method: string, path: string, body?: unknown): Promise<T> {
  const response = await fetch(`${info.clientUrl}/_matrix/client/v3${path}`, {
    method,
    headers: { authorization: `Bearer ${info.admin.accessToken}`, "content-type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
  return (await response.json()) as T;
}

async function memberships(roomId: string): Promise<Record<string, string>> {
  const { chunk } = await matrix<{ chunk: { state_key: string; content: { membership: string } }[] }>("GET", `/rooms/${encodeURIComponent(roomId)}/members`);
  return Object.fromEntries(chunk.map((event) => [event.state_key, event.content.membership]));
}

test("an admin writes a rule, sees the dry-run diff, runs it, and approves a held mass removal", async ({ page }) => {
  // Entra ID provisions two people and a group (SCIM), as it would on its first cycle.
  const group = `Renal-${tag}`;
  const ids: string[] = [];
  for (const person of [info.nurse.userId, info.auditor.userId]) {
    const localpart = person.slice(1).split(":")[0] as string;
    const created = await scim<{ id: string }>("POST", "/Users", {
      schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"],
      userName: `${localpart}@trust-a.nhs.uk`,
      active: true,
      externalId: `${localpart}-${tag}`,
    }).catch(async () => {
      const found = await scim<{ Resources: { id: string }[] }>("GET", `/Users?filter=${encodeURIComponent(`userName eq "${localpart}@trust-a.nhs.uk"`)}`);
      return found.Resources[0] as { id: string };
    });
    ids.push(created.id);
  }
  const scimGroup = await scim<{ id: string }>("POST", "/Groups", {
    schemas: ["urn:ietf:params:scim:schemas:core:2.0:Group"],
    displayName: group,
    members: ids.map((value) => ({ value })),
  });
  const { room_id: roomId } = await matrix<{ room_id: string }>("POST", "/createRoom", { name: `Renal ${tag}`, preset: "private_chat" });

  await page.goto(`${info.portalUrl}/sign-in`);
  await page.getByLabel("Matrix user ID").fill(info.admin.userId);
  await page.getByLabel("Password").fill(info.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Overview" })).toBeVisible();

  await page.goto(`${info.portalUrl}/directory`);
  await expect(page.getByRole("heading", { level: 1, name: "Directory" })).toBeVisible();
  await expectAccessible(page);
  await page.getByRole("link", { name: "Add a rule" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Add a rule" })).toBeVisible();

  // A mistake first: the error summary names the field.
  await page.getByLabel("Rule name").fill(`renal-${tag}`);
  await page.getByLabel("Directory group").fill(group);
  await page.getByLabel("Rooms").fill("not-a-room");
  await page.getByRole("button", { name: "Preview changes" }).click();
  await expect(page.getByRole("alert").getByText(/rooms/i).first()).toBeVisible();
  await expectAccessible(page);

  await page.getByLabel("Rooms").fill(roomId);
  await page.getByRole("button", { name: "Preview changes" }).click();
  const diff = page.getByRole("table", { name: "Changes this rule would make" });
  await expect(diff.getByRole("row", { name: new RegExp(`Invite ${info.nurse.userId}`) })).toBeVisible();
  await expect(diff.getByRole("row", { name: new RegExp(`Invite ${info.auditor.userId}`) })).toBeVisible();
  await expectAccessible(page);
  expect((await memberships(roomId))[info.nurse.userId]).toBeUndefined();

  await page.getByRole("button", { name: "Save rule" }).click();
  await expect(page.getByText(`Rule renal-${tag} saved`)).toBeVisible();
  await page.getByRole("button", { name: "Run sync now" }).click();
  await expect(page.getByText(/Sync run finished: applied/)).toBeVisible();
  await expect.poll(async () => (await memberships(roomId))[info.nurse.userId]).toBe("invite");

  // Entra empties the group: removing everyone is far over the 5% limit, so the pushed run is held.
  await scim("PATCH", `/Groups/${scimGroup.id}`, {
    schemas: [PATCH_OP],
    Operations: ids.map((id) => ({ op: "Remove", path: `members[value eq "${id}"]` })),
  });
  await expect
    .poll(
      async () => {
        await page.goto(`${info.portalUrl}/directory`);
        return page.getByText("A sync run is held").count();
      },
      { timeout: 30_000 },
    )
    .toBe(1);
  expect((await memberships(roomId))[info.nurse.userId]).toBe("invite");
  await page.getByRole("link", { name: /Review held run/ }).click();
  await expect(page.getByRole("heading", { level: 1, name: /Sync run/ })).toBeVisible();
  await expect(page.getByRole("table", { name: "Changes in this run" }).getByRole("row", { name: new RegExp(`Remove ${info.nurse.userId}`) })).toBeVisible();
  await expectAccessible(page);
  await page.getByRole("button", { name: "Approve and apply" }).click();
  await expect(page.getByText(/approved and applied: 2 changes made/)).toBeVisible();
  await expect.poll(async () => (await memberships(roomId))[info.nurse.userId]).toBe("leave");
  await expectAccessible(page);
});

test("an admin is told what is wrong with a broken ESR file, and previews a good one as a dry-run diff", async ({ page }) => {
  const { room_id: roomId } = await matrix<{ room_id: string }>("POST", "/createRoom", { name: `ESR ward ${tag}`, preset: "private_chat" });
  await page.goto(`${info.portalUrl}/sign-in`);
  await page.getByLabel("Matrix user ID").fill(info.admin.userId);
  await page.getByLabel("Password").fill(info.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Overview" })).toBeVisible();
  const rule = await page.request.put(`${info.portalUrl}/api/v1/directory/rules/esr-${tag}`, {
    data: { id: `esr-${tag}`, group: `ESR-Ward-${tag}`, attribute: null, rooms: [roomId], joinMode: "invite", power: [] },
  });
  expect(rule.status()).toBe(200);

  await page.goto(`${info.portalUrl}/directory`);
  await expect(page.getByRole("heading", { level: 2, name: "Import a staff file (CSV)" })).toBeVisible();
  await expect(page.getByText(/esr last imported .*from the watched file.*1 people/)).toBeVisible();
  const file = page.getByLabel("CSV file for esr");
  const nurse = info.nurse.userId.slice(1).split(":")[0] as string;
  const placeholder = "9000001,Esr,Placeholder,esr.placeholder,Clerk,G1A,Records,RAA,2020-01-01,";

  // A quote left open: refused whole, with the line and column named in the error summary.
  await file.setInputFiles({
    name: "broken.csv",
    mimeType: "text/csv",
    buffer: Buffer.from(`${E2E_ESR_HEADER}\r\n${placeholder}\r\n1234567,Nia,"Urse,${nurse},Nurse,N0A,ESR-Ward-${tag},RAA,2020-01-01,\r\n`),
  });
  await page.getByRole("button", { name: "Import and run sync" }).click();
  await expect(page.getByRole("alert").getByText("line 3, column 3: a quoted field is never closed")).toBeVisible();
  await expectAccessible(page);

  await file.setInputFiles({
    name: "esr.csv",
    mimeType: "text/csv",
    buffer: Buffer.from(`${E2E_ESR_HEADER}\r\n${placeholder}\r\n1234567,Nia,"Urse, Jr",${nurse},Nurse,N0A,ESR-Ward-${tag},RAA,2020-01-01,\r\n`),
  });
  await page.getByRole("button", { name: "Preview import" }).click();
  await expect(page.getByRole("status").getByText(/Not imported yet \(preview\): 2 rows, 2 people/)).toBeVisible();
  const diff = page.getByRole("table", { name: "Changes from the esr file" });
  await expect(diff.getByRole("row", { name: new RegExp(`Invite ${info.nurse.userId}`) })).toBeVisible();
  await expectAccessible(page);
  // A preview changes nothing: the room is untouched and the last import is still the watched file's.
  expect((await memberships(roomId))[info.nurse.userId]).toBeUndefined();
  await page.reload();
  await expect(page.getByText(/esr last imported .*from the watched file/)).toBeVisible();
});
