// Scale labels read on the tablet exactly as the hub reads them (hub/domain/barcodes: scan.py parse,
// rcn.py read_rcn), so a deli's weight- and price-embedded labels keep selling while the hub is out
// of reach and price the same when the sale replays (the hub reads the label again). Pure: no DOM, no
// IndexedDB, no imports; node runs it in tests/hub/test_register_labels_js.py against the hub's parser.
// GS1 element strings are not read here: they answer kind "gs1", valid false.

const SETTINGS_KEY = "backroom.labelSettings";
const MAX_LENGTH = 128;
const GS = "\x1d";
const REGIONS = ["GB", "DE", "SE", "NO", "FI", "DK", "EE", "LV", "LT", "US"];
const AIM = {
  "]E0": "ean13", "]E1": "ean-addon2", "]E2": "ean-addon5", "]E3": "ean-with-addon", "]E4": "ean8",
  "]C0": "code128", "]C1": "gs1-128", "]A0": "code39", "]I0": "itf", "]I1": "itf",
  "]e0": "gs1-databar", "]d1": "datamatrix", "]d2": "gs1-datamatrix", "]Q1": "qr", "]Q3": "gs1-qr",
};
const GS1_SYMBOLOGIES = new Set(["gs1-128", "gs1-databar", "gs1-datamatrix", "gs1-qr"]);

// Each region's layouts of EAN-13 prefixes 20-29, as biip 5.2 reads them (biip/rcn.py _RCN_RULES;
// GS1 General Specifications 2.1.11-12): [kind, 12 places (P prefix + item reference, C the value's
// check digit, V the value), decimals].
const SE = {
  20: ["rcn_price", "PPPPPPPPVVVV", 2], 21: ["rcn_price", "PPPPPPPPVVVV", 1], 22: ["rcn_price", "PPPPPPPPVVVV", 0],
  23: ["rcn_weight", "PPPPPPPPVVVV", 3], 24: ["rcn_weight", "PPPPPPPPVVVV", 2], 25: ["rcn_weight", "PPPPPPPPVVVV", 1],
};
const BALTIC = {
  23: ["rcn_weight", "PPPPPPPPVVVV", 3], 24: ["rcn_weight", "PPPPPPPPVVVV", 2], 25: ["rcn_weight", "PPPPPPPPVVVV", 1],
};
const LAYOUTS = {
  DK: {
    21: ["rcn_price", "PPPPPPVVVVVV", 2], 22: ["rcn_price", "PPPPPPVVVVVV", 2], 23: ["rcn_price", "PPPPPPVVVVVV", 2],
    24: ["rcn_price", "PPPPPPVVVVVV", 2], 26: ["rcn_weight", "PPPPPPVVVVVV", 3], 27: ["rcn_weight", "PPPPPPPVVVVV", 3],
    28: ["rcn_weight", "PPPPPPVVVVVV", 3],
  },
  EE: BALTIC, FI: BALTIC, LV: BALTIC, LT: BALTIC,
  DE: {
    22: ["rcn_price", "PPPPPPCVVVVV", 2], 23: ["rcn_price", "PPPPPPCVVVVV", 2], 25: ["rcn_count", "PPPPPPCVVVVV", 0],
    26: ["rcn_count", "PPPPPPCVVVVV", 0], 28: ["rcn_weight", "PPPPPPCVVVVV", 3], 29: ["rcn_weight", "PPPPPPCVVVVV", 3],
  },
  GB: { 20: ["rcn_price", "PPPPPPPCVVVV", 2] },
  NO: SE, SE,
};

const NONE = { valid: false, error: null, kind: "unknown", gtin: null, item_ref: null, price_minor: null, weight_g: null, count: null };

function code_(kind, valid, fields = {}) {
  return { ...NONE, kind, valid, ...fields };
}

function invalid(error, kind = "unknown") {
  return code_(kind, false, { error });
}

// -- check digits ------------------------------------------------------------------------------

