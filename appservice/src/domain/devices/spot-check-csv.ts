import type { SpotCheck } from "./spot-check.js";

const HEADER = [
  "spot_check",
  "started_at",
  "user_id",
  "display_name",
  "meets_server_policy",
  "findings",
  "screen_lock",
  "photo_library_unlinked",
  "lock_screen_previews_off",
  "outcome",
  "note",
  "recorded_by",
  "recorded_at",
];

/**
 * A cell quoted for CSV, and defused for spreadsheets: a display name or note starting with
 * = + - @ would otherwise run as a formula when the IG lead opens the file.
 */
function cell(value: string | number | boolean | null): string {
  let text = value === null ? "" : String(value);
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

export function spotCheckCsv(check: SpotCheck): string {
  const rows = check.people.map((person) => [
    check.id,
    check.startedAt,
    person.userId,
    person.displayName,
    person.meetsServerPolicy,
    person.findings.join("; "),
    person.checklist?.screenLock ?? null,
    person.checklist?.photoLibraryUnlinked ?? null,
    person.checklist?.lockScreenPreviewsOff ?? null,
    person.outcome,
    person.note,
    person.recordedBy,
    person.recordedAt,
  ]);
  return `${[HEADER, ...rows].map((row) => row.map(cell).join(",")).join("\r\n")}\r\n`;
}
