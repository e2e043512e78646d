/**
 * Incremental LDAP reads: the rules for asking a directory server only for entries changed since
 * the last run (OpenLDAP `modifyTimestamp`, Active Directory `uSNChanged`), merging them into a
 * stored copy of the directory, and deciding when a full read is needed instead. Pure functions.
 */

export type ChangeMarker = "modifyTimestamp" | "uSNChanged";

/** One LDAP entry as read: its DN (normalised) and the attributes asked for, all values as text. */
export interface LdapRecord {
  dn: string;
  kind: "person" | "group";
  attributes: Record<string, string[]>;
  /** The entry's change marker value, when the server gave one. */
  marker: string | null;
}

/** What is remembered about a source between runs. */
export interface IncrementalState {
  highWater: string | null;
  fullAt: Date;
  /** The source settings the stored copy was read with; another fingerprint needs a full read. */
  fingerprint: string;
}

export type ReadPlan = { kind: "full"; reason: string } | { kind: "incremental"; since: string };

/** Markers compare as numbers (USNs) or as GeneralizedTime text (YYYYMMDDHHMMSSZ, same length). */
export function compareMarkers(kind: ChangeMarker, a: string, b: string): number {
  if (kind === "uSNChanged") {
    const left = BigInt(a);
    const right = BigInt(b);
    return left < right ? -1 : left > right ? 1 : 0;
  }
  const left = normaliseTime(a);
  const right = normaliseTime(b);
  return left < right ? -1 : left > right ? 1 : 0;
}

/** 20261122154501Z or 20261122154501.123Z -> 20261122154501.123Z-comparable text. */
function normaliseTime(value: string): string {
  const match = /^(\d{14})(?:[.,](\d+))?Z$/.exec(value);
  if (!match) throw new Error(`not a GeneralizedTime: ${value}`);
  return `${match[1]}.${(match[2] ?? "").padEnd(6, "0")}`;
}

export function isValidMarker(kind: ChangeMarker, value: string): boolean {
  return kind === "uSNChanged" ? /^\d{1,20}$/.test(value) : /^\d{14}(?:[.,]\d+)?Z$/.test(value);
}

export function highestMarker(kind: ChangeMarker, records: Iterable<LdapRecord>, start: string | null): string | null {
  let highest = start;
  for (const record of records) {
    if (record.marker === null || !isValidMarker(kind, record.marker)) continue;
    if (highest === null || compareMarkers(kind, record.marker, highest) > 0) highest = record.marker;
  }
  return highest;
}

/** GeneralizedTime of a date, as LDAP servers write modifyTimestamp. */
export function generalizedTime(date: Date): string {
  return `${date.toISOString().slice(0, 19).replace(/[-:T]/g, "")}Z`;
}

/** LDAP filter value escaping (RFC 4515). */
function escapeFilterValue(value: string): string {
  return value.replace(/[\\*()\0]/g, (char) => `\\${char.charCodeAt(0).toString(16).padStart(2, "0")}`);
}

/**
 * The filter for entries changed since the high-water mark. Inclusive (>=): modifyTimestamp has
 * one-second resolution, so an entry changed in the same second after the last read is not
 * missed; reading one again is harmless.
 */
export function changedSinceFilter(baseFilter: string, kind: ChangeMarker, since: string): string {
  const wrapped = baseFilter.startsWith("(") ? baseFilter : `(${baseFilter})`;
  return `(&${wrapped}(${kind}>=${escapeFilterValue(since)}))`;
}

/** Full read when there is no stored copy, the settings changed, the full-run interval passed, or no high-water mark. */
export function planRead(state: IncrementalState | null, options: { now: Date; fullEveryMs: number; fingerprint: string }): ReadPlan {
  if (!state) return { kind: "full", reason: "first read" };
  if (state.fingerprint !== options.fingerprint) return { kind: "full", reason: "source settings changed" };
  if (options.now.getTime() - state.fullAt.getTime() >= options.fullEveryMs) return { kind: "full", reason: "periodic full read (catches deletions)" };
  if (state.highWater === null) return { kind: "full", reason: "no change marker seen yet" };
  return { kind: "incremental", since: state.highWater };
}

/**
 * Checks an incremental answer before it is trusted; a problem means a full read instead.
 * `serverHighest` is what the server says its latest change is (AD: rootDSE highestCommittedUSN;
 * OpenLDAP: its clock), or null when it cannot say.
 */
export function checkIncrementalAnswer(kind: ChangeMarker, since: string, changed: readonly LdapRecord[], serverHighest: string | null): string | null {
  if (serverHighest === null) return `the server does not report its latest ${kind}`;
  if (!isValidMarker(kind, serverHighest)) return `the server reports an unreadable latest ${kind} (${serverHighest})`;
  // A high-water mark beyond the server's latest change: another server (a different domain
  // controller, a restored backup) or a clock moved back. Changes may be missing.
  if (compareMarkers(kind, since, serverHighest) > 0) return `the stored ${kind} ${since} is ahead of the server's ${serverHighest}`;
  for (const record of changed) {
    if (record.marker === null || !isValidMarker(kind, record.marker)) return `entry ${record.dn} came back without a readable ${kind}`;
    if (compareMarkers(kind, record.marker, since) < 0)
      return `entry ${record.dn} came back with ${kind} ${record.marker}, older than ${since}: the server ignored the filter`;
  }
  return null;
}

/**
 * The stored copy with the changed entries put in place (by kind and DN) and the entries that left
 * the source's filters taken out; entries not returned stay as they were.
 */
export function mergeChanged(stored: Map<string, LdapRecord>, changed: readonly LdapRecord[], left: readonly LdapRecord[] = []): Map<string, LdapRecord> {
  const merged = new Map(stored);
  for (const record of changed) merged.set(`${record.kind}:${record.dn}`, record);
  for (const record of left) merged.delete(`${record.kind}:${record.dn}`);
  return merged;
}

/** Whether two reads of an entry say the same (attribute order does not matter; value order does). */
export function sameRecord(a: LdapRecord, b: LdapRecord): boolean {
  if (a.marker !== b.marker || a.kind !== b.kind || a.dn !== b.dn) return false;
  const keys = new Set([...Object.keys(a.attributes), ...Object.keys(b.attributes)]);
  for (const key of keys) {
    const left = a.attributes[key] ?? [];
    const right = b.attributes[key] ?? [];
    if (left.length !== right.length || left.some((value, index) => value !== right[index])) return false;
  }
  return true;
}

/**
 * The entries of an incremental answer that are new or differ from the stored copy. The answer
 * repeats entries changed in the high-water second itself (the filter is inclusive).
 */
export function actuallyChanged(stored: ReadonlyMap<string, LdapRecord>, answer: readonly LdapRecord[]): LdapRecord[] {
  return answer.filter((record) => {
    const before = stored.get(`${record.kind}:${record.dn}`);
    return !before || !sameRecord(before, record);
  });
}
