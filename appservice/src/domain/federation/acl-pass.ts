import { AdaptiveStage, ConcurrencyLimit, type ConcurrencyLimitOptions } from "./adaptive-concurrency.js";

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
  /**
   * From each stage's first call to its last answer, summed over retry rounds: where a pass
   * spends its time. The stages overlap (a room is written once read), so these add up to more
   * than the pass.
   */
  sweepMs: { read: number; write: number; readBack: number };
}

export interface AclPassDeps {
  acl: RoomAclAccess;
  concurrency: ConcurrencyLimitOptions;
  /** Pauses between retry rounds of the rooms that failed; the length gives the number of retries. */
  retryDelaysMs: readonly number[];
  sleep(ms: number): Promise<void>;
}

/** Never throws: a failure that cannot be described is still reported, not dropped. */
const messageOf = (error: unknown): string => {
  try {
    return String(error instanceof Error ? error.message : error).slice(0, 300);
  } catch {
    return "failed (the error could not be turned into text)";
  }
};

/**
 * One pass over many rooms: every room's ACL is read, one that differs is written, then read
 * back, and only a room read back equal to what was wanted counts as confirmed. Calls run side
 * by side, as many of each kind as the homeserver answers without queueing (ConcurrencyLimit),
 * and a room goes on to its next call as soon as its last is answered. A room that fails (refused, unreachable, read back different) is
 * tried again, whole, after each of `retryDelaysMs`; what still fails is returned, never dropped.
 */
export async function runAclPass(
  deps: AclPassDeps,
  rooms: readonly string[],
  desiredFor: (roomId: string, current: ServerAcl | null) => ServerAcl,
): Promise<AclPassOutcome> {
  let confirmed = 0;
  // Rooms, not writes: a room written again on a retry round is one room written.
  const written = new Set<string>();
  // Calls really in flight at the homeserver, across the three overlapping stages.
  let inFlight = 0;
  let peak = 0;
  const call = async <R>(request: () => Promise<R>): Promise<R> => {
    inFlight++;
    peak = Math.max(peak, inFlight);
    try {
      return await request();
    } finally {
      inFlight--;
    }
  };
  const sweepMs = { read: 0, write: 0, readBack: 0 };
  let failures = new Map<string, string>();
  let todo = rooms;
  for (let round = 0; ; round++) {
    // Three stages, each of one kind of call so each limit times like with like (reads are
    // cheap, writes are what the homeserver queues on), fed one by the other: a room that differs
    // is written as soon as it is read, and read back as soon as it is written.
    const wanted = new Map<string, ServerAcl>();
    const recordFailure = (roomId: string, error: unknown) => failures.set(roomId, messageOf(error));
    const reads = new ConcurrencyLimit(deps.concurrency);
    const writes = new ConcurrencyLimit(deps.concurrency);
    const readBacks = new ConcurrencyLimit(deps.concurrency);
    const readBack = new AdaptiveStage<string>(
      readBacks,
      async (roomId) => {
        const current = await call(() => deps.acl.readAcl(roomId));
        if (!sameAcl(current, wanted.get(roomId) as ServerAcl)) throw new Error("the server ACL read back differs from the one written");
        confirmed++;
      },
      recordFailure,
    );
    const write = new AdaptiveStage<string>(
      writes,
      async (roomId) => {
        await call(() => deps.acl.writeAcl(roomId, wanted.get(roomId) as ServerAcl));
        written.add(roomId);
        readBack.push(roomId);
      },
      recordFailure,
    );
    const read = new AdaptiveStage<string>(
      reads,
      async (roomId) => {
        const current = await call(() => deps.acl.readAcl(roomId));
        const desired = desiredFor(roomId, current);
        if (sameAcl(current, desired)) confirmed++;
        else {
          wanted.set(roomId, desired);
          write.push(roomId);
        }
      },
      recordFailure,
    );
    for (const roomId of todo) read.push(roomId);
    read.close();
    await read.drained;
    write.close();
    await write.drained;
    readBack.close();
    await readBack.drained;
    sweepMs.read += read.activeMs;
    sweepMs.write += write.activeMs;
    sweepMs.readBack += readBack.activeMs;
    const delay = deps.retryDelaysMs[round];
    if (failures.size === 0 || delay === undefined) break;
    await deps.sleep(delay);
    todo = [...failures.keys()];
    failures = new Map();
  }
  return { confirmed, written: written.size, failed: [...failures].map(([roomId, error]) => ({ roomId, error })), peakConcurrency: peak, sweepMs };
}
