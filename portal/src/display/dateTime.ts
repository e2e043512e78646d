// Pinned to UK time so a person reading the audit trail abroad sees the times the trust saw.
const formatter = new Intl.DateTimeFormat("en-GB", {
  dateStyle: "medium",
  timeStyle: "medium",
  timeZone: "Europe/London",
});

/** "22 Nov 2025, 14:31:05" for an ISO timestamp from the API. */
export function formatDateTime(iso: string): string {
  return formatter.format(new Date(iso));
}
