import type { Posture } from "../../appservice/src/http/contract.js";
import { matrixRequest, registerUser } from "../../tests/harness/client.js";
import { startStack } from "../../tests/harness/stack.js";
import { startHandover } from "../../tests/support/handover-instance.js";
import { TestUser } from "../../tests/support/matrix-user.js";
import { PortalSession } from "../../tests/support/portal-session.js";
import { round, type SuiteResult } from "../figures.js";

const PEOPLE = 2_000;
const SEED_CONCURRENCY = 8;

async function inParallel(count: number, limit: number, work: (index: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < count) await work(next++);
    }),
  );
}

/**
 * The trust-wide posture pass against a real Synapse: 2,000 people with two devices each (the
 * registration's and one more login), through Handover's API as an admin would take a snapshot.
 * Seeding is not timed. The pass uses the default `devices.adminConcurrency` (4).
 */
export async function devices(): Promise<SuiteResult> {
  const stack = await startStack({ trusts: ["a"] as const });
  const trust = stack.trusts.a;
  const tag = Date.now().toString(36);
  try {
    const admin = await TestUser.register(trust, `bench-devices-admin-${tag}`);
    await inParallel(PEOPLE, SEED_CONCURRENCY, async (index) => {
      const person = await registerUser(trust, `bench-person-${tag}-${index}`, "bench-password");
      await matrixRequest(`${trust.clientUrl}/_matrix/client/v3/login`, {
        method: "POST",
        body: { type: "m.login.password", identifier: { type: "m.id.user", user: person.userId }, password: "bench-password" },
      });
    });
    const handover = await startHandover(trust, stack.databaseUrls.a, { roles: { [admin.userId]: "admin" } });
    try {
      const portal = await PortalSession.signIn(handover.webPort, admin.userId, admin.user.password);
      const started = performance.now();
      const posture = await portal.ok<Posture>("POST", "/devices/posture/snapshots");
      const seconds = (performance.now() - started) / 1000;
      const latest = posture.latest;
      if (!latest) throw new Error("no posture snapshot");
      // Between full passes: one person signs in on a new device and uses it, then an incremental
      // pass (Synapse writes "last seen" in 5-second batches: wait until the pass sees it).
      const mover = await registerUser(trust, `bench-mover-${tag}`, "bench-password");
      const moverLogin = await matrixRequest<{ access_token: string }>(`${trust.clientUrl}/_matrix/client/v3/login`, {
        method: "POST",
        body: { type: "m.login.password", identifier: { type: "m.id.user", user: mover.userId }, password: "bench-password" },
      });
      await matrixRequest(`${trust.clientUrl}/_matrix/client/v3/sync?timeout=0`, { method: "GET", accessToken: moverLogin.access_token });
      await new Promise((resolve) => setTimeout(resolve, 6_000));
      const incrementalStarted = performance.now();
      const incremental = (await portal.ok<Posture>("POST", "/devices/posture/snapshots")).latest;
      const incrementalSeconds = (performance.now() - incrementalStarted) / 1000;
      if (!incremental) throw new Error("no incremental posture snapshot");
      return {
        figures: {
          "devices.posture_2000_s": round(seconds, 2),
          "devices.people": latest.counts.people,
          "devices.devices": latest.counts.devices,
          "devices.admin_calls": latest.adminCalls,
          "devices.admin_calls_per_person": round(latest.adminCallsPerPerson ?? Number.NaN, 3),
          "devices.posture_incremental_2000_s": round(incrementalSeconds, 2),
          "devices.incremental_people_read": incremental.peopleRead,
          "devices.incremental_admin_calls": incremental.adminCalls,
          "devices.incremental_admin_calls_per_person": round(incremental.adminCallsPerPerson ?? Number.NaN, 3),
        },
        targets: [{ figure: "devices.posture_2000_s", op: "<", value: 30 }],
        notes: [
          `devices: ${latest.counts.people} people (${PEOPLE} seeded with two devices each, plus the bench's admin), ${latest.counts.devices} devices; one pass through POST /devices/posture/snapshots on a real Synapse (SQLite, bcrypt_rounds 4), adminConcurrency 4.`,
          `devices: then one new person signs in and syncs, and an incremental pass (${incremental.kind}) reads ${incremental.peopleRead} people of ${incremental.counts.people}: the account pages plus devices and pushers of those read.`,
          "devices: admin calls per person counts Synapse admin API calls (devices and pushers per person, plus one account page per 100 people); cross-signing is one /keys/query as the bot per 100 people, not counted.",
        ],
      };
    } finally {
      await handover.stop();
    }
  } finally {
    await stack.stop();
  }
}
