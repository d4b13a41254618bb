"""Computed-trait settings are read per store, even where one process opens several."""

from pathlib import Path

from tests.conftest import fresh_database

from c360.profiles.refresh import save_trait_settings, trait_settings
from c360.storage import create_engine_for


def test_two_stores_with_the_same_settings_version_each_get_their_own(tmp_path: Path) -> None:
    tiers = {"first": 50_000.0, "second": 80_000.0}
    engines = {}
    for name, vip in tiers.items():
        (tmp_path / name).mkdir()
        with fresh_database("sqlite", tmp_path / name, migrated=True) as url:
            engines[name] = create_engine_for(url)
            with engines[name].begin() as conn:
                assert save_trait_settings(conn, {"value_tiers": {"vip": vip, "low": 0}}) == 1
    try:
        for _ in range(2):  # the second time from the process's cache
            for name, engine in engines.items():
                with engine.connect() as conn:
                    assert trait_settings(conn).value_tiers["vip"] == tiers[name], name
    finally:
        for engine in engines.values():
            engine.dispose()
