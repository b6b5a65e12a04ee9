"""The text-to-SQL guard refuses every statement that is not one allow-listed SELECT."""

import subprocess
import sys
from pathlib import Path

import pytest

from cli.main import main
from sql.guard import GuardRefusal, check_statement

REPO_ROOT = Path(__file__).resolve().parents[2]
MAX_ROWS = 50

# (statement, a word the reason must contain)
ADVERSARIAL = [
    ("SELECT 1; DROP TABLE manuals", "one statement"),
    ("SELECT key FROM manuals; SELECT name FROM vendors", "one statement"),
    ("DELETE FROM manuals", "DELETE"),
    ("UPDATE manuals SET title = 'x'", "UPDATE"),
    ("INSERT INTO vendors (slug, name) VALUES ('x', 'x')", "INSERT"),
    ("MERGE INTO vendors v USING products p ON v.id = p.id WHEN MATCHED THEN DELETE", "MERGE"),
    ("DROP TABLE manuals", "DROP"),
    ("TRUNCATE manuals", "TRUNCATE"),
    ("CREATE TABLE x (id int)", "CREATE"),
    ("ALTER TABLE manuals ADD COLUMN x int", "ALTER"),
    ("CREATE FUNCTION f() RETURNS int AS 'SELECT 1' LANGUAGE sql", "CREATE"),
    ("GRANT ALL ON manuals TO PUBLIC", "GRANT"),
    ("COPY manuals TO '/tmp/manuals.csv'", "COPY"),
    ("COPY manuals FROM PROGRAM 'id'", "COPY"),
    ("COPY (SELECT 1) TO STDOUT", "COPY"),
    ("SELECT pg_sleep(10)", "pg_sleep"),
    ("SELECT key FROM manuals WHERE pg_sleep(5) IS NOT NULL", "pg_sleep"),
    ("SELECT pg_read_file('/etc/passwd')", "pg_read_file"),
    ("SELECT pg_ls_dir('.')", "pg_ls_dir"),
    ("SELECT * FROM dblink('host=evil', 'SELECT 1') AS t(x int)", "FROM"),
    ("SELECT dblink_exec('host=evil', 'DROP TABLE manuals')", "dblink_exec"),
    ("SELECT lo_import('/etc/passwd')", "lo_import"),
    ("SELECT lo_export(1, '/tmp/x')", "lo_export"),
    ("SELECT set_config('statement_timeout', '0', false)", "set_config"),
    ("SELECT current_setting('data_directory')", "current_setting"),
    ("SELECT version()", "version"),
    ("SELECT key FROM manuals UNION SELECT usename FROM pg_catalog.pg_user", "pg_catalog"),
    ("SELECT key FROM manuals UNION SELECT passwd FROM pg_shadow", "pg_shadow"),
    ("SELECT table_name FROM information_schema.tables", "information_schema"),
    ("SELECT * FROM pg_user", "pg_user"),
    ("SELECT * FROM audit_log", "audit_log"),
    ("SELECT * FROM llm_calls", "llm_calls"),
    ("SELECT content_hash FROM manuals", "content_hash"),
    ("SELECT text FROM chunks", "text"),
    ("WITH gone AS (DELETE FROM manuals RETURNING key) SELECT key FROM gone", "DELETE"),
    ("WITH x AS (UPDATE vendors SET name = 'x' RETURNING id) SELECT id FROM x", "UPDATE"),
    ("WITH x AS (INSERT INTO licenses (name) VALUES ('x') RETURNING id) SELECT 1", "INSERT"),
    ("SELECT 1 /* harmless */; DROP TABLE manuals -- the rest", "one statement"),
    ("SELECT key FROM manuals; -- comment\nDELETE FROM manuals", "one statement"),
    ("SELECT * INTO stolen FROM manuals", "INTO"),
    ("SELECT key FROM manuals FOR UPDATE", "locking"),
    ("SELECT key FROM manuals FOR SHARE", "locking"),
    ("SELECT count(*) FROM chunks a, chunks b, chunks c", "cross join"),
    ("SELECT count(*) FROM chunks a CROSS JOIN chunks b", "cross join"),
    ("SELECT count(*) FROM chunks a JOIN chunks b ON true JOIN chunks c ON 1 = 1", "cross join"),
    ("SET ROLE postgres", "command"),
    ("RESET ROLE", "command"),
    ("SET statement_timeout = 0", "SET"),
    ("DO $$ BEGIN EXECUTE 'DROP TABLE manuals'; END $$", "command"),
    ("VACUUM FULL manuals", "command"),
    ("BEGIN; DELETE FROM manuals; COMMIT", "one statement"),
    (
        "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT n FROM r",
        "recursive",
    ),
    ("SELECT * FROM generate_series(1, 100000000)", "FROM"),
    ("SELECT key FROM manuals LIMIT (SELECT 1000000)", "LIMIT"),
    ("LISTEN channel", "only a SELECT"),
    ("SELECT 'unterminated", "parse"),
    ("", "one statement"),
]


