/** What the end-to-end global setup hands the specs (through HANDOVER_E2E). */
export interface E2eTrust {
  serverName: string;
  portalUrl: string;
  clientUrl: string;
  botUserId: string;
  /** A room on this trust with Handover's bot in it. */
  roomId: string;
  admin: { userId: string; accessToken: string };
  auditor: { userId: string };
  igLead: { userId: string };
  nurse: { userId: string; accessToken: string };
  databaseUrl: string;
}

/** Bearer token of trust A's SCIM endpoint (directory sync), as Entra ID would be given it. */
export const E2E_SCIM_TOKEN = "e2e-scim-token-for-trust-a-directory-sync";

/** Header line of trust A's ESR-style CSV source (directory sync), mapped with `username: "Login"`. */
export const E2E_ESR_HEADER =
  "Employee Number,First Name,Last Name,Login,Position Title,Occupation Code,Area of Work,Organisation,Assignment Start Date,Assignment End Date";

export interface E2eInfo {
  password: string;
  trusts: Record<"a" | "b", E2eTrust>;
}

export function e2eInfo(): E2eInfo {
  const raw = process.env.HANDOVER_E2E;
  if (!raw) throw new Error("HANDOVER_E2E is not set: run the specs through tests/e2e/playwright.config.ts");
  return JSON.parse(raw) as E2eInfo;
}
