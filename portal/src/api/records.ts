import {
  API,
  type FiledPdf,
  type FilingSummary,
  type LinkPatient,
  type LinkPatientResult,
  type PatientLinkSummary,
  type PatientLookupList,
} from "@handover/appservice/contract";
import { request } from "./http";

export async function listFilings(): Promise<FilingSummary[]> {
  return (await request(API.listFilings)).filings;
}

export async function listPatientLinks(): Promise<PatientLinkSummary[]> {
  return (await request(API.listPatientLinks)).links;
}

export function linkPatient(roomId: string, body: LinkPatient): Promise<LinkPatientResult> {
  return request(API.linkPatient, { params: { roomId }, body });
}

/** Describes what would be filed; nothing is sent until it is confirmed. */
export function requestFiling(roomId: string, threadRootId: string | null): Promise<FilingSummary> {
  return request(API.requestFiling, { body: threadRootId ? { roomId, threadRootId } : { roomId } });
}

export function confirmFiling(exportId: string): Promise<FilingSummary> {
  return request(API.confirmFiling, { params: { exportId } });
}

export function retryFiling(exportId: string): Promise<FilingSummary> {
  return request(API.retryFiling, { params: { exportId } });
}

export function downloadFiledPdf(exportId: string): Promise<FiledPdf> {
  return request(API.downloadFiledPdf, { params: { exportId } });
}

/** Who looked up the patient with this NHS number (an IG lead's question; audited). */
export function searchPatientLookups(nhsNumber: string): Promise<PatientLookupList> {
  return request(API.searchPatientLookups, { body: { nhsNumber } });
}
