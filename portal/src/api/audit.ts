import { API, type AuditPage, type AuditQuery, type AuditVerification } from "@handover/appservice/contract";
import { request } from "./http";

export function listAudit(query: AuditQuery = {}): Promise<AuditPage> {
  return request(API.listAudit, { query: { ...query } });
}

export function verifyAudit(): Promise<AuditVerification> {
  return request(API.verifyAudit);
}