/** GS1 mod-10 check digit of the digits before it: weights 3,1,3,1... from the right. */
export function checkDigit(payload) {
  let sum = 0;
  for (let i = payload.length - 1, w = 3; i >= 0; i--, w = 4 - w) sum += Number(payload[i]) * w;
  return (10 - (sum % 10)) % 10;
}

const withCheckDigit = (payload) => payload + checkDigit(payload);

// GS1 General Specifications 7.9.2-7.9.4: weight factors 2-, 3, 5+, 5- by digit.
const TWO_MINUS = [0, 2, 4, 6, 8, 9, 1, 3, 5, 7];
const THREE = [0, 3, 6, 9, 2, 5, 8, 1, 4, 7];
const FIVE_PLUS = [0, 5, 1, 6, 2, 7, 3, 8, 4, 9];
const FIVE_MINUS = [0, 5, 9, 4, 8, 3, 7, 2, 6, 1];

/** Check digit of a 4- or 5-digit price/weight field inside a scale label. */
export function priceCheckDigit(value) {
  const d = [...value].map(Number);
  if (d.length === 4) return ((TWO_MINUS[d[0]] + TWO_MINUS[d[1]] + THREE[d[2]] + FIVE_MINUS[d[3]]) * 3) % 10;
  const sum = FIVE_PLUS[d[0]] + TWO_MINUS[d[1]] + FIVE_MINUS[d[2]] + FIVE_PLUS[d[3]] + TWO_MINUS[d[4]];
  return FIVE_MINUS.indexOf((10 - (sum % 10)) % 10);
}

function divHalfUp(n, d) { // hub.domain.money.div_half_up, for n >= 0
  const q = n / d;
  return Number(2n * (n % d) >= d ? q + 1n : q);
}

// -- the owner's patterns (rcn.PATTERN_HELP: Odoo's notation) ----------------------------------

const PATTERN = /^(?:(price|weight|count):)?([0-9.C]*)\{(N*)(D*)\}([0-9.C]*)$/;
const WHITESPACE = /[\s\x1c-\x1f\x85]+/; // what Python's str.split() splits on

function pyRepr(text) {
  const quote = text.includes("'") && !text.includes('"') ? '"' : "'";
  return quote + text.replaceAll("\\", "\\\\").replaceAll(quote, `\\${quote}`) + quote;
}

function compilePattern(text) {
  const m = PATTERN.exec(text);
  if (!m) {
    throw new Error(`pattern ${pyRepr(text)} is not in Odoo notation: digits, '.', an optional 'C' and one `
      + "'{N..D..}' group, e.g. 23.....{NNNDD}");
  }
  const [, kindWord, head, ints, decs, tail] = m;
  const digits = ints.length + decs.length;
  if (digits === 0) throw new Error(`pattern ${pyRepr(text)} has an empty value group; write e.g. {NNNDD}`);
  const template = head + "V".repeat(digits) + tail;
  if (template.length > 12) {
    throw new Error(`pattern ${pyRepr(text)} covers ${template.length} digits; an EAN-13 label has 12 before its check digit`);
  }
  if (template.split("C").length > 2 || (template.includes("C") && digits !== 4 && digits !== 5)) {
    throw new Error(`pattern ${pyRepr(text)}: one 'C' at most, and only with a 4- or 5-digit value`);
  }
  return { kind: `rcn_${kindWord || (decs.length === 3 ? "weight" : "price")}`, template, decimals: decs.length };
}

function compilePatterns(text) {
  return text.replaceAll(",", " ").split(WHITESPACE).filter(Boolean).map(compilePattern);
}

// -- reading a label ---------------------------------------------------------------------------

const WHAT = { rcn_weight: "weight", rcn_count: "count" };

function checkError(kind, value, got, code) {
  const expected = priceCheckDigit(value);
  if (expected === Number(got)) return null;
  return `${WHAT[kind] || "price"} check digit expected ${expected} got ${got} in ${code}; rescan, or set `
    + "store.rcn_check_price_digit = false if the scale does not print one";
}

