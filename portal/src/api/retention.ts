import {
  API,
  API_PREFIX,
  type DeletionRecord,
  type LegalHoldView,
  type PlaceHoldRequest,
  type PolicyDraftInput,
  type PurgeProblem,
  type RetentionPlan,
  type RetentionPolicyView,
  type RoomRetention,
  type SweepResult,
} from "@handover/appservice/contract";
import { request } from "./http";

export async function listPolicies(): Promise<RetentionPolicyView[]> {
  return (await request(API.listRetentionPolicies)).policies;
}

export function createPolicy(draft: PolicyDraftInput): Promise<RetentionPolicyView> {
  return request(API.createRetentionPolicy, { body: draft });
}

export function updatePolicy(policyId: string, draft: PolicyDraftInput): Promise<RetentionPolicyView> {
  return request(API.updateRetentionPolicy, { params: { policyId }, body: draft });
}

export async function deletePolicy(policyId: string): Promise<void> {
  await request(API.deleteRetentionPolicy, { params: { policyId } });
}

export function previewPolicy(draft: PolicyDraftInput, replacingId: string | null): Promise<RetentionPlan> {
  return request(API.previewRetentionPolicy, { body: { policy: draft, replacingId } });
}

export async function retentionPlan(): Promise<RoomRetention[]> {
  return (await request(API.retentionPlan)).rooms;
}

export function roomRetention(roomId: string): Promise<RoomRetention> {
  return request(API.roomRetention, { params: { roomId } });
}

export function placeHold(roomId: string, hold: PlaceHoldRequest): Promise<LegalHoldView> {
  return request(API.placeLegalHold, { params: { roomId }, body: hold });
}

export async function liftHold(roomId: string): Promise<void> {
  await request(API.liftLegalHold, { params: { roomId } });
}

export async function listHolds(): Promise<LegalHoldView[]> {
  return (await request(API.listLegalHolds)).holds;
}

export async function listDeletions(): Promise<DeletionRecord[]> {
  return (await request(API.listDeletions, { query: { limit: 500 } })).deletions;
}

/** A plain link: the browser downloads the CSV with the session cookie. */
export const DELETIONS_CSV_URL = `${API_PREFIX}${API.exportDeletions.path}?limit=5000`;

export async function listPurgeProblems(): Promise<PurgeProblem[]> {
  return (await request(API.listPurgeProblems)).problems;
}

export function runSweep(): Promise<SweepResult> {
  return request(API.runRetentionSweep);
}
