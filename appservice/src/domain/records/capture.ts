import type { FiledEvent, FilingCapture } from "../filing/filed-range.js";
import type { MatrixEvent } from "../matrix-event.js";
import { holdsContent, isCommandOrNotice, relation, type TranscriptMessage, type TranscriptOptions } from "./transcript.js";

const eventOf = (event: MatrixEvent): FiledEvent => ({ eventId: event.event_id, ts: new Date(event.origin_server_ts) });

/**
 * Sorts every event a filing read into held and not held. Messages count as held only when the
 * document holds their content (`holdsContent`), reactions when it shows them with their
 * message. Other events are held only when there is nothing in them to keep: the bot's notices,
 * `!handover` commands, redactions and edits the document applied to its message. Anything else
 * (a sticker, a poll, an edit of a message filed elsewhere, a reaction to one, an event type the
 * transcript does not know) is not held, so retention keeps it as unfiled rather than deleting
 * it as filed.
 *
 * A thread filing's scope is its thread (and what relates to the thread's messages); events a
 * room filing leaves out because another filing holds them are not passed in at all.
 */
export function captureOf(events: readonly MatrixEvent[], messages: readonly TranscriptMessage[], options: TranscriptOptions): FilingCapture {
  const capture: FilingCapture = { captured: [], uncaptured: [] };
  const inDocument = new Map(messages.map((message) => [message.eventId, message]));
  for (const message of messages) (holdsContent(message) ? capture.captured : capture.uncaptured).push({ eventId: message.eventId, ts: message.sentAt });
  for (const event of events) {
    if (event.state_key !== undefined || inDocument.has(event.event_id)) continue;
    const rel = relation(event.content);
    const target = typeof rel.event_id === "string" ? rel.event_id : (rel["m.in_reply_to"]?.event_id ?? null);
    const inScope =
      options.threadRootId === null ||
      event.event_id === options.threadRootId ||
      (target !== null && (target === options.threadRootId || inDocument.has(target)));
    if (!inScope) continue;
    const related = target !== null ? inDocument.get(target) : undefined;
    const appliedEdit = rel.rel_type === "m.replace" && related !== undefined && related.sender === event.sender;
    const shownReaction = related?.reactions?.some((reaction) => reaction.eventId === event.event_id) ?? false;
    const held = shownReaction || appliedEdit || isCommandOrNotice(event, options.botUserId) || event.type === "m.room.redaction";
    (held ? capture.captured : capture.uncaptured).push(eventOf(event));
  }
  return capture;
}
