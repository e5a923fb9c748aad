"""proxyd's settings as frozen dataclasses; :mod:`proxyd.config` builds them from YAML (pure)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from proxyd.diagnosis import Diagnosis

# A provider's wire setting (the adapters themselves are proxyd.wires.registry's Wire and WIRES)
WireSetting = Literal["auto", "responses", "chat", "anthropic", "gemini"]
WIRE_SETTINGS: tuple[str, ...] = ("auto", "responses", "chat", "anthropic", "gemini")
MiB = 1024 * 1024


class ConfigError(Exception):
    """A configuration that cannot be used; ``errors`` holds one line per problem."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


@dataclass(frozen=True)
class Timeouts:
    connect_s: float = 10.0
    first_byte_s: float = 300.0  # a large local model can think for minutes before its first token
    idle_s: float = 120.0  # between two reads of a streamed body; streams have no total limit


CAPABILITIES: tuple[str, ...] = ("tools", "vision", "reasoning", "streaming")
EFFORTS: tuple[str, ...] = ("none", "minimal", "low", "medium", "high", "xhigh")
DEFAULT_CONTEXT_WINDOW = 128_000  # shown for models nobody gave a window


@dataclass(frozen=True)
class ToolCalls:
    """What proxyd does with the tool calls of a provider's or a model's answers."""

    repair: bool = False  # rewrite calls written as text and arguments that are almost JSON


@dataclass(frozen=True)
class PriceSetting:
    """Dollars per million tokens, as the config sets them (``price:`` of a provider or model)."""

    input_per_mtok: float
    output_per_mtok: float
    cache_read_per_mtok: float | None = None  # None: cache reads are billed as input
    cache_write_per_mtok: float | None = None  # None: cache writes are billed as input


@dataclass(frozen=True)
class ModelEntry:
    id: str
    alias: str | None = None
    context_window: int | None = None
    max_output_tokens: int | None = None
    capabilities: tuple[tuple[str, bool], ...] = ()  # only what was declared; absent is unknown
    tags: tuple[str, ...] = ()
    reasoning_effort: str | None = None  # applied when the client sends none
    # What the provider's GET /models filled in ("context_window", "max_output_tokens", or a
    # capability's name), so a 400 can say where a "no" came from (proxyd.listing).
    listed: frozenset[str] = frozenset()
    tool_calls: ToolCalls | None = None  # None: the provider's setting
    price: PriceSetting | None = None  # None: the provider's, else the price table's
    local: LocalServer | None = None  # this model's own server, on the provider's base_url (command:)

    def capability(self, name: str) -> bool | None:
        return next((flag for cap, flag in self.capabilities if cap == name), None)

    def why_not(self, capability: str) -> str:
        """Who said this model lacks ``capability``, in words for an error message."""
        if capability in self.listed:
            return "the provider's GET /models says so"
        return f"capabilities.{capability}: false in proxyd's config"


@dataclass(frozen=True)
class Tls:
    ca_file: str | None = None
    ca_pem: str | None = field(default=None, repr=False)  # ca_file's text, read with the config
    verify: bool = True


@dataclass(frozen=True)
class Compat:
    """How a provider's chat requests are adapted; the defaults change nothing."""

    developer_role: Literal["developer", "system"] = "developer"
    content: Literal["parts", "string", "user-parts"] = "parts"
    max_tokens_field: Literal["keep", "max_tokens", "max_completion_tokens"] = "keep"
    reasoning: Literal["openai", "openrouter", "none"] = "openai"
    tool_call_ids: Literal["keep", "alnum9"] = "keep"  # alnum9: Mistral takes only 9-character ids
    # Anthropic cache breakpoints on content parts of a translated request: kept for the chat
    # servers that honour them (OpenRouter, LiteLLM), taken off for the rest.
    cache_control: Literal["keep", "drop"] = "drop"
    # prompt_cache_key on a translated request (Codex's conversation, Claude Code's session):
    # kept for OpenAI's, Azure's and OpenRouter's servers, which route it to one cache.
    prompt_cache_key: Literal["keep", "drop"] = "drop"


@dataclass(frozen=True)
class LocalServer:
    """A provider's own server that proxyd runs: started by the first request that needs it,
    stopped when idle or to make room for another (``proxyd.local``)."""

    argv: tuple[str, ...] = field(repr=False)  # may hold a key: never shown
    env: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    cwd: str | None = None
    ready_path: str | None = None  # a path on base_url's host; None: GET {base_url}/models
    start_timeout_s: float = 300.0  # a large model takes minutes to load from a cold disk
    stop_grace_s: float = 10.0  # SIGTERM, then SIGKILL after this long
    idle_unload_s: float | None = None  # None: kept running until room is needed or proxyd stops
    memory: int = 0  # bytes it takes when loaded: counted against local.memory