@pytest.mark.parametrize(("statement", "reason"), ADVERSARIAL)
def test_adversarial_statement_is_refused_with_its_reason(statement, reason):
    with pytest.raises(GuardRefusal) as refused:
        check_statement(statement, MAX_ROWS)
    assert reason.lower() in refused.value.reason.lower()


def test_there_are_at_least_forty_adversarial_cases():
    assert len(ADVERSARIAL) >= 40


def test_a_plain_select_runs_with_bound_literals_and_a_limit():
    checked = check_statement(
        "SELECT m.key, p.name FROM manuals m JOIN products p ON p.id = m.product_id "
        "WHERE p.name = 'PureAir AC-200' AND m.page_count > 3 -- trailing comment",
        MAX_ROWS,
    )
    assert "PureAir" not in checked.sql and "comment" not in checked.sql
    assert sorted(checked.params.values(), key=str) == [3, "PureAir AC-200"]
    assert checked.sql.endswith(f"LIMIT {MAX_ROWS}")
    assert {table for _, table, _ in checked.row_keys} == {"manuals", "products"}


def test_a_larger_limit_is_lowered_and_a_smaller_one_kept():
    assert check_statement("SELECT key FROM manuals LIMIT 100000", MAX_ROWS).limit == MAX_ROWS
    assert check_statement("SELECT key FROM manuals LIMIT 3", MAX_ROWS).limit == 3


def test_star_expands_to_the_allowed_columns_only():
    checked = check_statement("SELECT * FROM manuals", MAX_ROWS)
    assert '"key"' in checked.sql and "content_hash" not in checked.sql


def test_aggregates_ctes_and_allowed_functions_pass():
    checked = check_statement(
        "WITH per AS (SELECT v.name, count(*) AS n FROM manuals m "
        "JOIN products p ON p.id = m.product_id JOIN vendors v ON v.id = p.vendor_id "
        "WHERE m.uploaded_at >= date_trunc('week', now()) GROUP BY v.name) "
        "SELECT name, n FROM per ORDER BY n DESC",
        MAX_ROWS,
    )
    assert checked.row_keys == ()  # grouped rows cite their tables, not single rows
    assert set(checked.tables) == {"manuals", "products", "vendors"}


def test_check_command_exits_0_when_refused_and_1_when_it_would_run(monkeypatch, capsys):
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO("SELECT pg_sleep(1)"))
    assert main(["sql", "check"]) == 0
    assert "refused" in capsys.readouterr().out
    monkeypatch.setattr("sys.stdin", io.StringIO("SELECT key FROM manuals"))
    assert main(["sql", "check"]) == 1
    assert "would run" in capsys.readouterr().out


def test_check_command_runs_as_a_module():
    result = subprocess.run(
        [sys.executable, "-m", "cli", "sql", "check"],
        input="COPY manuals TO '/tmp/x'",
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "COPY is not allowed" in result.stdout
