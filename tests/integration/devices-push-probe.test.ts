import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { Handover } from "../../appservice/src/app.js";
import type { DevicePeople, PersonDevices, Posture, SpotCheck } from "../../appservice/src/http/contract.js";
import type { TrustInfo } from "../harness/stack.js";
import { type SynapseServer, startSynapse } from "../harness/synapse.js";
import { freshDatabase } from "../support/fresh-database.js";
import { startHandover } from "../support/handover-instance.js";
import { eventually, TestUser } from "../support/matrix-user.js";
import { PortalSession } from "../support/portal-session.js";

// Issue 14: Handover finds out what the homeserver puts into pushes (Synapse's
// `push.include_content`) by watching a push arrive, rather than trusting its own config. Two
// real homeservers: the stack's (which strips content: tests/harness/synapse-config.ts) and one
// started here that includes it. Each Handover is configured to believe the opposite.
const stack = inject("stack");
const tag = Date.now().toString(36);

interface Setup {
  handover: Handover;
  admin: PortalSession;
  trust: TrustInfo;
}

async function setUp(trust: TrustInfo, databaseUrl: string, configured: boolean): Promise<Setup> {
  const boss = await TestUser.register(trust, `dprobe${tag}admin`);
  const handover = await startHandover(trust, databaseUrl, {
    roles: { [boss.userId]: "admin" },
    devices: { homeserverIncludesContent: configured, pushProbe: { enabled: true } },
  });
  return { handover, admin: await PortalSession.signIn(handover.webPort, boss.userId, boss.user.password), trust };
}

/** The answer once the probe (run at start) has finished. */
async function probed(admin: PortalSession): Promise<Posture["homeserverPush"]> {
  return eventually(
    "the push probe's answer",
    async () => {
      const push = (await admin.ok<Posture>("GET", "/devices/posture")).homeserverPush;
      return push.checkedAt !== null ? push : undefined;
    },
    90_000,
  );
}

/** A person with an HTTP pusher that does not ask for event_id_only. */
async function personWithPusher({ trust, admin }: Setup): Promise<PersonDevices> {
  const person = await TestUser.register(trust, `dprobe${tag}nurse`);
  await person.request("POST", "/pushers/set", {
    kind: "http",
    app_id: "org.handover.test.android",
    app_display_name: "Test messenger",
    device_display_name: "Ward phone",
    pushkey: `probe-${tag}`,
    lang: "en",
    data: { url: "http://127.0.0.1:9/_matrix/push/v1/notify" },
  });
  return admin.ok<PersonDevices>("GET", `/devices/people/${encodeURIComponent(person.userId)}`);
}

/** What the probe account has on the homeserver, as Synapse's admin API lists it. */
async function probeAccountLeftovers(trust: TrustInfo): Promise<{ devices: unknown[]; pushers: unknown[]; joinedRooms: unknown[] }> {
  const probeUserId = encodeURIComponent(`@handover-push-probe:${trust.serverName}`);
  const get = async <T>(endpoint: string): Promise<T> => {
    const response = await fetch(`${trust.clientUrl}/_synapse/admin${endpoint}`, { headers: { authorization: `Bearer ${trust.admin.accessToken}` } });
    return (await response.json()) as T;
  };
  return {
    devices: (await get<{ devices: unknown[] }>(`/v2/users/${probeUserId}/devices`)).devices,
    pushers: (await get<{ pushers: unknown[] }>(`/v1/users/${probeUserId}/pushers`)).pushers,
    joinedRooms: (await get<{ joined_rooms: unknown[] }>(`/v1/users/${probeUserId}/joined_rooms`)).joined_rooms,
  };
}

describe("a homeserver that strips content from pushes, with the config saying it includes it", () => {
  let setup: Setup;

  beforeAll(async () => {
    setup = await setUp(stack.trusts.a, await freshDatabase(stack.databaseUrls.a, "devices_probe_strips"), true);
  }, 240_000);

  afterAll(async () => {
    await setup?.handover.stop();
  });

  it("the probe sees a push without content and says so (source: probe), so no pusher counts as carrying content", async () => {
    expect(await probed(setup.admin)).toMatchObject({ includesContent: false, source: "probe", note: null });
    // Afterwards the probe account keeps no session, no pusher pointing at the closed listener, and no room.
    expect(await probeAccountLeftovers(setup.trust)).toEqual({ devices: [], pushers: [], joinedRooms: [] });
    const person = await personWithPusher(setup);
    expect(person.pushers).toEqual([expect.objectContaining({ format: null, carriesContent: false })]);
    // The people list says where its answer came from too.
    const listed = await setup.admin.ok<DevicePeople>("GET", "/devices/people?search=dprobe");
    expect(listed.homeserverPush).toMatchObject({ includesContent: false, source: "probe" });
    // The probe's account is Handover's own: never sampled by a spot check (nor counted or swept).
    const check = await setup.admin.ok<SpotCheck>("POST", "/devices/spot-checks", { share: 1 });
    const sampled = check.people.map((entry) => entry.userId);
    expect(sampled).toContain(person.userId);
    expect(sampled).not.toContain(`@handover-push-probe:${setup.trust.serverName}`);
  });
});

describe("a homeserver that includes content in pushes, with the config saying it strips it", () => {
  let synapse: SynapseServer;
  let setup: Setup;

  beforeAll(async () => {
    synapse = await startSynapse({
      root: stack.root,
      key: "a",
      runDir: join(stack.runDir, `devices-probe-${randomBytes(3).toString("hex")}`),
      extraConfig: { push: { include_content: true } },
    });
    setup = await setUp({ ...synapse, key: "a" as const }, await freshDatabase(stack.databaseUrls.a, "devices_probe_includes"), false);
  }, 240_000);

  afterAll(async () => {
    await setup?.handover.stop();
    await synapse?.stop();
  });

  it("the probe sees a push with content and says so, so a pusher without event_id_only carries content", async () => {
    expect(await probed(setup.admin)).toMatchObject({ includesContent: true, source: "probe" });
    const person = await personWithPusher(setup);
    expect(person.pushers).toEqual([expect.objectContaining({ format: null, carriesContent: true })]);
  });
});