@dataclass(frozen=True)
class LocalLimits:
    """The ``local`` section: how many local servers, or how much memory, at once."""

    max_running: int | None = None
    memory: int | None = None  # bytes


@dataclass(frozen=True)
class Provider:
    name: str
    base_url: str
    api_key: str | None = field(default=None, repr=False)
    key_source: str = "none"  # where the key came from, safe to show: "env OPENAI_API_KEY", "file ..."
    wire: WireSetting = "auto"
    default_model: str | None = None
    headers: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    models: tuple[ModelEntry, ...] = ()
    # With models configured, GET /v1/models lists only those, unless this also lists what the
    # provider's GET /models finds (set when a value is edited for one discovered model).
    list_discovered: bool = False
    streaming: bool = True
    timeouts: Timeouts = Timeouts()
    service: str | None = None  # the known service detected from base_url
    base_url_added: str | None = None  # the API path proxyd added to a bare base_url
    auth: Literal["bearer", "api-key", "x-api-key", "x-goog-api-key", "none"] = "bearer"
    tls: Tls = Tls()
    allow_insecure_http: bool = False
    compat: Compat = Compat()
    tool_calls: ToolCalls = ToolCalls()
    # Why the provider cannot be used though the config loads: its key names a variable that is
    # not set (one missing cloud key must not stop local models). None: in use.
    disabled: Diagnosis | None = None
    price: PriceSetting | None = None  # every model's, unless a model sets its own
    budget: Budget | None = None  # what requests to this provider may spend (a shared cloud account's cap)
    # A chat or Responses client's request to an Anthropic provider gets cache breakpoints where
    # they pay (tools, system, the newest turn): "auto"; "off" sends it as translated.
    prompt_cache: Literal["auto", "off"] = "auto"
    local: LocalServer | None = None  # proxyd runs this provider's server (command:)


@dataclass(frozen=True)
class Keepalive:
    idle_s: int = 2
    interval_s: int = 2
    count: int = 5


LOOPBACK_NAMES: tuple[str, ...] = ("127.0.0.1", "localhost", "::1")


DEFAULT_CLIENT = "default"  # the client name of the single listen.token, and of requests when no token is set
# What a client may do besides the API: "client" only the API (within its models), "viewer" also
# reads the page, /status and /metrics, "admin" also changes proxyd and spends tokens on Tests.
ROLES: tuple[str, ...] = ("client", "viewer", "admin")
Role = Literal["client", "viewer", "admin"]


@dataclass(frozen=True)
class Budget:
    """Dollars a client (or a provider's account) may spend; ``soft`` only logs and alerts."""

    usd_per_day: float | None = None  # UTC days
    usd_per_month: float | None = None  # UTC calendar months
    mode: Literal["hard", "soft"] = "hard"


@dataclass(frozen=True)
class Limits:
    """Rates a client may send at, over any moving minute."""

    requests_per_minute: int | None = None
    tokens_per_minute: int | None = None  # prompt and completion tokens, as the providers count them


@dataclass(frozen=True)
class Allowance:
    """A client's budget and limits; what is unset here comes from ``listen.defaults``."""

    budget: Budget | None = None
    limits: Limits | None = None


@dataclass(frozen=True)
class Client:
    """Who sent a request, as the config names it: a ``listen.tokens`` entry (or :data:`DEFAULT_CLIENT`)."""

    name: str = DEFAULT_CLIENT
    models: tuple[str, ...] = ()  # model names, aliases, groups or provider/model, with * and ?; () is all
    # listen.tokens entries are "client" unless they say otherwise; one person's proxyd (no token,
    # or the single listen.token) is administered by that person (OWNER).
    role: Role = "client"
    allowance: Allowance = Allowance()

    def can(self, role: Role) -> bool:
        """Whether this client has ``role`` or a stronger one."""
        return ROLES.index(self.role) >= ROLES.index(role)


OWNER = Client(role="admin")  # the single listen.token, and anyone when no token is asked


@dataclass(frozen=True)
class ClientToken:
    client: Client
    token: str = field(repr=False)
    source: str = "literal"  # where the token came from, safe to show


