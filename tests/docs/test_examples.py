"""Every example in README.md and docs/*.md, tried as a new user would (issue 19 item 13).

Each fenced block is checked by kind (``examples.check_block``): Python compiles and uses names
and keywords that exist; shell commands of ours parse with the real argparse parsers; JSON
settings load. Then, against the real test PostgreSQL server and local Spark, every Python
example and every main-job command with local settings is run in a folder holding the
``settings.json`` they name, whose connection ``aurora`` is a database with the tables the docs
use. ``NOT_RUN`` lists, with the reason, what cannot run here. Finally every option of every
command line is mentioned in the docs, in a section that names the command.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Dict, Iterator, List, Set, Tuple

import psycopg
import pytest

from devtools.postgres_server import PostgresServer
from tests.docs.examples import (
    REPO,
    Block,
    check_block,
    check_prose,
    command_parsers,
    documented_options,
    extract_blocks,
    shell_commands,
)
from tests.integration.databases import fresh_database

DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]

# Blocks that are checked statically but cannot run here: (file, text in the block) -> reason.
NOT_RUN: Dict[Tuple[str, str], str] = {
    ("docs/deploy.md", "emr_serverless_client"): "starts a job run on EMR Serverless",
}
# Commands that parse but cannot run here: the first words -> reason.
NOT_RUN_COMMANDS: Dict[Tuple[str, ...], str] = {
    ("sparkpg", "run"): "--emr-like runs the built bundle (tests/submission/test_emr_local.py)",
    ("sparkpg", "submit"): "EMR Serverless",
    ("sparkpg", "status"): "EMR Serverless",
    ("sparkpg", "logs"): "EMR Serverless and CloudWatch Logs",
    ("sparkpg", "cancel"): "EMR Serverless",
    ("sparkpg", "runs"): "EMR Serverless",
    ("sparkpg", "deploy"): "S3",
    ("sparkpg", "doctor"): "AWS (tests/diagnostics/test_doctor_moto.py runs it against moto)",
    ("./build.sh",): "builds the bundle (tests/submission/test_bundle_contents.py)",
    ("spark-submit",): "needs the built bundle (tests/submission/test_emr_local.py runs it)",
}

# The doc's placeholders, made local: (doc text, replacement with {tmp} for the run's folder).
LOCAL_PATHS = [
    ("s3://my-config/backend/settings.json", "settings.json"),
    ("s3://bucket/", "{tmp}/s3-bucket/"),
    ("/tmp/out", "{tmp}/out"),
]

SCHEMA = """
CREATE TABLE public.orders (
    id bigint PRIMARY KEY, order_id bigint UNIQUE NOT NULL, customer_id integer NOT NULL,
    total numeric(12, 2), status text, day date);
INSERT INTO public.orders VALUES
    (1, 101, 1, 10.50, 'open', current_date - 1), (2, 102, 2, 99.99, 'shipped', current_date),
    (3, 103, 1, NULL, NULL, NULL);
