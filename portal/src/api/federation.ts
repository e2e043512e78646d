import {
  type Agreement,
  type AgreementActionRequest,
  type AgreementDetail,
  API,
  type EnforcementHealth,
  type ExpectedPartners,
  type OurOrganisation,
  type ProposeAgreementRequest,
  type WhitelistSnippet,
} from "@handover/appservice/contract";
import { ApiError, request } from "./http";

export function ourOrganisation(): Promise<OurOrganisation> {
  return request(API.getOrganisation);
}

export async function listAgreements(): Promise<Agreement[]> {
  const { agreements } = await request(API.listAgreements);
  return agreements;
}

/** One agreement with its history, or null when there is none with this id. */
export async function findAgreement(agreementId: string): Promise<AgreementDetail | null> {
  try {
    return await request(API.getAgreement, { params: { agreementId } });
  } catch (error) {
    if (error instanceof ApiError && (error.status === 404 || error.code === "VALIDATION_FAILED")) return null;
    throw error;
  }
}

export function proposeAgreement(proposal: ProposeAgreementRequest): Promise<Agreement> {
  return request(API.proposeAgreement, { body: proposal });
}

export function actOnAgreement(agreementId: string, action: AgreementActionRequest): Promise<Agreement> {
  return request(API.actOnAgreement, { params: { agreementId }, body: action });
}

export function enforcementHealth(): Promise<EnforcementHealth> {
  return request(API.federationEnforcement);
}

export function whitelistSnippet(): Promise<WhitelistSnippet> {
  return request(API.federationWhitelist);
}

export function expectedPartners(): Promise<ExpectedPartners> {
  return request(API.listExpectedPartners);
}

export function addExpectedPartner(pattern: string): Promise<ExpectedPartners> {
  return request(API.addExpectedPartner, { body: { pattern } });
}

export function removeExpectedPartner(pattern: string): Promise<ExpectedPartners> {
  return request(API.removeExpectedPartner, { params: { pattern } });
}
