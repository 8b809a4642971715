from rest_framework.authentication import BaseAuthentication


class ApiKeyAuthentication(BaseAuthentication):  # placeholder; core-api helper implements
    def authenticate(self, request):  # type: ignore[no-untyped-def]
        return None
