import { ConcurrencyLimit, type ConcurrencyLimitOptions, forEachAdaptively } from "./adaptive-concurrency.js";

/** m.room.server_acl content. */
export interface ServerAcl {
  allow: string[];
  deny: string[];
  allow_ip_literals: boolean;
}

export interface RoomAclAccess {
  readAcl(roomId: string): Promise<ServerAcl | null>;
  writeAcl(roomId: string, acl: ServerAcl): Promise<void>;
}

export const sameAcl = (a: ServerAcl | null, b: ServerAcl) =>
  a !== null &&
  a.allow_ip_literals === b.allow_ip_literals &&
  JSON.stringify([...a.allow].sort()) === JSON.stringify([...b.allow].sort()) &&
  JSON.stringify([...(a.deny ?? [])].sort()) === JSON.stringify([...b.deny].sort());

export interface AclPassOutcome {
  /** Rooms whose ACL was read back (or found) equal to the one wanted. */
  confirmed: number;
  /** Rooms written in this pass (confirmed or not). */
  written: number;
  failed: { roomId: string; error: string }[];
  /** Highest number of homeserver calls in flight at once. */
  peakConcurrency: number;
  /** Wall time of each sweep, summed over retry rounds: where a pass spends its time. */
  sweepMs: { read: number; write: number; readBack: number };
}

export interface AclPassDeps {
  acl: RoomAclAccess;
  concurrency: ConcurrencyLimitOptions;
  /** Pauses between retry rounds of the rooms that failed; the length gives the number of retries. */
  retryDelaysMs: readonly number[];
  sleep(ms: number): Promise<void>;
}

const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error)).slice(0, 300);

/**
 * One pass over many rooms: every room's ACL is read, those that differ are written, then each
 * written room is read back, and only a room read back equal to what was wanted counts as
 * confirmed. Calls run side by side, as many as the homeserver answers without
 * queueing (ConcurrencyLimit). A room that fails (refused, unreachable, read back different) is
 * tried again, whole, after each of `retryDelaysMs`; what still fails is returned, never dropped.
 */
export async function runAclPass(
  deps: AclPassDeps,
  rooms: readonly string[],
  desiredFor: (roomId: string, current: ServerAcl | null) => ServerAcl,
): Promise<AclPassOutcome> {
  let confirmed = 0;
  let written = 0;
  let peak = 0;
  const sweepMs = { read: 0, write: 0, readBack: 0 };
  const timed = async (sweep: keyof typeof sweepMs, run: () => Promise<void>) => {
    const started = performance.now();
    await run();
    sweepMs[sweep] += performance.now() - started;
  };
  let failures = new Map<string, string>();
  let todo = rooms;
  for (let round = 0; ; round++) {
    // Three sweeps, each of one kind of call, so each limit times like with like: reads are
    // cheap, writes are what the homeserver queues on.
    const toWrite = new Map<string, ServerAcl>();
    const reads = new ConcurrencyLimit(deps.concurrency);
    await timed("read", () =>
      forEachAdaptively(
        todo,
        reads,
        async (roomId) => {
          const current = await deps.acl.readAcl(roomId);
          const desired = desiredFor(roomId, current);
          if (sameAcl(current, desired)) confirmed++;
          else toWrite.set(roomId, desired);
        },
        (roomId, error) => failures.set(roomId, messageOf(error)),
      ),
    );
    const writes = new ConcurrencyLimit(deps.concurrency);
    const toConfirm: string[] = [];
    await timed("write", () =>
      forEachAdaptively(
        [...toWrite.keys()],
        writes,
        async (roomId) => {
          await deps.acl.writeAcl(roomId, toWrite.get(roomId) as ServerAcl);
          written++;
          toConfirm.push(roomId);
        },
        (roomId, error) => failures.set(roomId, messageOf(error)),
      ),
    );
    const readBacks = new ConcurrencyLimit(deps.concurrency);
    await timed("readBack", () =>
      forEachAdaptively(
        toConfirm,
        readBacks,
        async (roomId) => {
          const readBack = await deps.acl.readAcl(roomId);
          if (!sameAcl(readBack, toWrite.get(roomId) as ServerAcl)) throw new Error("the server ACL read back differs from the one written");
          confirmed++;
        },
        (roomId, error) => failures.set(roomId, messageOf(error)),
      ),
    );
    peak = Math.max(peak, reads.peak, writes.peak, readBacks.peak);
    const delay = deps.retryDelaysMs[round];
    if (failures.size === 0 || delay === undefined) break;
    await deps.sleep(delay);
    todo = [...failures.keys()];
    failures = new Map();
  }
  return { confirmed, written, failed: [...failures].map(([roomId, error]) => ({ roomId, error })), peakConcurrency: peak, sweepMs };
}
