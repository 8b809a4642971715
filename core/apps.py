from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "core"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Registers the Bearer security scheme and the ProblemDetails component for the OpenAPI schema,
        # whichever view is imported first.
        import core.api.schema  # noqa: F401
