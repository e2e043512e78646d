import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { Handover } from "../../appservice/src/app.js";
import type { Posture, SignOutResult, SpotCheck } from "../../appservice/src/http/contract.js";
import { freshDatabase } from "../support/fresh-database.js";
import { startHandover } from "../support/handover-instance.js";
import { eventually, TestUser } from "../support/matrix-user.js";
import { PortalSession } from "../support/portal-session.js";

// Issue 14: the push probe's account name, @handover-push-probe, can already be someone's real
// account (an SSO or directory user of that name). The probe leaves such an account alone; it
// must then be treated like anyone's: counted, sampled and signed out when its phone is lost.
// Trust b's homeserver: no other test runs a push probe there.
const stack = inject("stack");
const trust = stack.trusts.b;
const tag = Date.now().toString(36);

let handover: Handover;
let admin: PortalSession;
let squatter: TestUser;

beforeAll(async () => {
  squatter = await TestUser.register(trust, "handover-push-probe");
  const boss = await TestUser.register(trust, `dprobename${tag}admin`);
  handover = await startHandover(trust, await freshDatabase(stack.databaseUrls.b, "devices_probe_name"), {
    roles: { [boss.userId]: "admin" },
    devices: { pushProbe: { enabled: true } },
  });
  admin = await PortalSession.signIn(handover.webPort, boss.userId, boss.user.password);
}, 240_000);

afterAll(async () => {
  await handover?.stop();
});

async function syncStatus(accessToken: string): Promise<number> {
  const response = await fetch(`${trust.clientUrl}/_matrix/client/v3/sync?timeout=0`, { headers: { authorization: `Bearer ${accessToken}` } });
  await response.body?.cancel();
  return response.status;
}

describe("a real account named like the push probe's", () => {
  it("is left alone by the probe, sampled by spot checks, and its lost phone is signed out like anyone's", async () => {
    const push = await eventually(
      "the push probe to give up on the account",
      async () => {
        const answer = (await admin.ok<Posture>("GET", "/devices/posture")).homeserverPush;
        return answer.note?.includes("is not Handover's probe account") ? answer : undefined;
      },
      90_000,
    );
    expect(push.source).toBe("config");
    // The person's session survived the probe (no password reset).
    expect(await syncStatus(squatter.user.accessToken)).toBe(200);

    // Sampled by a spot check of everyone, like any person.
    const check = await admin.ok<SpotCheck>("POST", "/devices/spot-checks", { share: 1 });
    expect(check.people.map((person) => person.userId)).toContain(squatter.userId);

    const result = await admin.ok<SignOutResult>("POST", `/devices/people/${encodeURIComponent(squatter.userId)}/lost-phone`, {
      reason: "phone left on the bus",
    });
    expect(result.signedOut).toHaveLength(1);
    expect(await syncStatus(squatter.user.accessToken)).toBe(401);
  });
});
