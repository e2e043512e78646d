import { describe, expect, it } from "vitest";
import { FakeClock, RecordingAudit } from "../../testing/fakes.js";
import { type AclPassDeps, runAclPass, type ServerAcl } from "./acl-pass.js";
import type { AgreementRecord } from "./agreement.js";
import { FederationEnforcement } from "./enforcement.js";
import type { SignedMessage } from "./signed-message.js";

const A = "trust-a.test:8481";
const B = "trust-b.test:8482";
const rooms = Array.from({ length: 40 }, (_, i) => `!r${i}:trust-a.test:8481`);
const shut: ServerAcl = { allow: ["trust-a.test", A], deny: [], allow_ip_literals: false };
const open: ServerAcl = { allow: ["trust-a.test", A, "trust-b.test", B], deny: [], allow_ip_literals: false };

/** A homeserver's room state held in memory, answering after a turn of the event loop. */
function homeserver(start: ServerAcl | null, refuse: (roomId: string, attempt: number) => boolean = () => false) {
  const acls = new Map<string, ServerAcl>(rooms.flatMap((roomId) => (start ? [[roomId, start] as const] : [])));
  const attempts = new Map<string, number>();
  let inFlight = 0;
  let most = 0;
  const turn = async () => {
    inFlight++;
    most = Math.max(most, inFlight);
    await new Promise((resolve) => setImmediate(resolve));
    inFlight--;
  };
  const slept: number[] = [];
  const deps: AclPassDeps = {
    acl: {
      readAcl: async (roomId) => {
        await turn();
        return acls.get(roomId) ?? null;
      },
      writeAcl: async (roomId, acl) => {
        await turn();
        const attempt = (attempts.get(roomId) ?? 0) + 1;
        attempts.set(roomId, attempt);
        if (refuse(roomId, attempt)) throw new Error(`The homeserver refused to set m.room.server_acl: M_FORBIDDEN (attempt ${attempt})`);
        acls.set(roomId, acl);
      },
    },
    concurrency: { initial: 4, min: 1, max: 8, tolerance: 2 },
    retryDelaysMs: [1_000, 5_000],
    sleep: async (ms) => void slept.push(ms),
  };
  return { deps, acls, attempts, slept, most: () => most };
}

/** Someone puts the partner back into `roomId`'s ACL just after Handover's first write to it. */
function overwriteOnceAfterWrite(server: ReturnType<typeof homeserver>, roomId: string): void {
  const write = server.deps.acl.writeAcl;
  let overwritten = false;
  server.deps.acl.writeAcl = async (target, acl) => {
    await write(target, acl);
    if (target === roomId && !overwritten) {
      overwritten = true;
      server.acls.set(target, open);
    }
  };
}

