import type { PurgeRecord } from "./ports.js";

const COLUMNS = [
  "deletion_id",
  "room_id",
  "policy_id",
  "policy",
  "from",
  "up_to",
  "events",
  "unfiled_events",
  "media",
  "media_deleted",
  "filing_ref",
  "actor",
  "completed_at",
  "purge_id",
] as const;

/** RFC 4180 quoting; a leading =,+,-,@ is prefixed so a spreadsheet never runs a cell as a formula. */
function cell(value: string | number | null): string {
  if (value === null) return "";
  let text = String(value);
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

export function deletionRecordsCsv(records: readonly PurgeRecord[]): string {
  const lines = [COLUMNS.join(",")];
  for (const record of records) {
    lines.push(
      [
        record.id,
        record.roomId,
        record.policyId,
        record.policyName,
        record.fromTs?.toISOString() ?? null,
        record.cutoff.toISOString(),
        record.eventCount,
        record.unfiledCount,
        record.media.length,
        record.mediaDeleted,
        record.filingRef,
        record.actor,
        record.completedAt?.toISOString() ?? null,
        record.purgeId,
      ]
        .map(cell)
        .join(","),
    );
  }
  return `${lines.join("\r\n")}\r\n`;
}
