"""The Redis client Synapse's workers need, for Handover's test harness only.

Synapse talks to Redis through the PyPI package `txredisapi` (its optional `redis` extra). Debian
ships Synapse but not that package, and this machine reaches no Python package index, so the
harness puts this module on the workers' PYTHONPATH in its place. It is written here from the
Redis protocol (RESP2) and from what Synapse calls (synapse/replication/tcp/redis.py and
external_cache.py): the names Synapse imports, SUBSCRIBE with its messages, PUBLISH, PING, GET
and SET. A production deployment installs the real package (`matrix-synapse[redis]`, or
Element's images, which carry it): see docs/install.md, "Large trusts".
"""

from collections import deque

from twisted.internet import defer, protocol, reactor
from twisted.internet.protocol import ReconnectingClientFactory

__all__ = [
    "ConnectionHandler",
    "RedisError",
    "RedisFactory",
    "RedisProtocol",
    "SubscriberProtocol",
    "UnixConnectionHandler",
]


class RedisError(Exception):
    """An error reply from Redis (a line starting with '-')."""


class _Incomplete(Exception):
    """More bytes are needed before the next reply is whole."""


def _encode(value):
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, bool):
        raise TypeError("Redis values are strings, bytes or numbers, not booleans")
    if isinstance(value, (int, float)):
        return repr(value).encode("ascii")
    raise TypeError("cannot send %r to Redis" % (type(value).__name__,))


def _command(args):
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = _encode(arg)
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


def _parse(buffer, start, charset):
    """One reply from buffer[start:]: (reply, next offset); _Incomplete when cut short."""
    end = buffer.find(b"\r\n", start)
    if end < 0:
        raise _Incomplete()
    kind = buffer[start : start + 1]
    line = buffer[start + 1 : end]
    after = end + 2
    if kind == b"+":
        return line.decode(charset, "replace"), after
    if kind == b"-":
        return RedisError(line.decode(charset, "replace")), after
    if kind == b":":
        return int(line), after
    if kind == b"$":
        length = int(line)
        if length < 0:
            return None, after
        if len(buffer) < after + length + 2:
            raise _Incomplete()
        data = bytes(buffer[after : after + length])
        try:
            return data.decode(charset), after + length + 2
        except UnicodeDecodeError:
            return data, after + length + 2
    if kind == b"*":
        count = int(line)
        if count < 0:
            return None, after
        items = []
        offset = after
        for _ in range(count):
            item, offset = _parse(buffer, offset, charset)
            items.append(item)
        return items, offset
    raise RedisError("unexpected reply type %r from Redis" % (kind,))


class RedisProtocol(protocol.Protocol):
    """One connection: commands go out in order and each waits for its reply in order."""

    def __init__(self, charset="utf-8", errors="strict", replyTimeout=None, password=None, dbid=None, convertNumbers=True):
        self.charset = charset or "utf-8"
        self.replyTimeout = replyTimeout
        self.password = password
        self.dbid = dbid
        self._buffer = bytearray()
        self._waiting = deque()
        self._timeout = None
        self.connected = False

    def connectionMade(self):
        self.connected = True
        setup = []
        password = self.password if self.password is not None else getattr(self.factory, "password", None)
        dbid = self.dbid if self.dbid is not None else getattr(self.factory, "dbid", None)
        if password:
            setup.append(self.execute_command("AUTH", password))
        if dbid:
            setup.append(self.execute_command("SELECT", dbid))
        ready = defer.gatherResults(setup, consumeErrors=True) if setup else defer.succeed(None)
        ready.addCallbacks(lambda _: self.factory.addConnection(self), self._setupFailed)

    def _setupFailed(self, failure):
        self.transport.loseConnection()

    def connectionLost(self, reason):
        self.connected = False
        self._stopTimer()
        waiting, self._waiting = self._waiting, deque()
        for d in waiting:
            d.errback(ConnectionError("the connection to Redis was lost"))
        factory = getattr(self, "factory", None)
        if factory is not None:
            factory.delConnection(self)

    def execute_command(self, *args):
        if not self.connected:
            return defer.fail(ConnectionError("not connected to Redis"))
        d = defer.Deferred()
        self._waiting.append(d)
        self.transport.write(_command(args))
        self._startTimer()
        return d

    def dataReceived(self, data):
        self._buffer.extend(data)
        offset = 0
        while offset < len(self._buffer):
            try:
                reply, offset = _parse(self._buffer, offset, self.charset)
            except _Incomplete:
                break
            self.replyReceived(reply)
        del self._buffer[:offset]

    def replyReceived(self, reply):
        if not self._waiting:
            return
        d = self._waiting.popleft()
        self._restartTimer()
        if isinstance(reply, RedisError):
            d.errback(reply)
        else:
            d.callback(reply)

    # A reply that never comes means a dead connection: drop it so the factory reconnects.
    def _startTimer(self):
        if self.replyTimeout and self._timeout is None:
            self._timeout = reactor.callLater(self.replyTimeout, self._timedOut)

    def _restartTimer(self):
        self._stopTimer()
        if self._waiting:
            self._startTimer()

    def _stopTimer(self):
        if self._timeout is not None and self._timeout.active():
            self._timeout.cancel()
        self._timeout = None

    def _timedOut(self):
        self._timeout = None
        if self.transport is not None:
            self.transport.abortConnection()

    def ping(self):
        return self.execute_command("PING")

    def publish(self, channel, message):
        return self.execute_command("PUBLISH", channel, message)

    def get(self, key):
        return self.execute_command("GET", key)

    def set(self, key, value, expire=None, pexpire=None, only_if_not_exists=False, only_if_exists=False):
        args = ["SET", key, value]
        if expire is not None:
            args += ["EX", expire]
        if pexpire is not None:
            args += ["PX", pexpire]
        if only_if_not_exists:
            args.append("NX")
        elif only_if_exists:
            args.append("XX")
        return self.execute_command(*args)


