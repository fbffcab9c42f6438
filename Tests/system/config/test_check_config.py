"""check-config and show-config against real files: exact file:line:column errors."""
import re


def test_valid_config_exits_0(dnsbox):
    path = dnsbox.write_config("config idle 'main'\n\toption enabled '1'\n")
    r = dnsbox.run("check-config", "-c", str(path))
    assert r.returncode == 0, r.stderr
    assert "ok" in r.stdout


def test_unknown_option_names_file_line_column_and_suggests(dnsbox, tmp_path):
    path = tmp_path / "bad.conf"
    path.write_text("config dnsbox 'main'\n\toption rundir '/run/x'\n\n\toption datbase '/x.db'\n")
    r = dnsbox.run("check-config", "-c", str(path))
    assert r.returncode == 1
    assert f"unknown option 'datbase' in section dnsbox 'main' at {path}:4:9; did you mean 'database'?" in r.stderr


def test_unknown_section_type(dnsbox, tmp_path):
    path = tmp_path / "bad.conf"
    path.write_text("# comment\nconfig dsnd 'main'\n")
    r = dnsbox.run("check-config", "-c", str(path))
    assert r.returncode == 1
    assert f"{path}:2:8" in r.stderr and "did you mean 'dnsd'" in r.stderr


def test_bad_value_and_unterminated_quote(dnsbox, tmp_path):
    path = tmp_path / "bad.conf"
    path.write_text("config dnsbox 'main'\n\toption log_level 'loud'\n")
    r = dnsbox.run("check-config", "-c", str(path))
    assert r.returncode == 1 and f"{path}:2:9" in r.stderr and "loud" in r.stderr
    path.write_text("config dnsbox 'main'\n\toption rundir '/run\n")
    r = dnsbox.run("check-config", "-c", str(path))
    assert r.returncode == 1 and re.search(rf"{re.escape(str(path))}:2:\d+", r.stderr)


def test_missing_file_is_a_clear_error(dnsbox, tmp_path):
    r = dnsbox.run("check-config", "-c", str(tmp_path / "nope.conf"))
    assert r.returncode == 1 and "nope.conf" in r.stderr


def test_config_path_from_environment(dnsbox, tmp_path):
    path = tmp_path / "env.conf"
    path.write_text("config dnsbox 'main'\n\toption log_level 'warn'\n")
    r = dnsbox.run("show-config", env={"DNSBOX_CONFIG": str(path)})
    assert r.returncode == 0, r.stderr
    assert "dnsbox.main.log_level='warn'" in r.stdout


def test_show_config_is_uci_show_form(dnsbox, tmp_path):
    path = tmp_path / "c.conf"
    path.write_text(
        "config dnsbox 'main'\n"
        "\toption user \"$DNSBOX_TEST_USER\"\n"
        "config dhcp\n\toption interface 'br-lan'\n"
        "config dhcp\n\toption interface 'guest'; option ignore 1\n"
        "config idle 'main'\n\toption enabled 0\n"
    )
    r = dnsbox.run("show-config", "-c", str(path), env={"DNSBOX_TEST_USER": "nobody"})
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert "dnsbox.main=dnsbox" in lines
    assert "dnsbox.main.user='$DNSBOX_TEST_USER'" in lines  # secrets are not expanded in output
    assert "dnsbox.@dhcp[0]=dhcp" in lines
    assert "dnsbox.@dhcp[0].interface='br-lan'" in lines
    assert "dnsbox.@dhcp[1].ignore='1'" in lines
    assert "dnsbox.main=idle" in lines
    r = dnsbox.run("show-config", "-d", "-c", str(path), env={"DNSBOX_TEST_USER": "nobody"})
    assert "dnsbox.main.rundir='/run/dnsbox'" in r.stdout.splitlines()


def test_unset_environment_variable_is_an_error(dnsbox, tmp_path):
    path = tmp_path / "c.conf"
    path.write_text("config dnsbox 'main'\n\toption user '$DNSBOX_SURELY_UNSET'\n")
    r = dnsbox.run("check-config", "-c", str(path))
    assert r.returncode == 1 and "DNSBOX_SURELY_UNSET" in r.stderr and f"{path}:2:9" in r.stderr


def test_errors_never_print_substituted_secrets(dnsbox, tmp_path):
    path = tmp_path / "c.conf"
    path.write_text("config dnsbox 'main'\n\toption log_level '$DNSBOX_TEST_SECRET'\n")
    r = dnsbox.run("check-config", "-c", str(path), env={"DNSBOX_TEST_SECRET": "hunter2"})
    assert r.returncode == 1
    assert "hunter2" not in r.stderr
    assert "from '$DNSBOX_TEST_SECRET'" in r.stderr and f"{path}:2:9" in r.stderr


def test_empty_paths_are_refused(dnsbox, tmp_path):
    path = tmp_path / "c.conf"
    path.write_text("config dnsbox 'main'\n\toption rundir '$DNSBOX_TEST_EMPTY'\n")
    r = dnsbox.run("check-config", "-c", str(path), env={"DNSBOX_TEST_EMPTY": ""})
    assert r.returncode == 1 and "expected a non-empty path" in r.stderr
