"""Project-wide settings as a resource: render defaults and the watched prompts folder."""

from dagster import ConfigurableResource

from longvid_assets.plan import RenderDefaults


class LongvidSettings(ConfigurableResource):
    config_name: str = "default"
    render: RenderDefaults = RenderDefaults()
    prompts_dir: str = "prompts"
