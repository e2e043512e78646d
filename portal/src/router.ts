import { createRouter, createWebHistory, type LocationQuery, type Router, type RouterHistory } from "vue-router";
import { showPageTitle } from "./display/pageTitle";
import { useSessionStore } from "./stores/session";
import AuditView from "./views/AuditView.vue";
import NotFoundView from "./views/NotFoundView.vue";
import NotYetAvailableView from "./views/NotYetAvailableView.vue";
import OverviewView from "./views/OverviewView.vue";
import RoomDetailView from "./views/RoomDetailView.vue";
import RoomsView from "./views/RoomsView.vue";
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
const comingLater = [
  { path: "/retention", section: "Retention", purpose: "set how long messages in clinical and operational rooms are kept" },
  { path: "/directory", section: "Directory", purpose: "keep Matrix accounts in step with your trust's staff directory" },
  { path: "/records", section: "Records", purpose: "file clinical conversations to the electronic health record" },
  { path: "/federation", section: "Federation", purpose: "manage agreements to message other organisations' homeservers" },
];

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
      { path: "/audit", component: AuditView, props: (route) => auditPageFrom(route.query), meta: { title: "Audit trail" } },
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
