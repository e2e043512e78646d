import { createRouter, createWebHistory, type LocationQuery, type Router, type RouterHistory } from "vue-router";
import { showPageTitle } from "./display/pageTitle";
import { useSessionStore } from "./stores/session";
import AuditView from "./views/AuditView.vue";
import DevicesView from "./views/devices/DevicesView.vue";
import SpotChecksView from "./views/devices/SpotChecksView.vue";
import SpotCheckView from "./views/devices/SpotCheckView.vue";
import DirectoryView from "./views/directory/DirectoryView.vue";
import RuleEditView from "./views/directory/RuleEditView.vue";
import RunView from "./views/directory/RunView.vue";
import AgreementDetailView from "./views/federation/AgreementDetailView.vue";
import FederationView from "./views/federation/FederationView.vue";
import ProposeAgreementView from "./views/federation/ProposeAgreementView.vue";
import NotFoundView from "./views/NotFoundView.vue";
import NotYetAvailableView from "./views/NotYetAvailableView.vue";
import OverviewView from "./views/OverviewView.vue";
import RoomDetailView from "./views/RoomDetailView.vue";
import RoomsView from "./views/RoomsView.vue";
import RecordsView from "./views/records/RecordsView.vue";
import DeletionsView from "./views/retention/DeletionsView.vue";
import PolicyFormView from "./views/retention/PolicyFormView.vue";
import RetentionRoomView from "./views/retention/RetentionRoomView.vue";
import RetentionView from "./views/retention/RetentionView.vue";
import SignInView from "./views/SignInView.vue";
import SignOutView from "./views/SignOutView.vue";

declare module "vue-router" {
  interface RouteMeta {
    /** Page name for the browser tab: "<title> – Handover". */
    title: string;
    /** Reachable without signing in. */
    public?: boolean;
  }
}

/** Sections listed in the navigation whose capability is not in this version yet. */
const comingLater: { path: string; section: string; purpose: string }[] = [];

/** Which audit page a URL asks for; anything malformed means the newest, unfiltered page. */
function auditPageFrom(query: LocationQuery): { action: string; before: number | null } {
  const before = Number(query.before);
  return {
    action: typeof query.action === "string" ? query.action : "",
    before: Number.isInteger(before) && before > 0 ? before : null,
  };
}

export function createPortalRouter(history: RouterHistory = createWebHistory()): Router {
  const router = createRouter({
    history,
    routes: [
      { path: "/sign-in", component: SignInView, meta: { title: "Sign in", public: true } },
      { path: "/sign-out", component: SignOutView, meta: { title: "Signing out", public: true } },
      { path: "/", component: OverviewView, meta: { title: "Overview" } },
      { path: "/rooms", component: RoomsView, meta: { title: "Rooms" } },
      { path: "/rooms/:roomId", name: "room", component: RoomDetailView, props: true, meta: { title: "Room" } },
      { path: "/records", component: RecordsView, meta: { title: "Records" } },
      { path: "/directory", component: DirectoryView, meta: { title: "Directory" } },
      { path: "/directory/rules/new", component: RuleEditView, meta: { title: "Add a rule" } },
      { path: "/directory/rules/:ruleId", component: RuleEditView, props: true, meta: { title: "Directory rule" } },
      { path: "/directory/runs/:runId", component: RunView, props: true, meta: { title: "Sync run" } },
      { path: "/devices", component: DevicesView, meta: { title: "Devices" } },
      { path: "/devices/spot-checks", component: SpotChecksView, meta: { title: "Spot checks" } },
      { path: "/devices/spot-checks/:spotCheckId", component: SpotCheckView, props: true, meta: { title: "Spot check" } },
      { path: "/audit", component: AuditView, props: (route) => auditPageFrom(route.query), meta: { title: "Audit trail" } },
      { path: "/retention", component: RetentionView, meta: { title: "Retention" } },
      { path: "/retention/policies/new", component: PolicyFormView, meta: { title: "Create a retention policy" } },
      { path: "/retention/policies/:policyId", name: "retention-policy", component: PolicyFormView, props: true, meta: { title: "Retention policy" } },
      { path: "/retention/rooms/:roomId", name: "retention-room", component: RetentionRoomView, props: true, meta: { title: "Room retention" } },
      { path: "/retention/deletions", component: DeletionsView, meta: { title: "Deletion records" } },
      { path: "/federation", component: FederationView, meta: { title: "Federation" } },
      { path: "/federation/propose", component: ProposeAgreementView, meta: { title: "Propose an agreement" } },
      { path: "/federation/agreements/:agreementId", name: "agreement", component: AgreementDetailView, props: true, meta: { title: "Agreement" } },
      ...comingLater.map(({ path, section, purpose }) => ({
        path,
        component: NotYetAvailableView,
        props: { section, purpose },
        meta: { title: section },
      })),
      { path: "/:unknown(.*)*", component: NotFoundView, meta: { title: "Page not found", public: true } },
    ],
  });

  router.beforeEach(async (to) => {
    const session = useSessionStore();
    if (!session.restored) await session.restore();
    if (to.path === "/sign-in" && session.signedIn) return "/";
    if (to.meta.public || session.signedIn) return true;
    return { path: "/sign-in", query: to.fullPath === "/" ? {} : { redirect: to.fullPath } };
  });

  router.afterEach((to) => showPageTitle(to.meta.title));

  return router;
}
