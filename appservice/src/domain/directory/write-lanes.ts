import type { MembershipAction } from "./planner.js";

/**
 * How many homeserver writes directory sync keeps in flight, adapted to the homeserver's
 * answers (additive increase, multiplicative decrease): each prompt answer lets one more write
 * run beside the others, up to `max`; an answer slower than `slowMs`, a rate limit or a 5xx halves
 * it. A homeserver that keeps up gets the plan in a fraction of the time one write at a time
 * takes; one that struggles is soon back to a write or two at a time.
 */
export class AdaptiveWriteLimit {
  private limit: number;

  constructor(
    private readonly max: number,
    private readonly slowMs: number,
  ) {
    // The trust set the most it will have in flight; a run starts there (a run is over in a few
    // seconds, too short to climb from one or two), and the first slow answer halves it.
    this.limit = max;
  }

  get current(): number {
    return this.limit;
  }

  answered(ms: number): void {
    if (ms > this.slowMs) this.backOff();
    else this.limit = Math.min(this.max, this.limit + 1);
  }

  /** Rate-limited, refused with a 5xx or unreachable. */
  backOff(): void {
    this.limit = Math.max(1, Math.floor(this.limit / 2));
  }
}

/** An action with its place in the run (outcomes are stored by index). */
export interface IndexedAction {
  index: number;
  action: MembershipAction;
}

/**
 * Splits a plan into lanes that may run side by side: one per room, keeping the room's order
 * (taking the room comes before anything done in it; Synapse serialises a room's events anyway),
 * and one per person for logging out, locking and deactivating. People's lanes come first: a
 * leaver's sessions end while the kicks are under way, not after the last of them.
 */
export function writeLanes(actions: readonly MembershipAction[]): IndexedAction[][] {
  const people = new Map<string, IndexedAction[]>();
  const rooms = new Map<string, IndexedAction[]>();
  for (const [index, action] of actions.entries()) {
    const [lanes, key] = "roomId" in action ? [rooms, action.roomId] : [people, action.userId];
    const lane = lanes.get(key);
    if (lane) lane.push({ index, action });
    else lanes.set(key, [{ index, action }]);
  }
  return [...people.values(), ...rooms.values()];
}

/**
 * Runs lanes, each in order, with at most `limit.current` lanes (so writes) in flight at a time,
 * reading the limit again whenever a lane finishes. `runLane` must not throw for an action that
 * failed: it records the failure and goes on.
 */
export async function runLanes(
  lanes: readonly IndexedAction[][],
  limit: { readonly current: number },
  runLane: (lane: IndexedAction[]) => Promise<void>,
): Promise<void> {
  let next = 0;
  let active = 0;
  await new Promise<void>((resolve, reject) => {
    const pump = () => {
      if (next >= lanes.length && active === 0) return resolve();
      while (active < Math.max(1, limit.current) && next < lanes.length) {
        const lane = lanes[next++] as IndexedAction[];
        active++;
        runLane(lane).then(() => {
          active--;
          pump();
        }, reject);
      }
    };
    pump();
  });
}
