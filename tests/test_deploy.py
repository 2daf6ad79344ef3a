"""The example deployment files under deploy/ run real `pairchat` commands.

Every `pairchat ...` command line in them (the Dockerfile's ENTRYPOINT + CMD,
the compose services' entrypoint + command, the systemd units' Exec*= lines)
is parsed with pairchat's own argument parser, after expanding ${VAR}/$VAR
placeholders and systemd %-specifiers with example values; an argparse error
fails the test with the offending line. Every PAIRCHAT_* variable given to a
command must be one that its role reads (its --help names it), with a value
that flag accepts. No network, no Docker, no systemd.

The compose file is read by a small reader of the plain YAML it is written in
(block mappings, "- item" lists, JSON-style [..] lists, quoted and plain
scalars, anchors, aliases and "<<" merge keys): PyYAML is not a dependency.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

from pairchat.cli import _parser
from pairchat.config import ENV_PREFIX
from pairchat.errors import StartupError

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
DOCKERFILE = DEPLOY / "Dockerfile"
COMPOSE = DEPLOY / "docker-compose.yml"
SYSTEMD = DEPLOY / "systemd"
ENV_FILE = SYSTEMD / "pairchat.env"

# Values for placeholders the files leave to the operator.
EXAMPLES = {"POSTGRES_PASSWORD": "secret"}
# systemd specifiers: instance names are the ports the units document.
SPECIFIERS = {"H": "host1", "h": "/root", "%": "%"}
INSTANCES = {"broker": "8080", "logic": "7000", "worker": "7002", "migrate": ""}


@dataclass
class Command:
    """One pairchat invocation found in a file."""

    where: str  # file:line, or file service
    argv: list[str]  # argv[0] is the program
    env: dict[str, str] = field(default_factory=dict)  # variables given to it alone
    # Variables of a file shared by every role (systemd's pairchat.env): each role
    # reads those of its own flags and ignores the rest.
    shared: dict[str, str] = field(default_factory=dict)

    @property
    def role(self) -> str:
        return self.argv[1] if len(self.argv) > 1 else ""


# --- placeholders ---
_VAR = re.compile(
    r"\$(?:\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?::?-(?P<default>[^}]*))?\}"
    r"|(?P<plain>[A-Za-z_][A-Za-z0-9_]*)|(?P<dollar>\$))"
)


def expand(text: str, values: dict[str, str], where: str) -> str:
    """${VAR}, ${VAR:-default}, $VAR and $$, from `values` or EXAMPLES."""

    def one(m: re.Match[str]) -> str:
        if m["dollar"]:
            return "$"
        name = m["braced"] or m["plain"]
        if name in values:
            return values[name]
        if m["default"] is not None:
            return m["default"]
        if name in EXAMPLES:
            return EXAMPLES[name]
        raise AssertionError(f"{where}: no example value for ${name}; add one to EXAMPLES")

    return _VAR.sub(one, text)


def specifiers(text: str, instance: str, where: str) -> str:
    def one(m: re.Match[str]) -> str:
        letter = m[1]
        if letter in "iI":
            return instance
        if letter not in SPECIFIERS:
            raise AssertionError(f"{where}: no example value for systemd specifier %{letter}")
        return SPECIFIERS[letter]

    return re.sub(r"%(.)", one, text)


# --- a reader for the plain YAML of deploy/docker-compose.yml ---
class YamlSubsetError(AssertionError):
    pass


def _strip_comment(line: str) -> str:
    """Drop a trailing " # comment" outside quotes."""
    quote = ""
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1] in " \t"):
            return line[:i].rstrip()
    return line.rstrip()


def _scalar(text: str, where: str) -> Any:
    text = text.strip()
    if text.startswith(("|", ">")):
        raise YamlSubsetError(f"{where}: block scalars (| >) are not supported by this reader")
    if text.startswith("["):
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise YamlSubsetError(f"{where}: write [..] lists as JSON ({exc})") from None
    if text.startswith("{"):
        raise YamlSubsetError(f"{where}: flow mappings {{..}} are not supported by this reader")
    if text.startswith('"'):
        return json.loads(text)
    if text.startswith("'"):
        return text[1:-1].replace("''", "'")
    return text


def read_yaml(path: Path) -> Any:
    """Block mappings and lists, JSON-style flow lists (over several lines too),
    quoted and plain scalars (kept as strings), &anchors, *aliases, << merges."""
    lines: list[tuple[int, int, str]] = []  # (line number, indent, text)
    raw = path.read_text().splitlines()
    i = 0
    while i < len(raw):
        number, line = i + 1, _strip_comment(raw[i])
        i += 1
        if not line.strip() or line.strip() == "---":
            continue
        if "\t" in line[: len(line) - len(line.lstrip())]:
            raise YamlSubsetError(f"{path.name}:{number}: tabs in indentation")
        # A flow list continues until its brackets close.
        if "[" in line and line.count("[") > line.count("]"):
            while line.count("[") > line.count("]") and i < len(raw):
                line += " " + _strip_comment(raw[i]).strip()
                i += 1
        lines.append((number, len(line) - len(line.lstrip()), line.strip()))
    anchors: dict[str, Any] = {}
    pos = 0

    def value_of(text: str, indent: int, where: str) -> Any:
        nonlocal pos
        anchor = None
        if text.startswith("&"):
            anchor, _, text = text[1:].partition(" ")
            text = text.strip()
        if text.startswith("*"):
            name = text[1:]
            if name not in anchors:
                raise YamlSubsetError(f"{where}: unknown alias *{name}")
            value = anchors[name]
        elif text:
            value = _scalar(text, where)
        elif pos < len(lines) and (
            lines[pos][1] > indent or (lines[pos][1] == indent and lines[pos][2].startswith("- "))
        ):
            value = block(lines[pos][1])
        else:
            value = None
        if anchor:
            anchors[anchor] = value
        return value

    def block(indent: int) -> Any:
        nonlocal pos
        if lines[pos][2].startswith("- ") or lines[pos][2] == "-":
            items: list[Any] = []
            while pos < len(lines) and lines[pos][1] == indent and lines[pos][2][:1] == "-":
                number, _, text = lines[pos]
                where = f"{path.name}:{number}"
                pos += 1
                item = text[1:].strip()
                if re.match(r"^[^\"'\[][^:]*:(\s|$)", item):
                    raise YamlSubsetError(f"{where}: mappings inside lists are not supported")
                items.append(value_of(item, indent, where))
            return items
        mapping: dict[str, Any] = {}
        while pos < len(lines) and lines[pos][1] == indent:
            number, _, text = lines[pos]
            where = f"{path.name}:{number}"
            m = re.match(r'^("(?:[^"\\]|\\.)*"|[^:\s][^:]*?|<<):(?:\s+(.*))?$', text)
            if m is None:
                raise YamlSubsetError(f"{where}: not a 'key: value' line: {text!r}")
            key = _scalar(m[1], where)
            pos += 1
            value = value_of((m[2] or "").strip(), indent, where)
            if key == "<<":
                if not isinstance(value, dict):
                    raise YamlSubsetError(f"{where}: << needs a mapping")
                for k, v in value.items():
                    mapping.setdefault(k, v)
            else:
                mapping[key] = value  # a key after << overrides the merged one
        if pos < len(lines) and lines[pos][1] > indent:
            raise YamlSubsetError(f"{path.name}:{lines[pos][0]}: unexpected indentation")
        return mapping

    return block(0) if lines else None


# --- extracting the commands ---
def _is_pairchat(argv: list[str]) -> bool:
    return bool(argv) and Path(argv[0].lstrip("-@+!:")).name == "pairchat"


def _instruction(text: str, name: str) -> tuple[int, list[str]] | None:
    """The last `name` instruction of a Dockerfile, in exec (JSON) form."""
    found = None
    lines = text.splitlines()
    for number, line in enumerate(lines, 1):
        m = re.match(rf"^\s*{name}\s+(.*)$", line, re.IGNORECASE)
        if m:
            body = m[1]
            try:
                argv = json.loads(body)
            except json.JSONDecodeError:
                raise AssertionError(
                    f"Dockerfile:{number}: write {name} in exec form, a JSON list: {line!r}"
                ) from None
            found = (number, argv)
    return found


def dockerfile_default() -> tuple[list[str], list[str]]:
    text = DOCKERFILE.read_text()
    entry = _instruction(text, "ENTRYPOINT")
    cmd = _instruction(text, "CMD")
    return (entry[1] if entry else []), (cmd[1] if cmd else [])


def dockerfile_commands() -> list[Command]:
    entrypoint, cmd = dockerfile_default()
    env: dict[str, str] = {}
    for line in DOCKERFILE.read_text().replace("\\\n", " ").splitlines():
        m = re.match(r"^\s*ENV\s+(.*)$", line)
        if m:
            for word in shlex.split(m[1]):
                key, eq, value = word.partition("=")
                if eq:
                    env[key] = value
    assert _is_pairchat(entrypoint), f"Dockerfile: ENTRYPOINT is not pairchat: {entrypoint}"
    return [Command("deploy/Dockerfile ENTRYPOINT + CMD", entrypoint + cmd, env)]


def compose_services() -> dict[str, Any]:
    doc = read_yaml(COMPOSE)
    assert isinstance(doc, dict) and isinstance(doc.get("services"), dict), "no services:"
    services: dict[str, Any] = doc["services"]
    return services


def _pairchat_image(service: dict[str, Any]) -> bool:
    build = service.get("build")
    return build is not None or str(service.get("image", "")).startswith("pairchat")


def compose_commands() -> list[Command]:
    entrypoint, cmd = dockerfile_default()
    out = []
    for name, service in compose_services().items():
        if not _pairchat_image(service):
            continue
        where = f"deploy/docker-compose.yml service {name}"
        env_raw = service.get("environment") or {}
        assert isinstance(env_raw, dict), f"{where}: write environment: as a mapping"
        env = {k: expand(str(v), {}, where) for k, v in env_raw.items()}
        argv = []
        for key, default in (("entrypoint", entrypoint), ("command", cmd)):
            value = service.get(key, default)
            if isinstance(value, str):
                value = shlex.split(value)
            argv += [expand(str(word), {}, where) for word in value]
        out.append(Command(where, argv, env))
    return out


def read_env_file(path: Path) -> dict[str, str]:
    env = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, eq, value = line.partition("=")
        assert eq and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key), (
            f"{path.name}:{number}: not KEY=value: {line!r}"
        )
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        env[key] = value
    return env


def unit_lines(path: Path) -> Iterator[tuple[int, str, str, str]]:
    """(line, section, key, value) of a unit file, continuation lines joined."""
    section = ""
    lines = path.read_text().splitlines()
    i = 0
    while i < len(lines):
        number, line = i + 1, lines[i].strip()
        i += 1
        while line.endswith("\\") and i < len(lines):
            line = line[:-1] + " " + lines[i].strip()
            i += 1
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        yield number, section, key.strip(), value.strip()


def unit_role(path: Path) -> str:
    m = re.fullmatch(r"pairchat-(\w+)@?\.service", path.name)
    assert m, f"{path.name}: not a pairchat-<role>[@].service"
    return m[1]


def systemd_commands() -> list[Command]:
    out = []
    for path in sorted(SYSTEMD.glob("*.service")):
        role = unit_role(path)
        instance = INSTANCES[role]
        env: dict[str, str] = {}
        shared: dict[str, str] = {}
        execs = []
        for number, section, key, value in unit_lines(path):
            where = f"deploy/systemd/{path.name}:{number}"
            if section != "Service":
                continue
            if key == "EnvironmentFile":
                file = specifiers(value.lstrip("-"), instance, where)
                if Path(file).name == ENV_FILE.name:
                    shared = read_env_file(ENV_FILE)
                else:  # an optional per-instance file: not part of the examples
                    assert value.startswith("-"), f"{where}: only {ENV_FILE.name} is shipped"
            elif key == "Environment":
                for word in shlex.split(specifiers(value, instance, where)):
                    k, _, v = word.partition("=")
                    env[k] = v
            elif key.startswith("Exec") and value:
                execs.append((where, value))
        for where, value in execs:
            text = specifiers(value, instance, where)
            # systemd expands ${VAR} and $VAR from the unit's environment.
            argv = [expand(word, {**shared, **env}, where) for word in shlex.split(text)]
            if _is_pairchat(argv):
                out.append(Command(where, argv, dict(env), dict(shared)))
    return out


# --- checking one command ---
def _subparser(parser: argparse.ArgumentParser, role: str) -> argparse.ArgumentParser:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            sub: argparse.ArgumentParser = action.choices[role]
            return sub
    raise AssertionError("pairchat's parser has no subcommands")


def check(command: Command) -> list[str]:
    """The problems of one command (empty when it is a valid invocation)."""
    where = f"{command.where}: {shlex.join(command.argv)}"
    if not _is_pairchat(command.argv):
        return [f"{where}: not a pairchat command"]
    given = {**command.shared, **command.env}
    pairchat_env = {k: v for k, v in given.items() if k.startswith(ENV_PREFIX)}
    # The parser takes flag defaults from the environment when it is built.
    clean = {k: v for k, v in os.environ.items() if not k.startswith(ENV_PREFIX)}
    stderr = io.StringIO()
    with mock.patch.dict(os.environ, {**clean, **pairchat_env}, clear=True):
        try:
            with contextlib.redirect_stderr(stderr):
                parser = _parser()
                parser.parse_args(command.argv[1:])
        except (SystemExit, StartupError) as exc:
            message = stderr.getvalue().strip() or str(exc)
            return [f"{where}\n    is not a valid invocation: {message}"]
    problems = []
    role = _subparser(parser, command.role)
    for name, value in pairchat_env.items():
        actions = [a for a in role._actions if f"env {name})" in (a.help or "")]
        if not actions and name in command.shared and name not in command.env:
            continue  # another role's: test_the_shared_env_file_names_real_flags
        if not actions:
            problems.append(
                f"{command.where}: {name} is not a flag of `pairchat "
                f"{command.role}` (see `pairchat {command.role} --help`)"
            )
        elif actions[0].choices is not None and value not in actions[0].choices:
            # argparse checks choices on the command line only, not on defaults
            problems.append(
                f"{command.where}: {name}={value!r}: not one of {list(actions[0].choices)}"
            )
    return problems


def parsed(command: Command) -> argparse.Namespace:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(ENV_PREFIX)}
    env = {k: v for k, v in {**command.shared, **command.env}.items() if k.startswith(ENV_PREFIX)}
    with mock.patch.dict(os.environ, {**clean, **env}, clear=True):
        return _parser().parse_args(command.argv[1:])


# --- the tests ---
ALL = [*dockerfile_commands(), *compose_commands(), *systemd_commands()]


@pytest.mark.parametrize("command", ALL, ids=[c.where for c in ALL])
def test_every_command_is_a_valid_pairchat_invocation(command: Command) -> None:
    problems = check(command)
    assert not problems, "\n".join(problems)


def test_every_file_is_covered() -> None:
    roles: dict[str, set[str]] = {}
    for c in ALL:
        roles.setdefault(c.where.split(":")[0].split(" ")[0], set()).add(c.role)
    assert roles["deploy/Dockerfile"] == {"up"}
    assert {"migrate", "logic", "worker", "broker"} <= roles["deploy/docker-compose.yml"]
    units = {c.where.split(":")[0] for c in ALL if c.where.startswith("deploy/systemd/")}
    assert len(units) == len(list(SYSTEMD.glob("*.service"))) >= 4


def shared_env_problems() -> list[str]:
    """Each variable of pairchat.env must be read by at least one role."""
    roles = sorted({c.role for c in systemd_commands()})
    problems = []
    for name, value in read_env_file(ENV_FILE).items():
        if not name.startswith(ENV_PREFIX):
            problems.append(f"pairchat.env: {name} is not a PAIRCHAT_ variable")
        elif all(check(Command("pairchat.env", ["pairchat", r], {name: value})) for r in roles):
            problems.append(
                f"pairchat.env: {name}={value!r} is read by no role of {roles}"
                " (or with a value none accepts)"
            )
    return problems


def test_the_shared_env_file_names_real_flags() -> None:
    problems = shared_env_problems()
    assert not problems, "\n".join(problems)


def test_compose_wiring() -> None:
    """Brokers point at logic services that listen there; health checks ask the
    port the process serves /healthz on (a broker's public port, as a load
    balancer would; logic's and worker's operations port); logic and worker
    wait for migrate; every process's operations listener is reachable on the
    compose network, each on a port of its own within its container."""
    services = compose_services()
    commands = {c.where.rsplit(" ", 1)[1]: c for c in compose_commands()}
    listen = {name: parsed(c).listen for name, c in commands.items() if c.role == "logic"}
    for name, c in commands.items():
        args = parsed(c)
        service = services[name]
        if c.role == "broker":
            for target in args.logic:
                host, _, port = target.strip().rpartition(":")
                assert host in listen, f"{name}: --logic {target}: no logic service {host}"
                assert listen[host].rsplit(":", 1)[1] == port, (
                    f"{name}: --logic {target}, but {host} listens on {listen[host]}"
                )
            assert args.push_advertise == name, f"{name}: --push-advertise is not {name}"
            assert args.push_listen.rsplit(":", 1)[1] != "0", f"{name}: fixed Push port"
            health_port = args.port
            assert args.ops_port != args.port, f"{name}: --ops-port is the public port"
        elif c.role in ("logic", "worker"):
            health_port = args.ops_port
            needs = service.get("depends_on", {}).get("migrate", {})
            assert needs.get("condition") == "service_completed_successfully", (
                f"{name}: must depend on migrate with service_completed_successfully"
            )
        else:
            continue
        assert args.ops_host == "0.0.0.0", f"{name}: Prometheus cannot reach --ops-host"
        test = " ".join(service["healthcheck"]["test"])
        assert f"127.0.0.1:{health_port}/healthz" in test, (
            f"{name}: the health check does not ask /healthz on port {health_port}"
        )
    orders = [parsed(c).logic for c in commands.values() if c.role == "broker"]
    assert len(set(orders)) == len(orders), "brokers should prefer different logic processes"


def test_the_checker_catches_mistakes(tmp_path: Path) -> None:
    """Not vacuous: a wrong flag, a wrong variable and a wrong value are reported."""
    good = Command("x", ["/opt/pairchat/venv/bin/pairchat", "broker", "--port", "8080"])
    assert check(good) == []
    assert "--no-such-flag" in check(Command("x", [*good.argv, "--no-such-flag"]))[0]
    assert "not a valid" in check(Command("x", ["pairchat", "broker", "--port", "x"]))[0]
    assert (
        "not a flag"
        in check(Command("x", good.argv, {"PAIRCHAT_DATABASE_URL": "postgresql://h/db"}))[0]
    )
    assert "not a valid" in check(Command("x", good.argv, {"PAIRCHAT_PORT": "eighty"}))[0]
    refused = check(Command("x", good.argv, {"PAIRCHAT_LOG_LEVEL": "loud"}))
    assert refused and "--log-level" in refused[0] and "loud" in refused[0]
    logic = ["pairchat", "logic"]
    assert check(Command("x", logic, {"PAIRCHAT_RUN_WORKER": "1"})) == []
    assert "not a valid" in check(Command("x", logic, {"PAIRCHAT_RUN_WORKER": "maybe"}))[0]

    compose = tmp_path / "c.yml"
    compose.write_text(
        COMPOSE.read_text().replace('"--broker-id", "broker1"', '"--broker-idd", "broker1"')
    )
    with mock.patch(f"{__name__}.COMPOSE", compose):
        bad = [p for c in compose_commands() for p in check(c)]
    assert len(bad) == 1 and "--broker-idd" in bad[0]

    units = tmp_path / "systemd"
    units.mkdir()

    def systemd_problems(old: str, new: str) -> list[str]:
        for f in SYSTEMD.iterdir():
            (units / f.name).write_text(f.read_text().replace(old, new))
        with (
            mock.patch(f"{__name__}.SYSTEMD", units),
            mock.patch(f"{__name__}.ENV_FILE", units / ENV_FILE.name),
        ):
            return [p for c in systemd_commands() for p in check(c)] + shared_env_problems()

    bad = systemd_problems(" --ops-port %i", " --ops-prot %i")
    assert len(bad) == 1 and "--ops-prot" in bad[0]
    bad = systemd_problems("PAIRCHAT_MATCH_WAIT=", "PAIRCHAT_MATCH_WAITS=")
    assert len(bad) == 1 and "PAIRCHAT_MATCH_WAITS='10' is read by no role" in bad[0]
    bad = systemd_problems("PAIRCHAT_OFFLINE_GRACE=20", "PAIRCHAT_OFFLINE_GRACE=20s")
    # Every command builds every role's flags, so a bad value stops all of them.
    assert len(bad) == 5 and all("'20s'" in p for p in bad)


def test_the_yaml_reader(tmp_path: Path) -> None:
    path = tmp_path / "x.yml"
    path.write_text(
        "x-base: &base\n  image: pairchat  # comment\n  env: &env\n    A: '1'\n"
        'services:\n  s:\n    <<: *base\n    command: ["a",\n      "b # c"]\n'
        '    env:\n      <<: *env\n      B: "2"\n    ports:\n      - "80:80"\n'
    )
    assert read_yaml(path)["services"] == {
        "s": {
            "image": "pairchat",
            "env": {"A": "1", "B": "2"},
            "command": ["a", "b # c"],
            "ports": ["80:80"],
        },
    }
    path.write_text("a:\n  b: |\n    text\n")
    with pytest.raises(YamlSubsetError):
        read_yaml(path)
