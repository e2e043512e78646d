import { API, type Overview } from "@handover/appservice/contract";
import { request } from "./http";

export function getOverview(): Promise<Overview> {
  return request(API.overview);
}
