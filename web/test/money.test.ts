import { test } from "node:test";
import assert from "node:assert/strict";
import { FIAT_MONEY, formatUnits } from "../src/money.js";

const TUSD = { symbol: "tUSD", decimals: 6 };

test("fiat: symbol first, always the cents", () => {
  assert.equal(formatUnits("123450", "usd", FIAT_MONEY.usd), "$1,234.50");
  assert.equal(formatUnits(5, "eur", FIAT_MONEY.eur), "€0.05");
  assert.equal(formatUnits("-100", "USD", FIAT_MONEY.usd), "-$1.00");
});

test("tokens: base units in whole tokens, trailing zeros dropped, exact beyond 2**53", () => {
  assert.equal(formatUnits("600000000", "tusd", TUSD), "600 tUSD");
  assert.equal(formatUnits("569999988", "tusd", TUSD), "569.999988 tUSD");
  assert.equal(formatUnits("1", "tusd", TUSD), "0.000001 tUSD");
  assert.equal(formatUnits("123456789012345678901234", "tusd", TUSD), "123,456,789,012,345,678.901234 tUSD");
  assert.equal(formatUnits(10n ** 18n, "eth", { symbol: "ETH", decimals: 18 }), "1 ETH");
});

test("an unknown currency or a non-integer shows what it got", () => {
  assert.equal(formatUnits("1234567", "xyz", null), "1,234,567 xyz");
  assert.equal(formatUnits("1.5", "usd", FIAT_MONEY.usd), "1.5 usd");
  assert.equal(formatUnits(null, "", null), "0");
});
