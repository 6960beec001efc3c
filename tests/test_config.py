"""One precedence, read lazily: explicit > %config override > environment > default."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cogvideo_nb import Client, ConfigError, resolve_settings
from cogvideo_nb._config import DEFAULT_BASE_URL, clear_overrides, resolve, set_overrides

from ._mock import Script, status


@pytest.fixture(autouse=True)
def _clean(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for var in (
        "ZHIPUAI_API_KEY",
        "ZAI_API_KEY",
        "ZHIPUAI_BASE_URL",
        "ZAI_BASE_URL",
        "COGVIDEO_CONCURRENCY",
        "COGVIDEO_OUTPUT_DIR",
        "COGVIDEO_PROVIDER",
    ):
        monkeypatch.delenv(var, raising=False)
    clear_overrides()
    yield
    clear_overrides()


def test_defaults_mean_emulator() -> None:
    s = resolve_settings()
    assert s.api_key is None and s.base_url is None and s.uses_emulator
    assert s.concurrency == 3 and s.output_dir == Path("cogvideo_outputs")


def test_env_is_read_when_asked_not_at_import(monkeypatch: pytest.MonkeyPatch) -> None:
    c1 = Client()
    monkeypatch.setenv("ZHIPUAI_API_KEY", "sk-env")
    c2 = Client()
    assert c1.emulated and not c2.emulated
    assert c2.base_url == DEFAULT_BASE_URL


def test_a_keyless_client_asks_the_local_service_the_package_wired_in(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The client layer never imports the emulator: the package hands it the launcher, and a
    client with neither key nor URL calls it on first use (not when it is made)."""
    from cogvideo_nb import _client_base, _local

    assert _client_base._local_service == [_local.emulator_url]
    started: list[str] = []

    def start() -> str:
        started.append("local")
        return "http://127.0.0.1:9/v4/"

    monkeypatch.setattr(_client_base, "_local_service", [start])
    c = Client()
    assert c.emulated and started == []
    assert c.base_url == "http://127.0.0.1:9/v4" and c.base_url and started == ["local"]  # once
    monkeypatch.setattr(_client_base, "_local_service", [])
    with pytest.raises(ConfigError, match="no local service"):
        _ = Client().base_url


