"""Bad input (reliability suite): a corpus of broken configs and files through the real CLI entry point.

Every case must end within seconds with exit code 2 and a message naming the file (and, where the
problem has one, the line and key) — never a traceback, never a hang. The value parser and the formula
evaluator are fuzzed with hypothesis: any text gives a finite number or a plain ValueError.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import tracemalloc

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from okrsync.okr import formula
from okrsync.okr.numbers import LIMIT, parse_number

pytestmark = pytest.mark.reliability

HEAD = "version: 1\ncycle: {name: Q4, start: 2026-10-01, end: 2026-12-31, timezone: Europe/Oslo}\n"
FILES = "connections: {files: {type: csv, root: .}}\n"
KPI = "kpis: [{id: k, metric: m, healthy: {min: 0}}]\n"


def kr(extra: str) -> str:
    return (
        HEAD
        + FILES
        + "metrics: {m: {connection: files, path: a.csv, column: n}}\n"
        + (f"objectives: [{{id: o, title: O, key_results: [{{id: k, metric: m, start: 0, target: 10{extra}}}]}}]\n")
    )


def metric(spec: str) -> str:
    return HEAD + FILES + f"metrics: {{m: {spec}}}\n" + KPI


def bomb() -> str:
    lines, previous = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"], "a0"
    for i in range(1, 9):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*{previous}"] * 9) + "]")
        previous = f"a{i}"
    return HEAD + "\n".join(lines) + "\n"


CORPUS: dict[str, str | bytes] = {
    # the file itself
    "empty": "",
    "only a comment": "# nothing here\n",
    "a list at the top": "- version: 1\n",
    "a scalar at the top": "okrsync\n",
    "random bytes": bytes(range(256)) * 4,
    "NUL bytes": b"version: 1\x00\x00\ncycle: {}\n",
    "UTF-16 with BOM": (HEAD + KPI).encode("utf-16"),
    "Latin-1": (HEAD + "# caf\xe9\n").encode("latin-1"),
    "invalid UTF-8": b"version: 1\n\xff\xfe\xfa\n",
    "larger than 1 MB": HEAD + "# " + "x" * 1_100_000 + "\n",
    "5000-deep list": HEAD + "x: " + "[" * 5000 + "]" * 5000 + "\n",
    "deep mapping": HEAD + "x:\n" + "".join("  " * i + "k:\n" for i in range(1, 60)) + "  " * 60 + "v\n",
    "alias bomb": bomb(),
    "tab indentation": HEAD + "metrics:\n\tm: {formula: '1'}\n",
    "unclosed quote": HEAD + 'namespace: "team\n',
    "unclosed bracket": HEAD + "metrics: {m: {formula: '1'}\n",
    "duplicate key": HEAD + "namespace: a\nnamespace: b\n",
    "python object tag": HEAD + "namespace: !!python/object/apply:os.system ['true']\n",
    "custom tag": HEAD + "namespace: !secret x\n",
    "two documents": HEAD + "---\n" + HEAD,
    "control characters": HEAD + "namespace: \x07\x1b[31m\n",
    # the top level
    "version 2": HEAD.replace("version: 1", "version: 2"),
    "no version": HEAD.replace("version: 1\n", ""),
    "no cycle": "version: 1\n",
    "unknown key": HEAD + "shedule: {cron: '0 2 * * *'}\n",
    "namespace too long": HEAD + "namespace: " + "n" * 150 + "\n",
    "namespace empty": HEAD + 'namespace: ""\n',
    "namespace a list": HEAD + "namespace: [a, b]\n",
    "store not a URL": HEAD + "store: notaurl\n",
    "store without driver": HEAD + "store: postgresql://u@h/db\n",
    "store unknown dialect": HEAD + "store: nosuchdb://x\n",
    # the cycle
    "month 13": HEAD.replace("2026-10-01", "2026-13-01"),
    "February 30": HEAD.replace("2026-12-31", "2026-02-30"),
    "year 0": HEAD.replace("2026-10-01", "0000-10-01"),
    "start after end": HEAD.replace("2026-10-01", "2027-01-01"),
    "unknown timezone": HEAD.replace("Europe/Oslo", "Mars/Olympus"),
    "timezone path": HEAD.replace("Europe/Oslo", "../../etc/passwd"),
    "date as text": HEAD.replace("2026-10-01", "next monday"),
    # the schedule
    "cron minute 61": HEAD + "schedule: {cron: '61 25 * * *'}\n",
    "cron 99 99": HEAD + "schedule: {cron: '99 99 * * *'}\n",
    "cron words": HEAD + "schedule: {cron: 'every night'}\n",
    "schedule timezone": HEAD + "schedule: {cron: '0 2 * * *', timezone: Mars/Olympus}\n",
    "schedule enabled text": HEAD + "schedule: {cron: '0 2 * * *', enabled: perhaps}\n",
    # connections
    "unknown connection type": HEAD + "connections: {x: {type: oracle}}\n",
    "connection without type": HEAD + "connections: {x: {root: .}}\n",
    "connection a string": HEAD + "connections: {x: csv}\n",
    "http file scheme": HEAD + "connections: {x: {type: http, base_url: 'file:///etc/passwd'}}\n",
    "http no scheme": HEAD + "connections: {x: {type: http, base_url: 'example.com'}}\n",
    "jira bad url": HEAD + "connections: {j: {type: jira, url: 'not a url', token: x}}\n",
    "sql timeout negative": HEAD + "connections: {d: {type: sql, url: 'sqlite:///x.db', statement_timeout: -1}}\n",
    "unknown connection key": HEAD + "connections: {files: {type: csv, root: ., rooot: x}}\n",
    # metrics
    "metric unknown connection": metric("{connection: nowhere, path: a.csv, column: n}"),
    "metric both": metric("{connection: files, formula: '1', path: a.csv, column: n}"),
    "metric neither": metric("{path: a.csv}"),
    "formula syntax": metric("{formula: '1 +'}"),
    "formula attribute": metric("{formula: 'm.__class__'}"),
    "formula import": metric("{formula: \"__import__('os').system('true')\"}"),
    "formula lambda": metric("{formula: '(lambda: 1)()'}"),
    "formula comparison": metric("{formula: '1 < 2'}"),
    "formula string": metric("{formula: \"'a'\"}"),
    "formula 20000 terms": metric("{formula: '" + "+".join(["1"] * 20000) + "'}"),
    "formula 5000 minus": metric("{formula: '" + "-" * 5000 + "1'}"),
    "formula 1999 minus": metric("{formula: '" + "-" * 1999 + "1'}"),
    "formula unknown metric": metric("{formula: 'nothing * 2'}"),
    "formula cycle": HEAD + "metrics: {a: {formula: 'b'}, b: {formula: 'a'}}\n",
    "formula self": HEAD + "metrics: {a: {formula: 'a + 1'}}\n",
    "csv absolute path": metric("{connection: files, path: /etc/passwd, column: n}"),
    "csv parent path": metric("{connection: files, path: ../secret.csv, column: n}"),
    "csv home path": metric("{connection: files, path: '~/x.csv', column: n}"),
    "sql two statements": HEAD
    + "connections: {d: {type: sql, url: 'sqlite:///x.db'}}\n"
    + "metrics: {m: {connection: d, query: 'commit; delete from t; select 1'}}\n"
    + KPI,
    "sql vacuum": HEAD
    + "connections: {d: {type: sql, url: 'sqlite:///x.db'}}\n"
    + "metrics: {m: {connection: d, query: \"vacuum into '/tmp/x'\"}}\n"
    + KPI,
    "sql empty": HEAD
    + "connections: {d: {type: sql, url: 'sqlite:///x.db'}}\n"
    + "metrics: {m: {connection: d, query: ''}}\n"
    + KPI,
    "max_age words": metric("{connection: files, path: a.csv, column: n, max_age: 5 parsecs}"),
    "offset_days text": metric("{connection: files, path: a.csv, column: n, offset_days: soon}"),
    "aggregate median": metric("{connection: files, path: a.csv, column: n, aggregate: median}"),
    "metric id too long": HEAD + "metrics: {" + "m" * 250 + ": {formula: '1'}}\n",
    "metric a number": metric("42"),
    "http bad JMESPath": HEAD
    + "connections: {h: {type: http, base_url: 'https://x.test'}}\n"
    + "metrics: {m: {connection: h, select: 'a[?'}}\n"
    + KPI,
    # objectives and key results
    "KR unknown metric": kr("").replace("metric: m, start", "metric: nope, start"),
    "KR target text": kr("").replace("target: 10", "target: lots"),
    "KR target NaN": kr("").replace("target: 10", "target: .nan"),
    "KR target infinity": kr("").replace("target: 10", "target: .inf"),
    "KR start 1e999": kr("").replace("start: 0", "start: 1e999"),
    "KR unknown kind": kr(", kind: sideways"),
    "KR unknown key": kr(", targett: 5"),
    "KR id too long": kr("").replace("id: k,", "id: " + "k" * 250 + ","),
    "duplicate KR ids": HEAD
    + FILES
    + "metrics: {m: {connection: files, path: a.csv, column: n}}\n"
    + "objectives: [{id: o, title: O, key_results: [{id: k, metric: m, target: 1}, {id: k, metric: m, target: 2}]}]\n",
    "duplicate objective ids": HEAD + "objectives: [{id: o, title: A}, {id: o, title: B}]\n",
    "objective without title": HEAD + "objectives: [{id: o}]\n",
    "parent unknown": HEAD + "objectives: [{id: o, title: O, parent: nowhere}]\n",
    "parent circle": HEAD + "objectives: [{id: a, title: A, parent: b}, {id: b, title: B, parent: a}]\n",
    "parent bad namespace": HEAD + "objectives: [{id: a, title: A, parent: 'a/b/c'}]\n",
    "weight negative": HEAD + "objectives: [{id: a, title: A, weight: -1}]\n",
    "objectives a mapping": HEAD + "objectives: {a: 1}\n",
    "KPI healthy NaN": metric("{formula: '1'}").replace("min: 0", "min: .nan"),
    "KPI unknown metric": HEAD + "kpis: [{id: k, metric: nope, healthy: {min: 0}}]\n",
    # outputs
    "unknown output": HEAD + "outputs: [{type: fax}]\n",
    "slack without URL": HEAD + "outputs: [{type: slack}]\n",
    "slack unknown trigger": HEAD + "outputs: [{type: slack, webhook_url: 'https://x.test', on: [sometimes]}]\n",
    "report without path": HEAD + "outputs: [{type: report}]\n",
    "sheets unknown connection": HEAD + "outputs: [{type: google_sheets, connection: nope, spreadsheet: x}]\n",
    "jira unknown connection": HEAD + "outputs: [{type: jira, connection: nope}]\n",
    "outputs a string": HEAD + "outputs: report\n",
    "soql returning records": HEAD
    + "connections: {sf: {type: salesforce, instance_url: 'https://x.my.salesforce.com',"
    + " token: t}}\nmetrics: {m: {connection: sf, soql: 'SELECT Amount FROM Opportunity'}}\n"
    + KPI,
    "soql group by": HEAD
    + "connections: {sf: {type: salesforce, instance_url: 'https://x.my.salesforce.com',"
    + " token: t}}\nmetrics: {m: {connection: sf, soql: 'SELECT StageName, COUNT(Id) FROM Opportunity GROUP BY "
    + "StageName'}}\n"
    + KPI,
    "sheets key file missing": HEAD
    + "connections: {s: {type: google_sheets, credentials_file: missing.json}}\n"
    + "metrics: {m: {connection: s, spreadsheet: abc, range: 'A!B2'}}\n"
    + KPI,
}


@pytest.fixture
def within(request):
    """No case may hang: SIGALRM turns a stuck call into a failure after ``seconds``."""

    def expired(signum, frame):
        raise TimeoutError("took too long: a hang")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(10)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def validate(path, capsys, monkeypatch) -> tuple[int, str]:
    from okrsync.cli.main import main

    monkeypatch.setattr(sys, "argv", ["okrsync", "-c", str(path), "validate"])
    monkeypatch.delenv("OKRSYNC_STORE_URL", raising=False)
    with pytest.raises(SystemExit) as info:
        main()
    captured = capsys.readouterr()
    return info.value.code, captured.out + captured.err


def test_the_corpus_is_large():
    assert len(CORPUS) >= 80


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_broken_input_is_a_located_message_with_exit_2(name, tmp_path, capsys, monkeypatch, within, figures):
    path = tmp_path / "okrsync.yaml"
    content = CORPUS[name]
    (path.write_bytes if isinstance(content, bytes) else path.write_text)(content)
    code, output = validate(path, capsys, monkeypatch)
    figures.append(("bad input", name, {"exit 2": int(code == 2), "tracebacks": int("Traceback" in output)}))
    assert code == 2, output
    assert "Traceback" not in output and str(path) in output, output


@pytest.mark.parametrize(
    ("key", "says"),
    [
        ("not json", "is not JSON"),
        ('{"type": "authorized_user"}', "is not a service-account key"),
        (None, "cannot read"),
    ],
)
def test_validate_checks_key_files_without_the_network(key, says, tmp_path, capsys, monkeypatch, within):
    key_file = tmp_path / "sa.json"
    if key is None:
        key_file.mkdir()  # unreadable as a file
    else:
        key_file.write_text(key)
    path = tmp_path / "okrsync.yaml"
    path.write_text(
        HEAD + "connections: {s: {type: google_sheets, credentials_file: sa.json}}\n"
        "metrics: {m: {connection: s, spreadsheet: abc, range: 'A!B2'}}\n" + KPI
    )
    code, output = validate(path, capsys, monkeypatch)
    assert code == 2 and "connections.s.credentials_file" in output and says in output, output


@pytest.mark.parametrize("kind", ["missing", "folder", "pipe"])
def test_what_is_not_a_config_file_is_said_plainly(kind, tmp_path, capsys, monkeypatch, within):
    path = tmp_path / "okrsync.yaml"
    if kind == "folder":
        path.mkdir()
    elif kind == "pipe":
        os.mkfifo(path)  # reading it would block forever
    code, output = validate(path, capsys, monkeypatch)
    assert code == 2 and "Traceback" not in output and str(path) in output, output


FUZZ_MEMORY = 2 * 1024 * 1024  # bytes one parse or one formula may allocate at its peak (tracemalloc)


@contextlib.contextmanager
def memory_bounded():
    """CPU is bounded by hypothesis' deadline; this bounds memory: the peak Python allocation of the
    call (``9**9**9`` as an exact integer would take hundreds of MB)."""
    tracemalloc.start()
    try:
        yield
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert peak < FUZZ_MEMORY, f"allocated {peak:,} bytes at its peak"


@settings(max_examples=300, deadline=500)
@given(st.one_of(st.text(max_size=60), st.from_regex(r"[-+($€ ]{0,3}[0-9,.eE+-]{1,30}[%)]?", fullmatch=True)))
def test_parse_number_gives_a_finite_number_or_a_plain_error(text):
    with memory_bounded():
        try:
            value = parse_number(text)
        except ValueError as exc:
            assert len(str(exc)) < 200
            return
    assert abs(value) <= LIMIT


@settings(max_examples=300, deadline=500)
@given(st.text(alphabet="ab19e+-*/() .,", max_size=80))
def test_formulas_give_a_finite_number_or_a_formula_error(expression):
    with memory_bounded():
        try:
            value = formula.evaluate(expression, {"a": 1e15, "b": -3.0})
        except formula.FormulaError:
            return
    assert abs(value) <= LIMIT
