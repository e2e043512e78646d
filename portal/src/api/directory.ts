import {
  API,
  type CsvImportResult,
  type DirectoryRule,
  type DirectoryRuleInput,
  type DirectoryRun,
  type DirectoryRunDetail,
  type DirectoryStatus,
  type PersonExplanation,
  type SourceTest,
} from "@handover/appservice/contract";
import { ApiError, request } from "./http";

export function directoryStatus(): Promise<DirectoryStatus> {
  return request(API.directoryStatus);
}

export function testSource(source: string): Promise<SourceTest> {
  return request(API.testDirectorySource, { params: { source } });
}

export async function listRules(): Promise<DirectoryRule[]> {
  return (await request(API.listDirectoryRules)).rules;
}

/** One rule, or null when there is none with that id. */
export async function findRule(ruleId: string): Promise<DirectoryRule | null> {
  return (await listRules()).find((rule) => rule.id === ruleId) ?? null;
}

export function saveRule(rule: DirectoryRuleInput): Promise<DirectoryRule> {
  return request(API.putDirectoryRule, { params: { ruleId: rule.id }, body: rule });
}

export function previewSync(rule?: DirectoryRuleInput): Promise<DirectoryRunDetail> {
  return request(API.previewDirectorySync, { body: rule ? { rule } : {} });
}

export function runSync(): Promise<DirectoryRunDetail> {
  return request(API.runDirectorySync, { body: { dryRun: false } });
}

export async function listRuns(): Promise<DirectoryRun[]> {
  return (await request(API.listDirectoryRuns)).runs;
}

export async function findRun(runId: string): Promise<DirectoryRunDetail | null> {
  try {
    return await request(API.getDirectoryRun, { params: { runId } });
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) return null;
    throw error;
  }
}

export function approveRun(runId: number): Promise<DirectoryRunDetail> {
  return request(API.approveDirectoryRun, { params: { runId: String(runId) } });
}

export function rejectRun(runId: number, reason: string): Promise<DirectoryRun> {
  return request(API.rejectDirectoryRun, { params: { runId: String(runId) }, body: { reason } });
}

export function explainPerson(userId: string): Promise<PersonExplanation> {
  return request(API.explainDirectoryPerson, { params: { userId } });
}

/** Imports an ESR-style CSV file into a CSV source and runs sync; with dryRun only shows what it would change. */
export function importCsv(source: string, csv: string, dryRun: boolean): Promise<CsvImportResult> {
  return request(API.importDirectoryCsv, { params: { source }, body: { csv, dryRun } });
}