def test_only_a_zai_key_means_the_zai_platform(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZAI_API_KEY", "sk-zai")
    s = resolve_settings()
    assert s.provider == "zai" and s.api_key is not None and s.api_key.reveal() == "sk-zai"
    assert s.base_url == "https://api.z.ai/api/paas/v4"
    monkeypatch.setenv("ZAI_BASE_URL", "https://zai.test/v4/")
    assert resolve_settings().base_url == "https://zai.test/v4"
    # both keys set: BigModel by default, with its own key; the Z.ai key never goes there
    monkeypatch.setenv("ZHIPUAI_API_KEY", "sk-zhipu")
    s = resolve_settings()
    assert s.provider == "bigmodel" and s.api_key.reveal() == "sk-zhipu"  # type: ignore[union-attr]
    assert s.base_url == DEFAULT_BASE_URL


@pytest.mark.parametrize("how", ["argument", "config", "env"])
def test_provider_zai_resolves_to_api_z_ai(how: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZHIPUAI_API_KEY", "sk-bigmodel-only")
    monkeypatch.setenv("ZAI_API_KEY", "sk-zai")
    explicit: dict[str, Any] = {"provider": "zai"} if how == "argument" else {}
    if how == "config":
        set_overrides(provider="zai")
    if how == "env":
        monkeypatch.setenv("COGVIDEO_PROVIDER", "ZAI")
    s = resolve_settings(**explicit)
    assert (s.provider, s.base_url) == ("zai", "https://api.z.ai/api/paas/v4")
    assert s.api_key.reveal() == "sk-zai"  # type: ignore[union-attr]


def test_provider_precedence(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COGVIDEO_PROVIDER", "zai")
    set_overrides(provider="bigmodel")
    assert resolve_settings().provider == "bigmodel"
    assert resolve_settings(provider="zai").provider == "zai"
    set_overrides(provider=None)
    assert resolve_settings().provider == "zai"
    monkeypatch.setenv("COGVIDEO_PROVIDER", "openai")
    with pytest.raises(ConfigError, match=r"bad value 'openai' for \$COGVIDEO_PROVIDER: must be one of"):
        resolve_settings()


def test_a_key_is_never_sent_to_the_other_platform(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZHIPUAI_API_KEY", "sk-bigmodel")
    assert resolve_settings(provider="zai").api_key is None  # the BigModel key is not Z.ai's
    script = Script([])
    c = Client(provider="zai", base_url="https://api.z.ai/api/paas/v4", transport=script.sync())
    assert c.provider == "zai" and not c.emulated and "api_key=unset" in repr(c)
    with pytest.raises(ConfigError, match=r"no API key for https://api\.z\.ai.*set ZAI_API_KEY"):
        c.get("t1")
    assert script.seen == []


def test_zai_requests_carry_its_language_header(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZAI_API_KEY", "sk-zai")
    script = Script([status("PROCESSING")])
    Client(transport=script.sync()).get("task-1")
    (request,) = script.seen
    assert str(request.url) == "https://api.z.ai/api/paas/v4/async-result/task-1"
    assert request.headers["accept-language"] == "en-US,en"
    assert request.headers["authorization"] == "Bearer sk-zai"


def test_precedence_explicit_over_override_over_env_over_default(monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve("concurrency") == 3
    monkeypatch.setenv("COGVIDEO_CONCURRENCY", "5")
    assert resolve("concurrency") == 5
    set_overrides(concurrency=7)
    assert resolve("concurrency") == 7
    assert resolve("concurrency", 2) == 2
    set_overrides(concurrency=None)
    assert resolve("concurrency") == 5


def test_bad_env_value_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COGVIDEO_CONCURRENCY", "lots")
    with pytest.raises(ConfigError, match=r"bad value 'lots' for \$COGVIDEO_CONCURRENCY"):
        resolve_settings()


def test_unknown_setting() -> None:
    with pytest.raises(ConfigError, match="unknown setting 'colour'"):
        set_overrides(colour="red")


def test_custom_base_url_without_key_fails_before_sending() -> None:
    c = Client(base_url="https://proxy.test/v4")
    assert not c.emulated
    with pytest.raises(ConfigError, match=r"no API key for https://proxy\.test/v4"):
        c.get("t1")


def test_import_reads_no_environment() -> None:
    import subprocess
    import sys

    code = (
        "import os\n"
        "class Spy(dict):\n"
        "    def get(self, *a):\n        raise SystemExit('env read at import: %r' % (a,))\n"
        "    __getitem__ = get\n"
        "real = os.environ\n"
        "os.environ = Spy(real)\n"
        "import cogvideo_nb, cogvideo_nb._config\n"
        "os.environ = real\n"
        "print('clean')\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ}, check=False
    )
    assert out.stdout.strip() == "clean", out.stderr


# -- one validation for every source of every setting (issue 19) --------------------------------
@pytest.mark.parametrize("value", [0, -2, "0", " -2 ", True, 2.5, "three", [3]])
def test_a_concurrency_below_one_is_refused_from_every_source(
    monkeypatch: pytest.MonkeyPatch, value: object
) -> None:
    """A concurrency of 0 queued every job of the folder forever: explicit values and %config
    skipped the check the environment had."""
    with pytest.raises(ConfigError, match="concurrency"):
        resolve_settings(concurrency=value)
    with pytest.raises(ConfigError, match="concurrency"):
        set_overrides(concurrency=value)
    assert resolve("concurrency") == 3  # the refused override left nothing behind
    if isinstance(value, (int, str)):
        monkeypatch.setenv("COGVIDEO_CONCURRENCY", str(value))
        with pytest.raises(ConfigError, match="COGVIDEO_CONCURRENCY"):
            resolve_settings()


@pytest.mark.parametrize("value", [0, -5, float("nan"), float("inf"), "nan", "-5", "inf", False])
def test_a_timeout_must_be_a_finite_positive_number_from_every_source(
    monkeypatch: pytest.MonkeyPatch, value: object
) -> None:
    with pytest.raises(ConfigError, match="timeout"):
        resolve_settings(timeout=value)
    with pytest.raises(ConfigError, match="timeout"):
        set_overrides(timeout=value)
    monkeypatch.setenv("COGVIDEO_TIMEOUT", str(value))
    with pytest.raises(ConfigError, match="COGVIDEO_TIMEOUT"):
        resolve_settings()


def test_good_values_keep_their_types_from_every_source(monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_settings(concurrency=5, timeout=30).concurrency == 5
    assert resolve_settings(concurrency="5", timeout="2.5").timeout == 2.5
    set_overrides(concurrency=4, timeout=12)
    s = resolve_settings()
    assert (s.concurrency, s.timeout) == (4, 12.0) and isinstance(s.timeout, float)
    clear_overrides()
    monkeypatch.setenv("COGVIDEO_CONCURRENCY", "7")
    assert resolve_settings().concurrency == 7


@pytest.mark.parametrize("name, value", [("model", 0), ("model", ""), ("output_dir", 3), ("provider", 1)])
def test_other_settings_of_the_wrong_type_are_refused(name: str, value: object) -> None:
    with pytest.raises(ConfigError, match=name):
        resolve_settings(**{name: value})  # type: ignore[arg-type]  # the wrong type, on purpose
