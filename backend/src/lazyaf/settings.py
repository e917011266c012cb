"""Settings: environment (``LAZYAF_*``) over a TOML config file over defaults.

One data directory holds the database, the bare repos and the logs. The config file is
``$LAZYAF_CONFIG`` when set, else ``<data dir>/lazyaf.toml`` when it exists.
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

DEFAULT_PORT = 8765


def checkout_root() -> Path | None:
    """The source checkout this package runs from, if any (it holds ``git_repos/`` and ``backend/``)."""
    root = Path(__file__).resolve().parents[3]
    if (root / "backend" / "pyproject.toml").is_file() and (root / "git_repos").is_dir():
        return root
    return None


def default_data_dir() -> Path:
    """The checkout root when running from one (DESIGN.md's ``git_repos/``), else the XDG data dir."""
    root = checkout_root()
    if root is not None:
        return root
    xdg = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(xdg) / "lazyaf"


def default_frontend_dir() -> Path | None:
    """``frontend/dist`` of the checkout this package runs from, if any."""
    root = checkout_root()
    return root / "frontend" / "dist" if root is not None else None


def is_loopback_host(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and localhost."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class Settings(BaseSettings):
    """Everything configurable about a LazyAF server."""

    model_config = SettingsConfigDict(env_prefix="LAZYAF_", extra="ignore", validate_assignment=True)

    data_dir: Path = Field(default_factory=default_data_dir, description="Database, bare repos and logs.")
    database_url: str | None = Field(
        None, description="SQLAlchemy async URL; defaults to SQLite at <data dir>/lazyaf.db."
    )
    host: str = Field("127.0.0.1", description="Address `lazyaf serve` listens on.")
    port: int = Field(DEFAULT_PORT, ge=0, le=65535, description="Port `lazyaf serve` listens on.")
    public_url: str | None = Field(
        None, description="Base URL clients reach this server at (clone URLs); defaults to the request's."
    )
    token: SecretStr | None = Field(
        None, description="Bearer token (API) and git password required from non-loopback clients."
    )
    allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Host names (or host:port) this server answers to besides localhost, 127.0.0.1, [::1], "
        "the host of public_url and a non-loopback `host`; comma-separated in LAZYAF_ALLOWED_HOSTS.",
    )
    max_request_bytes: int = Field(
        4 * 1024 * 1024,
        ge=1024,
        description="Cap on an API request body (git pushes and agent session uploads have their own caps).",
    )
    runner_token: SecretStr | None = Field(
        None,
        description=(
            "Registration token runners present to join (LAZYAF_RUNNER_TOKEN on both sides); "
            "default: derived from <data dir>/runner-secret."
        ),
    )
    git_backend: Literal["auto", "git", "dulwich"] = Field(
        "auto", description="Who serves git packs: the git binary (auto when found) or dulwich."
    )
    git_binary: str = Field("git", description="The git executable used to serve packs.")
    max_inflated_request_bytes: int = Field(
        1 << 30, description="Cap on a gzip-encoded git request body once inflated."
    )
    frontend_dir: Path | None = Field(
        default_factory=lambda: default_frontend_dir(),
        description="The built board (frontend/dist) served at /; unset serves the API alone.",
    )
    prompts_dir: Path | None = Field(
        None, description="Folder of prompt templates that override the defaults."
    )
    lease_ttl: float = Field(
        45.0, gt=0, description="Seconds a job attempt's lease lasts without a heartbeat."
    )
    job_timeout: float = Field(3600.0, gt=0, description="Seconds an agent may run before it is killed.")
    stall_after_s: float = Field(
        600.0,
        gt=0,
        description="Seconds a running agent may go without emitting an event before its card is marked "
        "stalled (nothing is killed; the mark clears when events resume). A repo may set its own.",
    )
    kill_after_s: float = Field(
        1200.0,
        gt=0,
        description="Seconds without an agent event after which the attempt is killed (its whole process "
        "tree) and fails with the reason; more than stall_after_s. A repo may set its own.",
    )
    learnings_prompt_chars: int = Field(
        3000,
        ge=0,
        le=20_000,
        description="Characters of accepted learnings a prompt carries at most (most useful first); "
        "0 puts none.",
    )
    runner_restart_delay: float = Field(
        1.0,
        gt=0,
        description="Seconds before the pool restarts a runner that exited; doubled for each further exit "
        "within runner_crash_window (at most 60 s), with jitter.",
    )
    runner_crash_limit: int = Field(
        5,
        ge=1,
        description="Exits within runner_crash_window after which the pool stops restarting a runner and "
        "marks it failed (scaling again retries it).",
    )
    runner_crash_window: float = Field(
        300.0, gt=0, description="Seconds over which a pool runner's exits are counted (runner_crash_limit)."
    )
    queue_aging_s: float = Field(
        600.0,
        ge=0,
        description="Aging in the queue: every this many seconds a job waits count as one more priority "
        "level (a low-priority card is not starved by a stream of higher ones); 0: strict priority, "
        "then age.",
    )
    default_agent: str = Field("claude", description="Agent CLI runners use unless a card says otherwise.")
    agent_command: str | None = Field(
        None,
        description=(
            "For the 'command' agent: the command line, with {prompt_file} and {workdir} placeholders "
            "(no placeholder: the prompt on stdin; {prompt}: in argv, at most 128 KiB)."
        ),
    )
    claude_binary: str | None = Field(
        None, description="Claude Code binary for local runners (default: pinned install)."
    )
    anthropic_base_url: str | None = Field(
        None,
        description=(
            "Messages API URL given to Claude Code agents (a proxy or gateway); default Anthropic's. "
            "A loopback URL reaches Docker runners at their network's gateway."
        ),
    )
    anthropic_api_key: SecretStr | None = Field(
        None, description="Given to Claude Code agents; never logged."
    )
    claude_code_oauth_token: SecretStr | None = Field(None, description="Alternative to the API key.")
    secret_key: SecretStr | None = Field(
        None,
        description="Fernet key(s) that encrypt stored secrets (tokens, webhook secrets), comma-separated, "
        "newest first; default: the key file.",
    )
    secret_key_file: Path | None = Field(
        None,
        description="Key file used when secret_key is unset (created 0600); default <data dir>/secret.key.",
    )
    github_api_url: str = Field(
        "https://api.github.com",
        description="GitHub's REST API for new links: api.github.com, or a GitHub Enterprise server's "
        "(https://HOST or https://HOST/api/v3).",
    )
    github_page_size: int = Field(100, ge=1, le=100, description="Items per page when listing from GitHub.")
    github_mutation_gap: float = Field(
        1.0, ge=0, description="Seconds between two writes to GitHub (GitHub asks for one)."
    )
    github_retry_base: float = Field(
        10.0, gt=0, description="Seconds before the outbox retries a failed GitHub write; doubles each time."
    )
    github_webhook_max_bytes: int = Field(
        25 * 1024 * 1024,
        ge=1024,
        description="Largest GitHub webhook delivery accepted (GitHub caps its payloads at 25 MB).",
    )
    github_progress_interval: float = Field(
        5.0,
        ge=0,
        description="Seconds between two edits of a command's progress comment while a step runs "
        "(a new step or the end is shown at once).",
    )
    log_level: str = Field("info", description="debug, info, warning or error.")
    log_format: Literal["auto", "json", "console"] = Field(
        "auto", description="auto: JSON when stderr is not a terminal."
    )

    @field_validator(
        "token", "runner_token", "anthropic_api_key", "claude_code_oauth_token", "secret_key", mode="before"
    )
    @classmethod
    def _empty_token_is_none(cls, value: object) -> object:
        # LAZYAF_TOKEN= (empty) must mean "no token", never "the empty string opens the door".
        if value is None or (
            isinstance(value, str | SecretStr)
            and not str(value.get_secret_value() if isinstance(value, SecretStr) else value).strip()
        ):
            return None
        return value

    @field_validator("allowed_hosts", mode="before")
    @classmethod
    def _split_hosts(cls, value: object) -> object:
        # LAZYAF_ALLOWED_HOSTS="lazyaf.lan, 192.168.1.5:8765": commas or spaces between names.
        if isinstance(value, str):
            return [part for part in value.replace(",", " ").split() if part]
        return value

    @field_validator("allowed_hosts")
    @classmethod
    def _check_hosts(cls, value: list[str]) -> list[str]:
        from lazyaf.boundary import split_host

        for entry in value:
            if split_host(entry) is None:
                raise ValueError(f"'{entry}' is not a host name or host:port (no scheme, no path)")
        return value

    @field_validator("public_url")
    @classmethod
    def _check_public_url(cls, value: str | None) -> str | None:
        from lazyaf.boundary import origin_of

        if value is not None and origin_of(value) is None:
            raise ValueError(f"'{value}' is not an http:// or https:// URL")
        return value

    @model_validator(mode="after")
    def _kill_after_the_stall(self) -> Settings:
        if self.kill_after_s <= self.stall_after_s:
            raise ValueError(
                f"LAZYAF_KILL_AFTER_S ({self.kill_after_s:g}) must be more than LAZYAF_STALL_AFTER_S "
                f"({self.stall_after_s:g}): an agent is marked stalled before it is killed"
            )
        return self

    @field_validator("runner_token")
    @classmethod
    def _runner_token_is_long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value().strip()) < 16:
            raise ValueError("LAZYAF_RUNNER_TOKEN must be at least 16 characters (it admits runners)")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = _config_file()
        if config_file is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=config_file))
        return tuple(sources)

    @property
    def git_repos_dir(self) -> Path:
        return self.data_dir / "git_repos"

    @property
    def logs_dir(self) -> Path:
        return self.data_dir / "logs"

    @property
    def secret_key_path(self) -> Path:
        return self.secret_key_file or self.data_dir / "secret.key"

    @property
    def sessions_dir(self) -> Path:
        """Agent session files stored between jobs (they hold whole conversations)."""
        return self.data_dir / "sessions"

    @property
    def sqlite_path(self) -> Path | None:
        """The SQLite database file, when the database is one."""
        from sqlalchemy.engine import make_url

        url = make_url(self.sqlalchemy_url)
        if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
            return None
        return Path(url.database)

    @property
    def sqlalchemy_url(self) -> str:
        return self.database_url or f"sqlite+aiosqlite:///{self.data_dir / 'lazyaf.db'}"

    @property
    def runner_secret_file(self) -> Path:
        """The key runner secrets and the default registration token are derived from (mode 0600)."""
        return self.data_dir / "runner-secret"

    def token_value(self) -> str | None:
        return self.token.get_secret_value() if self.token else None

    def ensure_dirs(self) -> None:
        """Create the data dir (0700 when new) with its folders (0700) and database file (0600).

        An existing data dir keeps its mode (it may be the checkout, by default); what LazyAF keeps
        in it is closed to other users all the same: the folders are 0700 and the database, with its
        -wal and -shm files (SQLite gives them the database's mode), 0600.
        """
        if not self.data_dir.exists():
            self.data_dir.mkdir(parents=True, mode=0o700)
            self.data_dir.chmod(0o700)
        for path in (self.git_repos_dir, self.logs_dir, self.sessions_dir):
            path.mkdir(exist_ok=True, mode=0o700)
            path.chmod(0o700)
        database = self.sqlite_path
        if database is not None and database.parent.is_dir():
            # Created here, empty, so that SQLite never makes it with the umask's mode.
            os.close(os.open(database, os.O_CREAT | os.O_WRONLY, 0o600))
            for path in (database, Path(f"{database}-wal"), Path(f"{database}-shm")):
                if path.exists():
                    path.chmod(0o600)


def _config_file() -> Path | None:
    explicit = os.environ.get("LAZYAF_CONFIG")
    if explicit:
        return Path(explicit)
    data_dir = Path(os.environ.get("LAZYAF_DATA_DIR") or default_data_dir())
    candidate = data_dir / "lazyaf.toml"
    return candidate if candidate.is_file() else None


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment and config file, with explicit overrides on top."""
    return Settings(**{k: v for k, v in overrides.items() if v is not None})
