import { isIP } from "node:net";
import type { Clock } from "../clock.js";
import { HandoverError } from "../errors.js";

export interface SignInLimitSettings {
  /** Failed sign-ins one account name may have within the window. */
  perAccount: number;
  /** Failed sign-ins one client address may have within the window. */
  perAddress: number;
  windowMs: number;
}

/**
 * An account's limit does not hold back the person from an address they signed in from
 * successfully this long ago or less: otherwise anyone who knows an admin's user ID (everyone
 * in their rooms does) could keep that admin out by guessing at it.
 */
export const PROVEN_ADDRESS_MS = 30 * 24 * 3_600_000;

/** Over a sign-in limit: answered 429 with Retry-After. */
export class SignInLimited extends HandoverError {
  constructor(readonly retryAfterSeconds: number) {
    const wait = retryAfterSeconds >= 120 ? `${Math.ceil(retryAfterSeconds / 60)} minutes` : `${retryAfterSeconds} seconds`;
    super("RATE_LIMITED", `Too many failed sign-ins. Try again in ${wait}.`);
  }
}

/** An attempt let through; it counts as a failure unless released. */
export interface SignInAttempt {
  /** The homeserver could not be asked: the attempt no longer counts. */
  release(): void;
  /** Signed in: the attempt no longer counts, and this address is proven for this account. */
  succeeded(): void;
}

/** Keys a sign-in attempt counts against: the account name as the homeserver would resolve it, and the client. */
export function accountKey(username: string, serverName: string): string {
  const name = username.trim().toLowerCase().replace(/^@/, "");
  const suffix = `:${serverName.toLowerCase()}`;
  return name.endsWith(suffix) ? name.slice(0, -suffix.length) : name;
}

/**
 * IPv4 clients on a dual-stack socket appear as ::ffff:a.b.c.d; one client, one key. An IPv6
 * client counts by its /64: a device rotates through addresses of its /64 (privacy addresses),
 * and whoever holds a prefix holds all of them, so a per-address key would not limit anyone.
 */
export function addressKey(address: string): string {
  const lower = address.toLowerCase().replace(/%.*$/, "");
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(lower);
  if (mapped) return mapped[1] as string;
  if (isIP(lower) !== 6) return lower;
  const [head = "", tail] = lower.split("::");
  const left = head === "" ? [] : head.split(":");
  const right = tail === undefined || tail === "" ? [] : tail.split(":");
  // An embedded IPv4 tail is two groups; it only ever sits in the last 32 bits.
  const width = (groups: string[]) => groups.reduce((n, group) => n + (group.includes(".") ? 2 : 1), 0);
  const groups = tail === undefined ? left : [...left, ...Array<string>(8 - width(left) - width(right)).fill("0"), ...right];
  return `${groups
    .slice(0, 4)
    .map((group) => Number.parseInt(group, 16).toString(16))
    .join(":")}::/64`;
}

/**
 * Failed sign-ins per account and per client address over a sliding window, held in memory.
 * Each attempt counts as a failure from the moment it is let through (so a burst of parallel
 * guesses cannot all pass the check before the first one fails) until it is released.
 * Refused attempts are not counted, so Retry-After is the truth: the moment the oldest
 * counted failure leaves the window.
 */
export class SignInLimiter {
  private readonly failures = new Map<string, number[]>();
  /** "account\naddress" -> when that account last signed in from that address. */
  private readonly proven = new Map<string, number>();

  constructor(
    private readonly settings: SignInLimitSettings,
    private readonly clock: Clock,
    /** Keys kept at most: a flood of made-up names cannot grow memory without bound. */
    private readonly maxKeys = 100_000,
  ) {}

  begin(account: string, address: string): SignInAttempt {
    const now = this.clock.now().getTime();
    const client = addressKey(address);
    const pair = `${account}\n${client}`;
    const keys: [string, number][] = [[`address:${client}`, this.settings.perAddress]];
    const provenAt = this.proven.get(pair);
    if (provenAt === undefined || now - provenAt > PROVEN_ADDRESS_MS) keys.push([`account:${account}`, this.settings.perAccount]);
    let retryAt = 0;
    for (const [key, limit] of keys) {
      const recent = this.recent(key, now);
      const oldest = recent[recent.length - limit];
      if (recent.length >= limit && oldest !== undefined) retryAt = Math.max(retryAt, oldest + this.settings.windowMs);
    }
    if (retryAt > 0) throw new SignInLimited(Math.max(1, Math.ceil((retryAt - now) / 1000)));
    // Counted against the account even from a proven address: guesses still use up its allowance.
    const counted = [`address:${client}`, `account:${account}`];
    for (const key of counted) this.count(key, now);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      for (const key of counted) this.uncount(key, now);
    };
    return {
      release,
      succeeded: () => {
        release();
        this.proven.delete(pair);
        if (this.proven.size >= this.maxKeys) this.proven.delete(this.proven.keys().next().value ?? "");
        this.proven.set(pair, now);
      },
    };
  }

  /**
   * A single sign-on callback names no account until the homeserver has vouched for it, so its
   * failures count against the client address alone (shared with password sign-ins from it).
   */
  beginFromAddress(address: string): SignInAttempt {
    const now = this.clock.now().getTime();
    const key = `address:${addressKey(address)}`;
    const recent = this.recent(key, now);
    const oldest = recent[recent.length - this.settings.perAddress];
    if (recent.length >= this.settings.perAddress && oldest !== undefined) {
      throw new SignInLimited(Math.max(1, Math.ceil((oldest + this.settings.windowMs - now) / 1000)));
    }
    this.count(key, now);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      this.uncount(key, now);
    };
    return { release, succeeded: release };
  }

  private recent(key: string, now: number): number[] {
    const times = this.failures.get(key);
    if (times === undefined) return [];
    const cutoff = now - this.settings.windowMs;
    while (times.length > 0 && (times[0] ?? 0) <= cutoff) times.shift();
    if (times.length === 0) this.failures.delete(key);
    return times;
  }

  private count(key: string, now: number): void {
    const times = this.failures.get(key);
    if (times) {
      times.push(now);
      return;
    }
    if (this.failures.size >= this.maxKeys) this.forgetOldest(now);
    this.failures.set(key, [now]);
  }

  private uncount(key: string, at: number): void {
    const times = this.failures.get(key);
    const index = times?.lastIndexOf(at) ?? -1;
    if (times === undefined || index < 0) return;
    times.splice(index, 1);
    if (times.length === 0) this.failures.delete(key);
  }

  /**
   * Expired keys go first; if that frees too little, the longest-held tenth (Map keeps insertion
   * order), so a flood of new keys costs one sweep per tenth rather than one per key.
   */
  private forgetOldest(now: number): void {
    for (const key of [...this.failures.keys()]) this.recent(key, now);
    const target = Math.floor(this.maxKeys * 0.9);
    for (const key of this.failures.keys()) {
      if (this.failures.size <= target) break;
      this.failures.delete(key);
    }
  }
}
