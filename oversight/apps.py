from importlib import import_module
from importlib.util import find_spec

from django.apps import AppConfig


class OversightConfig(AppConfig):
    name = "oversight"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The safeguards system checks (tag "safeguards"; they run only when the tag is asked for).
        from oversight import checks

        checks.register()
        # seed_demo's oversight step (fairness data, figures), after the appeals' step (decisions.demo).
        from decisions.demo import register_demo_step
        from oversight.demo import demo_step

        register_demo_step("oversight", demo_step, order=50)
        # The controls' Celery tasks (not in tasks.py, so workers learn them here).
        from oversight import controls_tasks  # noqa: F401

        # S29: after every appeal outcome, evaluate the stop switch of its system (appeals calls the handlers
        # it has registered; appeals.hooks is the registration point proposed to the appeals work).
        if find_spec("appeals.hooks") is not None:
            from oversight.stopswitch import stop_switch_after_outcome

            import_module("appeals.hooks").register_outcome_handler(stop_switch_after_outcome)
            # Issue 6: the figures follow every outcome (a refresh of the recent periods after commit).
            from oversight.services import figures_after_outcome

            import_module("appeals.hooks").register_outcome_handler(figures_after_outcome)
