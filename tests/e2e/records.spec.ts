import { expect, test } from "@playwright/test";
import { e2eInfo } from "./e2e-info.js";
import { expectAccessible } from "./portal-page.js";

const all = e2eInfo();
const info = { ...all.trusts.a, password: all.password };

async function asAdmin<T>(method: string, path: string, body?: unknown): Promise<T> {
  const response = await fetch(`${info.clientUrl}/_matrix/client/v3${path}`, {
    method,
    headers: { authorization: `Bearer ${info.admin.accessToken}`, "content-type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
  return (await response.json()) as T;
}

/** A room of its own with the bot in it and a short clinical conversation, made through the client API. */
async function conversationRoom(name: string): Promise<string> {
  const { room_id: roomId } = await asAdmin<{ room_id: string }>("POST", "/createRoom", { name, preset: "private_chat" });
  // Patients are looked up only in clinical rooms; the bot reads the kind from the state when it joins.
  await asAdmin("PUT", `/rooms/${encodeURIComponent(roomId)}/state/org.handover.classification/`, { kind: "clinical" });
  await asAdmin("POST", `/rooms/${encodeURIComponent(roomId)}/invite`, { user_id: info.botUserId });
  await expect
    .poll(async () => {
      const { chunk } = await asAdmin<{ chunk: { state_key: string; content: { membership: string } }[] }>(
        "GET",
        `/rooms/${encodeURIComponent(roomId)}/members`,
      );
      return chunk.find((event) => event.state_key === info.botUserId)?.content.membership;
    })
    .toBe("join");
  for (const [index, body] of ["Bed 12: chest pain settled after GTN.", "ECG repeated, no new changes. Troponin at 14:00."].entries()) {
    await asAdmin("PUT", `/rooms/${encodeURIComponent(roomId)}/send/m.room.message/e2e-records-${Date.now()}-${index}`, { msgtype: "m.text", body });
  }
  return roomId;
}

test("an admin links a room to a patient, files the conversation and sees the record system's receipt", async ({ page }) => {
  const roomName = `Ward 12 records ${Date.now()}`;
  await conversationRoom(roomName);

  await page.goto(`${info.portalUrl}/sign-in`);
  await page.getByLabel("Matrix user ID").fill(info.admin.userId);
  await page.getByLabel("Password").fill(info.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Overview" })).toBeVisible();

  await page.getByRole("link", { name: "Records", exact: true }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Records" })).toBeVisible();
  await expectAccessible(page);

  await page.getByLabel("Room").selectOption({ label: roomName });
  await page.getByLabel("NHS number").fill("987 654 4321");
  await page.getByRole("button", { name: "Link patient" }).click();
  await expect(page.getByRole("alert").filter({ hasText: "check digit does not match" })).toBeVisible();
  await expectAccessible(page);

  await page.getByLabel("NHS number").fill("943 476 5919");
  await page.getByRole("button", { name: "Link patient" }).click();
  await expect(page.getByText(`${roomName} is linked to NHS number 943 476 5919`)).toBeVisible();

  const links = page.getByRole("table", { name: "Rooms and threads linked to a patient" });
  await links
    .getByRole("row", { name: new RegExp(roomName) })
    .getByRole("button", { name: /File conversation/ })
    .click();
  const confirmation = page.getByTestId("filing-confirmation");
  await expect(confirmation).toContainText("2 messages");
  await expect(confirmation).toContainText("NHS number 943 476 5919");
  await expectAccessible(page);
  await confirmation.getByRole("button", { name: "Confirm and file" }).click();

  await expect(page.getByText(/Filed to the record as DocumentReference\//)).toBeVisible();
  const filings = page.getByRole("table", { name: "Filings to the patient record, newest first" });
  const row = filings.getByRole("row", { name: new RegExp(roomName) });
  await expect(row.getByText("Filed", { exact: true })).toBeVisible();
  await expect(row.getByText(/DocumentReference\/[0-9a-f-]+/)).toBeVisible();
  await expectAccessible(page);

  // The IG question: who looked this patient up? Answered by the keyed hash of the number.
  await page.getByLabel("Patient to search for").fill("943 476 5919");
  await page.getByRole("button", { name: "Who looked this patient up?" }).click();
  const lookups = page.getByRole("table", { name: "Lookups of this patient, newest first" });
  await expect(lookups.getByRole("row", { name: new RegExp(roomName) }).first()).toContainText(info.admin.userId);
  await expectAccessible(page);
});
