import { API, type AuditPage, type AuditQuery, type AuditVerification } from "@handover/appservice/contract";
import { request } from "./http";

/**
 * AuditQuery with its numbers typed: the contract's z.input leaves coerced fields as
 * `unknown`, since the server accepts them as query-string text.
 */
export type AuditListOptions = Omit<AuditQuery, "limit" | "before"> & { limit?: number; before?: number };

export function listAudit(options: AuditListOptions = {}): Promise<AuditPage> {
  return request(API.listAudit, { query: options });
}

export function verifyAudit(): Promise<AuditVerification> {
  return request(API.verifyAudit);
}
