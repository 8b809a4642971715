from django.apps import AppConfig


class AppealsConfig(AppConfig):
    name = "appeals"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # seed_demo's appeals step (queues, training, appeals in every state), after the decisions
        # (decisions.demo runs the steps that higher floors register; it may not import them).
        from appeals.demo import seed
        from decisions.demo import register_demo_step

        register_demo_step("appeals", seed, order=40)
