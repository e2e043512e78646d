import {
  API,
  API_PREFIX,
  type PersonDevices,
  type Posture,
  type RecordOutcome,
  type SignOutResult,
  type SpotCheck,
  type SpotCheckList,
  type SpotCheckPdf,
  type StaleSweep,
  type StartSpotCheck,
} from "@handover/appservice/contract";
import { request } from "./http";

export function searchPeople(search: string, room: string, group: string): Promise<{ people: PersonDevices[]; staleAfter: string }> {
  return request(API.listDevicePeople, { query: { search: search || undefined, room: room || undefined, group: group || undefined } });
}

export function signOutDevice(userId: string, deviceId: string, reason: string): Promise<SignOutResult> {
  return request(API.signOutDevice, { params: { userId, deviceId }, body: { reason } });
}

export function signOutLostPhone(userId: string, reason: string): Promise<SignOutResult> {
  return request(API.signOutLostPhone, { params: { userId }, body: { reason } });
}

export async function listStaleSweeps(): Promise<StaleSweep[]> {
  return (await request(API.listStaleSweeps)).sweeps;
}

export function requestStaleSweep(reason: string, search: string): Promise<StaleSweep> {
  return request(API.requestStaleSweep, { body: search ? { reason, search } : { reason } });
}

export function decideStaleSweep(sweepId: number, decision: "approve" | "reject", reason: string): Promise<StaleSweep> {
  return request(decision === "approve" ? API.approveStaleSweep : API.rejectStaleSweep, { params: { sweepId: String(sweepId) }, body: { reason } });
}

export function getPosture(): Promise<Posture> {
  return request(API.getDevicePosture);
}

export function takePosture(): Promise<Posture> {
  return request(API.takeDevicePosture);
}

export async function listSpotChecks(): Promise<SpotCheckList["spotChecks"]> {
  return (await request(API.listSpotChecks)).spotChecks;
}

export function startSpotCheck(body: StartSpotCheck): Promise<SpotCheck> {
  return request(API.startSpotCheck, { body });
}

export function getSpotCheck(spotCheckId: string): Promise<SpotCheck> {
  return request(API.getSpotCheck, { params: { spotCheckId } });
}

export function recordSpotCheckOutcome(spotCheckId: string, userId: string, body: RecordOutcome): Promise<SpotCheck> {
  return request(API.recordSpotCheckOutcome, { params: { spotCheckId, userId }, body });
}

export function spotCheckCsvUrl(spotCheckId: string): string {
  return `${API_PREFIX}${API.exportSpotCheckCsv.path.replace(":spotCheckId", encodeURIComponent(spotCheckId))}`;
}

export function spotCheckPdf(spotCheckId: string): Promise<SpotCheckPdf> {
  return request(API.exportSpotCheckPdf, { params: { spotCheckId } });
}