describe("one ACL pass over many rooms", () => {
  it("writes the rooms side by side and counts each only once read back equal", async () => {
    const server = homeserver(open);
    const outcome = await runAclPass(server.deps, rooms, () => shut);
    expect(outcome).toMatchObject({ confirmed: 40, written: 40, failed: [] });
    expect(server.most()).toBeGreaterThan(1);
    for (const roomId of rooms) expect(server.acls.get(roomId)).toEqual(shut);
    // A second pass finds them all in line and writes nothing.
    expect(await runAclPass(server.deps, rooms, () => shut)).toMatchObject({ confirmed: 40, written: 0, failed: [] });
  });

  it("writes a room as soon as it is read, and reads it back as soon as it is written: the kinds of call overlap", async () => {
    const server = homeserver(open);
    const log: string[] = [];
    const { readAcl, writeAcl } = server.deps.acl;
    server.deps.acl.readAcl = async (roomId) => {
      const acl = await readAcl(roomId);
      log.push(`read ${roomId}`);
      return acl;
    };
    server.deps.acl.writeAcl = async (roomId, acl) => {
      await writeAcl(roomId, acl);
      log.push(`write ${roomId}`);
    };
    const outcome = await runAclPass(server.deps, rooms, () => shut);
    expect(outcome).toMatchObject({ confirmed: 40, written: 40, failed: [] });
    const lastFirstRead = log.lastIndexOf(`read ${rooms.at(-1)}`);
    // Every room is read twice (before and back); the first write comes before the last room's first read.
    expect(log.indexOf(`write ${rooms[0]}`)).toBeLessThan(log.indexOf(`read ${rooms.at(-1)}`));
    expect(lastFirstRead).toBeGreaterThan(log.indexOf(`write ${rooms.at(-1)}`));
  });

  it("tries a room that failed again after a pause, and one that keeps failing is reported, not lost", async () => {
    const flaky = rooms[3] as string;
    const locked = rooms[7] as string;
    const server = homeserver(open, (roomId, attempt) => (roomId === flaky && attempt === 1) || roomId === locked);
    const outcome = await runAclPass(server.deps, rooms, () => shut);
    expect(outcome.confirmed).toBe(39);
    expect(outcome.failed).toEqual([{ roomId: locked, error: expect.stringContaining("M_FORBIDDEN (attempt 3)") }]);
    expect(server.acls.get(flaky)).toEqual(shut);
    expect(server.acls.get(locked)).toEqual(open);
    expect(server.slept).toEqual([1_000, 5_000]);
    expect(server.attempts.get(rooms[0] as string)).toBe(1);
  });

  it("does not count a room whose ACL reads back different from the one written (changed meanwhile)", async () => {
    const server = homeserver(open);
    const raced = rooms[5] as string;
    overwriteOnceAfterWrite(server, raced);
    const outcome = await runAclPass({ ...server.deps, retryDelaysMs: [] }, rooms, () => shut);
    expect(outcome.confirmed).toBe(39);
    expect(outcome.failed).toEqual([{ roomId: raced, error: "the server ACL read back differs from the one written" }]);
    // With a retry, the room is written again and confirmed.
    expect(await runAclPass(server.deps, rooms, () => shut)).toMatchObject({ confirmed: 40, failed: [] });
  });
});

describe("one ACL pass, hostile and unlucky homeservers", () => {
  it("reports a room whose read rejects with a value that is not an Error and cannot be printed: failed, not dropped", async () => {
    const server = homeserver(open);
    const odd = rooms[2] as string;
    const read = server.deps.acl.readAcl;
    server.deps.acl.readAcl = async (roomId) => {
      if (roomId === odd) throw Object.create(null);
      return read(roomId);
    };
    const outcome = await runAclPass(server.deps, rooms, () => shut);
    expect(outcome.confirmed).toBe(39);
    expect(outcome.failed.map((f) => f.roomId)).toEqual([odd]);
  });

  it("counts a room written in two rounds once in written (rooms written, not writes)", async () => {
    const server = homeserver(open);
    const raced = rooms[5] as string;
    overwriteOnceAfterWrite(server, raced);
    const outcome = await runAclPass(server.deps, rooms, () => shut);
    expect(outcome).toMatchObject({ confirmed: 40, failed: [] });
    expect(server.attempts.get(raced)).toBe(2);
    expect(outcome.written).toBe(40);
  });

  it("reports as peakConcurrency the most calls the homeserver really had in flight (the three stages overlap)", async () => {
    const server = homeserver(open);
    const outcome = await runAclPass(server.deps, rooms, () => shut);
    expect(outcome.peakConcurrency).toBe(server.most());
  });

  it("covers every room with confirmed + failed when a room fails in the read on one round and in the write on the next", async () => {
    const server = homeserver(open, (roomId, attempt) => roomId === rooms[9] && attempt === 1);
    const flaky = rooms[9] as string;
    const read = server.deps.acl.readAcl;
    let reads = 0;
    server.deps.acl.readAcl = async (roomId) => {
      if (roomId === flaky && ++reads === 1) throw "unreachable";
      return read(roomId);
    };
    const outcome = await runAclPass({ ...server.deps, retryDelaysMs: [1_000] }, rooms, () => shut);
    expect(outcome.confirmed).toBe(39);
    expect(outcome.failed).toEqual([{ roomId: flaky, error: expect.stringContaining("attempt 1") }]);
    expect(await runAclPass(server.deps, [], () => shut)).toMatchObject({ confirmed: 0, written: 0, failed: [], peakConcurrency: 0 });
  });
});

