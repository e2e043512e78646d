/**
 * The shape of a Matrix event as Handover relies on it, wherever the event comes from: a
 * transaction, the client-server API (timeline pages, room state) or Synapse's admin API.
 * Events from a transaction are checked against this before any handler sees them; anything
 * else is quarantined, not processed.
 */
export interface MatrixEvent {
  event_id: string;
  room_id: string;
  sender: string;
  type: string;
  origin_server_ts: number;
  content: Record<string, unknown>;
  state_key?: string;
  unsigned?: Record<string, unknown>;
}

/** A state event (room state, membership): one that always has a state key. */
export type MatrixStateEvent = MatrixEvent & { state_key: string };

export function serverNameOf(matrixId: string): string {
  const colon = matrixId.indexOf(":");
  return colon === -1 ? "" : matrixId.slice(colon + 1);
}

export type EventProblem = string;

/** Returns the event when it has the fields Handover needs, or a description of what is wrong. */
export function checkEvent(raw: unknown): MatrixEvent | EventProblem {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) return "event is not an object";
  const event = raw as Record<string, unknown>;
  for (const field of ["event_id", "room_id", "sender", "type"] as const) {
    if (typeof event[field] !== "string" || (event[field] as string).length === 0) return `${field} missing or not a string`;
  }
  if (typeof event.origin_server_ts !== "number" || !Number.isFinite(event.origin_server_ts)) return "origin_server_ts missing or not a number";
  if (typeof event.content !== "object" || event.content === null || Array.isArray(event.content)) return "content missing or not an object";
  if ("state_key" in event && event.state_key !== undefined && typeof event.state_key !== "string") return "state_key is not a string";
  return event as unknown as MatrixEvent;
}
