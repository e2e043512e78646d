"""Tests of handover_federation.py against a Handover that hangs and one that answers.

Run by tests/integration/federation-module.test.ts with the python3 of the test harness's Synapse
root (Debian sid's matrix-synapse), so the module meets the Synapse and Twisted it runs with.
Handover is a real loopback HTTP server; only Synapse's ModuleApi is a stand-in, whose
http_client does what Synapse's SimpleHttpClient does: a GET with a fixed overall timeout
(a minute in Synapse, SYNAPSE_HTTP_TIMEOUT here so a regression fails in seconds, not minutes).

Prints one line per test and exits non-zero if any failed.
"""

import json
import sys
import traceback

from synapse.module_api import NOT_SPAM
from twisted.internet import defer, protocol, reactor, task
from twisted.web.client import Agent, readBody
from twisted.web.http_headers import Headers
from twisted.web.resource import Resource
from twisted.web.server import Site

from handover_federation import HandoverFederationGate

SYNAPSE_HTTP_TIMEOUT = 4.0
OWN = "trust-a.test:8481"
PARTNER = "trust-b.test:8482"


class HangingHandover(protocol.Protocol):
    """Accepts the connection, reads the request, never answers."""

    def connectionMade(self):
        self.factory.connections += 1


class HangingFactory(protocol.Factory):
    protocol = HangingHandover

    def __init__(self):
        self.connections = 0


class AllowedServers(Resource):
    isLeaf = True

    def __init__(self):
        super().__init__()
        self.requests = 0

    def render_GET(self, request):
        self.requests += 1
        request.setHeader(b"content-type", b"application/json")
        return json.dumps({"enforce": True, "server_name": OWN, "allowed_servers": [PARTNER]}).encode()


class SimpleHttpClientStandIn:
    def __init__(self):
        self._agent = Agent(reactor)

    async def get_json(self, uri, headers=None):
        async def get():
            response = await self._agent.request(b"GET", uri.encode(), Headers(headers or {}))
            return json.loads(await readBody(response))

        request = defer.ensureDeferred(get())
        request.addTimeout(SYNAPSE_HTTP_TIMEOUT, reactor)
        return await request


class ModuleApiStandIn:
    server_name = OWN

    def __init__(self):
        self.http_client = SimpleHttpClientStandIn()
        self.callbacks = {}

    def register_spam_checker_callbacks(self, **callbacks):
        self.callbacks.update(callbacks)


class Event:
    def __init__(self, sender, room_id="!room:" + PARTNER):
        self.sender = sender
        self.room_id = room_id
        self.event_id = "$event"


def gate(port, **overrides):
    config = {
        "handover_url": f"http://127.0.0.1:{port}",
        "hs_token": "hs-token",
        "cache_ttl_seconds": 15,
        "timeout_seconds": 0.5,
        "failure_ttl_seconds": 30,
        "fail_open": False,
    }
    config.update(overrides)
    return HandoverFederationGate(config, ModuleApiStandIn())


def check(condition, message):
    if not condition:
        raise AssertionError(message)


async def n_events_in_a_row_cost_one_timeout():
    hanging = HangingFactory()
    port = reactor.listenTCP(0, hanging, interface="127.0.0.1")
    try:
        module = gate(port.getHost().port)
        dropped = [await module.should_drop_federated_event(Event("@bea:" + PARTNER)) for _ in range(5)]
        check(dropped == [False] * 5, f"nothing is dropped while Handover cannot be asked, got {dropped}")
        check(hanging.connections == 1, f"5 events in a row asked a hung Handover once, not {hanging.connections} times")
        refused = await module.user_may_join_room("@alice:" + OWN, "!room:" + PARTNER, True)
        check(refused != NOT_SPAM, "fail_open: false refuses while Handover cannot be asked")
        check(hanging.connections == 1, f"the failure is remembered, asked {hanging.connections} times")
    finally:
        await port.stopListening()


async def one_question_in_flight():
    hanging = HangingFactory()
    port = reactor.listenTCP(0, hanging, interface="127.0.0.1")
    try:
        module = gate(port.getHost().port)
        calls = [defer.ensureDeferred(module.user_may_invite("@alice:" + OWN, f"@user{i}:" + PARTNER, "!room:" + OWN)) for i in range(10)]
        answers = await defer.gatherResults(calls)
        check(all(answer != NOT_SPAM for answer in answers), "every waiting caller gets the (failed) answer")
        check(hanging.connections == 1, f"10 callers at once asked a hung Handover once, not {hanging.connections} times")
    finally:
        await port.stopListening()


async def room_without_server_part_is_unknown():
    resource = AllowedServers()
    port = reactor.listenTCP(0, Site(resource), interface="127.0.0.1")
    try:
        module = gate(port.getHost().port)
        check(await module.user_may_join_room("@alice:" + OWN, "!abc:" + PARTNER, True) == NOT_SPAM, "a partner's room is allowed")
        check(await module.user_may_join_room("@alice:" + OWN, "!abc:" + OWN, True) == NOT_SPAM, "a local room is allowed")
        check(await module.user_may_join_room("@alice:" + OWN, "!abc:evil.example", True) != NOT_SPAM, "a stranger's room is refused")
        unknown = await module.user_may_join_room("@alice:" + OWN, "!v12RoomIdWithoutServerPart", True)
        check(unknown != NOT_SPAM, "a room ID without a server part is unknown, not allowed")
        invite = await module.user_may_invite("@alice:" + OWN, "@bea:" + PARTNER, "!v12RoomIdWithoutServerPart")
        check(invite != NOT_SPAM, "an invite into a room of unknown host is refused")
        federated = await module.federated_user_may_invite(Event("@bea:" + PARTNER, "!v12RoomIdWithoutServerPart"))
        check(federated != NOT_SPAM, "a federated invite into a room of unknown host is refused")
        check(resource.requests == 1, f"answers are cached, asked {resource.requests} times")
    finally:
        await port.stopListening()


TESTS = [n_events_in_a_row_cost_one_timeout, one_question_in_flight, room_without_server_part_is_unknown]


async def main(_reactor):
    failed = 0
    for test in TESTS:
        try:
            await test()
            print(f"ok {test.__name__}", flush=True)
        except Exception:  # noqa: BLE001 - report every failure and go on
            failed += 1
            print(f"FAIL {test.__name__}: {traceback.format_exc()}", flush=True)
    if failed:
        raise SystemExit(1)


if __name__ == "__main__":
    task.react(lambda r: defer.ensureDeferred(main(r)))
    sys.exit(0)
