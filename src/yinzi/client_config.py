"""Where the client commands find their server: flags, then the environment, then a config file.

Each of the URL and the key is taken from the first place that has it: ``--url``/``--key``,
``YINZI_URL``/``YINZI_API_KEY``, then ``client.toml`` in ``$XDG_CONFIG_HOME/yinzi`` (or
``~/.config/yinzi``), the file ``yinzi login`` writes. The file is readable by its owner only.
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

URL_ENV = "YINZI_URL"
KEY_ENV = "YINZI_API_KEY"
CONFIG_NAME = "client.toml"


class ConfigError(Exception):
    """The client commands cannot tell which server to call, or with which key."""


@dataclass(frozen=True)
class Connection:
    """A server's base URL and the API key to call it with."""

    url: str
    key: str


def config_path(env: Mapping[str, str] | None = None) -> Path:
    """The client's config file: ``$XDG_CONFIG_HOME/yinzi/client.toml`` or
    ``~/.config/yinzi/client.toml``."""
    env = os.environ if env is None else env
    base = env.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "yinzi" / CONFIG_NAME


def read_config(path: Path) -> dict[str, str]:
    """The ``url`` and ``key`` a config file holds (an empty dict when there is none)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML ({exc}); run `yinzi login` again") from exc
    return {name: str(data[name]) for name in ("url", "key") if isinstance(data.get(name), str)}


def write_config(path: Path, connection: Connection) -> None:
    """Write ``url`` and ``key`` to ``path``, readable and writable by its owner only."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    text = f"url = {_toml_string(connection.url)}\nkey = {_toml_string(connection.key)}\n"
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(descriptor, 0o600)  # an older file may have been created with wider rights
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(text)


def _toml_string(value: str) -> str:
    """A TOML basic string (JSON's escapes are a subset of TOML's for these characters)."""
    return json.dumps(value, ensure_ascii=False)


def resolve(url: str | None, key: str | None, env: Mapping[str, str] | None = None) -> Connection:
    """The server to call: each of URL and key from the flag, else the environment, else the
    config file; a clear error naming all three places when one is missing."""
    env = os.environ if env is None else env
    url = url or env.get(URL_ENV) or None
    key = key or env.get(KEY_ENV) or None
    if url is None or key is None:
        saved = read_config(config_path(env))
        url, key = url or saved.get("url"), key or saved.get("key")
    if not url:
        raise ConfigError(f"no server URL: pass --url, set {URL_ENV} or run `yinzi login URL KEY`")
    if not key:
        raise ConfigError(f"no API key: pass --key, set {KEY_ENV} or run `yinzi login URL KEY`")
    return Connection(url.rstrip("/"), key)
