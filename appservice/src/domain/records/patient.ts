import type { NhsNumber } from "./nhs-number.js";

/** Who a conversation is about, as far as Handover knows. */
export interface PatientDetails {
  nhsNumber: NhsNumber;
  /** From the trust's record when it could be searched; null otherwise. */
  name: string | null;
  birthDate: string | null;
  /**
   * True when the number was verified against the trust's record (a Patient found by it);
   * false when it was only typed in and checked with modulus 11.
   */
  verified: boolean;
}

/** A room, or one thread in it, linked to a patient. */
export interface PatientLink {
  roomId: string;
  /** Null links the whole room. */
  threadRootId: string | null;
  patient: PatientDetails;
  linkedBy: string;
  linkedAt: Date;
}

export interface PatientLinkStore {
  save(link: PatientLink): Promise<void>;
  /** The thread's own link if it has one, else the room's. */
  find(roomId: string, threadRootId: string | null): Promise<PatientLink | null>;
  list(): Promise<PatientLink[]>;
}

/** Looks a patient up in the trust's record by NHS number; null when not found. */
export interface PatientDirectory {
  lookup(nhsNumber: NhsNumber): Promise<{ name: string | null; birthDate: string | null } | null>;
}

/** "SMITH, Jane (born 1980-01-02)", or nothing when the record was not searched. */
export function describePatient(patient: PatientDetails): string {
  const nhs = `NHS number ${patient.nhsNumber.slice(0, 3)} ${patient.nhsNumber.slice(3, 6)} ${patient.nhsNumber.slice(6)}`;
  if (!patient.name && !patient.birthDate) return nhs;
  const born = patient.birthDate ? ` (born ${patient.birthDate})` : "";
  return `${patient.name ?? "name unknown"}${born}, ${nhs}`;
}
