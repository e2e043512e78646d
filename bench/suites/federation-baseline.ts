import { round } from "../figures.js";

/** One homeserver and the rooms to send state events to, as its appservice bot. */
export interface DirectTarget {
  clientUrl: string;
  asToken: string;
  serverName: string;
  rooms: readonly string[];
}

const LEVELS = [4, 8, 16, 32, 64];
const SAMPLE = 60;
let round_ = 0;

async function putAcl(target: DirectTarget, roomId: string, tag: string): Promise<void> {
  const host = target.serverName.replace(/:\d+$/, "");
  // A different allow list each round: Synapse does not persist a state event equal to the current one.
  const body = { allow: [host, target.serverName, `${tag}.invalid`], deny: [], allow_ip_literals: false };
  const response = await fetch(`${target.clientUrl}/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/state/m.room.server_acl/`, {
    method: "PUT",
    headers: { authorization: `Bearer ${target.asToken}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`baseline: Synapse refused m.room.server_acl in ${roomId}: ${response.status} ${await response.text()}`);
  await response.json();
}

/**
 * Seconds to send one m.room.server_acl to every room of every target, all targets at once,
 * `concurrency` calls in flight per homeserver, straight to the client-server API (no Handover,
 * no read before or after): what Synapse alone allows.
 */
export async function sendDirectly(targets: readonly DirectTarget[], concurrency: number, roomsOf = (t: DirectTarget) => t.rooms): Promise<number> {
  const tag = `baseline-${++round_}`;
  const started = performance.now();
  await Promise.all(
    targets.map(async (target) => {
      const rooms = roomsOf(target);
      let next = 0;
      await Promise.all(
        Array.from({ length: Math.min(concurrency, rooms.length) }, async () => {
          while (next < rooms.length) await putAcl(target, rooms[next++] as string, tag);
        }),
      );
    }),
  );
  return (performance.now() - started) / 1000;
}

/** Finds the concurrency Synapse sends state events fastest at (on a sample of rooms), then times every room at it. */
export async function synapseStateEventLimit(targets: readonly DirectTarget[], notes: string[]): Promise<{ seconds: number; concurrency: number }> {
  let best = { concurrency: LEVELS[0] as number, perSecond: 0 };
  const sweep: string[] = [];
  for (const concurrency of LEVELS) {
    const seconds = await sendDirectly(targets, concurrency, (t) => t.rooms.slice(0, SAMPLE));
    const perSecond = (SAMPLE * targets.length) / seconds;
    sweep.push(`${concurrency}: ${round(perSecond)}/s`);
    if (perSecond > best.perSecond) best = { concurrency, perSecond };
  }
  const seconds = await sendDirectly(targets, best.concurrency);
  notes.push(`federation: Synapse alone, state events per second by calls in flight per homeserver (${SAMPLE} rooms each): ${sweep.join(", ")}`);
  return { seconds, concurrency: best.concurrency };
}
