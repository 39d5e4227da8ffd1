"""The two clients offer the same calls: each of Client's is a coroutine of AsyncClient's."""

import inspect

from kurir import AsyncClient, Client


def _calls(kind: type) -> dict[str, inspect.Signature]:
    return {
        name: inspect.signature(member)
        for name, member in vars(kind).items()
        if callable(member) and not name.startswith("_") and name not in ("close", "aclose")
    }


def test_every_call_of_client_is_a_coroutine_of_async_client_taking_the_same_arguments() -> None:
    blocking, asynchronous = _calls(Client), _calls(AsyncClient)
    assert {"check_numbers", "pair_by_code"} <= blocking.keys()
    assert blocking.keys() == asynchronous.keys()
    for name, signature in blocking.items():
        assert inspect.iscoroutinefunction(getattr(AsyncClient, name)), name
        assert list(signature.parameters) == list(asynchronous[name].parameters), name
