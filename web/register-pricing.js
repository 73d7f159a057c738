// Pricing a cart exactly as the hub does, for a register that can't reach it: the same rules as
// hub/domain/pricing.py (tiers, greedy quantity breaks, modifiers), hub/domain/discounts.py (line and
// cart discounts, spread by largest remainder), hub/domain/tax.py (inclusive or exclusive, rounded per
// line or per receipt) and hub/domain/sale.py price_lines, in the hub's quote shape. An offline sale is
// recorded at what this charged, so every difference from the hub is money: tests/hub/
// test_register_pricing_js.py runs this file under node against the hub's own functions.
// Pure: no DOM, no IndexedDB, no imports. Money and quantities are integers; products go through BigInt.

export const TIERS = ["retail", "member", "wholesale"];
const UNITS = ["each", "g", "ml"];
const WEIGHED_UNIT = "g";
const MANAGERS = ["manager", "owner"]; // hub.auth.allows(role, ("manager",))

export class PricingError extends Error {
  constructor(message, { field = "", code = "", status = 422 } = {}) {
    super(message);
    Object.assign(this, { field, code, status });
  }
}

function money(minor) { // hub.domain.money.format_minor without a currency
  const abs = Math.abs(minor);
  return `${minor < 0 ? "-" : ""}${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, "0")}`;
}

/** hub.domain.money.div_half_up: n / d rounded half away from zero. */
export function divHalfUp(n, d) {
  const num = BigInt(n);
  const den = BigInt(d);
  const abs = num < 0n ? -num : num;
  const q = abs / den + (2n * (abs % den) >= den ? 1n : 0n);
  return Number(num < 0n ? -q : q);
}

function lineTotal(unit, qty, price) {
  return unit === "each" ? Number(BigInt(qty) * BigInt(price)) : divHalfUp(BigInt(qty) * BigInt(price), 1000);
}

// -- one line: hub.domain.pricing.price_line ----------------------------------------------------

/** prices: {unit, retail_minor, tiers: {tier: price}, breaks: {tier: [[qty, price], ...]}}. */
export function priceList(unit, retail, tiers = {}, breaks = {}) {
  return { unit, retail_minor: retail, tiers, breaks };
}

function breaksFor(prices, tier) {
  const own = prices.breaks[tier] || [];
  return own.length ? own : prices.breaks.retail || [];
}

function effective(breaks, unitPrice) { // cheaper than single units, largest qty first
  return breaks.filter(([qty, price]) => qty >= 2 && price < qty * unitPrice).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
}

function greedy(qty, unitPrice, breaks) {
  let remaining = qty;
  let amount = 0;
  const applied = [];
  for (const [k, price] of breaks) {
    const times = Math.floor(remaining / k);
    if (times) {
      applied.push([k, price, times]);
      amount += times * price;
      remaining -= times * k;
    }
  }
  return [amount + remaining * unitPrice, applied];
}

/** {tier, unit_price_minor, base_minor, breaks_applied, modifiers_minor, total_minor} for qty of an item. */
export function priceLine(prices, qty, tier = "retail", modifiers = []) {
  const bad = (message, field) => new PricingError(message, { field, status: 400 });
  if (!TIERS.includes(tier)) throw bad(`tier '${tier}' is not a price tier; use one of ${TIERS.join(", ")}`, "tier");
  if (!UNITS.includes(prices.unit)) throw bad(`unit '${prices.unit}' is not one of ${UNITS.join(", ")}; fix the item's unit`, "unit");
  if (!Number.isInteger(qty) || qty < 1) throw bad(`qty must be a whole number of at least 1 ${prices.unit}, got ${qty}`, "qty");
  const used = tier !== "retail" && Object.hasOwn(prices.tiers, tier) ? tier : "retail";
  const unitPrice = used === "retail" ? prices.retail_minor : prices.tiers[tier];
  if (unitPrice < 0) throw bad(`the ${used} price is ${money(unitPrice)}, below zero; fix the item's price list`, "prices");
  const base = lineTotal(prices.unit, qty, unitPrice);
  let amount = base;
  let applied = [];
  if (prices.unit === "each") {
    const breaks = breaksFor(prices, tier);
    for (const [k, price] of breaks) {
      if (k < 2 || price < 0) {
        throw bad(`the break ${k} for ${money(price)} is not usable: a break is for 2 or more units at a price of 0 `
          + "or more; fix the item's price list", "prices");
      }
    }
    [amount, applied] = greedy(qty, unitPrice, effective(breaks, unitPrice));
  }
  const perLine = prices.unit !== "each";
  const modifiersMinor = modifiers.reduce((n, m) => n + m.delta_minor * (perLine ? 1 : qty), 0);
  return { tier: used, unit_price_minor: unitPrice, base_minor: base, breaks_applied: applied,
    modifiers_minor: modifiersMinor, total_minor: Math.max(0, amount + modifiersMinor) };
}

