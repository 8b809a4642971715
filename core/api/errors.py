from rest_framework.views import exception_handler


def problem_exception_handler(exc, context):  # type: ignore[no-untyped-def]  # placeholder
    return exception_handler(exc, context)