function measured(kind, digits, decimals, gtin, itemRef) {
  const raw = BigInt(digits);
  const scale = 10n ** BigInt(decimals);
  return code_(kind, true, {
    gtin, item_ref: itemRef || null,
    price_minor: kind === "rcn_price" ? divHalfUp(raw * 100n, scale) : null,
    weight_g: kind === "rcn_weight" ? divHalfUp(raw * 1000n, scale) : null,
    count: kind === "rcn_count" ? divHalfUp(raw, scale) : null,
  });
}

function byPattern(code, pat, check) {
  const t = pat.template;
  if (code.length <= t.length || [...t].some((c, i) => /\d/.test(c) && c !== code[i])) return null;
  const pick = (ch) => [...t].map((c, i) => (c === ch ? code[i] : "")).join("");
  const value = pick("V");
  if (check && t.includes("C")) {
    const error = checkError(pat.kind, value, code[t.indexOf("C")], code);
    if (error) return invalid(error, pat.kind);
  }
  const zeroCheck = t.includes("C") ? String(priceCheckDigit("0".repeat(value.length))) : "";
  const zeroed = [...t].map((c, i) => (c === "V" ? "0" : c === "C" ? zeroCheck : code[i])).join("")
    + code.slice(t.length, -1);
  return measured(pat.kind, value, pat.decimals, withCheckDigit(zeroed).padStart(14, "0"), pick("."));
}

/** UPC-A number system 2: 2 IIIII C PPPP K, the price in cents, C its 4-digit check digit. */
function byUs(code, check) {
  const upca = code.length === 13 && code[0] === "0" ? code.slice(1) : code;
  if (upca.length !== 12 || upca[0] !== "2") return null;
  const itemRef = upca.slice(1, 6);
  const price = upca.slice(7, 11);
  if (check) {
    const error = checkError("rcn_price", price, upca[6], code);
    if (error) return invalid(error, "rcn_price");
  }
  return code_("rcn_price", true, {
    gtin: withCheckDigit(`2${itemRef}00000`).padStart(14, "0"), item_ref: itemRef, price_minor: Number(price),
  });
}

function byRegion(code, region, check) {
  const layout = LAYOUTS[region][code.slice(0, 2)];
  if (!layout) return null; // a prefix this region gives no layout: an ordinary in-store GTIN
  const [kind, places, decimals] = layout;
  const pick = (ch) => [...places].map((c, i) => (c === ch ? code[i] : "")).join("");
  const value = pick("V");
  if (check && places.includes("C")) {
    const error = checkError(kind, value, code[places.indexOf("C")], code);
    if (error) return invalid(error, kind);
  }
  const zeroed = [...places].map((c, i) => (c === "V" ? "0" : c === "C" ? priceCheckDigit("0".repeat(value.length)) : code[i]));
  return measured(kind, value, decimals, withCheckDigit(zeroed.join("")).padStart(14, "0"), pick("P").slice(2));
}

/** A variable-measure reading of a code whose GTIN check digit is right; null if it is not one. */
function readRcn(code, region, pattern, check) {
  for (const pat of compilePatterns(pattern)) {
    const found = byPattern(code, pat, check);
    if (found) return found;
  }
  if (region === "US") return byUs(code, check);
  if (LAYOUTS[region] && code.length === 13 && code[0] === "2") return byRegion(code, region, check);
  return null;
}

function gtinCode(digits, label) {
  const expected = checkDigit(digits.slice(0, -1));
  if (expected !== Number(digits.at(-1))) {
    return invalid(`${label} ${digits}: check digit expected ${expected} got ${digits.at(-1)}; rescan or type the code again`, "gtin");
  }
  return code_("gtin", true, { gtin: digits.padStart(14, "0") });
}