/** hub.domain.pricing.choose_modifiers: the chosen options, checked, in group order. */
export function chooseModifiers(groups, chosenIds) {
  const owner = new Map();
  for (const g of groups) for (const o of g.options) if (!owner.has(o.id)) owner.set(o.id, g);
  const seen = new Set();
  for (const id of chosenIds) {
    if (!owner.has(id)) {
      const known = [...owner.keys()].join(", ") || "none (this item has no modifiers)";
      throw new PricingError(`modifier '${id}' is not an option of this item; choose from ${known}`, { field: "modifiers" });
    }
    if (seen.has(id)) {
      throw new PricingError(`modifier '${id}' is chosen twice; choose each option at most once`, { field: "modifiers" });
    }
    seen.add(id);
  }
  const picked = [];
  for (const g of groups) {
    const mine = g.options.filter((o) => seen.has(o.id) && owner.get(o.id) === g);
    if (mine.length > g.max_choices) {
      const names = mine.map((o) => o.name).join(", ");
      throw new PricingError(`${g.name} (${g.id}) allows at most ${g.max_choices} choice(s), got ${mine.length}: ${names}; `
        + `remove ${mine.length - g.max_choices}`, { field: "modifiers" });
    }
    if (g.required && !mine.length) {
      const names = g.options.map((o) => o.name).join(", ");
      throw new PricingError(`${g.name} (${g.id}) is required; choose one of ${names}`, { field: "modifiers" });
    }
    picked.push(...mine);
  }
  return picked;
}

// -- discounts and tax: hub.domain.discounts, hub.domain.tax --------------------------------------

/** What a discount {percent_bp | amount_minor} takes off amount; never more than amount. */
export function discountOff(d, amount) {
  const taken = d.percent_bp ? divHalfUp(BigInt(amount) * BigInt(d.percent_bp), 10000) : d.amount_minor;
  return Math.min(Math.max(taken, 0), amount);
}

/** Split target into parts near numerators[i] / denominator (BigInts) that add up to target exactly. */
export function largestRemainder(target, numerators, denominator) {
  const den = BigInt(denominator);
  const parts = numerators.map((n) => Number(n / den));
  const left = target - parts.reduce((a, b) => a + b, 0);
  if (left < 0 || left > parts.length) throw new Error(`cannot spread ${target} over ${parts.length} shares`);
  const order = parts.map((_, i) => i).sort((a, b) => {
    const ra = numerators[a] % den;
    const rb = numerators[b] % den;
    return ra === rb ? a - b : rb > ra ? 1 : -1;
  });
  for (const i of order.slice(0, left)) parts[i] += 1;
  return parts;
}

function spread(totalOff, amounts) {
  const whole = amounts.reduce((a, b) => a + b, 0);
  if (totalOff === 0 || whole === 0) return amounts.map(() => 0);
  return largestRemainder(totalOff, amounts.map((a) => BigInt(a) * BigInt(totalOff)), whole);
}

/** Each line's [line discount, share of the cart discount], from its amount before discounts. */
export function applyDiscounts(amounts, lineDiscounts, cartDiscount) {
  const own = amounts.map((a, i) => (lineDiscounts[i] ? discountOff(lineDiscounts[i], a) : 0));
  const after = amounts.map((a, i) => a - own[i]);
  const shares = cartDiscount ? spread(discountOff(cartDiscount, after.reduce((a, b) => a + b, 0)), after)
    : amounts.map(() => 0);
  return own.map((o, i) => [o, shares[i]]);
}

const exact = (amount, rate, inclusive) => [BigInt(amount) * BigInt(rate), BigInt(inclusive ? 10000 + rate : 10000)];

/** hub.domain.tax.compute for lines given as [amount_minor, tax_rate_bp]. */
export function computeTax(amounts, inclusive, rounding) {
  if (rounding !== "line" && rounding !== "receipt") {
    throw new Error(`tax rounding must be line or receipt, got ${rounding}`);
  }
  const taxes = amounts.map(() => 0);
  if (rounding === "line") {
    amounts.forEach(([amount, rate], i) => { taxes[i] = divHalfUp(...exact(amount, rate, inclusive)); });
  } else {
    for (const rate of new Set(amounts.map((a) => a[1]))) {
      const idx = amounts.map((a, i) => (a[1] === rate ? i : -1)).filter((i) => i >= 0);
      const [num, den] = exact(idx.reduce((n, i) => n + amounts[i][0], 0), rate, inclusive);
      const shares = largestRemainder(divHalfUp(num, den), idx.map((i) => exact(amounts[i][0], rate, inclusive)[0]), den);
      idx.forEach((i, k) => { taxes[i] = shares[k]; });
    }
  }
  const lines = amounts.map(([amount], i) => ({ total_minor: inclusive ? amount : amount + taxes[i], tax_minor: taxes[i] }));
  return { lines, total_minor: lines.reduce((n, l) => n + l.total_minor, 0), tax_minor: taxes.reduce((a, b) => a + b, 0) };
}

