"""`Runtime.open` remembers its chain, contract and log key, and refuses anything else."""

from __future__ import annotations

import pytest

from ledger.config import Settings
from ledger.embedded import Anvil
from ledger.errors import ChainError, ConfigError
from ledger.runtime import Runtime

pytestmark = [pytest.mark.integration, pytest.mark.req("ANCH-8")]


def test_reopen_is_idempotent_and_refuses_another_chain(
    settings: Settings, database_url: str, anvil: Anvil
) -> None:
    first = Runtime.open(settings, database_url, anvil.rpc_url)
    identity = first.ledger.identity
    first.stop()
    again = Runtime.open(settings, database_url, anvil.rpc_url)
    assert again.ledger.identity == identity  # not redeployed
    assert not again.admin_created
    again.stop()

    with Anvil() as fresh:  # same chain id, but the contract is not there
        with pytest.raises(ChainError, match="found no code"):
            Runtime.open(settings, database_url, fresh.rpc_url)
    with Anvil(chain_id=4242) as other:
        with pytest.raises(ChainError, match=r"expected chain id 31337.*4242"):
            Runtime.open(settings, database_url, other.rpc_url)

    (settings.keys_dir / "log.key").unlink()
    with pytest.raises(ConfigError, match="not the key this ledger was created with"):
        Runtime.open(settings, database_url, anvil.rpc_url)


def test_key_file_readable_by_others_is_refused(
    settings: Settings, database_url: str, anvil: Anvil
) -> None:
    Runtime.open(settings, database_url, anvil.rpc_url).stop()
    (settings.keys_dir / "anchorer.key").chmod(0o644)
    with pytest.raises(ConfigError, match="readable by others"):
        Runtime.open(settings, database_url, anvil.rpc_url)
