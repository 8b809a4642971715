from celery import shared_task


@shared_task
def prune_idempotency_keys() -> int:  # placeholder; core-api helper implements
    return 0