/** The tax summary per rate, lowest first: [{rate_bp, net_minor, tax_minor, gross_minor}]. */
export function summarize(lines) {
  const by = new Map();
  for (const l of lines) {
    const acc = by.get(l.tax_rate_bp) || [0, 0];
    by.set(l.tax_rate_bp, [acc[0] + l.total_minor, acc[1] + l.tax_minor]);
  }
  return [...by.entries()].sort((a, b) => a[0] - b[0])
    .map(([rate, [gross, tax]]) => ({ rate_bp: rate, net_minor: gross - tax, tax_minor: tax, gross_minor: gross }));
}


// -- the catalog as the tablet keeps it (hub/catalog_snapshot.py's rows) --------------------------

/** A snapshot or delta row as the tablet stores it: a plain item costs no field for prices it lacks. */
export function storedItem(row) {
  const [sku, name, unit, price_minor, tax, active, variants, codes, prices] = row;
  const packs = {};
  for (const [code, pack] of codes) if (pack !== 1) packs[code] = pack; // case barcodes: N units a scan
  const item = { sku, name, unit, price_minor, tax, active: Boolean(active), variants: Boolean(variants),
    codes: codes.map((c) => c[0]), packs };
  if (prices && Object.keys(prices.tiers).length) item.tiers = prices.tiers;
  if (prices && Object.keys(prices.breaks).length) item.breaks = prices.breaks;
  if (prices?.groups.length) item.groups = prices.groups;
  return item;
}

/** A stored item as the hub prices it (hub.domain.sale.CatalogItem), with the snapshot's taxes and groups. */
export function catalogItem(stored, taxes, groups) {
  const modifierGroups = (stored.groups || []).filter((id) => groups[id]).map((id) => {
    const g = groups[id];
    return { id, name: g.name, required: g.required, max_choices: g.max_choices,
      options: g.options.map(([oid, name, delta]) => ({ id: oid, group_id: id, name, delta_minor: delta })) };
  });
  return { sku: stored.sku, name: stored.name, unit: stored.unit, price_minor: stored.price_minor,
    tax_rate_bp: taxes[stored.tax] ?? 0, active: stored.active, variants: stored.variants,
    prices: priceList(stored.unit, stored.price_minor, stored.tiers || {}, stored.breaks || {}),
    modifier_groups: modifierGroups };
}

// -- a cart: hub.domain.sale.price_lines, and the hub's quote ----------------------------------------

const lineField = (no, name) => `lines[${no - 1}].${name}`;

/** An each item's line from a scale's price label, as hub.domain.weighing.label_priced; label is readLabel's answer. */
export function labelPriced(no, req, label) {
  if (!label.valid) throw new PricingError(`line ${no}: ${label.error}`, { field: lineField(no, "code") });
  if (label.kind !== "rcn_price" || label.price_minor == null) {
    throw new PricingError(`line ${no}: the code ${req.code} carries no price, and ${req.sku} is sold each; send the line `
      + "without code (a price label is the only code a line of each items may carry)",
    { field: lineField(no, "code"), code: "label_without_price" });
  }
  if (req.qty !== 0 && req.qty !== 1) {
    throw new PricingError(`line ${no}: a price label prices one pack, not ${req.qty}; scan each pack's own label`,
      { field: lineField(no, "qty"), code: "label_one_pack" });
  }
  return { ...req, qty: 1, label_price_minor: label.price_minor };
}

