"""The checker behind ``test_examples.py``: extracts the code blocks of the Markdown docs and checks
each against the real code (argparse parsers, importable names, function signatures, settings).

Pure functions: nothing here starts Spark or PostgreSQL. A problem is returned as a sentence
naming the block (``file:line``) and what is wrong; an empty list means the block is fine.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import dataclasses
import functools
import importlib
import inspect
import io
import json
import re
import shlex
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Set, Tuple

from tests import REPO

SHELL_LANGS = {"bash", "sh", "shell", "console"}
# The commands whose first words make an unlabelled block a shell block.
COMMAND_WORDS = ("sparkpg", "python", "./build.sh", "make", "spark-submit", "aws", "terraform")
SEPARATORS = {"&&", "||", ";", "|"}
ENGINE_JAR = "sparkpg-engine.jar"


@dataclass(frozen=True)
class Block:
    """One fenced code block: where it starts (the fence's line), its info string and its text
    (dedented by the fence's indentation)."""

    path: str
    line: int
    lang: str
    text: str

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"

    @property
    def kind(self) -> str:
        """``python``, ``json``, ``shell``, ``sql`` or ``output`` (text a command prints)."""
        if self.lang in ("python", "json", "sql"):
            return self.lang
        if self.lang in SHELL_LANGS:
            return "shell"
        first = self.text.lstrip().split("\n", 1)[0]
        return "shell" if first.removeprefix("$ ").startswith(COMMAND_WORDS) else "output"


@dataclass(frozen=True)
class Command:
    """One command of a shell block: the block, the line it starts on, its words."""

    block: Block
    line: int
    argv: Tuple[str, ...]

    @property
    def where(self) -> str:
        return f"{self.block.path}:{self.line}"


def extract_blocks(markdown: str, path: str) -> List[Block]:
    """Every fenced (```) block of ``markdown``, indented ones (inside list items) included."""
    blocks: List[Block] = []
    lines = markdown.split("\n")
    index = 0
    while index < len(lines):
        fence = re.match(r"^(\s*)```\s*([\w+-]*)\s*$", lines[index])
        if fence is None:
            index += 1
            continue
        indent, lang = len(fence.group(1)), fence.group(2).lower()
        end = index + 1
        while end < len(lines) and not lines[end].strip().startswith("```"):
            end += 1
        body = "\n".join(
            line[indent:] if not line[:indent].strip() else line for line in lines[index + 1 : end]
        )
        blocks.append(Block(path, index + 1, lang, body))
        index = end + 1
    return blocks


def shell_commands(block: Block) -> List[Command]:
    """The commands of a shell block: ``$ `` prompts (when the block has any, other lines are
    output), ``\\`` continuations joined, comments dropped, split at ``&&``, ``;``, ``|``, and
    leading ``NAME=value`` assignments dropped."""
    lines: List[str] = []
    for line in block.text.split("\n"):
        if lines and line.lstrip().startswith("["):  # a synopsis wrapped over two lines
            lines[-1] += " " + line.strip()
        else:
            lines.append(line)
    prompted = any(line.startswith("$ ") for line in lines)
    commands: List[Command] = []
    pending, start = "", 0
    for number, line in enumerate(lines, start=block.line + 1):
        if prompted and not pending:
            if not line.startswith("$ "):
                continue
            line = line[2:]
        if not pending:
            start = number
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        words = shlex.split(pending + line, comments=True)
        pending = ""
        current: List[str] = []
        for word in [*words, ";"]:
            if word in SEPARATORS or word.endswith(";"):
                if word.endswith(";") and word != ";":
                    current.append(word[:-1])
                while current and re.match(r"^[A-Za-z_]\w*=", current[0]):
                    current.pop(0)
                if current:
                    commands.append(Command(block, start, tuple(current)))
                current = []
            else:
                current.append(word)
    return commands


# -- argparse ---------------------------------------------------------------------------------


def sparkpg_parser() -> argparse.ArgumentParser:
    from entrypoints.cli import build_parser

    return build_parser()


def read_tables_parser() -> argparse.ArgumentParser:
    from entrypoints.read_tables import build_parser

    return build_parser()


def build_sh_parser() -> argparse.ArgumentParser:
    from devtools.build_bundle import build_parser

    return build_parser()


def subparsers(parser: argparse.ArgumentParser) -> Dict[str, argparse.ArgumentParser]:
    """The sub-command parsers of ``parser`` by name (none for a leaf)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def command_parsers() -> Dict[str, argparse.ArgumentParser]:
    """Every leaf command line of the project: ``sparkpg <sub> [<action>]``,
    ``python -m entrypoints.read_tables`` and ``./build.sh``, by their written form."""
    leaves: Dict[str, argparse.ArgumentParser] = {}

    def walk(name: str, parser: argparse.ArgumentParser) -> None:
        children = subparsers(parser)
        if not children:
            leaves[name] = parser
        for child, sub in children.items():
            walk(f"{name} {child}", sub)

    root = sparkpg_parser()
    walk("sparkpg", root)
    leaves["sparkpg"] = root  # its own options: --verbose, --version
    leaves["python -m entrypoints.read_tables"] = read_tables_parser()
    leaves["./build.sh"] = build_sh_parser()
    return leaves


def documented_options(parser: argparse.ArgumentParser) -> List[str]:
    """The long options of ``parser`` a user may pass (not ``--help``, not hidden ones)."""
    return [
        option
        for action in parser._actions
        if action.help != argparse.SUPPRESS and not isinstance(action, argparse._HelpAction)
        for option in action.option_strings
        if option.startswith("--")
    ]


def _parse(parser: argparse.ArgumentParser, argv: Sequence[str]) -> Optional[str]:
    """``None`` when ``parser`` accepts ``argv``, else argparse's message."""
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            parser.parse_args(list(argv))
    except SystemExit as exc:
        if exc.code not in (0, None):
            return err.getvalue().strip().splitlines()[-1]
    return None


def _leaf(parser: argparse.ArgumentParser, argv: Sequence[str]) -> argparse.ArgumentParser:
    """The sub-command parser ``argv`` selects (the first words naming sub-commands)."""
    for word in argv:
        children = subparsers(parser)
        if word not in children:
            break
        parser = children[word]
    return parser


def _unknown_flags(parser: argparse.ArgumentParser, words: Sequence[str]) -> List[str]:
    known = {option for action in parser._actions for option in action.option_strings}
    flags = [re.sub(r"[\[\]|]", "", word).split("=", 1)[0] for word in words]
    return [flag for flag in flags if flag.startswith("--") and flag not in known]


def check_synopsis(text: str, where: str) -> List[str]:
    """Every ``--flag`` of a synopsis or an inline command (``sparkpg doctor --settings FILE
    [--json]``, with placeholders) exists on the command it names."""
    try:
        words = shlex.split(text.replace("\\\n", " "), comments=True)
    except ValueError:
        words = text.split()
    if not words:
        return []
    parser, rest = _parser_of(words)
    if parser is None:
        return []
    leaf = _leaf(parser, [w for w in rest if not w.startswith(("-", "["))])
    return [
        f"{where}: `{' '.join(words)}`: unknown option {flag}"
        for flag in _unknown_flags(leaf, rest)
    ]


def _parser_of(words: Sequence[str]) -> Tuple[Optional[argparse.ArgumentParser], List[str]]:
    """The project parser a command line starts with, and the words it parses."""
    if words[0] == "sparkpg":
        return sparkpg_parser(), list(words[1:])
    if words[0] == "./build.sh":
        return build_sh_parser(), list(words[1:])
    if re.match(r"^(\S*/)?python(3(\.\d+)?)?$", words[0]) and list(words[1:3]) == [
        "-m",
        "entrypoints.read_tables",
    ]:
        return read_tables_parser(), list(words[3:])
    if words[0] == "spark-submit":
        script = next(
            (i for i, w in enumerate(words) if w.endswith("entrypoints/read_tables.py")), None
        )
        if script is not None:
            return read_tables_parser(), list(words[script + 1 :])
    return None, []


def check_command(command: Command) -> List[str]:
    """A project command parses with its real parser (every flag exists, every required
    argument is there); ``spark-submit`` of the main job ships both JARs and the code; ``make``
    names a Makefile target. Other commands (``aws``, ``terraform``, ``cd``) are not ours."""
    words = command.argv
    where = f"{command.where}: `{shlex.join(words)}`"
    parser, rest = _parser_of(words)
    problems: List[str] = []
    if words[0] == "spark-submit" and parser is not None:
        jars = _option_value(words, "--jars") or ""
        if ENGINE_JAR not in jars or "postgresql" not in jars:
            problems.append(f"{where}: --jars must list the JDBC JAR and {ENGINE_JAR}")
        if _option_value(words, "--py-files") is None:
            problems.append(f"{where}: no --py-files: the job's code is not shipped")
    if words[0] == "make":
        targets = make_targets()
        problems += [f"{where}: no Makefile target {t}" for t in words[1:] if t not in targets]
    if parser is not None:
        if any(word.startswith("[") for word in rest):
            return problems + check_synopsis(shlex.join(words), command.where)
        message = _parse(parser, rest)
        if message is not None:
            problems.append(f"{where}: {message}")
    return problems


def make_targets() -> List[str]:
    """The Makefile's targets, its ``$(VAR)`` references expanded."""
    text = (REPO / "Makefile").read_text()
    variables = dict(re.findall(r"^(\w+)\s*[:?]?=\s*(.*?)\s*$", text, re.M))
    text = re.sub(r"\$\((\w+)\)", lambda m: variables.get(m.group(1), m.group(0)), text)
    return re.findall(r"^([^\s:#=][^\s:=]*)\s*:(?!=)", text, re.M)


def _option_value(words: Sequence[str], option: str) -> Optional[str]:
    for index, word in enumerate(words):
        if word == option and index + 1 < len(words):
            return words[index + 1]
        if word.startswith(option + "="):
            return word.split("=", 1)[1]
    return None


# -- Python -----------------------------------------------------------------------------------


def _resolve(dotted: str) -> Any:
    """The object a dotted name (``package.module.attribute...``) refers to; raises
    ``ImportError`` / ``AttributeError`` when it does not exist."""
    parts = dotted.split(".")
    for split in range(len(parts), 0, -1):
        try:
            value = importlib.import_module(".".join(parts[:split]))
        except ModuleNotFoundError:
            continue
        for attribute in parts[split:]:
            value = getattr(value, attribute)
        return value
    raise ImportError(f"no module {parts[0]}")


def _keywords_accepted(function: Any) -> Optional[Callable[[str], bool]]:
    """Which keywords ``function`` takes: its parameters; for the read functions' ``**overrides``
    the fields of ``ReadOptions``; ``None`` when any keyword goes."""
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):
        return None
    named = {
        p.name
        for p in signature.parameters.values()
        if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    }
    extra = [p for p in signature.parameters.values() if p.kind is p.VAR_KEYWORD]
    if not extra:
        return named.__contains__
    if extra[0].name == "overrides":
        from spark_jobs.read.options import ReadOptions

        fields = {field.name for field in dataclasses.fields(ReadOptions)}
        return lambda name: name in named or name in fields
    return None


def check_python(block: Block) -> List[str]:
    """The block compiles; every ``from X import a`` / ``import X`` resolves; every call of an
    imported function or class uses keywords it accepts and positional arguments it can bind."""
    try:
        tree = ast.parse(block.text)
    except SyntaxError as exc:
        return [f"{block.where}: does not compile: {exc}"]
    names: Dict[str, Any] = {}
    problems: List[str] = []

    def at(node: ast.AST) -> str:
        return f"{block.path}:{block.line + getattr(node, 'lineno', 0)}"

    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                try:
                    names[alias.asname or alias.name] = _resolve(f"{node.module}.{alias.name}")
                except (ImportError, AttributeError) as exc:
                    problems.append(f"{at(node)}: from {node.module} import {alias.name}: {exc}")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                try:
                    names[alias.asname or alias.name] = importlib.import_module(alias.name)
                except ImportError as exc:
                    problems.append(f"{at(node)}: import {alias.name}: {exc}")
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in names:
            problems += _check_call(f"{at(node)}: {node.func.id}(...)", node, names[node.func.id])
    return problems


def _check_call(where: str, call: ast.Call, function: Any) -> List[str]:
    accepts = _keywords_accepted(function)
    problems = [
        f"{where}: unknown keyword {kw.arg}="
        for kw in call.keywords
        if kw.arg is not None and accepts is not None and not accepts(kw.arg)
    ]
    if accepts is None or any(isinstance(a, ast.Starred) for a in call.args):
        return problems
    try:
        signature = inspect.signature(function)
        known = [
            kw.arg for kw in call.keywords if kw.arg is not None and kw.arg in signature.parameters
        ]
        signature.bind(*call.args, **{k: None for k in known})
    except (TypeError, ValueError) as exc:
        problems.append(f"{where}: {exc}")
    return problems


# -- JSON and prose ---------------------------------------------------------------------------


def check_json(block: Block) -> List[str]:
    """The block is JSON; one with a ``postgres`` section is settings and must load."""
    try:
        data = json.loads(block.text)
    except ValueError as exc:
        return [f"{block.where}: not JSON: {exc}"]
    if isinstance(data, dict) and "postgres" in data:
        from connectors.errors import SettingsError
        from connectors.settings import settings_from_dict

        try:
            settings_from_dict(data, source=block.where)
        except SettingsError as exc:
            return [f"{block.where}: settings do not load: {exc}"]
    return []


CODE_SPAN = re.compile(r"(?<!`)`([^`\n]+(?:\n[^`\n]+)?)`(?!`)")
DOTTED = re.compile(
    r"^((?:connectors|spark_jobs|entrypoints|submission|diagnostics|devtools)(?:\.\w+)+)"
)
REPO_PATH = re.compile(
    r"^((?:connectors|spark_jobs|entrypoints|submission|diagnostics|devtools|tests|jvm|infra|examples|benchmarks|docs)/[\w./-]*)$"
)


def code_spans(markdown: str) -> Iterator[Tuple[int, str]]:
    """Inline code spans outside fenced blocks, with their line numbers."""
    inside = False
    text_lines: List[str] = []
    for line in markdown.split("\n"):
        if line.strip().startswith("```"):
            inside = not inside
            text_lines.append("")
            continue
        text_lines.append("" if inside else line)
    prose = "\n".join(text_lines)
    for match in CODE_SPAN.finditer(prose):
        yield prose.count("\n", 0, match.start()) + 1, match.group(1).replace("\n", " ")


def check_prose(markdown: str, path: str) -> List[str]:
    """Inline references: ``module.function`` spans resolve, repository paths exist, and inline
    ``sparkpg ...`` / ``./build.sh ...`` commands use options that exist."""
    problems: List[str] = []
    for line, span in code_spans(markdown):
        where = f"{path}:{line}"
        dotted = DOTTED.match(span)
        if dotted and "/" not in span:
            try:
                _resolve(dotted.group(1))
            except (ImportError, AttributeError) as exc:
                problems.append(f"{where}: `{span}` does not resolve: {exc}")
        elif REPO_PATH.match(span) and "<" not in span and "{" not in span:
            if not (REPO / span.split("#")[0]).exists():
                problems.append(f"{where}: `{span}`: no such file in the repository")
        elif span.startswith(("sparkpg ", "./build.sh ", "python -m entrypoints.read_tables ")):
            problems += check_synopsis(span, where)
        elif span.startswith("--"):
            flag = re.split(r"[\s=/]", span, maxsplit=1)[0]
            if flag not in known_options():
                problems.append(f"{where}: `{span}`: no command has the option {flag}")
    return problems


# Options of other tools that the docs mention: spark-submit's and pip's (docs/deploy.md).
OTHER_TOOLS_OPTIONS = {"--jars", "--py-files", "--only-binary", "--implementation"}
OTHER_TOOLS_OPTIONS |= {"--python-version", "--platform", "--target", "--no-deps"}


@functools.cache
def known_options() -> Set[str]:
    """Every option of our command lines, and the other tools' options the docs mention."""
    ours = {o for p in command_parsers().values() for a in p._actions for o in a.option_strings}
    return ours | OTHER_TOOLS_OPTIONS


def check_block(block: Block) -> List[str]:
    """Every static check of one block, by its kind."""
    if block.kind == "python":
        return check_python(block)
    if block.kind == "json":
        return check_json(block)
    if block.kind == "shell":
        return [problem for command in shell_commands(block) for problem in check_command(command)]
    return []