function upceToUpca(code) {
  const [ns, d, check] = [code[0], code.slice(1, 7), code[7]];
  const last = d[5];
  let body;
  if ("012".includes(last)) body = `${d.slice(0, 2)}${last}0000${d.slice(2, 5)}`;
  else if (last === "3") body = `${d.slice(0, 3)}00000${d.slice(3, 5)}`;
  else if (last === "4") body = `${d.slice(0, 4)}00000${d[4]}`;
  else body = `${d.slice(0, 5)}0000${last}`;
  return ns + body + check;
}

function plainGtin(code, symbology) {
  const n = code.length;
  if (n === 13) return gtinCode(code, "EAN-13");
  if (n === 12) return gtinCode(code, "UPC-A");
  if (n === 14) return gtinCode(code, "GTIN-14");
  if (n !== 8) return null;
  if (symbology === "ean8" || !"01".includes(code[0])) return gtinCode(code, "EAN-8");
  const upca = upceToUpca(code); // an 8-digit code starting 0/1 is UPC-E unless it checks as EAN-8 only
  if (checkDigit(upca.slice(0, -1)) === Number(upca.at(-1))) return code_("gtin", true, { gtin: upca.padStart(14, "0") });
  return gtinCode(code, "EAN-8");
}

/** What the hub's barcodes.parse(text, region, pattern, check_price_digit) answers, for every scan but GS1
 * element strings: {valid, error, kind, gtin, item_ref, price_minor, weight_g, count}. Never throws. */
export function readLabel(text, settings = labelSettings()) {
  const { rcn_region: rawRegion, rcn_pattern: pattern = "", rcn_check_price_digit: check = true } = settings || {};
  if (typeof text !== "string") return invalid("the scan is not text");
  let code = text.replace(/^[\r\n\t ]+|[\r\n\t ]+$/g, "");
  let symbology = null;
  if (Object.hasOwn(AIM, code.slice(0, 3))) [code, symbology] = [code.slice(3), AIM[code.slice(0, 3)]];
  if (!code) return invalid("the scan is empty");
  if ([...code].length > MAX_LENGTH) return invalid(`the scan is longer than ${MAX_LENGTH} characters`);
  const region = typeof rawRegion === "string" ? rawRegion.toUpperCase() : "";
  if (region && !REGIONS.includes(region)) {
    return invalid(`unknown RCN region ${pyRepr(region)}; use one of ${REGIONS.join(", ")} or none`);
  }
  try {
    compilePatterns(pattern || "");
  } catch (err) {
    return invalid(`the store's rcn_pattern cannot be used: ${err.message}`);
  }
  if (!/^[\x20-\x7e]*$/.test(code.replaceAll(GS, ""))) {
    return invalid("the scan holds control or non-ASCII characters; check the scanner's keyboard layout");
  }
  if (GS1_SYMBOLOGIES.has(symbology) || (symbology === null && (code.includes(GS) || code.startsWith("(")
      || (code.length >= 16 && /^01\d{14}/.test(code))))) {
    return invalid("a GS1 code: this tablet reads it only through the hub", "gs1");
  }
  if (code.includes(GS)) return invalid("the scan holds a GS separator but is not a GS1 symbol");
  if (/^\d+$/.test(code)) {
    const found = plainGtin(code, symbology);
    if (found) {
      if (found.valid && code.length !== 14) return readRcn(code, region, pattern || "", check !== false) || found;
      return found;
    }
    if (code.length >= 9 && code.length <= 11) {
      return invalid(`${code} has ${code.length} digits: a product code has 8, 12, 13 or 14; the scan looks truncated`);
    }
  }
  if (code.length > 64) return invalid("the scan is longer than 64 characters and is not a GS1 symbol");
  return code_("internal", true, { item_ref: code }); // PLUs such as 4011 and shop-made codes, as they are
}

// -- what a label sells, as /api/v1/lookup answers (hub/store.py lookup) ------------------------

