"""Flags declared once as dataclass fields (pairchat.config): each group parses
from flags and PAIRCHAT_* variables, and `to_argv` gives a child process the
same values back, which is how `pairchat up` forwards them."""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any

import pytest

from pairchat.broker.config import BrokerConfig, BrokerProcessConfig
from pairchat.cli import _parser
from pairchat.config import Flags, LogConfig, from_args, option, secret_env, to_argv
from pairchat.errors import StartupError
from pairchat.logic.config import LogicConfig, LogicProcessConfig
from pairchat.obs import OpsConfig
from pairchat.storage.backends import BackendConfig
from pairchat.up import UpConfig

GROUPS: list[type[Any]] = [
    BrokerConfig,
    BrokerProcessConfig,
    LogicConfig,
    LogicProcessConfig,
    BackendConfig,
    OpsConfig,
    LogConfig,
    UpConfig,
]


def parse(cls: type[Any], argv: list[str]) -> Any:
    parser = argparse.ArgumentParser()
    Flags(parser).group(cls)
    return from_args(cls, parser.parse_args(argv))


@pytest.mark.parametrize("cls", GROUPS, ids=lambda c: c.__name__)
def test_defaults_are_the_dataclass_defaults(cls: type[Any]) -> None:
    assert parse(cls, []) == cls()


def changed(cfg: Any) -> Any:
    """Every field of `cfg` set to another value of its type."""
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        if isinstance(value, bool):
            values[f.name] = not value
        elif isinstance(value, int | float):
            values[f.name] = value + 3
        elif f.name == "trusted_proxies":
            values[f.name] = ("10.0.0.0/8", "2001:db8::1/128")
        elif isinstance(value, tuple):
            values[f.name] = ("https://a.example", "https://b.example")
        elif f.name in ("log_format",):
            values[f.name] = "json"
        elif f.name in ("log_level",):
            values[f.name] = "debug"
        else:
            values[f.name] = value + "x"
    return dataclasses.replace(cfg, **values)


def inherit(monkeypatch: pytest.MonkeyPatch, *cfgs: Any) -> None:
    """Set the variables a child of `pairchat up` inherits for these groups."""
    for cfg in cfgs:
        for name, value in secret_env(cfg).items():
            monkeypatch.setenv(name, value)


