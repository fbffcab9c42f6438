"""log_format 'json': one object per line."""
import json




def test_json_logs_are_one_object_per_line(dnsbox):
    dnsbox.write_config("config idle 'main'\n")
    dnsbox.config_path.write_text(dnsbox.config_path.read_text().replace(
        "option log_level 'debug'", "option log_level 'debug'\n\toption log_format 'json'"))
    p = dnsbox.start("idle", "-c", str(dnsbox.config_path), name="idle")
    dnsbox.wait_ready("idle")
    dnsbox.ctl("idle", "reload")
    p.terminate()
    p.wait(timeout=10)
    lines = [json.loads(line) for line in dnsbox.log("idle").splitlines()]
    msgs = [line["msg"] for line in lines]
    assert "ready" in msgs and "config reloaded" in msgs and "stopped" in msgs
    for line in lines:
        assert line["applet"] == "idle" and line["pid"] == p.pid and line["level"] in ("debug", "info", "warn", "error")
        assert line["ts"].endswith("Z")
