"""The runner's failure paths: whatever goes wrong while an order runs, the order ends at once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from yinzi import runner
from yinzi.context import Context
from yinzi.db.migrate import upgrade
from yinzi.db.models import Order
from yinzi.services import accounts, billing, orders
from yinzi.storage.base import StorageUnavailable

from conftest import FileServer
from helpers import make_settings, new_user


class DeleteFails:
    """The context's store, but ``delete_prefix`` fails as an unreachable S3 would."""

    def __init__(self, storage: Any) -> None:
        self._storage = storage
        self.deletes: list[str] = []

    def delete_prefix(self, prefix: str) -> int:
        self.deletes.append(prefix)
        raise StorageUnavailable()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._storage, name)


@pytest.fixture
def ctx(tmp_path: Path) -> Iterator[Context]:
    settings = make_settings(tmp_path, separation_engine="separation.spectral")
    settings.data_dir.mkdir(parents=True)
    upgrade(settings.db_url)
    context = Context.build(settings)
    yield context
    context.close()


def test_an_order_fails_at_once_when_its_cleanup_cannot_reach_the_store(
    ctx: Context, file_server: FileServer, caplog: pytest.LogCaptureFixture
) -> None:
    user = new_user(ctx)
    with ctx.db.write() as s:
        account = accounts.find(s, user.email)
        url = file_server.url("missing.wav")  # the input cannot be fetched: the order fails
        order_no = orders.create(s, ctx.settings, account, "extract-voice", url, {}).order_no
    store = DeleteFails(ctx.storage)
    ctx.storage = store  # type: ignore[assignment]
    assert runner.run_order(ctx, order_no) is True
    with ctx.db.read() as s:
        order = s.get(Order, order_no)
        assert order is not None
        assert (order.status, order.pay_status, order.claim_token) == ("failed", "refunded", None)
        assert order.reason and "404" in order.reason
        assert billing.balance(s, user.id) == billing.BalanceView(1000, 0)
    assert len(store.deletes) == 1 and store.deletes[0].startswith(f"results/{order_no}/")
    assert f"could not delete the partial results of order {order_no}" in caplog.text
