"""A worker killed (SIGKILL) in the middle of a batch: nothing lost, nothing sent twice."""

import collections
import time

import pytest

from campaigns.models import Message
from campaigns.tasks import send_due_messages
from tests.integration.test_outbox_worker import _customers, _queue, _run

pytestmark = pytest.mark.services


@pytest.fixture
def worker_env() -> dict[str, str]:
    # small batches, and a dead worker's claims are taken over after three seconds
    return {"OUTBOX_BATCH_SIZE": "4", "OUTBOX_SENDING_TIMEOUT": "3"}


def test_a_worker_killed_mid_batch_loses_nothing_and_sends_nothing_twice(start_worker, smtp_sink):
    sink, _ = smtp_sink
    customers = _customers(10)
    for c in customers:
        _queue(c)
    sink.stall_after = 5  # the 6th message hangs in DATA: the worker is mid-batch
    worker = start_worker()
    send_due_messages.apply_async(queue=worker.queue)
    assert sink.stalled.wait(60), worker.text()[-2000:]

    worker.kill()
    assert Message.objects.filter(status=Message.Status.SENDING).exists()
    sink.release()
    time.sleep(3)  # OUTBOX_SENDING_TIMEOUT: the dead worker's claims are now stale
    worker.start()
    _run(worker)

    received = collections.Counter(m["To"] for m in sink.wait_for(10))
    assert received == {c.email: 1 for c in customers}
    assert Message.objects.filter(status=Message.Status.SENT).count() == 10
    assert len({m["Message-ID"] for m in sink.messages}) == 10