CREATE TABLE public.customers (customer_id integer PRIMARY KEY, region text);
INSERT INTO public.customers VALUES (1, 'eu'), (2, NULL);
CREATE TABLE public.order_items (order_id bigint, item text);
INSERT INTO public.order_items VALUES (101, 'pen'), (102, NULL);
CREATE TABLE public.customer_totals (customer_id integer PRIMARY KEY, total numeric);
CREATE SCHEMA sales;
CREATE TABLE sales."Customers" (customer_id integer, name text);
INSERT INTO sales."Customers" VALUES (1, 'Ann'), (NULL, NULL);
CREATE SCHEMA "Sales";
CREATE TABLE "Sales"."Daily Totals" (day date, total numeric(12, 2));
INSERT INTO "Sales"."Daily Totals" VALUES (current_date, 110.49), (NULL, NULL);
"""


def all_blocks() -> List[Block]:
    return [
        block
        for path in DOCS
        for block in extract_blocks(path.read_text(), str(path.relative_to(REPO)))
    ]


def _not_run_reason(block: Block) -> str:
    return next(
        (why for (p, text), why in NOT_RUN.items() if p == block.path and text in block.text), ""
    )


RUNNABLE_PYTHON: Dict[str, List[Block]] = {}
for _block in all_blocks():
    if _block.kind == "python" and not _not_run_reason(_block):
        RUNNABLE_PYTHON.setdefault(_block.path, []).append(_block)


def _runnable(argv: Tuple[str, ...]) -> bool:
    """A main-job command on the local settings file (anything on S3 or EMR is parsed only)."""
    is_job = argv[:2] == ("sparkpg", "run") or argv[:3] == (
        "python",
        "-m",
        "entrypoints.read_tables",
    )
    return is_job and "--emr-like" not in argv and not any(w.startswith("s3://") for w in argv)


RUNNABLE_COMMANDS = [
    c for b in all_blocks() if b.kind == "shell" for c in shell_commands(b) if _runnable(c.argv)
]


# -- static: every block, every inline reference ----------------------------------------------


@pytest.mark.parametrize("block", all_blocks(), ids=lambda b: b.where)
def test_block_is_valid(block: Block) -> None:
    assert check_block(block) == []


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.name)
def test_inline_references_resolve(path: Path) -> None:
    assert check_prose(path.read_text(), str(path.relative_to(REPO))) == []


def test_every_command_not_run_is_listed_with_its_reason() -> None:
    """A command of ours that is neither run here nor in ``NOT_RUN_COMMANDS`` is an oversight."""
    ours = ("sparkpg", "./build.sh", "spark-submit", "python")
    missing = [
        f"{command.where}: {' '.join(command.argv)}"
        for block in all_blocks()
        if block.kind == "shell"
        for command in shell_commands(block)
        if command.argv[0] in ours
        and not _runnable(command.argv)
        and not any(command.argv[: len(prefix)] == prefix for prefix in NOT_RUN_COMMANDS)
    ]
    assert missing == []


# -- every option is documented ---------------------------------------------------------------


def doc_sections() -> List[str]:
    """README.md and docs/*.md cut at every heading, each section with its doc's title (so a
    page about one command, like docs/doctor.md, names it in every section)."""
    sections = []
    for path in DOCS:
        text = path.read_text()
        title = text.split("\n", 1)[0]
        sections += [title + "\n" + part for part in re.split(r"\n(?=#+ )", text)]
    return sections


def _names(command: str) -> List[str]:
    if command == "python -m entrypoints.read_tables":
        return ["entrypoints.read_tables", "read_tables", "sparkpg run"]
    if command == "sparkpg run":
        return ["sparkpg run", "entrypoints.read_tables"]
    return [command]


def test_every_option_is_documented() -> None:
    """Each option of each command line is mentioned in a section of the docs that also names
    that command (``sparkpg submit``, ``./build.sh``, ...)."""
    sections = doc_sections()
    undocumented = []
    for command, parser in command_parsers().items():
        for option in documented_options(parser):
            pattern = re.compile(rf"(?<![\w-]){re.escape(option)}(?![\w-])")
            if not any(
                pattern.search(section) and any(name in section for name in _names(command))
                for section in sections
            ):
                undocumented.append(f"{command} {option}")
    assert undocumented == []


# -- run: Python examples and main-job commands against the test server -----------------------


@pytest.fixture(scope="module")
def docs_folder(postgres: PostgresServer, tmp_path_factory: Any) -> Path:
    """A folder with ``settings.json``: connection ``aurora`` (writable) to a fresh database with
    the tables the docs use (a NULL row in each)."""
    conninfo = fresh_database(postgres, "sparkpg_docs", "sparkpg_docs", "unused", reader=False)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(SCHEMA)  # type: ignore[arg-type]
    folder = tmp_path_factory.mktemp("docs")
    (folder / "credentials.json").write_text(
        json.dumps({"username": postgres.user, "password": postgres.password})
    )
    connection: Dict[str, Any] = {
        "name": "aurora",
        "host": postgres.host,
        "port": postgres.port,
        "database": "sparkpg_docs",
        "credentials_file": str(folder / "credentials.json"),
        "read_only": False,
    }
    if postgres.ca_cert_path:
        connection.update(ssl_mode="verify-full", ssl_root_cert=str(postgres.ca_cert_path))
    else:
        connection.update(ssl_mode="disable")
    (folder / "settings.json").write_text(json.dumps({"postgres": {"connections": [connection]}}))
    return folder


@pytest.fixture()
def in_docs_folder(
    docs_folder: Path, spark: Any, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """The test runs in ``docs_folder``; the temporary views it registers in the session's Spark
    (``load_tables``, ``--sql``) are dropped afterwards."""
    from connectors.secrets import clear_credentials_cache

    def views() -> Set[str]:
        return {t.name for t in spark.catalog.listTables() if t.isTemporary}

    before = views()
    monkeypatch.chdir(docs_folder)
    clear_credentials_cache()
    yield docs_folder
    clear_credentials_cache()
    for view in views() - before:
        spark.catalog.dropTempView(view)


def localized(text: str, folder: Path) -> str:
    for remote, local in LOCAL_PATHS:
        text = text.replace(remote, local.format(tmp=folder))
    return text


@pytest.mark.spark
@pytest.mark.parametrize("page", sorted(RUNNABLE_PYTHON))
def test_python_examples_run(page: str, spark: Any, in_docs_folder: Path) -> None:
    """A page's Python examples run as written (paths made local), in order and in one namespace,
    as a reader continues from one to the next; ``spark`` is the test session and ``df`` a
    DataFrame shaped like ``orders`` for the write examples."""
    df = spark.createDataFrame(
        [(11, 111, 1, None, "new", None)],
        "id long, order_id long, customer_id int, total decimal(12,2), status string, day date",
    )
    namespace = {"spark": spark, "df": df}
    for block in RUNNABLE_PYTHON[page]:
        exec(compile(localized(block.text, in_docs_folder), block.where, "exec"), namespace)


@pytest.mark.spark
@pytest.mark.parametrize("command", RUNNABLE_COMMANDS, ids=lambda c: c.where)
def test_main_job_command_runs(command: Any, spark: Any, in_docs_folder: Path, capsys: Any) -> None:
    """The command exits 0 (in this process, on the test session) and prints its summary."""
    from entrypoints import cli, read_tables

    argv = [localized(word, in_docs_folder) for word in command.argv]
    code = cli.main(argv[1:]) if argv[0] == "sparkpg" else read_tables.main(argv[3:])
    out = capsys.readouterr()
    assert code == 0, out.err
    assert "aurora." in out.out


# -- the checker itself: it fails on what a new user would trip over ----------------------------


def _problems(markdown: str) -> List[str]:
    return [
        p for block in extract_blocks(markdown, "doc.md") for p in check_block(block)
    ] + check_prose(markdown, "doc.md")


def test_checker_refuses_an_unknown_flag_and_a_missing_required_argument() -> None:
    markdown = (
        "Text.\n\n```bash\nsparkpg run --settings s.json --table a.b --no-such-flag\n"
        "python -m entrypoints.read_tables --table a.b\n```\n\n"
        "```\n$ sparkpg settings check s.json --jsn\noutput\n```\n\n"
        "Inline: `sparkpg doctor --settings FILE [--probez]`.\n"
    )
    problems = _problems(markdown)
    assert len(problems) == 4, problems
    assert "doc.md:4" in problems[0] and "--no-such-flag" in problems[0]
    assert "doc.md:5" in problems[1] and "--settings" in problems[1]  # required, not given
    assert "doc.md:9" in problems[2] and "--jsn" in problems[2]
    assert "doc.md:13" in problems[3] and "--probez" in problems[3]


def test_checker_accepts_continuations_prompts_and_wrapped_synopses() -> None:
    markdown = (
        "```\n$ sparkpg submit --settings s.json \\\n    --table a.b --wait --timeout 60\n"
        "started job run\n$ echo $?\n```\n\n"
        "```\nsparkpg doctor --settings FILE [--role-arn ARN]\n               [--json]\n```\n"
    )
    assert _problems(markdown) == []


def test_checker_refuses_misspelt_names_and_keywords() -> None:
    markdown = (
        "```python\nfrom spark_jobs import read_tabel, write_table\n"
        "from spark_jobs.read.loading import read_error_off\n"
        'write_table(df, settings, "a.b", mode="upsert", keys=["id"])\n'
        "```\n\n```python\nfrom spark_jobs import read_table\n"
        'read_table(spark, settings, "a.b", were="x > 1")\n```\n\n'
        "See `spark_jobs.job.loading.read_error_of(exc, read)` and `spark_jobs/read/nothing.py`.\n"
        "Pass `--key-colum id`.\n"
    )
    problems = _problems(markdown)
    assert [p.split(": ", 1)[0] for p in problems] == [
        "doc.md:2",
        "doc.md:3",
        "doc.md:4",
        "doc.md:9",
        "doc.md:12",
        "doc.md:12",
        "doc.md:13",
    ], problems
    assert "read_tabel" in problems[0] and "read_error_off" in problems[1]
    assert "keys=" in problems[2] and "were=" in problems[3]
    assert "spark_jobs.job.loading.read_error_of" in problems[4]
    assert "spark_jobs/read/nothing.py" in problems[5]
    assert "no command has the option --key-colum" in problems[6]


def test_checker_refuses_a_spark_submit_without_the_engine_jar_and_bad_settings() -> None:
    markdown = (
        "```\nspark-submit --jars postgresql-42.7.13.jar --py-files code.zip \\\n"
        "    entrypoints/read_tables.py --settings s.json --table a.b\nmake no-such-target\n```\n\n"
        '```json\n{"postgres": {"connections": [{"name": "a", "host": "db:5432"}]}}\n```\n'
    )
    problems = _problems(markdown)
    assert len(problems) == 3, problems
    assert "sparkpg-engine.jar" in problems[0]
    assert "no Makefile target no-such-target" in problems[1]
    assert problems[2].startswith("doc.md:7: settings do not load")
