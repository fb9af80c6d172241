"""`okrsync runs delete` of the newer day, then a re-run of the older one: the webhook gets the older
document again with a new Idempotency-Key, so a receiver that honours keys acts on it (it is not a repeat:
the receiver last held the deleted day's document)."""

from datetime import date

import pytest

from okrsync.config.load import load_config
from okrsync.okr.evaluate import end_of_day
from okrsync.store import Store
from okrsync.sync.sequence import sync
from tests.emulators.crm import HookReceiver
from tests.helpers import oslo, write_csv

pytestmark = pytest.mark.reliability


def key_of(request) -> str:
    return next(v for k, v in request.headers.items() if k.lower() == "idempotency-key")


def test_a_re_sent_document_after_a_deleted_day_gets_a_new_key(tmp_path, write_config):
    receiver = HookReceiver().start()
    try:
        write_csv(tmp_path / "data" / "n.csv", "date,n\n2026-11-10,4\n2026-11-21,7\n")
        config = load_config(
            write_config(f"""
            connections: {{files: {{type: csv, root: data}}}}
            metrics: {{n: {{connection: files, path: n.csv, column: n, date_column: date}}}}
            objectives: [{{id: o, title: O, key_results: [{{id: k, metric: n, start: 0, target: 10}}]}}]
            outputs: [{{type: webhook, url: "{receiver.url}/hook"}}]
        """)
        )
        nov10, nov21 = (end_of_day(date(2026, 11, d), config.cycle) for d in (10, 21))
        sync(config, nov10, now=oslo(2026, 11, 10, 12))
        sync(config, nov21, now=oslo(2026, 11, 21, 12))
        store = Store(config.store_url())
        assert store.delete_run(config.namespace, "2026-Q4", date(2026, 11, 21)) is not None
        store.close()
        again = sync(config, nov10, now=oslo(2026, 11, 22, 12))  # the newest day again: published
        assert again.output_errors == [] and any("delivered" in w for w in again.writes)
        first, _, resent = receiver.received
        assert resent.body == first.body  # the same document as on Nov 10 ...
        assert key_of(resent) != key_of(first)  # ... as a new write: a receiver that honours keys takes it
    finally:
        receiver.stop()
