"""The store under kill -9: every acknowledged write survives, the database
opens cleanly, and the real sqlite3 tool agrees. (kill -9 keeps the page cache:
this proves atomicity and the acknowledge-after-commit discipline; durability
across power loss rests on synchronous=FULL, which this cannot observe.)"""
import random
import shutil
import signal
import subprocess
import time

import pytest

from helpers import need_tool


def _writer(dnsbox, db):
    return subprocess.Popen(dnsbox.argv("db", "-D", str(db), "set", "-"), stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1)


@pytest.mark.parametrize("round_", range(3))
def test_acknowledged_writes_survive_kill_9(dnsbox, tmp_path, round_):
    db = tmp_path / "crash" / "dnsbox.db"
    rng = random.Random(round_)
    kill_after = rng.randint(20, 120)
    p = _writer(dnsbox, db)
    acked = {}
    i = 0
    deadline = time.monotonic() + 60
    # Keep a few writes in flight so the kill lands mid-stream, not between writes.
    while time.monotonic() < deadline:
        key, value = f"k{i:05d}", f"v{i}-{rng.getrandbits(32):08x}"
        p.stdin.write(f"crash {key} {value}\n")
        p.stdin.flush()
        i += 1
        line = p.stdout.readline()
        assert line.startswith("ok "), line + p.stderr.read()
        n = int(line.split()[1])
        acked[f"k{n - 1:05d}"] = f"v{n - 1}-"
        if n >= kill_after:
            # one more unacknowledged write in flight, then SIGKILL
            p.stdin.write(f"crash k{i:05d} unacked\n")
            p.stdin.flush()
            p.send_signal(signal.SIGKILL)
            break
    p.wait(timeout=10)
    assert p.returncode == -signal.SIGKILL
    r = dnsbox.run("db", "-D", str(db), "list", "crash")
    assert r.returncode == 0, r.stderr
    got = dict(line.split("=", 1) for line in r.stdout.splitlines())
    for k, prefix in acked.items():
        assert k in got, f"acknowledged write {k} lost"
        assert got[k].startswith(prefix)
    assert len(got) in (len(acked), len(acked) + 1)
    r = dnsbox.run("db", "-D", str(db), "check")
    assert r.returncode == 0 and r.stdout.strip() == "ok"
    info = dnsbox.run("db", "-D", str(db), "info").stdout
    assert "schema_version: 7" in info


def test_sqlite3_tool_reads_what_dnsbox_wrote(dnsbox, tmp_path):
    need_tool("sqlite3")
    db = tmp_path / "s" / "dnsbox.db"
    assert dnsbox.run("db", "-D", str(db), "set", "ns", "key", "value with spaces").returncode == 0
    out = subprocess.run(["sqlite3", str(db), "PRAGMA journal_mode; PRAGMA integrity_check; "
                          "SELECT value FROM kv WHERE ns='ns' AND key='key'; PRAGMA user_version;"],
                         capture_output=True, text=True, check=True).stdout.split("\n")
    assert out[:4] == ["wal", "ok", "value with spaces", "7"]
    # And dnsbox sees a write made by the sqlite3 tool (another process) with a new generation.
    gen0 = int(dnsbox.run("db", "-D", str(db), "info").stdout.split("generation: ")[1].split()[0])
    subprocess.run(["sqlite3", str(db), "UPDATE kv SET value='changed' WHERE ns='ns';"
                    "UPDATE meta SET value=CAST(value AS INTEGER)+1 WHERE key='generation';"], check=True)
    assert dnsbox.run("db", "-D", str(db), "get", "ns", "key").stdout.strip() == "changed"
    gen1 = int(dnsbox.run("db", "-D", str(db), "info").stdout.split("generation: ")[1].split()[0])
    assert gen1 == gen0 + 1


def test_newer_schema_is_refused(dnsbox, tmp_path):
    need_tool("sqlite3")
    db = tmp_path / "n" / "dnsbox.db"
    assert dnsbox.run("db", "-D", str(db), "info").returncode == 0
    subprocess.run(["sqlite3", str(db), "PRAGMA user_version=42;"], check=True)
    r = dnsbox.run("db", "-D", str(db), "info")
    assert r.returncode == 1 and "newer than this dnsbox" in r.stderr


def test_garbage_database_file_is_a_clear_error(dnsbox, tmp_path):
    db = tmp_path / "g" / "dnsbox.db"
    db.parent.mkdir()
    db.write_bytes(b"this is not a database" * 100)
    r = dnsbox.run("db", "-D", str(db), "info")
    assert r.returncode == 1
    assert str(db) in r.stderr and "not a database" in r.stderr
