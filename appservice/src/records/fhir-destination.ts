import type { Bundle, OperationOutcome, Patient } from "@medplum/fhirtypes";
import type { FiledDocument, FilingReceipt } from "../domain/records/filing.js";
import { NHS_NUMBER_SYSTEM, type NhsNumber } from "../domain/records/nhs-number.js";
import type { PatientDirectory } from "../domain/records/patient.js";
import { type RecordDestination, RecordSystemError } from "../domain/records/record-destination.js";

/** How requests to the FHIR server are authorised. */
export interface FhirAuthorizer {
  authorization(): Promise<string | null>;
  /** Called after a 401 so a cached token is not used again. */
  forget?(): void;
}

export const noAuthorization: FhirAuthorizer = { authorization: async () => null };

export function bearerToken(token: string): FhirAuthorizer {
  return { authorization: async () => `Bearer ${token}` };
}

function outcomeText(body: unknown): string {
  const outcome = body as OperationOutcome | undefined;
  if (outcome?.resourceType !== "OperationOutcome") return "";
  return (outcome.issue ?? [])
    .map((issue) => issue.diagnostics ?? issue.details?.text ?? issue.code)
    .filter(Boolean)
    .join("; ")
    .slice(0, 300);
}

/** A FHIR R4 server: filings are POSTed as transactions; patients are searched by NHS number. */
export class FhirServerDestination implements RecordDestination, PatientDirectory {
  readonly kind = "fhir" as const;

  constructor(
    private readonly baseUrl: string,
    private readonly auth: FhirAuthorizer,
    private readonly timeoutMs: number,
  ) {}

  /**
   * One request. A 401 with an authorizer that caches tokens (one that expired or was revoked
   * before its time) is retried once with a fresh token; a second 401 is a refusal.
   */
  private async call(method: "GET" | "POST", path: string, body?: string, renewed = false): Promise<{ status: number; json: unknown }> {
    const authorization = await this.auth.authorization();
    let response: Response;
    try {
      response = await fetch(`${this.baseUrl.replace(/\/$/, "")}${path}`, {
        method,
        headers: { accept: "application/fhir+json", ...(body ? { "content-type": "application/fhir+json" } : {}), ...(authorization ? { authorization } : {}) },
        ...(body ? { body } : {}),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (error) {
      const reason =
        error instanceof Error
          ? error.name === "TimeoutError"
            ? "no answer in time"
            : ((error.cause as Error | undefined)?.message ?? error.message)
          : String(error);
      throw new RecordSystemError("unavailable", `could not reach ${new URL(this.baseUrl).host} (${reason})`);
    }
    const json = await response.json().catch(() => undefined);
    if (response.status === 401 && this.auth.forget) {
      this.auth.forget();
      if (!renewed) return this.call(method, path, body, true);
    }
    if (response.status >= 500 || response.status === 429 || response.status === 408) {
      throw new RecordSystemError("unavailable", `HTTP ${response.status}${outcomeText(json) ? `: ${outcomeText(json)}` : ""}`);
    }
    if (response.status >= 400) throw new RecordSystemError("refused", `HTTP ${response.status}${outcomeText(json) ? `: ${outcomeText(json)}` : ""}`);
    return { status: response.status, json };
  }

  async deliver(_exportId: string, filed: FiledDocument): Promise<FilingReceipt> {
    const { json } = await this.call("POST", "/", filed.bundleJson);
    const answer = json as Bundle | undefined;
    if (answer?.resourceType !== "Bundle" || answer.type !== "transaction-response") {
      throw new RecordSystemError("refused", "the server did not answer with a transaction-response bundle");
    }
    const entries = (answer.entry ?? []).map((entry) => ({ location: entry.response?.location ?? "", status: entry.response?.status ?? "" }));
    const failed = entries.find((entry) => !/^2\d\d/.test(entry.status));
    if (failed || entries.length === 0) throw new RecordSystemError("refused", `an entry was not accepted (${failed?.status ?? "no entries"})`);
    const [document] = entries;
    const [type, id, history, version] = (document?.location ?? "").split("/");
    if (type !== "DocumentReference" || !id) throw new RecordSystemError("refused", "the answer does not locate the DocumentReference");
    return {
      destination: "fhir",
      documentReference: `DocumentReference/${id}`,
      versionId: history === "_history" && version ? version : (answer.entry?.[0]?.response?.etag?.replace(/^W\/"|"$/g, "") ?? null),
      entries,
      acceptedAt: new Date().toISOString(),
    };
  }

  async lookup(nhsNumber: NhsNumber): Promise<{ name: string | null; birthDate: string | null } | null> {
    const { json } = await this.call("GET", `/Patient?identifier=${encodeURIComponent(`${NHS_NUMBER_SYSTEM}|${nhsNumber}`)}`);
    const patient = (json as Bundle<Patient> | undefined)?.entry?.[0]?.resource;
    if (!patient) return null;
    const name = patient.name?.find((candidate) => candidate.use === "official") ?? patient.name?.[0];
    const display = name ? [name.family?.toUpperCase(), name.given?.join(" ")].filter(Boolean).join(", ") : null;
    return { name: display || null, birthDate: patient.birthDate ?? null };
  }
}