describe("a revocation's ACL pass in the audit trail", () => {
  const revoked: AgreementRecord = {
    id: "ag1",
    peer: { serverName: B, name: "Trust B", odsCode: "RBB", contact: "x" },
    proposedBy: "us",
    status: "revoked",
    terms: { scope: { kind: "all" }, purpose: "stroke", reviewDate: "2027-01-01", retention: "own policy" },
    createdAt: new Date(),
    updatedAt: new Date(),
    statusChangedBy: null,
    reason: null,
    suspendedBy: null,
  };

  function enforcementOver(server: ReturnType<typeof homeserver>) {
    const audit = new RecordingAudit();
    const enforcement = new FederationEnforcement({
      ownServerName: A,
      agreements: { list: async () => [revoked] },
      rooms: { managedRoomIds: async () => rooms },
      acl: server.deps.acl,
      members: { members: async () => [], kick: async () => undefined },
      spaces: { children: async () => [] },
      audit,
      clock: new FakeClock(),
      concurrency: server.deps.concurrency,
      retryDelaysMs: server.deps.retryDelaysMs,
      sleep: server.deps.sleep,
      roomAcls: true,
    });
    return { enforcement, audit };
  }

  it("records the rooms as shut only after every one was read back without the partner", async () => {
    const server = homeserver(open);
    const { enforcement, audit } = enforcementOver(server);
    await enforcement.agreementsChanged({ agreement: revoked, previousStatus: "active", message: { id: "msg-9" } as SignedMessage });
    expect(audit.events.find((e) => e.action.startsWith("federation.acls."))).toMatchObject({
      action: "federation.acls.confirmed",
      target: "ag1",
      details: { messageId: "msg-9", managedRooms: 40, confirmed: 40, failed: [] },
    });
    expect(enforcement.lastStatus).toMatchObject({ managedRooms: 40, inSync: 40, failed: [] });
  });

  it("records an incomplete revocation when a room's read rejects with an error that cannot be printed", async () => {
    const odd = rooms[13] as string;
    const server = homeserver(open);
    const read = server.deps.acl.readAcl;
    server.deps.acl.readAcl = async (roomId) => {
      if (roomId === odd) throw Object.create(null);
      return read(roomId);
    };
    const { enforcement, audit } = enforcementOver(server);
    await enforcement.agreementsChanged({ agreement: revoked, previousStatus: "active", message: { id: "msg-11" } as SignedMessage });
    expect(audit.events.find((e) => e.action.startsWith("federation.acls."))).toMatchObject({
      action: "federation.acls.incomplete",
      details: { confirmed: 39, failed: [{ roomId: odd }] },
    });
  });

  it("records an incomplete revocation, naming the room that still lets the partner in", async () => {
    const locked = rooms[11] as string;
    const server = homeserver(open, (roomId) => roomId === locked);
    const { enforcement, audit } = enforcementOver(server);
    await enforcement.agreementsChanged({ agreement: revoked, previousStatus: "active", message: { id: "msg-10" } as SignedMessage });
    expect(audit.events.find((e) => e.action.startsWith("federation.acls."))).toMatchObject({
      action: "federation.acls.incomplete",
      details: { confirmed: 39, failed: [{ roomId: locked }] },
    });
    expect(enforcement.lastStatus.inSync).toBe(39);
    expect(enforcement.lastStatus.failed.map((f) => f.roomId)).toEqual([locked]);
  });
});
