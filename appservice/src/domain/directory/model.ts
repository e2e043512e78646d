/**
 * The directory side of directory sync: people and groups as a source reports them, and the
 * rules that map them to Matrix rooms. Plain data, no framework.
 */

/** One person as one source reports them. */
export interface DirectoryPerson {
  /** Stable id within the source (LDAP DN or objectGUID, SCIM id, ESR employee number). */
  id: string;
  /** Login name (sAMAccountName, uid, SCIM userName). */
  username: string;
  mail: string | null;
  /** Attribute name (lower case) -> value, for rules, power levels and identity templates. */
  attributes: Record<string, string>;
  disabled: boolean;
  /** Ids of the groups this person is a direct member of. */
  groupIds: string[];
}

/**
 * A person's attribute by a name a rule, power rule or template gives (case-insensitive). Own
 * entries only: a name like `constructor` or `__proto__` finds nothing, not Object.prototype's
 * members (a function there made every run throw).
 */
export function attributeOf(attributes: Readonly<Record<string, string>>, name: string): string | undefined {
  const key = name.toLowerCase();
  return Object.hasOwn(attributes, key) ? attributes[key] : undefined;
}

export interface DirectoryGroup {
  id: string;
  name: string;
  /** Ids of groups nested directly inside this one (their members are members of this one). */
  subgroupIds: string[];
}

/** A whole answer from one source. Sources refuse to answer rather than answer partly. */
export interface DirectorySnapshot {
  source: string;
  people: DirectoryPerson[];
  groups: DirectoryGroup[];
}

/** Something a source can be asked for; the LDAP, SCIM and CSV adapters implement it. */
export interface DirectorySource {
  readonly name: string;
  readonly kind: "ldap" | "scim" | "csv";
  /** Throws a DirectoryAnswerRefused when the answer is empty, truncated or failed. */
  snapshot(): Promise<DirectorySnapshot>;
  /** A cheap check for the portal's "test connection" button. */
  test(): Promise<{ ok: boolean; message: string }>;
  /** Incremental sources: how the last read went (full or incremental, and why). */
  lastRead?(): Promise<{ kind: "full" | "incremental"; reason: string | null; changed: number; at: Date } | null>;
}

export type JoinMode = "invite" | "force-join";

export interface PowerRule {
  /** The person gets `level` when this attribute has this value (case-insensitive)... */
  attribute?: string | undefined;
  equals?: string | undefined;
  /** ...or when they are in this group (nested membership counts). */
  group?: string | undefined;
  level: number;
}

/** A directory group or attribute filter mapped to managed rooms (spaces are rooms too). */
export interface SyncRule {
  id: string;
  description: string;
  /** Members of this group (by name, nested membership counts)... */
  group: string | null;
  /** ...and/or people whose attribute has this value. Both set: both must hold. */
  attribute: { name: string; equals: string } | null;
  rooms: string[];
  joinMode: JoinMode;
  power: PowerRule[];
  enabled: boolean;
}

export class DirectoryAnswerRefused extends Error {
  constructor(
    readonly source: string,
    readonly reason: "empty" | "truncated" | "error",
    message: string,
  ) {
    super(message);
    this.name = "DirectoryAnswerRefused";
  }
}
