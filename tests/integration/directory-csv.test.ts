import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { Handover } from "../../appservice/src/app.js";
import type { AuditPage, CsvImportResult, DirectoryRunList, DirectoryStatus, ErrorResponse } from "../../appservice/src/http/contract.js";
import { freshDatabase } from "../support/fresh-database.js";
import { startHandover } from "../support/handover-instance.js";
import { eventually, TestUser } from "../support/matrix-user.js";
import { PortalSession } from "../support/portal-session.js";

const stack = inject("stack");
const trust = stack.trusts.a;
const databaseUrl = await freshDatabase(stack.databaseUrls.a, "directory_csv");
const tag = `v${Date.now().toString(36)}`;
const HEADER = "Employee Number,First Name,Last Name,Login,Position Title,Occupation Code,Area of Work,Organisation,Assignment Start Date,Assignment End Date";

let handover: Handover;
let portal: PortalSession;
let alice: TestUser; // Handover admin, exempt
let amy: TestUser;
let ben: TestUser;
let ward7: string;
let ward9: string;
let dir: string;
let watched: string;

/** An ESR-style extract: CRLF, a BOM, quoted fields with commas, as spreadsheets write them. */
function extract(rows: { id: string; user: TestUser; title: string; area: string; end?: string }[]): string {
  const lines = rows.map(
    (row) => `${row.id},First,"Last, Jr",${row.user.userId.slice(1).split(":")[0]},"${row.title}",N0A,${row.area},RXX,01/04/2020,${row.end ?? ""}`,
  );
  return `\ufeff${[HEADER, ...lines].join("\r\n")}\r\n`;
}

async function membership(roomId: string, user: TestUser): Promise<string | undefined> {
  return (await alice.members(roomId))[user.userId];
}

async function audit(action: string): Promise<AuditPage["entries"]> {
  return (await portal.ok<AuditPage>("GET", `/audit?action=${encodeURIComponent(action)}&limit=50`)).entries;
}

beforeAll(async () => {
  alice = await TestUser.register(trust, `calice${tag}`);
  amy = await TestUser.register(trust, `amy.${tag}`);
  ben = await TestUser.register(trust, `ben.${tag}`);
  ward7 = await alice.createRoom("Ward 7 (CSV)");
  ward9 = await alice.createRoom("Ward 9 (CSV)");
  dir = mkdtempSync(join(tmpdir(), "handover-csv-"));
  watched = join(dir, "esr.csv");
  writeFileSync(
    watched,
    extract([
      { id: "1001", user: amy, title: "Staff Nurse", area: "Ward 7" },
      { id: "1002", user: ben, title: "Consultant, Renal", area: "Ward 7" },
    ]),
  );
  handover = await startHandover(trust, databaseUrl, {
    roles: { [alice.userId]: "admin" },
    directory: {
      schedule: "1h",
      exempt: [alice.userId],
      maxRemovalShare: 1,
      writesPerSecond: 50,
      leavers: { endSessions: false, action: "none", grace: "0s" },
      csv: [
        {
          name: "esr",
          watch: { path: watched, interval: "1s" },
          columns: { username: "Login" },
          groups: ["{areaofwork}"],
        },
      ],
    },
  });
  portal = await PortalSession.signIn(handover.webPort, alice.userId, alice.user.password);
  for (const [id, group, room] of [
    ["ward-7", "Ward 7", ward7],
    ["ward-9", "Ward 9", ward9],
  ] as const) {
    await portal.ok("PUT", `/directory/rules/${id}`, {
      id,
      group,
      attribute: null,
      rooms: [room],
      joinMode: "force-join",
      power: [{ attribute: "title", equals: "Consultant, Renal", level: 50 }],
    });
  }
}, 240_000);

