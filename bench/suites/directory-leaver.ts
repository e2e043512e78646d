import type { DirectoryRun, DirectoryRunDetail, DirectoryRunList } from "../../appservice/src/http/contract.js";
import type { MatrixUser } from "../../tests/harness/client.js";
import { startPostgres } from "../../tests/harness/postgres.js";
import { type SlapdServer, startSlapd } from "../../tests/harness/slapd.js";
import { startStack } from "../../tests/harness/stack.js";
import { startHandover } from "../../tests/support/handover-instance.js";
import { ldapSource } from "../../tests/support/ldap-source.js";
import { TestUser } from "../../tests/support/matrix-user.js";
import { PortalSession } from "../../tests/support/portal-session.js";
import { percentile, round, type SuiteResult } from "../figures.js";
import { synapseDatabase as synapseDatabaseConfig } from "../synapse-postgres.js";
import { SynapseObserver } from "./directory-leaver-observer.js";

const ROOMS = 100;
/**
 * People on the ward (in every managed room) pushed by SCIM. Each leaves once and stays out:
 * bringing someone back into 100 rooms costs as much homeserver work as the sample itself.
 */
const LEAVERS = 4;
const GROUP_REMOVALS = 1;
/** Plus the burst's leaver. */
const SCIM_WARD = LEAVERS + GROUP_REMOVALS + 1;
/** People on the ward from LDAP: the scheduled-run comparison's leavers. */
const LDAP_WARD = 2;
/** People in the SCIM directory in no managed room: the guard's base of people is a real directory's. */
const FILLERS = 60;
const BURST = 20;
/** The default `directory.schedule`: what a leaver waits for without a push. */
const SCHEDULE_S = 300;
const TOKEN = "bench-scim-token-that-is-long-enough-0123456789";
const PASSWORD = "bench-leaver-password";
const PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User";

interface WardPerson {
  localpart: string;
  userId: string;
  scimId: string;
}

/**
 * Leaver out in seconds (issue 16.1), against a real Synapse (on PostgreSQL) and slapd, with
 * Handover as a trust runs it (SCIM endpoint, an incremental LDAP source, the default schedule,
 * writes per second and leaver policy). A person on a ward is in 100 managed rooms; the clock
 * runs from the SCIM request (an Entra-shaped `active=false` PATCH, or the removal of the person
 * from the ward's group) until Synapse says the person is joined to none of the 100 rooms and,
 * for a leaver, their access token gets 401 and no device is left. The same leaver from LDAP
 * without a push waits for the scheduled run: the incremental run that picks them up is timed,
 * and the expected and worst latencies are half and one schedule interval more.
 */
