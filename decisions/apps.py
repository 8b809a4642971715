from django.apps import AppConfig


class DecisionsConfig(AppConfig):
    name = "decisions"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # S11: an adverse decision takes effect only once its notice is delivered (notifications calls this).
        from decisions.effects import decision_notice_delivered, decision_notices_delivered
        from notifications.registry import register_delivered_handler

        register_delivered_handler("decision", decision_notice_delivered, many=decision_notices_delivered)
