"""The demo shop's catalog: 200+ items, weighed produce sold per kg, items with several barcodes."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from hub.catalog import Catalog
from hub.domain.barcodes import check_digit
from hub.domain.sale import CatalogItem
from hub.store import Store

# GS1 prefix 049 is for use inside one company: demo codes can never clash with real products.
DEMO_PREFIX = "049"
STANDARD_TAX_BP = 2000
REDUCED_TAX_BP = 700

# Weighed produce: (PLU, name, price per kg in cents). PLUs are the IFPS numbers shops type or scan.
PRODUCE = [
    ("4011", "Bananas", 199), ("4131", "Apples Fuji", 349), ("4017", "Apples Granny Smith", 329),
    ("4021", "Pears Bartlett", 379), ("4048", "Limes", 499), ("4053", "Lemons", 449),
    ("4060", "Broccoli", 399), ("4062", "Cucumbers", 249), ("4064", "Tomatoes", 429),
    ("4072", "Potatoes", 149), ("4078", "Sweetcorn", 299), ("4082", "Red onions", 219),
    ("4087", "Plum tomatoes", 459), ("4093", "Yellow onions", 179), ("4225", "Avocados", 899),
    ("4555", "Carrots", 159), ("4593", "Parsnips", 289), ("4640", "Mushrooms", 749),
    ("4688", "Red peppers", 599), ("4799", "Cherries", 1199), ("4959", "Mangoes", 549),
    ("4030", "Kiwifruit", 499), ("4036", "Oranges", 279), ("4088", "Green peppers", 549),
]

PACKAGED = {
    "Bakery": ["Sourdough loaf", "Rye bread", "Croissant", "Baguette", "Cinnamon roll", "Bagels 4-pack",
               "Wholemeal loaf", "Pita bread", "Brioche buns", "Muffin blueberry"],
    "Dairy": ["Whole milk 1 l", "Semi-skimmed milk 1 l", "Butter 250 g", "Greek yoghurt 500 g", "Cheddar 200 g",
              "Mozzarella 125 g", "Cream 200 ml", "Eggs free range 6", "Eggs free range 12", "Skyr 450 g",
              "Oat drink 1 l", "Feta 200 g"],
    "Drinks": ["Sparkling water 1.5 l", "Still water 1.5 l", "Cola 330 ml", "Lemonade 330 ml", "Orange juice 1 l",
               "Apple juice 1 l", "Iced tea 500 ml", "Ginger beer 330 ml", "Cold brew coffee 250 ml",
               "Kombucha 330 ml", "Tonic water 200 ml", "Energy drink 250 ml"],
    "Pantry": ["Spaghetti 500 g", "Penne 500 g", "Basmati rice 1 kg", "Chopped tomatoes 400 g", "Chickpeas 400 g",
               "Olive oil 500 ml", "Sunflower oil 1 l", "Flour 1 kg", "Sugar 1 kg", "Sea salt 500 g",
               "Peanut butter 340 g", "Strawberry jam 370 g", "Honey 250 g", "Oats 1 kg", "Coffee beans 250 g",
               "Black tea 80 bags", "Green tea 20 bags", "Tomato ketchup 500 ml", "Mayonnaise 400 ml",
               "Soy sauce 150 ml", "Coconut milk 400 ml", "Red lentils 500 g", "Tuna 160 g", "Sweetcorn 340 g"],
    "Snacks": ["Salted crisps 150 g", "Paprika crisps 150 g", "Tortilla chips 200 g", "Dark chocolate 100 g",
               "Milk chocolate 100 g", "Salted peanuts 200 g", "Trail mix 200 g", "Oat biscuits 300 g",
               "Digestive biscuits 400 g", "Gummy bears 200 g", "Popcorn 100 g", "Rice cakes 130 g"],
    "Household": ["Washing-up liquid 500 ml", "Laundry liquid 1.5 l", "Kitchen roll 2-pack", "Toilet roll 9-pack",
                  "Bin bags 20", "Sponges 3-pack", "Hand soap 250 ml", "Glass cleaner 500 ml", "Matches",
                  "Candles 4-pack", "AA batteries 4-pack", "Light bulb LED E27"],
    "Personal care": ["Toothpaste 75 ml", "Toothbrush", "Shampoo 250 ml", "Conditioner 250 ml", "Shower gel 250 ml",
                      "Deodorant 150 ml", "Plasters 20", "Tissues 10-pack", "Cotton pads 80", "Sun cream 200 ml"],
}
VARIANTS = ["", " organic", " family pack", " value"]
CASE_SIZES = {"Drinks": 12, "Pantry": 6, "Snacks": 10}


@dataclass(frozen=True)
class DemoItem:
    item: CatalogItem
    department: str
    codes: tuple[tuple[str, int], ...]  # (barcode, units it means)
    stock: int


def ean13(serial: int) -> str:
    body = f"{DEMO_PREFIX}{serial:09d}"
    return body + str(check_digit(body))


def gtin14(indicator: int, ean: str) -> str:
    body = f"{indicator}{ean[:-1]}"
    return body + str(check_digit(body))


def demo_items() -> Iterator[DemoItem]:
    for plu, name, per_kg in PRODUCE:
        yield DemoItem(CatalogItem(f"P{plu}", name, "g", per_kg, REDUCED_TAX_BP), "Produce", ((plu, 1),), 50_000)
    serial = 1000
    for dept, names in PACKAGED.items():
        for variant in VARIANTS:
            for i, base in enumerate(names):
                serial += 1
                price = 49 + (serial * 37) % 900
                if variant == " organic":
                    price += 60
                elif variant == " value":
                    price = max(29, price - 40)
                tax = REDUCED_TAX_BP if dept in ("Bakery", "Dairy", "Pantry", "Produce") else STANDARD_TAX_BP
                ean = ean13(serial)
                codes: list[tuple[str, int]] = [(ean, 1)]
                if i % 4 == 0:  # a second label from another supplier, printed as UPC-A
                    upc = f"04{serial:09d}"
                    codes.append((upc + str(check_digit(upc)), 1))
                if dept in CASE_SIZES and i % 3 == 0:  # outer case: one scan means N units
                    codes.append((gtin14(1, ean), CASE_SIZES[dept]))
                yield DemoItem(CatalogItem(f"D{serial}", f"{base}{variant}".strip(), "each", price, tax),
                               dept, tuple(codes), 24 + serial % 50)


TAX_CATEGORIES = {STANDARD_TAX_BP: ("standard", "Standard rate"), REDUCED_TAX_BP: ("reduced", "Reduced rate")}


def load_demo_catalog(store: Store) -> int:
    """Load the demo catalog and its opening stock once; returns how many items were added."""
    catalog = Catalog(store)
    with store.db.write() as conn:
        if conn.execute("SELECT count(*) FROM items").fetchone()[0]:
            return 0
        for rate, (tax_id, tax_name) in TAX_CATEGORIES.items():
            catalog.put_tax_category(conn, tax_id, tax_name, rate, "demo")
        count = 0
        for demo in demo_items():
            item = demo.item
            fields = {"name": item.name, "unit": item.unit, "price_minor": item.price_minor,
                      "tax_category": TAX_CATEGORIES[item.tax_rate_bp][0], "department": demo.department,
                      "cost_minor": item.price_minor * 6 // 10, "supplier": "Demo Wholesale",
                      "supplier_sku": f"DW-{item.sku}"}
            catalog.create(conn, item.sku, fields, "demo", "demo catalog",
                           barcodes=[{"code": code, "packaging": "unit" if pack == 1 else "case", "pack_qty": pack}
                                     for code, pack in demo.codes])
            store.move_stock(conn, demo.item.sku, "floor", demo.stock, "receive", "demo",
                             doc_type="opening_stock", doc_id="demo", reason="opening stock")
            count += 1
        count += _showcase(catalog, conn)
        store.append_event(conn, "stock.opening_loaded", {"items": count, "location": "floor"})
    return count


def _showcase(catalog: Catalog, conn: Any) -> int:
    """A few items that show the item master's range: breaks, tiers, modifiers, variants and a kit."""
    catalog.put_modifier_group(conn, {"id": "wrap", "name": "Gift wrap", "required": False, "max_choices": 1,
                                      "options": [{"id": "wrap", "name": "Gift wrap", "delta_minor": 200}]}, "demo")
    std = {"tax_category": "standard", "supplier": "Demo Wholesale", "department": "Gifts"}
    items: list[tuple[str, dict[str, Any], str | None, int]] = [
        ("G-SOAP", {"name": "Olive oil soap", "unit": "each", "price_minor": 200, "tiers": {"member": 180},
                    "breaks": [{"tier": "retail", "qty": 3, "price_minor": 500}], "modifier_groups": ["wrap"]}, None, 40),
        ("G-MUG", {"name": "Stoneware mug", "unit": "each", "price_minor": 600, "modifier_groups": ["wrap"]}, None, 12),
        ("G-SET", {"name": "Mug and soap gift set", "unit": "each", "price_minor": 900, "kit_policy": "components",
                   "components": [{"sku": "G-MUG", "qty": 1}, {"sku": "G-SOAP", "qty": 2}],
                   "modifier_groups": ["wrap"]}, None, 0),
        ("G-TEE", {"name": "Shop T-shirt", "unit": "each", "price_minor": 1500, "variant_axes": ["size"]}, None, 0),
    ]
    items += [(f"G-TEE-{size}", {"variant_values": {"size": size}}, "G-TEE", 8) for size in ("S", "M", "L")]
    for sku, fields, parent, stock in items:
        made = {**std, **fields} if parent is None else dict(fields)
        if parent is not None:
            made.setdefault("name", f"Shop T-shirt {fields['variant_values']['size']}")
            made["unit"] = "each"
        catalog.create(conn, sku, made, "demo", "demo catalog", parent_sku=parent)
        if stock:
            catalog.store.move_stock(conn, sku, "floor", stock, "receive", "demo", doc_type="opening_stock",
                                     doc_id="demo", reason="opening stock")
    return len(items)