@dataclass(frozen=True)
class Access:
    """Who may use proxyd: the checks every request passes before anything else (see :mod:`proxyd.access`).

    These take effect on reload, unlike the rest of ``listen``.
    """

    token: str | None = field(default=None, repr=False)  # clients must send it as their API key
    token_source: str = "none"  # where the token came from, safe to show
    clients: tuple[ClientToken, ...] = ()  # listen.tokens: a token per person or tool
    defaults: Allowance = Allowance()  # listen.defaults: the budget and limits of clients that set none

    @property
    def tokens(self) -> tuple[ClientToken, ...]:
        """Every token clients may send: ``listen.token`` (as :data:`DEFAULT_CLIENT`), then ``listen.tokens``."""
        single = (ClientToken(OWNER, self.token, self.token_source),) if self.token else ()
        return single + self.clients

    allowed_hosts: tuple[str, ...] = ()  # Host names served besides the loopback ones
    allowed_origins: tuple[str, ...] = ()  # browser origins that may call proxyd (CORS)


@dataclass(frozen=True)
class Listen:
    host: str = "127.0.0.1"
    port: int = 8787
    max_body_bytes: int = 64 * MiB
    header_timeout_s: float = 15.0  # also the idle keep-alive limit between requests
    body_timeout_s: float = 60.0
    access: Access = Access()


@dataclass(frozen=True)
class Store:
    """Where translated responses are kept for ``previous_response_id`` and ``GET /v1/responses/{id}``."""

    enabled: bool = True
    path: str | None = None  # None: $XDG_STATE_HOME/proxyd/responses.sqlite3 (~/.local/state/...)
    url: str | None = field(default=None, repr=False)  # redis://...: a store shared by several instances
    url_source: str = "none"  # where the URL came from, safe to show (it may hold a password)
    max_age_days: float = 30.0
    max_mb: float = 256.0


@dataclass(frozen=True)
class LedgerSetting:
    """The usage ledger: requests, tokens and cost per day, client, provider and model. In SQLite
    on this machine, or in the shared store when ``store.url`` names one (team mode)."""

    enabled: bool = True
    path: str | None = None  # None: $XDG_STATE_HOME/proxyd/usage.sqlite3 (~/.local/state/...)
    flush_s: float = 2.0  # what a crash can lose: the counts of the last this many seconds
    keep_days: int = 400


@dataclass(frozen=True)
class Health:
    """Background probes of every provider (``GET /models``); ``interval_s: 0`` turns them off."""

    interval_s: float = 60.0
    degraded_after_s: float = 3.0  # a probe slower than this marks the provider degraded
    timeout_s: float = 10.0  # no answer within this: unreachable


STRATEGIES: tuple[str, ...] = ("ordered", "weighted", "least-busy")


@dataclass(frozen=True)
class Cooldown:
    """A target that failed ``failures`` times within ``window_s`` is skipped for ``base_s``,
    doubled at each cooldown in a row up to ``max_s``."""

    failures: int = 3
    window_s: float = 60.0
    base_s: float = 10.0
    max_s: float = 300.0


@dataclass(frozen=True)
class Failover:
    retries: int = 1  # more tries of the same target: connect failures, 429/503 with a short Retry-After
    deadline_s: float = 30.0  # no attempt starts this long after the request arrived
    retry_after_max_s: float = 10.0  # a longer Retry-After cools the target down instead
    cooldown: Cooldown = Cooldown()


@dataclass(frozen=True)
class GroupTarget:
    provider: str
    model: str
    weight: float = 1.0
    key: str = field(init=False, compare=False)  # "provider/model", made once: it is looked up per request

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", f"{self.provider}/{self.model}")


@dataclass(frozen=True)
class Group:
    """A model name (or a pattern) served by any of several targets, tried in turn."""

    alias: str
    targets: tuple[GroupTarget, ...]
    strategy: str = "ordered"
    failover: Failover = Failover()
    affinity: bool = True  # a conversation's turns keep to the target that answered the last one


@dataclass(frozen=True)
class Config:
    listen: Listen
    providers: tuple[Provider, ...]
    default_provider: str | None = None
    tcp_keepalive: Keepalive = Keepalive()
    store: Store = Store()
    health: Health = Health()
    shutdown_grace_s: float = 30.0  # on SIGTERM, requests in flight get this long to finish
    # On SIGTERM, /readyz is 503 this long before proxyd stops accepting: behind a load balancer,
    # time for its health checks to take the instance out while new requests are still served.
    shutdown_delay_s: float = 0.0
    groups: tuple[Group, ...] = ()
    ledger: LedgerSetting = LedgerSetting()
    local: LocalLimits = LocalLimits()

    def provider(self, name: str) -> Provider | None:
        return next((p for p in self.providers if p.name == name), None)
