import type { AuditRecorder } from "../audit/audit-trail.js";
import type { Clock } from "../clock.js";
import { HandoverError } from "../errors.js";
import type { AgreementRecord } from "./agreement.js";
import { PARTNER_PATTERN } from "./partner-pattern.js";

/**
 * Which servers may reach this trust's inbox. A server this trust has agreed with (or proposed
 * to) is known; any other, first contact included, must match a pattern a trust admin listed as
 * an expected partner, before Handover makes any request on its behalf.
 */

/** A Matrix server name: DNS name, IPv4 or [IPv6], optional port. Nothing else reaches a URL. */
const SERVER_NAME = /^(\[[0-9A-Fa-f:.]{2,45}\]|[A-Za-z0-9](?:[A-Za-z0-9-]{0,62})(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}))*)(:\d{1,5})?$/;

export function isServerName(value: string): boolean {
  return value.length <= 255 && SERVER_NAME.test(value);
}

export function isPartnerPattern(value: string): boolean {
  return value.length <= 255 && PARTNER_PATTERN.test(value);
}

function splitPort(name: string): { host: string; port: string | null } {
  const match = /^(.*?)(?::(\d{1,5}))?$/.exec(name) as RegExpExecArray;
  return { host: (match[1] ?? "").toLowerCase(), port: match[2] ?? null };
}

export function matchesPartnerPattern(pattern: string, serverName: string): boolean {
  if (!isPartnerPattern(pattern) || !isServerName(serverName)) return false;
  const wanted = splitPort(pattern);
  const actual = splitPort(serverName);
  if (wanted.port !== null && wanted.port !== actual.port) return false;
  if (wanted.host.startsWith("*.")) return actual.host.endsWith(wanted.host.slice(1)) && actual.host.length > wanted.host.length - 1;
  return wanted.host === actual.host;
}

export interface ExpectedPartnerPatterns {
  /** The patterns admins added in the portal (the config's come on top). */
  patterns(): Promise<string[]>;
}

export interface StoredExpectedPartner {
  pattern: string;
  addedBy: string;
  addedAt: Date;
}

export interface ExpectedPartnerStore extends ExpectedPartnerPatterns {
  list(): Promise<StoredExpectedPartner[]>;
  add(row: StoredExpectedPartner): Promise<boolean>;
  remove(pattern: string): Promise<boolean>;
}

/** The portal's list of expected partners: every change audited. */
export class ExpectedPartnerList {
  constructor(private readonly deps: { store: ExpectedPartnerStore; configPatterns: readonly string[]; audit: AuditRecorder; clock: Clock }) {}

  async list(): Promise<{ fromConfig: string[]; added: StoredExpectedPartner[] }> {
    return { fromConfig: [...this.deps.configPatterns], added: await this.deps.store.list() };
  }

  async add(actor: string, pattern: string): Promise<void> {
    if (!isPartnerPattern(pattern))
      throw new HandoverError("VALIDATION_FAILED", "expected a server name like matrix.trust.nhs.uk, host:port, or a pattern like *.nhs.uk");
    if (!(await this.deps.store.add({ pattern, addedBy: actor, addedAt: this.deps.clock.now() })))
      throw new HandoverError("CONFLICT", `${pattern} is already an expected partner`);
    await this.deps.audit.record({ actor, action: "federation.expected_partner.added", target: pattern, details: { pattern } });
  }

  async remove(actor: string, pattern: string): Promise<void> {
    if (!(await this.deps.store.remove(pattern))) throw new HandoverError("NOT_FOUND", `${pattern} is not listed in the portal`);
    await this.deps.audit.record({ actor, action: "federation.expected_partner.removed", target: pattern, details: { pattern } });
  }
}

export interface SenderGateDeps {
  configPatterns: readonly string[];
  stored: ExpectedPartnerPatterns;
  agreements: { list(): Promise<AgreementRecord[]> };
}

/** Agreements that make a server known: one we proposed, or one that was accepted at some point. */
function agreedWith(agreement: AgreementRecord): boolean {
  return agreement.proposedBy === "us" || ["active", "suspended", "revoked"].includes(agreement.status);
}

export class SenderGate {
  constructor(private readonly deps: SenderGateDeps) {}

  /** Whether a message claiming to come from this server may be looked at further. */
  async mayContact(serverName: string): Promise<boolean> {
    if (!isServerName(serverName)) return false;
    const patterns = [...this.deps.configPatterns, ...(await this.deps.stored.patterns())];
    if (patterns.some((pattern) => matchesPartnerPattern(pattern, serverName))) return true;
    return (await this.deps.agreements.list()).some((a) => a.peer.serverName === serverName && agreedWith(a));
  }
}
