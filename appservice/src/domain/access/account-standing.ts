import type { Clock } from "../clock.js";

/** What the homeserver says of an account. */
export type HomeserverAccountState = "active" | "locked" | "deactivated" | "missing";

/** The homeserver's view of an account (Synapse's admin API); throws when it cannot be asked. */
export interface HomeserverAccounts {
  accountState(userId: string): Promise<HomeserverAccountState>;
}

/** Directory sync's record of who has left (disabled in, or gone from, the directory). */
export interface DirectoryLeavers {
  hasLeft(userId: string): Promise<boolean>;
}

export type Standing = { active: true } | { active: false; reason: "locked" | "deactivated" | "no account" | "directory leaver" };

export interface AccountStandingDeps {
  homeserver: HomeserverAccounts;
  leavers: DirectoryLeavers;
  clock: Clock;
  /** How long the homeserver's answer is trusted before it is asked again. */
  recheckMs: number;
  /** The homeserver could not be asked: the last answer stands (or, with none, the account counts as active). */
  unreachable?(userId: string, error: unknown): void;
}

const REASON = { locked: "locked", deactivated: "deactivated", missing: "no account" } as const;

/**
 * Whether a signed-in person's account still stands: a leaver, a locked or a deactivated account
 * loses its portal session on its next request, not at the end of `sessionTtl`. The directory's
 * record is Handover's own database and read every time; the homeserver's answer is kept for
 * `recheckMs` (30 s by default), so a lock or deactivation in Synapse ends the session within that.
 */
export class AccountStanding {
  private readonly known = new Map<string, { state: HomeserverAccountState; askedAt: number }>();

  constructor(private readonly deps: AccountStandingDeps) {}

  /**
   * `remember: false` (at sign-in) keeps no "active" answer: one kept from the moment
   * of sign-in would hide a lock made just after it for the whole recheck time.
   */
  async check(userId: string, options: { remember?: boolean } = {}): Promise<Standing> {
    if (await this.deps.leavers.hasLeft(userId)) return { active: false, reason: "directory leaver" };
    const state = await this.homeserverState(userId, options.remember ?? true);
    return state === "active" ? { active: true } : { active: false, reason: REASON[state] };
  }

  private async homeserverState(userId: string, remember: boolean): Promise<HomeserverAccountState> {
    const now = this.deps.clock.now().getTime();
    const cached = this.known.get(userId);
    if (cached && now - cached.askedAt < this.deps.recheckMs) return cached.state;
    try {
      const state = await this.deps.homeserver.accountState(userId);
      // A closed account is remembered however it was asked, so it stays out while the homeserver is down.
      if (remember || state !== "active") this.known.set(userId, { state, askedAt: now });
      return state;
    } catch (error) {
      // Handover's portal is where an admin looks when the homeserver is down: it does not lock
      // everyone out then. A closed account's last answer still stands.
      this.deps.unreachable?.(userId, error);
      return cached?.state ?? "active";
    }
  }
}