@pytest.mark.parametrize("cls", GROUPS, ids=lambda c: c.__name__)
def test_to_argv_gives_the_same_values_back(
    cls: type[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = changed(cls())
    assert cfg != cls()
    inherit(monkeypatch, cfg)
    assert parse(cls, to_argv(cfg)) == cfg


def test_a_secret_goes_to_a_child_through_its_environment_only() -> None:
    cfg = LogicConfig(admin_token="s3cret")
    assert "s3cret" not in to_argv(cfg)
    assert "s3cret" not in repr(cfg)
    assert secret_env(cfg) == {"PAIRCHAT_ADMIN_TOKEN": "s3cret"}
    assert secret_env(LogicConfig()) == {}


def test_a_variable_sets_the_default_and_a_flag_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAIRCHAT_RATE_LIMIT", "12.5")
    monkeypatch.setenv("PAIRCHAT_ALLOWED_ORIGINS", "https://a.example, https://b.example")
    cfg = parse(BrokerConfig, [])
    assert cfg.rate_limit == 12.5
    assert cfg.allowed_origins == ("https://a.example", "https://b.example")
    assert parse(BrokerConfig, ["--rate-limit", "3"]).rate_limit == 3.0


def test_a_switch_reads_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAIRCHAT_RUN_WORKER", "yes")
    assert parse(LogicProcessConfig, []).run_worker is True
    monkeypatch.setenv("PAIRCHAT_RUN_WORKER", "off")
    assert parse(LogicProcessConfig, []).run_worker is False


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PAIRCHAT_MAX_CONTENT", "lots"),
        ("PAIRCHAT_LOG_FORMAT", "xml"),
        ("PAIRCHAT_RUN_WORKER", "maybe"),
        ("PAIRCHAT_TRUSTED_PROXIES", "10.0.0.1/8"),
    ],
)
def test_a_bad_variable_is_a_startup_error_naming_it(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(StartupError, match=name):
        for cls in GROUPS:
            parse(cls, [])


def test_a_field_can_have_its_own_spelling() -> None:
    @dataclasses.dataclass(frozen=True)
    class Spelled:
        db_schema: str = option("public", "schema", flag="--schema")

    assert to_argv(Spelled("x")) == ["--schema", "x"]
    assert parse(Spelled, ["--schema", "y"]) == Spelled("y")


def test_an_alias_is_a_hidden_former_spelling(monkeypatch: pytest.MonkeyPatch) -> None:
    """--http-port and PAIRCHAT_HTTP_PORT still set the ops port; the new
    spelling wins over the old one, and only it is in --help."""
    assert parse(OpsConfig, ["--http-host", "0.0.0.0", "--http-port", "7011"]) == OpsConfig(
        ops_host="0.0.0.0", ops_port=7011
    )
    assert parse(OpsConfig, ["--ops-port", "7012"]).ops_port == 7012
    monkeypatch.setenv("PAIRCHAT_HTTP_PORT", "7013")
    assert parse(OpsConfig, []).ops_port == 7013
    assert parse(OpsConfig, ["--ops-port", "7014"]).ops_port == 7014
    monkeypatch.setenv("PAIRCHAT_OPS_PORT", "7015")
    assert parse(OpsConfig, []).ops_port == 7015
    monkeypatch.setenv("PAIRCHAT_OPS_PORT", "x")
    with pytest.raises(StartupError, match="PAIRCHAT_OPS_PORT"):
        parse(OpsConfig, [])
    monkeypatch.delenv("PAIRCHAT_OPS_PORT")
    monkeypatch.setenv("PAIRCHAT_HTTP_PORT", "x")
    with pytest.raises(
        StartupError, match="PAIRCHAT_HTTP_PORT='x' is not a valid value for --ops-port"
    ):
        parse(OpsConfig, [])
    monkeypatch.delenv("PAIRCHAT_HTTP_PORT")
    for command in ("logic", "worker", "broker", "up"):
        shown = _subparser_help(command)
        assert "--ops-port" in shown and "PAIRCHAT_OPS_PORT" in shown, command
        assert "--http-port" not in shown and "HTTP_PORT" not in shown, command


def _subparser_help(command: str) -> str:
    parser = _parser()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return str(action.choices[command].format_help())
    raise AssertionError("no subcommands")


def test_each_command_has_its_own_ops_port() -> None:
    ports = {c: _parser().parse_args([c]).ops_port for c in ("up", "logic", "worker", "broker")}
    assert ports == {"up": 9090, "logic": 7001, "worker": 7002, "broker": 7003}
    args = _parser().parse_args(["broker", "--http-port", "7100"])
    assert from_args(OpsConfig, args).ops_port == 7100


@pytest.mark.parametrize("command", ["up", "logic", "broker", "worker", "migrate"])
def test_every_command_takes_what_up_forwards(
    command: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A child's command line built from the groups parses for its command."""
    groups: dict[str, list[type[Any]]] = {
        "up": [UpConfig, LogicConfig, BackendConfig, BrokerConfig, LogConfig],
        "logic": [
            LogicProcessConfig,
            OpsConfig,
            LogicConfig,
            BackendConfig,
            BrokerConfig,
            LogConfig,
        ],
        "broker": [BrokerProcessConfig, OpsConfig, BrokerConfig, LogConfig],
        "worker": [OpsConfig, BackendConfig, LogConfig],
        "migrate": [LogConfig],
    }
    forwarded = groups[command]
    inherit(monkeypatch, *(changed(cls()) for cls in forwarded))
    argv = [arg for cls in forwarded for arg in to_argv(changed(cls()))]
    args = _parser().parse_args([command, *argv])
    for cls in forwarded:
        assert from_args(cls, args) == changed(cls())
