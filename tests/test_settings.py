"""Settings: read once from an environment mapping, validated with messages that name the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from precheck import wiring
from precheck.adapters.sqlite_store import SqliteResultStore
from precheck.deps import Deps
from precheck.settings import DEFAULT_DEADLINE_GRACE_S, Settings, SettingsError


def test_defaults_from_an_empty_environment(tmp_path):
    """With nothing set: SQLite under PRECHECK_HOME, the in-process invoker, a 2 s grace, FreeTDS."""
    settings = Settings.from_environ({"PRECHECK_HOME": str(tmp_path)})
    assert settings.store_url == f"sqlite:///{tmp_path / 'precheck.db'}"
    assert (settings.invoker, settings.deadline_grace_s, settings.odbc_driver) == ("inprocess", 2.0, "FreeTDS")
    assert settings.credentials is None and settings.ots_table_prefix == "precheck_"


def test_every_variable_reaches_its_setting():
    """Each documented variable sets its field; the first of several names that is set wins."""
    settings = Settings.from_environ({
        "PRECHECK_STORE": "tablestore:prod", "PRECHECK_INVOKER": "fc", "PRECHECK_DEADLINE_GRACE_S": "3.5",
        "PRECHECK_ODBC_DRIVER": "ODBC Driver 18 for SQL Server", "PRECHECK_OTS_INSTANCE": "prod",
        "PRECHECK_OTS_ENDPOINT": "https://prod.cn-hangzhou.vpc.tablestore.aliyuncs.com/",
        "ALIBABA_CLOUD_REGION_ID": "cn-shanghai", "FC_REGION": "cn-hangzhou", "PRECHECK_OTS_TIMEOUT_S": "7",
        "PRECHECK_FC_SERVICE": "svc", "FC_SERVICE_NAME": "other", "FC_QUALIFIER": "prod",
        "ALIBABA_CLOUD_ACCESS_KEY_ID": "ak", "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "sk"})
    assert settings.store_url == "tablestore:prod" and settings.invoker == "fc"
    assert settings.deadline_grace_s == 3.5 and settings.ots_timeout_s == 7.0
    assert settings.ots_endpoint == "https://prod.cn-hangzhou.vpc.tablestore.aliyuncs.com"
    assert settings.ots_region == "cn-shanghai" and settings.fc_region == "cn-hangzhou"
    assert settings.fc_service == "svc" and settings.fc_runtime_qualifier == "prod"
    assert settings.credentials is not None and settings.credentials.access_key_id == "ak"


@pytest.mark.parametrize("variable, value, rule", [
    ("PRECHECK_DEADLINE_GRACE_S", "soon", "number of seconds"),
    ("PRECHECK_DEADLINE_GRACE_S", "-1", "between 0 and 3600"),
    ("PRECHECK_OTS_TIMEOUT_S", "nan", "between 0 and 3600"),
    ("PRECHECK_OTS_TIMEOUT_S", "0.000", "more than 0 seconds"),
    ("PRECHECK_INVOKER", "lambda", "one of: inprocess, fc"),
    ("PRECHECK_STORE", "postgres://db", "sqlite:///path.db or tablestore:"),
    ("PRECHECK_FC_ENDPOINT", "fc.example", "http:// or https://"),
    ("PRECHECK_OTS_ENDPOINT", "ots.example", "http:// or https://"),
])
def test_a_bad_value_names_the_variable_and_the_rule_not_the_value(variable, value, rule):
    """A value that does not parse is a SettingsError naming the variable and its rule, never the value."""
    with pytest.raises(SettingsError) as raised:
        Settings.from_environ({variable: value})
    assert raised.value.variable == variable and rule in str(raised.value) and value not in str(raised.value)


def test_a_key_id_without_its_secret_is_refused():
    """An AccessKey id alone is a configuration error naming the missing secret's variable."""
    with pytest.raises(SettingsError, match="ALIBABA_CLOUD_ACCESS_KEY_SECRET"):
        Settings.from_environ({"ALIBABA_CLOUD_ACCESS_KEY_ID": "ak"})


def test_settings_are_frozen_and_hide_secrets():
    """Settings cannot be changed in place, and their repr shows no credential or password."""
    settings = Settings.from_environ({"ALIBABA_CLOUD_ACCESS_KEY_ID": "ak", "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "sk-1",
                                      "SQL_PASSWORD": "pw-secret"})
    with pytest.raises(AttributeError):
        settings.invoker = "fc"  # type: ignore[misc]
    assert "sk-1" not in repr(settings) and "pw-secret" not in repr(settings)


def test_settings_compare_hash_and_refuse_as_the_frozen_dataclass_they_were(tmp_path):
    """Settings is a plain class with slots (cold start), still behaving as `dataclass(frozen=True)`: equal
    (and equally hashed) when every field but `secret_env` is equal, unknown keywords refused, and
    `FrozenInstanceError` on assignment and deletion."""
    import dataclasses

    one = Settings.from_environ({"PRECHECK_HOME": str(tmp_path), "SQL_PASSWORD": "a"})
    same = Settings.from_environ({"PRECHECK_HOME": str(tmp_path), "SQL_PASSWORD": "b"})
    other = one.with_(invoker="fc")
    assert one == same and hash(one) == hash(same) and one != other and one.with_() == one
    assert one != "not settings" and repr(one).startswith(f"Settings(home={tmp_path!r}, store_url=")
    with pytest.raises(dataclasses.FrozenInstanceError):
        one.region = "x"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        del one.region
    with pytest.raises(TypeError, match="not_a_field"):
        Settings(not_a_field=1)
    assert Settings(home=tmp_path).store_url == f"sqlite:///{tmp_path / 'precheck.db'}"


def test_with_changes_copy_and_rederive_the_default_store(tmp_path):
    """`with_` returns a changed copy; moving the home moves the default store with it."""
    settings = Settings.from_environ({"PRECHECK_HOME": str(tmp_path / "a")})
    moved = settings.with_(home=Path(tmp_path / "b"))
    assert moved.store_url.endswith(str(Path("b") / "precheck.db")) and settings.home == tmp_path / "a"


def test_wiring_builds_the_configured_parts_on_first_use(tmp_path):
    """wiring.build gives the configured store, lazily, and probes whose secrets come from the settings."""
    settings = Settings.from_environ({"PRECHECK_HOME": str(tmp_path), "SQL_PW": "from-settings"})
    deps = wiring.build(settings)
    assert deps.built == []
    assert isinstance(deps.store, SqliteResultStore) and deps.grace_s == DEFAULT_DEADLINE_GRACE_S
    assert deps.probes is not None and deps.probes.secrets().resolve("env:SQL_PW") == "from-settings"
    deps.store.close()  # type: ignore[attr-defined]


def test_refresh_reaches_every_built_refreshable_part():
    """Each invocation's credentials reach every part that holds credentials (the Refreshable protocol)."""
    from precheck.adapters.credentials import Credentials

    seen = []

    class Part:
        def refresh(self, credentials):
            seen.append(credentials)

        def invoke_async(self, *args):
            pass

    deps = Deps(invoker=Part())  # a built invoker that holds credentials
    rotated = Credentials("STS.x", "s", "token")
    deps.refresh(rotated)
    assert seen == [rotated] and deps.credentials == rotated
