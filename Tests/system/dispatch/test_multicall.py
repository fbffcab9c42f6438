"""Multi-call dispatch: by symlink name, by first argument, help, list, install."""
import os

from helpers import APPLETS

UNAVAILABLE = ["rad", "mdnsd", "bgpd"]


def test_version_and_list(dnsbox):
    r = dnsbox.run("--version")
    assert r.returncode == 0 and r.stdout.startswith("dnsbox ")
    r = dnsbox.run("--list")
    assert r.returncode == 0
    assert r.stdout.split() == APPLETS


def test_help_lists_every_applet_and_command(dnsbox):
    r = dnsbox.run("--help")
    assert r.returncode == 0
    for name in APPLETS + ["check-config", "show-config", "install", "db", "ctl", "ifaces"]:
        assert name in r.stdout


def test_unknown_applet_prints_the_list_and_exits_2(dnsbox):
    r = dnsbox.run("dnsdd")
    assert r.returncode == 2
    assert "unknown applet or command 'dnsdd'" in r.stderr
    for name in APPLETS:
        assert name in r.stderr


def test_no_arguments_is_usage(dnsbox):
    r = dnsbox.run()
    assert r.returncode == 2 and "Applets:" in r.stderr


def test_symlink_name_selects_the_applet(dnsbox):
    for name in APPLETS:
        r = dnsbox.run("--help", argv0=name)
        assert r.returncode == 0, r.stderr
        assert r.stdout.startswith(f"Usage: {name}")


def test_unavailable_applets_say_so_and_fail(dnsbox):
    for name in UNAVAILABLE:
        for r in (dnsbox.run(argv0=name), dnsbox.run(name)):
            assert r.returncode == 69
            assert f"applet '{name}' is not yet available" in r.stderr
            assert r.stdout == ""


def test_applet_help_by_argument(dnsbox):
    r = dnsbox.run("init", "--help")
    assert r.returncode == 0 and "SIGHUP" in r.stdout
    r = dnsbox.run("--help", "rad")
    assert r.returncode == 0 and "Not yet available" in r.stdout
    r = dnsbox.run("--help", "dhcpd")
    assert r.returncode == 0 and "leasefile" in r.stdout


def test_install_creates_links_that_dispatch(dnsbox, tmp_path):
    target = tmp_path / "sbin"
    r = dnsbox.run("install", str(target))
    assert r.returncode == 0, r.stderr
    for name in APPLETS:
        link = target / name
        assert link.is_symlink()
        assert os.path.realpath(link) == str(dnsbox.binary)
    assert not (target / "idle").exists()  # diagnostic applets are not installed
    # Idempotent.
    assert dnsbox.run("install", str(target)).returncode == 0
    # Dispatch through an installed link.
    import subprocess
    from helpers import exec_prefix
    r = subprocess.run([*exec_prefix(), str(target / "init"), "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.startswith("Usage: init")


def test_install_refuses_to_replace_a_file_without_f(dnsbox, tmp_path):
    target = tmp_path / "sbin"
    target.mkdir()
    (target / "dnsd").write_text("not ours")
    r = dnsbox.run("install", str(target))
    assert r.returncode == 1 and "exists (use -f)" in r.stderr
    assert (target / "dnsd").read_text() == "not ours"
    r = dnsbox.run("install", "-f", str(target))
    assert r.returncode == 0
    assert (target / "dnsd").is_symlink()
