"""The base of every swappable backend resource."""

from typing import ClassVar

from dagster import ConfigurableResource

SECRET_FIELDS = frozenset({"api_key", "aws_secret_access_key", "aws_access_key_id", "token"})


class BackendResource(ConfigurableResource):
    """A resource with a backend name and an identity that feeds fingerprints.

    `identity()` is the backend name plus every config field that changes the output;
    secrets and fields listed in `not_in_fingerprint` (timeouts, retries, ...) are left out.
    """

    backend_name: ClassVar[str] = "base"
    # "embedded" (CPU, offline animatic preview) or "production" (real models/services).
    tier: ClassVar[str] = "production"
    not_in_fingerprint: ClassVar[frozenset[str]] = frozenset()

    def identity(self) -> dict:
        skip = SECRET_FIELDS | self.not_in_fingerprint
        fields = {}
        for name in type(self).model_fields:
            if name in skip or name.startswith("_"):
                continue
            value = getattr(self, name)
            # A nested resource (e.g. `gpu`) says itself which of its fields change output.
            fields[name] = value.identity() if hasattr(value, "identity") else value
        return {"backend": self.backend_name, **fields}

    def made_by(self) -> str:
        """How the UI says which backend made an artifact."""
        if self.tier == "embedded":
            return f"{self.backend_name} (embedded preview, CPU)"
        return self.backend_name