/** A label the tablet can't sell offline; status as the hub's answer would have it (404, 422). */
export class LabelRefused extends Error {
  constructor(message, status) {
    super(message);
    this.status = status;
  }
}

/** The quantity a label stands for in the item's base unit (hub/store.py _scanned_qty); null: ask the scale. */
export function scannedQty(label, item, pack = 1) {
  if (label.weight_g !== null && (item.unit === "g" || label.kind === "rcn_weight")) {
    if (item.unit !== "g") {
      throw new LabelRefused(`${label.code} carries a weight of ${label.weight_g} g but item ${item.sku} is sold by `
        + `${item.unit}; fix the item's unit or the scale's PLU`, 422);
    }
    return label.weight_g;
  }
  if (label.count !== null) return label.count * pack;
  if (label.kind === "rcn_price") {
    if (item.unit === "each") return 1;
    // a price label on weighed goods: the grams its price buys at today's shelf price per kg
    return label.price_minor !== null && item.price_minor > 0
      ? divHalfUp(BigInt(label.price_minor) * 1000n, BigInt(item.price_minor)) : null;
  }
  return item.unit === "each" ? pack : null;
}

/** What the hub's /lookup answers for a scale label: the item by the label's zeroed GTIN, then its item
 * reference as a code, then as a SKU (hub/store.py _find_item). byCode(key) and bySku(sku) give a catalog
 * row {sku, name, unit, price_minor, tax, active, variants, packs} or null; taxes maps tax to rate_bp. */
export async function lookupLabel(code, label, { byCode, bySku, taxes }) {
  if (!label.valid) throw new LabelRefused(label.error, 422);
  let item = null;
  let pack = 1;
  for (const key of [label.gtin, label.item_ref].filter(Boolean)) {
    item = await byCode(key);
    if (item) {
      pack = item.packs?.[key] ?? 1;
      break;
    }
  }
  if (!item && label.item_ref) item = await bySku(label.item_ref);
  if (!item) throw new LabelRefused(`No item with the code ${code} in this tablet's catalog (the hub can't be reached to ask).`, 404);
  if (item.variants) throw new LabelRefused(`${item.name} comes in variants: scan the variant's own code.`, 422);
  const qty = scannedQty({ ...label, code }, item, pack);
  if (qty === null) {
    throw new LabelRefused(`${item.name} is weighed, and this label gives no weight: weighing needs the hub. `
      + "Sell it once the hub is back.", 422);
  }
  const line = label.kind === "rcn_price" ? label.price_minor
    : item.unit === "each" ? qty * item.price_minor : divHalfUp(BigInt(qty) * BigInt(item.price_minor), 1000n);
  return {
    item: { sku: item.sku, name: item.name, unit: item.unit, price_minor: item.price_minor, tax_rate_bp: taxes[item.tax] ?? 0,
      active: item.active, variant_axes: [] }, // a parent was refused above
    qty, parsed: { ...label, offline: true }, unit_price_minor: item.price_minor, line_price_minor: line,
    embedded_price_minor: label.price_minor, offline: true,
  };
}

// -- the store's label settings, kept for reading labels offline -------------------------------

/** The store's rcn settings as the session last gave them; null before this tablet ever reached the hub. */
export function labelSettings() {
  try {
    return JSON.parse(globalThis.localStorage?.getItem(SETTINGS_KEY) ?? "null");
  } catch {
    return null;
  }
}

/** Keep the store's rcn_region, rcn_pattern and rcn_check_price_digit from /api/v1/session's store. */
export function rememberLabelSettings(store) {
  if (!store || typeof store.rcn_region !== "string" || typeof store.rcn_pattern !== "string") return;
  globalThis.localStorage?.setItem(SETTINGS_KEY, JSON.stringify({
    rcn_region: store.rcn_region, rcn_pattern: store.rcn_pattern, rcn_check_price_digit: store.rcn_check_price_digit !== false,
  }));
}