afterAll(async () => {
  await handover?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("ESR-style CSV import", () => {
  it("imports the watched file: people are in the rooms their area of work maps to, levels from their position", async () => {
    // The file is imported at start; that run may come before the rules existed, so ask for one.
    await eventually("the watched file imported", async () => (await portal.ok<DirectoryStatus>("GET", "/directory")).sources[0]?.lastImport);
    await portal.ok("POST", "/directory/runs", { dryRun: false });
    await eventually("amy and ben in Ward 7", async () => (await membership(ward7, amy)) === "join" && (await membership(ward7, ben)) === "join");
    const status = await portal.ok<DirectoryStatus>("GET", "/directory");
    expect(status.sources).toEqual([
      expect.objectContaining({ name: "esr", kind: "csv", watching: watched, lastImport: expect.objectContaining({ via: "watch", people: 2, groups: 1 }) }),
    ]);
    const levels = await alice.state<{ users: Record<string, number> }>(ward7, "m.room.power_levels");
    expect(levels.users[ben.userId]).toBe(50);
    expect(levels.users[amy.userId]).toBeUndefined();
  }, 120_000);

  it("refuses a broken upload with line and column and changes nothing", async () => {
    const broken = `${HEADER}\r\n1001,First,Last,amy,"Staff Nurse,N0A,Ward 9,RXX,01/04/2020,\r\n`;
    const answer = await portal.call<ErrorResponse>("POST", "/directory/sources/esr/csv", { csv: broken });
    expect(answer.status).toBe(400);
    expect(answer.body.error.code).toBe("VALIDATION_FAILED");
    expect(answer.body.error.message).toMatch(/refused and nothing changed: line 2, column 5: a quoted field is never closed/);
    expect(answer.body.error.details).toEqual([{ path: "line 2, column 5", message: "a quoted field is never closed" }]);
    const empty = await portal.call<ErrorResponse>("POST", "/directory/sources/esr/csv", { csv: `${HEADER}\r\n` });
    expect(empty.status).toBe(400);
    expect(empty.body.error.message).toMatch(/lists nobody/);
    const status = await portal.ok<DirectoryStatus>("GET", "/directory");
    expect(status.sources[0]?.lastImport).toMatchObject({ via: "watch", people: 2 });
    expect(await membership(ward7, amy)).toBe("join");
    expect((await audit("directory.csv.refused")).length).toBe(2);
  });

  it("previews an upload as a dry-run diff without storing it", async () => {
    const moved = extract([
      { id: "1001", user: amy, title: "Staff Nurse", area: "Ward 9" },
      { id: "1002", user: ben, title: "Consultant, Renal", area: "Ward 7" },
    ]);
    const preview = await portal.ok<CsvImportResult>("POST", "/directory/sources/esr/csv", { csv: moved, dryRun: true });
    expect(preview.import).toMatchObject({ source: "esr", rows: 2, people: 2, groups: 2, leavers: 0, stored: false });
    expect(preview.run.status).toBe("dry-run");
    expect(preview.run.actions.map((action) => [action.kind, action.roomId, action.userId])).toEqual(
      expect.arrayContaining([
        ["force-join", ward9, amy.userId],
        ["kick", ward7, amy.userId],
      ]),
    );
    expect((await portal.ok<DirectoryStatus>("GET", "/directory")).sources[0]?.lastImport?.via).toBe("watch");
    expect(await membership(ward7, amy)).toBe("join");
  });

  it("a changed file at the watched path moves a person in one run", async () => {
    writeFileSync(
      watched,
      extract([
        { id: "1001", user: amy, title: "Staff Nurse", area: "Ward 9" },
        { id: "1002", user: ben, title: "Consultant, Renal", area: "Ward 7" },
      ]),
    );
    await eventually("amy moved to Ward 9", async () => (await membership(ward9, amy)) === "join" && (await membership(ward7, amy)) === "leave", 60_000);
    // Memberships change while the run is still `applying`: wait for it to end, then check how it ended.
    const mover = await eventually("the watched file's run to end", async () => {
      const { runs } = await portal.ok<DirectoryRunList>("GET", "/directory/runs");
      const run = runs.find((candidate) => candidate.trigger === "csv" && candidate.summary.additions === 1 && candidate.summary.removals === 1);
      return run && run.status !== "applying" ? run : undefined;
    });
    expect(mover.status).toBe("applied");
  }, 90_000);

  it("a broken file at the watched path is refused once and changes nothing", async () => {
    writeFileSync(watched, `${HEADER}\r\n1001,First,Last,amy,Staff Nurse,N0A,Ward 7,RXX,31/02/2020,\r\n`);
    await eventually("the watched file refused", async () => (await audit("directory.csv.refused")).length === 3, 30_000);
    // Several more polls: the same broken content is not refused (or audited) again.
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    const refusals = await audit("directory.csv.refused");
    expect(refusals.length).toBe(3);
    expect(refusals[0]?.details).toMatchObject({ via: "watch", first: "line 2, column 9" });
    expect(await membership(ward9, amy)).toBe("join");
    expect((await portal.ok<DirectoryStatus>("GET", "/directory")).sources[0]?.lastImport?.people).toBe(2);
  }, 60_000);

  it("an uploaded file whose assignment ended makes a leaver: out of every managed room", async () => {
    const result = await portal.ok<CsvImportResult>("POST", "/directory/sources/esr/csv", {
      csv: extract([
        { id: "1001", user: amy, title: "Staff Nurse", area: "Ward 9", end: "2020-12-31" },
        { id: "1002", user: ben, title: "Consultant, Renal", area: "Ward 7" },
      ]),
    });
    expect(result.import).toMatchObject({ stored: true, people: 2, leavers: 1 });
    expect(result.run.status).toBe("applied");
    expect(await membership(ward9, amy)).toBe("leave");
    expect(await membership(ward7, ben)).toBe("join");
    expect((await audit("directory.csv.imported")).map((entry) => entry.details.via)).toEqual(["upload", "watch", "watch"]);
  }, 60_000);
});
