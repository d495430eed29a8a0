"""Routing configuration: secrets from the environment, masking, tags, the example file."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest
import yaml

from kpi.alerts.channels import MASKER, ConfigError, load_router, prepare_yaml
from kpi.config import ROOT

EXAMPLE = ROOT / "config" / "apprise.example.yml"
EXAMPLE_ENV = {
    "KPI_WECOM_KEY_FGW": "fgw-0a1b2c3d-robot-key",
    "KPI_WECOM_KEY_TJJ": "tjj-0a1b2c3d-robot-key",
    "KPI_WECOM_KEY_DCJ": "dcj-0a1b2c3d-robot-key",
    "KPI_SMTP_USER": "kpi",
    "KPI_SMTP_PASSWORD": "p@ss:w/rd-example",
}


def test_the_example_configuration_holds_no_secret_only_environment_references():
    text = EXAMPLE.read_text(encoding="utf-8")
    assert "{{KPI_WECOM_KEY_FGW}}" in text and "{{KPI_SMTP_PASSWORD}}" in text
    assert "key=" not in text
    for name, value in EXAMPLE_ENV.items():
        if name != "KPI_SMTP_USER":
            assert value not in text


def test_the_example_routes_departments_leaders_and_the_supervision_office(tmp_path):
    router = load_router(EXAMPLE, tmp_path, env=EXAMPLE_ENV)
    fgw = router.channels("dept-fgw")
    assert [(c.kind, c.host) for c in fgw] == [
        ("wecom", "qyapi.weixin.qq.com"),
        ("email", "smtp.example.gov.cn:465"),
    ]
    assert [c.kind for c in router.channels("leaders")] == ["wecom", "email"]
    (dcj,) = router.channels("dcj")
    assert dcj.tags == ("dcj", "leaders")
    smtp = router.channels("leaders")[1].service
    assert smtp.password == "p@ss:w/rd-example"  # percent-encoded in the URL, decoded by apprise


def test_one_robot_behind_two_tags_is_one_channel_for_a_message_to_both(tmp_path):
    router = load_router(EXAMPLE, tmp_path, env=EXAMPLE_ENV)
    both = router.channels(["leaders", "dcj"])
    assert [c.kind for c in both] == ["wecom", "email"]  # the dcj/leaders robot once
    assert both[0].id == router.channels("dcj")[0].id


def test_the_same_robot_listed_twice_is_still_one_channel(tmp_path):
    doc = (
        "urls:\n"
        "  - kpiwecom://{{K}}:\n      - tag: dept-fgw\n"
        "  - kpiwecom://{{K}}:\n      - tag: dcj\n        mention: zhangsan\n"
    )
    (tmp_path / "a.yml").write_text(doc, encoding="utf-8")
    router = load_router(tmp_path / "a.yml", tmp_path, env={"K": "robot-key-0001"})
    (channel,) = router.channels(["dept-fgw", "dcj"])
    assert channel.tags == ("dept-fgw", "dcj") and channel.mention


def test_channel_ids_name_scheme_and_host_never_the_key_and_do_not_depend_on_it(tmp_path):
    first = load_router(EXAMPLE, tmp_path, env=EXAMPLE_ENV)
    other = dict(EXAMPLE_ENV, KPI_WECOM_KEY_FGW="a-different-key-0000")
    second = load_router(EXAMPLE, tmp_path, env=other)
    ids = [c.id for c in first.all]
    assert ids == [c.id for c in second.all]  # named from the file as written
    assert all(re.fullmatch(r"(kpiwecom|mailtos)://[\w.:-]+#[0-9a-f]{8}", i) for i in ids)
    assert not any(v in " ".join(ids) for v in EXAMPLE_ENV.values() if len(v) > 4)


def test_a_missing_variable_breaks_only_its_own_channel(tmp_path):
    env = {k: v for k, v in EXAMPLE_ENV.items() if k != "KPI_WECOM_KEY_TJJ"}
    router = load_router(EXAMPLE, tmp_path, env=env)
    (broken,) = router.broken
    assert broken.tags == ("dept-tjj",) and broken.service is None
    assert "KPI_WECOM_KEY_TJJ" in broken.error
    assert all(c.service is not None for c in router.channels("dept-fgw"))
    assert router.channels("dept-tjj") == [broken]  # failed, never silently moved to sinks


def test_mentions_are_known_per_robot(tmp_path):
    doc = "urls:\n  - kpiwecom://K1:\n      - tag: a\n        mention: x\n  - kpiwecom://K2:\n      - tag: b\n"
    (tmp_path / "a.yml").write_text(doc, encoding="utf-8")
    router = load_router(tmp_path / "a.yml", tmp_path, env={})
    assert [c.mention for c in router.all] == [True, False]


def test_a_tag_without_a_service_falls_back_to_local_sinks(tmp_path, caplog):
    router = load_router(EXAMPLE, tmp_path, env=EXAMPLE_ENV)
    chans = router.channels("dept-zjj")
    assert [c.id for c in chans] == ["kpisink://wecom/dept-zjj", "kpisink://email/dept-zjj"]
    assert "no apprise service is tagged dept-zjj" in caplog.text


def test_no_configuration_means_local_sinks_for_every_tag(tmp_path):
    router = load_router(None, tmp_path)
    assert [c.kind for c in router.channels("leaders")] == ["wecom", "email"]


def test_a_missing_variable_is_named_and_no_value_is_shown():
    env = dict(EXAMPLE_ENV)
    del env["KPI_WECOM_KEY_TJJ"]
    with pytest.raises(ConfigError, match="KPI_WECOM_KEY_TJJ") as err:
        prepare_yaml(EXAMPLE.read_text(encoding="utf-8"), env)
    assert "fgw-0a1b2c3d" not in str(err.value)


def test_a_placeholder_inside_a_url_is_percent_encoded_and_a_whole_value_is_not():
    text = "urls:\n  - mailto://u:{{PW}}@h?to=a@b.cn:\n      - tag: x\n        pass: '{{PW}}'\n"
    doc = yaml.safe_load(prepare_yaml(text, {"PW": "a@b:c"}))
    ((url, tokens),) = doc["urls"][0].items()
    assert url == "mailto://u:a%40b%3Ac@h?to=a@b.cn"
    assert tokens[0]["pass"] == "a@b:c"


def test_query_options_of_our_schemes_become_yaml_tokens():
    text = "urls:\n  - kpiwecom://127.0.0.1:9/K?tls=no&timeout=1:\n      - tag: x\n"
    doc = yaml.safe_load(prepare_yaml(text, {}))
    assert doc["urls"][0] == {
        "kpiwecom://127.0.0.1:9/K": [{"tls": "no", "timeout": "1", "tag": "x"}]
    }


def test_a_configuration_without_urls_is_refused(tmp_path):
    bad = tmp_path / "a.yml"
    bad.write_text("version: 1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="urls"):
        load_router(bad, tmp_path, env={})


def test_secrets_logged_by_apprise_or_by_us_are_masked(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    load_router(EXAMPLE, tmp_path, env=EXAMPLE_ENV)
    secret = EXAMPLE_ENV["KPI_WECOM_KEY_DCJ"]
    logging.getLogger("apprise").warning("posting to https://x/send?key=%s", secret)
    logging.getLogger("kpi.alerts").error("password %s", EXAMPLE_ENV["KPI_SMTP_PASSWORD"])
    assert secret not in caplog.text and "p@ss:w/rd" not in caplog.text
    assert "key=****" in caplog.text and "password ****" in caplog.text


def test_the_masker_hides_keys_and_passwords_in_urls_it_was_never_told_about():
    assert MASKER.mask("https://h/send?key=abc123&x=1") == "https://h/send?key=****&x=1"
    assert MASKER.mask("mailto://user:hunter22@smtp.example") == "mailto://user:****@smtp.example"


def test_an_unreadable_configuration_file_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="无法读取"):
        load_router(Path(tmp_path / "missing.yml"), tmp_path, env={})