/** Each line priced (tier, breaks, modifiers, or an override or a label's price), less its discounts, taxed for the cart. */
export function priceLines(requests, catalog, inclusive, tier = "retail", cartDiscount = null, rounding = "line") {
  const priced = requests.map((req, i) => {
    const no = i + 1;
    const item = catalog(req.sku);
    const onSku = { field: lineField(no, "sku") };
    if (!item) throw new PricingError(`line ${no}: no item with SKU '${req.sku}' is in this tablet's catalog`, onSku);
    if (!item.active) throw new PricingError(`${item.name} (${item.sku}) is inactive and cannot be sold`, onSku);
    if (item.variants) throw new PricingError(`line ${no}: ${item.name} comes in variants; pick the variant to sell`, onSku);
    let options;
    try {
      options = chooseModifiers(item.modifier_groups, req.modifiers || []);
    } catch (err) {
      throw new PricingError(`line ${no} (${item.name}): ${err.message}`, { field: lineField(no, "modifiers") });
    }
    const label = req.label_price_minor ?? null;
    const prices = label === null ? item.prices : priceList(item.unit, label);
    const listed = priceLine(prices, req.qty, label === null ? tier : "retail", options);
    const override = req.price_override;
    const line = override ? priceLine(priceList(item.unit, override.unit_price_minor), req.qty, "retail", options) : listed;
    return { req, item, options, listed, line };
  });
  const gross = priced.map((p) => p.line.total_minor);
  const offs = applyDiscounts(gross, priced.map((p) => p.req.discount || null), cartDiscount);
  const taxes = computeTax(gross.map((g, i) => [g - offs[i][0] - offs[i][1], priced[i].item.tax_rate_bp]), inclusive, rounding);
  return priced.map(({ req, item, options, listed, line }, i) => ({
    line_no: i + 1, sku: item.sku, name: item.name, unit: item.unit, qty: req.qty, unit_price_minor: line.unit_price_minor,
    total_minor: taxes.lines[i].total_minor, tax_rate_bp: item.tax_rate_bp, tax_minor: taxes.lines[i].tax_minor,
    modifiers: options.map((o) => o.id), saving_minor: line.base_minor + line.modifiers_minor - line.total_minor,
    weight_source: req.weight_source ?? null, weighing_id: req.weighing_id || null, discount_minor: offs[i][0],
    discount_reason: req.discount ? req.discount.reason : "", cart_discount_minor: offs[i][1],
    price_override: req.price_override ? { from_minor: listed.unit_price_minor, to_minor: line.unit_price_minor,
      reason: req.price_override.reason, by: "", approver: null } : null,
    price_source: req.label_price_minor != null ? "label" : null,
  }));
}

/** What a priced cart took off its shelf amounts, and its lines at an overridden price (hub.domain.sale.adjustments). */
export function adjustments(lines, inclusive) {
  const off = lines.reduce((n, l) => n + l.discount_minor + l.cart_discount_minor, 0);
  const after = lines.reduce((n, l) => n + (inclusive ? l.total_minor : l.total_minor - l.tax_minor), 0);
  return { discount_minor: off, before_minor: after + off,
    overrides: lines.filter((l) => l.price_override)
      .map((l) => ({ line_no: l.line_no, unit_price_minor: l.unit_price_minor })) };
}

/** The manager approvals a seller with role needs for these lines (hub.cart.CartRules.needed). */
export function approvalsNeeded(lines, role, settings) {
  if (MANAGERS.includes(role)) return [];
  const adj = adjustments(lines, settings.prices_include_tax);
  const out = [];
  const limitBp = settings.discount_approval_bp;
  const limitMinor = settings.discount_approval_minor;
  const overShare = adj.before_minor > 0 && BigInt(adj.discount_minor) * 10000n > BigInt(adj.before_minor) * BigInt(limitBp);
  const overAmount = limitMinor > 0 && adj.discount_minor > limitMinor;
  if (adj.discount_minor > 0 && (overShare || overAmount)) {
    out.push({ action: "discount", details: { discount_minor: adj.discount_minor, before_minor: adj.before_minor } });
  }
  if (adj.overrides.length) out.push({ action: "price_override", details: { overrides: adj.overrides } });
  return out;
}

/**
 * The hub's POST /api/v1/sales/quote answer for body {lines, tier, cart_discount}: catalog(sku) gives the
 * item (catalogItem), settings the store's (hub.catalog_snapshot.pricing_settings), role the seller's;
 * readLabel(code) reads an each item's price label (web/register-labels.js).
 */
export function quoteCart(body, catalog, settings, role, readLabel = null) {
  const requests = body.lines.map((l, i) => {
    const item = catalog(l.sku);
    let req = { ...l, qty: l.qty ?? 0 };
    if (item && l.code && item.unit !== WEIGHED_UNIT) {
      if (!readLabel) {
        throw new PricingError(`line ${i + 1}: this tablet can't read scale labels`, { field: lineField(i + 1, "code") });
      }
      req = labelPriced(i + 1, req, readLabel(l.code));
    }
    if (item && item.unit === WEIGHED_UNIT) req.weight_source = l.weighing_id ? "scale" : l.code ? "label" : "manual";
    return req;
  });
  const inclusive = settings.prices_include_tax;
  const tier = body.tier || "retail";
  const lines = priceLines(requests, catalog, inclusive, tier, body.cart_discount || null, settings.tax_rounding);
  return { currency: settings.currency, prices_include_tax: inclusive, lines,
    total_minor: lines.reduce((n, l) => n + l.total_minor, 0), tax_minor: lines.reduce((n, l) => n + l.tax_minor, 0),
    taxes: summarize(lines), discount_minor: adjustments(lines, inclusive).discount_minor,
    approvals_needed: approvalsNeeded(lines, role, settings), discount_reasons: [...settings.discount_reasons] };
}
