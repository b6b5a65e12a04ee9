import pytest
from pydantic import ValidationError

from manualqa.config import Settings


def test_environment_overrides_yaml_defaults(monkeypatch):
    monkeypatch.setenv("MANUALQA_ANSWER__TOP_K", "7")
    monkeypatch.setenv("MANUALQA_SOURCES__FOLDER__PATH", "/srv/manuals")
    settings = Settings()
    assert settings.answer.top_k == 7
    assert str(settings.sources.folder.path) == "/srv/manuals"
    assert settings.embedding.model == "manualqa/all-MiniLM-L6-v2"  # from config.yaml


def test_database_url_can_come_from_a_secret_file(monkeypatch, tmp_path):
    secret = tmp_path / "db_url"
    secret.write_text("postgresql://app:s3cr3t-Value@db:5432/manualqa\n")
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("DATABASE_URL_FILE", str(secret))
    settings = Settings()
    assert settings.database_url is not None
    assert settings.database_url.get_secret_value().endswith("@db:5432/manualqa")
    assert "s3cr3t" not in repr(settings)


def test_production_refuses_placeholder_passwords(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://app:changeme@db/manualqa")
    with pytest.raises(ValidationError, match="placeholder"):
        Settings(environment="production")


def test_production_requires_a_database_url(monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("DATABASE_URL_FILE", raising=False)
    with pytest.raises(ValidationError, match="DATABASE_URL"):
        Settings(environment="production")


def test_a_secret_in_the_yaml_file_is_refused(monkeypatch, tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text("database_url: postgresql://u:p@h/db\n")
    monkeypatch.setenv("MANUALQA_CONFIG", str(config))
    with pytest.raises(ValueError, match="secret"):
        Settings()


def test_state_paths_live_inside_the_data_dir(tmp_path):
    settings = Settings(data_dir=tmp_path)
    assert settings.state_path(settings.index.path) == tmp_path / "index"
    assert settings.state_path(tmp_path / "elsewhere") == tmp_path / "elsewhere"
