"""Who may discount and override prices at the till, and the manager approvals it takes.

A cashier's discount above the store's limits (`store.discount_approval_bp` of the cart, or
`store.discount_approval_minor`) and any cashier's price override need a manager's approval,
spent in the sale's own transaction (hub.approvals.require_approval). A manager or the owner
needs none. Each approval is bound to what it approves: `discount` to {discount_minor,
before_minor}, `price_override` to {overrides: [{line_no, unit_price_minor}]}; a quote names the
approvals a cart needs with exactly these details, so the register asks for them before paying.
"""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from hub.approvals import require_approval
from hub.auth import allows
from hub.domain import discounts
from hub.domain.sale import Sale, SaleLine, adjustments


@dataclass(frozen=True)
class CartRules:
    limit_bp: int
    limit_minor: int
    prices_include_tax: bool

    @classmethod
    def from_store(cls, store: Mapping[str, Any]) -> CartRules:
        return cls(int(store["discount_approval_bp"]), int(store["discount_approval_minor"]),
                   bool(store["prices_include_tax"]))

    def needed(self, lines: list[SaleLine], role: str) -> list[dict[str, Any]]:
        """The approvals a seller with role needs for these priced lines: [{action, details}]."""
        if allows(role, ("manager",)):
            return []
        adj = adjustments(lines, self.prices_include_tax)
        out: list[dict[str, Any]] = []
        if discounts.needs_approval(adj.discount_minor, adj.before_minor, self.limit_bp, self.limit_minor):
            out.append({"action": "discount",
                        "details": {"discount_minor": adj.discount_minor, "before_minor": adj.before_minor}})
        if adj.overrides:
            out.append({"action": "price_override", "details": {"overrides": [dict(o) for o in adj.overrides]}})
        return out

    def settle(self, conn: sqlite3.Connection, sale: Sale, tokens: Mapping[str, str], actor: str, role: str,
               now: datetime) -> tuple[Sale, str | None]:
        """Spend the approvals the sale needs; stamp who overrode prices and who approved."""
        approvers: dict[str, str] = {}
        for need in self.needed(list(sale.lines), role):
            approvers[need["action"]] = require_approval(conn, tokens.get(need["action"]), need["action"],
                                                         need["details"], actor, now=now)
        who = actor.removeprefix("user:")
        lines = tuple(ln if ln.override_from_minor is None else dataclasses.replace(
            ln, override_by=who, override_approver=approvers.get("price_override", "")) for ln in sale.lines)
        discounted = any(ln.discount_minor or ln.cart_discount_minor for ln in lines)
        approver = approvers.get("discount") or (who if discounted and allows(role, ("manager",)) else None)
        return dataclasses.replace(sale, lines=lines), approver

    def settle_offline(self, conn: sqlite3.Connection, sale: Sale, tokens: Mapping[str, str], actor: str,
                       seller_role: str, sender_role: str, now: datetime
                       ) -> tuple[Sale, str | None, list[dict[str, Any]]]:
        """An offline sale's approvals: the customer has paid and left, so a missing one never refuses
        the sale; it is kept for the owner's review, [{action, details, reason}], instead. An approval
        queued with the sale (asked before the hub dropped) is spent as usual. A manager's discount
        or price change sent by a lower role is flagged too: the hub cannot tell the manager was there."""
        seller = actor.removeprefix("user:")
        approvers: dict[str, str] = {}
        missing: list[dict[str, Any]] = []
        for need in self.needed(list(sale.lines), seller_role):
            if tokens.get(need["action"]):
                approvers[need["action"]] = require_approval(conn, tokens[need["action"]], need["action"],
                                                             need["details"], actor, now=now)
            else:
                missing.append({**need, "reason": "no_approval"})
        adjusted = any(ln.discount_minor or ln.cart_discount_minor or ln.override_from_minor is not None
                       for ln in sale.lines)
        if adjusted and allows(seller_role, ("manager",)) and not allows(sender_role, ("manager",)):
            missing.append({"action": "seller", "details": {"sold_by": seller, "role": seller_role},
                            "reason": "seller_unverified"})
        lines = tuple(ln if ln.override_from_minor is None else dataclasses.replace(
            ln, override_by=seller, override_approver=approvers.get("price_override", "")) for ln in sale.lines)
        discounted = any(ln.discount_minor or ln.cart_discount_minor for ln in lines)
        approver = approvers.get("discount") or (seller if discounted and allows(seller_role, ("manager",)) else None)
        return dataclasses.replace(sale, lines=lines), approver, missing
