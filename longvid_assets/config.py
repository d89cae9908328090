"""Load `configs/<name>.yaml` into validated resources. Bad configs fail at load, in one line.

Which file: `load_config(name)`, else the `LONGVID_CONFIG` env var, else "default". A name is
looked up in `LONGVID_CONFIG_DIR`, `./configs`, then the project's `configs/`; a path to a
.yaml file works too. Secrets are written `{env: NAME}` and become Dagster `EnvVar`s.
"""

import importlib
import os
from pathlib import Path

import yaml
from dagster import EnvVar
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from longvid_assets.errors import ConfigError
from longvid_assets.plan import RenderDefaults
from longvid_assets.resources import BACKENDS
from longvid_assets.resources.settings import LongvidSettings

PROJECT_CONFIGS = Path(__file__).resolve().parent.parent / "configs"
# Sections a config may leave out, and what they default to.
OPTIONAL_SECTIONS = {"adherence": {"backend": "minilm"}, "compute": {"backend": "local"}}


class SensorSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    prompts_dir: str = "prompts"
    interval_s: int = Field(15, ge=1)


class ScheduleSettings(BaseModel):
    """When `rerender_stale_schedule` re-renders what config or code changes left stale."""

    model_config = ConfigDict(extra="forbid")

    cron: str = "0 3 * * *"  # daily at 03:00
    timezone: str = "UTC"


class LongvidConfig(BaseModel):
    """A whole config file: render defaults, sensor settings and one section per resource."""

    model_config = ConfigDict(extra="forbid")

    name: str
    path: str
    description: str = ""
    render: RenderDefaults = RenderDefaults()
    sensor: SensorSettings = SensorSettings()
    schedule: ScheduleSettings = ScheduleSettings()
    resources: dict[str, object]


def config_path(name: str | None = None) -> Path:
    name = name or os.environ.get("LONGVID_CONFIG") or "default"
    if name.endswith((".yaml", ".yml")) and Path(name).is_file():
        return Path(name)
    folders = [os.environ.get("LONGVID_CONFIG_DIR"), Path.cwd() / "configs", PROJECT_CONFIGS]
    for folder in folders:
        if folder and (Path(folder) / f"{name}.yaml").is_file():
            return Path(folder) / f"{name}.yaml"
    known = sorted(p.stem for p in PROJECT_CONFIGS.glob("*.yaml"))
    raise ConfigError(
        f"config '{name}' not found — use one of: {', '.join(known)} (or a .yaml path)"
    )


def load_config(name: str | None = None) -> LongvidConfig:
    path = config_path(name)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}".splitlines()[0]) from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: top level must be a mapping of sections")
    sections = {key: raw.pop(key) for key in list(raw) if key in BACKENDS}
    for key, default in OPTIONAL_SECTIONS.items():
        sections.setdefault(key, dict(default))
    missing = sorted(set(BACKENDS) - set(sections))
    if missing:
        raise ConfigError(
            f"{path}: missing section(s) {', '.join(missing)} — add them with a 'backend:'"
        )
    try:
        config = LongvidConfig(name=path.stem, path=str(path), resources={}, **raw)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(p) for p in error["loc"])
        raise ConfigError(f"{path}: {field}: {error['msg']}") from None
    config.resources = {
        key: build_resource(path, key, section) for key, section in sections.items()
    }
    config.resources["settings"] = LongvidSettings(
        config_name=config.name, render=config.render, prompts_dir=config.sensor.prompts_dir
    )
    return config


def build_resource(path: Path, key: str, section: object):
    """Instantiate the backend a section names; every error names the file and field."""
    if not isinstance(section, dict) or "backend" not in section:
        raise ConfigError(f"{path}: {key}: needs 'backend: <name>' ({', '.join(BACKENDS[key])})")
    params = dict(section)
    backend = params.pop("backend")
    if backend not in BACKENDS[key]:
        choices = ", ".join(BACKENDS[key])
        raise ConfigError(
            f"{path}: {key}.backend '{backend}' is unknown — choose one of: {choices}"
        )
    module_name, class_name = BACKENDS[key][backend].split(":")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except ImportError as exc:
        raise ConfigError(
            f"{path}: {key}.backend '{backend}' needs a missing package ({exc.name}) — "
            f"pip install it (see README, 'Production backends')"
        ) from None
    params = {name: _env(value) for name, value in params.items()}
    try:
        resource = cls(**params)
    except Exception as exc:  # pydantic/dagster config validation: report the first line
        detail = str(exc).splitlines()
        raise ConfigError(f"{path}: {key} ({backend}): {' '.join(detail[:3])}") from None
    check = getattr(resource, "check_config", None)
    if check is not None:
        try:
            check()
        except ValueError as exc:
            raise ConfigError(f"{path}: {key} ({backend}): {exc}") from None
    return resource


def _env(value):
    if isinstance(value, dict) and set(value) == {"env"}:
        return EnvVar(value["env"])
    return value
