"""Kits and bundles: how many can be made, whose stock a sale takes, and what is wrong with one. Pure.

A kit lists its components as {sku: qty per kit} and has a policy:

- "components": the kit is put together at the till, so selling one takes its components' stock;
- "assembled": kits are made up in advance and counted as their own item, so selling one takes
  the kit's own stock.

Only one level is expanded here: a component that is itself a kit is taken as that kit's SKU;
the caller expands it again if that kit's policy is "components".
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping

from hub.errors import UnprocessableError, ValidationError

POLICIES = ("components", "assembled")


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_components(components: Mapping[str, int]) -> None:
    for sku, per_kit in components.items():
        if not _whole(per_kit) or per_kit < 1:
            raise UnprocessableError(f"component {sku!r} has qty {per_kit!r} per kit; a component needs a whole "
                                     "number of at least 1: fix the kit", field="components")


def kit_available(components: Mapping[str, int], available: Mapping[str, int]) -> int:
    """Whole kits the available stock makes: the scarcest component decides; none for no components."""
    _check_components(components)
    if not components:
        return 0
    return min(max(0, available.get(sku, 0)) // per_kit for sku, per_kit in components.items())


def stock_effect(kit_sku: str, policy: str, qty: int, components: Mapping[str, int]) -> list[tuple[str, int]]:
    """The (sku, qty) pairs whose stock a sale of qty kits takes, components sorted by SKU."""
    if policy not in POLICIES:
        raise ValidationError(f"kit policy {policy!r} for {kit_sku} is unknown; use one of {', '.join(POLICIES)}",
                              field="policy")
    if not _whole(qty) or qty < 1:
        raise ValidationError(f"qty must be a whole number of kits, at least 1, got {qty!r}", field="qty")
    if policy == "assembled":
        return [(kit_sku, qty)]
    if not components:
        raise UnprocessableError(f"kit {kit_sku} has no components to take stock from; add its components or "
                                 "sell it as 'assembled'", field="components")
    _check_components(components)
    return [(sku, per_kit * qty) for sku, per_kit in sorted(components.items())]


def _chain_back(kit_sku: str, start: str, kits: Mapping[str, Mapping[str, int]]) -> list[str] | None:
    """The shortest chain of kits from start that contains kit_sku again, or None."""
    parent: dict[str, str | None] = {start: None}
    queue = deque([start])
    while queue:
        sku = queue.popleft()
        for child in sorted(kits.get(sku, {})):
            if child == kit_sku:
                chain = [sku]
                while (up := parent[chain[-1]]) is not None:
                    chain.append(up)
                return chain[::-1]
            if child not in parent:
                parent[child] = sku
                queue.append(child)
    return None


def kit_problems(kit_sku: str, policy: str, components: Mapping[str, int],
                 kits: Mapping[str, Mapping[str, int]]) -> list[str]:
    """Sentences saying what is wrong with a kit; kits maps every other kit's SKU to its components."""
    problems: list[str] = []
    if policy not in POLICIES:
        problems.append(f"kit policy {policy!r} is unknown; use one of {', '.join(POLICIES)}")
    if not components:
        problems.append(f"kit {kit_sku} has no components; add at least one")
    for sku, per_kit in sorted(components.items()):
        if not _whole(per_kit) or per_kit < 1:
            problems.append(f"component {sku} has qty {per_kit!r} per kit; use a whole number of at least 1")
    if kit_sku in components:
        problems.append(f"kit {kit_sku} lists itself as a component; remove it")
    others = {sku: parts for sku, parts in kits.items() if sku != kit_sku}
    for sku in sorted(components):
        if sku == kit_sku:
            continue
        chain = _chain_back(kit_sku, sku, others)
        if chain is not None:
            path = " -> ".join([kit_sku, *chain, kit_sku])
            problems.append(f"kit {kit_sku} contains itself through {path}; remove {sku} or break the chain")
    return problems