class SubscriberProtocol(RedisProtocol):
    """A connection in subscribe mode: pushed messages go to messageReceived."""

    def subscribe(self, channels):
        if isinstance(channels, (str, bytes)):
            channels = [channels]
        # Redis confirms each channel with its own reply; the last one means all are in.
        confirmations = [defer.Deferred() for _ in channels]
        self._waiting.extend(confirmations)
        self.transport.write(_command(["SUBSCRIBE", *channels]))
        self._startTimer()
        return defer.gatherResults(confirmations, consumeErrors=True)

    def replyReceived(self, reply):
        if isinstance(reply, list) and reply and isinstance(reply[0], str):
            kind = reply[0].lower()
            if kind == "message" and len(reply) == 3:
                self.messageReceived(None, reply[1], reply[2])
                return
            if kind == "pmessage" and len(reply) == 4:
                self.messageReceived(reply[1], reply[2], reply[3])
                return
            if kind == "pong":
                reply = "PONG"
        super().replyReceived(reply)

    def messageReceived(self, pattern, channel, message):
        """Overridden by the user of a subscription."""


class RedisFactory(ReconnectingClientFactory):
    """Keeps up to `poolsize` connections to one Redis, reconnecting when one is lost."""

    protocol = RedisProtocol
    maxDelay = 10

    def __init__(self, uuid, dbid, poolsize, isLazy=False, handler=None, charset="utf-8", password=None,
                 replyTimeout=None, convertNumbers=True):
        self.uuid = uuid
        self.dbid = dbid
        self.poolsize = poolsize
        self.isLazy = isLazy
        self.charset = charset
        self.password = password
        self.replyTimeout = replyTimeout
        self.convertNumbers = convertNumbers
        self.pool = []
        self._connectionWaiters = deque()
        self.handler = (handler or ConnectionHandler)(self)

    def buildProtocol(self, addr):
        p = self.protocol(charset=self.charset, replyTimeout=self.replyTimeout, password=self.password,
                          dbid=self.dbid, convertNumbers=self.convertNumbers)
        p.factory = self
        return p

    def addConnection(self, conn):
        self.resetDelay()
        self.pool.append(conn)
        while self._connectionWaiters:
            self._connectionWaiters.popleft().callback(conn)

    def delConnection(self, conn):
        if conn in self.pool:
            self.pool.remove(conn)

    def getConnection(self):
        """A connected protocol now, or when the next connection is up."""
        for conn in self.pool:
            if conn.connected:
                return defer.succeed(conn)
        d = defer.Deferred()
        self._connectionWaiters.append(d)
        return d


class ConnectionHandler:
    """What Synapse keeps as 'the connection': each command waits for a live connection."""

    def __init__(self, factory):
        self._factory = factory

    def _call(self, name, *args, **kwargs):
        d = self._factory.getConnection()
        d.addCallback(lambda conn: getattr(conn, name)(*args, **kwargs))
        return d

    def ping(self):
        return self._call("ping")

    def publish(self, channel, message):
        return self._call("publish", channel, message)

    def get(self, key):
        return self._call("get", key)

    def set(self, key, value, **options):
        return self._call("set", key, value, **options)

    def execute_command(self, *args):
        return self._call("execute_command", *args)


class UnixConnectionHandler(ConnectionHandler):
    """The same over a Unix socket (the factory is connected with connectUNIX)."""
