"""Command-line flags declared once, as dataclass fields.

Each group of flags is a frozen dataclass whose fields are declared with
`option()`: the field's name is the flag (`rate_limit` is `--rate-limit`), its
type parses the value, and every flag is also a PAIRCHAT_* environment variable
(flags win): `--offline-grace` is PAIRCHAT_OFFLINE_GRACE. The same declaration
adds the flags to a parser (`Flags.group`), builds the dataclass from the parsed
arguments (`from_args`) and turns it back into arguments (`to_argv`), which is
how `pairchat up` forwards a group to its children without naming its flags.
A secret (`option(..., secret=True)`) never goes on a command line, which
every user of the machine can read: `secret_env` gives it to a child as its
PAIRCHAT_* variable instead.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from pairchat.errors import StartupError

ENV_PREFIX = "PAIRCHAT_"
_META = "pairchat.option"
T = TypeVar("T")


def env_name(flag: str) -> str:
    return ENV_PREFIX + flag.lstrip("-").replace("-", "_").upper()


def split_commas(raw: str) -> tuple[str, ...]:
    """A comma-separated list, blanks dropped: "a, b,," is ("a", "b")."""
    return tuple(part.strip() for part in raw.split(",") if part.strip())


@dataclass(frozen=True, slots=True)
class _Option:
    help: str
    flag: str | None
    choices: tuple[str, ...] | None
    parse: Callable[[str], Any] | None
    show: Callable[[Any], str] | None
    hidden: bool
    aliases: tuple[str, ...]
    secret: bool


def option(
    default: Any,
    help: str,
    *,
    flag: str | None = None,
    choices: tuple[str, ...] | None = None,
    parse: Callable[[str], Any] | None = None,
    show: Callable[[Any], str] | None = None,
    hidden: bool = False,
    aliases: tuple[str, ...] = (),
    secret: bool = False,
) -> Any:
    """A dataclass field that is also a flag.

    Args:
        default: the value without the flag or its variable.
        help: one line for `--help` (the default and the variable are added).
        flag: the flag's spelling, when it is not the field's name.
        choices: the only values allowed.
        parse: from the command line's string to the field's value (default:
            the field's type, e.g. `int`); `show` is its inverse for `to_argv`.
        hidden: left out of `--help` (for flags a supervisor passes).
        aliases: former spellings of the flag, still taken (with their
            variables) so that existing deployments keep starting, but left out
            of `--help`; the flag and its own variable win over them.
        secret: a value to keep off command lines: `to_argv` leaves it out
            and `secret_env` has it.
    """
    meta = _Option(help, flag, choices, parse, show, hidden, aliases, secret)
    # A secret stays out of the dataclass's repr too, so no log line shows it.
    return dataclasses.field(default=default, metadata={_META: meta}, repr=not secret)


def _fields(cls: type[Any]) -> list[tuple[dataclasses.Field[Any], _Option, Any]]:
    hints = typing.get_type_hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        meta = f.metadata.get(_META)
        if meta is not None:
            out.append((f, meta, hints[f.name]))
    return out


def _flag(f: dataclasses.Field[Any], meta: _Option) -> str:
    return meta.flag or "--" + f.name.replace("_", "-")


class Flags:
    """Adds flags to a parser, taking each default from the environment."""

    def __init__(self, parser: argparse.ArgumentParser) -> None:
        self.parser = parser

    def add(
        self,
        flag: str,
        *,
        type: Any = str,
        default: Any = None,
        help: str = "",
        dest: str | None = None,
        aliases: tuple[str, ...] = (),
        **kwargs: Any,
    ) -> None:
        """One flag whose default may come from its PAIRCHAT_* variable, or
        from the variable of one of its `aliases` (hidden former spellings).

        Raises:
            StartupError: the variable holds a value the flag does not take.
        """
        env = env_name(flag)
        raw = os.environ.get(env)
        for alias in aliases:
            if raw is None:
                env = env_name(alias)
                raw = os.environ.get(env)
        value = default
        if raw is not None:
            try:
                value = type(raw)
            except ValueError:
                raise StartupError(f"{env}={raw!r} is not a valid value for {flag}") from None
            choices = kwargs.get("choices")
            if choices is not None and value not in choices:
                raise StartupError(f"{env}={raw!r}: {flag} takes one of {', '.join(choices)}")
        if help != argparse.SUPPRESS:
            shown = ",".join(default) if isinstance(default, tuple) else default
            help += f" (default: {shown}; env {env_name(flag)})"
        kwargs["dest"] = dest or flag.lstrip("-").replace("-", "_")
        self.parser.add_argument(flag, type=type, default=value, help=help, **kwargs)
        for alias in aliases:
            # Same destination, no default of its own: the flag's default stands.
            self.parser.add_argument(
                alias, type=type, default=argparse.SUPPRESS, help=argparse.SUPPRESS, **kwargs
            )

    def switch(self, flag: str, *, help: str, dest: str | None = None) -> None:
        """An on/off flag; its variable is on for 1, true, yes or on.

        Raises:
            StartupError: the variable is neither on nor off.
        """
        env = env_name(flag)
        raw = os.environ.get(env, "")
        on = raw.strip().lower() in ("1", "true", "yes", "on")
        if raw and not on and raw.strip().lower() not in ("0", "false", "no", "off"):
            raise StartupError(f"{env}={raw!r} is not a valid value for {flag} (true or false)")
        if help != argparse.SUPPRESS:
            help = f"{help} (default: off; env {env})"
        extra: dict[str, Any] = {} if dest is None else {"dest": dest}
        self.parser.add_argument(flag, action="store_true", default=on, help=help, **extra)

    def group(
        self,
        cls: type[Any],
        defaults: dict[str, Any] | None = None,
        only: tuple[str, ...] = (),
        hide: tuple[str, ...] = (),
    ) -> None:
        """Every `option()` field of the dataclass `cls` as a flag (or those
        named in `only`); `defaults` overrides some fields' defaults for this
        command, `hide` keeps some out of its `--help`."""
        for f, meta, kind in _fields(cls):
            if only and f.name not in only:
                continue
            default = (defaults or {}).get(f.name, f.default)
            hidden = meta.hidden or f.name in hide
            help = argparse.SUPPRESS if hidden else meta.help
            flag = _flag(f, meta)
            if kind is bool:
                self.switch(flag, help=help, dest=f.name)
                continue
            parse = meta.parse or kind
            extra: dict[str, Any] = (
                {"choices": meta.choices}
                if meta.choices
                else {"metavar": flag.lstrip("-").replace("-", "_").upper()}
            )
            self.add(
                flag,
                type=parse,
                default=default,
                help=help,
                dest=f.name,
                aliases=meta.aliases,
                **extra,
            )


def from_args(cls: type[T], args: argparse.Namespace) -> T:
    """The dataclass `cls` from parsed arguments (added by `Flags.group`); a
    field the command does not take keeps its default."""
    values = {f.name: getattr(args, f.name) for f, _, _ in _fields(cls) if hasattr(args, f.name)}
    return cls(**values)


def to_argv(cfg: Any, skip: tuple[str, ...] = ()) -> list[str]:
    """The arguments that give a child process the same group of flags, but
    its secrets (`secret_env`); fields named in `skip` are left to the caller."""
    argv: list[str] = []
    for f, meta, kind in _fields(type(cfg)):
        if f.name in skip or meta.secret:
            continue
        value = getattr(cfg, f.name)
        if kind is bool:
            argv.extend([_flag(f, meta)] if value else [])
        else:
            argv.extend([_flag(f, meta), meta.show(value) if meta.show else str(value)])
    return argv


def secret_env(cfg: Any) -> dict[str, str]:
    """The group's secrets that are set, as the variables that give them to a
    child process (whose environment only its own user can read)."""
    return {
        env_name(_flag(f, meta)): str(getattr(cfg, f.name))
        for f, meta, _ in _fields(type(cfg))
        if meta.secret and getattr(cfg, f.name)
    }


@dataclass(frozen=True, slots=True)
class LogConfig:
    """How every process logs."""

    log_format: str = option(
        "kv", "one line per event as key=value pairs or JSON", choices=("kv", "json")
    )
    log_level: str = option("info", "log level", choices=("debug", "info", "warning", "error"))