export async function directoryLeaver(): Promise<SuiteResult> {
  // Synapse on PostgreSQL, as a trust runs it: on SQLite (the harness's default) every database
  // transaction goes through one connection, so kicks in different rooms queue behind each other.
  const synapseDatabase = process.env.BENCH_LEAVER_SYNAPSE_DB === "sqlite" ? null : await startPostgres();
  const stack = await startStack({
    trusts: ["a"] as const,
    ...(synapseDatabase ? { extraSynapseConfig: { database: synapseDatabaseConfig(synapseDatabase.url) } } : {}),
  });
  const trust = stack.trusts.a;
  const observer = new SynapseObserver(trust);
  const tag = `lv${Date.now().toString(36)}`;
  let slapd: SlapdServer | null = null;
  try {
    slapd = await startSlapd();
    const ldap = slapd;
    const admin = await TestUser.register(trust, `lvadmin${tag}`);
    // Exempt from sync: the bench joins and kicks them itself, to find Synapse's own pace.
    const floorPerson = await TestUser.register(trust, `floor${tag}`);
    const ward: WardPerson[] = [];
    for (let index = 0; index < SCIM_WARD; index++) {
      const localpart = `nurse${index}${tag}`;
      ward.push({ localpart, userId: (await TestUser.register(trust, localpart, PASSWORD)).userId, scimId: "" });
    }
    const ldapDn = (index: number) => `uid=ldap${index}${tag},ou=people,${ldap.baseDn}`;
    const ldapWard: WardPerson[] = [];
    for (let index = 0; index < LDAP_WARD; index++) {
      const localpart = `ldap${index}${tag}`;
      ldapWard.push({ localpart, userId: (await TestUser.register(trust, localpart, PASSWORD)).userId, scimId: ldapDn(index) });
      await ldap.add(ldapDn(index), { objectClass: ["inetOrgPerson"], uid: localpart, cn: localpart, sn: localpart, title: "Staff Nurse" });
    }
    await ldap.add(`cn=Ward-${tag},ou=groups,${ldap.baseDn}`, {
      objectClass: ["groupOfNames"],
      cn: `Ward-${tag}`,
      member: ldapWard.map((person) => person.scimId),
    });

    const handover = await startHandover(trust, stack.databaseUrls.a, {
      roles: { [admin.userId]: "admin" },
      directory: {
        exempt: [admin.userId, floorPerson.userId],
        // The bench's ward is small and shrinks with each leaver (the last is 100 of 100 managed
        // memberships); a real ward's rooms hold many more people. The guard still judges every
        // run (its cost is in the figures); holding is tested in directory-guard and -scim-burst.
        maxRemovalShare: 1,
        removalWindow: "off",
        scim: { name: "entra", bearerToken: TOKEN },
        ldap: [ldapSource(ldap, tag, { incremental: { marker: "modifyTimestamp", fullEvery: "24h" } })],
      },
    });
    try {
      const portal = await PortalSession.signIn(handover.webPort, admin.userId, admin.user.password);
      const scim = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
        const response = await fetch(`http://127.0.0.1:${handover.webPort}/scim/v2${path}`, {
          method,
          headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/scim+json" },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        });
        const text = await response.text();
        if (response.status >= 300) throw new Error(`SCIM ${method} ${path} answered ${response.status}: ${text}`);
        return (text ? JSON.parse(text) : {}) as T;
      };
      const ruleId = `ward-${tag}`;
      // The first room is one someone else made (the bot takes it); the rest the bot creates for the rule.
      const first = await admin.createRoom("Ward 0");
      await portal.ok("PUT", `/directory/rules/${ruleId}`, { id: ruleId, group: `Ward-${tag}`, attribute: null, rooms: [first], joinMode: "force-join" });
      let rooms: string[] = [first];
      for (let index = 1; index < ROOMS; index++) {
        rooms = (await portal.ok<{ rooms: string[] }>("POST", `/directory/rules/${ruleId}/rooms`, { name: `Ward ${index}` })).rooms;
      }
      if (rooms.length !== ROOMS) throw new Error(`the rule has ${rooms.length} rooms`);

      for (const person of ward) {
        const created = await scim<{ id: string }>("POST", "/Users", { schemas: [USER_SCHEMA], userName: `${person.localpart}@trust.nhs.uk`, active: true });
        person.scimId = created.id;
      }
      for (let index = 0; index < FILLERS; index++) {
        await scim("POST", "/Users", { schemas: [USER_SCHEMA], userName: `filler${index}${tag}@trust.nhs.uk`, active: true, title: "Porter" });
      }
      const fillerIds = (await scim<{ Resources: { id: string; userName: string }[] }>("GET", "/Users?count=200")).Resources.filter((user) =>
        user.userName.startsWith("filler"),
      ).map((user) => user.id);
      const group = await scim<{ id: string }>("POST", "/Groups", {
        schemas: ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        displayName: `Ward-${tag}`,
        members: ward.map((person) => ({ value: person.scimId })),
      });
      const everyone = [...ward, ...ldapWard];
      // The pushes start the run that brings everyone in (LDAP's people too: a run reads every source).
      const seeded = performance.now();
      for (const person of everyone)
        await observer.until(seeded, `${person.userId} in every room`, async () => (await observer.inManagedRooms(person.userId, rooms)) === ROOMS);
      const seedS = (performance.now() - seeded) / 1000;

      const runsSince = async (since: number): Promise<DirectoryRun[]> =>
        (await portal.ok<DirectoryRunList>("GET", "/directory/runs")).runs.filter((run) => run.startedAt !== null && Date.parse(run.startedAt) >= since);
      const activePatch = (active: boolean) => ({ schemas: [PATCH_OP], Operations: [{ op: "Replace", path: "active", value: active ? "True" : "False" }] });

      // A leaver: Entra's active=false, then the person comes back (untimed) for the next turn.
      const leaverMs: number[] = [];
      const pushToRunMs: number[] = [];
      const applyMs: number[] = [];
      for (const person of ward.slice(0, LEAVERS)) {
        const session: MatrixUser = await observer.signIn(person.localpart, PASSWORD);
        const wallStart = Date.now();
        const started = performance.now();
        await scim("PATCH", `/Users/${person.scimId}`, activePatch(false));
        leaverMs.push(await observer.outMs(started, { userId: person.userId, session }, rooms));
        if (!(await observer.leftEveryRoom(person.userId, rooms))) throw new Error(`${person.userId} is not 'leave' in every room`);
        const run = (await runsSince(wallStart - 1000)).find((candidate) => candidate.summary.removals > 0);
        if (run?.startedAt && run.finishedAt) {
          pushToRunMs.push(Date.parse(run.startedAt) - wallStart);
          applyMs.push(Date.parse(run.finishedAt) - Date.parse(run.startedAt));
        }
      }

      // A group removal: out of the ward's rooms, still an active person with their sessions.
      const groupMs: number[] = [];
      for (const person of ward.slice(LEAVERS, LEAVERS + GROUP_REMOVALS)) {
        const started = performance.now();
        await scim("PATCH", `/Groups/${group.id}`, { schemas: [PATCH_OP], Operations: [{ op: "Remove", path: `members[value eq "${person.scimId}"]` }] });
        groupMs.push(await observer.outMs(started, { userId: person.userId, session: null }, rooms));
      }

      // A burst as Entra sends it: the leaver among title changes to other people, all at once.
      const burstLeaver = ward[SCIM_WARD - 1] as WardPerson;
      const burstSession = await observer.signIn(burstLeaver.localpart, PASSWORD);
      const burstWall = Date.now();
      const burstStarted = performance.now();
      await Promise.all([
        scim("PATCH", `/Users/${burstLeaver.scimId}`, activePatch(false)),
        ...fillerIds
          .slice(0, BURST - 1)
          .map((id, index) => scim("PATCH", `/Users/${id}`, { schemas: [PATCH_OP], Operations: [{ op: "Replace", path: "title", value: `Porter ${index}` }] })),
      ]);
      const burstMs = await observer.outMs(burstStarted, { userId: burstLeaver.userId, session: burstSession }, rooms);
      leaverMs.push(burstMs);
      // Let any run the burst would still start begin before counting.
      await new Promise((resolve) => setTimeout(resolve, 5_000));
      const burstRuns = (await runsSince(burstWall - 1000)).filter((run) => run.trigger === "scim");

      // The same leaver from LDAP, with no push: picked up by the next scheduled (incremental) run.
      const scheduledMs: number[] = [];
      for (const [index, person] of ldapWard.entries()) {
        const session = await observer.signIn(person.localpart, PASSWORD);
        await ldap.modify(ldapDn(index), [{ operation: "add", attribute: "employeeType", values: ["disabled"] }]);
        const started = performance.now();
        const run = await portal.ok<DirectoryRunDetail>("POST", "/directory/runs", { dryRun: false });
        if (run.status !== "applied") throw new Error(`the LDAP run was ${run.status}: ${run.reason}`);
        scheduledMs.push(await observer.outMs(started, { userId: person.userId, session }, rooms));
      }

      // Where a push's run spends its time before applying: a dry run (every source read, every
      // managed room's state read, the plan) and the room reads alone, as Handover makes them.
      const previewMs: number[] = [];
      const roomReadsMs: number[] = [];
      for (let sample = 0; sample < 3; sample++) {
        const previewStarted = performance.now();
        await portal.ok("POST", "/directory/preview", {});
        previewMs.push(performance.now() - previewStarted);
        const readsStarted = performance.now();
        await observer.readAll(rooms, 4);
        roomReadsMs.push(performance.now() - readsStarted);
      }

      // Synapse's own pace for the same homeserver work, with no Handover in between: the bench
      // (as the bot, with the appservice token) kicks a person from the 100 rooms, 8 at a time.
      // At Handover's most in flight (writeConcurrency, 8) and at twice that.
      const floorByConcurrency: Record<number, number> = {};
      for (const inFlight of [8, 16]) {
        for (const roomId of rooms) await observer.forceJoin(roomId, floorPerson.userId);
        const floorStarted = performance.now();
        await observer.kickAll(rooms, floorPerson.userId, trust.registration.as_token, inFlight);
        floorByConcurrency[inFlight] = performance.now() - floorStarted;
      }
      const floorMs = floorByConcurrency[8] as number;

      const sorted = (values: number[]) => [...values].sort((a, b) => a - b);
      const seconds = (ms: number) => round(ms / 1000, 2);
      const leavers = sorted(leaverMs);
      const scheduledRun = Math.max(...scheduledMs);
      const median = (values: number[]) => (values.length === 0 ? Number.NaN : percentile(sorted(values), 50));
      return {
        figures: {
          "directory.leaver_out_p99_s": seconds(percentile(leavers, 99)),
          "directory.leaver_out_p50_s": seconds(percentile(leavers, 50)),
          "directory.group_removal_out_p99_s": seconds(percentile(sorted(groupMs), 99)),
          "directory.leaver_push_to_run_s": seconds(median(pushToRunMs)),
          "directory.leaver_run_apply_s": seconds(median(applyMs)),
          "directory.burst_pushes": BURST,
          "directory.burst_runs": burstRuns.length,
          "directory.burst_leaver_out_s": seconds(burstMs),
          "directory.scheduled_run_s": seconds(scheduledRun),
          "directory.scheduled_expected_s": round(SCHEDULE_S / 2 + scheduledRun / 1000, 1),
          "directory.scheduled_worst_s": round(SCHEDULE_S + scheduledRun / 1000, 1),
          "directory.leaver_rooms": ROOMS,
          "directory.synapse_kicks_100_s": seconds(floorMs),
          "directory.synapse_kicks_100_at_16_s": seconds(floorByConcurrency[16] as number),
          "directory.leaver_over_synapse_kicks": round(percentile(leavers, 50) / floorMs, 2),
          "directory.dry_run_s": seconds(median(previewMs)),
          "directory.room_state_reads_100_s": seconds(median(roomReadsMs)),
        },
        targets: [
          { figure: "directory.leaver_out_p99_s", op: "<", value: 5 },
          { figure: "directory.group_removal_out_p99_s", op: "<", value: 5 },
          { figure: "directory.burst_runs", op: "=", value: 1 },
        ],
        notes: [
          `directory leaver: ${ROOMS} managed rooms, ${SCIM_WARD} SCIM and ${LDAP_WARD} LDAP people on the ward (in every room), ${FILLERS} more SCIM people in none; real Synapse (${synapseDatabase ? "on PostgreSQL" : "on SQLite"}), PostgreSQL, slapd; seeding ${round(seedS, 1)} s (untimed).`,
          `directory leaver: SCIM active=false to out of ${ROOMS} rooms, token 401 and no device left, per sample (s): ${leaverMs.map(seconds).join(", ")}; group removal (kicks only): ${groupMs.map(seconds).join(", ")}.`,
          `directory leaver: from the push to the run's plan ${pushToRunMs.map(seconds).join(", ")} s, the run's apply ${applyMs.map(seconds).join(", ")} s (Handover's own clock).`,
          `directory leaver: a dry run (sources, ${ROOMS} rooms' state, plan) ${previewMs.map(seconds).join(", ")} s; the ${ROOMS} room state reads alone (admin API, 4 at a time) ${roomReadsMs.map(seconds).join(", ")} s.`,
          `directory leaver: Synapse alone (the bench kicking as the bot, 8 at a time, no Handover) takes ${seconds(floorMs)} s for the same ${ROOMS} kicks (${seconds(floorByConcurrency[16] as number)} s at 16 in flight); the median leaver is ${round(percentile(leavers, 50) / floorMs, 2)}x that.`,
          `directory leaver: a burst of ${BURST} SCIM PATCHes at once (the leaver among title changes) started ${burstRuns.length} run(s).`,
          `directory leaver: no push (LDAP, incremental read): the run that picks the leaver up takes ${scheduledMs.map(seconds).join(", ")} s; with the default schedule (${SCHEDULE_S} s) a leaver waits half an interval on average plus the run (expected), a whole one at worst.`,
          "directory leaver: each leaver stays out (bringing them back into 100 rooms is as much work as the sample); the ward shrinks, so the bench sets maxRemovalShare 1 and removalWindow off: the guard still judges every run, it cannot hold one. p99 over this few samples is their maximum.",
        ],
      };
    } finally {
      await handover.stop();
    }
  } finally {
    await slapd?.stop();
    await stack.stop();
    await synapseDatabase?.stop();
  }
}
